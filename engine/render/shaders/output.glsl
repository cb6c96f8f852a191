// The output transform, shared by the tone-mapping pass (tonemap.frag) and, when the
// Stage folds it into the main pass (FOLDED_OUTPUT: an opaque background and nothing
// that reads the HDR buffer), by the asset, ground and background shaders: exposure,
// Khronos PBR Neutral tone mapping, the background gradient, sRGB encode and dither.

uniform float exposure;          // linear multiplier (2^EV)
uniform vec3 background_top;     // linear RGB
uniform vec3 background_bottom;  // linear RGB

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

// The background's linear colour at `y` (0 bottom row, 1 top) of the output.
vec3 background_at(float y) {
    return mix(background_bottom, background_top, y);
}

#ifdef FOLDED_OUTPUT
uniform float output_height;  // pixels

// What the tone-mapping pass makes of an opaque pixel of linear HDR `color`.
vec4 folded_opaque(vec3 color) {
    vec3 mapped = pbr_neutral(max(color * exposure, vec3(0.0)));
    return vec4(linear_to_srgb(mapped) + dither(), 1.0);
}

// ... and of premultiplied black with alpha `a` over the background (the ground).
vec4 folded_shadow(float a) {
    vec3 background = background_at(gl_FragCoord.y / output_height);
    return vec4(linear_to_srgb(mix(background, vec3(0.0), a)) + dither(), 1.0);
}
#endif
