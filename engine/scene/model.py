"""Scene data: plain dataclasses, no Panda3D.

Conventions follow glTF: Y-up, metres, angles in degrees, times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LIGHT_PRESETS = ("studio", "softbox", "rim", "sunset", "neon", "night")
PIVOTS = ("base", "center")
UP_AXES = ("y", "z")
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5)}
KEYFRAME_TARGETS = ("asset", "camera")
ASSET_PROPERTIES = (
    "position.x", "position.y", "position.z",
    "rotation.x", "rotation.y", "rotation.z",
    "scale",
)
CAMERA_PROPERTIES = ASSET_PROPERTIES[:-1] + ("fov", "distance")


@dataclass
class AssetSpec:
    """The asset on stage. `source` is resolved to an absolute path."""

    source: Path
    height: float | None = None  # metres; None keeps the file's size
    pivot: str = "base"
    up: str = "y"  # axis that is up in the file (glTF says y; some STL/PLY use z)


@dataclass
class Background:
    """A solid colour, a vertical gradient, or transparent. Colours are sRGB in [0, 1]."""

    top: tuple[float, float, float] = (0.118, 0.122, 0.141)
    bottom: tuple[float, float, float] = (0.118, 0.122, 0.141)
    transparent: bool = False


@dataclass
class StageSpec:
    lights: str = "studio"
    background: Background = field(default_factory=Background)
    ground: bool = True
    shadow: float = 0.65  # opacity of the key light's shadow on the ground, 0..1
    exposure: float = 0.0  # EV
    environment: Path | None = None  # equirectangular .hdr/.exr/.png/.jpg for IBL
    environment_intensity: float = 1.0
    environment_rotation: float = 0.0  # degrees about +Y


@dataclass
class CameraSpec:
    move: str = "orbit"
    fov: float = 35.0  # vertical, degrees
    elevation: float = 15.0  # degrees above the horizon through the asset's centre
    azimuth: float = 0.0  # degrees; 0 looks at the asset's front (+Z)
    distance: float | None = None  # metres; None frames the asset ("fit")
    turns: float = 1.0  # orbit only
    strength: float = 0.3  # amount of push/pull/dolly/pan/tilt/crane, fraction


@dataclass
class KeyframeSpec:
    target: str
    property: str
    times: list[float]
    values: list[float]
    interpolation: str = "linear"
    ease: str = "none"


@dataclass
class OutputSpec:
    file: Path
    aspect: str = "16:9"
    height: int = 1080  # pixels
    fps: float = 30.0
    duration: float = 6.0  # seconds
    msaa: int = 4
    quality: str = "veryfast"  # x264 preset: ultrafast … veryslow (see docs/BENCHMARKS.md)

    @property
    def width(self) -> int:
        """Pixel width from aspect and height, rounded to an even number."""
        w, h = ASPECTS[self.aspect]
        return max(2, int(round(self.height * w / h / 2.0)) * 2)

    @property
    def frame_count(self) -> int:
        return max(1, int(round(self.duration * self.fps)))


@dataclass
class Hotspot:
    """A labelled point on the asset for the web page (`[[web.hotspot]]`): `position`
    in metres in the stage's frame at rest (origin at the asset's pivot, Y-up), `normal`
    the surface direction it faces (hidden when it faces away)."""

    position: tuple[float, float, float]
    label: str
    normal: tuple[float, float, float] = (0.0, 0.0, 1.0)


@dataclass
class WebSpec:
    """`[web]`: settings only `maquette web` reads."""

    title: str | None = None
    hotspots: list[Hotspot] = field(default_factory=list)


@dataclass
class Scene:
    path: Path | None
    asset: AssetSpec
    stage: StageSpec = field(default_factory=StageSpec)
    camera: CameraSpec = field(default_factory=CameraSpec)
    motions: list = field(default_factory=list)  # list[engine.animation.Motion]
    keyframes: list[KeyframeSpec] = field(default_factory=list)
    output: OutputSpec = field(default_factory=lambda: OutputSpec(file=Path("out/clip.mp4")))
    web: WebSpec = field(default_factory=WebSpec)
