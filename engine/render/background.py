"""The background of a folded Stage (engine.render.stage): its gradient per output row.

A folded frame starts with a full-frame quad of the background (shaders/background.frag):
the vertical gradient, sRGB-encoded and dithered, and under the ground's shadow the
half-resolution ground layer's opacity over it. On a CPU renderer that per-pixel work over
a 1080p frame cost ~40 of its ~320 CPU ms (docs/BENCHMARKS.md). Here the gradient's sRGB
value of each row is drawn once into a (1, H) float buffer (the ROW_PASS, again after a
change of colours or size); the full-frame quad adds the dither to its row's value, and a
second quad, in a display region over the window of the frame where the ground layer can
hold anything (found each frame from the ground card's corners), computes the gradient
under the shadow as before. Every variant is the same function of gl_FragCoord, and the
ground layer is 0 outside that window, so the frame equals the one-quad frame bit for bit
(tests/test_render_speed.py).

Units: pixels of the output, origin bottom left (gl_FragCoord).
"""

from __future__ import annotations

import numpy as np

from engine.render.asset_layer import full_frame_quad, stage_window

# Output pixels beyond the ground card's projection that the ground layer can reach: the
# layer is half resolution (a texel is 2 pixels) and read bilinearly (1 texel further).
GROUND_REACH = 4


class FoldedBackground:
    """A folded Stage's background: the rows buffer and its pass, and the ground window's
    display region. Built by the Stage once its output, host and post quad exist."""

    def __init__(self, stage, ground_texture, make_shader, make_float_buffer) -> None:
        from panda3d.core import DepthTestAttrib

        self.stage = stage
        made = make_float_buffer(stage._host, 1, stage.height, "maquette-background-rows",
                                 -8, bits=32)
        if made is None:
            raise RuntimeError("could not create the background rows buffer")
        self.rows, rows_texture = made
        self.nodes = []  # the quads that read the background's colours (set_background)

        def quad_scene(name: str, defines: dict[str, int]):
            _root, quad, camera = full_frame_quad(name)
            quad.set_shader(make_shader("post.vert.glsl", "background.frag.glsl", defines))
            quad.set_attrib(DepthTestAttrib.make(DepthTestAttrib.M_none))
            quad.set_depth_write(False)
            self.nodes.append(quad)
            return quad, camera

        _quad, camera = quad_scene("background-rows", {"ROW_PASS": 1})
        region = self.rows.make_display_region()
        region.set_camera(camera)
        stage.post_quad.set_shader(
            make_shader("post.vert.glsl", "background.frag.glsl", {"BACKGROUND_ROWS": 1}))
        stage.post_quad.set_shader_input("background_rows", rows_texture)
        self.nodes.append(stage.post_quad)
        self.ground_region = None
        self.ground_texture = ground_texture
        if ground_texture is not None:
            quad, camera = quad_scene("background-ground", {"GROUND_LAYER": 1})
            quad.set_shader_input("ground_layer", ground_texture)
            self.ground_region = stage.output.make_display_region()
            self.ground_region.set_sort(-1)  # after the post quad's (-2), before the scene (0)
            self.ground_region.set_camera(camera)
        self.resize(stage.width, stage.height)

    @property
    def regions(self) -> tuple:
        """Its display regions on the Stage's output (the warm-up frame shrinks them)."""
        return () if self.ground_region is None else (self.ground_region,)

    def redraw_rows(self) -> None:
        """Draw the rows again in the next frame (the colours or the size changed)."""
        self.rows.set_active(True)
        self.rows.set_one_shot(True)

    def resize(self, width: int, height: int) -> None:
        self.rows.set_size(1, height)
        for node in self.nodes:
            node.set_shader_input("output_size", (float(width), float(height)))
        self.redraw_rows()

    def place(self, ground_corners: np.ndarray | None) -> None:
        """Aim the ground quad's region at the window of the frame where the ground
        layer can be non-zero: the ground card's (4, 3) corners (Panda, Stage root
        frame) projected by the posed camera, plus GROUND_REACH; None: no ground."""
        if self.ground_region is None:
            return
        stage = self.stage
        window = None if ground_corners is None else stage_window(
            stage, ground_corners, margin=GROUND_REACH)
        self.ground_region.set_active(window is not None)
        if window is not None:
            x0, y0, w, h = window
            self.ground_region.set_dimensions(x0 / stage.width, (x0 + w) / stage.width,
                                              y0 / stage.height, (y0 + h) / stage.height)

    def close(self, engine) -> None:
        if self.ground_region is not None:
            self.stage.output.remove_display_region(self.ground_region)
            self.ground_region = None
        if self.rows is not None:
            engine.remove_window(self.rows)
            self.rows = None
