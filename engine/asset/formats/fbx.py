"""Binary FBX 7.4 writer: one model and geometry per piece of the asset (a glTF file's
primitives stay apart) with normals, UVs and vertex colours, each with its material and
the material's embedded base-colour, normal and emissive maps; the source's node
animation as a take per clip (linear T/R/S curves).

No maintained FBX writer exists on PyPI, and assimp's writes files that assimp itself
refuses, so this is our own, following the node layout that Blender's exporter writes
(and the format notes at code.blender.org / the ufbx project):

* file header ``Kaydara FBX Binary  \\0\\x1a\\0`` + version 7400;
* node records: end offset, property count, property bytes, name, properties,
  children, and a 13-byte null record closing any node with children (and an empty
  node, unless it is the last of its parent's children, as Blender writes it);
* typed properties: ``Y C I F D L`` scalars, ``S R`` strings/raw, ``i l f d b``
  arrays (zlib-compressed when large);
* footer: null record, footer id, padding to 16, version, 120 zero bytes, magic.

Coordinates are written as they are (glTF's Y-up, right-handed, metres) and the
GlobalSettings say so (UpAxis Y, FrontAxis Z, UnitScaleFactor 100 = metres).
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.asset.model import AssetError, mesh_uv, texture_image

from .common import base_color, mesh_normals, png_bytes

__all__ = ["FbxMaterial", "FbxPiece", "fbx_bytes", "read_fbx", "write"]

_HEADER = b"Kaydara FBX Binary  \x00\x1a\x00"
_VERSION = 7400
_NULL = b"\x00" * 13
_FOOT_ID = bytes.fromhex("fabcab09d0c8d466b176fb831cf7267e")
_FOOT_MAGIC = bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")
# arrays up to this size are zlib-compressed (as Blender does); larger ones are written
# raw: compressing the 1M-triangle benchmark's arrays took 2 s for a 2x smaller file
_COMPRESS_MAX = 4 << 20
# FileId and CreationTime are checked against each other (and the footer id) by the
# FBX SDK; this is the fixed, matching triple Blender's exporter writes.
_FILE_ID = bytes.fromhex("28b32aebb624ccc2bfc8b02aa92bfcf1")


class _Raw(bytes):
    """A property to write as FBX raw bytes ('R')."""


class _I16(int):
    """A property to write as FBX int16 ('Y')."""


class _I64(int):
    """A property to write as FBX int64 ('L')."""


def _prop(value) -> bytes:
    if isinstance(value, _Raw):
        return b"R" + struct.pack("<I", len(value)) + bytes(value)
    if isinstance(value, bool):
        return b"C" + struct.pack("<?", value)
    if isinstance(value, _I16):
        return b"Y" + struct.pack("<h", value)
    if isinstance(value, _I64):
        return b"L" + struct.pack("<q", value)
    if isinstance(value, int):
        return b"I" + struct.pack("<i", value)
    if isinstance(value, float):
        return b"D" + struct.pack("<d", value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return b"S" + struct.pack("<I", len(data)) + data
    if isinstance(value, bytes):
        return b"S" + struct.pack("<I", len(value)) + value
    if isinstance(value, np.ndarray):
        code = {np.dtype("float64"): b"d", np.dtype("float32"): b"f",
                np.dtype("int32"): b"i", np.dtype("int64"): b"l", np.dtype("bool"): b"b"}
        arr = np.ascontiguousarray(value.ravel())
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        if 128 < len(data) <= _COMPRESS_MAX:
            packed = zlib.compress(data, 1)
            return code[arr.dtype] + struct.pack("<III", len(arr), 1, len(packed)) + packed
        return code[arr.dtype] + struct.pack("<III", len(arr), 0, len(data)) + data
    raise TypeError(f"cannot write {type(value).__name__} as an FBX property")


class _Node:
    __slots__ = ("name", "props", "children")

    def __init__(self, name: str, *props, children=None):
        self.name = name.encode("ascii")
        self.props = [_prop(p) for p in props]
        self.children = list(children or [])

    def add(self, name: str, *props, children=None) -> _Node:
        node = _Node(name, *props, children=children)
        self.children.append(node)
        return node

    def write(self, out: io.BytesIO, is_last: bool = False) -> None:
        start = out.tell()
        props = b"".join(self.props)
        out.write(b"\x00" * 12)  # end offset, count, length: patched below
        out.write(struct.pack("<B", len(self.name)) + self.name + props)
        if self.children:
            for i, child in enumerate(self.children):
                child.write(out, i == len(self.children) - 1)
            out.write(_NULL)
        elif not self.props and not is_last:
            out.write(_NULL)  # an empty node is closed too, unless last in its parent
        end = out.tell()
        out.seek(start)
        out.write(struct.pack("<III", end, len(self.props), len(props)))
        out.seek(end)


def _p70(*entries) -> _Node:
    node = _Node("Properties70")
    for entry in entries:
        node.add("P", *entry)
    return node


# glTF texture slot (trimesh's PBRMaterial attribute) -> the FBX material property it
# is connected to, and the file-name suffix of its image; Phong has no slot for
# metal/rough or occlusion maps
_MAPS = (("baseColorTexture", "DiffuseColor", "basecolor"),
         ("normalTexture", "NormalMap", "normal"),
         ("emissiveTexture", "EmissiveColor", "emissive"))


@dataclass
class FbxMaterial:
    """One Phong material: diffuse colour, opacity, emissive, and its embedded textures
    (FBX property -> (file name, PNG bytes): DiffuseColor, NormalMap, EmissiveColor)."""

    base_color: tuple = (0.8, 0.8, 0.8)
    textures: dict = field(default_factory=dict)
    opacity: float = 1.0
    emissive: tuple = (0.0, 0.0, 0.0)


@dataclass
class FbxPiece:
    """One mesh of the file: its own Geometry and Model, drawn with material `material`
    (an index into the file's materials)."""

    vertices: np.ndarray  # (n, 3) control points (split at UV seams stay split)
    faces: np.ndarray  # (m, 3) int
    normals: np.ndarray  # (n, 3) per vertex, written ByVertice
    uv: np.ndarray | None = None  # (n, 2), v = 0 at the image's bottom (as OBJ/FBX)
    material: int = 0
    colors: np.ndarray | None = None  # (n, 4) RGBA in [0, 1] per vertex


# FBX time: ticks per second (KTime)
_KTIME = 46186158000


def trs_euler(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k, 4, 4) column-vector matrices → translations (k, 3), FBX Euler rotations
    (k, 3) in degrees for its default XYZ order (R = Rz · Ry · Rx), unwrapped so that
    consecutive samples do not jump by 360°, and scales (k, 3) (a mirror: x negative)."""
    m = np.asarray(matrices, float)
    linear = m[:, :3, :3]
    scale = np.linalg.norm(linear, axis=1)
    scale[:, 0] *= np.sign(np.linalg.det(linear))
    rot = linear / np.where(scale == 0, 1.0, scale)[:, None, :]
    beta = np.arcsin(np.clip(-rot[:, 2, 0], -1.0, 1.0))
    alpha = np.arctan2(rot[:, 2, 1], rot[:, 2, 2])
    gamma = np.arctan2(rot[:, 1, 0], rot[:, 0, 0])
    euler = np.unwrap(np.stack([alpha, beta, gamma], axis=1), axis=0)
    return m[:, :3, 3], np.degrees(euler), scale


def fbx_bytes(pieces: list[FbxPiece], materials: list[FbxMaterial], *,
              name: str = "asset", motion=None) -> bytes:
    """A binary FBX 7.4 file: one Model with its Geometry per piece (a glTF file's
    primitives stay apart), each connected to its material; a material is written once
    and connected to every model that uses it, with its embedded texture. `motion`
    (engine.asset.node_motion.PieceMotion per clip): one take per clip, in which each
    moving piece's model gets linear translation, rotation and scaling curves, one key
    per sample."""
    used = sorted({piece.material for piece in pieces})
    textured = sum(len(materials[k].textures) for k in used)

    root = _Node("root")
    header = root.add("FBXHeaderExtension")
    header.add("FBXHeaderVersion", 1003)
    header.add("FBXVersion", _VERSION)
    header.add("EncryptionType", 0)
    stamp = header.add("CreationTimeStamp")
    for key, value in (("Version", 1000), ("Year", 2026), ("Month", 1), ("Day", 1),
                       ("Hour", 0), ("Minute", 0), ("Second", 0), ("Millisecond", 0)):
        stamp.add(key, value)
    header.add("Creator", "Maquette")
    root.add("FileId", _Raw(_FILE_ID))
    root.add("CreationTime", "1970-01-01 10:00:00:000")
    root.add("Creator", "Maquette")

    settings = root.add("GlobalSettings")
    settings.add("Version", 1000)
    settings.children.append(_p70(
        ("UpAxis", "int", "Integer", "", 1), ("UpAxisSign", "int", "Integer", "", 1),
        ("FrontAxis", "int", "Integer", "", 2), ("FrontAxisSign", "int", "Integer", "", 1),
        ("CoordAxis", "int", "Integer", "", 0), ("CoordAxisSign", "int", "Integer", "", 1),
        ("OriginalUpAxis", "int", "Integer", "", 1),
        ("OriginalUpAxisSign", "int", "Integer", "", 1),
        ("UnitScaleFactor", "double", "Number", "", 100.0),
        ("OriginalUnitScaleFactor", "double", "Number", "", 100.0),
        ("AmbientColor", "ColorRGB", "Color", "", 0.0, 0.0, 0.0),
        ("DefaultCamera", "KString", "", "", "Producer Perspective"),
        ("TimeMode", "enum", "", "", 11),
        ("TimeSpanStart", "KTime", "Time", "", _I64(0)),
        ("TimeSpanStop", "KTime", "Time", "", _I64(46186158000)),
        ("CustomFrameRate", "double", "Number", "", 24.0),
    ))

    documents = root.add("Documents")
    documents.add("Count", 1)
    document = documents.add("Document", _I64(1000000), "", "Scene")
    document.children.append(_p70(("SourceObject", "object", "", ""),
                                  ("ActiveAnimStackName", "KString", "", "", "")))
    document.add("RootNode", _I64(0))
    root.add("References")

    takes_moving = [(clip, [(i, m) for i, m in enumerate(clip.matrices)
                            if m is not None and i < len(pieces)]) for clip in motion or ()]
    takes_moving = [(clip, moving) for clip, moving in takes_moving if moving]
    curves = sum(len(moving) for _, moving in takes_moving)
    object_types = [("GlobalSettings", 1), ("Model", len(pieces)), ("Geometry", len(pieces)),
                    ("Material", len(used))]
    if textured:
        object_types += [("Texture", textured), ("Video", textured)]
    if takes_moving:
        object_types += [("AnimationStack", len(takes_moving)),
                         ("AnimationLayer", len(takes_moving)),
                         ("AnimationCurveNode", 3 * curves), ("AnimationCurve", 9 * curves)]
    definitions = root.add("Definitions")
    definitions.add("Version", 100)
    definitions.add("Count", sum(c for _, c in object_types))
    for type_name, count in object_types:
        definitions.add("ObjectType", type_name).add("Count", count)

    objects = root.add("Objects")
    connections = root.add("Connections")
    for i, piece in enumerate(pieces):
        label = name if len(pieces) == 1 else f"{name}_{i}"
        geometry_id, model_id = _I64(2000000 + 2 * i), _I64(2000001 + 2 * i)
        _add_geometry(objects, geometry_id, label, piece)
        model = objects.add("Model", model_id, f"{label}\x00\x01Model", "Mesh")
        model.add("Version", 232)
        model.children.append(_p70(
            ("Lcl Translation", "Lcl Translation", "", "A", 0.0, 0.0, 0.0),
            ("Lcl Rotation", "Lcl Rotation", "", "A", 0.0, 0.0, 0.0),
            ("Lcl Scaling", "Lcl Scaling", "", "A", 1.0, 1.0, 1.0),
            ("DefaultAttributeIndex", "int", "Integer", "", 0),
        ))
        model.add("Shading", True)
        model.add("Culling", "CullingOff")
        connections.add("C", "OO", model_id, _I64(0))
        connections.add("C", "OO", geometry_id, model_id)
    for k in used:
        label = f"{name}_material" if len(materials) == 1 else f"{name}_material{k}"
        material_id = _add_material(objects, connections, k, materials[k], label)
        for i, piece in enumerate(pieces):
            if piece.material == k:  # (each model's only material: its index 0)
                connections.add("C", "OO", material_id, _I64(2000001 + 2 * i))
    takes = root.add("Takes")
    takes.add("Current", _take_name(takes_moving[0][0]) if takes_moving else "")
    next_id = 3000000
    for clip, moving in takes_moving:
        next_id = _add_motion(objects, connections, takes, clip, moving, next_id)

    out = io.BytesIO()
    out.write(_HEADER + struct.pack("<I", _VERSION))
    for node in root.children:
        node.write(out)  # (top-level nodes: never "last", as Blender writes them)
    out.write(_NULL)
    out.write(_FOOT_ID + b"\x00" * 4)
    pad = (-out.tell()) % 16 or 16
    out.write(b"\x00" * pad)
    out.write(struct.pack("<I", _VERSION) + b"\x00" * 120 + _FOOT_MAGIC)
    return out.getvalue()


def _take_name(motion) -> str:
    return motion.name or "Take"


def _add_motion(objects, connections, takes, motion, moving, next_id: int) -> int:
    """One take (AnimationStack + layer) of linear T/R/S curves for each moving model
    (its id: 2000001 + 2 i), keyed at the clip's sample times; object ids from
    `next_id` on. Returns the next free id."""
    stop = _I64(int(round(float(motion.times[-1]) * _KTIME)))
    times = np.round(np.asarray(motion.times, float) * _KTIME).astype(np.int64)
    take = _take_name(motion)
    stack_id, layer_id = _I64(next_id), _I64(next_id + 1)
    stack = objects.add("AnimationStack", stack_id, f"{take}\x00\x01AnimStack", "")
    stack.children.append(_p70(("LocalStop", "KTime", "Time", "", stop),
                               ("ReferenceStop", "KTime", "Time", "", stop)))
    layer = objects.add("AnimationLayer", layer_id, "BaseLayer\x00\x01AnimLayer", "")
    layer.children.append(_p70())  # (assimp wants a scope: "expected compound scope")
    connections.add("C", "OO", layer_id, stack_id)
    next_id += 2
    for i, matrices in moving:
        model_id = _I64(2000001 + 2 * i)
        for prop, short, values in zip(("Lcl Translation", "Lcl Rotation", "Lcl Scaling"),
                                       "TRS", trs_euler(matrices), strict=True):
            node_id = _I64(next_id)
            next_id += 1
            node = objects.add("AnimationCurveNode", node_id, f"{short}\x00\x01AnimCurveNode", "")
            node.children.append(_p70(*[(f"d|{axis}", "Number", "", "A", float(values[0, a]))
                                        for a, axis in enumerate("XYZ")]))
            connections.add("C", "OO", node_id, layer_id)
            connections.add("C", "OP", node_id, model_id, prop)
            for a, axis in enumerate("XYZ"):
                curve_id = _I64(next_id)
                next_id += 1
                curve = objects.add("AnimationCurve", curve_id, "\x00\x01AnimCurve", "")
                curve.add("Default", float(values[0, a]))
                curve.add("KeyVer", 4008)
                curve.add("KeyTime", times)
                curve.add("KeyValueFloat", values[:, a].astype(np.float32))
                curve.add("KeyAttrFlags", np.array([4], np.int32))  # linear interpolation
                curve.add("KeyAttrDataFloat", np.zeros(4, np.float32))
                curve.add("KeyAttrRefCount", np.array([len(times)], np.int32))
                connections.add("C", "OP", curve_id, node_id, f"d|{axis}")
    entry = takes.add("Take", take)
    entry.add("FileName", f"{take}.tak")
    entry.add("LocalTime", _I64(0), stop)
    entry.add("ReferenceTime", _I64(0), stop)
    return next_id


def _add_geometry(objects, geometry_id, label: str, piece: FbxPiece) -> None:
    faces = np.asarray(piece.faces, dtype=np.int64)
    polygon_index = faces.astype(np.int32).copy()
    polygon_index[:, 2] = -polygon_index[:, 2] - 1  # the last corner of a polygon is ~index
    geometry = objects.add("Geometry", geometry_id, f"{label}\x00\x01Geometry", "Mesh")
    geometry.add("Properties70")
    geometry.add("GeometryVersion", 124)
    geometry.add("Vertices", np.asarray(piece.vertices, dtype=np.float64).ravel())
    geometry.add("PolygonVertexIndex", polygon_index.ravel())

    def layer_element(kind: str, name: str, mapping: str, reference: str, key: str, values):
        element = geometry.add(kind, 0)
        element.add("Version", 101)
        element.add("Name", name)
        element.add("MappingInformationType", mapping)
        element.add("ReferenceInformationType", reference)
        element.add(key, values)

    layer_element("LayerElementNormal", "", "ByVertice", "Direct", "Normals",
                  np.asarray(piece.normals, dtype=np.float64).ravel())
    if piece.uv is not None:
        layer_element("LayerElementUV", "UVMap", "ByVertice", "Direct", "UV",
                      np.asarray(piece.uv, dtype=np.float64).ravel())
    if piece.colors is not None:
        layer_element("LayerElementColor", "Col", "ByVertice", "Direct", "Colors",
                      np.asarray(piece.colors, dtype=np.float64).ravel())
    layer_element("LayerElementMaterial", "", "AllSame", "IndexToDirect", "Materials",
                  np.zeros(1, dtype=np.int32))
    layer = geometry.add("Layer", 0)
    layer.add("Version", 100)
    for element in ("LayerElementNormal", "LayerElementMaterial") + (
            ("LayerElementUV",) if piece.uv is not None else ()) + (
            ("LayerElementColor",) if piece.colors is not None else ()):
        entry = layer.add("LayerElement")
        entry.add("Type", element)
        entry.add("TypedIndex", 0)


def _add_material(objects, connections, k: int, spec: FbxMaterial, label: str):
    """Material k with its texture and video; returns its object id (the caller
    connects it to the models that use it)."""
    material_id = _I64(1000003 + 10 * k)
    r, g, b = (float(c) for c in spec.base_color[:3])
    material = objects.add("Material", material_id, f"{label}\x00\x01Material", "")
    material.add("Version", 102)
    material.add("ShadingModel", "Phong")
    material.add("MultiLayer", 0)
    material.children.append(_p70(
        ("DiffuseColor", "Color", "", "A", r, g, b),
        ("DiffuseFactor", "Number", "", "A", 1.0),
        ("EmissiveColor", "Color", "", "A", *(float(c) for c in spec.emissive[:3])),
        ("SpecularColor", "Color", "", "A", 0.2, 0.2, 0.2),
        ("Shininess", "Number", "", "A", 20.0),
        # assimp reads the Phong exponent from ShininessExponent (AI_MATKEY_SHININESS);
        # without it its validator warns "a specular shading model is specified but
        # there is no AI_MATKEY_SHININESS key" (issue 14)
        ("ShininessExponent", "Number", "", "A", 20.0),
        ("Opacity", "Number", "", "A", float(spec.opacity)),
    ))
    for t, (prop, (texture_name, png)) in enumerate(spec.textures.items()):
        texture_id = _I64(1000004 + 10 * k + 2 * t)
        video_id = _I64(1000005 + 10 * k + 2 * t)
        video = objects.add("Video", video_id, f"{texture_name}\x00\x01Video", "Clip")
        video.add("Type", "Clip")
        video.children.append(_p70(("Path", "KString", "XRefUrl", "", texture_name)))
        video.add("UseMipMap", 0)
        video.add("Filename", texture_name)
        video.add("RelativeFilename", texture_name)
        video.add("Content", _Raw(png))
        texture = objects.add("Texture", texture_id, f"{texture_name}\x00\x01Texture", "")
        texture.add("Type", "TextureVideoClip")
        texture.add("Version", 202)
        texture.add("TextureName", f"{texture_name}\x00\x01Texture")
        texture.children.append(_p70(("UseMaterial", "bool", "", "", 1)))
        texture.add("Media", f"{texture_name}\x00\x01Video")
        texture.add("FileName", texture_name)
        texture.add("RelativeFilename", texture_name)
        texture.add("ModelUVTranslation", 0.0, 0.0)
        texture.add("ModelUVScaling", 1.0, 1.0)
        texture.add("Texture_Alpha_Source", "None")
        texture.add("Cropping", 0, 0, 0, 0)
        connections.add("C", "OP", texture_id, material_id, prop)
        connections.add("C", "OO", video_id, texture_id)
    return material_id


def _fbx_material(mesh, stem: str) -> FbxMaterial:
    """A mesh's material as Phong: base colour, alpha when blended, emissive, and its
    base-colour, normal and emissive images (when it has UVs), named `stem`_slot.png."""
    material = getattr(mesh.visual, "material", None)
    uv = mesh_uv(mesh)
    opacity = 1.0
    factor = getattr(material, "baseColorFactor", None)
    if factor is not None and getattr(material, "alphaMode", None) == "BLEND" and \
            len(factor) > 3:
        f = np.asarray(factor, dtype=float)
        opacity = float(f[3] / 255.0 if f.max() > 1.0 else f[3])
    emissive = getattr(material, "emissiveFactor", None)
    textures = {}
    for attribute, prop, suffix in _MAPS if uv is not None else ():
        image = texture_image(mesh) if prop == "DiffuseColor" else \
            getattr(material, attribute, None)
        if image is not None:
            textures[prop] = (f"{stem}_{suffix}.png", png_bytes(image))
    return FbxMaterial(base_color(mesh), textures, opacity,
                       tuple(float(x) for x in np.asarray(
                           emissive if emissive is not None else (0, 0, 0), float)[:3]))


def write(mesh, out: Path, options=None) -> dict[Path, bytes]:
    """The FBX, with each texture embedded and also written beside it
    (RelativeFilename), for importers that ignore embedded media. Several pieces
    (options.pieces: a file's primitives) are one model each; pieces with the same
    material share one FBX material, and the same image is one file; the source's node
    animation (options.motion) moves the models it moves, a take per clip."""
    pieces = list(getattr(options, "pieces", ()) or ()) or [mesh]
    keys: dict[object, int] = {}
    specs: list[FbxMaterial] = []
    names: dict[bytes, str] = {}
    parts = []
    for piece in pieces:
        material = getattr(piece.visual, "material", None)
        key = hash(material) if material is not None else None
        if key not in keys:
            spec = _fbx_material(piece, out.stem if len(pieces) == 1 else
                                 f"{out.stem}_{len(specs)}")
            for prop, (name, png) in spec.textures.items():  # the same image: one file
                spec.textures[prop] = (names.setdefault(png, name), png)
            keys[key] = len(specs)
            specs.append(spec)
        colors = None
        if getattr(piece.visual, "kind", None) == "vertex":
            colors = np.asarray(piece.visual.vertex_colors, dtype=np.float64) / 255.0
        parts.append(FbxPiece(np.asarray(piece.vertices), np.asarray(piece.faces),
                              mesh_normals(piece), mesh_uv(piece), keys[key], colors))
    files: dict[Path, bytes] = {out.with_name(n): png for png, n in names.items()}
    files[out] = fbx_bytes(parts, specs, name=out.stem or "asset",
                           motion=getattr(options, "motion", None))
    return files


_FBX_CHILD = r"""
import base64, gc, json, os, sys
gc.disable()  # ufbx's objects crash the cycle collector: never run it here
import numpy as np
import ufbx
out = {}
with ufbx.load_file(sys.argv[1]) as scene:
    tri, lo, hi, uv, normals = 0, [float("inf")] * 3, [float("-inf")] * 3, False, False
    for mesh in scene.meshes:
        tri += int(mesh.num_triangles)
        # the positions' buffer, copied while the scene is open (a Python loop over the
        # Vec3 objects took ~0.5 s per million)
        pts = np.array(mesh.vertex_position.values, dtype=float).reshape(-1, 3)
        if len(pts):
            lo = np.minimum(lo, pts.min(axis=0)).tolist()
            hi = np.maximum(hi, pts.max(axis=0)).tolist()
        uv = uv or bool(mesh.vertex_uv.exists)
        normals = normals or bool(mesh.vertex_normal.exists)
    textures = []
    for material in scene.materials:
        texture = material.fbx.diffuse_color.texture
        if texture is not None and texture.content is not None:
            textures.append(base64.b64encode(bytes(texture.content)).decode("ascii"))
    out = {"triangles": tri, "bounds": [lo, hi], "uv": uv, "normals": normals,
           "meshes": len(scene.meshes),
           "materials": len(scene.materials), "diffuse_textures": textures,
           "unit_meters": float(scene.settings.unit_meters),
           "warnings": [str(w.description) for w in scene.metadata.warnings],
           "version": int(scene.metadata.version)}
    # written before the scene is freed, and never freed: ufbx's bindings segfault
    # closing some files (meshes with and without UVs side by side), then nothing came
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown either
"""


def read_fbx(path: Path) -> dict:
    """FBX figures via ufbx, as plain Python data.

    ufbx's Python bindings crash the interpreter when the cycle collector visits
    their objects (seen as random segfaults "while garbage-collecting"), so the
    file is read in a child Python with the collector off, which prints JSON."""
    import base64
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _FBX_CHILD, str(path)],
                            capture_output=True, timeout=600)
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise AssetError(f"{path}: ufbx cannot read it"
                         + (f": {message[-1]}" if message else
                            f" (reader exited with {result.returncode})"))
    got = json.loads(result.stdout)
    got["bounds"] = np.array(got["bounds"], dtype=np.float64)
    got["diffuse_textures"] = [base64.b64decode(t) for t in got["diffuse_textures"]]
    got["textured"] = bool(got["diffuse_textures"] and got["uv"])
    got["reader"] = "ufbx"
    return got


read_back = read_fbx
