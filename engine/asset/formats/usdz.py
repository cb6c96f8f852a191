"""USDZ for AR Quick Look, written with Pixar's usd-core: one mesh per piece of the asset
(glTF primitives keep their own), each with its UsdPreviewSurface material (base colour
or its texture packed into the archive, roughness, metallic, opacity or cutoff,
emissive, double-sided), and the source's node animation as time-sampled transforms of
the moving meshes. Y-up, metres, time codes at the motion's sample rate."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.asset.model import mesh_uv, texture_image

from .common import base_color, mesh_normals, png_bytes

__all__ = ["UsdPart", "part_of", "read_back", "read_usdz", "write", "write_usdz",
           "write_usdz_parts"]


@dataclass
class UsdPart:
    """One mesh of a USDZ and its UsdPreviewSurface material (factors in [0, 1])."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    uv: np.ndarray | None = None
    texture_png: bytes | None = None
    base_color: tuple = (0.8, 0.8, 0.8)
    roughness: float = 0.5
    metallic: float = 0.0
    opacity: float = 1.0  # alpha of a blended material
    opacity_threshold: float = 0.0  # a masked material's cutoff
    emissive: tuple = (0.0, 0.0, 0.0)
    double_sided: bool = False
    alpha_mode: str = "OPAQUE"  # BLEND / MASK: the texture's alpha is the opacity


def part_of(mesh) -> UsdPart:
    """A trimesh mesh as a UsdPart: its normals, UVs, base-colour texture and its PBR
    material's factors (base colour, roughness, metallic, alpha mode, emissive,
    double-sided)."""
    image, uv = texture_image(mesh), mesh_uv(mesh)
    material = getattr(mesh.visual, "material", None)

    def factor(name, default):
        value = getattr(material, name, None)
        return default if value is None else value

    opacity, threshold = 1.0, 0.0
    color = factor("baseColorFactor", None)
    alpha = 1.0
    if color is not None and len(color) > 3:
        c = np.asarray(color, dtype=float)
        alpha = float(c[3] / 255.0 if c.max() > 1.0 else c[3])
    mode = factor("alphaMode", "OPAQUE")
    if mode == "BLEND":
        opacity = alpha
    elif mode == "MASK":
        threshold = float(factor("alphaCutoff", 0.5))
    emissive = np.asarray(factor("emissiveFactor", (0.0, 0.0, 0.0)), dtype=float)[:3]
    return UsdPart(np.asarray(mesh.vertices), np.asarray(mesh.faces), mesh_normals(mesh), uv,
                   png_bytes(image) if image is not None and uv is not None else None,
                   base_color(mesh), float(factor("roughnessFactor", 0.5 if material is None
                                                  or not hasattr(material, "roughnessFactor")
                                                  else 1.0)),
                   float(factor("metallicFactor", 0.0)), opacity, threshold,
                   tuple(float(x) for x in emissive),
                   bool(factor("doubleSided", False)), str(mode or "OPAQUE"))


def write_usdz(path: Path, vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray,
               uv: np.ndarray | None, texture_png: bytes | None,
               base_color=(0.8, 0.8, 0.8), roughness: float = 0.5,
               metallic: float = 0.0) -> None:
    """Write a one-mesh .usdz package to `path` (the caller handles atomic replacement)."""
    write_usdz_parts(path, [UsdPart(vertices, faces, normals, uv, texture_png,
                                    tuple(base_color), roughness, metallic)])


def _material(stage, where: str, part: UsdPart, folder: Path, texture: str | None):
    from pxr import Gf, Sdf, UsdShade

    material = UsdShade.Material.Define(stage, where)
    surface = UsdShade.Shader.Define(stage, f"{where}/PreviewSurface")
    surface.CreateIdAttr("UsdPreviewSurface")
    surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(float(part.roughness))
    surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(float(part.metallic))
    if part.opacity < 1.0:
        surface.CreateInput("opacity", Sdf.ValueTypeNames.Float).Set(float(part.opacity))
    if part.opacity_threshold > 0.0:
        surface.CreateInput("opacityThreshold", Sdf.ValueTypeNames.Float).Set(
            float(part.opacity_threshold))
    if any(part.emissive):
        surface.CreateInput("emissiveColor", Sdf.ValueTypeNames.Color3f).Set(
            Gf.Vec3f(*part.emissive))
    color_input = surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    if texture is not None:
        reader = UsdShade.Shader.Define(stage, f"{where}/stReader")
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        # varname is a string input (usd-core's ShaderSdrCompliance rejects a token)
        st_name = material.CreateInput("frame:stPrimvarName", Sdf.ValueTypeNames.String)
        st_name.Set("st")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).ConnectToSource(st_name)
        shader = UsdShade.Shader.Define(stage, f"{where}/BaseColor")
        shader.CreateIdAttr("UsdUVTexture")
        shader.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(texture)
        shader.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
        shader.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
            reader.ConnectableAPI(), "result")
        shader.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
        shader.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
        out = shader.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        color_input.ConnectToSource(out)
        if part.alpha_mode in ("BLEND", "MASK"):
            alpha = shader.CreateOutput("a", Sdf.ValueTypeNames.Float)
            surface.CreateInput("opacity", Sdf.ValueTypeNames.Float).ConnectToSource(alpha)
    else:
        color_input.Set(Gf.Vec3f(*(float(c) for c in part.base_color[:3])))
    material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
    return material


def write_usdz_parts(path: Path, parts: list[UsdPart], motion=None) -> None:
    """Write a .usdz package of one mesh and one material per part (one part: the
    prims /Asset/Mesh and /Asset/Material, as before; several: /Asset/Mesh_i and
    /Asset/Material_i); textures packed once each. `motion`
    (engine.asset.node_motion.PieceMotion): a moving part gets a time-sampled transform,
    one time code per sample at the motion's rate."""
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdShade, UsdUtils, Vt

    with tempfile.TemporaryDirectory(prefix="maquette-usdz-") as tmp:
        folder = Path(tmp)
        layer_path = folder / "asset.usdc"
        stage = Usd.Stage.CreateNew(str(layer_path))
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
        UsdGeom.SetStageMetersPerUnit(stage, 1.0)
        root = UsdGeom.Xform.Define(stage, "/Asset")
        stage.SetDefaultPrim(root.GetPrim())
        if motion is not None:
            rate = (len(motion.times) - 1) / max(float(motion.times[-1]), 1e-9)
            stage.SetTimeCodesPerSecond(rate)
            stage.SetStartTimeCode(0)
            stage.SetEndTimeCode(len(motion.times) - 1)
        textures: dict[bytes, str] = {}
        for i, part in enumerate(parts):
            suffix = "" if len(parts) == 1 else f"_{i}"
            mesh = UsdGeom.Mesh.Define(stage, f"/Asset/Mesh{suffix}")
            v = np.ascontiguousarray(part.vertices, dtype=np.float32)
            f = np.ascontiguousarray(part.faces, dtype=np.int32)
            mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(v))
            mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(
                np.full(len(f), 3, np.int32)))
            mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(f.ravel()))
            mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
            mesh.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
            if part.double_sided:
                mesh.CreateDoubleSidedAttr(True)
            mesh.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(
                np.ascontiguousarray(part.normals, dtype=np.float32)))
            mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
            moves = None if motion is None else motion.matrices[i]
            if moves is not None:  # (USD matrices are row-vector: the transpose)
                op = UsdGeom.Xformable(mesh).AddTransformOp()
                for k, m in enumerate(moves):
                    op.Set(Gf.Matrix4d(np.asarray(m, float).T.tolist()), Usd.TimeCode(k))
            lo, hi = v.min(axis=0), v.max(axis=0)
            mesh.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*map(float, lo)),
                                                 Gf.Vec3f(*map(float, hi))]))
            if part.uv is not None:
                st = UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
                    "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex)
                st.Set(Vt.Vec2fArray.FromNumpy(np.ascontiguousarray(part.uv,
                                                                    dtype=np.float32)))
            texture = None
            if part.texture_png is not None and part.uv is not None:
                texture = textures.get(part.texture_png)
                if texture is None:
                    # (each in its own folder: two PNGs side by side made usd-core's
                    # packer warn "Failed to resolve reference @0/basecolor.png@")
                    texture = "basecolor.png" if len(parts) == 1 else \
                        f"texture{len(textures)}/basecolor.png"
                    (folder / texture).parent.mkdir(exist_ok=True)
                    (folder / texture).write_bytes(part.texture_png)
                    textures[part.texture_png] = texture
            material = _material(stage, f"/Asset/Material{suffix}", part, folder, texture)
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
    """{out: a writer} that packs the USDZ in a temporary folder and copies it over;
    with several pieces (options.pieces), one mesh and material each."""
    pieces = list(getattr(options, "pieces", ()) or ()) or [mesh]
    motions = getattr(options, "motion", None) or ()
    motion = motions[0] if motions else None  # (one timeline: the first clip)

    def writer(handle):
        with tempfile.TemporaryDirectory(prefix="maquette-") as tmp:
            target = Path(tmp) / "asset.usdz"
            write_usdz_parts(target, [part_of(p) for p in pieces], motion)
            handle.write(target.read_bytes())

    return {out: writer}


def read_back(path: Path) -> dict:
    figures = read_usdz(path)
    figures["reader"] = "usd-core"
    return figures
