"""Inspection contact sheet: the asset from eight sides, lit and as normals + wireframe.

One Stage renders every view (the camera rig is swapped between captures), so the
asset is loaded and the shaders compiled once.  The result is one labelled PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.animation import CameraRig
from engine.animation.camera import VIEW_LABELS
from engine.fileio import write_image
from engine.scene import scene_from_dict

__all__ = ["VIEWS", "render_contact_sheet"]

# (label, azimuth, elevation) in the stage's convention: azimuth 0 = camera on +Z
# looking at the front, 90 = camera on +X; labels are the viewer's (VIEW_LABELS).
VIEWS = (
    (VIEW_LABELS["front"], 0.0, 8.0),
    (VIEW_LABELS["back"], 180.0, 8.0),
    (VIEW_LABELS["right"], 90.0, 8.0),
    (VIEW_LABELS["left"], -90.0, 8.0),
    (VIEW_LABELS["top"], 0.0, 89.0),
    (VIEW_LABELS["bottom"], 0.0, -89.0),
    ("3/4 front-right (+X+Z)", 45.0, 25.0),
    ("3/4 back-left (-X-Z)", -135.0, 25.0),
)
# Above this the wireframe is a solid smear at 320-px tiles (looked at: a 100k-triangle
# sphere's wire hides its normals colours, 50k is already noise), and it would show a
# display copy's decimated edges, not the asset's: skip it (8 fewer passes).
WIREFRAME_MAX_TRIANGLES = 50_000
_LABEL_H = 22

_FLAT_VERT = """#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
in vec4 p3d_Vertex;
void main() { gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex; }
"""
_FLAT_FRAG = """#version 330
out vec4 color;
void main() { color = vec4(0.02, 0.02, 0.02, 1.0); }
"""


def _wireframe_overlay(stage):
    """A copy of the asset drawn as dark lines on top of the shaded pass (hidden by
    default). Returns the NodePath."""
    from panda3d.core import BitMask32, Shader

    wire = stage.asset.copy_to(stage.asset)
    wire.clear_transform()
    wire.set_render_mode_wireframe(1)
    wire.set_shader(Shader.make(Shader.SL_GLSL, _FLAT_VERT, _FLAT_FRAG), 1000)
    wire.set_texture_off(1000)
    wire.set_depth_offset(2)
    wire.hide(BitMask32.bit(1))  # never in the shadow pass
    wire.hide()
    return wire


def _label(tile: np.ndarray, text: str, font) -> Image.Image:
    image = Image.new("RGB", (tile.shape[1], tile.shape[0] + _LABEL_H), (24, 25, 29))
    image.paste(Image.fromarray(tile[..., :3]), (0, _LABEL_H))
    ImageDraw.Draw(image).text((6, 4), text, fill=(235, 235, 235), font=font)
    return image


def render_contact_sheet(asset_path: Path, out: Path, *, tile: int = 320,
                         triangles: int | None = None, msaa: int = 2,
                         note: str = "", inputs=()) -> Path:
    """Render `asset_path` from VIEWS, lit and as normals (+ wireframe when the mesh has
    at most WIREFRAME_MAX_TRIANGLES), into one labelled PNG at `out` (written
    atomically; PNG or JPEG by the suffix). `note` is added to every label (e.g.
    "display copy, 100k tris"). `inputs`: files never to write over (the asset's own are
    always protected). Returns `out`."""
    from engine.asset.files import asset_files
    from engine.fileio import guard_inputs, image_format
    from engine.render.stage import Stage

    out = Path(out)
    image_format(out, what="a contact sheet")
    inputs = [*asset_files(Path(asset_path)), *inputs]
    guard_inputs([out], inputs)
    scene = scene_from_dict({
        "asset": {"source": str(Path(asset_path).resolve())},
        "stage": {"lights": "studio", "background": ["#5a5d66", "#2c2e33"], "ground": False},
        "camera": {"move": "static", "azimuth": 0, "elevation": 8},
        "output": {"height": tile, "aspect": "1:1", "file": "sheet.mp4"},
    }, None)
    stage = Stage(scene, tile, tile, msaa=msaa)
    try:
        # No cast shadows on a contact sheet: the key light's 2048² shadow pass costs
        # more than the view itself on a software renderer, and hides nothing here.
        from panda3d.core import BitMask32

        from engine.render.stage import SHADOW_MASK_BIT

        stage.asset.hide(BitMask32.bit(SHADOW_MASK_BIT))
        stage.root.set_shader_input("shadows_enabled", 0)
        show_wire = triangles is None or triangles <= WIREFRAME_MAX_TRIANGLES
        wire = _wireframe_overlay(stage) if show_wire else None
        font = ImageFont.load_default()
        lit, shape = [], []
        rig = stage.timeline.rig
        for label, azimuth, elevation in VIEWS:
            stage.timeline.rig = CameraRig(move="static", fov=rig.fov, azimuth=azimuth,
                                           elevation=elevation)
            stage.set_shading_mode("lit")
            if wire is not None:
                wire.hide()
            lit.append(_label(stage.capture(0.0), f"{label} - lit{note}", font))
            stage.set_shading_mode("normals")
            if wire is not None:
                wire.show()
            suffix = "normals + wire" if wire is not None else "normals"
            shape.append(_label(stage.capture(0.0), f"{label} - {suffix}{note}", font))
    finally:
        stage.close()

    cols = 4
    tw, th = lit[0].size
    rows = []
    for start in range(0, len(VIEWS), cols):
        rows.append(lit[start:start + cols])
        rows.append(shape[start:start + cols])
    sheet = Image.new("RGB", (cols * tw, len(rows) * th), (24, 25, 29))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            sheet.paste(image, (c * tw, r * th))
    write_image(sheet, out, inputs, what="a contact sheet")
    return out


def tile_means(sheet: Path, tile: int = 320) -> np.ndarray:
    """Mean RGB of each tile's picture area (for tests): (rows, cols, 3)."""
    image = np.asarray(Image.open(sheet).convert("RGB"), dtype=float)
    th = tile + _LABEL_H
    rows, cols = image.shape[0] // th, image.shape[1] // tile
    out = np.zeros((rows, cols, 3))
    for r in range(rows):
        for c in range(cols):
            out[r, c] = image[r * th + _LABEL_H:(r + 1) * th, c * tile:(c + 1) * tile].mean((0, 1))
    return out
