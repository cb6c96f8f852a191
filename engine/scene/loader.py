"""Load and validate TOML scene files into `Scene` dataclasses.

Every error names the file, the key and what was expected; unknown keys are
errors (with a "did you mean" hint), so a typo is never silently ignored.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.animation import CAMERA_MOVES, EASINGS, INTERPOLATIONS, MOTION_TYPES, Motion
from engine.scene.model import (
    ASPECTS,
    ASSET_PROPERTIES,
    CAMERA_PROPERTIES,
    KEYFRAME_TARGETS,
    LIGHT_PRESETS,
    PIVOTS,
    UP_AXES,
    AssetSpec,
    Background,
    CameraSpec,
    Hotspot,
    KeyframeSpec,
    OutputSpec,
    Scene,
    StageSpec,
    WebSpec,
)

ASSET_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".stl")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow")
MOTION_DIRECTIONS = ("left", "right", "front", "back", "up")
ENVIRONMENT_SUFFIXES = (".hdr", ".exr", ".png", ".jpg", ".jpeg")
OUTPUT_SUFFIXES = (".mp4", ".webm", ".mov", ".gif")
MAX_SCENE_BYTES = 1 << 20


class SceneError(ValueError):
    """A scene file is invalid; the message names the file and the key."""


Validator = Callable[[Any, str], Any]


class _Context:
    def __init__(self, path: Path | None):
        self.path = path

    def fail(self, where: str, message: str) -> SceneError:
        name = str(self.path) if self.path else "<scene>"
        return SceneError(f"{name}: {where}: {message}")


# --- value validators: (value, where) -> converted value, raising _Invalid ---------------


class _Invalid(Exception):
    pass


def _number(lo: float = -math.inf, hi: float = math.inf, *, integer: bool = False) -> Validator:
    def check(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Invalid(f"expected a number, got {value!r}")
        if integer and not float(value).is_integer():
            raise _Invalid(f"expected a whole number, got {value!r}")
        if not math.isfinite(value) or not lo <= value <= hi:
            raise _Invalid(f"expected a number from {lo:g} to {hi:g}, got {value!r}")
        return int(value) if integer else float(value)

    return check


def _choice(options: tuple[str, ...] | list[str]) -> Validator:
    def check(value: Any, where: str) -> str:
        if not isinstance(value, str) or value not in options:
            raise _Invalid(f"expected one of {', '.join(options)}; got {value!r}")
        return value

    return check


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"expected true or false, got {value!r}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"expected a non-empty string, got {value!r}")
    return value


def parse_colour(value: Any) -> tuple[float, float, float]:
    """'#rrggbb' or '#rgb' → sRGB floats in [0, 1]."""
    if not isinstance(value, str) or not value.startswith("#") or len(value) not in (4, 7):
        raise _Invalid(f"expected a colour like '#1e1f24', got {value!r}")
    digits = value[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    try:
        rgb = tuple(int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    except ValueError:
        raise _Invalid(f"expected a colour like '#1e1f24', got {value!r}") from None
    return rgb  # type: ignore[return-value]


def _background(value: Any, where: str) -> Background:
    if value == "transparent":
        return Background(transparent=True)
    if isinstance(value, str):
        rgb = parse_colour(value)
        return Background(top=rgb, bottom=rgb)
    if isinstance(value, list) and len(value) == 2:
        return Background(top=parse_colour(value[0]), bottom=parse_colour(value[1]))
    raise _Invalid(
        f"expected a colour '#rrggbb', a gradient ['#top', '#bottom'] or 'transparent'; "
        f"got {value!r}"
    )


def _distance(value: Any, where: str) -> float | None:
    if value == "fit":
        return None
    if isinstance(value, str):
        raise _Invalid(f"expected \"fit\" or a distance in metres, got {value!r}")
    return _number(0.01, 1e5)(value, where)


def _vec3(value: Any, where: str) -> tuple[float, float, float]:
    ok = isinstance(value, list) and len(value) == 3 and all(
        isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
        for x in value)
    if not ok:
        raise _Invalid(f"expected [x, y, z] numbers, got {value!r}")
    return tuple(float(x) for x in value)  # type: ignore[return-value]


def _msaa(value: Any, where: str) -> int:
    if value not in (0, 2, 4, 8) or isinstance(value, bool):
        raise _Invalid(f"expected 0, 2, 4 or 8 samples, got {value!r}")
    return int(value)


# --- sections ----------------------------------------------------------------------------

SECTIONS: dict[str, dict[str, Validator]] = {
    "asset": {
        "source": _string,
        "height": _number(1e-4, 1e4),
        "pivot": _choice(PIVOTS),
        "up": _choice(UP_AXES),
    },
    "stage": {
        "lights": _choice(LIGHT_PRESETS),
        "background": _background,
        "ground": _boolean,
        "shadow": _number(0.0, 1.0),
        "exposure": _number(-10.0, 10.0),
        "environment": _string,
        "environment_intensity": _number(0.0, 100.0),
        "environment_rotation": _number(-360.0, 360.0),
    },
    "camera": {
        "move": _choice(CAMERA_MOVES),
        "fov": _number(5.0, 120.0),
        "elevation": _number(-89.0, 89.0),
        "azimuth": _number(-360.0, 360.0),
        "distance": _distance,
        "turns": _number(-20.0, 20.0),
        "strength": _number(0.0, 1.0),
    },
    "output": {
        "file": _string,
        "aspect": _choice(list(ASPECTS)),
        "height": _number(16, 4320, integer=True),
        "fps": _number(1.0, 240.0),
        "duration": _number(0.01, 3600.0),
        "msaa": _msaa,
        "quality": _choice(X264_PRESETS),
    },
    "motion": {
        "type": _choice(MOTION_TYPES),
        "amplitude": _number(-1e4, 1e4),
        "period": _number(1e-3, 1e4),
        "start": _number(0.0, 1e4),
        "duration": _number(1e-3, 1e4),
        "axis": _choice(("x", "y", "z")),
        "direction": _choice(MOTION_DIRECTIONS),
    },
    "keyframes": {
        "target": _choice(KEYFRAME_TARGETS),
        "property": _string,
        "keys": lambda v, w: v,  # checked in _keyframe
        "interpolation": _choice(INTERPOLATIONS),
        "ease": _choice(list(EASINGS)),
    },
    "web": {"title": _string, "hotspot": lambda v, w: v},  # hotspots: checked in _web
    "web.hotspot": {"position": _vec3, "normal": _vec3, "label": _string},
}


REQUIRED = {"asset": ("source",), "motion": ("type",), "keyframes": ("target", "property", "keys"),
            "web.hotspot": ("position", "label")}


def _read_table(ctx: _Context, name: str, table: Any, where: str) -> dict[str, Any]:
    """Validate one table against SECTIONS[name]; returns only the keys present."""
    if not isinstance(table, dict):
        raise ctx.fail(where, f"expected a table, got {table!r}")
    schema = SECTIONS[name]
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in schema:
            hint = difflib.get_close_matches(key, list(schema), n=1)
            did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise ctx.fail(
                f"{where} {key}",
                f"unknown key{did_you_mean}; valid keys: {', '.join(schema)}",
            )
        try:
            values[key] = schema[key](raw, f"{where} {key}")
        except _Invalid as exc:
            raise ctx.fail(f"{where} {key}", str(exc)) from None
    for key in REQUIRED.get(name, ()):
        if key not in values:
            raise ctx.fail(f"{where} {key}", "missing required key")
    return values


def _resolve_file(ctx: _Context, where: str, value: str, suffixes: tuple[str, ...]) -> Path:
    """A file named in the scene: relative to the scene file, of an accepted type, present."""
    path = Path(value).expanduser()
    if not path.is_absolute() and ctx.path is not None:
        path = ctx.path.parent / path
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ctx.fail(where, f"unsupported file type {suffix or '(none)'!r}; expected one of "
                              f"{', '.join(suffixes)}")
    if not path.is_file():
        raise ctx.fail(where, f"file not found: {path}")
    return path.resolve()


def _keyframe(ctx: _Context, values: dict[str, Any], where: str) -> KeyframeSpec:
    allowed = ASSET_PROPERTIES if values["target"] == "asset" else CAMERA_PROPERTIES
    if values["property"] not in allowed:
        raise ctx.fail(
            f"{where} property",
            f"expected one of {', '.join(allowed)} for target '{values['target']}'; "
            f"got {values['property']!r}",
        )
    keys = values["keys"]
    if not isinstance(keys, list) or not keys:
        raise ctx.fail(f"{where} keys", "expected a list of [time, value] pairs")
    times: list[float] = []
    vals: list[float] = []
    for i, pair in enumerate(keys):
        ok = (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in pair)
            and all(math.isfinite(x) for x in pair)
        )
        if not ok:
            raise ctx.fail(f"{where} keys[{i}]", f"expected [time, value] numbers, got {pair!r}")
        if times and pair[0] <= times[-1]:
            raise ctx.fail(
                f"{where} keys[{i}]",
                f"times must increase: {pair[0]} comes after {times[-1]}",
            )
        if pair[0] < 0:
            raise ctx.fail(f"{where} keys[{i}]", f"time must be ≥ 0, got {pair[0]}")
        times.append(float(pair[0]))
        vals.append(float(pair[1]))
    return KeyframeSpec(
        target=values["target"],
        property=values["property"],
        times=times,
        values=vals,
        interpolation=values.get("interpolation", "linear"),
        ease=values.get("ease", "none"),
    )


def _array_of_tables(ctx: _Context, doc: dict, name: str) -> list[tuple[str, dict[str, Any]]]:
    items = doc.get(name, [])
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise ctx.fail(f"[[{name}]]", "expected an array of tables")
    return [(f"[[{name}]] #{i + 1}", _read_table(ctx, name, t, f"[[{name}]] #{i + 1}"))
            for i, t in enumerate(items)]


def _web(ctx: _Context, table: Any) -> WebSpec:
    """`[web]` and its `[[web.hotspot]]` entries (read by `maquette web` only)."""
    values = _read_table(ctx, "web", table, "[web]")
    spots = values.pop("hotspot", [])
    if not isinstance(spots, list):
        raise ctx.fail("[[web.hotspot]]", "expected an array of tables")
    hotspots = []
    for i, spot in enumerate(spots):
        where = f"[[web.hotspot]] #{i + 1}"
        spot_values = _read_table(ctx, "web.hotspot", spot, where)
        normal = spot_values.get("normal", (0.0, 0.0, 1.0))
        if math.hypot(*normal) < 1e-9:
            raise ctx.fail(f"{where} normal", "expected a non-zero direction")
        hotspots.append(Hotspot(position=spot_values["position"], label=spot_values["label"],
                                normal=normal))
    return WebSpec(title=values.get("title"), hotspots=hotspots)


def scene_from_dict(doc: dict[str, Any], path: Path | None = None) -> Scene:
    """Build a validated Scene from parsed TOML. Relative paths resolve against `path`."""
    ctx = _Context(path)
    for key in doc:
        if key not in SECTIONS or "." in key:
            hint = difflib.get_close_matches(key, [k for k in SECTIONS if "." not in k], n=1)
            did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise ctx.fail(f"[{key}]", f"unknown section{did_you_mean}")
    if "asset" not in doc:
        raise ctx.fail("[asset] source", "missing: every scene needs an asset")

    asset_values = _read_table(ctx, "asset", doc["asset"], "[asset]")
    asset_values["source"] = _resolve_file(ctx, "[asset] source", asset_values["source"],
                                           ASSET_SUFFIXES + IMAGE_SUFFIXES)
    asset = AssetSpec(**asset_values)

    stage_values = _read_table(ctx, "stage", doc.get("stage", {}), "[stage]")
    if "environment" in stage_values:
        stage_values["environment"] = _resolve_file(
            ctx, "[stage] environment", stage_values["environment"], ENVIRONMENT_SUFFIXES)
    stage = StageSpec(**stage_values)
    camera = CameraSpec(**_read_table(ctx, "camera", doc.get("camera", {}), "[camera]"))

    out_values = _read_table(ctx, "output", doc.get("output", {}), "[output]")
    file = Path(out_values.pop("file", "out/clip.mp4")).expanduser()
    if not file.is_absolute() and path is not None:
        file = path.parent / file
    output = OutputSpec(file=file, **out_values)
    suffix = file.suffix.lower()
    if suffix and suffix not in OUTPUT_SUFFIXES:
        raise ctx.fail("[output] file", f"unsupported output type {suffix!r}; expected "
                       f"{', '.join(OUTPUT_SUFFIXES)} or a folder/ for PNG frames")
    if stage.background.transparent and suffix == ".mp4":
        raise ctx.fail("[output] file", "H.264 .mp4 cannot carry transparency (background = "
                       "\"transparent\"); use .mov, .webm, .gif or a folder/ for PNG frames")
    if output.frame_count > 100_000:
        raise ctx.fail("[output] duration", f"{output.frame_count} frames is too many")

    motions = [Motion(**values) for _, values in _array_of_tables(ctx, doc, "motion")]
    keyframes = [_keyframe(ctx, values, where)
                 for where, values in _array_of_tables(ctx, doc, "keyframes")]
    return Scene(path=path, asset=asset, stage=stage, camera=camera, motions=motions,
                 keyframes=keyframes, output=output, web=_web(ctx, doc.get("web", {})))


def load_scene(path: str | Path) -> Scene:
    """Read and validate a TOML scene file."""
    path = Path(path)
    if not path.is_file():
        raise SceneError(f"{path}: scene file not found")
    if path.stat().st_size > MAX_SCENE_BYTES:
        raise SceneError(f"{path}: scene file is larger than {MAX_SCENE_BYTES} bytes")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SceneError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(f"{path}: invalid TOML: {exc}") from None
    return scene_from_dict(doc, path.resolve())


def scene_for_asset(source: str | Path, **output: Any) -> Scene:
    """The default stage for a bare asset (what `maquette render ASSET` and the viewer use)."""
    return scene_from_dict({"asset": {"source": str(Path(source).resolve())},
                            "output": output}, None)
