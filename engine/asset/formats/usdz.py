"""USDZ for AR Quick Look, written with Pixar's usd-core from the asset's glTF scene
(engine.asset.formats.usd_scene: nodes, a mesh per primitive, UsdPreviewSurface
materials with every texture slot, both UV sets, vertex colours, skins and morph
targets through UsdSkel, every clip of animation). An asset read from OBJ, PLY or STL is
first written as a GLB by the one GLB writer. Y-up, metres, time codes at 30 a second."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

__all__ = ["read_back", "read_usdz", "write", "write_usdz_document"]


def write_usdz_document(path: Path, glb: bytes) -> None:
    """Write the (decoded) GLB `glb` as a .usdz package at `path` (the caller handles
    atomic replacement)."""
    from pxr import Sdf, Usd, UsdGeom, UsdUtils

    from engine.asset.gltf_scene import scene_of

    from .usd_scene import build_stage

    with tempfile.TemporaryDirectory(prefix="maquette-usdz-") as tmp:
        folder = Path(tmp)
        layer_path = folder / "asset.usdc"
        stage = Usd.Stage.CreateNew(str(layer_path))
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
        UsdGeom.SetStageMetersPerUnit(stage, 1.0)
        build_stage(stage, scene_of(glb), folder)
        stage.GetRootLayer().Save()
        if not UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(layer_path)), str(path)):
            raise OSError(f"{path}: usd-core could not write the USDZ package")


def read_usdz(path: Path) -> dict:
    """Counts, bounds (world space, at rest: the default time) and texture presence of a
    USDZ written by any tool."""
    import zipfile

    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(path))
    if stage is None:
        raise ValueError(f"{path}: usd-core cannot open it")
    triangles = vertices = 0
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    cache = UsdGeom.XformCache(Usd.TimeCode.Default())
    for prim in stage.Traverse():
        if prim.IsA(UsdGeom.Mesh):
            mesh = UsdGeom.Mesh(prim)
            points = np.asarray(mesh.GetPointsAttr().Get(), dtype=np.float64)
            counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get())
            triangles += int(np.sum(np.maximum(counts - 2, 0)))
            vertices += len(points)
            if len(points):
                m = np.array(cache.GetLocalToWorldTransform(prim), dtype=np.float64)
                placed = points @ m[:3, :3] + m[3, :3]  # (row vectors)
                lo = np.minimum(lo, placed.min(axis=0))
                hi = np.maximum(hi, placed.max(axis=0))
    with zipfile.ZipFile(path) as archive:
        images = [n for n in archive.namelist() if n.lower().endswith((".png", ".jpg", ".jpeg"))]
    meshes = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]

    def primvar(mesh, name, interpolation=None):
        var = UsdGeom.PrimvarsAPI(mesh.GetPrim()).GetPrimvar(name)
        return bool(var) and var.HasValue() and (
            interpolation is None or var.GetInterpolation() == interpolation)

    root = stage.GetDefaultPrim()
    variants = root.GetVariantSets().GetVariantSet("animation").GetVariantNames() \
        if root and root.GetVariantSets().HasVariantSet("animation") else []
    animated = any(a.GetNumTimeSamples() > 1 for p in stage.Traverse()
                   for a in p.GetAttributes())
    return {"triangles": triangles, "vertices": vertices, "bounds": np.array([lo, hi]),
            "textured": bool(images), "up": UsdGeom.GetStageUpAxis(stage),
            "skinned": sum(primvar(m, "skel:jointIndices", UsdGeom.Tokens.vertex)
                           for m in meshes),
            "morph_targets": sum(1 for p in stage.Traverse() if p.GetTypeName() == "BlendShape"),
            "second_uv": sum(primvar(m, "st1") for m in meshes),
            "colored": sum(primvar(m, "displayColor") for m in meshes),
            "clips": len(variants) or int(animated)}


def write(mesh, out: Path, options=None) -> dict:
    """{out: a writer} that converts the asset's glTF scene (options.document, else the
    mesh or its pieces written as a GLB) in a temporary folder and copies it over."""
    from .gltf import scene_glb

    glb = scene_glb(mesh, options)

    def writer(handle):
        with tempfile.TemporaryDirectory(prefix="maquette-") as tmp:
            target = Path(tmp) / "asset.usdz"
            write_usdz_document(target, glb)
            handle.write(target.read_bytes())

    return {out: writer}


def read_back(path: Path) -> dict:
    figures = read_usdz(path)
    figures["reader"] = "usd-core"
    return figures
