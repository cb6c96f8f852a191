"""One module per file format, behind one table (as trimesh's ``exchange/`` does).

:data:`FORMATS` maps a format's name (its suffix without the dot) to a :class:`Format`:

* ``check(path, size, limits) -> triangles``: the pre-allocation checks of a file this
  tool reads (None: export only), run by :func:`engine.asset.io.check_file`;
* ``write(mesh, out, options) -> {path: bytes | writer(handle)}``: every file of an
  export, written together by :func:`engine.asset.export.export_mesh`;
* ``read_back(path) -> figures``: the file read again by a reader that is not our
  writer, for :func:`engine.asset.export.verify_export`.

To add a format: a module here with those functions, and a row below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import fbx, gltf, obj, ply, stl, usdz

__all__ = ["EXPORT_FORMATS", "FORMATS", "Format", "READ_FORMATS", "WriteOptions"]


@dataclass(frozen=True)
class WriteOptions:
    """units: "m" or "mm" (STL only); animation: (times (k,) s, matrices (k, 4, 4));
    pieces: the asset's meshes with their own materials (engine.asset.model.Asset.pieces),
    for writers that keep several; () or one: the mesh alone; motion: see below."""

    units: str = "m"
    animation: tuple[np.ndarray, np.ndarray] | None = None
    pieces: tuple = ()
    # the asset as one decoded glTF document (GLB bytes), for writers that convert the
    # scene (USDZ, FBX); None: they write `mesh` or `pieces` as a GLB first
    document: bytes | None = None


@dataclass(frozen=True)
class Format:
    name: str
    write: Callable[..., dict[Path, object]]
    read_back: Callable[[Path], dict]
    check: Callable[..., int] | None = None  # None: this tool writes it but does not read it
    keeps_texture: bool = False  # an export carries the base-colour texture
    animation: bool = False  # an export can carry baked rigid animation
    scene: bool = False  # the writer converts the asset's glTF document (WriteOptions)
    millimetres: bool = False  # an export can be written in millimetres
    cannot_carry: str = ""  # one line: what an export in this format loses (issue 14)
    keeps: tuple[str, ...] = ()  # per-vertex data verified on read-back: normals uv colors


_GLTF_LOSS = ("glTF keeps everything a glTF source carries (prep edits its primitives in "
              "place); from OBJ/PLY/STL: one mesh and its material")
FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("glb", gltf.write_glb, gltf.read_back, gltf.check_glb_file, keeps_texture=True,
           animation=True, cannot_carry=_GLTF_LOSS, keeps=("normals", "uv", "colors")),
    Format("gltf", gltf.write_gltf, gltf.read_back, gltf.check_gltf_file, keeps_texture=True,
           animation=True, cannot_carry=_GLTF_LOSS, keeps=("normals", "uv", "colors")),
    Format("obj", obj.write, obj.read_back, obj.check_obj, keeps_texture=True,
           keeps=("normals", "uv"),
           cannot_carry="OBJ keeps each mesh as a group with its own material (colour, "
                        "alpha, emissive, base-colour/normal/emissive textures), normals and "
                        "one UV set: no vertex colours, second UV set, metal/rough maps, "
                        "texture transforms, skins, morphs or animation"),
    Format("fbx", fbx.write, fbx.read_back, keeps_texture=True, scene=True,
           cannot_carry="FBX (our writer) keeps the glTF scene's node tree, a mesh per "
                        "primitive with normals, both UV sets and vertex colours, Phong "
                        "materials (colour, opacity, emissive; base-colour, normal and "
                        "emissive maps, each map's UV set and wrap), skins (Skin and Cluster "
                        "deformers), morph targets (BlendShape channels), GPU instances as a "
                        "node each, texture transforms and every clip as a take (30 keys a "
                        "second): no metal/rough or occlusion maps, texture transforms that "
                        "turn a non-uniform scale, alpha cutoff, double-sided, unlit, points "
                        "or lines"),
    Format("usdz", usdz.write, usdz.read_back, keeps_texture=True, scene=True,
           cannot_carry="USDZ keeps the glTF scene's nodes, a mesh per primitive, "
                        "materials with every texture slot and texture transform, both UV "
                        "sets, vertex colours, skins and morph targets (UsdSkel), GPU "
                        "instances as a node each and every clip (30 samples a second; "
                        "several: a variant each, the first selected): no lines or unlit "
                        "materials (drawn lit)"),
    Format("stl", stl.write, stl.read_back, stl.check_stl, millimetres=True,
           cannot_carry="STL keeps triangles only: no normals per vertex, UVs, colours, "
                        "materials or animation"),
    Format("ply", ply.write, ply.read_back, ply.check_ply,
           cannot_carry="PLY keeps positions, triangles, and normals and vertex colours "
                        "where the mesh has them: no materials, textures or animation"),
)}
EXPORT_FORMATS = tuple(FORMATS)
READ_FORMATS = tuple(name for name, f in FORMATS.items() if f.check is not None)
