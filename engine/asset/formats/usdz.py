"""USDZ for AR Quick Look, written with Pixar's usd-core: one mesh, UsdPreviewSurface
material, base-colour texture packed into the archive. Y-up, metres."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from engine.asset.model import mesh_uv, texture_image

from .common import base_color, mesh_normals, png_bytes

__all__ = ["read_back", "read_usdz", "write", "write_usdz"]


def write_usdz(path: Path, vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray,
               uv: np.ndarray | None, texture_png: bytes | None,
               base_color=(0.8, 0.8, 0.8), roughness: float = 0.5,
               metallic: float = 0.0) -> None:
    """Write a .usdz package to `path` (the caller handles atomic replacement)."""
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, UsdUtils, Vt

    with tempfile.TemporaryDirectory(prefix="maquette-usdz-") as tmp:
        folder = Path(tmp)
        layer_path = folder / "asset.usdc"
        stage = Usd.Stage.CreateNew(str(layer_path))
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
        UsdGeom.SetStageMetersPerUnit(stage, 1.0)
        root = UsdGeom.Xform.Define(stage, "/Asset")
        stage.SetDefaultPrim(root.GetPrim())

        mesh = UsdGeom.Mesh.Define(stage, "/Asset/Mesh")
        v = np.ascontiguousarray(vertices, dtype=np.float32)
        f = np.ascontiguousarray(faces, dtype=np.int32)
        mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(v))
        mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(f), 3, np.int32)))
        mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(f.ravel()))
        mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
        mesh.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
        mesh.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(
            np.ascontiguousarray(normals, dtype=np.float32)))
        mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
        lo, hi = v.min(axis=0), v.max(axis=0)
        mesh.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*map(float, lo)),
                                             Gf.Vec3f(*map(float, hi))]))
        if uv is not None:
            st = UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
                "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex)
            st.Set(Vt.Vec2fArray.FromNumpy(np.ascontiguousarray(uv, dtype=np.float32)))

        material = UsdShade.Material.Define(stage, "/Asset/Material")
        surface = UsdShade.Shader.Define(stage, "/Asset/Material/PreviewSurface")
        surface.CreateIdAttr("UsdPreviewSurface")
        surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(float(roughness))
        surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(float(metallic))
        color_input = surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
        if texture_png is not None and uv is not None:
            (folder / "basecolor.png").write_bytes(texture_png)
            reader = UsdShade.Shader.Define(stage, "/Asset/Material/stReader")
            reader.CreateIdAttr("UsdPrimvarReader_float2")
            # varname is a string input (usd-core's ShaderSdrCompliance rejects a token)
            st_name = material.CreateInput("frame:stPrimvarName", Sdf.ValueTypeNames.String)
            st_name.Set("st")
            reader.CreateInput("varname", Sdf.ValueTypeNames.String).ConnectToSource(st_name)
            texture = UsdShade.Shader.Define(stage, "/Asset/Material/BaseColor")
            texture.CreateIdAttr("UsdUVTexture")
            texture.CreateInput("file", Sdf.ValueTypeNames.Asset).Set("basecolor.png")
            texture.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
            texture.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
                reader.ConnectableAPI(), "result")
            texture.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
            texture.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
            out = texture.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
            color_input.ConnectToSource(out)
        else:
            color_input.Set(Gf.Vec3f(*(float(c) for c in base_color[:3])))
        material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
        UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim()).Bind(material)
        stage.GetRootLayer().Save()
        if not UsdUtils.CreateNewUsdzPackage(Sdf.AssetPath(str(layer_path)), str(path)):
            raise OSError(f"{path}: usd-core could not write the USDZ package")


def read_usdz(path: Path) -> dict:
    """Counts, bounds and texture presence of a USDZ written by any tool (first mesh)."""
    import zipfile

    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(path))
    if stage is None:
        raise ValueError(f"{path}: usd-core cannot open it")
    triangles = vertices = 0
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for prim in stage.Traverse():
        if prim.IsA(UsdGeom.Mesh):
            mesh = UsdGeom.Mesh(prim)
            points = np.asarray(mesh.GetPointsAttr().Get())
            counts = np.asarray(mesh.GetFaceVertexCountsAttr().Get())
            triangles += int(np.sum(np.maximum(counts - 2, 0)))
            vertices += len(points)
            lo = np.minimum(lo, points.min(axis=0))
            hi = np.maximum(hi, points.max(axis=0))
    with zipfile.ZipFile(path) as archive:
        images = [n for n in archive.namelist() if n.lower().endswith((".png", ".jpg", ".jpeg"))]
    return {"triangles": triangles, "vertices": vertices, "bounds": np.array([lo, hi]),
            "textured": bool(images), "up": UsdGeom.GetStageUpAxis(stage)}


def write(mesh, out: Path, options=None) -> dict:
    """{out: a writer} that packs the USDZ in a temporary folder and copies it over."""
    image, uv = texture_image(mesh), mesh_uv(mesh)
    png = png_bytes(image) if image is not None and uv is not None else None

    def writer(handle):
        with tempfile.TemporaryDirectory(prefix="maquette-") as tmp:
            target = Path(tmp) / "asset.usdz"
            write_usdz(target, mesh.vertices, mesh.faces, mesh_normals(mesh), uv, png,
                       base_color=base_color(mesh))
            handle.write(target.read_bytes())

    return {out: writer}


def read_back(path: Path) -> dict:
    figures = read_usdz(path)
    figures["reader"] = "usd-core"
    return figures
