"""`library:NAME@SELECTOR` references: what a scene's ``[asset] source`` may name.

SELECTOR is ``approved`` (the version approved last), ``latest`` (the one added last),
``vN`` (its number) or 4+ hex digits of the version's sha256. :func:`resolve_reference`
turns a reference into the file to load (the version's main file, in the library's
``versions/<sha256>/`` folder, checked against its hashes) and the files that make it.
The asset-source resolver (engine.scene) calls it; nothing else resolves references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.library import LIBRARY_PREFIX
from engine.library.db import LibraryError
from engine.library.store import Library, Version, check_name

__all__ = ["LIBRARY_PREFIX", "LibraryReference", "is_reference", "parse_reference",
           "resolve_reference"]

_FORM = "library:NAME@approved, library:NAME@latest or library:NAME@vN"


def is_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith(LIBRARY_PREFIX)


def parse_reference(text: str, where: str = "") -> tuple[str, str]:
    """(name, selector) of 'library:NAME@SELECTOR'; LibraryError naming `where`."""
    where = f"{where}: " if where else ""
    if not is_reference(text):
        raise LibraryError(f"{where}{text!r} is not a library reference ({_FORM})")
    body = text[len(LIBRARY_PREFIX):]
    name, at, selector = body.partition("@")
    if not at or not selector:
        raise LibraryError(f"{where}{text!r}: say which version: {_FORM} (a sha256 prefix "
                           "works too)")
    check_name(name, f"{where}{text!r} name")
    if not re.fullmatch(r"approved|latest|v\d+|[0-9a-f]{4,64}", selector):
        raise LibraryError(f"{where}{text!r}: unknown version {selector!r}; expected "
                           f"@approved, @latest, @vN or 4+ hex digits of a version's sha256")
    return name, selector


@dataclass(frozen=True)
class LibraryReference:
    """A resolved reference."""

    reference: str  # as written
    path: Path  # the asset file to load (the version's main file)
    files: tuple[Path, ...]  # every file of the version (the asset and its sidecars)
    version: Version
    library: Path  # the library folder


# What this process resolved, by the resolved file: provenance says which reference
# (e.g. @approved) gave an asset, not only which version it was.
_resolved: dict[Path, LibraryReference] = {}


def resolve_reference(text: str, library: Path | None = None, where: str = ""
                      ) -> LibraryReference:
    """Resolve 'library:NAME@SELECTOR' in the library at `library` (default: the one
    for this working folder, engine.library.store.library_root). LibraryError naming
    `where` (e.g. 'scene.toml: [asset] source') and the near names or versions."""
    name, selector = parse_reference(text, where)
    prefix = f"{where}: " if where else ""
    try:
        with Library.open(library) as lib:
            version = lib.find(name, selector, prefix)
            path = lib.checkout(version)
            folder = lib.version_folder(version)
            files = tuple(folder / r["path"] for r in lib.files(version))
            resolved = LibraryReference(text, path, files, version, lib.root)
    except LibraryError as exc:
        if prefix and not str(exc).startswith(prefix):
            raise LibraryError(f"{prefix}{text}: {exc}") from None
        raise
    _resolved[path] = resolved
    return resolved


def resolved_reference(path: Path) -> LibraryReference | None:
    """The reference this process resolved to `path`, if any."""
    return _resolved.get(Path(path))
