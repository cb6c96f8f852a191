"""Framing guard: does the asset stay inside the frame at every frame time?

Pure math, no Panda3D. For each time the asset's rest bounds (an axis-aligned box in
the stage's world frame, Y-up, metres) are moved by the asset's motion and keyframes
(`Timeline.asset_matrix`), their 8 corners are projected through the camera of that
time (`Timeline.camera`: eye, target, up, vertical fov in degrees) at the shot's aspect
(width / height), and the frame times where a corner falls outside the frame are
grouped into time ranges (seconds, frame times i / fps).

The box is conservative (its corners stick out past a round product's silhouette), so
a corner may leave the frame by a small `tolerance` (a fraction of the frame's
half-width or half-height, default 2 %) before a time counts as out of frame.

Entry points (for `render`, `still` and a `check` command):

- `framing_report(timeline, times)` -> `FramingReport` (`.ok`, `.ranges`, `.warning()`)
- `scene_framing(scene, file_bounds, frames=None)`: the report at every frame time of
  the scene's shot (builds the Timeline; `file_bounds` as the renderer's asset loader
  gives them, `engine.scene.timeline.Bounds` in file coordinates).
- `framing_warning(scene, report)`: the one-line warning naming the scene, or None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from engine.scene.loader import scene_name
from engine.scene.timeline import Bounds, Timeline

__all__ = ["EDGES", "TOLERANCE", "FramingReport", "OutOfFrame", "box_corners",
           "frame_extent", "framing_report", "framing_warning", "scene_framing"]

TOLERANCE = 0.02  # fraction of the half-frame a box corner may stick out
EDGES = ("left", "right", "bottom", "top")


def box_corners(bounds: Bounds) -> np.ndarray:
    """(8, 3) corners of `bounds`, metres."""
    return np.array([[x, y, z] for x in (bounds.lo[0], bounds.hi[0])
                     for y in (bounds.lo[1], bounds.hi[1]) for z in (bounds.lo[2], bounds.hi[2])])


def frame_extent(points: np.ndarray, pose, aspect: float) -> np.ndarray:
    """Where (n, 3) world `points` land in the frame of camera `pose` (a CameraPose:
    eye, target, up, vertical fov degrees) at `aspect` = width / height.

    Returns (4,) [left, right, bottom, top]: the points' extreme normalised device
    coordinates (-1 and 1 are the frame's edges; inside means left >= -1, right <= 1,
    bottom >= -1, top <= 1). A point at or behind the camera's plane makes every edge
    infinite (it cannot be framed)."""
    forward = pose.forward
    up = pose.up - np.dot(pose.up, forward) * forward
    up /= np.linalg.norm(up)
    right = np.cross(forward, up)
    rel = np.asarray(points, dtype=np.float64) - pose.eye
    depth = rel @ forward
    if np.any(depth <= 1e-9):
        return np.array([-math.inf, math.inf, -math.inf, math.inf])
    tan_v = math.tan(math.radians(pose.fov) / 2.0)
    x = (rel @ right) / (depth * tan_v * aspect)
    y = (rel @ up) / (depth * tan_v)
    return np.array([x.min(), x.max(), y.min(), y.max()])


@dataclass(frozen=True)
class OutOfFrame:
    """A run of frame times (`start`..`end` s, both checked frames) where the bounds
    leave the frame past `edges`; `worst`: the farthest a corner reached past an edge,
    as a fraction of the half-frame (inf: a corner at or behind the camera)."""

    start: float
    end: float
    edges: tuple[str, ...]
    worst: float

    def text(self) -> str:
        when = f"{self.start:.2f} s" if self.end == self.start else \
            f"{self.start:.2f}-{self.end:.2f} s"
        if not math.isfinite(self.worst):
            return f"{when} (the camera is inside the bounds or they reach behind it)"
        return f"{when} ({', '.join(self.edges)}, up to {100 * self.worst:.0f} % past the edge)"


@dataclass(frozen=True)
class FramingReport:
    """The framing at each checked time: `times` (n,) s, `extents` (n, 4) [left, right,
    bottom, top] in normalised device coordinates (see frame_extent), and the runs of
    times where the bounds left the frame by more than `tolerance`."""

    times: np.ndarray
    extents: np.ndarray
    tolerance: float = TOLERANCE
    ranges: tuple[OutOfFrame, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.ranges

    def warning(self, name: str = "the shot") -> str | None:
        """One line for a user, or None when the asset stays in frame."""
        if self.ok:
            return None
        spans = "; ".join(r.text() for r in self.ranges)
        return (f"{name}: the asset's bounds leave the frame at {spans}: raise [camera] "
                f"distance, lower strength, widen fov, or change the motion")


def _past_edges(extent: np.ndarray) -> np.ndarray:
    """(4,) how far past the left, right, bottom and top edges (0 = inside)."""
    left, right, bottom, top = extent
    return np.maximum(np.array([-1.0 - left, right - 1.0, -1.0 - bottom, top - 1.0]), 0.0)


def framing_report(timeline: Timeline, times: Iterable[float],
                   tolerance: float = TOLERANCE) -> FramingReport:
    """Check the asset's moving bounds against the camera at each of `times` (seconds,
    increasing). Pure: evaluates the same Timeline the renderer and viewer use."""
    times = np.asarray(list(times), dtype=np.float64)
    corners = box_corners(timeline.bounds)
    homogeneous = np.c_[corners, np.ones(len(corners))]
    unrest = np.linalg.inv(timeline.rest)  # world at rest -> file coordinates
    extents = np.empty((len(times), 4))
    for i, t in enumerate(times):
        moved = (homogeneous @ (timeline.asset_matrix(float(t)) @ unrest).T)[:, :3]
        extents[i] = frame_extent(moved, timeline.camera(float(t)), timeline.aspect)
    past = np.array([_past_edges(e) for e in extents]).reshape(len(times), 4)
    out = past.max(axis=1) > tolerance if len(times) else np.zeros(0, bool)
    ranges: list[OutOfFrame] = []
    i = 0
    while i < len(times):
        if not out[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(times) and out[j + 1]:
            j += 1
        run = past[i:j + 1]
        edges = tuple(e for k, e in enumerate(EDGES) if run[:, k].max() > tolerance)
        ranges.append(OutOfFrame(float(times[i]), float(times[j]), edges, float(run.max())))
        i = j + 1
    return FramingReport(times, extents, tolerance, tuple(ranges))


def scene_framing(scene, file_bounds: Bounds, frames: int | None = None,
                  tolerance: float = TOLERANCE) -> FramingReport:
    """The framing report at every frame time of `scene`'s shot (i / fps for
    i < frame_count, or only the first `frames`). `file_bounds`: the asset's bounds in
    its file's coordinates (what `Timeline` takes)."""
    timeline = Timeline(scene, file_bounds)
    count = scene.output.frame_count if frames is None else min(frames,
                                                                scene.output.frame_count)
    return framing_report(timeline, (timeline.frame_time(i) for i in range(count)),
                          tolerance)


def framing_warning(scene, report: FramingReport) -> str | None:
    """The report's warning naming the scene file (or the bare asset)."""
    name = scene_name(scene.path) if scene.path is not None else str(scene.asset.source)
    return report.warning(name)
