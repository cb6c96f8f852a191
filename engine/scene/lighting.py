"""Light presets: plain data, no Panda3D.

Directions are unit vectors in the *rig* frame, Y-up, pointing from the asset
towards the light. In the rig frame the camera sits on +Z looking at -Z, so
(-1, 1, 1) is a light above, left of and in front of the subject as the camera
sees it. By default the rig turns with the camera's azimuth, so an orbit looks
like a turntable under fixed studio lights.

Colours are sRGB hex; intensities are linear multipliers of that colour
(irradiance for directional lights, radiance for soft boxes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DirectionalLight:
    direction: tuple[float, float, float]
    color: str = "#ffffff"
    intensity: float = 1.0


@dataclass(frozen=True)
class Softbox:
    """A bright disc in the environment: shapes reflections on glossy surfaces."""

    direction: tuple[float, float, float]
    radius_deg: float = 20.0
    color: str = "#ffffff"
    intensity: float = 1.0


@dataclass(frozen=True)
class LightPreset:
    key: DirectionalLight  # casts the shadow
    fills: tuple[DirectionalLight, ...] = ()
    sky: str = "#808080"  # environment above the horizon
    ground: str = "#303030"  # environment below
    environment: float = 1.0
    softboxes: tuple[Softbox, ...] = ()
    shadow_softness: float = 1.0


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] → linear, element-wise. Shape preserved."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def hex_to_linear(color: str) -> np.ndarray:
    """'#rrggbb' → (3,) linear RGB."""
    digits = color.lstrip("#")
    return srgb_to_linear(np.array([int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4)]))


def normalized(v: tuple[float, float, float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


PRESETS: dict[str, LightPreset] = {
    # Classic three-point product light: warm key upper left, soft fill, cool rim.
    "studio": LightPreset(
        key=DirectionalLight((-0.8, 1.3, 0.9), "#fff4e8", 2.6),
        fills=(
            DirectionalLight((1.0, 0.4, 0.8), "#e8f0ff", 0.55),
            DirectionalLight((0.3, 0.8, -1.0), "#ffffff", 1.4),
        ),
        sky="#9aa0a8", ground="#3a3a3c", environment=0.55,
        softboxes=(
            Softbox((-0.9, 0.9, 0.7), 22, "#ffffff", 3.5),
            Softbox((1.0, 0.3, 0.6), 14, "#ffffff", 1.6),
        ),
    ),
    # Big overhead soft box: low contrast, gentle shadow, bright reflections.
    "softbox": LightPreset(
        key=DirectionalLight((-0.2, 2.2, 0.6), "#ffffff", 2.0),
        fills=(
            DirectionalLight((0.9, 0.5, 1.0), "#ffffff", 0.7),
            DirectionalLight((-0.9, 0.5, 1.0), "#ffffff", 0.7),
        ),
        sky="#c8ccd2", ground="#6a6a6e", environment=0.8,
        softboxes=(
            Softbox((0.0, 1.0, 0.25), 35, "#ffffff", 2.8),
            Softbox((0.0, 0.2, 1.0), 25, "#ffffff", 1.2),
        ),
        shadow_softness=2.0,
    ),
    # Dramatic rim: almost no front light, two hard edge lights from behind.
    "rim": LightPreset(
        key=DirectionalLight((0.9, 0.9, -1.0), "#e6efff", 4.0),
        fills=(
            DirectionalLight((-1.0, 0.6, -0.9), "#ffe2c4", 3.2),
            DirectionalLight((0.0, 0.3, 1.0), "#ffffff", 0.12),
        ),
        sky="#202226", ground="#0c0c0d", environment=0.35,
        softboxes=(
            Softbox((1.0, 0.5, -0.9), 10, "#ffffff", 6.0),
            Softbox((-1.0, 0.5, -0.9), 10, "#ffe8d0", 5.0),
        ),
    ),
    # Low warm sun from the side, violet sky fill.
    "sunset": LightPreset(
        key=DirectionalLight((-1.2, 0.35, 0.5), "#ffb060", 3.4),
        fills=(
            DirectionalLight((1.0, 0.6, 0.4), "#7d6ad8", 0.7),
            DirectionalLight((0.4, 0.5, -1.0), "#ff8a50", 1.0),
        ),
        sky="#6a5a9a", ground="#3a2418", environment=0.55,
        softboxes=(Softbox((-1.0, 0.25, 0.4), 12, "#ffa050", 5.0),),
        shadow_softness=1.5,
    ),
    # Two saturated colour edges, magenta and cyan, on a dark stage.
    "neon": LightPreset(
        key=DirectionalLight((-1.0, 0.5, 0.3), "#ff2fd0", 3.2),
        fills=(
            DirectionalLight((1.0, 0.4, 0.2), "#20e8ff", 3.0),
            DirectionalLight((0.0, 1.0, -0.6), "#6040ff", 1.0),
        ),
        sky="#140a24", ground="#05030a", environment=0.6,
        softboxes=(
            Softbox((-1.0, 0.3, 0.2), 12, "#ff40d8", 5.0),
            Softbox((1.0, 0.3, 0.2), 12, "#30e0ff", 5.0),
        ),
    ),
    # Cool moonlight, deep blue ambience, a warm practical from below front.
    "night": LightPreset(
        key=DirectionalLight((0.6, 1.4, 0.4), "#9fb8ff", 1.5),
        fills=(
            DirectionalLight((-0.5, -0.1, 1.0), "#ffb070", 0.45),
            DirectionalLight((-0.4, 0.6, -1.0), "#6d8cff", 1.1),
        ),
        sky="#1a2440", ground="#06080e", environment=0.5,
        softboxes=(Softbox((0.5, 1.0, 0.3), 9, "#b0c4ff", 3.0),),
    ),
}
