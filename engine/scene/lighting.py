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


# The tone-mapping pass's curves (engine/render/shaders/tonemap.frag.glsl's `tone_mapping`,
# by index): Khronos PBR Neutral (the default), ACES (Stephen Hill's fit), none (clipped).
TONE_MAPPINGS = ("neutral", "aces", "none")


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
    # Dramatic rim: two hard edge lights from behind outline the product against a dark
    # set, a hair light picks out its top, and a low neutral front fill keeps its face
    # in its own colour (a white product reads white, a black one keeps its shape).
    "rim": LightPreset(
        key=DirectionalLight((0.9, 0.9, -1.0), "#e6efff", 4.0),
        fills=(
            DirectionalLight((-1.0, 0.6, -0.9), "#ffe2c4", 3.2),
            DirectionalLight((-0.4, 0.5, 1.0), "#ffffff", 0.7),
            DirectionalLight((0.0, 1.0, -0.25), "#ffffff", 0.9),
        ),
        sky="#2a2d33", ground="#0c0c0d", environment=0.5,
        softboxes=(
            # low behind either side: a vertical product's edges mirror them from top to
            # base, so a black or metal product is outlined against a black set
            Softbox((1.0, 0.12, -0.6), 24, "#ffffff", 4.0),
            Softbox((-1.0, 0.12, -0.6), 24, "#ffe8d0", 3.5),
            Softbox((-0.3, 0.6, 1.0), 18, "#ffffff", 0.9),
        ),
    ),
    # Low warm sun from the side, a soft lilac sky fill and a warm edge from behind: a
    # golden-hour mood that tints a white product warm without turning it orange, and
    # a low warm strip behind outlines a dark one.
    "sunset": LightPreset(
        key=DirectionalLight((-1.2, 0.35, 0.5), "#ffcf9e", 3.0),
        fills=(
            DirectionalLight((1.0, 0.6, 0.4), "#c4bcec", 0.9),
            DirectionalLight((0.4, 0.5, -1.0), "#ff9a60", 1.2),
            DirectionalLight((0.0, 0.6, 1.0), "#fff4ea", 0.35),
        ),
        sky="#7a6ca6", ground="#3a2418", environment=0.55,
        softboxes=(
            Softbox((-1.0, 0.25, 0.4), 14, "#ffc080", 4.0),
            Softbox((1.0, 0.12, -0.6), 24, "#ffb070", 3.5),
        ),
        shadow_softness=1.5,
    ),
    # Neon: magenta and cyan edge lights from behind either side, on a dark violet
    # stage; a soft neutral key from the front keeps the product's own colours in the
    # middle (the colour is on its edges and in its reflections, not over its face).
    "neon": LightPreset(
        key=DirectionalLight((-0.5, 0.9, 1.0), "#f2f0ff", 1.7),
        fills=(
            DirectionalLight((-1.0, 0.35, -0.9), "#ff2fd0", 3.2),
            DirectionalLight((1.0, 0.35, -0.9), "#20e8ff", 3.0),
            DirectionalLight((0.3, 0.4, 1.0), "#e8e4ff", 0.35),
        ),
        sky="#1c1030", ground="#05030a", environment=0.6,
        softboxes=(
            Softbox((-1.0, 0.12, -0.6), 24, "#ff40d8", 3.5),
            Softbox((1.0, 0.12, -0.6), 24, "#30e0ff", 3.5),
            Softbox((-0.4, 0.7, 1.0), 18, "#ffffff", 1.2),
        ),
    ),
    # Cool moonlight from above, deep blue ambience, a warm practical from below front
    # and a cool strip behind that outlines a dark product against the night.
    "night": LightPreset(
        key=DirectionalLight((0.6, 1.4, 0.4), "#c8d4ff", 1.9),
        fills=(
            DirectionalLight((-0.5, -0.1, 1.0), "#ffc090", 0.5),
            DirectionalLight((-0.4, 0.6, -1.0), "#7d98ff", 1.3),
            DirectionalLight((0.2, 0.5, 1.0), "#e4eaff", 0.3),
        ),
        sky="#1e2a48", ground="#06080e", environment=0.55,
        softboxes=(
            Softbox((0.5, 1.0, 0.3), 10, "#c0d0ff", 3.0),
            Softbox((-1.0, 0.12, -0.6), 24, "#90a8ff", 3.5),
        ),
    ),
}
