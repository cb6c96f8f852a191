#version 330
// The background of a folded main pass (output.glsl): what tonemap.frag makes of a pixel
// that nothing covered (alpha 0) over an opaque background; GROUND_LAYER: with the
// ground's shadow over it, its opacity read from the half-resolution ground layer
// (engine.render.asset_layer), as folded_shadow makes it.
#include "output.glsl"
#ifdef GROUND_LAYER
uniform sampler2D ground_layer;
#endif
in vec2 v_texcoord;
out vec4 o_color;
void main() {
    vec3 color = background_at(v_texcoord.y);
#ifdef GROUND_LAYER
    color = mix(color, vec3(0.0), clamp(texture(ground_layer, v_texcoord).a, 0.0, 1.0));
#endif
    o_color = vec4(linear_to_srgb(color) + dither(), 1.0);
}
