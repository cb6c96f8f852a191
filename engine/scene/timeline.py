"""Evaluate a scene at a time: the asset's world matrix and the camera pose.

Pure functions of time (no Panda3D): the offline renderer and the live viewer
both call `Timeline.at(t)`, so what you preview is what you render.
World space is Y-up, metres.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from engine.animation import (
    CameraPose,
    KeyframeTrack,
    Pose,
    SettingError,
    apply_camera_offsets,
    camera_pose,
    evaluate_tracks,
    motion_tracks,
    pose_matrix,
)
from engine.scene.loader import SceneError, scene_name
from engine.scene.model import ASPECTS, KEY_TIME, AssetSpec, Scene

MAX_EXTENT_M = 1e6  # an asset on stage stays within this many metres of the origin
Z_UP_TO_Y_UP = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


@dataclass(frozen=True)
class Bounds:
    """Axis-aligned box, (3,) min and max corners in metres."""

    lo: np.ndarray
    hi: np.ndarray

    @property
    def center(self) -> np.ndarray:
        return 0.5 * (self.lo + self.hi)

    @property
    def size(self) -> np.ndarray:
        return self.hi - self.lo

    @property
    def radius(self) -> float:
        """Radius of the sphere around the box."""
        return float(max(0.5 * np.linalg.norm(self.size), 1e-6))

    def transformed(self, matrix: np.ndarray) -> Bounds:
        corners = np.array([[x, y, z, 1.0] for x in (self.lo[0], self.hi[0])
                            for y in (self.lo[1], self.hi[1]) for z in (self.lo[2], self.hi[2])])
        moved = (matrix @ corners.T).T[:, :3]
        return Bounds(moved.min(axis=0), moved.max(axis=0))


def rest_matrix(file_bounds: Bounds, spec: AssetSpec) -> np.ndarray:
    """(4, 4) matrix taking file coordinates to the stage's rest pose.

    Turns a Z-up file upright when `spec.up == "z"`, scales to `spec.height`
    (metres) and puts the pivot (base centre or box centre) at the origin.
    """
    orient = Z_UP_TO_Y_UP if spec.up == "z" else np.eye(4)
    upright = file_bounds.transformed(orient)
    height = float(upright.size[1])
    scale = spec.height / height if spec.height and height > 1e-9 else 1.0
    pivot = upright.center.copy()
    if spec.pivot == "base":
        pivot[1] = upright.lo[1]
    matrix = np.diag([scale, scale, scale, 1.0])
    matrix[:3, 3] = -scale * pivot
    return matrix @ orient


@dataclass(frozen=True)
class Frame:
    """The scene's moving parts at one time."""

    time: float
    asset_matrix: np.ndarray  # (4, 4) world from file coordinates
    camera: CameraPose


def _recorded_arc(source) -> tuple[float, float] | None:
    """The seen arc a generated asset file records (engine.asset.seen.file_seen_arc),
    or None (no such file, not a GLB/glTF, no record)."""
    from engine.asset.seen import file_seen_arc

    try:
        return file_seen_arc(source)
    except (OSError, ValueError):
        return None


class Timeline:
    """Builds the animation tracks of a scene once and evaluates them at any time."""

    def __init__(self, scene: Scene, file_bounds: Bounds):
        self.scene = scene
        self._check_bounds(file_bounds)
        self.rest = rest_matrix(file_bounds, scene.asset)
        self.bounds = file_bounds.transformed(self.rest)  # at rest, world space
        self._check_bounds(self.bounds, file_bounds)
        self.duration = scene.output.duration
        size = float(max(self.bounds.size[1], 1e-3))
        self.asset_tracks: dict[str, list[KeyframeTrack]] = {}
        for i, motion in enumerate(scene.motions):
            with self._reported(f"[[motion]] #{i + 1}"):
                for prop, track in motion_tracks(motion, size, self.duration).items():
                    self.asset_tracks.setdefault(prop, []).append(track)
        self.camera_tracks: dict[str, list[KeyframeTrack]] = {}
        for i, spec in enumerate(scene.keyframes):
            with self._reported(f"[[keyframes]] #{i + 1}"):
                track = KeyframeTrack(np.array(spec.times), np.array(spec.values),
                                      spec.interpolation, spec.ease)
            tracks = self.asset_tracks if spec.target == "asset" else self.camera_tracks
            tracks.setdefault(spec.property, []).append(track)
        with self._reported("[camera]"):
            self.rig = replace(scene.camera)  # a copy, checked again (it may have been edited)
        arc = _recorded_arc(scene.asset.source)  # the asset's own, when it records one
        if arc is not None:
            self.rig = replace(self.rig, seen_arc=arc)
        w, h = ASPECTS[scene.output.aspect]
        self.aspect = w / h

    def _check_bounds(self, bounds: Bounds, file_bounds: Bounds | None = None) -> None:
        """Refuse bounds the camera cannot frame (NaN, inf, or beyond MAX_EXTENT_M)."""
        extent = np.concatenate([bounds.lo, bounds.hi, bounds.size])
        with np.errstate(invalid="ignore", over="ignore"):
            ok = np.all(np.isfinite(extent)) and np.abs(extent).max() <= MAX_EXTENT_M
        if not ok:
            shown = file_bounds or bounds
            raise SceneError(
                f"{scene_name(self.scene.path)}: [asset] source: {self.scene.asset.source}: "
                f"the asset's bounds {shown.lo.tolist()} .. {shown.hi.tolist()} are not "
                f"finite or reach beyond {MAX_EXTENT_M:g} m on stage")

    @contextmanager
    def _reported(self, where: str):
        """Report a setting the animation code refuses with the scene's file and key."""
        try:
            yield
        except SettingError as exc:
            raise SceneError(f"{scene_name(self.scene.path)}: {where} {exc.key}: "
                             f"{exc.reason}") from None
        except ValueError as exc:  # a track's own checks (increasing times, finite values)
            raise SceneError(f"{scene_name(self.scene.path)}: {where}: {exc}") from None

    def check_time(self, t: float) -> float:
        """`t` as seconds on the shot clock, or SceneError naming the scene (NaN, inf, < 0)."""
        try:
            return KEY_TIME.check_number(t, "time")
        except SettingError:
            raise SceneError(f"{scene_name(self.scene.path)}: time: expected seconds "
                             f"{KEY_TIME.range_text()}, got {t!r}") from None

    def asset_matrix(self, t: float) -> np.ndarray:
        """(4, 4) world-from-file matrix at time t (seconds)."""
        values = evaluate_tracks(self.asset_tracks, self.check_time(t))
        pose = Pose(
            position=np.array([values.get(f"position.{a}", 0.0) for a in "xyz"]),
            rotation=np.array([values.get(f"rotation.{a}", 0.0) for a in "xyz"]),
            scale=float(values.get("scale", 1.0)),
        )
        return pose_matrix(pose) @ self.rest

    def camera(self, t: float) -> CameraPose:
        t = self.check_time(t)
        pose = camera_pose(self.rig, t, self.duration, self.bounds.center, self.bounds.radius,
                           self.aspect, size=self.bounds.size)
        offsets = evaluate_tracks(self.camera_tracks, t)
        if offsets:
            pose = apply_camera_offsets(pose, offsets, self.bounds.center)
        return pose

    def at(self, t: float) -> Frame:
        return Frame(time=t, asset_matrix=self.asset_matrix(t), camera=self.camera(t))

    def frame_time(self, index: int) -> float:
        """Time of frame `index` at the output's frame rate (never wall time)."""
        return index / self.scene.output.fps
