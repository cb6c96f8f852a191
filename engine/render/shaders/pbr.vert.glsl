#version 330
// Physically based surface shading for assets: vertex stage.

uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelViewMatrix;
uniform mat3 p3d_NormalMatrix;

#include "key_light.glsl"

in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec4 p3d_Color;
in vec2 maquette_uv0;        // glTF TEXCOORD_0 and _1 (engine/render/gltf_material.py)
#ifdef UV1
in vec2 maquette_uv1;
#endif
#ifdef NORMAL_MAP
in vec4 p3d_Tangent;         // glTF TANGENT (xyz, w = bitangent sign); only normal-mapped
#endif

out vec3 v_view_position;
out vec3 v_view_normal;
out vec4 v_color;
out vec2 v_texcoord0;       // glTF TEXCOORD_0 and _1 (V flipped by panda3d-gltf)
#ifdef UV1
out vec2 v_texcoord1;
#endif
#ifdef NORMAL_MAP
out vec4 v_view_tangent;
#endif
out vec4 v_shadow_position;

void main() {
    vec4 view_position = p3d_ModelViewMatrix * p3d_Vertex;
    v_view_position = view_position.xyz;
    v_view_normal = normalize(p3d_NormalMatrix * p3d_Normal);
    v_color = p3d_Color;
    v_texcoord0 = maquette_uv0;
#ifdef UV1
    v_texcoord1 = maquette_uv1;
#endif
#ifdef NORMAL_MAP
    v_view_tangent = vec4(mat3(p3d_ModelViewMatrix) * p3d_Tangent.xyz, p3d_Tangent.w);
#endif
    v_shadow_position = key_light.shadowViewMatrix * view_position;
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
}
