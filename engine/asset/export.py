"""Write an asset in the format the next tool wants, atomically, and read it back.

Formats (one module each under :mod:`engine.asset.formats`, behind its table
``FORMATS``): GLB and glTF (PBR material, texture embedded in the GLB or in the .bin
next to the .gltf, optional baked rigid animation), OBJ + MTL + texture, FBX (binary
7.4, our own writer), USDZ (usd-core), binary STL (metres or millimetres) and PLY.

The mesh passes the asset check (:func:`engine.asset.check.check_geometry`) before a
byte is written. Every file is written under a temporary name in the target folder
and moved into place only when all of an export's files are complete; an export never
writes over the asset it was read from.  :func:`verify_export` reads a written file
back with an independent reader (the table's ``read_back``: trimesh for glTF/OBJ/PLY,
numpy for binary STL and large OBJ, ufbx for FBX, usd-core for USDZ) and compares
triangle count, bounds and texture presence.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.asset.check import check_geometry
from engine.asset.content import content_losses, gltf_content
from engine.asset.formats import EXPORT_FORMATS, FORMATS, WriteOptions
from engine.asset.formats.common import carried
from engine.asset.formats.gltf import GLTF_TANGENTS, bake_animation, gltf_files, split_glb
from engine.asset.formats.gltf_decode import packed_glb
from engine.asset.model import Asset, AssetError, mesh_uv, texture_image
from engine.fileio import Transaction, write_files_atomic

__all__ = ["EXPORT_FORMATS", "GLTF_TANGENTS", "ExportResult", "bake_animation", "export_verified",
           "export_mesh", "expected_figures", "passed_through", "read_back", "source_content",
           "verify_content", "verify_export"]


@dataclass
class ExportResult:
    path: Path
    format: str
    files: list[Path] = field(default_factory=list)


def _export_format(out: Path, fmt: str | None, units: str, animation) -> str:
    """The format to write, its options checked against what it can carry."""
    fmt = (fmt or out.suffix.lower().lstrip(".")).lower()
    if fmt not in FORMATS:
        raise AssetError(f"{out}: unknown export format {fmt!r}; expected one of "
                         f"{', '.join(EXPORT_FORMATS)}")
    if units not in ("m", "mm"):
        raise AssetError(f"units must be 'm' or 'mm', not {units!r}")
    if units == "mm" and not FORMATS[fmt].millimetres:
        raise AssetError("--units mm is for STL (3D printing); other formats are in metres")
    if animation is not None and not FORMATS[fmt].animation:
        raise AssetError("--animation bakes motion into glTF channels: export .glb or .gltf")
    return fmt


def export_mesh(mesh, out: str | os.PathLike, *, fmt: str | None = None,
                units: str = "m", animation: tuple[np.ndarray, np.ndarray] | None = None,
                protect: list[Path] = (), txn: Transaction | None = None,
                pieces: list = (), document: bytes | None = None) -> ExportResult:
    """Write `mesh` to `out` in `fmt` (default: from the suffix).

    units: "m" or "mm" (STL only: printers expect millimetres).  animation: (times (k,),
    matrices (k, 4, 4)) baked into GLB/glTF.  protect: paths never to write over.
    txn: stage the files into this engine.fileio.Transaction (the caller verifies the
    staged files, then commits); without it they are moved into place at once.
    pieces: `mesh` as the file's several meshes with their own materials (Asset.pieces),
    for the writers that keep them. document: `mesh` as its decoded glTF document (GLB
    bytes), for the writers that convert the scene (USDZ, FBX): nodes, skins, morphs and
    clips come from it; without it they write `mesh` as a GLB first."""
    out = Path(out)
    fmt = _export_format(out, fmt, units, animation)
    check_geometry(out, np.asarray(mesh.vertices), np.asarray(mesh.faces),
                   "the mesh to write")
    files = FORMATS[fmt].write(mesh, out, WriteOptions(units=units, animation=animation,
                                                       pieces=tuple(pieces),
                                                       document=document))
    written = write_files_atomic(files, list(protect), txn)
    return ExportResult(path=out, format=fmt, files=written)


# ----------------------------------------------------------------------------------
# Read-back verification
# ----------------------------------------------------------------------------------


def expected_figures(mesh, fmt: str, units: str = "m",
                     first_matrix: np.ndarray | None = None, pieces=()) -> dict:
    """What a faithful export of `mesh` (written as `pieces`, when several) reads back
    as."""
    bounds = np.asarray(mesh.bounds, dtype=float)
    if first_matrix is not None:
        import trimesh

        corners = trimesh.bounds.corners(bounds)
        moved = trimesh.transform_points(corners, first_matrix)
        bounds = np.array([moved.min(axis=0), moved.max(axis=0)])
    if units == "mm":
        bounds = bounds * 1000.0
    # (several pieces: a texture only when one has its own; trimesh's concatenation
    # bakes untextured materials' colours into an atlas the writers do not use)
    textured = any(texture_image(m) is not None and mesh_uv(m) is not None
                   for m in (pieces if len(pieces) > 1 else [mesh]))
    return {"triangles": int(len(mesh.faces)), "bounds": bounds,
            "textured": bool(textured and FORMATS[fmt].keeps_texture),
            **{key: has for key, has in carried(mesh).items() if key in FORMATS[fmt].keeps}}


def read_back(path: Path, fmt: str | None = None) -> dict:
    """Figures of an exported file, read with a reader that is not our writer."""
    path = Path(path)
    fmt = (fmt or path.suffix.lower().lstrip(".")).lower()
    if fmt not in FORMATS:
        raise AssetError(f"{path}: unknown format {fmt!r} to read back")
    return FORMATS[fmt].read_back(path)


# what a scene writer's read-back counts (engine.asset.gltf_scene.GltfScene.content)
_SCENE_COUNTS = (("skinned", "skinned meshes"), ("morph_targets", "morph targets"),
                 ("second_uv", "meshes' second UV sets"),
                 ("colored", "meshes' vertex colours"), ("clips", "animation clips"))


def verify_export(path: Path, expected: dict, fmt: str | None = None) -> dict:
    """Read `path` back and compare with `expected` (from :func:`expected_figures`).
    Returns the figures read; raises AssetError on a mismatch."""
    try:
        got = read_back(path, fmt)
    except AssetError:
        raise
    except Exception as exc:
        raise AssetError(f"{path}: the export does not read back: {exc}") from None
    problems = []
    if got["triangles"] != expected["triangles"]:
        problems.append(f"{got['triangles']} triangles read back, {expected['triangles']} "
                        f"written")
    scale = float(np.max(np.abs(expected["bounds"]))) or 1.0
    if not np.allclose(got["bounds"], expected["bounds"], atol=1e-4 * scale):
        problems.append(f"bounds {np.round(got['bounds'], 5).tolist()} read back, "
                        f"{np.round(expected['bounds'], 5).tolist()} written")
    if expected["textured"] and not got["textured"]:
        problems.append("the texture did not come back")
    for key, what in (("normals", "the normals"), ("uv", "the UVs"),
                      ("colors", "the vertex colours")):
        if expected.get(key) and key in got and not got[key]:  # (readers that report it)
            problems.append(f"{what} did not come back")
    for key, what in _SCENE_COUNTS:  # (a scene writer's: its reader counts them)
        if key in expected and key in got and got[key] < expected[key]:
            problems.append(f"{got[key]} of {expected[key]} {what} came back")
    if problems:
        raise AssetError(f"{path}: export verification failed ({got['reader']}): "
                         + "; ".join(problems))
    return got


def passed_through(mesh, out: Path, source: Asset | None, fmt: str | None, animation,
                   document: bytes | None = None) -> dict[Path, bytes] | None:
    """The files of a glTF export written from a glTF document rather than from `mesh`:
    `document` (prep's, engine.asset.gltf_prep) when given, else the source itself when
    `mesh` is still its mesh (a self-contained GLB byte for byte; a .gltf packed), so
    its meshes, materials, normals, UV sets, colours, skins, morphs, animations and
    extensions all survive; `animation` is added to it as one more clip. None when the
    export must be written from `mesh` (another format, a mesh from OBJ/PLY/STL)."""
    fmt = (fmt or out.suffix.lower().lstrip(".")).lower()
    if fmt not in ("glb", "gltf"):
        return None
    if document is not None:
        data = document
    elif source is not None and source.mesh is mesh and source.format in ("glb", "gltf"):
        data = packed_glb(source.source)
    else:
        return None
    if animation is not None:
        data = bake_animation(data, *animation)
    return {out: data} if fmt == "glb" else gltf_files(data, out)


def source_content(source: Asset | None) -> dict | None:
    """engine.asset.content figures of a glTF source asset (its decoded document), or
    None for other sources."""
    if source is None or source.document is None:
        return None
    return gltf_content(split_glb(packed_glb(source.document))[0])


def verify_content(path: Path, fmt: str, expected: dict | None) -> list[str]:
    """What the written glTF at `path` lost of the source's content (`expected`, from
    :func:`source_content`); raises AssetError naming it. [] for other formats."""
    if expected is None or fmt not in ("glb", "gltf"):
        return []
    data = Path(path).read_bytes()
    doc = split_glb(data)[0] if fmt == "glb" else json.loads(data)
    lost = content_losses(expected, gltf_content(doc))
    if lost:
        raise AssetError(f"{path}: export verification failed (against the source's "
                         f"glTF document): lost " + "; ".join(lost))
    return lost


def _scene_document(mesh, out: Path, source: Asset | None, document: bytes | None,
                    options: dict) -> bytes | None:
    """The glTF document of `mesh` for a writer that converts the scene (USDZ, FBX): prep's
    `document`, else the source's own while `mesh` is still its mesh; None otherwise
    (the writer writes `mesh` as a GLB first)."""
    fmt = _export_format(Path(out), options.get("fmt"), options.get("units", "m"),
                         options.get("animation"))
    if not FORMATS[fmt].scene:
        return None
    if document is not None:
        return document
    if source is not None and source.mesh is mesh and source.document is not None:
        return packed_glb(source.document)
    return None


def export_verified(mesh, out: Path, inputs: list[Path], *, source: Asset | None = None,
                    document: bytes | None = None, pieces: list | None = None, **options):
    """Export `mesh` to `out` (and its companion files), read the staged files back with
    an independent reader, and only then move them into place, all together: a failed
    check leaves the previous output as it was. `source`: the asset `mesh` was loaded
    as; when `mesh` is still its mesh, a glTF export passes the source through
    (:func:`passed_through`). `document`: prep's glTF document for `mesh`
    (engine.asset.gltf_prep), written for a glTF export instead of `mesh` and converted
    for USDZ and FBX (else the source's own document while `mesh` is its mesh). A glTF
    export of a glTF source is also compared with the *source's* document (primitives,
    materials, attributes, animations...: :func:`verify_content`). `pieces`: `mesh` as
    several meshes with their own materials (default: the source's, while `mesh` is
    its mesh). Returns (ExportResult,
    figures read)."""
    if pieces is None:
        pieces = source.pieces if source is not None and source.mesh is mesh else []
    animation = options.get("animation")
    figures = {}
    with Transaction(inputs) as txn:
        files = passed_through(mesh, Path(out), source, options.get("fmt"), animation,
                               document)
        scene = None
        if files is not None:
            fmt = _export_format(Path(out), options.get("fmt"), options.get("units", "m"),
                                 animation)
            written = ExportResult(Path(out), fmt, write_files_atomic(
                files, list(options.get("protect", ())), txn))
        else:
            scene = _scene_document(mesh, out, source, document, options)
            if scene is not None:  # (read once, for the writer and the check; its errors
                from engine.asset.gltf_scene import scene_of  # name the source file)

                scene_of(scene, str(source.source) if source is not None else "the asset")
            written = export_mesh(mesh, out, txn=txn, pieces=pieces, document=scene,
                                  **options)
        expected = expected_figures(mesh, written.format, options.get("units", "m"),
                                    animation[1][0] if animation else None,
                                    () if files is not None else pieces)
        if scene is not None:  # (the written scene: its instances, skins, morphs, clips)
            from engine.asset.gltf_scene import document_content

            expected.update(document_content(scene))
        content = source_content(source)
        txn.check(lambda: verify_content(txn.staged(out), written.format, content))
        txn.check(lambda: figures.update(verify_export(txn.staged(out), expected,
                                                       written.format)))
    figures["passed_through"] = files is not None and document is None and animation is None
    figures["kept_document"] = files is not None
    return written, figures
