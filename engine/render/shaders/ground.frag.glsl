#include "common.glsl"
#include "output.glsl"
// Shadow-catcher ground: invisible except for the key light's shadow and a soft
// contact shadow under the asset. Writes premultiplied black with the shadow's
// opacity in alpha, so the post pass darkens the background (or, for
// transparent output, keeps the shadow in the alpha channel). With FOLDED_OUTPUT, the
// final sRGB pixel of that over the background instead.

uniform float shadow_opacity;
uniform vec4 footprint;        // xy centre, zw half extents (metres, ground plane)
uniform float contact_opacity;
uniform float fade_radius;
uniform float contact_cutoff;  // alpha that rounds to 0 in the half-float scene buffer

in vec3 v_view_position;
in vec3 v_world_position;
in vec4 v_shadow_position;

out vec4 o_color;

vec4 shadow(float a) {
#ifdef FOLDED_OUTPUT
    return folded_shadow(a);
#else
    return vec4(0.0, 0.0, 0.0, a);
#endif
}

void main() {
    vec2 d = (v_world_position.xy - footprint.xy) / max(footprint.zw, vec2(1e-4));
    float r = length(d);
    float contact = contact_opacity * exp(-2.2 * r * r);
    float fade = 1.0 - smoothstep(0.55 * fade_radius, fade_radius,
                                  length(v_world_position.xy - footprint.xy));
    if (fade <= 0.0) {
        // Outside the key shadow's reach: no shadow taps. Where the contact shadow is
        // also below what the half-float scene buffer holds (it rounds to 0 there), leave
        // the cleared (0, 0, 0, 0) pixel as it is.
        if (contact < contact_cutoff) {
            discard;
        }
        o_color = shadow(clamp(contact, 0.0, 1.0));
        return;
    }
    float lit = key_shadow(v_shadow_position, 2.5);
    float a = max(shadow_opacity * (1.0 - lit) * fade, contact);
    o_color = shadow(clamp(a, 0.0, 1.0));
}
