"""Motion presets for an asset, expressed as keyframe tracks of pose offsets.

Times are seconds on the shot clock; `size` is the asset height in metres.
Position/rotation track values are offsets added to the rest pose (metres,
degrees); the "scale" track is a multiplier on the rest scale. A motion runs
from `start` for `duration` seconds and then holds its last value; before
`start` it holds its first value (a reveal is hidden, a drop waits in the air).

=========  ==================  =========================  ======  ==========
type       tracks              amplitude (default)        period  duration
=========  ==================  =========================  ======  ==========
spin       rotation.<axis>     degrees per period (360)   6 s     to shot end
float      position.y          bob, metres (0.04*size)    3 s     to shot end
hover      position.y,         bob, metres (0.04*size);   3 s     to shot end
           rotation.x/z        plus +-3 deg tilt and a
                               lift of 1*amplitude eased
                               in over the first period
reveal     scale               unused (scale 0 -> 1,      --      1.2 s
                               "back-out" ease)
drop       position.y          fall height, m (0.6*size)  --      1.0 s
                               ("bounce-out" ease)
wobble     rotation.z          degrees (8), decaying to   0.8 s   3.0 s
                               0 at the end of duration
slide      position.<dir>      distance, m (1.5*size),    --      1.2 s
                               "out" ease, ends at rest
=========  ==================  =========================  ======  ==========

`axis` (x|y|z) is used by spin only; `direction` (left|right|front|back|up,
seen by the default camera on +Z) by slide only: the asset starts that far
toward -X, +X, +Z, -Z or +Y and moves to its rest pose. Periodic curves are
sampled every 1/60 s with cubic interpolation, up to SAMPLED_PAST_END_S after the
shot's end at most (a motion that lasts longer holds its value from there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .easing import EASINGS
from .settings import MAX_SECONDS, SettingError, check_settings, setting
from .tracks import KeyframeTrack

AXES = ("x", "y", "z")
NON_NEGATIVE_AMPLITUDE = ("drop", "slide")  # amplitude is a distance travelled

SAMPLE_RATE = 60.0  # Hz, for analytically sampled curves
HOVER_TILT_DEG = 3.0
SAMPLED_PAST_END_S = 1.0  # seconds of sampled curve kept after the shot's end

# type -> (amplitude default, amplitude multiplied by size?, period default, duration default)
_DEFAULTS: dict[str, tuple[float | None, bool, float | None, float | None]] = {
    "spin": (360.0, False, 6.0, None),
    "float": (0.04, True, 3.0, None),
    "hover": (0.04, True, 3.0, None),
    "reveal": (None, False, None, 1.2),
    "drop": (0.6, True, None, 1.0),
    "wobble": (8.0, False, 0.8, 3.0),
    "slide": (1.5, True, None, 1.2),
}
MOTION_TYPES = tuple(_DEFAULTS)

# slide direction -> (property, sign of the starting offset)
_SLIDE: dict[str, tuple[str, float]] = {
    "left": ("position.x", -1.0),
    "right": ("position.x", 1.0),
    "front": ("position.z", 1.0),
    "back": ("position.z", -1.0),
    "up": ("position.y", 1.0),
}
DIRECTIONS = tuple(_SLIDE)


@dataclass
class Motion:
    """One motion preset; None fields take the per-type defaults in the module table.

    amplitude: metres or degrees (see table); period, start, duration: seconds.
    """

    type: str = setting(kind="choice", choices=MOTION_TYPES, required=True, example="float",
                        doc="motion preset; several [[motion]] tables combine")
    amplitude: float | None = setting(
        None, lo=-1e4, hi=1e4, example=0.02,
        doc="metres (float/hover/drop/slide) or degrees (spin/wobble); default per type; "
            ">= 0 for drop and slide")
    period: float | None = setting(None, lo=1e-3, hi=MAX_SECONDS, example=3.0,
                                   doc="seconds (spin/float/hover/wobble); default per type")
    start: float = setting(0.0, lo=0.0, hi=MAX_SECONDS, doc="seconds")
    duration: float | None = setting(
        None, lo=1e-3, hi=MAX_SECONDS, example=1.2,
        doc="seconds (reveal/drop/wobble/slide; default per type; the others run to the end)")
    axis: str = setting("y", kind="choice", choices=AXES, doc="spin axis")
    direction: str = setting("left", kind="choice", choices=DIRECTIONS,
                             doc="slide: the side the asset comes in from")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise SettingError (a ValueError) naming the first invalid field."""
        check_settings(self)
        if self.type in NON_NEGATIVE_AMPLITUDE and self.amplitude is not None \
                and self.amplitude < 0:
            raise SettingError("amplitude", f"expected a number >= 0 for {self.type} (a "
                                            f"distance in metres), got {self.amplitude:g}")


def _resolved(motion: Motion, size: float, total_duration: float) -> tuple[float, float, float]:
    """(amplitude, period, end time) with defaults filled in."""
    amp_default, by_size, period_default, dur_default = _DEFAULTS[motion.type]
    amp = motion.amplitude
    if amp is None:
        amp = (amp_default or 0.0) * (size if by_size else 1.0)
    period = motion.period if motion.period is not None else (period_default or 1.0)
    if motion.duration is not None:
        end = motion.start + motion.duration
    elif dur_default is not None:
        end = motion.start + dur_default
    else:
        end = max(total_duration, motion.start)
    return float(amp), float(period), float(end)


def _sampled(fn: Callable[[np.ndarray], np.ndarray], t0: float, t1: float) -> KeyframeTrack:
    """Cubic track through fn(tau) sampled at about SAMPLE_RATE, tau = t - t0 in [0, t1 - t0]."""
    if t1 <= t0:
        return KeyframeTrack([t0], [float(fn(np.zeros(1))[0])])
    n = max(2, math.ceil((t1 - t0) * SAMPLE_RATE) + 1)
    times = np.linspace(t0, t1, n)
    return KeyframeTrack(times, fn(times - t0), interpolation="cubic")


def _ramp(t0: float, t1: float, v0: float, v1: float, ease: str) -> KeyframeTrack:
    return KeyframeTrack([t0, t1], [v0, v1], interpolation="linear", ease=ease)


def motion_tracks(motion: Motion, size: float, total_duration: float) -> dict[str, KeyframeTrack]:
    """Offset tracks for `motion` on an asset `size` metres tall in a shot of `total_duration` s.

    Keys are property names ("position.x|y|z", "rotation.x|y|z", "scale").
    """
    motion.validate()
    if not (math.isfinite(size) and size > 0):
        raise ValueError(f"size must be a positive number of metres, got {size}")
    if not (math.isfinite(total_duration) and total_duration > 0):
        raise ValueError(f"total_duration must be positive seconds, got {total_duration}")
    amp, period, end = _resolved(motion, size, total_duration)
    t0 = motion.start
    t1 = min(end, max(total_duration, t0) + SAMPLED_PAST_END_S)  # end of sampled curves
    omega = 2.0 * math.pi / period
    kind = motion.type

    if kind == "spin":
        if end <= t0:
            return {f"rotation.{motion.axis}": KeyframeTrack([t0], [0.0])}
        return {f"rotation.{motion.axis}": _ramp(t0, end, 0.0, amp * (end - t0) / period, "none")}
    if kind == "float":
        return {"position.y": _sampled(lambda tau: amp * np.sin(omega * tau), t0, t1)}
    if kind == "hover":

        def lift(tau: np.ndarray) -> np.ndarray:
            return amp * np.asarray(EASINGS["in-out"](np.clip(tau / period, 0.0, 1.0)))

        return {
            "position.y": _sampled(lambda tau: lift(tau) + amp * np.sin(omega * tau), t0, t1),
            "rotation.x": _sampled(lambda tau: HOVER_TILT_DEG * np.sin(omega * tau), t0, t1),
            "rotation.z": _sampled(lambda tau: HOVER_TILT_DEG * np.sin(0.5 * omega * tau), t0, t1),
        }
    if kind == "reveal":
        return {"scale": _ramp(t0, end, 0.0, 1.0, "back-out")}
    if kind == "drop":
        return {"position.y": _ramp(t0, end, amp, 0.0, "bounce-out")}
    if kind == "wobble":
        span = end - t0

        def wobble(tau: np.ndarray) -> np.ndarray:
            x = np.clip(tau / span, 0.0, 1.0)
            return amp * np.exp(-4.0 * x) * (1.0 - x) * np.sin(omega * tau)

        return {"rotation.z": _sampled(wobble, t0, t1)}
    # slide
    prop, sign = _SLIDE[motion.direction]
    return {prop: _ramp(t0, end, sign * amp, 0.0, "out")}
