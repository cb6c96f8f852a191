"""Provenance: which asset version and settings made a deliverable.

Every render, still and export writes a sidecar beside its deliverable,
``OUT.EXT.json`` (``clip.mp4`` → ``clip.mp4.json``; a folder of frames ``frames/`` →
``frames.json``): the full name is kept so that ``clip.mp4`` and a still ``clip.png``, or
an export ``robot.stl`` beside a generated ``robot.glb`` (whose ``robot.json`` is the
generation report), never share one sidecar. :func:`write_provenance` is the one writer.

A record (JSON, ``"provenance": 1``)::

    kind        render | still | export | library-export
    deliverable {path, sha256, size, files: [{path, sha256}]}  (a folder: every frame)
    asset       {path, sha256, library: {name, version, seq, sha256, reference,
                 approved, folder} or null, also_in_library: [...], generator:
                 {model, model_sha256, source_image_sha256} or null}
    scene       {path, sha256} or null (a bare asset on the default stage)
    settings    the resolved settings (the whole scene as rendered: output size, fps,
                duration, camera, lights, motions, keyframes; an export's options)
    tool        {name: maquette, version}
    created     ISO 8601 UTC
    machine     {host, platform, python, user}

The record is also kept in the library (engine.library.store, when a library exists for
the working folder), with the sha256 of every file of the deliverable, so that
:func:`find_provenance` answers from the file's bytes alone once the sidecar is gone.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from engine.asset.files import generation_report
from engine.fileio import atomic_output, file_sha256
from engine.library.db import LibraryError
from engine.library.reference import resolved_reference
from engine.library.store import DB_NAME, Library, Version, library_root, now, user

__all__ = ["FORMAT", "Found", "ProvenanceNotFound", "build_record", "find_provenance",
           "format_record", "scene_settings", "sidecar_path", "write_provenance"]

FORMAT = 1


class ProvenanceNotFound(LookupError):
    """Neither a sidecar nor a library record for a file (exit 1)."""


def sidecar_path(deliverable: Path) -> Path:
    """``OUT.EXT.json`` beside the deliverable (a folder ``frames/``: ``frames.json``)."""
    deliverable = Path(os.path.abspath(deliverable))
    return deliverable.with_name(deliverable.name + ".json")


def machine() -> dict[str, str]:
    return {"host": platform.node(), "platform": platform.platform(),
            "python": platform.python_version(), "user": user()}


def jsonable(value: Any) -> Any:
    """Dataclasses, paths, tuples, numpy arrays and scalars as plain JSON values (anything
    else as its repr): sidecars and the chunk scheduler's scene fingerprint
    (engine.render.chunks), so both are deterministic."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays and scalars
        return jsonable(value.tolist())
    return repr(value)


def scene_settings(scene) -> dict[str, Any]:
    """The resolved settings of a scene (everything but its own path), as JSON."""
    data = jsonable(scene)
    data.pop("path", None)
    output = getattr(scene, "output", None)
    if isinstance(data.get("output"), dict) and output is not None:
        for key in ("width", "height", "frame_count"):  # derived (aspect, duration × fps)
            if hasattr(output, key):
                data["output"][key] = jsonable(getattr(output, key))
    return data


def deliverable_files(path: Path) -> list[tuple[Path, str]]:
    """(path, sha256) of a file, or of every file in a folder (frames), sorted."""
    path = Path(path)
    if path.is_dir():
        return [(p, file_sha256(p)) for p in sorted(path.rglob("*")) if p.is_file()]
    return [(path, file_sha256(path))]


def _library_here(root: Path | None = None) -> Path | None:
    root = Path(root) if root else library_root()
    return root if (root / DB_NAME).is_file() else None


def _version_record(version: Version, reference: str | None, folder: Path) -> dict:
    return {"name": version.name, "version": f"v{version.seq}", "seq": version.seq,
            "sha256": version.sha256, "label": version.label, "reference": reference,
            "approved": version.current_approved, "folder": str(folder)}


def _generation_report(asset: Path) -> dict | None:
    """What `maquette generate` recorded beside a generated asset (NAME.json), if there."""
    found = generation_report(asset)
    if found is None:
        return None
    report, doc = found
    model, source = doc.get("model") or {}, doc.get("source") or {}
    if not isinstance(model, dict) or not isinstance(source, dict):
        return None
    return {"model": model.get("id"), "model_sha256": model.get("sha256"),
            "source_image_sha256": source.get("sha256"), "report": str(report)}


def asset_record(asset: Path, library: Path | None = None) -> dict[str, Any]:
    """The asset's part of a record: its hash, its library version (the reference this
    process resolved to it, or else the version whose folder holds it or whose asset has
    its hash) and the generator that made it."""
    asset = Path(os.path.abspath(asset))
    sha = file_sha256(asset)
    record: dict[str, Any] = {"path": str(asset), "sha256": sha, "library": None,
                              "also_in_library": [], "generator": _generation_report(asset)}
    resolved = resolved_reference(asset)
    root = resolved.library if resolved else _library_here(library)
    version = resolved.version if resolved else None
    if root is not None:
        with Library.open(root) as lib:
            version = version or lib.version_at(asset)
            same = lib.versions_with_asset(sha)
            if version is None and same:
                version = same[-1]
            if version is not None:
                version = next((v for v in same if v.id == version.id), version)
                record["library"] = _version_record(
                    version, resolved.reference if resolved else None,
                    lib.version_folder(version))
                record["library"]["path"] = str(lib.root)
            record["also_in_library"] = [v.label for v in same
                                         if version is None or v.id != version.id]
    if record["generator"] is None and version is not None and version.generator_model:
        record["generator"] = {"model": version.generator_model}
    return record


def build_record(kind: str, deliverable: Path, asset: Path, *, scene_file: Path | None = None,
                 settings: dict[str, Any] | None = None,
                 files: list[tuple[Path, str]] | None = None,
                 library: Path | None = None) -> dict[str, Any]:
    from engine import __version__

    deliverable = Path(os.path.abspath(deliverable))
    files = files if files is not None else deliverable_files(deliverable)
    main = next((sha for p, sha in files if Path(p) == deliverable), None)
    return {
        "provenance": FORMAT,
        "kind": kind,
        "deliverable": {"path": str(deliverable), "sha256": main,
                        "size": deliverable.stat().st_size if deliverable.is_file() else None,
                        "files": [{"path": str(p), "sha256": sha} for p, sha in files]},
        "asset": asset_record(asset, library),
        "scene": ({"path": str(Path(scene_file).absolute()),
                   "sha256": file_sha256(Path(scene_file))} if scene_file else None),
        "settings": jsonable(settings or {}),
        "tool": {"name": "maquette", "version": __version__},
        "created": now(),
        "machine": machine(),
    }


def write_provenance(kind: str, deliverable: Path, asset: Path, *,
                     scene_file: Path | None = None, settings: dict[str, Any] | None = None,
                     files: list[Path] | None = None, library: Path | None = None
                     ) -> tuple[Path, dict[str, Any]]:
    """Write the sidecar of `deliverable` (atomically) and, when a library exists, record
    it there. `files`: the deliverable's files when there are several (an OBJ with its
    MTL and texture), else the file itself or every file of the folder. Returns
    (sidecar, record)."""
    hashed = [(Path(os.path.abspath(p)), file_sha256(Path(p))) for p in files] if files \
        else None
    record = build_record(kind, deliverable, asset, scene_file=scene_file, settings=settings,
                          files=hashed, library=library)
    sidecar = sidecar_path(deliverable)
    text = json.dumps(record, indent=2) + "\n"
    with atomic_output(sidecar, "w") as handle:
        handle.write(text)
    root = Path(record["asset"]["library"]["path"]) if record["asset"]["library"] \
        else _library_here(library)
    if root is not None:
        with Library.open(root) as lib:
            version = None
            if record["asset"]["library"]:
                version = lib.find(record["asset"]["library"]["name"],
                                   record["asset"]["library"]["version"])
            lib.record_deliverable(kind, Path(record["deliverable"]["path"]), text,
                                   [(Path(f["path"]), f["sha256"])
                                    for f in record["deliverable"]["files"]], version)
    return sidecar, record


@dataclass
class Found:
    record: dict[str, Any]
    how: str  # "sidecar", "library" (by the file's hash) or "report" (generate's)
    where: Path  # the sidecar, the library's database, or the report
    notes: list[str]


def find_provenance(path: Path, library: Path | None = None) -> Found:
    """The provenance of a deliverable: from its sidecar; when that is gone (or no longer
    matches the file), from the library, by the file's sha256; for a generated GLB, from
    its generation report. ProvenanceNotFound when none knows it."""
    path = Path(os.path.abspath(path))
    if not path.exists():
        raise LibraryError(f"{path}: file not found")
    notes: list[str] = []
    root = None
    sidecar = sidecar_path(path)
    sha = file_sha256(path) if path.is_file() else None
    if sidecar.is_file():
        try:
            record = json.loads(sidecar.read_text())
        except (OSError, ValueError) as exc:
            raise LibraryError(f"{sidecar}: not a provenance record ({exc})") from None
        if not isinstance(record, dict) or record.get("provenance") != FORMAT:
            raise LibraryError(f"{sidecar}: provenance: expected a Maquette provenance record "
                               f"(\"provenance\": {FORMAT})")
        recorded = (record.get("deliverable") or {}).get("sha256")
        if sha is None or recorded == sha:
            return Found(record, "sidecar", sidecar, notes)
        notes.append(f"{path} changed after {sidecar} was written (sha256 {sha[:12]}, the "
                     f"sidecar says {str(recorded)[:12]}); looking it up by its hash")
    if sha is not None:
        root = _library_here(library)
        if root is not None:
            with Library.open(root) as lib:
                rows = lib.deliverables_with(sha)
                if rows:
                    if not sidecar.is_file():
                        notes.append(f"no sidecar ({sidecar.name}); found by sha256 "
                                     f"{sha[:12]} in the library")
                    if len(rows) > 1:
                        notes.append(f"{len(rows)} deliverables had these bytes; the newest "
                                     "is shown")
                    return Found(json.loads(rows[0]["record"]), "library", lib.db_path, notes)
                same = lib.versions_with_asset(sha)
                if same:
                    notes.append(f"{path} is the asset of library version "
                                 f"{', '.join(v.label for v in same)}")
        report = _generation_report(path)
        if report is not None:
            record = {"provenance": FORMAT, "kind": "generate",
                      "deliverable": {"path": str(path), "sha256": sha},
                      "asset": {"path": str(path), "sha256": sha, "generator": report}}
            return Found(record, "report", Path(report["report"]), notes)
    where = (f", and its sha256 is not in the library {root}" if root
             else ", and no library to look in by its hash" if sha is not None else "")
    raise ProvenanceNotFound(f"{path}: no provenance: no sidecar {sidecar.name}{where}"
                             + (f" ({'; '.join(notes)})" if notes else ""))


def format_record(found: Found) -> str:
    """A few lines for people: what made the deliverable."""
    r = found.record
    lines = [f"{r['deliverable']['path']}: {r.get('kind', '?')} (from the {found.how}: "
             f"{found.where})"]
    if r.get("created"):
        tool = r.get("tool") or {}
        host = (r.get("machine") or {}).get("host", "?")
        lines.append(f"  made      {r['created']} on {host} with maquette "
                     f"{tool.get('version', '?')}")
    if r["deliverable"].get("sha256"):
        lines.append(f"  sha256    {r['deliverable']['sha256']}")
    asset = r.get("asset") or {}
    lines.append(f"  asset     {asset.get('path')} (sha256 {str(asset.get('sha256'))[:12]})")
    lib = asset.get("library")
    if lib:
        via = f" via {lib['reference']}" if lib.get("reference") else ""
        lines.append(f"  library   {lib['label']} (version sha256 {lib['sha256'][:12]})"
                     f"{via}{', approved' if lib.get('approved') else ', not approved'}")
    if asset.get("also_in_library"):
        lines.append(f"  also      {', '.join(asset['also_in_library'])}")
    gen = asset.get("generator")
    if gen:
        lines.append(f"  generator {gen.get('model')}")
    if r.get("scene"):
        lines.append(f"  scene     {r['scene']['path']} (sha256 {r['scene']['sha256'][:12]})")
    out = (r.get("settings") or {}).get("output")
    if isinstance(out, dict):
        lines.append(f"  output    {out.get('width')}x{out.get('height')}, {out.get('fps')} fps, "
                     f"{out.get('duration')} s")
    for note in found.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)

