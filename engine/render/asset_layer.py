"""The layers of a folded Stage with MSAA: the asset multisampled only where it is, and
the ground's shadow at half resolution.

A folded Stage (engine.render.stage) with MSAA draws the background and the ground at one
sample per pixel into its RGBA8 output, and the asset alone into this layer: an RGBA8
multisampled buffer whose camera sees only the window of the frame the asset's posed
bounding box covers (plus a margin), cleared to (0, 0, 0, 0). The resolved layer, asset
colour premultiplied by its coverage, is laid over the output in that window
(premultiplied "over"). At an edge pixel that is the average of the asset's samples and
the pixel below, what one multisampled pass gave; the background, the ground and the
clears no longer pay for samples. (On llvmpipe what MSAA still costs is the asset's
samples themselves, rasterised, tested and resolved; it shades once per pixel: forcing
per-sample shading to split the shadow taps doubled the frame, docs/BENCHMARKS.md.)

The ground layer: a half-resolution half-float buffer that the scene camera (which no
longer sees the asset) fills with the ground's shadow opacity; the background pass reads
it filtered (the full-resolution ground was ~80 of a 1080p frame's ~220 CPU ms at msaa 0;
the shadow is soft, so 1080p frames differ in a dozen edge pixels). The ground is drawn
into the asset layer too, depth only, so what of the asset is below it stays hidden.

The window is a function of the frame alone (pixel-aligned, never of the buffer's size,
which only grows), so any frame renders the same in any process.

Units: pixels, origin at the bottom-left corner of the output (OpenGL's window space).
"""

from __future__ import annotations

import math

import numpy as np

# Pixels around the projected box: MSAA touches at most the pixel an edge crosses.
WINDOW_MARGIN = 2
# The layer buffer grows in steps of this many pixels (it is never shrunk).
BUFFER_STEP = 64
LAYER_MASK_BIT = 3  # camera bit of the layer's camera (0 scene, 1 key light, 2 passes)
_OCCLUDER_TAG = "maquette-layer"


def screen_window(clip: np.ndarray, width: int, height: int,
                  margin: int = WINDOW_MARGIN) -> tuple[int, int, int, int] | None:
    """The pixel window (x0, y0, w, h) of a `width` × `height` frame that holds points
    given in clip space, (N, 4) homogeneous (x, y, z, w) rows; None when they are all off
    to one side of the frame; the whole frame when one is at or behind the eye (w <= 0:
    its projection is unbounded)."""
    clip = np.asarray(clip, dtype=np.float64)
    if np.any(clip[:, 3] <= 1e-9):
        return (0, 0, width, height)
    ndc = clip[:, :2] / clip[:, 3:4]
    lo = np.floor((ndc.min(axis=0) + 1.0) * 0.5 * (width, height)) - margin
    hi = np.ceil((ndc.max(axis=0) + 1.0) * 0.5 * (width, height)) + margin
    x0, y0 = int(max(lo[0], 0)), int(max(lo[1], 0))
    x1, y1 = int(min(hi[0], width)), int(min(hi[1], height))
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def full_frame_quad(name: str):
    """A full-frame quad (a card over clip space's -1..1 square) under a root of its own,
    and the orthographic camera there that sees exactly it: (root, quad, camera)
    NodePaths, for a pass drawn over an output or a region of it."""
    from panda3d.core import Camera, CardMaker, NodePath, OrthographicLens

    root = NodePath(name)
    card = CardMaker(f"{name}-quad")
    card.set_frame_fullscreen_quad()
    quad = root.attach_new_node(card.generate())
    lens = OrthographicLens()
    lens.set_film_size(2, 2)
    lens.set_near_far(-10, 10)
    return root, quad, root.attach_new_node(Camera(f"{name}-camera", lens))


def stage_window(stage, points_root: np.ndarray, margin: int = WINDOW_MARGIN
                 ) -> tuple[int, int, int, int] | None:
    """screen_window of (N, 3) Panda points in the Stage root's frame, seen by the
    Stage's camera as posed for the frame."""
    from panda3d.core import LPoint3f

    eye = np.array([tuple(stage.camera.get_relative_point(stage.root, LPoint3f(*p)))
                    for p in np.asarray(points_root, dtype=float).tolist()])
    projection = stage.lens.get_projection_mat()  # Panda: row vectors, v @ M
    matrix = np.array([[projection.get_cell(r, c) for c in range(4)] for r in range(4)])
    return screen_window(np.c_[eye, np.ones(len(eye))] @ matrix, stage.width, stage.height,
                         margin)


class AssetLayer:
    """The layer of a folded Stage: its buffer, camera and the composite over the output."""

    def __init__(self, stage, host, samples: int, make_shader, make_output):
        from panda3d.core import (
            BitMask32,
            Camera,
            ColorWriteAttrib,
            DepthTestAttrib,
            GraphicsOutput,
            PerspectiveLens,
            RenderState,
            ShaderAttrib,
            Texture,
            TransparencyAttrib,
        )

        self.stage = stage
        width, height = stage.width, stage.height
        self.size = (min(width, BUFFER_STEP), min(height, BUFFER_STEP))
        self.buffer, self.samples = make_output(host, *self.size, samples, "maquette-layer", -3)
        self.buffer.set_clear_color_active(False)  # its region clears its window
        self.buffer.set_clear_depth_active(False)
        self.texture = Texture("asset-layer")
        self.buffer.add_render_texture(self.texture, GraphicsOutput.RTM_bind_or_copy)

        self.lens = PerspectiveLens()
        camera = Camera("layer-camera", self.lens)
        camera.set_camera_mask(BitMask32.bit(LAYER_MASK_BIT))
        # the ground, seen by this camera: depth only (hides what is below it)
        camera.set_tag_state_key(_OCCLUDER_TAG)
        camera.set_tag_state("ground", RenderState.make(
            ColorWriteAttrib.make(ColorWriteAttrib.C_off),
            ShaderAttrib.make(make_shader("depth.vert.glsl", "depth.frag.glsl"), 100)))
        self.camera = stage.camera.attach_new_node(camera)  # the Stage's pose, always
        self.region = self.buffer.make_display_region()
        self.region.set_camera(self.camera)
        self.region.set_clear_color_active(True)
        self.region.set_clear_color((0, 0, 0, 0))
        self.region.set_clear_depth_active(True)
        if stage.ground is not None:
            stage.ground.set_tag(_OCCLUDER_TAG, "ground")

        # The composite: a full-frame quad drawn only in the window's region of the output.
        self.root, card, composite_camera = full_frame_quad("layer-composite")
        card.set_shader(make_shader("post.vert.glsl", "layer.frag.glsl"))
        card.set_shader_input("layer", self.texture)
        card.set_shader_input("layer_origin", (0, 0))
        card.set_attrib(TransparencyAttrib.make(TransparencyAttrib.M_premultiplied_alpha))
        card.set_attrib(DepthTestAttrib.make(DepthTestAttrib.M_none))
        card.set_depth_write(False)
        self.card = card
        self.composite = stage.output.make_display_region()
        self.composite.set_sort(1)  # after the scene (0)
        self.composite.set_camera(composite_camera)
        self.window: tuple[int, int, int, int] | None = None

    @property
    def regions(self) -> tuple:
        return (self.region, self.composite)

    def place(self, corners_root: np.ndarray | None) -> None:
        """Aim the layer at the window of the frame that `corners_root` (N, 3) Panda
        points, in the Stage root's frame, cover (the posed box: call after the camera is
        posed for the frame); None: nothing to draw (the asset is hidden)."""
        stage = self.stage
        width, height = stage.width, stage.height
        window = None if corners_root is None else stage_window(stage, corners_root)
        self.window = window
        self.buffer.set_active(window is not None)
        self.composite.set_active(window is not None)
        if window is None:
            return
        x0, y0, w, h = window
        if w > self.size[0] or h > self.size[1]:
            self.size = (min(width, max(self.size[0], _grown(w))),
                         min(height, max(self.size[1], _grown(h))))
            self.buffer.set_size(*self.size)
        self.region.set_dimensions(0.0, w / self.size[0], 0.0, h / self.size[1])
        # The window's part of the Stage's film: same focal length, the film offset
        # to the window's centre (the Stage's own lens has no film offset).
        film = stage.lens.get_film_size()
        self.lens.set_film_size(film[0] * w / width, film[1] * h / height)
        self.lens.set_focal_length(stage.lens.get_focal_length())
        self.lens.set_film_offset(film[0] * ((x0 + 0.5 * w) / width - 0.5),
                                  film[1] * ((y0 + 0.5 * h) / height - 0.5))
        self.lens.set_near_far(stage.lens.get_near(), stage.lens.get_far())
        self.composite.set_dimensions(x0 / width, (x0 + w) / width,
                                      y0 / height, (y0 + h) / height)
        self.card.set_shader_input("layer_origin", (float(x0), float(y0)))
        stage.asset.set_shader_input("fragcoord_offset", (float(x0), float(y0)))

    def close(self, engine) -> None:
        self.stage.output.remove_display_region(self.composite)
        engine.remove_window(self.buffer)
        self.root.remove_node()
        self.buffer = None


def ground_layer_size(width: int, height: int) -> tuple[int, int]:
    """The ground layer's pixels for a `width` × `height` output: half, rounded up."""
    return (width + 1) // 2, (height + 1) // 2


def ground_layer(host, width: int, height: int):
    """The ground's layer of a folded, layered Stage: a half-resolution half-float
    buffer on `host`'s context, cleared to 0, that the ground draws its shadow's opacity
    into (premultiplied black, as on the two-pass path); the background pass reads it
    filtered. Returns (buffer, texture)."""
    from panda3d.core import SamplerState

    from engine.render.engine_setup import make_float_buffer

    made = make_float_buffer(host, *ground_layer_size(width, height), "maquette-ground", -4)
    if made is None:
        raise RuntimeError("could not create the ground layer buffer")
    buffer, texture = made
    texture.set_minfilter(SamplerState.FT_linear)
    texture.set_magfilter(SamplerState.FT_linear)
    texture.set_wrap_u(SamplerState.WM_clamp)
    texture.set_wrap_v(SamplerState.WM_clamp)
    return buffer, texture


def _grown(pixels: int) -> int:
    return int(math.ceil(pixels * 1.25 / BUFFER_STEP) * BUFFER_STEP)
