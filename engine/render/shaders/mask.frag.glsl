#version 330
// Hand-off mask: the resolved coverage into an RGBA8 buffer, converted to 8 bits by the
// driver exactly as tonemap.frag's alpha is (so the mask equals the beauty's alpha).
uniform sampler2D mask_color;
in vec2 v_texcoord;
out vec4 o_color;
void main() {
    o_color = vec4(clamp(texture(mask_color, v_texcoord).a, 0.0, 1.0));
}
