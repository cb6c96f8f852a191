"""Live on a CPU: the 3D view's render scale while something moves, and when to stop.

Pure (no Panda3D). Each frame the viewer says whether what the 3D view shows changed
(`moving`) and how long the last 3D frame took; `LiveResolution.plan` answers the
render scale for this frame (fraction of the window's width and height, drawn into
the HDR buffer and upscaled by the tone-mapping pass) or None for "draw nothing".

While moving, the scale follows the measured cost: render time grows about with the
pixel count (scale²), so the scale that holds `target_fps` is
scale · sqrt(budget / seconds) (budget: a frame at HEADROOM × target_fps), damped and
clamped to [min_scale, 1]. When nothing changed, one refine frame at scale 1, then
nothing until the next change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_TARGET_FPS = 15.0
MIN_SCALE = 0.25
# The scale aims this much above the target frame rate: frame times scatter (±15 % on
# the shared machines) and the step's time leaves out the driver's finishing the frame,
# so aiming at the target itself held it only half of the time (bench_viewer: 14.7 fps).
HEADROOM = 1.1


@dataclass
class LiveResolution:
    target_fps: float = DEFAULT_TARGET_FPS
    min_scale: float = MIN_SCALE
    scale: float = 1.0  # the moving frames' scale, adapted
    refined: bool = False  # the still picture is at full resolution

    def plan(self, moving: bool, hud_changed: bool = False) -> float | None:
        """This frame's render scale, or None: nothing to draw (the window keeps its
        picture). A HUD change alone redraws at the last scale used (1.0 when refined)."""
        if moving:
            self.refined = False
            return self.scale
        if not self.refined:
            self.refined = True
            return 1.0
        return 1.0 if hud_changed else None

    def measured(self, scale: float, seconds: float) -> None:
        """A moving frame drawn at `scale` took `seconds` of wall time."""
        if seconds <= 0 or self.target_fps <= 0:
            return
        budget = 1.0 / (self.target_fps * HEADROOM)
        ideal = scale * math.sqrt(budget / seconds)
        new = 0.5 * self.scale + 0.5 * ideal
        self.scale = min(1.0, max(self.min_scale, new))


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The HDR buffer's pixels for a window of width × height at `scale` (≥ 8 px each)."""
    return max(8, int(round(width * scale))), max(8, int(round(height * scale)))
