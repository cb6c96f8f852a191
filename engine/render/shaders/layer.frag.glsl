#version 330
// A folded Stage's asset layer (engine.render.asset_layer) laid over the output: drawn
// only in the layer's window, whose bottom-left output pixel is `layer_origin`; the
// layer holds premultiplied colour (alpha: the asset's coverage), blended "over".
uniform sampler2D layer;
uniform vec2 layer_origin;  // pixels
out vec4 o_color;
void main() {
    o_color = texelFetch(layer, ivec2(gl_FragCoord.xy - layer_origin), 0);
}
