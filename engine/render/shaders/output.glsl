// The output transform, shared by the tone-mapping pass (tonemap.frag) and, when the
// Stage folds it into the main pass (FOLDED_OUTPUT: an opaque background and nothing
// that reads the HDR buffer), by the asset, ground and background shaders: exposure,
// tone mapping (Khronos PBR Neutral by default), the background gradient, sRGB encode
// and dither.

uniform float exposure;          // linear multiplier (2^EV)
#ifndef TONE_MAPPING             // (a define in the asset's variants: surface_shaders.py)
uniform float tone_mapping;      // 0 Khronos PBR Neutral, 1 ACES (fitted), 2 none (clip)
#endif
uniform vec3 background_top;     // linear RGB
uniform vec3 background_bottom;  // linear RGB
#ifdef FOLDED_OUTPUT
// pixels: where this buffer's (0, 0) lies in the output (the asset layer's window)
uniform vec2 fragcoord_offset;
#define OUTPUT_FRAGCOORD (gl_FragCoord.xy + fragcoord_offset)
#else
#define OUTPUT_FRAGCOORD gl_FragCoord.xy
#endif

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

// ACES filmic (RRT + ODT) as fitted by Stephen Hill, with sRGB <-> AP1-ish matrices and
// the 1 / 0.6 exposure match three.js uses, so mid grey lands near the neutral curve's.
vec3 aces_fitted(vec3 color) {
    const mat3 to_aces = mat3(0.59719, 0.07600, 0.02840,
                              0.35458, 0.90834, 0.13383,
                              0.04823, 0.01566, 0.83777);
    const mat3 from_aces = mat3(1.60475, -0.10208, -0.00327,
                                -0.53108, 1.10813, -0.07276,
                                -0.07367, -0.00605, 1.07602);
    color = to_aces * (color / 0.6);
    vec3 a = color * (color + 0.0245786) - 0.000090537;
    vec3 b = color * (0.983729 * color + 0.4329510) + 0.238081;
    return clamp(from_aces * (a / b), 0.0, 1.0);
}

vec3 tone_map(vec3 color) {
#if defined(TONE_MAPPING) && TONE_MAPPING == 0
    return pbr_neutral(color);
#elif defined(TONE_MAPPING) && TONE_MAPPING == 1
    return aces_fitted(color);
#elif defined(TONE_MAPPING)
    return clamp(color, 0.0, 1.0);
#else
    if (tone_mapping > 1.5) return clamp(color, 0.0, 1.0);
    if (tone_mapping > 0.5) return aces_fitted(color);
    return pbr_neutral(color);
#endif
}

vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(12.92 * c, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}

// Ordered, deterministic dither of +-0.5/255 against banding in gradients.
float dither() {
    vec2 p = floor(OUTPUT_FRAGCOORD);
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
    vec3 mapped = tone_map(max(color * exposure, vec3(0.0)));
    return vec4(linear_to_srgb(mapped) + dither(), 1.0);
}

// ... and of premultiplied black with alpha `a` over the background (the ground).
vec4 folded_shadow(float a) {
    vec3 background = background_at(OUTPUT_FRAGCOORD.y / output_height);
    return vec4(linear_to_srgb(mix(background, vec3(0.0), a)) + dither(), 1.0);
}
#endif
