"""model-viewer's camera attributes from a Maquette camera pose (pure numpy).

World frame: glTF's, Y-up, metres, degrees. model-viewer's `camera-orbit` is
"theta phi radius": theta is the azimuth about +Y from +Z towards +X (Maquette's
`azimuth`), phi the polar angle from +Y (90deg - elevation), radius the eye-target
distance in metres; `camera-target` is the orbit centre in model coordinates (the
page's GLB is in the stage's world frame, so these are world coordinates).

model-viewer widens the vertical field of view when the element is narrower than
the model's "ideal aspect" (ModelScene.adjustedFoV in model-viewer 4.4), so that the
model never clips at any orbit. :func:`framed_fov` inverts that rule, so the page
shows exactly the scene's field of view and the poster (rendered by the stage at
the scene's fov) lines up with the live model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PageCamera:
    """The page's initial camera. Angles in degrees, lengths in metres."""

    theta: float
    phi: float
    radius: float
    target: tuple[float, float, float]
    fov: float  # what the page shows (vertical), = the scene camera's fov
    framed_fov: float  # the `field-of-view` attribute that makes model-viewer show `fov`

    def attributes(self) -> dict[str, str]:
        x, y, z = self.target
        return {
            "camera-orbit": f"{self.theta:.4f}deg {self.phi:.4f}deg {self.radius:.5f}m",
            "camera-target": f"{x:.5f}m {y:.5f}m {z:.5f}m",
            "field-of-view": f"{self.framed_fov:.4f}deg",
        }


def orbit_of(eye: np.ndarray, target: np.ndarray) -> tuple[float, float, float]:
    """(theta deg, phi deg, radius m) of an eye looking at `target` (both (3,) m)."""
    offset = np.asarray(eye, dtype=float) - np.asarray(target, dtype=float)
    radius = float(np.linalg.norm(offset))
    if radius <= 0:
        raise ValueError("the camera's eye and target coincide")
    theta = math.degrees(math.atan2(offset[0], offset[2]))
    phi = math.degrees(math.acos(float(np.clip(offset[1] / radius, -1.0, 1.0))))
    return theta, phi, radius


def ideal_aspect(vertices: np.ndarray, target: np.ndarray, framed_fov: float) -> float:
    """model-viewer's idealAspect for the model's `vertices` (n, 3) m around `target`
    at field-of-view attribute `framed_fov` degrees (ModelScene.updateFraming)."""
    v = np.asarray(vertices, dtype=float) - np.asarray(target, dtype=float)
    radius = float(np.sqrt(np.max(np.einsum("ij,ij->i", v, v))))
    half = math.radians(framed_fov) / 2.0
    ideal_distance = radius / math.sin(half)
    radius_xz = np.hypot(v[:, 0], v[:, 2])
    max_aspect = float(np.max(radius_xz / (ideal_distance - np.abs(v[:, 1]))))
    return max_aspect / math.tan(half)


def adjusted_fov(vertices: np.ndarray, target: np.ndarray, framed_fov: float,
                 aspect: float) -> float:
    """The vertical fov (degrees) model-viewer shows for `field-of-view` = framed_fov
    in an element of `aspect` = width / height (ModelScene.adjustedFoV)."""
    widen = max(1.0, ideal_aspect(vertices, target, framed_fov) / aspect)
    return math.degrees(2.0 * math.atan(math.tan(math.radians(framed_fov) / 2.0) * widen))


def framed_fov(vertices: np.ndarray, target: np.ndarray, fov: float, aspect: float) -> float:
    """The `field-of-view` attribute (degrees) at which model-viewer shows `fov`.

    adjusted_fov grows monotonically with the attribute, so bisect on it."""
    if adjusted_fov(vertices, target, fov, aspect) <= fov + 1e-6:
        return fov
    lo, hi = 0.5, fov
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if adjusted_fov(vertices, target, mid, aspect) > fov:
            hi = mid
        else:
            lo = mid
    return lo


def page_camera(eye: np.ndarray, target: np.ndarray, fov: float, vertices: np.ndarray,
                aspect: float) -> PageCamera:
    """The page camera for a stage camera at `eye` looking at `target` ((3,) m) with a
    vertical `fov` (degrees), showing the model `vertices` (n, 3) in the world frame in
    an element of `aspect` = width / height. (The camera's roll is not carried: a
    model-viewer camera is always upright.)"""
    theta, phi, radius = orbit_of(eye, target)
    target = np.asarray(target, dtype=float)
    return PageCamera(theta=theta, phi=phi, radius=radius,
                      target=tuple(float(x) for x in target), fov=float(fov),
                      framed_fov=framed_fov(vertices, target, fov, aspect))
