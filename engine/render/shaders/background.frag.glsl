#version 330
// The background of a folded main pass (output.glsl): what tonemap.frag makes of a pixel
// that nothing covered (alpha 0) over an opaque background (engine/render/background.py).
//   ROW_PASS: the gradient's sRGB value of each output row, into a (1, H) float buffer;
//   BACKGROUND_ROWS: that row's value plus dither (the full-frame quad);
//   GROUND_LAYER: the gradient with the ground's shadow over it, its opacity read from
//   the half-resolution ground layer (engine.render.asset_layer), as folded_shadow makes
//   it (the quad over the ground's window of the frame);
//   neither: the gradient computed per pixel.
// All are the same function of gl_FragCoord, so a row holds what a pixel computes.
#include "output.glsl"
uniform vec2 output_size;  // pixels
#ifdef GROUND_LAYER
uniform sampler2D ground_layer;
#endif
#ifdef BACKGROUND_ROWS
uniform sampler2D background_rows;
#endif
out vec4 o_color;
void main() {
    float y = gl_FragCoord.y / output_size.y;
#if defined(ROW_PASS)
    o_color = vec4(linear_to_srgb(background_at(y)), 1.0);
#elif defined(BACKGROUND_ROWS)
    o_color = vec4(texelFetch(background_rows, ivec2(0, int(gl_FragCoord.y)), 0).rgb
                   + dither(), 1.0);
#else
    vec3 color = background_at(y);
#ifdef GROUND_LAYER
    float shadow = texture(ground_layer, gl_FragCoord.xy / output_size).a;
    color = mix(color, vec3(0.0), clamp(shadow, 0.0, 1.0));
#endif
    o_color = vec4(linear_to_srgb(color) + dither(), 1.0);
#endif
}
