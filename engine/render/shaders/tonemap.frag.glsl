#version 330
// Exposure, Khronos PBR Neutral tone mapping, background composite, sRGB encode.

uniform sampler2D scene_color;   // linear HDR, premultiplied, alpha = coverage
uniform float exposure;          // linear multiplier (2^EV)
uniform vec3 background_top;     // linear RGB
uniform vec3 background_bottom;  // linear RGB
uniform float transparent;

in vec2 v_texcoord;
out vec4 o_color;

vec3 pbr_neutral(vec3 color) {
    const float start_compression = 0.8 - 0.04;
    const float desaturation = 0.15;
    float x = min(color.r, min(color.g, color.b));
    float offset = x < 0.08 ? x - 6.25 * x * x : 0.04;
    color -= offset;
    float peak = max(color.r, max(color.g, color.b));
    if (peak < start_compression) return color;
    const float d = 1.0 - start_compression;
    float new_peak = 1.0 - d * d / (peak + d - start_compression);
    color *= new_peak / peak;
    float g = 1.0 - 1.0 / (desaturation * (peak - new_peak) + 1.0);
    return mix(color, vec3(new_peak), g);
}

vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(12.92 * c, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}

// Ordered, deterministic dither of +-0.5/255 against banding in gradients.
float dither() {
    vec2 p = floor(gl_FragCoord.xy);
    return (fract(52.9829189 * fract(dot(p, vec2(0.06711056, 0.00583715)))) - 0.5) / 255.0;
}

void main() {
    vec4 hdr = texture(scene_color, v_texcoord);
    float a = clamp(hdr.a, 0.0, 1.0);
    vec3 straight = a > 1e-4 ? hdr.rgb / a : vec3(0.0);
    vec3 mapped = pbr_neutral(max(straight * exposure, vec3(0.0)));
    if (transparent > 0.5) {
        o_color = vec4(linear_to_srgb(mapped) + dither(), a);
    } else {
        vec3 background = mix(background_bottom, background_top, v_texcoord.y);
        vec3 composite = mix(background, mapped, a);
        o_color = vec4(linear_to_srgb(composite) + dither(), 1.0);
    }
}
