"""Look-dev guides drawn into a Stage's 3D view (Panda3D): a ground grid in metres and
XYZ axes at the origin (`X`), and the asset's bounding box (`D`).

World space is the scene's (Y-up, metres): the grid lies on the ground plane (the
asset's resting base, where the Stage's shadow catcher is), its lines on whole multiples
of `grid_step` (engine.viewer.state) from the origin; the axes run from the origin along
+X (red), +Y (green) and +Z (blue). The box is the asset's rest bounds, moved with the
asset each frame. Colours are linear HDR, before exposure and tone mapping. The guides
are unlit, never cast shadows and, drawn in the scene, show in screenshots too.
"""

from __future__ import annotations

import math

import numpy as np

from engine.viewer.state import grid_step

LINE_VERT = """#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
in vec4 p3d_Vertex;
in vec4 p3d_Color;
out vec4 v_color;
void main() {
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    gl_Position.z -= 0.0002 * gl_Position.w;  // over the ground card and coplanar faces
    v_color = p3d_Color;
}
"""
LINE_FRAG = """#version 330
in vec4 v_color;
out vec4 o_color;
void main() { o_color = v_color; }
"""
GRID_COLOR = (0.30, 0.30, 0.32, 1.0)
GRID_MAJOR_COLOR = (0.55, 0.55, 0.58, 1.0)  # every fifth line
AXIS_COLORS = ((0.9, 0.08, 0.06, 1.0), (0.1, 0.75, 0.08, 1.0), (0.08, 0.25, 1.0, 1.0))
BOX_COLOR = (1.0, 0.62, 0.05, 1.0)
GRID_REACH = 2.5  # the grid covers the asset's bounding sphere this many times over


def grid_segments(center, radius: float, size, height: float):
    """(n, 2, 3) Y-up line segments of the ground grid and whether each is a major line:
    lines at whole multiples of the step covering GRID_REACH × radius around `center`'s
    footprint, at y = height."""
    step = grid_step(size)
    reach = GRID_REACH * max(float(radius), 1e-6)
    cx, cz = float(center[0]), float(center[2])
    i0, i1 = math.floor((cx - reach) / step), math.ceil((cx + reach) / step)
    k0, k1 = math.floor((cz - reach) / step), math.ceil((cz + reach) / step)
    x0, x1, z0, z1 = i0 * step, i1 * step, k0 * step, k1 * step
    segments, major = [], []
    for i in range(i0, i1 + 1):
        segments.append(((i * step, height, z0), (i * step, height, z1)))
        major.append(i % 5 == 0)
    for k in range(k0, k1 + 1):
        segments.append(((x0, height, k * step), (x1, height, k * step)))
        major.append(k % 5 == 0)
    return np.array(segments, np.float64), np.array(major, bool)


def box_segments(lo, hi):
    """(12, 2, 3) edges of the axis-aligned box lo..hi."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array([[(hi if (n >> a) & 1 else lo)[a] for a in range(3)] for n in range(8)])
    edges = [(n, n | (1 << a)) for n in range(8) for a in range(3) if not (n >> a) & 1]
    return np.array([[corners[a], corners[b]] for a, b in edges])


def _lines(name: str, segments, colors, thickness: float):
    from panda3d.core import LineSegs

    from engine.render.stage import to_panda

    lines = LineSegs(name)
    lines.set_thickness(thickness)
    for (a, b), color in zip(segments, colors, strict=True):
        lines.set_color(*color)
        lines.move_to(*to_panda(a))
        lines.draw_to(*to_panda(b))
    return lines.create()


class Guides:
    """The grid, axes and box of one Stage; shown or hidden by `show`."""

    def __init__(self, stage):
        self.stage = stage
        self._grid = self._box = None

    def _attach(self, node):
        from panda3d.core import BitMask32, Shader

        from engine.render.stage import SHADOW_MASK_BIT

        np_ = self.stage.root.attach_new_node(node)
        np_.set_shader(Shader.make(Shader.SL_GLSL, LINE_VERT, LINE_FRAG), 100)
        np_.set_texture_off(100)
        np_.hide(BitMask32.bit(SHADOW_MASK_BIT))
        return np_

    def show(self, grid: bool, box: bool) -> None:
        """Show the grid and axes, the asset's box; call after each Stage.set_time (the
        box follows the asset)."""
        bounds = self.stage.timeline.bounds
        if grid and self._grid is None:
            segments, major = grid_segments(bounds.center, bounds.radius, bounds.size,
                                            float(bounds.lo[1]))
            colors = [GRID_MAJOR_COLOR if m else GRID_COLOR for m in major]
            self._grid = self._attach(_lines("grid", segments, colors, 1.0))
            length = max(0.75 * float(max(bounds.size)), grid_step(bounds.size))
            axes = np.array([[(0.0, 0.0, 0.0), tuple(length * e)] for e in np.eye(3)])
            self._grid.attach_new_node(_lines("axes", axes, AXIS_COLORS, 2.5))
        if self._grid is not None:
            (self._grid.show if grid else self._grid.hide)()
        if box and self._box is None:
            self._box = self._attach(_lines("box", box_segments(bounds.lo, bounds.hi),
                                            [BOX_COLOR] * 12, 1.5))
        if self._box is not None:
            (self._box.show if box else self._box.hide)()
            frame = self.stage.current
            if box and frame is not None:
                self._follow(frame.asset_matrix)

    def _follow(self, asset_matrix) -> None:
        from panda3d.core import LMatrix4f

        from engine.render.stage import Y_UP_TO_PANDA

        relative = asset_matrix @ np.linalg.inv(self.stage.timeline.rest)
        m = Y_UP_TO_PANDA @ relative @ Y_UP_TO_PANDA.T
        if abs(np.linalg.det(m[:3, :3])) < 1e-15:
            self._box.hide()
        else:
            self._box.set_mat(LMatrix4f(*m.T.flatten()))
