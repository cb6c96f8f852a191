#version 330
// The background of a folded main pass (output.glsl): what tonemap.frag makes of a pixel
// that nothing covered (alpha 0) over an opaque background.
#include "output.glsl"
in vec2 v_texcoord;
out vec4 o_color;
void main() {
    o_color = vec4(linear_to_srgb(background_at(v_texcoord.y)) + dither(), 1.0);
}
