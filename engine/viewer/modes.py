"""Inspection modes on a Stage (Panda3D): lit, base colour, normals (the Stage's own
shader modes), a wireframe overlay, a UV checker texture and "seen": the asset drawn
from its own mesh file with the seen marks (engine.asset.seen) as vertex colours, grey
where the image saw the surface, magenta where it was inferred."""

from __future__ import annotations

WIRE_VERT = """#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
in vec4 p3d_Vertex;
void main() {
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    gl_Position.z -= 0.0004 * gl_Position.w;  // just in front of the surface it outlines
}
"""
WIRE_FRAG = """#version 330
uniform vec4 wire_color;
out vec4 o_color;
void main() { o_color = wire_color; }
"""
WIRE_COLOR = (0.02, 0.45, 0.9, 1.0)  # linear HDR, before exposure and tone mapping
SEEN_VERT = """#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat3 p3d_NormalMatrix;
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec4 p3d_Color;
out vec3 v_normal;
out vec4 v_color;
void main() {
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    v_normal = normalize(p3d_NormalMatrix * p3d_Normal);
    v_color = p3d_Color;
}
"""
SEEN_FRAG = """#version 330
in vec3 v_normal;
in vec4 v_color;  // the seen mark in r (engine.render.seen_pass.mark_geom)
out vec4 o_color;
const vec3 SEEN = vec3(0.55, 0.55, 0.55);  // linear: a seen surface, grey ...
const vec3 INFERRED = vec3(0.75, 0.03, 0.45);  // ... an inferred one, magenta
void main() {  // headlight shading, so the shape reads in any light preset
    float shade = 0.35 + 0.65 * abs(normalize(v_normal).z);
    o_color = vec4(mix(INFERRED, SEEN, clamp(v_color.r, 0.0, 1.0)) * shade, 1.0);
}
"""
CHECKER_SIZE = 512
CHECKER_SQUARES = 16


def checker_texture():
    """A UV checker (sRGB): 16 × 16 squares, hue changing along U, brightness along V."""
    import colorsys

    import numpy as np
    from panda3d.core import SamplerState, Texture

    n, s = CHECKER_SIZE, CHECKER_SIZE // CHECKER_SQUARES
    u = np.arange(n) // s
    iu, iv = np.meshgrid(u, u)
    image = np.zeros((n, n, 3), dtype=np.uint8)
    for a in range(CHECKER_SQUARES):
        rgb = np.array(colorsys.hsv_to_rgb(a / CHECKER_SQUARES, 0.55, 0.95)) * 255
        image[iu == a] = rgb.astype(np.uint8)
    dark = (iu + iv) % 2 == 1
    image[dark] = (image[dark] * 0.35).astype(np.uint8)
    image[::s, :] = image[:, ::s] = 255  # grid lines
    tex = Texture("uv-checker")
    tex.setup_2d_texture(n, n, Texture.T_unsigned_byte, Texture.F_srgb)
    # Panda wants BGR, bottom row first (V up).
    tex.set_ram_image(np.ascontiguousarray(image[::-1, :, ::-1]).tobytes())
    tex.set_minfilter(SamplerState.FT_linear_mipmap_linear)
    tex.set_magfilter(SamplerState.FT_nearest)
    return tex


class ModeController:
    """Applies an inspection mode to one Stage."""

    def __init__(self, stage):
        self.stage = stage
        self.mode = "lit"
        self._wire = None
        self._checker = None
        self._checker_stages = []
        self._seen = None

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.stage.set_shading_mode(mode if mode in ("lit", "base-color", "normals") else "lit")
        self._show_wire(mode == "wireframe")
        self._show_checker(mode == "uv-checker")
        self._show_seen(mode == "seen")
        self.mode = mode

    def _show_seen(self, on: bool) -> None:
        from panda3d.core import BitMask32

        if on and self._seen is None:
            self._seen = self.stage.asset.attach_new_node(seen_geom(self.stage.scene))
            self._seen.set_shader(_seen_shader(), 100)
            self._seen.set_texture_off(100)
        if self._seen is None:
            return
        for child in self.stage.asset.get_children():
            if child != self._seen:
                (child.hide if on else child.show)(BitMask32.bit(0))
        (self._seen.show if on else self._seen.hide)(BitMask32.bit(0))

    def _show_wire(self, on: bool) -> None:
        from panda3d.core import BitMask32, Shader

        from engine.render.stage import SHADOW_MASK_BIT

        if on and self._wire is None:
            self._wire = self.stage.root.attach_new_node("wire-overlay")
            self.stage.asset.instance_to(self._wire)
            self._wire.set_render_mode_wireframe(100)
            self._wire.set_shader(Shader.make(Shader.SL_GLSL, WIRE_VERT, WIRE_FRAG), 100)
            self._wire.set_shader_input("wire_color", WIRE_COLOR, 100)
            self._wire.set_texture_off(100)
            self._wire.hide(BitMask32.bit(SHADOW_MASK_BIT))
        if self._wire is not None:
            (self._wire.show if on else self._wire.hide)(BitMask32.bit(0))

    def _show_checker(self, on: bool) -> None:
        from panda3d.core import TextureStage

        asset = self.stage.asset
        if on:
            if self._checker is None:
                self._checker = checker_texture()
            stages = [ts for ts in asset.find_all_texture_stages()
                      if ts.get_mode() == TextureStage.M_modulate]
            self._checker_stages = stages or [TextureStage.get_default()]
            for ts in self._checker_stages:
                asset.set_texture(ts, self._checker, 100)
            self.stage.specialize()  # a surface without a base colour map now has one
        elif self._checker_stages:
            for ts in self._checker_stages:
                asset.clear_texture(ts)
            self._checker_stages = []
            self.stage.specialize()


def _seen_shader():
    from panda3d.core import Shader

    return Shader.make(Shader.SL_GLSL, SEEN_VERT, SEEN_FRAG)


def seen_geom(scene):
    """The asset's mesh with its seen marks (engine.render.seen_pass.mark_geom), in
    file coordinates turned to Panda's as the loaded model's children are."""
    from engine.asset.io import load_asset
    from engine.render.seen_pass import mark_geom

    return mark_geom(load_asset(scene.asset.source).mesh)


def scene_statistics(stage) -> dict:
    """Triangles and an estimate of texture memory (bytes, with mipmaps) of the asset."""
    from panda3d.core import GeomTriangles

    triangles = 0
    for node_path in stage.asset.find_all_matches("**/+GeomNode"):
        node = node_path.node()
        for i in range(node.get_num_geoms()):
            geom = node.get_geom(i)
            for j in range(geom.get_num_primitives()):
                prim = geom.get_primitive(j)
                if not isinstance(prim, GeomTriangles):
                    prim = prim.decompose()
                triangles += prim.get_num_primitives()
    texture_bytes = 0
    for tex in stage.asset.find_all_textures():
        size = tex.get_expected_ram_image_size() or (
            tex.get_x_size() * tex.get_y_size() * tex.get_num_components())
        texture_bytes += int(size * (4 / 3 if tex.uses_mipmaps() else 1))
    return {"triangles": triangles, "texture_bytes": texture_bytes}
