"""An asset's own animation clips (glTF node channels), sampled as pure functions of time.

Units and frames: times in seconds from the clip's start; translations in the file's
units, rotations as unit quaternions (x, y, z, w), scales as factors, all in the node's
parent frame (glTF, Y-up). A clip loops: time t samples t modulo its duration, so the
pose at t is the same whatever was sampled before (deterministic by time).

Interpolation follows glTF 2.0: LINEAR (slerp for rotations), STEP, CUBICSPLINE
(Hermite with in/out tangents scaled by the key interval; rotations renormalised).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PATHS = ("translation", "rotation", "scale")
INTERPOLATIONS = ("LINEAR", "STEP", "CUBICSPLINE")


@dataclass(frozen=True)
class Channel:
    """One animated property of one node: key times (K,) and values (K, n), or for
    CUBICSPLINE (K, 3, n) as (in-tangent, value, out-tangent)."""

    node: int
    path: str  # one of PATHS
    times: np.ndarray
    values: np.ndarray
    interpolation: str = "LINEAR"


@dataclass(frozen=True)
class Clip:
    """A named animation: its node channels and its length in seconds."""

    name: str
    channels: tuple[Channel, ...] = ()
    duration: float = 0.0
    # nodes moved by skins or morph weights only (played by Panda3D's Actor)
    deforms: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def nodes(self) -> tuple[int, ...]:
        return tuple(sorted({c.node for c in self.channels}))


def _slerp(a: np.ndarray, b: np.ndarray, u: float) -> np.ndarray:
    d = float(np.dot(a, b))
    if d < 0.0:
        b, d = -b, -d
    if d > 0.9995:
        q = a + u * (b - a)
    else:
        theta = np.arccos(min(d, 1.0))
        q = (np.sin((1 - u) * theta) * a + np.sin(u * theta) * b) / np.sin(theta)
    return q / np.linalg.norm(q)


def clip_time(clip: Clip, t: float) -> float:
    """t (seconds) wrapped into the clip (looping); 0 for a clip without length."""
    if clip.duration <= 0.0:
        return 0.0
    return float(t) % clip.duration


def sample(channel: Channel, t: float) -> np.ndarray:
    """The channel's value at clip time t (clamped to its first and last key)."""
    times, values = channel.times, channel.values
    cubic = channel.interpolation == "CUBICSPLINE"
    keys = values[:, 1] if cubic else values
    if len(times) == 1 or t <= times[0]:
        out = keys[0]
    elif t >= times[-1]:
        out = keys[-1]
    else:
        i = int(np.searchsorted(times, t, side="right")) - 1
        t0, t1 = float(times[i]), float(times[i + 1])
        dt = t1 - t0
        u = (t - t0) / dt if dt > 0 else 0.0
        if channel.interpolation == "STEP":
            out = keys[i]
        elif cubic:
            p0, m0 = values[i, 1], values[i, 2] * dt
            p1, m1 = values[i + 1, 1], values[i + 1, 0] * dt
            u2, u3 = u * u, u * u * u
            out = ((2 * u3 - 3 * u2 + 1) * p0 + (u3 - 2 * u2 + u) * m0
                   + (-2 * u3 + 3 * u2) * p1 + (u3 - u2) * m1)
        elif channel.path == "rotation":
            return _slerp(np.asarray(keys[i], float), np.asarray(keys[i + 1], float), u)
        else:
            out = (1 - u) * keys[i] + u * keys[i + 1]
    out = np.asarray(out, dtype=np.float64)
    if channel.path == "rotation":
        n = np.linalg.norm(out)
        out = out / n if n > 0 else np.array([0.0, 0.0, 0.0, 1.0])
    return out


def trs_matrix(translation, rotation, scale) -> np.ndarray:
    """(4, 4) T · R · S of a translation (3,), a quaternion (x, y, z, w) and a scale (3,)."""
    x, y, z, w = (float(v) for v in rotation)
    rot = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    out = np.eye(4)
    out[:3, :3] = rot * np.asarray(scale, float)
    out[:3, 3] = np.asarray(translation, float)
    return out


def _quaternion(r: np.ndarray) -> np.ndarray:
    """(x, y, z, w) of a rotation matrix, from its largest diagonal term (Shepperd), so
    that half turns come out right too."""
    trace = r[0, 0] + r[1, 1] + r[2, 2]
    if trace > 0:
        k = 2.0 * np.sqrt(1.0 + trace)
        q = [(r[2, 1] - r[1, 2]) / k, (r[0, 2] - r[2, 0]) / k, (r[1, 0] - r[0, 1]) / k, k / 4]
    else:
        i = int(np.argmax(np.diag(r)))
        j, n = (i + 1) % 3, (i + 2) % 3
        k = 2.0 * np.sqrt(max(1e-12, 1.0 + r[i, i] - r[j, j] - r[n, n]))
        q = [0.0, 0.0, 0.0, (r[n, j] - r[j, n]) / k]
        q[i], q[j], q[n] = k / 4, (r[j, i] + r[i, j]) / k, (r[n, i] + r[i, n]) / k
    q = np.asarray(q, float)
    return q / np.linalg.norm(q)


def trs_decompose(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inverse of trs_matrix: translation (3,), quaternion (x, y, z, w) and scale (3,)
    of a (4, 4) column-vector matrix T · R · S (a shear is dropped; a mirror goes into
    x's scale)."""
    m = np.asarray(m, dtype=np.float64)
    scale = np.linalg.norm(m[:3, :3], axis=0)
    if np.linalg.det(m[:3, :3]) < 0:
        scale[0] = -scale[0]
    r = m[:3, :3] / np.where(scale != 0, scale, 1.0)
    return m[:3, 3].copy(), _quaternion(r), scale


def node_matrices(clip: Clip, t: float,
                  rest: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
                  ) -> dict[int, np.ndarray]:
    """Local (4, 4) matrices, glTF frame, of every node the clip moves at time t.

    rest: node -> its file (translation, rotation, scale), used for paths the clip
    does not animate."""
    return {n: trs_matrix(*trs) for n, trs in node_poses(clip, t, rest).items()}


def node_poses(clip: Clip, t: float,
               rest: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
               ) -> dict[int, list[np.ndarray]]:
    """[translation, rotation, scale] of every node the clip moves at time t (the rest
    values for paths the clip leaves alone)."""
    local = clip_time(clip, t)
    poses = {n: list(rest[n]) for n in clip.nodes}
    for channel in clip.channels:
        poses[channel.node][PATHS.index(channel.path)] = sample(channel, local)
    return poses


def choose_clip(clips: list[Clip], wanted: str | int | None) -> int | None:
    """Index of the clip `wanted` names: None or "" -> the first, "none" -> None, an
    int (or digits) -> that index, else the clip of that name. KeyError if absent."""
    if not clips or wanted == "none":
        return None
    if wanted is None or wanted == "":
        return 0
    if isinstance(wanted, int) or (isinstance(wanted, str) and wanted.isdigit()):
        index = int(wanted)
        if not 0 <= index < len(clips):
            raise KeyError(f"animation index {index}: the asset has {len(clips)} clips")
        return index
    for i, clip in enumerate(clips):
        if clip.name == wanted:
            return i
    names = ", ".join(repr(c.name) for c in clips)
    raise KeyError(f"no animation named {wanted!r} (the asset has {names})")
