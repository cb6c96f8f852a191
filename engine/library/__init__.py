"""The asset library (one approved asset, many deliverables) and provenance.

- :mod:`engine.library.db`: the SQLite database (WAL, busy timeout, schema migrations).
- :mod:`engine.library.store`: the library folder: files by hash, versions, approvals.
- :mod:`engine.library.reference`: ``library:NAME@approved|latest|vN`` references, what a
  scene's ``[asset] source`` may name (:func:`resolve_reference`).
- :mod:`engine.library.provenance`: the sidecar every deliverable gets (``OUT.EXT.json``)
  and the lookup by sidecar or by the file's hash.
- :mod:`engine.library.commands`: ``maquette library ...`` and ``maquette provenance``.

Sits above ``asset`` and ``generate`` (an image added is generated once) and below
``scene`` (which resolves references through it); imports nothing of ``render``.
Nothing is imported here eagerly: a scene that names no library opens no database.
"""

from __future__ import annotations

__all__ = ["LIBRARY_PREFIX", "LibraryError", "is_reference", "resolve_reference"]

LIBRARY_PREFIX = "library:"


def __getattr__(name: str):
    if name == "LibraryError":
        from engine.library.db import LibraryError

        return LibraryError
    if name in ("is_reference", "resolve_reference"):
        from engine.library import reference

        return getattr(reference, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
