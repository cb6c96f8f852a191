#version 330
// Hand-off passes (engine/render/passes.py): camera-space position and normal.
// gl_Position is computed exactly as pbr.vert computes it, so the passes rasterise
// the same pixels as the beauty render.
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelViewMatrix;
uniform mat3 p3d_NormalMatrix;
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
out vec3 v_view_position;
out vec3 v_view_normal;
void main() {
    vec4 view_position = p3d_ModelViewMatrix * p3d_Vertex;
    v_view_position = view_position.xyz;
    v_view_normal = p3d_NormalMatrix * p3d_Normal;
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
}
