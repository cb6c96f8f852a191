"""Load and validate TOML scene files into `Scene` dataclasses.

Every error names the file, the key and what was expected; unknown keys are
errors (with a "did you mean" hint), so a typo is never silently ignored. What
each key accepts is declared once, beside its dataclass field (see
`engine.scene.model`); this module only walks those declarations and adds the
rules that join several keys (an even height for .mp4, one fov track, ...).
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from engine.animation import KeyframeTrack, SettingError, settings_of
from engine.errors import InputError
from engine.scene.model import (
    IMAGE_SUFFIXES,
    REPEATED,
    SECTIONS,
    TRACK_PROPERTIES,
    KeyframeSpec,
    OutputSpec,
    Scene,
)

__all__ = ["IMAGE_SUFFIXES", "MAX_NESTING", "MAX_SCENE_BYTES", "SceneError",
           "check_output_file", "load_scene", "scene_for_asset", "scene_from_dict"]

MAX_SCENE_BYTES = 1 << 20
MAX_NESTING = 32  # arrays/inline tables inside one another; a scene needs 3
MAX_FRAMES = 100_000
CURVE_SAMPLES = 32  # per pair of keys, to check a curve stays in its property's range


class SceneError(InputError):
    """A scene file is invalid; the message names the file and the key."""


class _Context:
    def __init__(self, path: Path | None):
        self.path = path

    def fail(self, where: str, message: str) -> SceneError:
        return SceneError(f"{scene_name(self.path)}: {where}: {message}")


def scene_name(path: Path | None) -> str:
    """How errors name a scene: its file, or <scene> for one built in memory."""
    return str(path) if path else "<scene>"


def _unknown(ctx: _Context, where: str, what: str, key: str, valid: list[str]) -> SceneError:
    hint = difflib.get_close_matches(key, valid, n=1)
    did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
    return ctx.fail(where, f"unknown {what}{did_you_mean}; valid {what}s: {', '.join(valid)}")


def _read_table(ctx: _Context, cls: type, table: Any, where: str) -> dict[str, Any]:
    """Check one table against the settings declared on dataclass `cls` (a section of
    SECTIONS, or the rows of a "tables" setting): field name -> value."""
    if not isinstance(table, dict):
        raise ctx.fail(where, f"expected a table, got {table!r}")
    schema = settings_of(cls)
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in schema:
            raise _unknown(ctx, f"{where} {key}", "key", key, list(schema))
        f, spec = schema[key]
        if spec.kind == "tables":
            values[f.name] = _read_rows(ctx, spec.table, raw, f"[[{where.strip('[]')}.{key}]]")
            continue
        try:
            values[f.name] = spec.check(raw, f"{where} {key}")
        except SettingError as exc:
            raise ctx.fail(exc.key, exc.reason) from None
    for key, (f, spec) in schema.items():
        if spec.required and f.name not in values:
            raise ctx.fail(f"{where} {key}", "missing required key")
    return values


def _read_rows(ctx: _Context, cls: type, rows: Any, where: str) -> list:
    """An array of tables (`[[web.hotspot]]`), each row built as `cls`."""
    if not isinstance(rows, list):
        raise ctx.fail(where, "expected an array of tables")
    return [_build(ctx, cls, _read_table(ctx, cls, row, f"{where} #{i + 1}"),
                   f"{where} #{i + 1}") for i, row in enumerate(rows)]


def _build(ctx: _Context, cls: type, values: dict[str, Any], where: str):
    """cls(**values), reporting what the dataclass's own checks raise with file and key."""
    try:
        return cls(**values)
    except SettingError as exc:
        raise ctx.fail(f"{where} {exc.key}", exc.reason) from None


def _resolve_file(ctx: _Context, where: str, value: str, suffixes: tuple[str, ...]) -> Path:
    """A file named in the scene: relative to the scene file, of an accepted type, present.
    `[asset] source` may also name a library version (library:NAME@approved, @latest,
    @vN): the library resolves it to the version's file (engine.library)."""
    if where == "[asset] source" and value.startswith("library:"):
        from engine.library import LibraryError, resolve_reference

        try:
            return resolve_reference(value, where=f"{scene_name(ctx.path)}: {where}").path
        except LibraryError as exc:
            raise SceneError(str(exc)) from None
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
    target, prop = values["target"], values["property"]
    allowed = TRACK_PROPERTIES[target]
    if prop not in allowed:
        raise ctx.fail(f"{where} property", f"expected one of {', '.join(allowed)} for target "
                                            f"'{target}'; got {prop!r}")
    pairs = values.pop("times")
    spec = allowed[prop]
    for i, (_, value) in enumerate(pairs):
        try:
            spec.check_number(value, prop)
        except SettingError as exc:
            raise ctx.fail(f"{where} keys[{i}]", f"{target} {exc.key} ({spec.doc}): "
                                                 f"{exc.reason}") from None
    keyframe = _build(ctx, KeyframeSpec, {**values, "times": [t for t, _ in pairs],
                                          "values": [v for _, v in pairs]}, where)
    _check_curve(ctx, keyframe, where)
    return keyframe


def _check_curve(ctx: _Context, spec: KeyframeSpec, where: str) -> None:
    """Refuse a track whose curve leaves its property's range between the keys (a cubic
    or an overshooting ease can: a scale keyed 1 → 0 with "back-out" dips below 0)."""
    if len(spec.times) < 2:
        return
    setting = TRACK_PROPERTIES[spec.target][spec.property]
    track = KeyframeTrack(np.array(spec.times), np.array(spec.values), spec.interpolation,
                          spec.ease)
    u = np.linspace(0.0, 1.0, CURVE_SAMPLES + 1)[1:-1]
    t0, t1 = track.times[:-1, None], track.times[1:, None]
    times = (t0 + (t1 - t0) * u).reshape(-1)
    curve = np.asarray(track.evaluate(times))
    for i in np.argsort(curve)[[0, -1]]:
        try:
            setting.check_number(float(curve[i]), spec.property)
        except SettingError as exc:
            raise ctx.fail(
                f"{where} keys",
                f"between the keys the {spec.interpolation} curve with ease '{spec.ease}' "
                f"reaches {curve[i]:.4g} at t = {times[i]:.3f} s, outside the range of "
                f"{spec.target} {spec.property} ({exc.reason.split(', got')[0]}); use linear "
                f"interpolation, another ease or more keys") from None


def _array_of_tables(ctx: _Context, doc: dict, name: str) -> list[tuple[str, dict[str, Any]]]:
    items = doc.get(name, [])
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise ctx.fail(f"[[{name}]]", "expected an array of tables")
    return [(f"[[{name}]] #{i + 1}", _read_table(ctx, SECTIONS[name], t, f"[[{name}]] #{i + 1}"))
            for i, t in enumerate(items)]


def _output(ctx: _Context, values: dict[str, Any], transparent: bool) -> OutputSpec:
    from engine.render.writers import format_for_path

    raw_file = str(values.pop("file", OutputSpec().file))
    try:  # a suffix-less name must end with / (Path() below drops the slash)
        format_for_path(raw_file, slash_for_folders=True)
    except ValueError as exc:
        raise ctx.fail("[output] file", str(exc)) from None
    file = Path(raw_file).expanduser()
    if not file.is_absolute() and ctx.path is not None:
        file = ctx.path.parent / file
    output = _build(ctx, OutputSpec, {"file": file, **values}, "[output]")
    _check_output(ctx, output, file, transparent, "[output] file")
    return output


def _check_output(ctx: _Context, output: OutputSpec, file: Path, transparent: bool,
                  where: str) -> None:
    """The rules that join the output file's format to the other keys."""
    from engine.render.writers import format_for_path

    try:
        fmt = format_for_path(file)
    except ValueError as exc:
        raise ctx.fail(where, f"{exc}; or a folder/ for PNG frames") from None
    named = "" if where == "[output] file" else f" (for {where})"
    if transparent and fmt == "mp4":
        raise ctx.fail(where, "H.264 .mp4 cannot carry transparency (background = "
                       "\"transparent\"); use .mov, .webm, .gif or a folder/ for PNG frames")
    if fmt == "mp4" and output.height % 2:
        raise ctx.fail("[output] height", f"H.264 .mp4 (yuv420p) needs an even height, got "
                       f"{output.height}{named}; use {output.height - 1} or "
                       f"{output.height + 1}")
    if output.frame_count > MAX_FRAMES:
        raise ctx.fail("[output] duration", f"{output.frame_count} frames is too many "
                       f"(at most {MAX_FRAMES}: duration × fps)")


def check_output_file(scene: Scene, file: str | Path, given_as: str = "-o") -> None:
    """Check `file`, given instead of the scene's `[output] file` (e.g. by `render -o`),
    against the scene's other settings; SceneError naming the scene and the key."""
    _check_output(_Context(scene.path), scene.output, Path(file),
                  scene.stage.background.transparent, f"{given_as} {file}")


def scene_from_dict(doc: dict[str, Any], path: Path | None = None) -> Scene:
    """Build a validated Scene from parsed TOML. Relative paths resolve against `path`."""
    ctx = _Context(path)
    for key in doc:
        if key not in SECTIONS:
            shown = [f"[[{n}]]" if n in REPEATED else f"[{n}]" for n in SECTIONS]
            hint = difflib.get_close_matches(key, list(SECTIONS), n=1)
            did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise ctx.fail(f"[{key}]", f"unknown section{did_you_mean}; valid sections: "
                                       f"{', '.join(shown)}")
    if "asset" not in doc:
        raise ctx.fail("[asset] source", "missing: every scene needs an asset")

    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        if name in REPEATED:
            continue
        where = f"[{name}]"
        values = _read_table(ctx, cls, doc.get(name, {}), where)
        for key, (f, spec) in settings_of(cls).items():
            if spec.kind == "file" and f.name in values and name != "output":
                values[f.name] = _resolve_file(ctx, f"{where} {key}", values[f.name],
                                               spec.options())
        if name == "output":
            sections[name] = values
        else:
            sections[name] = _build(ctx, cls, values, where)
    output = _output(ctx, sections["output"], sections["stage"].background.transparent)

    motions = [_build(ctx, SECTIONS["motion"], values, where)
               for where, values in _array_of_tables(ctx, doc, "motion")]
    keyframes = [_keyframe(ctx, values, where)
                 for where, values in _array_of_tables(ctx, doc, "keyframes")]
    _check_tracks_combine(ctx, keyframes)
    return Scene(path=path, asset=sections["asset"], stage=sections["stage"],
                 camera=sections["camera"], motions=motions, keyframes=keyframes,
                 output=output, web=sections["web"])


def _check_tracks_combine(ctx: _Context, keyframes: list[KeyframeSpec]) -> None:
    """Tracks of one property add up (scales multiply); a camera fov track replaces the
    shot's fov, so two of them would add two fields of view."""
    fov = [i for i, k in enumerate(keyframes) if (k.target, k.property) == ("camera", "fov")]
    if len(fov) > 1:
        raise ctx.fail(f"[[keyframes]] #{fov[1] + 1} property",
                       f"a second camera fov track (the first is [[keyframes]] #{fov[0] + 1}); "
                       f"fov replaces the field of view, so put all its keys in one track")


def nesting_depth(text: str) -> int:
    """Deepest nesting of [ ] and { } in TOML `text`, outside strings and comments."""
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if (c == '"' and text[j] == "\\") else 1
            i = j + len(quote) - 1
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def read_toml(path: str | Path, what: str = "scene", error: type = None) -> dict:
    """The parsed TOML of a scene (or campaign: `what`) file, with its guards: present,
    at most MAX_SCENE_BYTES, UTF-8, nested at most MAX_NESTING deep. Raises `error`
    (default SceneError) naming the file."""
    error = error or SceneError
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} file not found")
    if path.stat().st_size > MAX_SCENE_BYTES:
        raise error(f"{path}: {what} file is larger than {MAX_SCENE_BYTES} bytes")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if nesting_depth(text) > MAX_NESTING:
        raise error(f"{path}: invalid {what}: arrays or tables nested more than "
                    f"{MAX_NESTING} deep")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # nesting the scan above missed: still name the file
        raise error(f"{path}: invalid {what}: nested too deeply") from None


def load_scene(path: str | Path) -> Scene:
    """Read and validate a TOML scene file."""
    return scene_from_dict(read_toml(path), Path(path).resolve())


def scene_for_asset(source: str | Path, **output: Any) -> Scene:
    """The default stage for a bare asset (what `maquette render ASSET` and the viewer use)."""
    return scene_from_dict({"asset": {"source": str(Path(source).resolve())},
                            "output": output}, None)


