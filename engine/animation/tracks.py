"""Keyframe tracks: a value (scalar or k-vector) sampled over time in seconds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .easing import EASINGS, check_easing

INTERPOLATIONS = ("step", "linear", "cubic")


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _catmull_rom_tangents(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Catmull-Rom tangents in value units per second, same shape as `values`.

    Interior key i: (v[i+1] - v[i-1]) / (t[i+1] - t[i-1]), the uniform
    Catmull-Rom tangent rescaled for non-uniform key spacing; the end keys use
    one-sided differences.
    """
    n = len(times)
    m = np.zeros_like(values)
    if n < 2:
        return m
    shape = (-1,) + (1,) * (values.ndim - 1)
    m[0] = (values[1] - values[0]) / (times[1] - times[0])
    m[-1] = (values[-1] - values[-2]) / (times[-1] - times[-2])
    if n > 2:
        m[1:-1] = (values[2:] - values[:-2]) / (times[2:] - times[:-2]).reshape(shape)
    return m


@dataclass(frozen=True, eq=False)
class KeyframeTrack:
    """Keys at `times` (n,) seconds, strictly increasing, with `values` (n,) or (n, k).

    `interpolation` is one of INTERPOLATIONS; `ease` (a name from EASINGS) is
    applied to the local parameter u of every segment before interpolating.
    Arrays are stored as read-only float64. Equality is identity.
    """

    times: np.ndarray
    values: np.ndarray
    interpolation: str = "linear"
    ease: str = "none"
    _tangents: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        times = np.array(self.times, dtype=np.float64)
        values = np.array(self.values, dtype=np.float64)
        if times.ndim != 1 or len(times) < 1:
            raise ValueError(f"times must be a non-empty 1-D array, got shape {times.shape}")
        if values.ndim not in (1, 2):
            raise ValueError(f"values must have shape (n,) or (n, k), got {values.shape}")
        if len(values) != len(times):
            raise ValueError(
                f"times and values differ in length: {len(times)} times, {len(values)} values"
            )
        if not np.all(np.isfinite(times)) or not np.all(np.isfinite(values)):
            raise ValueError("times and values must be finite")
        if np.any(np.diff(times) <= 0.0):
            bad = int(np.argmax(np.diff(times) <= 0.0))
            raise ValueError(
                f"times must be strictly increasing: times[{bad}]={times[bad]} "
                f">= times[{bad + 1}]={times[bad + 1]}"
            )
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"unknown interpolation {self.interpolation!r}; "
                f"valid interpolations: {', '.join(INTERPOLATIONS)}"
            )
        check_easing(self.ease)
        object.__setattr__(self, "times", _readonly(times))
        object.__setattr__(self, "values", _readonly(values))
        object.__setattr__(self, "_tangents", _readonly(_catmull_rom_tangents(times, values)))

    @property
    def duration(self) -> float:
        """Time of the last key, seconds."""
        return float(self.times[-1])

    def evaluate(self, t: float | np.ndarray) -> float | np.ndarray:
        """Value at time `t` (seconds); holds the first/last value outside the keys.

        Scalar `t` gives a float for (n,) values or a (k,) array for (n, k)
        values; an array `t` of shape (m,) gives (m,) or (m, k).
        """
        tt = np.asarray(t, dtype=np.float64)
        flat = tt.reshape(-1)
        times, values = self.times, self.values
        n = len(times)
        if n == 1:
            out = np.broadcast_to(values[0], (len(flat),) + values.shape[1:]).copy()
        else:
            i = np.clip(np.searchsorted(times, flat, side="right") - 1, 0, n - 2)
            h = times[i + 1] - times[i]
            u = np.clip((flat - times[i]) / h, 0.0, 1.0)
            e = np.asarray(EASINGS[self.ease](u), dtype=np.float64)
            shape = (-1,) + (1,) * (values.ndim - 1)
            v0, v1 = values[i], values[i + 1]
            if self.interpolation == "step":
                out = np.where((u >= 1.0).reshape(shape), v1, v0)
            elif self.interpolation == "linear":
                out = v0 + (v1 - v0) * e.reshape(shape)
            else:
                out = self._hermite(v0, v1, i, h, e.reshape(shape), shape)
        if tt.ndim == 0:
            return float(out[0]) if values.ndim == 1 else out[0]
        return out.reshape(tt.shape + values.shape[1:])

    def _hermite(self, v0, v1, i, h, s, shape) -> np.ndarray:
        """Cubic Hermite between keys i and i+1 at eased parameter `s`."""
        m0 = self._tangents[i] * h.reshape(shape)
        m1 = self._tangents[i + 1] * h.reshape(shape)
        s2, s3 = s * s, s * s * s
        return (
            (2 * s3 - 3 * s2 + 1) * v0
            + (s3 - 2 * s2 + s) * m0
            + (-2 * s3 + 3 * s2) * v1
            + (s3 - s2) * m1
        )
