#version 330
// Shadow pass: what the asset's alpha leaves out casts no shadow (MASK: below the cutoff;
// BLEND: below half coverage). Inputs as in pbr.frag.glsl (engine/render/gltf_material.py).
// ALPHA_TESTED: the variant for surfaces whose material is MASK or BLEND; opaque ones get
// the one without (surface_shaders.py: a CPU renderer would run the untaken branch's
// texture lookup for every opaque fragment, ~10 ms of a frame).
uniform struct p3d_MaterialParameters {
    vec4 baseColor;
} p3d_Material;
uniform vec4 p3d_ColorScale;
uniform sampler2D p3d_TextureModulate;
uniform float alpha_mode;    // 0 OPAQUE, 1 MASK, 2 BLEND
uniform float alpha_cutoff;
uniform mat3 uv_transform_0;
uniform vec4 uv_sets;
in vec4 v_color;
in vec2 v_texcoord0;
in vec2 v_texcoord1;
out vec4 o_color;
void main() {
#ifdef ALPHA_TESTED
    if (alpha_mode > 0.5) {
        vec2 uv = uv_sets.x > 0.5 ? v_texcoord1 : v_texcoord0;
        float a = p3d_Material.baseColor.a * v_color.a * p3d_ColorScale.a
                  * texture(p3d_TextureModulate, (uv_transform_0 * vec3(uv, 1.0)).xy).a;
        if (a < (alpha_mode < 1.5 ? alpha_cutoff : 0.5)) discard;
    }
#endif
    o_color = vec4(1.0);
}
