"""Hot reload's file watching: a file's signature (mtime ns, size, inode) and a set of
watched paths that says which of them changed since they were last taken in."""

from __future__ import annotations

import os
from pathlib import Path


def signature(path: Path) -> tuple:
    """(mtime_ns, size, inode) of `path`; () when it cannot be read (deleted, moved)."""
    try:
        st = os.stat(path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        return ()


class FileWatch:
    """Paths and the signatures last seen: `changed()` lists those that differ now."""

    def __init__(self) -> None:
        self._seen: dict[Path, tuple] = {}

    def watch(self, paths) -> None:
        """Watch exactly `paths` from now on (their current versions count as seen)."""
        self._seen = {Path(p): signature(Path(p)) for p in paths}

    def add(self, path: Path) -> None:
        self._seen[Path(path)] = signature(Path(path))

    def changed(self) -> list[Path]:
        return [p for p, sig in self._seen.items() if signature(p) != sig]

    def take_in(self) -> None:
        """Count every watched file's current version as seen."""
        self.watch(list(self._seen))
