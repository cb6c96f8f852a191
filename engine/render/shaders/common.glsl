// Shared lighting functions, included by the asset and ground fragment shaders.

const float PI = 3.141592653589793;

#include "key_light.glsl"

uniform float shadow_texel;   // 1 / shadow map size
uniform float shadow_bias;
uniform float shadows_enabled;  // 0 or 1 (Panda passes Python ints as floats)

// Percentage-closer filtering over a 4x4 grid of hardware-filtered taps.
float key_shadow(vec4 shadow_position, float softness) {
    if (shadows_enabled < 0.5) {
        return 1.0;
    }
    vec3 p = shadow_position.xyz / shadow_position.w;
    if (p.x <= 0.0 || p.x >= 1.0 || p.y <= 0.0 || p.y >= 1.0 || p.z >= 1.0) {
        return 1.0;
    }
    p.z -= shadow_bias;
    float sum = 0.0;
    float step = shadow_texel * softness;
    for (int x = 0; x < 4; ++x) {
        for (int y = 0; y < 4; ++y) {
            vec2 offset = (vec2(x, y) - 1.5) * step;
            sum += texture(key_light.shadowMap, vec3(p.xy + offset, p.z));
        }
    }
    return sum / 16.0;
}
