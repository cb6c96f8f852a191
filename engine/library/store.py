"""The asset library on disk: files by hash, versions as folders, the database beside.

A library is one folder (``./.maquette/`` in the working directory, or
``$MAQUETTE_LIBRARY``)::

    library.sqlite            the database (engine.library.db): names, versions, events,
                              deliverables and their provenance
    objects/ab/ab12...        every file stored once, named by its sha256, read-only
    versions/<sha256>/...     each version's files under their own names (hard links to
                              the objects), so a glTF finds its .bin and textures; this
                              folder is what a scene's `library:NAME@...` renders

A version is content-addressed: its id is the sha256 of its manifest, the lines
``<file sha256>  <path>`` of every file (the asset and its sidecar files: a glTF's
buffers and images, an OBJ's MTL and textures, a generated asset's report and source
image), sorted by path (:func:`version_sha256`). Adding the same files under the same
name again gives the same version, not a new one. Versions of a name are also numbered
in the order they were added: ``robot@v1``, ``robot@v2``.

Files are stored before the database row that names them is committed, so a row never
points at a missing file; a crash can at worst leave an unnamed object, which the next
add of the same content reuses.
"""

from __future__ import annotations

import difflib
import getpass
import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.fileio import default_mode, file_sha256, forget_partial, register_partial
from engine.library.db import LibraryError, connect, transaction

__all__ = ["DB_NAME", "DEFAULT_FOLDER", "LIBRARY_ENV", "Library", "Version", "library_root",
           "now", "user", "version_sha256"]

LIBRARY_ENV = "MAQUETTE_LIBRARY"
DEFAULT_FOLDER = ".maquette"
DB_NAME = "library.sqlite"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_RULE = ("letters, digits, '.', '_' and '-', starting with a letter or digit, at most "
             "64 characters")


def library_root(cwd: Path | None = None) -> Path:
    """Where the library is: $MAQUETTE_LIBRARY, else .maquette/ in the working folder."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return Path(env).expanduser().absolute()
    return (Path(cwd) if cwd else Path.cwd()).absolute() / DEFAULT_FOLDER


def now() -> str:
    """The time as the library writes it: ISO 8601 UTC, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's anonymous uid)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def version_sha256(files: Iterable[tuple[str, str]]) -> str:
    """The content address of a version: sha256 of its manifest, one line
    ``<file sha256>  <path>`` per (path, sha256), sorted by path, '/'-separated."""
    lines = "".join(f"{sha}  {path}\n" for path, sha in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def check_name(name: str, where: str = "--name") -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise LibraryError(f"{where}: {name!r} is not a valid asset name ({NAME_RULE})")
    return name


@dataclass(frozen=True)
class Version:
    """One stored version of a named asset."""

    id: int
    name: str
    seq: int  # 1, 2, ... in the order added under this name
    sha256: str  # content address (version_sha256 of the files)
    main: str  # the asset file's path inside the version folder
    asset_sha256: str  # the asset file's own sha256
    source_image: str | None  # path inside the folder of the image it was generated from
    generator_model: str | None  # the generator's model id, for a generated asset
    note: str
    added: str
    added_by: str
    approved: bool  # approved at least once
    current_approved: bool  # the version that NAME@approved names now

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.seq}"

    @property
    def short(self) -> str:
        return self.sha256[:12]


class Library:
    """An open library folder. Use as a context manager (closes the database)."""

    def __init__(self, root: Path, con: sqlite3.Connection):
        self.root = Path(root)
        self.con = con

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, root: Path | None = None, *, create: bool = False) -> Library:
        """Open the library at `root` (default :func:`library_root`); with `create`, make
        it if it is not there, else LibraryError naming the folder."""
        root = Path(root) if root is not None else library_root()
        db = root / DB_NAME
        if not db.is_file():
            if not create:
                raise LibraryError(
                    f"{root}: no asset library here (no {DB_NAME}); `maquette library add "
                    f"FILE` creates one, or set ${LIBRARY_ENV} to the library's folder")
            if root.exists() and not root.is_dir():
                raise LibraryError(f"{root}: exists and is not a folder; cannot make the "
                                   f"asset library there (set ${LIBRARY_ENV} elsewhere)")
            root.mkdir(parents=True, exist_ok=True)
        for sub in ("objects", "versions"):
            (root / sub).mkdir(exist_ok=True)
        return cls(root, connect(db))

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ files
    def object_path(self, sha: str) -> Path:
        return self.root / "objects" / sha[:2] / sha

    def _store_object(self, source: Path, sha: str) -> Path:
        """Copy `source` into objects/ under its hash (once; read-only)."""
        target = self.object_path(sha)
        if target.is_file():
            return target
        target.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{sha[:12]}.",
                                   suffix=".partial")
        register_partial(Path(tmp))  # (removed on SIGTERM/SIGHUP like every output)
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            if file_sha256(Path(tmp)) != sha:
                raise LibraryError(f"{source}: changed while it was being added; add it "
                                   "again")
            os.chmod(tmp, default_mode() & 0o444)
            os.replace(tmp, target)  # (a process storing the same bytes wins either way)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        finally:
            forget_partial(Path(tmp))
        return target

    def version_folder(self, version: Version) -> Path:
        return self.root / "versions" / version.sha256

    def _materialise(self, sha: str, files: list[tuple[str, str]]) -> Path:
        """versions/<sha>/ with every file under its path (hard links to the objects,
        copies where links are impossible); built aside and renamed in, so a folder
        that exists is complete."""
        final = self.root / "versions" / sha
        if final.is_dir():
            return final
        staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{sha[:12]}.",
                                        suffix=".partial"))
        register_partial(staging)
        try:
            for path, file_sha in files:
                target = staging / path
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(self.object_path(file_sha), target)
                except OSError:
                    shutil.copyfile(self.object_path(file_sha), target)
                    os.chmod(target, default_mode() & 0o444)
            try:
                os.rename(staging, final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(staging, ignore_errors=True)  # another process made it
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            forget_partial(staging)
        return final

    def checkout(self, version: Version) -> Path:
        """The version's main file, its folder made (again) from the objects if needed,
        every file checked against its recorded hash."""
        files = [(r["path"], r["sha256"]) for r in self.files(version)]
        folder = self._materialise(version.sha256, files)
        for path, sha in files:
            target = folder / path
            source = self.object_path(sha)
            if not os.path.lexists(target) and source.is_file():  # removed: put back
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                os.chmod(target, default_mode() & 0o444)
            if not target.is_file() or file_sha256(target) != sha:
                raise LibraryError(
                    f"{target}: does not match {version.label} ({version.short}): the "
                    f"library's copy was changed or removed; restore it from "
                    f"{self.object_path(sha)} or add the asset again")
        return folder / version.main

    def files(self, version: Version) -> list[sqlite3.Row]:
        return self.con.execute("SELECT path, sha256, size FROM files WHERE version_id = ? "
                                "ORDER BY path", (version.id,)).fetchall()

    # ------------------------------------------------------------------ writing
    def add_files(self, name: str, files: dict[str, Path], main: str, *,
                  source_image: str | None = None, generator_model: str | None = None,
                  note: str = "") -> tuple[Version, bool]:
        """Store `files` ({path in the version: file}) as a version of `name`. Returns
        (version, True) when new, (the existing version, False) when the same files were
        added under this name before."""
        check_name(name)
        hashed = {path: file_sha256(source) for path, source in files.items()}
        sha = version_sha256(hashed.items())
        for path, source in files.items():
            self._store_object(source, hashed[path])
        self._materialise(sha, list(hashed.items()))
        sizes = {path: Path(source).stat().st_size for path, source in files.items()}
        stamp, who = now(), user()
        with transaction(self.con) as con:
            row = con.execute("SELECT id FROM versions WHERE name = ? AND sha256 = ?",
                              (name, sha)).fetchone()
            if row is not None:
                return self._version_by_id(row["id"]), False
            con.execute("INSERT OR IGNORE INTO assets (name, created) VALUES (?, ?)",
                        (name, stamp))
            seq = con.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM versions WHERE name = ?",
                              (name,)).fetchone()[0]
            cur = con.execute(
                "INSERT INTO versions (name, seq, sha256, main, asset_sha256, source_image, "
                "generator_model, note, added, added_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, seq, sha, main, hashed[main], source_image, generator_model, note,
                 stamp, who))
            vid = cur.lastrowid
            con.executemany("INSERT INTO files (version_id, path, sha256, size) VALUES "
                            "(?, ?, ?, ?)",
                            [(vid, p, hashed[p], sizes[p]) for p in sorted(hashed)])
            con.execute("INSERT INTO events (time, name, version_id, action, by, note) VALUES "
                        "(?, ?, ?, 'add', ?, ?)", (stamp, name, vid, who, note))
        return self._version_by_id(vid), True

    def approve(self, version: Version, note: str = "") -> Version:
        """Make `version` the one NAME@approved names (an event in the history)."""
        with transaction(self.con) as con:
            con.execute("INSERT INTO events (time, name, version_id, action, by, note) VALUES "
                        "(?, ?, ?, 'approve', ?, ?)",
                        (now(), version.name, version.id, user(), note))
        return self._version_by_id(version.id)

    # ------------------------------------------------------------------ reading
    _SELECT = (
        "SELECT v.*, "
        "EXISTS (SELECT 1 FROM events e WHERE e.version_id = v.id AND e.action = 'approve') "
        "AS approved, "
        "(SELECT e.version_id FROM events e WHERE e.name = v.name AND e.action = 'approve' "
        "ORDER BY e.id DESC LIMIT 1) = v.id AS current_approved FROM versions v ")

    def _version(self, row: sqlite3.Row) -> Version:
        return Version(id=row["id"], name=row["name"], seq=row["seq"], sha256=row["sha256"],
                       main=row["main"], asset_sha256=row["asset_sha256"],
                       source_image=row["source_image"],
                       generator_model=row["generator_model"], note=row["note"],
                       added=row["added"], added_by=row["added_by"],
                       approved=bool(row["approved"]),
                       current_approved=bool(row["current_approved"]))

    def _version_by_id(self, vid: int) -> Version:
        return self._version(self.con.execute(self._SELECT + "WHERE v.id = ?",
                                              (vid,)).fetchone())

    def names(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT name FROM assets ORDER BY name")]

    def versions(self, name: str) -> list[Version]:
        rows = self.con.execute(self._SELECT + "WHERE v.name = ? ORDER BY v.seq", (name,))
        return [self._version(r) for r in rows]

    def require_name(self, name: str) -> list[Version]:
        """The versions of `name`; LibraryError listing the near names when unknown."""
        versions = self.versions(name)
        if versions:
            return versions
        names = self.names()
        near = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = (f"; did you mean {', '.join(near)}?" if near else "") + \
            (f" (the library has: {', '.join(names[:20])}{' ...' if len(names) > 20 else ''})"
             if names else " (the library is empty)")
        raise LibraryError(f"{self.db_path}: no asset named {name!r}{hint}")

    def find(self, name: str, selector: str, where: str = "") -> Version:
        """The version `selector` names: 'approved', 'latest', 'vN' (its number) or a
        prefix (4+ hex digits) of its sha256. LibraryError listing the near matches."""
        versions = self.require_name(name)
        label = f"{where}{name}@{selector}"
        if selector == "latest":
            return versions[-1]
        if selector == "approved":
            for v in versions:
                if v.current_approved:
                    return v
            raise LibraryError(
                f"{label}: {name} has no approved version; approve one with `maquette "
                f"library approve {name}@v{versions[-1].seq}` (versions: "
                f"{self._listing(versions)})")
        matches: list[Version] = []
        if re.fullmatch(r"v\d+", selector):
            matches = [v for v in versions if v.seq == int(selector[1:])]
        elif re.fullmatch(r"[0-9a-f]{4,64}", selector):
            matches = [v for v in versions if v.sha256.startswith(selector)]
        else:
            raise LibraryError(f"{label}: expected @approved, @latest, @vN (a version number) "
                               f"or @ and 4 or more hex digits of a version's sha256")
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise LibraryError(f"{label}: {len(matches)} versions start with {selector}: "
                               f"{self._listing(matches)}; give more digits")
        tags = [f"v{v.seq}" for v in versions] + [v.short for v in versions]
        near = difflib.get_close_matches(selector, tags, n=3, cutoff=0.3)
        hint = f"; did you mean {', '.join(f'{name}@{t}' for t in near)}?" if near else ""
        raise LibraryError(f"{label}: no such version{hint} (versions of {name}: "
                           f"{self._listing(versions)})")

    @staticmethod
    def _listing(versions: list[Version]) -> str:
        return ", ".join(f"v{v.seq} {v.short}" + (" approved" if v.current_approved else "")
                         for v in versions[-10:])

    def history(self, name: str) -> list[tuple[sqlite3.Row, Version]]:
        self.require_name(name)
        rows = self.con.execute("SELECT * FROM events WHERE name = ? ORDER BY id", (name,))
        return [(r, self._version_by_id(r["version_id"])) for r in rows.fetchall()]

    def versions_with_asset(self, asset_sha256: str) -> list[Version]:
        rows = self.con.execute(self._SELECT + "WHERE v.asset_sha256 = ? ORDER BY v.id",
                                (asset_sha256,))
        return [self._version(r) for r in rows]

    def version_at(self, path: Path) -> Version | None:
        """The version whose folder holds `path` (a file a `library:` reference gave)."""
        try:
            rel = Path(os.path.abspath(path)).relative_to(self.root.absolute() / "versions")
        except ValueError:
            return None
        if len(rel.parts) < 2:
            return None
        sha, inner = rel.parts[0], "/".join(rel.parts[1:])
        row = self.con.execute(self._SELECT + "WHERE v.sha256 = ? AND v.main = ? "
                               "ORDER BY v.id LIMIT 1", (sha, inner)).fetchone()
        return self._version(row) if row else None

    # ------------------------------------------------------------------ deliverables
    def record_deliverable(self, kind: str, path: Path, record_json: str,
                           files: Iterable[tuple[Path, str]], version: Version | None) -> int:
        """Note a deliverable and its provenance record; `files`: (path, sha256) of each
        of its files, by which `maquette provenance` finds it again."""
        with transaction(self.con) as con:
            cur = con.execute("INSERT INTO deliverables (time, kind, path, version_id, record) "
                              "VALUES (?, ?, ?, ?, ?)",
                              (now(), kind, str(path), version.id if version else None,
                               record_json))
            did = cur.lastrowid
            con.executemany("INSERT INTO deliverable_files (deliverable_id, path, sha256) "
                            "VALUES (?, ?, ?)", [(did, str(p), sha) for p, sha in files])
        return did

    def deliverables_with(self, sha: str) -> list[sqlite3.Row]:
        """Deliverables one of whose files had this sha256, newest first."""
        return self.con.execute(
            "SELECT DISTINCT d.* FROM deliverables d JOIN deliverable_files f ON "
            "f.deliverable_id = d.id WHERE f.sha256 = ? ORDER BY d.id DESC", (sha,)).fetchall()


def add_asset(library: Library, source: Path, *, name: str | None = None, note: str = "",
              model: str | None = None, log: Callable[[str], None] = print
              ) -> tuple[Version, bool]:
    """Add an asset file (with the files it references) or an image (generated once with
    the generate pipeline; the image, the GLB and its report are all kept)."""
    from engine.scene.model import IMAGE_SUFFIXES, mesh_suffixes

    source = Path(source)
    suffix = source.suffix.lower()
    if suffix not in mesh_suffixes() + IMAGE_SUFFIXES:
        raise LibraryError(f"{source}: expected an asset ({' '.join(mesh_suffixes())}) or an "
                           f"image ({' '.join(IMAGE_SUFFIXES)}); got {suffix or 'no suffix'}")
    if not source.is_file():
        raise LibraryError(f"{source}: " + ("is a folder, not a file" if source.is_dir()
                                            else "file not found"))
    name = check_name(name if name is not None else source.stem,
                      "--name" if name is not None else f"{source} (its name; give --name)")
    if suffix in IMAGE_SUFFIXES:
        return _add_image(library, source, name, note, model, log)
    from engine.asset.files import asset_files, generation_report
    from engine.asset.io import load_asset

    load_asset(source)  # a broken asset is refused here, with the file and the field
    folder = source.absolute().parent
    files: dict[str, Path] = {}
    for path in asset_files(source):
        if not path.is_file():
            raise LibraryError(f"{source}: references {path.name}, which is missing "
                               f"({path}); the asset needs every file it names")
        files[path.absolute().relative_to(folder).as_posix()] = path
    main = source.name
    report = generation_report(source)
    model = report[1]["model"] if report else None
    model_id = model.get("id") if isinstance(model, dict) else None
    return library.add_files(name, files, main, generator_model=model_id, note=note)


def _add_image(library: Library, image: Path, name: str, note: str, model: str | None,
               log: Callable[[str], None]) -> tuple[Version, bool]:
    from engine.generate import GenerateSettings, generate_asset

    if model is None:  # the same image added before is not generated again
        image_sha = file_sha256(image)
        for version in reversed(library.versions(name)):
            if version.source_image and any(
                    r["path"] == version.source_image and r["sha256"] == image_sha
                    for r in library.files(version)):
                log(f"library: {image} is already {version.label} (generated by "
                    f"{version.generator_model}); not generated again")
                return version, False
    settings = GenerateSettings(model=model)
    with tempfile.TemporaryDirectory(prefix="maquette-library-") as tmp:
        log(f"library: generating a 3D asset from {image}")
        result = generate_asset(image, Path(tmp) / f"{image.stem}.glb", settings, log=log)
        files = {result.glb.name: result.glb, result.report_path.name: result.report_path}
        if image.name in files:
            raise LibraryError(f"{image}: its name clashes with the generated files; rename "
                               "the image")
        files[image.name] = image.absolute()
        return library.add_files(name, files, result.glb.name, source_image=image.name,
                                 generator_model=result.report["model"]["id"], note=note)
