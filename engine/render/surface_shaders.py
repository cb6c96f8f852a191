"""The asset's PBR shader (shaders/pbr.*.glsl) compiled per material and Stage setting.

On a CPU renderer (llvmpipe) a fragment shader's branches are not skipped: it runs every
side of every `if` under a mask, so one shader for all materials paid, on every pixel, for
the normal map, occlusion and emission lookups, image-based lighting, three shading modes
and three tone-mapping curves that a pixel does not use (about 50 of a 1080p bottle
frame's ~300 CPU ms, docs/BENCHMARKS.md). Here each Geom gets the variant whose defines
say what its material has, read from the state the uber-shader's branches would test
(its shader inputs, texture stages and material), and what the Stage is set to; the
pixels equal the uber-shader's.

Defines (their meaning in pbr.frag.glsl's header): per material ALPHA_MODE, UNLIT,
BASE_COLOR_MAP, METAL_ROUGH_MAP, NORMAL_MAP, OCCLUSION_MAP, EMISSION, UV1; per Stage
SHADING_MODE, ENV_MAP, TONE_MAPPING, FOLDED_OUTPUT, MAX_LIGHTS, MAX_SOFTBOXES.

The shadow pass likewise: a GeomNode with a MASK or BLEND surface is tagged
ALPHA_TESTED_TAG, for which the Stage's key light draws shadow.frag's ALPHA_TESTED
variant; the rest get the variant without the alpha lookup.
"""

from __future__ import annotations

ALPHA_TESTED_TAG = "maquette-alpha-tested"  # its value "1": a node the shadow pass tests

# Texture stage modes Panda binds to p3d_TextureSelector, p3d_TextureNormal,
# p3d_TextureEmission and the like (by name, from panda3d.core.TextureStage); a stage of
# any other mode may be bound to p3d_TextureModulate, the base colour.
_NOT_BASE_MODES = ("M_selector", "M_normal", "M_normal_height", "M_normal_gloss", "M_glow",
                   "M_gloss", "M_height", "M_emission")


def _input(attrib, name: str, default: float = 0.0) -> float:
    if attrib is None or not attrib.has_shader_input(name):
        return default
    return float(attrib.get_shader_input_vector(name)[0])


def material_defines(state) -> dict[str, int]:
    """The per-material defines of a Geom drawn with the net RenderState `state`."""
    from panda3d.core import MaterialAttrib, ShaderAttrib, TextureAttrib, TextureStage

    attrib = state.get_attrib(ShaderAttrib)
    defines = {"ALPHA_MODE": int(round(_input(attrib, "alpha_mode")))}
    if _input(attrib, "unlit") > 0.5:
        defines["UNLIT"] = 1
    if _input(attrib, "normal_scale") != 0.0:
        defines["NORMAL_MAP"] = 1
    if _input(attrib, "occlusion_strength") > 0.0:
        defines["OCCLUSION_MAP"] = 1
    uv_sets = (list(attrib.get_shader_input_vector("uv_sets"))
               if attrib is not None and attrib.has_shader_input("uv_sets") else [])
    if any(value > 0.5 for value in [*uv_sets, _input(attrib, "uv_set_emissive")]):
        defines["UV1"] = 1
    textures = state.get_attrib(TextureAttrib)
    modes = {textures.get_on_stage(i).get_mode()
             for i in range(textures.get_num_on_stages())} if textures is not None else set()
    if modes - {getattr(TextureStage, name) for name in _NOT_BASE_MODES}:
        defines["BASE_COLOR_MAP"] = 1
    if TextureStage.M_selector in modes:
        defines["METAL_ROUGH_MAP"] = 1
    material = state.get_attrib(MaterialAttrib)
    material = material.get_material() if material is not None else None
    if material is not None and any(material.get_emission()[i] != 0.0 for i in range(3)):
        defines["EMISSION"] = 1
    return defines


class SurfaceShaders:
    """Compiled variants of the PBR shader, one per distinct set of defines."""

    def __init__(self, make_shader):
        self._make_shader = make_shader  # (vertex, fragment, defines) -> Shader
        self._variants: dict[tuple, object] = {}

    def variant(self, defines: dict[str, int]):
        key = tuple(sorted(defines.items()))
        if key not in self._variants:
            self._variants[key] = self._make_shader("pbr.vert.glsl", "pbr.frag.glsl", defines)
        return self._variants[key]

    def apply(self, asset, settings: dict[str, int]) -> None:
        """Give each Geom under the NodePath `asset` its variant for the Stage `settings`
        (its shader inputs stay; the shader at priority 0, so the passes' own shaders, at
        higher priorities, still win), and tag the GeomNodes whose shadows need the
        alpha test (ALPHA_TESTED_TAG)."""
        from panda3d.core import ShaderAttrib

        paths = [asset] if asset.node().is_geom_node() else []
        for path in [*paths, *asset.find_all_matches("**/+GeomNode")]:
            node = path.node()
            above = path.get_net_state()
            alpha_tested = False
            for i in range(node.get_num_geoms()):
                state = node.get_geom_state(i)
                defines = material_defines(above.compose(state))
                alpha_tested |= defines["ALPHA_MODE"] != 0
                shader = self.variant({**settings, **defines})
                attrib = state.get_attrib(ShaderAttrib) or ShaderAttrib.make()
                node.set_geom_state(i, state.set_attrib(attrib.set_shader(shader)))
            if alpha_tested:
                path.set_tag(ALPHA_TESTED_TAG, "1")
            else:
                path.clear_tag(ALPHA_TESTED_TAG)
