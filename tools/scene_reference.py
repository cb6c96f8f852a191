"""Write the README's scene-file reference from the one settings table.

    python tools/scene_reference.py            # print the reference (a TOML block)
    python tools/scene_reference.py --check    # exit 1 if README.md differs from it
    python tools/scene_reference.py --write    # rewrite that block of README.md

Every key, its default (or an example), its allowed values or range and its
description come from the `setting(...)` declarations beside the scene
dataclasses' fields (`engine.scene.model.SECTIONS`); nothing here is typed twice.
The block sits in README.md between the BEGIN and END marker lines below.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a plain checkout, uninstalled
    sys.path.insert(0, str(ROOT))

from engine.animation.settings import Setting, default_of, settings_of  # noqa: E402
from engine.fileio import write_bytes_atomic  # noqa: E402
from engine.scene.model import (  # noqa: E402
    REPEATED,
    SECTION_NOTES,
    SECTIONS,
    TRACK_PROPERTIES,
)

README = ROOT / "README.md"
BEGIN = ("<!-- scene reference: generated from engine/scene/model.py by "
         "`python tools/scene_reference.py --write`; edit the declarations, not this -->")
END = "<!-- end of the generated scene reference -->"
COMMENT_COLUMN = 24
WIDTH = 100


def toml_value(value) -> str:
    """A Python value as a TOML literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def shown_value(f, spec: Setting):
    if spec.example is not None:
        return spec.example
    default = default_of(f)
    if default is None and spec.none:
        return spec.none
    return default


def allowed(spec: Setting) -> str:
    """The allowed values in the reference's notation."""
    if spec.kind == "choice":
        return " | ".join(spec.options())
    if spec.kind == "file":
        return " ".join(spec.options())
    if spec.kind in ("number", "integer"):
        text = spec.interval()
        return f'"{spec.none}" or {text}' if spec.none else text
    return ""


def comment(f, spec: Setting) -> str:
    parts = [p for p in (allowed(spec), spec.doc) if p]
    text = "; ".join(parts)
    if spec.required:
        text = "required: " + text
    elif default_of(f) is None and not spec.none:
        text = "optional: " + text
    return text


def line(assignment: str, text: str) -> list[str]:
    """`assignment` with `text` as a comment at COMMENT_COLUMN, wrapped to WIDTH."""
    pad = max(COMMENT_COLUMN, len(assignment) + 2)
    first, *rest = textwrap.wrap(text, WIDTH - pad - 2, break_on_hyphens=False) or [""]
    rest = textwrap.wrap(" ".join(rest), WIDTH - COMMENT_COLUMN - 2, break_on_hyphens=False)
    out = [f"{assignment:<{pad}}# {first}".rstrip()]
    out += [f"{'':<{COMMENT_COLUMN}}# {more}" for more in rest]
    return out


def key_value_ranges() -> list[str]:
    """Comment lines: the values a keyframe track of each property may take."""
    groups: dict[tuple[str, str], dict[str, list[str]]] = {}
    for target, properties in TRACK_PROPERTIES.items():
        for prop, spec in properties.items():
            group = groups.setdefault((spec.interval(), spec.doc), {})
            group.setdefault(prop, []).append(target)
    out = ["# keyframe values, at the keys and between them:"]
    for (interval, doc), props in groups.items():
        stems = dict.fromkeys(p.split(".")[0] for p in props)
        names = ", ".join(
            stem + "." + "|".join(p.split(".")[1] for p in props if p.startswith(stem + "."))
            if f"{stem}." in "".join(props) else stem for stem in stems)
        targets = " and ".join(dict.fromkeys(t for ts in props.values() for t in ts))
        out += line("", f"{names} ({targets}): {interval} {doc}")
    return out


def reference() -> str:
    """The whole scene reference: one TOML table per section, every key."""
    out: list[str] = []
    for name, cls in SECTIONS.items():
        header = f"[[{name}]]" if name in REPEATED else f"[{name}]"
        if out:
            out.append("")
        out += line(header, SECTION_NOTES[name]) if name in SECTION_NOTES else [header]
        rows = []
        for key, (f, spec) in settings_of(cls).items():
            if spec.kind == "tables":  # [[name.key]]: written after the section's own keys
                rows.append((f"[[{name}.{key}]]", spec))
                continue
            out += line(f"{key} = {toml_value(shown_value(f, spec))}", comment(f, spec))
        for header, spec in rows:
            out += line(header, spec.doc)
            for key, (f, row_spec) in settings_of(spec.table).items():
                out += line(f"{key} = {toml_value(shown_value(f, row_spec))}",
                            comment(f, row_spec))
        if name == "keyframes":
            out += key_value_ranges()
    return "```toml\n" + "\n".join(out) + "\n```\n"


def readme_block(text: str) -> tuple[int, int]:
    """Start and end offsets of the generated block (marker lines excluded) in `text`."""
    start = text.find(BEGIN)
    end = text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{README}: the marker lines of the scene reference are missing")
    return start + len(BEGIN) + 1, end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="fail if README.md is stale")
    group.add_argument("--write", action="store_true", help="rewrite the block in README.md")
    args = parser.parse_args(argv)
    block = reference()
    if not (args.check or args.write):
        sys.stdout.write(block)
        return 0
    text = README.read_text(encoding="utf-8")
    start, end = readme_block(text)
    if args.check:
        if text[start:end] != block:
            print(f"{README}: the scene reference differs from the settings declared in "
                  f"engine/scene/model.py; run python tools/scene_reference.py --write",
                  file=sys.stderr)
            return 1
        return 0
    new = text[:start] + block + text[end:]
    if new != text:
        write_bytes_atomic(README, new.encode("utf-8"))
        print(f"wrote the scene reference into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
