#version 330
// Exposure, Khronos PBR Neutral tone mapping, background composite, sRGB encode.
#include "output.glsl"

uniform sampler2D scene_color;   // linear HDR, premultiplied, alpha = coverage
uniform float transparent;

in vec2 v_texcoord;
out vec4 o_color;

void main() {
    vec4 hdr = texture(scene_color, v_texcoord);
    float a = clamp(hdr.a, 0.0, 1.0);
    vec3 straight = a > 1e-4 ? hdr.rgb / a : vec3(0.0);
    vec3 mapped = pbr_neutral(max(straight * exposure, vec3(0.0)));
    if (transparent > 0.5) {
        o_color = vec4(linear_to_srgb(mapped) + dither(), a);
    } else {
        vec3 background = background_at(v_texcoord.y);
        vec3 composite = mix(background, mapped, a);
        o_color = vec4(linear_to_srgb(composite) + dither(), 1.0);
    }
}
