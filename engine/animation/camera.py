"""Camera moves around an asset: pure functions of time, no renderer.

World frame as in glTF: Y up, right-handed, metres, degrees. Azimuth 0 puts
the camera on +Z looking toward -Z at the asset's front; positive azimuth
turns it counter-clockwise seen from above (toward +X). Elevation is measured
up from the horizontal plane through the asset centre.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .easing import ease
from .settings import Setting, SettingError, check_settings, setting
from .transform import POSE_PROPERTIES, _vec3, axis_angle_matrix, look_at

# The one set of view names (the viewer's named-view keys, the inspect contact sheet):
# where the camera is, by axis (azimuth 0 = camera on +Z, 90 = camera on +X), named as
# Blender's and f3d's numpad views (the camera on +X gives the "right" view).
VIEW_LABELS = {
    "front": "front (+Z)",
    "back": "back (-Z)",
    "right": "right (+X)",
    "left": "left (-X)",
    "top": "top (+Y)",
    "bottom": "bottom (-Y)",
    "three-quarter": "three-quarter (front-right)",
}

CAMERA_MOVES = ("static", "orbit", "push-in", "pull-out", "dolly", "pan", "tilt", "crane")
MAX_ELEVATION = 89.0  # degrees; keeps the camera off the poles
MAX_DISTANCE = 1e5  # metres

FOV = Setting("vertical field of view, degrees", lo=5.0, hi=120.0)

# Keyframeable camera offsets (see apply_camera_offsets) and the values a track may take.
CAMERA_OFFSETS: dict[str, Setting] = {
    **{k: v for k, v in POSE_PROPERTIES.items() if k != "scale"},
    "fov": FOV,
    "distance": Setting("metres added to the distance", lo=-MAX_DISTANCE, hi=MAX_DISTANCE),
}
CAMERA_OFFSET_KEYS = tuple(CAMERA_OFFSETS)
SWEEP_DEG_PER_STRENGTH = 20.0  # pan/tilt sweep half-angle per unit strength
CRANE_DEG_PER_STRENGTH = 60.0
CRANE_START_DROP_DEG = 10.0
MOVE_EASE = "in-out"
_Y = np.array([0.0, 1.0, 0.0])
VIEW_RANGES = ("full", "seen")
#: `range = "seen"` when the asset records no seen arc of its own (engine.asset.seen:
#: `maquette generate` records one; the Timeline puts it in `CameraRig.seen_arc`):
#: azimuths, degrees from the asset's front.
SEEN_ARC_DEG = (-60.0, 60.0)
MAX_ARC_DEG = 180.0


def parse_arc(value) -> tuple[float, float]:
    """[from, to] azimuth degrees (a custom setting's parse): two finite numbers within
    ±MAX_ARC_DEG, from < to."""
    if not (isinstance(value, list | tuple) and len(value) == 2 and all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            for x in value)):
        raise ValueError(f"expected [from, to] (two finite numbers, degrees), got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if not -MAX_ARC_DEG <= lo < hi <= MAX_ARC_DEG:
        raise ValueError(f"expected from < to, both within ±{MAX_ARC_DEG:g} degrees, got "
                         f"{list(value)!r}")
    return lo, hi


@dataclass
class CameraRig:
    """A camera move and its parameters.

    fov: vertical field of view, degrees; elevation, azimuth: degrees (see
    module docstring); distance: metres from the asset centre, None = fit the
    bounding sphere; turns: orbit revolutions over the shot; strength: amount
    in [0, 1) for push-in/pull-out/dolly/pan/tilt/crane.
    """

    move: str = setting("orbit", kind="choice", choices=CAMERA_MOVES,
                        doc="how the camera travels over the shot")
    fov: float = setting(35.0, spec=FOV)
    elevation: float = setting(
        15.0, lo=-MAX_ELEVATION, hi=MAX_ELEVATION,
        doc="degrees above the horizon through the asset's centre")
    azimuth: float = setting(
        0.0, lo=-720.0, hi=720.0, doc="degrees; 0 = looking at the asset's front (+Z)")
    distance: float | None = setting(
        None, lo=0.01, hi=MAX_DISTANCE, none="fit",
        doc='metres from the asset\'s centre; "fit" frames the asset\'s bounds (a '
            'push-in ends there, a pull-out starts there)')
    turns: float = setting(1.0, lo=-20.0, hi=20.0, doc="orbit only: revolutions over the shot")
    strength: float = setting(
        0.3, lo=0.0, hi=1.0, hi_open=True,
        doc="amount of push-in/pull-out/dolly/pan/tilt/crane")
    arc: tuple[float, float] | None = setting(
        None, kind="custom", parse=parse_arc, example=[-60, 60],
        doc="orbit only: sweep between these azimuths (degrees around `azimuth`) and back, "
            "eased at the turning points, `turns` times over the shot, instead of full turns")
    view_range: str = setting(
        "full", kind="choice", choices=VIEW_RANGES, key="range",
        doc='"seen": an orbit sweeps the arc a generated asset was seen from (the arc its '
            "file records, else ±60° from its front; see maquette check) unless `arc` is "
            "given; any other move keeps its azimuth within that arc")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise SettingError (a ValueError) naming the first invalid field."""
        check_settings(self)
        if self.arc is not None:
            try:
                self.arc = parse_arc(self.arc)
            except ValueError as exc:
                raise SettingError("arc", str(exc)) from None

    #: the asset's own seen arc (absolute azimuths, degrees from its front; not a
    #: setting: the Timeline fills it from the asset file's record, engine.asset.seen)
    seen_arc: tuple[float, float] | None = field(default=None, repr=False)

    def seen_azimuths(self) -> tuple[float, float]:
        """The azimuths (degrees from the asset's front) a `range = "seen"` camera keeps
        to: `arc` around `azimuth` when given, else the asset's seen arc, else
        SEEN_ARC_DEG."""
        if self.arc is not None:
            return self.azimuth + self.arc[0], self.azimuth + self.arc[1]
        return self.seen_arc or SEEN_ARC_DEG

    def sweep_arc(self) -> tuple[float, float] | None:
        """The orbit's sweep (degrees around `azimuth`), or None for full turns."""
        if self.arc is not None:
            return self.arc
        if self.view_range != "seen":
            return None
        lo, hi = self.seen_azimuths()
        return lo - self.azimuth, hi - self.azimuth


@dataclass
class CameraPose:
    """Camera at `eye` (3,) m aimed at `target` (3,) m; `up` (3,) unit vector
    orthogonal to the view direction; `fov` vertical, degrees."""

    eye: np.ndarray
    target: np.ndarray
    up: np.ndarray
    fov: float

    def __post_init__(self) -> None:
        self.eye = _vec3(self.eye, "eye")
        self.target = _vec3(self.target, "target")
        self.up = _vec3(self.up, "up")
        self.fov = float(self.fov)

    @property
    def forward(self) -> np.ndarray:
        """(3,) unit view direction."""
        d = self.target - self.eye
        return d / np.linalg.norm(d)

    def matrix(self) -> np.ndarray:
        """(4, 4) camera-to-world matrix (camera looks along local -Z)."""
        return look_at(self.eye, self.target, self.up)


def _check_fov(fov: float) -> None:
    FOV.check_number(fov, "fov")


def fit_distance(radius: float, fov_deg: float, aspect: float, margin: float = 1.15) -> float:
    """Distance (m) from which a sphere of `radius` m fits the view, times `margin`.

    `fov_deg` is the vertical fov; the horizontal half-angle is
    atan(tan(fov/2) * aspect) with aspect = width / height. The sphere fits
    inside a frustum plane at half-angle a from the axis when d >= r / sin(a).
    """
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be positive metres, got {radius}")
    _check_fov(fov_deg)
    if not (math.isfinite(aspect) and aspect > 0):
        raise ValueError(f"aspect must be positive, got {aspect}")
    if not (math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be positive, got {margin}")
    half_v = math.radians(fov_deg) / 2.0
    half_h = math.atan(math.tan(half_v) * aspect)
    return margin * radius / math.sin(min(half_v, half_h))


def fit_box_distance(size, fov_deg: float, aspect: float, elevation_deg: float,
                     margin: float = 1.1) -> float:
    """Distance (m) from the box centre at which a box of `size` (3,) m fits the view.

    Tighter than the bounding sphere: the box is treated as an upright cylinder of
    horizontal radius r = |(size_x, size_z)| / 2 (any azimuth fits), whose apparent
    half-height seen from `elevation_deg` is size_y/2·cos(e) + r·sin(e); its nearest
    point is r closer than the centre.
    """
    sx, sy, sz = (float(v) for v in _vec3(size, "size"))
    _check_fov(fov_deg)
    r = 0.5 * math.hypot(sx, sz)
    el = math.radians(abs(elevation_deg))
    half_h = 0.5 * sy * math.cos(el) + r * math.sin(el)
    tan_v = math.tan(math.radians(fov_deg) / 2.0)
    tan_h = tan_v * aspect
    return r + margin * max(r / tan_h, half_h / tan_v, 1e-6)


def _spherical(center: np.ndarray, distance: float, az_deg: float, el_deg: float) -> np.ndarray:
    az, el = math.radians(az_deg), math.radians(el_deg)
    return center + distance * np.array(
        [math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)]
    )


def _right(az_deg: float) -> np.ndarray:
    """Horizontal right vector of a camera at azimuth `az_deg` looking at the centre."""
    az = math.radians(az_deg)
    return np.array([math.cos(az), 0.0, -math.sin(az)])


def _pose(eye: np.ndarray, target: np.ndarray, fov: float, up=_Y) -> CameraPose:
    return CameraPose(eye, target, look_at(eye, target, up)[:3, 1], fov)


def camera_pose(
    rig: CameraRig, t: float, duration: float, center, radius: float, aspect: float,
    size=None,
) -> CameraPose:
    """Camera pose at time `t` s of a shot lasting `duration` s.

    `center` (3,) m is the asset's bounds centre and `radius` m its bounding
    sphere; `aspect` = width / height. Orbit progresses linearly with
    u = t / duration (so it loops); the other moves ease u (clamped to [0, 1])
    with the cubic "in-out" curve. Base distance is rig.distance or the fit
    distance: of the box `size` (3,) m when given (`fit_box_distance`), else of the
    bounding sphere. A fitted push-in ends, and a fitted pull-out starts, at the fit
    distance (it starts, or ends, at fit / (1 - strength)): its closest framing is the
    fitted one, so the bounds stay in frame by construction. With an explicit distance
    a push-in starts (a pull-out ends) there and goes `strength` of it closer.
    """
    rig.validate()
    c = _vec3(center, "center")
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be positive seconds, got {duration}")
    if rig.distance is not None:
        d0 = rig.distance
    elif size is not None:
        d0 = fit_box_distance(size, rig.fov, aspect, rig.elevation)
    else:
        d0 = fit_distance(radius, rig.fov, aspect)
    u = float(t) / duration
    e = float(ease(MOVE_EASE, u))
    s = rig.strength
    if rig.distance is None and rig.move in ("push-in", "pull-out"):
        d0 /= 1.0 - s  # the closest point of the move is the fitted framing
    az, el, d = rig.azimuth, rig.elevation, d0
    move = rig.move

    arc = rig.sweep_arc() if move == "orbit" else None
    if arc is not None:  # from the arc's middle out to one end, the other, and back
        lo, hi = arc
        az += 0.5 * (lo + hi) + 0.5 * (hi - lo) * math.sin(2.0 * math.pi * rig.turns * u)
    elif move == "orbit":
        az += 360.0 * rig.turns * u
    elif move == "push-in":
        d = d0 * (1.0 - s * e)
    elif move == "pull-out":
        d = d0 * (1.0 - s * (1.0 - e))
    elif move == "crane":
        lo = rig.elevation - CRANE_START_DROP_DEG
        hi = rig.elevation + s * CRANE_DEG_PER_STRENGTH
        el = float(np.clip(lo + (hi - lo) * e, -MAX_ELEVATION, MAX_ELEVATION))

    if move != "orbit" and rig.view_range == "seen":  # other moves stay on the seen side
        az = float(np.clip(az, *rig.seen_azimuths()))
    target = c.copy()
    eye = _spherical(c, d, az, el)
    if move == "dolly":
        shift = _right(az) * d0 * s * (e - 0.5)
        eye, target = eye + shift, target + shift
    elif move == "pan":
        yaw = s * SWEEP_DEG_PER_STRENGTH * (1.0 - 2.0 * e)  # left to right
        target = eye + axis_angle_matrix(_Y, yaw) @ (target - eye)
    elif move == "tilt":
        pitch = s * SWEEP_DEG_PER_STRENGTH * (2.0 * e - 1.0)  # low to high
        target = eye + axis_angle_matrix(_right(az), pitch) @ (target - eye)
    return _pose(eye, target, rig.fov)


def apply_camera_offsets(pose: CameraPose, offsets: Mapping[str, float], center) -> CameraPose:
    """New pose with explicit keyframed offsets applied, in this order:

    - "distance": metres added to the eye-target distance; the eye moves along
      the view axis (positive = back, away from the target; kept >= 1 mm).
    - "rotation.y": azimuth degrees; eye, target and up turn about the vertical
      axis through `center` (3,) (the asset centre; equal to the target for
      the moves that aim at it), counter-clockwise seen from above.
    - "rotation.x": elevation degrees; the rig turns about the horizontal axis
      through `center` so the eye rises (positive) or sinks, clamped to
      +-89 deg elevation.
    - "rotation.z": roll degrees about the camera's local +Z (its backward
      axis): positive leans `up` toward the camera's left.
    - "position.x|y|z": metres added to both eye and target (truck/pedestal).
    - "fov": replaces the vertical fov, degrees.

    Unknown keys raise ValueError.
    """
    unknown = sorted(set(offsets) - set(CAMERA_OFFSET_KEYS))
    if unknown:
        raise ValueError(
            f"unknown camera offset(s) {unknown}; valid: {', '.join(CAMERA_OFFSET_KEYS)}"
        )
    c = _vec3(center, "center")
    eye, target, up = pose.eye.copy(), pose.target.copy(), pose.up.copy()
    fov = pose.fov

    if "distance" in offsets:
        view = target - eye
        dist = np.linalg.norm(view)
        eye = target - view / dist * max(dist + float(offsets["distance"]), 1e-3)

    def rotate(m: np.ndarray) -> None:
        nonlocal eye, target, up
        eye, target, up = c + m @ (eye - c), c + m @ (target - c), m @ up

    if "rotation.y" in offsets:
        rotate(axis_angle_matrix(_Y, float(offsets["rotation.y"])))
    if "rotation.x" in offsets:
        v = eye - c
        horiz = math.hypot(v[0], v[2])
        el = math.degrees(math.atan2(v[1], horiz))
        new_el = float(np.clip(el + float(offsets["rotation.x"]), -MAX_ELEVATION, MAX_ELEVATION))
        if horiz > 1e-9:
            axis = _right(math.degrees(math.atan2(v[0], v[2])))
        else:  # eye on the vertical through the centre: use the camera's right
            axis = np.cross(target - eye, up)
            axis[1] = 0.0
            if np.linalg.norm(axis) < 1e-9:
                axis = np.array([1.0, 0.0, 0.0])
        rotate(axis_angle_matrix(axis, -(new_el - el)))
    fwd = (target - eye) / np.linalg.norm(target - eye)
    if "rotation.z" in offsets:
        up = axis_angle_matrix(-fwd, float(offsets["rotation.z"])) @ up
    shift = np.array([float(offsets.get(f"position.{a}", 0.0)) for a in "xyz"])
    eye, target = eye + shift, target + shift
    if "fov" in offsets:
        fov = float(offsets["fov"])
        _check_fov(fov)
    up = up - np.dot(up, fwd) * fwd
    if np.linalg.norm(up) < 1e-9:
        return _pose(eye, target, fov)
    return CameraPose(eye, target, up / np.linalg.norm(up), fov)
