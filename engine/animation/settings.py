"""Declared settings: one table of type, default, allowed values and range per field.

A dataclass field declared with `setting(...)` carries a `Setting` in its metadata;
that one declaration is what the scene loader validates TOML against, what its
"valid keys" and "did you mean" hints list, what the dataclass itself checks in
`__post_init__` (`check_settings`), and what `tools/scene_reference.py` writes into
the README's scene reference. Units are the field's own (see each `doc`).

Pure Python, imports nothing of ours: the animation dataclasses (`CameraRig`,
`Motion`) use it, and `engine.scene` builds on it. Allowed names may be given as a
callable so that they come from their owner's registry (light presets, x264
presets, file suffixes) when needed, never from a hand-kept copy.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

SETTING = "maquette.setting"  # dataclass field metadata key
MAX_SECONDS = 1e5  # any time or duration a scene gives, seconds

Names = tuple[str, ...] | Callable[[], Iterable[str]]
_MISSING = dataclasses.MISSING


class SettingError(ValueError):
    """A value breaks its declared setting; `key` names the setting, `reason` says why."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _g(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Setting:
    """How one setting is written, checked and documented.

    kind: "number" (float), "integer", "choice" (one of `choices`), "bool", "text"
    (a non-empty string), "file" (a path string; `choices` are the accepted suffixes,
    resolved by the scene loader), "custom" (`parse` turns the written value into
    the field's value, raising ValueError with the reason) or "tables" (an array of
    tables, `[[section.key]]`, each read as the dataclass `table`, whose own fields are
    declared settings; read by the scene loader).
    lo, hi: inclusive bounds for numbers, exclusive when lo_open / hi_open.
    values: the only numbers allowed (e.g. MSAA samples), if not a range.
    none: the word written for the field's None (e.g. "fit"); a None default with
    no word means "absent: see doc" (a per-type default).
    example: the value the README's reference shows, when not the default.
    key: the name written in the file, when it is not the field's name.
    """

    doc: str
    kind: str = "number"
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    choices: Names | None = None
    values: tuple[float, ...] = ()
    none: str | None = None
    parse: Callable[[Any], Any] | None = None
    example: Any = None
    key: str | None = None
    required: bool = False
    table: type | None = None

    def options(self) -> tuple[str, ...]:
        """The allowed names (choices) or suffixes (files), from the owner's registry."""
        if self.choices is None:
            return ()
        names = self.choices() if callable(self.choices) else self.choices
        return tuple(names)

    def range_text(self) -> str:
        """The allowed numbers in words: 'from 0 to 1, not including 1'."""
        if self.values:
            *head, last = (_g(v) for v in self.values)
            return f"{', '.join(head)} or {last}" if head else last
        lo, hi = self.lo, self.hi
        if lo == -math.inf and hi == math.inf:
            return "any finite number"
        if hi == math.inf:
            return f"{'above' if self.lo_open else 'at least'} {_g(lo)}"
        if lo == -math.inf:
            return f"{'below' if self.hi_open else 'at most'} {_g(hi)}"
        text = f"from {_g(lo)} to {_g(hi)}"
        excluded = [_g(v) for v, is_open in ((lo, self.lo_open), (hi, self.hi_open)) if is_open]
        if excluded:
            text += f", not including {' or '.join(excluded)}"
        return text

    def interval(self) -> str:
        """The allowed numbers in interval notation, for the reference: '[0, 1)'."""
        if self.values:
            return " | ".join(_g(v) for v in self.values)
        if self.lo == -math.inf and self.hi == math.inf:
            return ""
        left = "(" if self.lo_open or self.lo == -math.inf else "["
        right = ")" if self.hi_open or self.hi == math.inf else "]"
        lo = "-inf" if self.lo == -math.inf else _g(self.lo)
        hi = "inf" if self.hi == math.inf else _g(self.hi)
        return f"{left}{lo}, {hi}{right}"

    def expected(self) -> str:
        """What a valid value looks like, in words."""
        if self.kind in ("number", "integer"):
            what = "a whole number" if self.kind == "integer" else "a number"
            text = f"{what} {self.range_text()}" if not self.values else self.range_text()
            return f'"{self.none}" or {text}' if self.none else text
        if self.kind == "choice":
            return f"one of {', '.join(self.options())}"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "file":
            return f"a file name ending in {', '.join(self.options())}"
        return self.doc

    def check_number(self, value: Any, key: str) -> float | int:
        """A finite number within this setting's range (ints kept for kind "integer")."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise SettingError(key, f"expected {self.expected()}, got {value!r}")
        value = float(value)
        if self.kind == "integer" and not value.is_integer():
            raise SettingError(key, f"expected a whole number, got {value!r}")
        if self.values:
            ok = value in self.values
        else:
            ok = (math.isfinite(value)
                  and (self.lo < value if self.lo_open else self.lo <= value)
                  and (value < self.hi if self.hi_open else value <= self.hi))
        if not ok:
            raise SettingError(key, f"expected {self.expected()}, got {_g(value)}")
        return int(value) if self.kind == "integer" else value

    def check(self, value: Any, key: str) -> Any:
        """`value` as written (TOML) or given (Python) → the field's value, or SettingError."""
        if self.none is not None and value == self.none:
            return None
        kind = self.kind
        if kind in ("number", "integer"):
            return self.check_number(value, key)
        if kind == "choice":
            if not isinstance(value, str) or value not in self.options():
                raise SettingError(key, f"expected {self.expected()}; got {value!r}")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise SettingError(key, f"expected true or false, got {value!r}")
            return value
        if kind in ("text", "file"):
            if not isinstance(value, str) or not value:
                raise SettingError(key, f"expected a non-empty string, got {value!r}")
            return value
        if kind == "tables":
            return value  # each table is read against `table` by the scene loader
        if self.parse is None:
            return value
        try:
            return self.parse(value)
        except SettingError as exc:  # from a part of the value: "[2]" -> "keys[2]"
            raise SettingError(f"{key}{exc.key}", exc.reason) from None
        except ValueError as exc:
            raise SettingError(key, str(exc)) from None


def setting(default: Any = _MISSING, *, factory: Callable[[], Any] | None = None,
            spec: Setting | None = None, **kwargs: Any) -> Any:
    """A dataclass field declared with its Setting (given whole as `spec`, or built from kwargs)."""
    declared = spec if spec is not None else Setting(**kwargs)
    metadata = {SETTING: declared}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def settings_of(cls: type) -> dict[str, tuple[dataclasses.Field, Setting]]:
    """Written key → (field, Setting) for every declared field of dataclass `cls`, in order."""
    out: dict[str, tuple[dataclasses.Field, Setting]] = {}
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(SETTING)
        if spec is not None:
            out[spec.key or f.name] = (f, spec)
    return out


def default_of(f: dataclasses.Field) -> Any:
    """A field's default value (calling its factory), or dataclasses.MISSING."""
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:
        return f.default_factory()
    return _MISSING


def check_settings(obj: Any) -> None:
    """Check every declared field of dataclass instance `obj`; None passes where it is the
    default. Converts in place (an int given for a float becomes a float). Raises
    SettingError naming the field."""
    for key, (f, spec) in settings_of(type(obj)).items():
        value = getattr(obj, f.name)
        if value is None and (f.default is None or spec.none is not None):
            continue
        if spec.kind in ("file", "custom", "tables"):
            continue  # resolved by their loader, not plain values
        object.__setattr__(obj, f.name, spec.check(value, key))
