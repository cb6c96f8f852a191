"""Binary FBX 7.4 writer of the asset's glTF scene (engine.asset.gltf_scene): a model
per node (LimbNodes for skin joints; RSrs inheritance, as glTF's matrices compose), a
mesh model and geometry per triangle primitive with normals, both UV sets and vertex
colours, Phong materials with their embedded base-colour, normal and emissive maps (UV
set, wrap mode, texture transform), skins as Skin and Cluster deformers with a bind
pose, morph targets as BlendShape channels, and a take per clip (linear T/R/S and
DeformPercent curves, 30 keys a second).

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
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from engine.asset.model import AssetError

__all__ = ["fbx_bytes", "read_fbx", "trs_euler", "write"]

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


# glTF texture slot -> the Phong property it is connected to and its file-name word;
# Phong has no slot for metal/rough or occlusion maps
_MAPS = (("baseColorTexture", "DiffuseColor", "basecolor"),
         ("normalTexture", "NormalMap", "normal"),
         ("emissiveTexture", "EmissiveColor", "emissive"))
_WRAP = {10497: 0, 33071: 1, 33648: 0}  # FBX: 0 repeat, 1 clamp (no mirror: repeat)
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
    # gimbal lock (β = ±90°): only α ∓ γ is defined; γ = 0 and α from the first row
    locked = np.abs(rot[:, 2, 0]) > 1.0 - 1e-9
    up = -np.sign(rot[:, 2, 0])
    alpha = np.where(locked, np.arctan2(up * rot[:, 0, 1], up * rot[:, 0, 2]), alpha)
    gamma = np.where(locked, 0.0, gamma)
    euler = np.unwrap(np.stack([alpha, beta, gamma], axis=1), axis=0)
    return m[:, :3, 3], np.degrees(euler), scale


def _placement(transform: dict) -> list[tuple]:
    """A texture's Translation, Rotation and Scaling properties for a glTF
    KHR_texture_transform: FBX places the texture on the UVs by T · R · S (readers such
    as ufbx sample it at its inverse), so they are the inverse of st' = R · S · st + t
    (engine.asset.gltf_scene.st_transform); [] when that inverse is not of that form (a
    turn with a non-uniform scale)."""
    from engine.asset.gltf_scene import st_transform

    (sx, sy), degrees, (tx, ty) = st_transform(transform)
    if abs(sx) < 1e-12 or abs(sy) < 1e-12 or (abs(sx - sy) > 1e-9 and abs(degrees) > 1e-9):
        return []
    r = math.radians(-degrees)
    c, s = math.cos(r), math.sin(r)
    ix, iy = 1.0 / sx, 1.0 / sy
    # inverse: x ↦ R(−θ) · S⁻¹ · (x − t)
    ox, oy = -(c * ix * tx - s * iy * ty), -(s * ix * tx + c * iy * ty)
    return [("Translation", "Vector", "", "A", ox, oy, 0.0),
            ("Rotation", "Vector", "", "A", 0.0, 0.0, -degrees),
            ("Scaling", "Vector", "", "A", ix, iy, 1.0)]


def _fbx_matrix(m: np.ndarray) -> np.ndarray:
    """A column-vector (4, 4) matrix as FBX stores one (16 doubles, translation last)."""
    return np.asarray(m, np.float64).T.ravel()


class _Builder:
    """The Objects and Connections of one FBX file, with ids from 1,000,000 up and a
    count per object type for the Definitions."""

    def __init__(self):
        self.objects, self.connections = _Node("Objects"), _Node("Connections")
        self.counts: dict[str, int] = {}
        self.next_id = 1000000

    def add(self, kind: str, label: str, cls: str, subtype: str) -> tuple[_I64, _Node]:
        object_id = _I64(self.next_id)
        self.next_id += 1
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return object_id, self.objects.add(kind, object_id, f"{label}\x00\x01{cls}", subtype)

    def link(self, child, parent, prop: str | None = None) -> None:
        if prop is None:
            self.connections.add("C", "OO", child, parent)
        else:
            self.connections.add("C", "OP", child, parent, prop)


def _clean(text: str) -> str:
    return "".join(c if c.isprintable() and c not in "\x00\x01" else "_" for c in text)


class _SceneWriter:
    """A GltfScene as FBX objects: a Model per node (LimbNode for skin joints) with its
    rest T/R/S, a Mesh model and Geometry per primitive, Phong materials and their
    textures, skins (Skin + Cluster deformers, a BindPose), morph targets (BlendShape +
    channels + Shape geometries) and a take per clip."""

    def __init__(self, scene, name: str, images: dict[int, str]):
        self.scene, self.name, self.images = scene, name, images
        self.b = _Builder()
        self.models: dict[int, _I64] = {}
        self.joints = {j for s in range(len(scene.doc.get("skins") or []))
                       for j in scene.skin(s).joints}
        self.materials: dict = {}
        self.videos: dict[int, _I64] = {}
        self.channels: dict[int, list] = {}  # node -> [(primitive's channel ids)]
        self.pose: list = []  # (model id, world matrix) for the BindPose
        self.skinned: list = []

    def build(self) -> None:
        for root in self.scene.roots():
            self.node(root, _I64(0))
        for node, geometry, prim, mesh_model in self.skinned:
            self.skin(node, geometry, prim, mesh_model)
        if self.pose:
            _, pose = self.b.add("Pose", "BindPose", "Pose", "BindPose")
            pose.add("Type", "BindPose")
            pose.add("Version", 100)
            pose.add("NbPoseNodes", len(self.pose))
            for model, world in self.pose:
                entry = pose.add("PoseNode")
                entry.add("Node", model)
                entry.add("Matrix", _fbx_matrix(world))

    def _model(self, label: str, kind: str, local: np.ndarray, parent) -> _I64:
        model_id, model = self.b.add("Model", _clean(label), "Model", kind)
        t, r, s = (v[0] for v in trs_euler(local[None]))
        model.add("Version", 232)
        model.children.append(_p70(
            ("Lcl Translation", "Lcl Translation", "", "A", *map(float, t)),
            ("Lcl Rotation", "Lcl Rotation", "", "A", *map(float, r)),
            ("Lcl Scaling", "Lcl Scaling", "", "A", *map(float, s)),
            # (glTF's matrices compose parent · child fully: FBX's RSrs inheritance)
            ("InheritType", "enum", "", "", 0),
            ("DefaultAttributeIndex", "int", "Integer", "", 0),
        ))
        model.add("Shading", True)
        model.add("Culling", "CullingOff")
        self.b.link(model_id, parent)
        return model_id

    def node(self, i: int, parent) -> None:
        node = self.scene.nodes[i]
        label = node.get("name") or f"node{i}"
        mesh = node.get("mesh") if isinstance(node.get("mesh"), int) else None
        prims = [p for p in self.scene.primitives(mesh) if p.mode == 4] if mesh is not None \
            else []
        kind = "LimbNode" if i in self.joints else "Mesh" if len(prims) == 1 else "Null"
        model_id = self._model(label, kind, self.scene.rest_locals[i], parent)
        self.models[i] = model_id
        if kind == "LimbNode":
            attr_id, attr = self.b.add("NodeAttribute", _clean(label), "NodeAttribute",
                                       "LimbNode")
            attr.children.append(_p70(("Size", "double", "Number", "", 1.0)))
            attr.add("TypeFlags", "Skeleton")
            self.b.link(attr_id, model_id)
        for p, prim in enumerate(prims):
            target = model_id if kind == "Mesh" else self._model(
                f"{label}_{p}", "Mesh", np.eye(4), model_id)
            self.primitive(i, mesh, p, prim, target)
        for child in node.get("children", []):
            self.node(child, model_id)

    def primitive(self, node: int, mesh: int, p: int, prim, model_id) -> None:
        label = _clean(f"{(self.scene.doc['meshes'][mesh].get('name') or f'mesh{mesh}')}"
                       f"_{p}")
        geometry_id, geometry = self.b.add("Geometry", label, "Geometry", "Mesh")
        faces = prim.indices.reshape(-1, 3).astype(np.int32).copy()
        faces[:, 2] = -faces[:, 2] - 1  # the last corner of a polygon is ~index
        geometry.add("Properties70")
        geometry.add("GeometryVersion", 124)
        geometry.add("Vertices", prim.points.astype(np.float64).ravel())
        geometry.add("PolygonVertexIndex", faces.ravel())
        layers: list[list[tuple[str, int]]] = [[], []]

        def element(kind: str, index: int, name: str, mapping: str, key: str, values,
                    layer: int = 0):
            node = geometry.add(kind, index)
            node.add("Version", 101)
            node.add("Name", name)
            node.add("MappingInformationType", mapping)
            node.add("ReferenceInformationType", "IndexToDirect" if kind ==
                     "LayerElementMaterial" else "Direct")
            node.add(key, values)
            layers[layer].append((kind, index))

        if prim.normals is not None:
            element("LayerElementNormal", 0, "", "ByVertice", "Normals",
                    prim.normals.astype(np.float64).ravel())
        for n in (0, 1):
            if n in prim.uvs:
                uv = prim.uvs[n].astype(np.float64).copy()
                uv[:, 1] = 1.0 - uv[:, 1]  # (FBX: v up)
                element("LayerElementUV", n, "UVMap" if n == 0 else f"UVMap{n}", "ByVertice",
                        "UV", uv.ravel(), layer=n)
        if prim.colors is not None:
            rgba = np.ones((len(prim.colors), 4))
            rgba[:, :prim.colors.shape[1]] = prim.colors
            element("LayerElementColor", 0, "Col", "ByVertice", "Colors", rgba.ravel())
        element("LayerElementMaterial", 0, "", "AllSame", "Materials",
                np.zeros(1, dtype=np.int32))
        for n, entries in enumerate(layers):
            if not entries:
                continue
            layer = geometry.add("Layer", n)
            layer.add("Version", 100)
            for kind, index in entries:
                entry = layer.add("LayerElement")
                entry.add("Type", kind)
                entry.add("TypedIndex", index)
        self.b.link(geometry_id, model_id)
        self.b.link(self.material(prim.material), model_id)
        if self.scene.skin_of(node) is not None and prim.joints is not None:
            self.skinned.append((node, geometry_id, prim, model_id))
        if prim.targets:
            self.morph(node, mesh, geometry_id, prim)

    # -- materials ---------------------------------------------------------------------

    def material(self, index: int | None) -> _I64:
        if index in self.materials:
            return self.materials[index]
        m = self.scene.material(index)
        pbr = m.get("pbrMetallicRoughness") or {}
        base = [float(x) for x in pbr.get("baseColorFactor", (1, 1, 1, 1))]
        strength = float(((m.get("extensions") or {}).get("KHR_materials_emissive_strength")
                          or {}).get("emissiveStrength", 1.0))
        glow = [float(x) * strength for x in m.get("emissiveFactor", (0, 0, 0))]
        label = _clean(m.get("name") or f"{self.name}_material{'' if index is None else index}")
        material_id, material = self.b.add("Material", label, "Material", "")
        material.add("Version", 102)
        material.add("ShadingModel", "Phong")
        material.add("MultiLayer", 0)
        material.children.append(_p70(
            ("DiffuseColor", "Color", "", "A", *base[:3]),
            ("DiffuseFactor", "Number", "", "A", 1.0),
            ("EmissiveColor", "Color", "", "A", *glow),
            ("SpecularColor", "Color", "", "A", 0.2, 0.2, 0.2),
            ("Shininess", "Number", "", "A", 20.0),
            # assimp reads the Phong exponent from ShininessExponent (AI_MATKEY_SHININESS);
            # without it its validator warns "a specular shading model is specified but
            # there is no AI_MATKEY_SHININESS key" (issue 14)
            ("ShininessExponent", "Number", "", "A", 20.0),
            ("Opacity", "Number", "", "A",
             base[3] if m.get("alphaMode") == "BLEND" else 1.0),
        ))
        for slot, prop, _ in _MAPS:
            info = pbr.get(slot) if slot == "baseColorTexture" else m.get(slot)
            if isinstance(info, dict):
                self.texture(material_id, prop, info)
        self.materials[index] = material_id
        return material_id

    def texture(self, material_id, prop: str, info: dict) -> None:
        from engine.asset.gltf_scene import texture_mapping

        source = self.scene.texture_source(info.get("index"))
        if source is None or source not in self.images:
            return
        file = self.images[source]
        if source not in self.videos:
            data, _ = self.scene.image(source)
            video_id, video = self.b.add("Video", file, "Video", "Clip")
            video.add("Type", "Clip")
            video.children.append(_p70(("Path", "KString", "XRefUrl", "", file)))
            video.add("UseMipMap", 0)
            video.add("Filename", file)
            video.add("RelativeFilename", file)
            video.add("Content", _Raw(data))
            self.videos[source] = video_id
        uv_set, transform = texture_mapping(info)
        sampler = self.scene.sampler(info["index"])
        placement = _placement(transform) if transform is not None else []
        texture_id, texture = self.b.add("Texture", file, "Texture", "")
        texture.add("Type", "TextureVideoClip")
        texture.add("Version", 202)
        texture.add("TextureName", f"{file}\x00\x01Texture")
        texture.children.append(_p70(
            ("UseMaterial", "bool", "", "", 1),
            ("UVSet", "KString", "", "", "UVMap" if uv_set == 0 else f"UVMap{uv_set}"),
            ("WrapModeU", "enum", "", "", _WRAP.get(sampler.get("wrapS", 10497), 0)),
            ("WrapModeV", "enum", "", "", _WRAP.get(sampler.get("wrapT", 10497), 0)),
            *placement))
        texture.add("Media", f"{file}\x00\x01Video")
        texture.add("FileName", file)
        texture.add("RelativeFilename", file)
        texture.add("ModelUVTranslation", 0.0, 0.0)
        texture.add("ModelUVScaling", 1.0, 1.0)
        texture.add("Texture_Alpha_Source", "None")
        texture.add("Cropping", 0, 0, 0, 0)
        self.b.link(texture_id, material_id, prop)
        self.b.link(self.videos[source], texture_id)

    # -- skins and morph targets -------------------------------------------------------

    def skin(self, node: int, geometry_id, prim, mesh_model) -> None:
        """A Skin deformer on the geometry, a Cluster per joint: Transform is the joint's
        inverse bind matrix (mesh space to the joint's at bind), TransformLink the
        joint's world at bind; the mesh's own node transform is left out, as glTF
        skinning leaves it."""
        skin = self.scene.skin(self.scene.skin_of(node))
        skin_id, deformer = self.b.add("Deformer", "Skin", "Deformer", "Skin")
        deformer.add("Version", 101)
        deformer.add("Link_DeformAcuracy", 50.0)
        self.b.link(skin_id, geometry_id)
        for k, joint in enumerate(skin.joints):
            rows, cols = np.nonzero((prim.joints == k) & (prim.weights > 0))
            cluster_id, cluster = self.b.add("Deformer", _clean(
                self.scene.nodes[joint].get("name") or f"joint{joint}"), "SubDeformer",
                "Cluster")
            cluster.add("Version", 100)
            cluster.add("UserData", "", "")
            weights = np.zeros(len(prim.points))
            np.add.at(weights, rows, prim.weights[rows, cols])
            used = np.nonzero(weights > 0)[0]
            cluster.add("Indexes", used.astype(np.int32))
            cluster.add("Weights", weights[used].astype(np.float64))
            cluster.add("Transform", _fbx_matrix(skin.inverse_binds[k]))
            cluster.add("TransformLink", _fbx_matrix(np.linalg.inv(skin.inverse_binds[k])))
            self.b.link(cluster_id, skin_id)
            self.b.link(self.models[joint], cluster_id)
            self.pose.append((self.models[joint], np.linalg.inv(skin.inverse_binds[k])))
        self.pose.append((mesh_model, np.eye(4)))

    def morph(self, node: int, mesh: int, geometry_id, prim) -> None:
        blend_id, blend = self.b.add("Deformer", "Morphs", "Deformer", "BlendShape")
        blend.add("Version", 100)
        self.b.link(blend_id, geometry_id)
        rest = self.scene.default_weights(node, len(prim.targets))
        names = self.scene.target_names(mesh, len(prim.targets))
        ids = []
        for t, (offsets, normals) in enumerate(prim.targets):
            channel_id, channel = self.b.add("Deformer", _clean(names[t]), "SubDeformer",
                                             "BlendShapeChannel")
            channel.add("Version", 100)
            channel.add("DeformPercent", float(rest[t] * 100.0))
            channel.add("FullWeights", np.array([100.0]))
            shape_id, shape = self.b.add("Geometry", _clean(names[t]), "Geometry", "Shape")
            shape.add("Version", 100)
            shape.add("Indexes", np.arange(len(offsets), dtype=np.int32))
            shape.add("Vertices", offsets.astype(np.float64).ravel())
            if normals is not None:
                shape.add("Normals", normals.astype(np.float64).ravel())
            self.b.link(channel_id, blend_id)
            self.b.link(shape_id, channel_id)
            ids.append(channel_id)
        self.channels.setdefault(node, []).append(ids)

    # -- animation ---------------------------------------------------------------------

    def take(self, takes, clip) -> None:
        """One AnimationStack and layer: linear T/R/S curves for each node the clip
        moves (its local transform, one key per sample) and DeformPercent curves for
        the morph weights it animates."""
        stop = _I64(int(round(float(clip.times[-1]) * _KTIME)))
        times = np.round(np.asarray(clip.times, float) * _KTIME).astype(np.int64)
        name = clip.name or "Take"
        stack_id, stack = self.b.add("AnimationStack", name, "AnimStack", "")
        stack.children.append(_p70(("LocalStop", "KTime", "Time", "", stop),
                                   ("ReferenceStop", "KTime", "Time", "", stop)))
        layer_id, layer = self.b.add("AnimationLayer", "BaseLayer", "AnimLayer", "")
        layer.children.append(_p70())  # (assimp wants a scope: "expected compound scope")
        self.b.link(layer_id, stack_id)

        def curves(target, prop: str, short: str, axes, values):
            node_id, curve_node = self.b.add("AnimationCurveNode", short, "AnimCurveNode", "")
            curve_node.children.append(_p70(*[(f"d|{axis}", "Number", "", "A",
                                               float(values[0, a]))
                                              for a, axis in enumerate(axes)]))
            self.b.link(node_id, layer_id)
            self.b.link(node_id, target, prop)
            for a, axis in enumerate(axes):
                curve_id, curve = self.b.add("AnimationCurve", "", "AnimCurve", "")
                curve.add("Default", float(values[0, a]))
                curve.add("KeyVer", 4008)
                curve.add("KeyTime", times)
                curve.add("KeyValueFloat", values[:, a].astype(np.float32))
                curve.add("KeyAttrFlags", np.array([4], np.int32))  # linear interpolation
                curve.add("KeyAttrDataFloat", np.zeros(4, np.float32))
                curve.add("KeyAttrRefCount", np.array([len(times)], np.int32))
                self.b.link(curve_id, node_id, f"d|{axis}")

        for n in sorted(clip.moved):
            if n not in self.models:
                continue
            locals_ = np.stack([self.scene.local(n, pose) for pose in clip.poses])
            for prop, short, values in zip(("Lcl Translation", "Lcl Rotation", "Lcl Scaling"),
                                           "TRS", trs_euler(locals_), strict=True):
                curves(self.models[n], prop, short, "XYZ", values)
        for n, track in clip.weights.items():
            for ids in self.channels.get(n, []):
                for t, channel_id in enumerate(ids[:track.shape[1]]):
                    curves(channel_id, "DeformPercent", "DeformPercent", ["DeformPercent"],
                           track[:, t:t + 1] * 100.0)
        entry = takes.add("Take", name)
        entry.add("FileName", f"{name}.tak")
        entry.add("LocalTime", _I64(0), stop)
        entry.add("ReferenceTime", _I64(0), stop)


def fbx_bytes(scene, *, name: str = "asset", images: dict[int, str] | None = None) -> bytes:
    """A binary FBX 7.4 file of a GltfScene (engine.asset.gltf_scene): its node tree,
    a Mesh model per triangle primitive, materials with the `images` (glTF image index
    -> the file name it is embedded and written as), skins, morph targets and a take
    per clip."""
    writer = _SceneWriter(scene, name, images or {})
    writer.build()
    takes = _Node("Takes")
    clips = [scene.sampled(i) for i in scene.playing_clips()]
    takes.add("Current", clips[0].name or "Take" if clips else "")
    for clip in clips:
        writer.take(takes, clip)

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
    document = documents.add("Document", _I64(1), "", "Scene")
    document.children.append(_p70(("SourceObject", "object", "", ""),
                                  ("ActiveAnimStackName", "KString", "", "", "")))
    document.add("RootNode", _I64(0))
    root.add("References")

    counts = {"GlobalSettings": 1, **writer.b.counts}
    definitions = root.add("Definitions")
    definitions.add("Version", 100)
    definitions.add("Count", sum(counts.values()))
    for type_name, count in counts.items():
        definitions.add("ObjectType", type_name).add("Count", count)
    root.children += [writer.b.objects, writer.b.connections, takes]

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


def _image_names(scene, stem: str) -> dict[int, str]:
    """A file name per image a material map uses: `stem`_basecolor.png, `stem`_normal.png
    ... (the first slot that uses it; `stem`_k_slot when that name is taken)."""
    names: dict[int, str] = {}
    taken: set = set()
    for m in scene.doc.get("materials") or []:
        pbr = m.get("pbrMetallicRoughness") or {}
        for slot, _, word in _MAPS:
            info = pbr.get(slot) if slot == "baseColorTexture" else m.get(slot)
            source = scene.texture_source(info.get("index")) if isinstance(info, dict) \
                else None
            if source is None or source in names:
                continue
            suffix = scene.image(source)[1]
            name = f"{stem}_{word}.{suffix}"
            if name in taken:
                name = f"{stem}_{len(names)}_{word}.{suffix}"
            taken.add(name)
            names[source] = name
    return names


def write(mesh, out: Path, options=None) -> dict[Path, bytes]:
    """The FBX of the asset's glTF scene (options.document, else the mesh or its pieces
    written as a GLB first), with each image embedded and also written beside it
    (RelativeFilename) for importers that ignore embedded media."""
    from engine.asset.gltf_scene import scene_of

    from .gltf import scene_glb

    scene = scene_of(scene_glb(mesh, options))
    stem = out.stem or "asset"
    names = _image_names(scene, stem)
    files: dict[Path, bytes] = {out.with_name(n): scene.image(i)[0] for i, n in names.items()}
    files[out] = fbx_bytes(scene, name=stem, images=names)
    return files


_FBX_CHILD = r"""
import base64, gc, json, os, sys
gc.disable()  # ufbx's objects crash the cycle collector: never run it here
import numpy as np
import ufbx
out = {}
with ufbx.load_file(sys.argv[1]) as scene:
    tri, lo, hi, uv, normals = 0, [float("inf")] * 3, [float("-inf")] * 3, False, False
    skinned = targets = second_uv = colored = 0
    for node in scene.nodes:  # (each placement of a mesh, at rest, in world space)
        mesh = node.mesh
        if mesh is None:
            continue
        tri += int(mesh.num_triangles)
        skinned += int(len(mesh.skin_deformers) > 0)
        for deformer in list(mesh.blend_deformers):
            targets += len(deformer.channels)
        uv_sets = mesh.uv_sets  # (held: temporaries crashed the bindings)
        second_uv += int(len(uv_sets) > 1)
        colored += int(bool(mesh.vertex_color.exists))
        # the positions' buffer, copied while the scene is open (a Python loop over the
        # Vec3 objects took ~0.5 s per million)
        pts = np.array(mesh.vertex_position.values, dtype=float).reshape(-1, 3)
        if len(pts):
            m = node.geometry_to_world  # (each column held: temporaries crashed)
            c0, c1, c2, c3 = m.c0, m.c1, m.c2, m.c3
            cols = np.array([[c0.x, c0.y, c0.z], [c1.x, c1.y, c1.z], [c2.x, c2.y, c2.z],
                             [c3.x, c3.y, c3.z]], dtype=float)
            pts = pts @ cols[:3] + cols[3]
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
           "unit_meters": float(scene.settings.unit_meters), "skinned": skinned,
           "morph_targets": targets, "second_uv": second_uv, "colored": colored,
           "clips": len(scene.anim_stacks),
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
