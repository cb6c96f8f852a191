"""Run overrides: the `render` / `still` flags that change a scene's output for one run.

`--height` (pixels), `--fps` (frames per second), `--duration` (seconds: the shot's
length, so moves and motion presets are re-timed, as if `[output] duration` were
edited), `--frames` (render only the first N frames of the shot; the shot keeps its
timing, so frame i is the same frame a full render makes), `--msaa` (samples) and
`--draft` (360 px tall, 12 fps, no MSAA; explicit flags win over it). The scene file
is never changed: `apply_overrides` returns a new Scene.

A run with any override and no `-o` writes beside the scene's own output with
`.draft` before the suffix (`out/clip.mp4` -> `out/clip.draft.mp4`, a PNG folder
`out/frames/` -> `out/frames.draft/`): the scene's deliverable is never replaced by a
draft unless `-o` names it. Values are checked against the one settings schema
(`OutputSpec`'s declared settings); errors name the flag (InputError, exit 2).

Pure: no Panda3D; `engine.render.writers` (a leaf) is imported only to read an
output's format.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields, replace

from engine.animation.settings import SettingError, settings_of
from engine.errors import InputError
from engine.scene.model import OutputSpec, Scene

__all__ = ["DRAFT", "DRAFT_SUFFIX", "Overrides", "apply_overrides", "draft_output",
           "flag_value", "overrides_from_args"]

DRAFT = {"height": 360, "fps": 12.0, "msaa": 0}  # what --draft sets
DRAFT_SUFFIX = ".draft"
_SPEC = settings_of(OutputSpec)


@dataclass(frozen=True)
class Overrides:
    """What the flags asked for; None = the scene's own value. `frames`: how many of the
    shot's first frames to render (None: all)."""

    height: int | None = None
    fps: float | None = None
    duration: float | None = None
    frames: int | None = None
    msaa: int | None = None
    draft: bool = False

    def given(self) -> bool:
        """True when any flag changes the run (its output then goes to the .draft name)."""
        return any(getattr(self, f.name) not in (None, False) for f in fields(self))

    def output_values(self) -> dict[str, float | int]:
        """OutputSpec field -> value for this run: --draft's, then the explicit flags'."""
        values: dict[str, float | int] = dict(DRAFT) if self.draft else {}
        for name in ("height", "fps", "duration", "msaa"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        return values


def flag_value(name: str, text: str) -> float | int:
    """`text` given for --NAME, checked by OutputSpec's declared setting NAME (or, for
    `frames`, a whole number of at least 1); SettingError whose key is the flag."""
    flag = f"--{name}"
    try:
        number = float(text)
    except (TypeError, ValueError):
        raise SettingError(flag, f"expected a number, got {text!r}") from None
    if name == "frames":
        if not number.is_integer() or number < 1:
            raise SettingError(flag, f"expected a whole number of frames, 1 or more, got "
                                     f"{text!r}")
        return int(number)
    return _SPEC[name][1].check_number(number, flag)


def overrides_from_args(args: argparse.Namespace) -> Overrides:
    """The Overrides of parsed `render`/`still` arguments (flags a parser lacks: None)."""
    return Overrides(**{f.name: getattr(args, f.name, None) if f.name != "draft"
                        else bool(getattr(args, "draft", False)) for f in fields(Overrides)})


def apply_overrides(scene: Scene, overrides: Overrides, output: str | os.PathLike | None = None
                    ) -> Scene:
    """`scene` with its `[output]` settings replaced for this run.

    `output`: the path the run writes (default: the scene's file), for the rules that
    join the height to the format (H.264 needs an even height). InputError naming the
    flag for a value out of the schema's range, an odd --height for .mp4, more frames
    than the loader allows, or --frames beyond the shot."""
    from engine.render.writers import format_for_path
    from engine.scene.loader import MAX_FRAMES

    values = overrides.output_values()
    for name, value in values.items():
        try:
            values[name] = _SPEC[name][1].check_number(value, f"--{name}")
        except SettingError as exc:
            raise InputError(str(exc)) from None
    spec = replace(scene.output, **values)
    target = os.fspath(output) if output is not None else os.fspath(scene.output.file) + (
        "/" if not scene.output.file.suffix else "")
    if "height" in values and spec.height % 2 and format_for_path(target) == "mp4":
        flag = "--height" if overrides.height is not None else "--draft"
        raise InputError(f"{flag} {spec.height}: H.264 .mp4 (yuv420p) needs an even height "
                         f"(for {os.path.normpath(target)}); use {spec.height - 1} or "
                         f"{spec.height + 1}")
    if spec.frame_count > MAX_FRAMES:
        flags = " and ".join(f"--{n}" for n in ("fps", "duration") if getattr(overrides, n))
        raise InputError(f"{flags or '--draft'}: {spec.frame_count} frames is too many (at "
                         f"most {MAX_FRAMES}: duration x fps)")
    if overrides.frames is not None and overrides.frames > spec.frame_count:
        raise InputError(f"--frames {overrides.frames}: the shot has only {spec.frame_count} "
                         f"frames ({spec.duration:g} s at {spec.fps:g} fps); --duration "
                         f"makes a longer shot")
    return replace(scene, output=spec)


def draft_output(path: str | os.PathLike) -> str:
    """Where a run with overrides writes when no -o is given: `.draft` before the
    suffix of a video, after the name of a PNG folder (`out/frames/` ->
    `out/frames.draft/`)."""
    text = os.fspath(path)
    if text.endswith(("/", os.sep)):
        return text.rstrip("/" + os.sep) + DRAFT_SUFFIX + "/"
    root, suffix = os.path.splitext(text)
    return f"{root}{DRAFT_SUFFIX}{suffix}"
