"""Easing curves: maps of normalised time u in [0, 1] onto progress.

Every curve satisfies f(0) == 0 and f(1) == 1 exactly; "back-out" and
"elastic-out" overshoot above 1 in between, the others stay within [0, 1].
All functions accept a float or an ndarray and return the same kind.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Scalar = float | np.ndarray
EasingFn = Callable[[Scalar], Scalar]


def _pinned(fn: Callable[[np.ndarray], np.ndarray]) -> EasingFn:
    """Wrap `fn` so endpoints are exact and scalars stay scalars."""

    def wrapped(u: Scalar) -> Scalar:
        arr = np.asarray(u, dtype=np.float64)
        inner = fn(np.clip(arr, 0.0, 1.0))
        out = np.where(arr <= 0.0, 0.0, np.where(arr >= 1.0, 1.0, inner))
        return float(out) if out.ndim == 0 else out

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


def _none(u: np.ndarray) -> np.ndarray:
    """Identity."""
    return u


def _in(u: np.ndarray) -> np.ndarray:
    """Cubic ease-in."""
    return u**3


def _out(u: np.ndarray) -> np.ndarray:
    """Cubic ease-out."""
    return 1.0 - (1.0 - u) ** 3


def _in_out(u: np.ndarray) -> np.ndarray:
    """Cubic ease-in-out."""
    return np.where(u < 0.5, 4.0 * u**3, 1.0 - (-2.0 * u + 2.0) ** 3 / 2.0)


def _sine_in_out(u: np.ndarray) -> np.ndarray:
    """Sinusoidal ease-in-out."""
    return -(np.cos(np.pi * u) - 1.0) / 2.0


def _back_out(u: np.ndarray) -> np.ndarray:
    """Ease-out overshooting by about 10 % before settling."""
    c1 = 1.70158
    c3 = c1 + 1.0
    return 1.0 + c3 * (u - 1.0) ** 3 + c1 * (u - 1.0) ** 2


def _elastic_out(u: np.ndarray) -> np.ndarray:
    """Exponentially decaying spring oscillation around 1."""
    c4 = 2.0 * np.pi / 3.0
    return 2.0 ** (-10.0 * u) * np.sin((10.0 * u - 0.75) * c4) + 1.0


def _bounce_out(u: np.ndarray) -> np.ndarray:
    """Ball dropped onto the floor: three decaying bounces."""
    n1, d1 = 7.5625, 2.75
    return np.select(
        [u < 1.0 / d1, u < 2.0 / d1, u < 2.5 / d1],
        [
            n1 * u * u,
            n1 * (u - 1.5 / d1) ** 2 + 0.75,
            n1 * (u - 2.25 / d1) ** 2 + 0.9375,
        ],
        n1 * (u - 2.625 / d1) ** 2 + 0.984375,
    )


def _expo_in_out(u: np.ndarray) -> np.ndarray:
    """Exponential ease-in-out."""
    return np.where(
        u < 0.5,
        2.0 ** (20.0 * u - 10.0) / 2.0,
        (2.0 - 2.0 ** (-20.0 * u + 10.0)) / 2.0,
    )


EASINGS: dict[str, EasingFn] = {
    "none": _pinned(_none),
    "in": _pinned(_in),
    "out": _pinned(_out),
    "in-out": _pinned(_in_out),
    "sine-in-out": _pinned(_sine_in_out),
    "back-out": _pinned(_back_out),
    "elastic-out": _pinned(_elastic_out),
    "bounce-out": _pinned(_bounce_out),
    "expo-in-out": _pinned(_expo_in_out),
}


def check_easing(name: str) -> None:
    """Raise ValueError listing the valid names if `name` is not an easing."""
    if name not in EASINGS:
        valid = ", ".join(EASINGS)
        raise ValueError(f"unknown easing {name!r}; valid easings: {valid}")


def ease(name: str, u: Scalar) -> Scalar:
    """Clamp `u` to [0, 1] and apply the easing called `name`."""
    check_easing(name)
    clamped = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return EASINGS[name](float(clamped) if clamped.ndim == 0 else clamped)
