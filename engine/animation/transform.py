"""Pose math in the glTF world frame: Y up, right-handed, metres, degrees.

Matrices use the column-vector convention: p' = M @ [x, y, z, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .settings import Setting

_EPS = 1e-9
MAX_OFFSET_M = 1e5
MAX_ANGLE_DEG = 1e5

# Animatable pose properties (keyframe tracks, motions) and the values a track may take:
# offsets added to the rest pose (metres, degrees) and a scale factor that multiplies it.
POSE_PROPERTIES: dict[str, Setting] = {
    **{f"position.{a}": Setting("metres added (asset: to its rest position; camera: to "
                                "eye and target)", lo=-MAX_OFFSET_M,
                                hi=MAX_OFFSET_M) for a in "xyz"},
    **{f"rotation.{a}": Setting("degrees added (asset: to its rest rotation; camera: "
                                "y azimuth, x elevation, z roll)", lo=-MAX_ANGLE_DEG,
                                hi=MAX_ANGLE_DEG) for a in "xyz"},
    "scale": Setting("factor on the rest scale (motions' scales multiply)", lo=0.0, hi=1e4),
}


def _vec3(v, name: str) -> np.ndarray:
    a = np.array(v, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be 3 finite numbers, got {v!r}")
    return a


@dataclass
class Pose:
    """Rest or animated pose of an object.

    position: (3,) metres; rotation: (3,) degrees about X, Y, Z composed as in
    `euler_to_matrix`; scale: uniform factor (>= 0).
    """

    position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rotation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    scale: float = 1.0

    def __post_init__(self) -> None:
        self.position = _vec3(self.position, "position")
        self.rotation = _vec3(self.rotation, "rotation")
        self.scale = float(self.scale)
        if not np.isfinite(self.scale) or self.scale < 0.0:
            raise ValueError(f"scale must be a finite number >= 0, got {self.scale}")


def axis_angle_matrix(axis, angle_deg: float) -> np.ndarray:
    """(3, 3) right-handed rotation by `angle_deg` degrees about unit-normalised `axis` (3,)."""
    a = _vec3(axis, "axis")
    norm = np.linalg.norm(a)
    if norm < _EPS:
        raise ValueError("axis must be non-zero")
    x, y, z = a / norm
    th = np.radians(angle_deg)
    c, s = np.cos(th), np.sin(th)
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) * c + s * k + (1.0 - c) * np.outer([x, y, z], [x, y, z])


def euler_to_matrix(rotation_deg) -> np.ndarray:
    """(3, 3) rotation for Euler angles `rotation_deg` (3,) = (x, y, z) degrees.

    R = Ry @ Rx @ Rz: applied to a vector, roll about Z happens first, then
    pitch about X, then yaw about Y. Each elementary rotation is right-handed
    (counter-clockwise looking down its positive axis), so +90 deg about Y maps
    +X to -Z and +Z to +X.
    """
    rx, ry, rz = np.radians(_vec3(rotation_deg, "rotation_deg"))
    cx, sx = np.cos(rx), np.sin(rx)
    cy, sy = np.cos(ry), np.sin(ry)
    cz, sz = np.cos(rz), np.sin(rz)
    mx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    my = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    mz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    return my @ mx @ mz


def pose_matrix(pose: Pose) -> np.ndarray:
    """(4, 4) object-to-world matrix T @ R @ S for `pose`."""
    m = np.eye(4)
    m[:3, :3] = euler_to_matrix(pose.rotation) * pose.scale
    m[:3, 3] = pose.position
    return m


def look_at(eye, target, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """(4, 4) camera-to-world matrix for a camera at `eye` (3,) aimed at `target` (3,).

    The camera looks along its local -Z with local +Y up (glTF/OpenGL), so the
    columns are (right, up, -forward, eye). When `up` is parallel to the view
    direction (e.g. eye straight above the target) a horizontal up is chosen:
    -Z when looking down, +Z when looking up, so the picture stays continuous
    with a camera approaching the pole from the +Z side.
    """
    eye = _vec3(eye, "eye")
    fwd = _vec3(target, "target") - eye
    dist = np.linalg.norm(fwd)
    if dist < _EPS:
        raise ValueError("eye and target coincide")
    fwd /= dist
    up_v = _vec3(up, "up")
    if np.linalg.norm(up_v) < _EPS:
        raise ValueError("up must be non-zero")
    up_v = up_v / np.linalg.norm(up_v)
    sign = 1.0 if np.dot(fwd, up_v) >= 0.0 else -1.0
    candidates = [up_v, np.array([0.0, 0.0, sign]), np.array([1.0, 0.0, 0.0])]
    for cand in candidates:
        right = np.cross(fwd, cand)
        if np.linalg.norm(right) > 1e-6:
            break
    right /= np.linalg.norm(right)
    true_up = np.cross(right, fwd)
    m = np.eye(4)
    m[:3, 0] = right
    m[:3, 1] = true_up
    m[:3, 2] = -fwd
    m[:3, 3] = eye
    return m
