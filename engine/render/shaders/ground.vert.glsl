#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelViewMatrix;
uniform mat4 p3d_ModelMatrix;

#include "key_light.glsl"

in vec4 p3d_Vertex;

out vec3 v_view_position;
out vec3 v_world_position;
out vec4 v_shadow_position;

void main() {
    vec4 view_position = p3d_ModelViewMatrix * p3d_Vertex;
    v_view_position = view_position.xyz;
    v_world_position = (p3d_ModelMatrix * p3d_Vertex).xyz;
    v_shadow_position = key_light.shadowViewMatrix * view_position;
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
}
