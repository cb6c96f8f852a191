#version 330
// Exposure, tone mapping (Khronos PBR Neutral by default), background composite, sRGB
// encode (the functions: output.glsl). A live viewer may pick another curve and a
// checkerboard behind a transparent background; the defaults (0, 0) are the renderer's.
#include "output.glsl"

uniform sampler2D scene_color;   // linear HDR, premultiplied, alpha = coverage
uniform float transparent;
uniform float checker_px;        // > 0: a transparent background shows a checkerboard

in vec2 v_texcoord;
out vec4 o_color;

void main() {
    vec4 hdr = texture(scene_color, v_texcoord);
    float a = clamp(hdr.a, 0.0, 1.0);
    vec3 straight = a > 1e-4 ? hdr.rgb / a : vec3(0.0);
    vec3 mapped = tone_map(max(straight * exposure, vec3(0.0)));
    if (transparent > 0.5 && checker_px > 0.0) {
        vec2 cell = floor(gl_FragCoord.xy / checker_px);
        vec3 checker = vec3(mod(cell.x + cell.y, 2.0) < 0.5 ? 0.22 : 0.42);  // linear greys
        o_color = vec4(linear_to_srgb(mix(checker, mapped, a)) + dither(), 1.0);
    } else if (transparent > 0.5) {
        o_color = vec4(linear_to_srgb(mapped) + dither(), a);
    } else {
        vec3 background = background_at(v_texcoord.y);
        vec3 composite = mix(background, mapped, a);
        o_color = vec4(linear_to_srgb(composite) + dither(), 1.0);
    }
}
