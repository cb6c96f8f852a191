#version 330
// Shadow pass: depth, and the base colour's UVs for the asset's alpha (shadow.frag.glsl).
uniform mat4 p3d_ModelViewProjectionMatrix;
in vec4 p3d_Vertex;
in vec4 p3d_Color;
in vec2 maquette_uv0;   // glTF TEXCOORD_0 and _1 (engine/render/gltf_material.py)
in vec2 maquette_uv1;
out vec4 v_color;
out vec2 v_texcoord0;
out vec2 v_texcoord1;
void main() {
    v_color = p3d_Color;
    v_texcoord0 = maquette_uv0;
    v_texcoord1 = maquette_uv1;
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
}
