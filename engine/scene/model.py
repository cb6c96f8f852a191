"""Scene data: plain dataclasses, no Panda3D, and the one table of scene settings.

Conventions follow glTF: Y-up, metres, angles in degrees, times in seconds.

Every key a scene file may hold is a dataclass field declared with
`engine.animation.settings.setting(...)`: its type, default, allowed values or range
and its one-line description sit beside the field. The loader validates against
these declarations, its hints list them, and `tools/scene_reference.py` writes the
README's scene reference from them (`SECTIONS` below says which dataclass holds
which TOML table). `[camera]` is `engine.animation.CameraRig` and `[[motion]]` is
`engine.animation.Motion`, declared where the camera and motion code live, so the
loader and the code that uses the values check the same rules.

Names come from their owners: light presets from `engine.scene.lighting.PRESETS`,
camera moves, motion types, easings and interpolations from `engine.animation`,
x264 presets and output formats from `engine.render.writers`, environment image
types from `engine.render.environment` and mesh types from `engine.asset.io` (the
last three imported only when a scene is checked: they are leaf modules).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from engine.animation import (
    CAMERA_OFFSETS,
    EASINGS,
    INTERPOLATIONS,
    POSE_PROPERTIES,
    CameraRig,
    Motion,
    Setting,
    SettingError,
    setting,
)
from engine.animation.settings import MAX_SECONDS
from engine.scene.lighting import PRESETS, TONE_MAPPINGS

LIGHT_PRESETS = tuple(PRESETS)
PIVOTS = ("base", "center")
UP_AXES = ("y", "z")
ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5)}
KEYFRAME_TARGETS = ("asset", "camera")
ASSET_PROPERTIES = tuple(POSE_PROPERTIES)
CAMERA_PROPERTIES = tuple(CAMERA_OFFSETS)
TRACK_PROPERTIES = {"asset": POSE_PROPERTIES, "camera": CAMERA_OFFSETS}  # target -> values
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # an image source is generated first
KEY_TIME = Setting("seconds on the shot clock", lo=0.0, hi=MAX_SECONDS)
ANY_NUMBER = Setting("a finite number")


def mesh_suffixes() -> tuple[str, ...]:
    from engine.asset.io import SUPPORTED

    return tuple(f".{name}" for name in SUPPORTED)


def asset_suffixes() -> tuple[str, ...]:
    """What `[asset] source` accepts: a mesh file, or an image to generate an asset from."""
    return mesh_suffixes() + IMAGE_SUFFIXES


def environment_suffixes() -> tuple[str, ...]:
    from engine.render.environment import ENVIRONMENT_SUFFIXES

    return ENVIRONMENT_SUFFIXES


def x264_presets() -> tuple[str, ...]:
    from engine.render.writers import X264_PRESETS

    return X264_PRESETS


def handoff_targets():
    from engine.scene.handoff import TARGETS

    return TARGETS


def parse_passes(value) -> list[str]:
    """`passes = ["depth", "normal", "mask"]` → the names, each once; ValueError otherwise."""
    from engine.render.passes import PASS_NAMES

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of pass names ({', '.join(PASS_NAMES)}), got "
                         f"{value!r}")
    for name in value:
        if name not in PASS_NAMES:
            raise ValueError(f"unknown pass {name!r}; expected some of {', '.join(PASS_NAMES)}")
    if len(set(value)) != len(value):
        raise ValueError(f"a pass is named twice in {value!r}")
    return list(value)


def parse_colour(value) -> tuple[float, float, float]:
    """'#rrggbb' or '#rgb' → sRGB floats in [0, 1]; ValueError otherwise."""
    problem = ValueError(f"expected a colour like '#1e1f24', got {value!r}")
    if not isinstance(value, str) or not value.startswith("#") or len(value) not in (4, 7):
        raise problem
    digits = value[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    try:
        return tuple(int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore
    except ValueError:
        raise problem from None


def parse_keys(value) -> list[tuple[float, float]]:
    """`keys = [[time, value], ...]` → (time s, value) pairs, times increasing from 0.

    Raises SettingError whose key is the index ("[2]") of the bad pair."""
    if not isinstance(value, list) or not value:
        raise ValueError("expected a list of [time, value] pairs")
    pairs: list[tuple[float, float]] = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise SettingError(f"[{i}]", f"expected [time, value] numbers, got {pair!r}")
        try:
            time = KEY_TIME.check_number(pair[0], "time")
            number = ANY_NUMBER.check_number(pair[1], "value")
        except SettingError as exc:
            raise SettingError(f"[{i}]", f"{exc.key}: {exc.reason}") from None
        if pairs and time <= pairs[-1][0]:
            raise SettingError(f"[{i}]", f"times must increase: {time:g} comes after "
                                         f"{pairs[-1][0]:g}")
        pairs.append((time, number))
    return pairs


@dataclass
class AssetSpec:
    """The asset on stage. `source` is resolved to an absolute path."""

    source: Path = setting(kind="file", choices=asset_suffixes, required=True,
                           example="bottle.glb",
                           doc="absolute or relative to the scene file; an image is "
                               "generated into a 3D asset first")
    height: float | None = setting(None, lo=1e-4, hi=1e4, example=0.3,
                                   doc="scale so the asset is this tall, metres (default: "
                                       "the file's size)")
    pivot: str = setting("base", kind="choice", choices=PIVOTS,
                         doc="the point put at the stage's origin")
    up: str = setting("y", kind="choice", choices=UP_AXES,
                      doc="axis that is up in the file: y (glTF), z (many STL/PLY files)")
    animation: str | int | None = setting(
        None, kind="custom", parse=lambda v: parse_animation(v), example="Walk",
        doc="the asset's own animation clip that plays: its name, its index (0 = the "
            "first) or \"none\" (default: the first clip the file carries)")


def parse_animation(value) -> str | int:
    """[asset] animation: a clip's name, its index (a whole number >= 0) or "none"."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise ValueError(f"expected a clip name, a clip index or \"none\"; got {value!r}")
    if isinstance(value, int) and value < 0:
        raise ValueError(f"a clip index is 0 or more; got {value}")
    return value


@dataclass
class Background:
    """A solid colour, a vertical gradient, or transparent. Colours are sRGB in [0, 1]."""

    top: tuple[float, float, float] = (0.118, 0.122, 0.141)
    bottom: tuple[float, float, float] = (0.118, 0.122, 0.141)
    transparent: bool = False

    @classmethod
    def parse(cls, value) -> Background:
        """'#rrggbb', ['#top', '#bottom'] or 'transparent' → Background; ValueError otherwise."""
        if value == "transparent":
            return cls(transparent=True)
        if isinstance(value, str):
            rgb = parse_colour(value)
            return cls(top=rgb, bottom=rgb)
        if isinstance(value, list) and len(value) == 2:
            return cls(top=parse_colour(value[0]), bottom=parse_colour(value[1]))
        raise ValueError(f"expected a colour '#rrggbb', a gradient ['#top', '#bottom'] or "
                         f"'transparent'; got {value!r}")


@dataclass
class StageSpec:
    lights: str = setting("studio", kind="choice", choices=LIGHT_PRESETS, doc="light preset")
    background: Background = setting(
        factory=Background, kind="custom", parse=Background.parse, example="#1e1f24",
        doc='a colour, ["#top", "#bottom"] gradient, or "transparent"')
    ground: bool = setting(True, kind="bool", doc="invisible ground that catches the key "
                                                  "light's shadow + contact shadow")
    shadow: float = setting(0.65, lo=0.0, hi=1.0, doc="shadow opacity on the ground")
    exposure: float = setting(0.0, lo=-10.0, hi=10.0, doc="EV")
    tone_mapping: str = setting(
        "neutral", kind="choice", choices=TONE_MAPPINGS,
        doc="HDR to display: neutral (Khronos PBR Neutral), aces (filmic), none (clip)")
    environment: Path | None = setting(
        None, kind="file", choices=environment_suffixes, example="environments/studio.exr",
        doc="image-based lighting: equirectangular, Y-up, .hdr/.exr linear, .png/.jpg sRGB; "
            "replaces the preset's built-in studio environment for reflections and ambient "
            "light")
    environment_intensity: float = setting(1.0, lo=0.0, hi=100.0,
                                           doc="multiplier on the environment's light")
    environment_rotation: float = setting(0.0, lo=-360.0, hi=360.0, doc="degrees about +Y")


CameraSpec = CameraRig  # `[camera]`: one dataclass for the file and the camera code


@dataclass
class KeyframeSpec:
    """One `[[keyframes]]` track: `times` (s, increasing) and `values` from its `keys`."""

    target: str = setting(kind="choice", choices=KEYFRAME_TARGETS, required=True,
                          example="asset",
                          doc="what the track moves")
    property: str = setting(
        kind="choice", required=True, example="rotation.y",
        choices=lambda: tuple(dict.fromkeys(ASSET_PROPERTIES + CAMERA_PROPERTIES)),
        doc="scale: asset only; fov (replaces the shot's), distance (metres added): camera "
            "only; position, rotation: offsets in metres and degrees")
    times: list[float] = setting(
        kind="custom", key="keys", required=True, parse=parse_keys,
        example=[[0, 0], [2, 180], [4, 360]],
        doc="[time s, value] pairs, times increasing; values must stay in the property's "
            "range between the keys too")
    values: list[float] = field(default_factory=list)
    interpolation: str = setting("linear", kind="choice", choices=INTERPOLATIONS,
                                 doc="cubic = Catmull-Rom through the keys")
    ease: str = setting("none", kind="choice", choices=tuple(EASINGS), example="in-out",
                        doc="applied within each pair of keys")


@dataclass
class OutputSpec:
    file: Path = setting(Path("out/clip.mp4"), kind="file",
                         doc=".mp4 (H.264) | .webm (VP9) | .gif | .mov (ProRes) | folder/ "
                             "for PNGs; relative to the scene file")
    aspect: str = setting("16:9", kind="choice", choices=tuple(ASPECTS), doc="frame shape")
    height: int = setting(1080, kind="integer", lo=16, hi=4320,
                          doc="pixels (width follows the aspect, rounded to even; .mp4 needs "
                              "an even height)")
    fps: float = setting(30.0, lo=1.0, hi=240.0, example=30, doc="frames per second")
    duration: float = setting(6.0, lo=0.01, hi=3600.0, doc="seconds")
    msaa: int = setting(4, kind="integer", values=(0, 2, 4, 8), doc="samples")
    quality: str = setting("veryfast", kind="choice", choices=x264_presets,
                           doc="x264 preset (CRF 18); veryfast keeps encoding <= 6 % of "
                               "render time")
    passes: list[str] = setting(
        factory=list, kind="custom", parse=lambda v: parse_passes(v),
        example=["depth", "normal", "mask"],
        doc="render passes beside the clip, frame-aligned, exact from the renderer "
            "(NAME.passes/): depth (16-bit inverse-depth PNGs + metric EXR + video), "
            "normal (camera space), mask (the asset's alpha)")
    handoff: str | None = setting(
        None, kind="choice", choices=lambda: tuple(handoff_targets()), example="ltx",
        doc="image-to-video tool the shot is made for: its size, frame rate and frame "
            "count, first/last stills, depth and mask control videos and manifest.json "
            "(NAME.handoff/); see docs/HANDOFF.md")

    @property
    def width(self) -> int:
        """Pixel width from aspect and height, rounded to an even number."""
        w, h = ASPECTS[self.aspect]
        return max(2, int(round(self.height * w / h / 2.0)) * 2)

    @property
    def frame_count(self) -> int:
        return max(1, int(round(self.duration * self.fps)))


def parse_vec3(value) -> tuple[float, float, float]:
    """[x, y, z] of three finite numbers (a custom setting's parse)."""
    if not (isinstance(value, list | tuple) and len(value) == 3 and all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            for x in value)):
        raise ValueError(f"expected [x, y, z] (three finite numbers), got {value!r}")
    return tuple(float(x) for x in value)


def parse_direction(value) -> tuple[float, float, float]:
    """A non-zero [x, y, z] (its length does not matter)."""
    vec = parse_vec3(value)
    if math.hypot(*vec) < 1e-9:
        raise ValueError("expected a non-zero direction")
    return vec


@dataclass
class Hotspot:
    """A labelled point on the asset for the web page (`[[web.hotspot]]`)."""

    position: tuple[float, float, float] = setting(
        kind="custom", parse=parse_vec3, required=True, example=[0.0, 0.12, 0.07],
        doc="metres, the stage's frame at rest (origin at the pivot, Y-up)")
    label: str = setting(kind="text", required=True, example="Control panel",
                         doc="the text shown")
    normal: tuple[float, float, float] = setting(
        (0.0, 0.0, 1.0), kind="custom", parse=parse_direction, example=[0, 0, 1],
        doc="the way it faces (hidden when turned away)")


@dataclass
class WebSpec:
    """`[web]`: settings only `maquette web` reads."""

    title: str | None = setting(None, kind="text", example="Robot toy",
                                doc="the page's title (default: the asset's name)")
    hotspots: list[Hotspot] = setting(factory=list, kind="tables", table=Hotspot,
                                      key="hotspot", doc="annotations, any number")


# TOML table -> the dataclass that declares its keys; `[[name]]` tables repeat.
SECTIONS: dict[str, type] = {
    "asset": AssetSpec,
    "stage": StageSpec,
    "camera": CameraRig,
    "motion": Motion,
    "keyframes": KeyframeSpec,
    "output": OutputSpec,
    "web": WebSpec,
}
REPEATED = ("motion", "keyframes")
SECTION_NOTES = {
    "asset": "the only required table",
    "motion": "object animation presets, any number, combined",
    "keyframes": "explicit tracks on the asset or the camera, any number",
    "web": "read by `maquette web` only",
}


@dataclass
class Scene:
    path: Path | None
    asset: AssetSpec
    stage: StageSpec = field(default_factory=StageSpec)
    camera: CameraSpec = field(default_factory=CameraSpec)
    motions: list = field(default_factory=list)  # list[engine.animation.Motion]
    keyframes: list[KeyframeSpec] = field(default_factory=list)
    output: OutputSpec = field(default_factory=OutputSpec)
    web: WebSpec = field(default_factory=WebSpec)
