#include "common.glsl"
#include "output.glsl"
// Physically based surface shading for assets: fragment stage.
// Metal/rough GGX (as in the Khronos glTF sample viewer) for a shadowed key
// light plus MAX_LIGHTS unshadowed directional lights, and an analytic studio
// environment (hemisphere + soft boxes) for ambient and reflections.

#ifndef MAX_LIGHTS
#define MAX_LIGHTS 4
#endif
#ifndef MAX_SOFTBOXES
#define MAX_SOFTBOXES 4
#endif
// Compile-time features (engine/render/surface_shaders.py compiles one variant per
// material and Stage setting: on a CPU renderer every branch of a shader runs, masked).
// Per material: ALPHA_MODE (0 OPAQUE, 1 MASK, 2 BLEND), UNLIT, BASE_COLOR_MAP,
// METAL_ROUGH_MAP, NORMAL_MAP, OCCLUSION_MAP, EMISSION, UV1 (a slot reads TEXCOORD_1).
// Per Stage: ENV_MAP (image-based lighting), SHADING_MODE (0 lit, 1 base colour,
// 2 normals), TONE_MAPPING (output.glsl).
#ifndef ALPHA_MODE
#define ALPHA_MODE 0
#endif
#ifndef SHADING_MODE
#define SHADING_MODE 0
#endif

uniform struct p3d_MaterialParameters {
    vec4 baseColor;
    vec4 emission;
    float roughness;
    float metallic;
} p3d_Material;
uniform vec4 p3d_ColorScale;
uniform sampler2D p3d_TextureModulate;    // base colour (sRGB texture)
uniform sampler2D p3d_TextureSelector;    // glTF metallic (b) / roughness (g)
uniform sampler2D p3d_TextureEmission;
uniform sampler2D p3d_TextureNormal;      // tangent-space normal map (linear)
uniform sampler2D occlusion_map;          // glTF occlusion (r), white without one

// The glTF material beyond Panda's Material (engine/render/gltf_material.py sets them per
// material; the asset node holds the defaults, which draw as before). Its alpha mode,
// unlit flag and which maps it has are the variant's defines (above).
uniform float alpha_cutoff;        // MASK: drawn where alpha >= cutoff
uniform float emissive_strength;   // KHR_materials_emissive_strength
uniform float normal_scale;        // NORMAL_MAP: its scale
uniform float occlusion_strength;  // OCCLUSION_MAP: its strength
// Per texture slot (0 base colour, 1 metal/rough, 2 normal, 3 occlusion, 4 emissive): its
// KHR_texture_transform (mat3 on homogeneous UVs) and UV set (0/1; uv_sets.xyzw: slots
// 0-3, uv_set_emissive: slot 4). Single uniforms: array inputs on a material's
// RenderState were never bound (the node's defaults were read instead).
uniform mat3 uv_transform_0;
uniform mat3 uv_transform_1;
uniform mat3 uv_transform_2;
uniform mat3 uv_transform_3;
uniform mat3 uv_transform_4;
uniform vec4 uv_sets;
uniform float uv_set_emissive;
uniform mat4 p3d_ViewMatrixInverse;
uniform mat4 p3d_ViewMatrix;

uniform vec3 fill_direction[MAX_LIGHTS];  // world space (Panda Z-up), towards the light
uniform vec3 fill_color[MAX_LIGHTS];      // linear RGB x intensity
uniform float fill_count;

uniform vec3 sky_color;      // linear, environment above the horizon
uniform vec3 ground_color;   // linear, environment below
uniform vec3 softbox_direction[MAX_SOFTBOXES];  // world space (Panda Z-up)
uniform vec4 softbox_color[MAX_SOFTBOXES];      // rgb radiance, a = angular radius (rad)
uniform float softbox_count;
uniform float environment_intensity;
// Image-based lighting (optional): an equirectangular map, Y-up (glTF) directions.
uniform sampler2D env_map;
uniform vec3 env_sh[9];       // irradiance SH coefficients (engine/render/environment.py)
uniform float env_rotation;   // radians about +Y (ENV_MAP: env_map/env_sh replace
uniform float env_max_lod;    // the analytic environment)

in vec3 v_view_position;
in vec3 v_view_normal;
in vec4 v_color;
in vec2 v_texcoord0;
#ifdef UV1
in vec2 v_texcoord1;
#endif
#ifdef NORMAL_MAP
in vec4 v_view_tangent;
#endif
in vec4 v_shadow_position;

out vec4 o_color;

// The pass's output, premultiplied by `coverage` (BLEND draws ONE, ONE_MINUS_SRC_ALPHA):
// linear HDR, or (FOLDED_OUTPUT: the Stage folds only assets without BLEND) the final
// sRGB pixel.
vec4 shaded(vec3 color, float coverage) {
#ifdef FOLDED_OUTPUT
    vec4 mapped = folded_opaque(color);
    return vec4(mapped.rgb * coverage, coverage);
#else
    return vec4(color * coverage, coverage);
#endif
}

vec3 brdf_direct(vec3 n, vec3 v, vec3 l, vec3 diffuse_color, vec3 f0, float alpha) {
    vec3 h = normalize(l + v);
    float n_dot_l = clamp(dot(n, l), 0.0, 1.0);
    float n_dot_v = clamp(abs(dot(n, v)), 1e-4, 1.0);
    float n_dot_h = clamp(dot(n, h), 0.0, 1.0);
    float v_dot_h = clamp(dot(v, h), 0.0, 1.0);
    vec3 fresnel = f0 + (vec3(1.0) - f0) * pow(1.0 - v_dot_h, 5.0);
    float a2 = alpha * alpha;
    float ggx_v = n_dot_l * sqrt(n_dot_v * n_dot_v * (1.0 - a2) + a2);
    float ggx_l = n_dot_v * sqrt(n_dot_l * n_dot_l * (1.0 - a2) + a2);
    float visibility = (ggx_v + ggx_l) > 0.0 ? 0.5 / (ggx_v + ggx_l) : 0.0;
    float f = n_dot_h * n_dot_h * (a2 - 1.0) + 1.0;
    float distribution = a2 / (PI * f * f);
    vec3 diffuse = (vec3(1.0) - fresnel) * diffuse_color / PI;
    return n_dot_l * (diffuse + fresnel * visibility * distribution);
}

vec3 env_direction(vec3 panda_dir) {
    vec3 d = vec3(panda_dir.x, panda_dir.z, -panda_dir.y);  // Panda Z-up -> glTF Y-up
    float c = cos(env_rotation), s = sin(env_rotation);
    return vec3(c * d.x - s * d.z, d.y, s * d.x + c * d.z);  // undo the rig's turn
}

vec3 image_radiance(vec3 panda_dir, float roughness) {
    vec3 d = env_direction(panda_dir);
    vec2 uv = vec2(0.5 + atan(d.x, -d.z) / (2.0 * PI), 1.0 - acos(clamp(d.y, -1.0, 1.0)) / PI);
    return textureLod(env_map, uv, roughness * env_max_lod).rgb;
}

vec3 image_irradiance(vec3 panda_n) {
    vec3 n = env_direction(panda_n);
    return env_sh[0] * 0.282095
         + env_sh[1] * 0.488603 * n.y + env_sh[2] * 0.488603 * n.z
         + env_sh[3] * 0.488603 * n.x
         + env_sh[4] * 1.092548 * n.x * n.y + env_sh[5] * 1.092548 * n.y * n.z
         + env_sh[6] * 0.315392 * (3.0 * n.z * n.z - 1.0)
         + env_sh[7] * 1.092548 * n.x * n.z + env_sh[8] * 0.546274 * (n.x * n.x - n.y * n.y);
}

vec3 environment_radiance(vec3 dir, float roughness) {
#ifdef ENV_MAP
    return image_radiance(dir, roughness) * environment_intensity;
#else
    // Hemisphere gradient, blurred towards its mean as roughness grows.
    float up = dir.z;
    vec3 sharp = mix(ground_color, sky_color, smoothstep(-0.25, 0.35, up));
    vec3 mean = 0.5 * (sky_color + ground_color);
    vec3 radiance = mix(sharp, mean, roughness * roughness);
    for (int i = 0; i < MAX_SOFTBOXES; ++i) {
        if (float(i) >= softbox_count) break;
        float radius = softbox_color[i].a;
        float blur = radius + roughness * roughness * 1.2;
        float c = dot(dir, softbox_direction[i]);
        float edge = smoothstep(cos(blur), cos(max(radius - 0.02, 0.0) + 0.5 * (blur - radius)), c);
        // Energy is spread over the widened lobe.
        float spread = (radius * radius) / (blur * blur);
        radiance += softbox_color[i].rgb * edge * spread;
    }
    return radiance * environment_intensity;
#endif
}

vec3 environment_irradiance(vec3 n) {
#ifdef ENV_MAP
    // SH gives irradiance E; the caller multiplies by albedo, so divide by pi here.
    return max(image_irradiance(n), vec3(0.0)) / PI * environment_intensity;
#else
    vec3 hemi = mix(ground_color, sky_color, 0.5 + 0.5 * n.z);
    vec3 boxes = vec3(0.0);
    for (int i = 0; i < MAX_SOFTBOXES; ++i) {
        if (float(i) >= softbox_count) break;
        float radius = softbox_color[i].a;
        float solid_angle = PI * radius * radius;
        boxes += softbox_color[i].rgb * solid_angle * max(dot(n, softbox_direction[i]), 0.0) / PI;
    }
    return (hemi + boxes) * environment_intensity;
#endif
}

// Analytic approximation of the split-sum environment BRDF (Karis 2014).
vec2 environment_brdf(float n_dot_v, float roughness) {
    const vec4 c0 = vec4(-1.0, -0.0275, -0.572, 0.022);
    const vec4 c1 = vec4(1.0, 0.0425, 1.04, -0.04);
    vec4 r = roughness * c0 + c1;
    float a004 = min(r.x * r.x, exp2(-9.28 * n_dot_v)) * r.x + r.y;
    return vec2(-1.04, 1.04) * a004 + r.zw;
}

vec2 slot_uv(mat3 transform, float uv_set) {
#ifdef UV1
    return (transform * vec3(uv_set > 0.5 ? v_texcoord1 : v_texcoord0, 1.0)).xy;
#else
    return (transform * vec3(v_texcoord0, 1.0)).xy;
#endif
}

void main() {
    vec4 base_color = p3d_Material.baseColor * v_color * p3d_ColorScale;
#ifdef BASE_COLOR_MAP
    base_color *= texture(p3d_TextureModulate, slot_uv(uv_transform_0, uv_sets.x));
#endif
#if ALPHA_MODE == 1
    if (base_color.a < alpha_cutoff) discard;
    base_color.a = 1.0;
#endif
#if ALPHA_MODE == 2
    float coverage = clamp(base_color.a, 0.0, 1.0);
#else
    float coverage = 1.0;
#endif
#ifdef METAL_ROUGH_MAP
    vec4 metal_rough = texture(p3d_TextureSelector, slot_uv(uv_transform_1, uv_sets.y));
#else
    const vec4 metal_rough = vec4(1.0);
#endif
    float metallic = clamp(p3d_Material.metallic * metal_rough.b, 0.0, 1.0);
    float roughness = clamp(p3d_Material.roughness * metal_rough.g, 0.04, 1.0);
    float alpha = roughness * roughness;

    vec3 n = normalize(v_view_normal);
    vec3 v = normalize(-v_view_position);
    bool flipped = dot(n, v) < 0.0;
    if (flipped) {
        n = -n;  // double-sided or inverted geometry: shade the visible side
    }
#ifdef NORMAL_MAP
    {
        // glTF: bitangent = cross(normal, tangent.xyz) * tangent.w, from the geometric
        // normal of the face drawn (the flip above applies to the whole frame).
        vec3 t = flipped ? -v_view_tangent.xyz : v_view_tangent.xyz;  // (as the sample viewer)
        t = normalize(t - n * dot(n, t));
        vec3 b = cross(n, t) * (v_view_tangent.w < 0.0 ? -1.0 : 1.0) * (flipped ? -1.0 : 1.0);
        vec3 m = texture(p3d_TextureNormal, slot_uv(uv_transform_2, uv_sets.z)).xyz * 2.0 - 1.0;
        m.xy *= normal_scale;
        n = normalize(mat3(t, b, n) * m);
    }
#endif
#if SHADING_MODE == 1
    o_color = shaded(base_color.rgb, coverage);
#elif SHADING_MODE == 2
    vec3 world_n = normalize(mat3(p3d_ViewMatrixInverse) * n);
    o_color = shaded(pow(0.5 + 0.5 * world_n, vec3(2.2)), 1.0);
#elif defined(UNLIT)
    o_color = shaded(base_color.rgb, coverage);
#else

    vec3 diffuse_color = base_color.rgb * (1.0 - metallic);
    vec3 f0 = mix(vec3(0.04), base_color.rgb, metallic);

    vec3 color = vec3(0.0);
    vec3 key_dir = normalize(key_light.position.xyz);
    float shadow = key_shadow(v_shadow_position, 1.0);
    color += brdf_direct(n, v, key_dir, diffuse_color, f0, alpha) * key_light.diffuse.rgb * shadow;
    for (int i = 0; i < MAX_LIGHTS; ++i) {
        if (float(i) >= fill_count) break;
        vec3 l = normalize(mat3(p3d_ViewMatrix) * fill_direction[i]);
        color += brdf_direct(n, v, l, diffuse_color, f0, alpha)
                 * fill_color[i];
    }

    mat3 view_to_world = mat3(p3d_ViewMatrixInverse);
    vec3 world_n = normalize(view_to_world * n);
    vec3 world_r = normalize(view_to_world * reflect(-v, n));
    float n_dot_v = clamp(dot(n, v), 1e-4, 1.0);
    vec2 env_brdf = environment_brdf(n_dot_v, roughness);
    vec3 specular = environment_radiance(world_r, roughness) * (f0 * env_brdf.x + env_brdf.y);
    vec3 diffuse = environment_irradiance(world_n) * diffuse_color;
    // Darken the environment a little where the key light is shadowed.
    float occlusion = mix(0.75, 1.0, shadow);
#ifdef OCCLUSION_MAP
    occlusion *= 1.0 + occlusion_strength * (texture(occlusion_map, slot_uv(uv_transform_3, uv_sets.w)).r - 1.0);
#endif
    color += (diffuse + specular) * occlusion;

#ifdef EMISSION
    color += p3d_Material.emission.rgb * emissive_strength
             * texture(p3d_TextureEmission, slot_uv(uv_transform_4, uv_set_emissive)).rgb;
#endif
    o_color = shaded(color, coverage);
#endif
}
