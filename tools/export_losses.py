"""Measure what export loses (issue 14): every sample through prep and export.

For every glTF sample under ../shared/gltf-samples and every asset under ../shared/assets:
``prep --faces N`` (N = half its triangles, so the export is a change and nothing passes
through) to GLB, then ``export`` of that GLB to .glb, .obj, .fbx and .usdz, through the
same functions the commands call (engine.asset.prep.prepare, engine.asset.export.
export_verified).  Each written file is read back with a reader that is not our writer
(the GLB's JSON; the OBJ/MTL text; ufbx; usd-core) and compared with the *source* by
engine.asset.content (meshes/primitives, materials, base colours, textures per slot,
normals, both UV sets, vertex colours, alpha, double-sided, emissive, texture
transforms, wrap modes, animations, skins, morph targets).

    python tools/export_losses.py [--out docs/export_losses.md] [--only NAME ...]

Prints a Markdown table (one row per sample, one column per format: what was lost);
--out writes it into the file between the markers below.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.asset.content import content_losses, gltf_content  # noqa: E402
from engine.asset.formats.gltf import split_glb  # noqa: E402

SHARED = ROOT.parent / "shared"  # ../shared beside the checkout (its gltf-samples and assets)
FORMATS = ("glb", "obj", "fbx", "usdz")
BEGIN, END = "<!-- export_losses:begin -->", "<!-- export_losses:end -->"


def samples() -> list[Path]:
    """One file per sample folder (glTF-Binary, else Embedded, else glTF), the Draco,
    quantized and meshopt variants, and the shared assets."""
    found = []
    root = SHARED / "gltf-samples"
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "_meshopt"):
        for variant in ("glTF-Binary", "glTF-Embedded", "glTF"):
            files = sorted((folder / variant).glob("*.gl*"))
            if files:
                found.append(files[0])
                break
    found += [root / "Box/glTF-Draco/Box.gltf",
              root / "AnimatedMorphCube/glTF-Quantized/AnimatedMorphCube.gltf",
              root / "_meshopt/Duck-meshopt-quant.glb"]
    found += sorted(p for p in (SHARED / "assets").iterdir()
                    if p.suffix.lower() in (".glb", ".gltf", ".obj", ".ply", ".stl"))
    return [p for p in found if p.is_file()]


def mesh_content(mesh) -> dict:
    """gltf_content-shaped figures of one loaded (non-glTF) mesh."""
    from engine.asset.formats.common import base_color, carried
    from engine.asset.model import texture_image

    has = carried(mesh)
    material = getattr(mesh.visual, "material", None)
    return _figures(primitives=1, materials=int(material is not None),
                    bases=[list(base_color(mesh)) + [1.0]] if material is not None else [],
                    normals=int(has["normals"]), texcoord0=int(has["uv"]),
                    colors=int(has["colors"]),
                    textures=int(texture_image(mesh) is not None))


def _figures(**values) -> dict:
    out = {"meshes": 0, "primitives": 0, "materials": 0, "material_list": [], "normals": 0,
           "texcoord0": 0, "texcoord1": 0, "colors": 0, "tangents": 0, "joints": 0,
           "morph_targets": 0, "textures": 0, "alpha": [], "double_sided": 0, "emissive": 0,
           "texture_transforms": 0, "wraps": [], "animations": 0, "skins": 0,
           "extensions": []}
    bases = values.pop("bases", [])
    out.update(values)
    out["material_list"] = [{"base": [round(float(x), 3) for x in b]} for b in bases]
    return out


def source_content(path: Path) -> dict:
    from engine.asset.formats.gltf_decode import packed_glb
    from engine.asset.io import load_asset, sniff_format

    if sniff_format(path) in ("glb", "gltf"):
        return gltf_content(split_glb(packed_glb(path))[0])
    return mesh_content(load_asset(path).mesh)


def obj_content(path: Path) -> dict:
    """From the OBJ and MTL text (an independent reader: no trimesh)."""
    text = path.read_text(errors="replace")
    mtl_names = re.findall(r"^mtllib\s+(.+?)\s*$", text, re.M)
    used = set(re.findall(r"^usemtl\s+(.+?)\s*$", text, re.M))
    bases, textures, emissive, alpha = [], 0, 0, set()
    for name in mtl_names:
        mtl = (path.parent / name)
        if not mtl.is_file():
            continue
        for block in re.split(r"^newmtl\s+", mtl.read_text(errors="replace"), flags=re.M)[1:]:
            kd = re.search(r"^\s*Kd\s+(\S+)\s+(\S+)\s+(\S+)", block, re.M)
            d = re.search(r"^\s*d\s+(\S+)", block, re.M)
            bases.append([float(x) for x in kd.groups()] + [float(d.group(1)) if d else 1.0]
                         if kd else [1, 1, 1, 1])
            if d and float(d.group(1)) < 1 or re.search(r"^\s*map_d\s", block, re.M):
                alpha.add("BLEND")
            ke = re.search(r"^\s*Ke\s+(\S+)\s+(\S+)\s+(\S+)", block, re.M)
            emissive += bool(ke and any(float(x) > 0 for x in ke.groups()))
            textures += len(re.findall(r"^\s*(map_Kd|map_Bump|bump|norm|map_Ke|map_Pr|"
                                       r"map_Pm)\s", block, re.M))
    groups = max(1, len(used), len(re.findall(r"^[og]\s", text, re.M)))
    # normals and UVs are per file in OBJ: every group has them when the file does
    return _figures(primitives=groups, materials=len(bases) or len(used),
                    bases=bases, normals=groups * bool(re.search(r"^vn\s", text, re.M)),
                    texcoord0=groups * bool(re.search(r"^vt\s", text, re.M)),
                    textures=textures, emissive=emissive, alpha=sorted(alpha))


_UFBX = r"""
import gc, json, os, sys
gc.disable()
import ufbx
# (each object held in a name before its fields are read: temporaries crashed the bindings)
with ufbx.load_file(sys.argv[1]) as s:
    meshes, mats = list(s.meshes), list(s.materials)  # (iterating s.meshes twice crashed)
    bases, textures, emissive, blended, wraps, strength = [], 0, 0, 0, set(), 0.0
    transforms = 0
    for m in mats:
        c, f = m.pbr.base_color.value_vec4, float(m.pbr.base_factor.value_vec4.x)
        bases.append([float(c.x) * f, float(c.y) * f, float(c.z) * f, float(c.w)])
        e = m.fbx.emission_color.value_vec4
        emissive += int(max(float(e.x), float(e.y), float(e.z)) > 0)
        strength = max(strength, float(e.x), float(e.y), float(e.z))
        blended += int(float(m.pbr.opacity.value_vec4.x) < 1)
        for slot in (m.pbr.base_color, m.pbr.normal_map, m.pbr.emission_color,
                     m.pbr.roughness, m.pbr.metalness, m.pbr.ambient_occlusion):
            texture = slot.texture
            textures += int(texture is not None)
            if texture is not None:
                transforms += int(bool(texture.has_uv_transform))
                wrap = (int(texture.wrap_u), int(texture.wrap_v))
                if wrap != (0, 0):
                    wraps.add(tuple(33071 if w == 1 else 10497 for w in wrap))
    parts = [max(1, len(x.material_parts)) for x in meshes]
    uv_sets = []
    for x in meshes:
        sets = x.uv_sets
        uv_sets.append(len(sets))
    out = {"primitives": sum(parts),
           "meshes": len(meshes), "materials": len(mats), "bases": bases,
           "textures": textures, "emissive": emissive,
           "alpha": ["BLEND"] if blended else [],
           "normals": sum(n * bool(x.vertex_normal.exists) for n, x in zip(parts, meshes)),
           "texcoord0": sum(n * bool(x.vertex_uv.exists) for n, x in zip(parts, meshes)),
           "texcoord1": sum(n * (k > 1) for n, k in zip(parts, uv_sets)),
           "colors": sum(bool(x.vertex_color.exists) for x in meshes),
           "joints": sum(bool(len(x.skin_deformers)) for x in meshes),
           "wraps": sorted(list(w) for w in wraps),
           "animations": len(s.anim_stacks),
           "skins": len(s.skin_deformers), "morph_targets": len(s.blend_shapes),
           # (GPU instances are written as nodes named NODE-instanceK)
           "extensions": (["EXT_mesh_gpu_instancing"] if any(
               "-instance" in str(n.name) for n in list(s.nodes)) else [])
           + (["KHR_materials_emissive_strength"] if strength > 1 else [])
           + (["KHR_texture_transform"] if transforms else []),
           "texture_transforms": transforms}
sys.stdout.write(json.dumps(out)); sys.stdout.flush(); os._exit(0)
"""


def fbx_content(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _UFBX, str(path)], capture_output=True,
                          text=True, timeout=300)
    if done.returncode or not done.stdout:
        raise RuntimeError(f"ufbx: {done.stderr.strip().splitlines()[-1:]}")
    got = json.loads(done.stdout)
    return _figures(**got)


_GL_WRAP = {"repeat": 10497, "clamp": 33071, "mirror": 33648}


def usdz_content(path: Path) -> dict:
    """From usd-core's reading of the package: meshes and points, UsdPreviewSurface
    inputs, UsdUVTexture/UsdTransform2d shaders, primvars, UsdSkel prims."""
    from pxr import Usd, UsdGeom, UsdShade, UsdSkel

    stage = Usd.Stage.Open(str(path))
    prims = list(stage.Traverse())
    meshes = [UsdGeom.Mesh(p) for p in prims if p.IsA(UsdGeom.Mesh)]
    points = [p for p in prims if p.IsA(UsdGeom.Points)]
    materials = [UsdShade.Material(p) for p in prims if p.IsA(UsdShade.Material)]
    bases, textures, emissive, alpha, transforms, wraps = [], 0, 0, set(), 0, set()
    strength = False
    for prim in prims:
        if not prim.IsA(UsdShade.Shader):
            continue
        shader = UsdShade.Shader(prim)
        ident = shader.GetIdAttr().Get()
        if ident == "UsdPreviewSurface":
            value = shader.GetInput("diffuseColor").Get()
            opacity = shader.GetInput("opacity").Get() if shader.GetInput("opacity") \
                else None
            bases.append(list(value) + [1.0 if opacity is None else opacity]
                         if value is not None else [1, 1, 1, 1])
            threshold = shader.GetInput("opacityThreshold").Get() \
                if shader.GetInput("opacityThreshold") else None
            if shader.GetInput("opacity") and not threshold:
                alpha.add("BLEND")
            if threshold:
                alpha.add(f"MASK@{threshold:g}")
            glow = shader.GetInput("emissiveColor").Get() \
                if shader.GetInput("emissiveColor") else None
            emissive += bool(glow is not None and max(glow) > 0)
            strength |= bool(glow is not None and max(glow) > 1)
        elif ident == "UsdUVTexture":
            textures += 1
            wrap = tuple(_GL_WRAP.get(shader.GetInput(f"wrap{a}").Get(), 10497)
                         for a in "ST")
            if wrap != (10497, 10497):
                wraps.add(wrap)
        elif ident == "UsdTransform2d":
            transforms += 1

    def primvar(mesh, name):
        return UsdGeom.PrimvarsAPI(mesh.GetPrim()).HasPrimvar(name)

    animated = any(a.GetNumTimeSamples() > 1 for p in prims for a in p.GetAttributes())
    clips = stage.GetDefaultPrim().GetVariantSets().GetVariantSet("animation") \
        .GetVariantNames()  # (several clips: a variant each)
    skins = sum(1 for p in prims if p.IsA(UsdSkel.Skeleton)
                and UsdSkel.Skeleton(p).GetJointsAttr().Get())
    extensions = (["KHR_texture_transform"] if transforms else []) + \
        (["KHR_materials_emissive_strength"] if strength else []) + \
        (["EXT_mesh_gpu_instancing"] if any(re.search(r"_instance\d+$", p.GetName())
                                            for p in prims) else [])  # (one node each)
    return _figures(primitives=len(meshes) + len(points), meshes=len(meshes),
                    materials=len(materials), bases=bases, textures=textures,
                    normals=sum(bool(m.GetNormalsAttr().HasAuthoredValue()
                                     or primvar(m, "normals")) for m in meshes),
                    texcoord0=sum(primvar(m, "st") for m in meshes),
                    texcoord1=sum(primvar(m, "st1") for m in meshes),
                    colors=sum(primvar(m, "displayColor") for m in meshes)
                    + sum(primvar(UsdGeom.Points(p), "displayColor") for p in points),
                    double_sided=sum(bool(m.GetDoubleSidedAttr().Get()) for m in meshes),
                    emissive=emissive, alpha=sorted(alpha), texture_transforms=transforms,
                    wraps=[list(w) for w in sorted(wraps)],
                    animations=len(clips) or int(animated),
                    skins=skins, joints=sum(primvar(m, "skel:jointIndices") for m in meshes),
                    morph_targets=sum(1 for p in prims if p.IsA(UsdSkel.BlendShape)),
                    extensions=extensions)


def written_content(path: Path, fmt: str) -> dict:
    if fmt == "glb":
        return gltf_content(split_glb(path.read_bytes())[0])
    return {"obj": obj_content, "fbx": fbx_content, "usdz": usdz_content}[fmt](path)


_SHORT = {"primitives": "prims", "materials": "mats", "normals": "N", "texcoord0": "UV0",
          "texcoord1": "UV1", "colors": "COL", "textures": "tex", "double_sided": "2-sided",
          "emissive": "emis", "texture_transforms": "KHR_tt", "animations": "anim",
          "skins": "skin", "morph_targets": "morph", "joints": "joints"}


def _short(loss: str) -> str:
    for words, short in (("primitives", "prims"), ("materials", "mats"), ("normals", "N"),
                         ("second UV set", "UV1"), ("UVs", "UV0"), ("vertex colours", "COL"),
                         ("textures", "tex"), ("double-sided", "2-sided"),
                         ("emissive", "emis"), ("texture transforms", "KHR_tt"),
                         ("animations", "anim"), ("skins", "skin"),
                         ("morph targets", "morph"), ("joints", "joints"),
                         ("alpha modes", "alpha"), ("wrap modes", "wrap"),
                         ("base colour differs", "colour"), ("extensions", "ext")):
        if loss.startswith(words):
            rest = loss[len(words):].strip()
            if short in ("alpha", "wrap", "colour", "ext"):
                return short
            return f"{short} {rest}"
    return loss


def measure(path: Path, work: Path) -> dict:
    from engine.asset.export import export_verified
    from engine.asset.io import load_asset
    from engine.asset.prep import PrepOptions, prepare

    row = {"name": path.relative_to(SHARED).as_posix(), "cells": {}}
    try:
        source = source_content(path)
        asset = load_asset(path)
        row["source"] = source
        row["triangles"] = asset.triangles
        faces = max(4, asset.triangles // 2)
        result = prepare(asset, PrepOptions(faces=faces))
        prepped = work / f"{path.stem}-prep.glb"
        export_verified(result.mesh, prepped, [path], **_document(result))
    except Exception as exc:  # a row says what failed
        row["error"] = f"prep: {type(exc).__name__}: {str(exc)[:120]}"
        return row
    prepped_asset = load_asset(prepped)
    for fmt in FORMATS:
        out = work / f"{path.stem}-out.{fmt}"
        try:
            export_verified(prepped_asset.mesh, out, [prepped], source=prepped_asset)
            got = written_content(out, fmt)
            lost = content_losses(source, got)
            row["cells"][fmt] = ", ".join(_short(x) for x in lost) or "—"
        except Exception as exc:
            row["cells"][fmt] = f"FAILED: {type(exc).__name__}: {str(exc)[:100]}"
    return row


def _document(result) -> dict:
    """export_verified's keyword for a prep result that kept the glTF document."""
    document = getattr(result, "document", None)
    return {"document": document} if document is not None else {}


def _describe(source: dict) -> str:
    bits = [f"{source['primitives']}p/{source['materials']}m"]
    for key in ("normals", "texcoord1", "colors", "textures", "double_sided", "emissive",
                "texture_transforms", "animations", "skins", "morph_targets"):
        if source.get(key):
            bits.append(f"{_SHORT[key]} {source[key]}")
    if source.get("alpha"):
        bits.append("alpha " + "/".join(source["alpha"]))
    if source.get("wraps"):
        bits.append("wrap")
    return ", ".join(bits)


def table(rows: list[dict]) -> str:
    lines = ["| sample | source carries | " + " | ".join(f"lost in .{f}" for f in FORMATS)
             + " |", "|" + " --- |" * (2 + len(FORMATS))]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['name']} | {row['error']} |" + " |" * len(FORMATS))
            continue
        lines.append(f"| {row['name']} | {_describe(row['source'])} | "
                     + " | ".join(row["cells"].get(f, "") for f in FORMATS) + " |")
    total = [r for r in rows if "error" not in r]
    for fmt in FORMATS:
        clean = sum(1 for r in total if r["cells"].get(fmt) == "—")
        lines.append(f"\n.{fmt}: {clean} of {len(total)} samples lose nothing measured here."
                     if fmt == FORMATS[0] else
                     f".{fmt}: {clean} of {len(total)} samples lose nothing measured here.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the table into this Markdown file "
                        "between the export_losses markers")
    parser.add_argument("--only", nargs="*", default=None, help="sample names to run")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    paths = [p for p in samples() if not args.only or any(o in str(p) for o in args.only)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="maquette-losses-") as tmp:
        for path in paths:
            row = measure(path, Path(tmp))
            rows.append(row)
            print(row["name"], row.get("error") or row["cells"], file=sys.stderr, flush=True)
    text = table(rows)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    if args.out:
        body = args.out.read_text() if args.out.is_file() else ""
        block = f"{BEGIN}\n{text}\n{END}"
        if BEGIN in body and END in body:
            body = body[:body.index(BEGIN)] + block + body[body.index(END) + len(END):]
        else:
            body += ("\n" if body else "") + block + "\n"
        args.out.write_text(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
