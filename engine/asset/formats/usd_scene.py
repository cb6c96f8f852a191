"""A glTF scene as a USD stage (usd-core), for the USDZ writer: what the glTF carries
that USD's preview schemas can hold, node by node.

* nodes: an Xform each, in the glTF tree (a matrix op at rest; translate, orient and
  scale ops with time samples when the clip moves the node);
* primitives: a Mesh each (triangles; points as Points) with normals, both UV sets
  (``st``, ``st1``), vertex colours (``displayColor``, ``displayOpacity``);
* materials: UsdPreviewSurface with all five glTF texture slots (base colour with its
  alpha, metallic-roughness, normal with its scale, occlusion with its strength,
  emissive with KHR_materials_emissive_strength), factors, alpha mode and cutoff,
  double-sided, each texture's UV set, wrap modes and KHR_texture_transform
  (UsdTransform2d);
* skins: a UsdSkel Skeleton per glTF skin (joints ordered parents first, bind
  transforms from the inverse bind matrices) and a SkelAnimation; morph targets as
  BlendShapes with their weights (the mesh's defaults, animated by the clip);
* animation: one clip (USD has one timeline; AR Quick Look plays it), sampled at
  ``MOTION_FPS`` time codes a second.

Units and frames: glTF's (Y-up, metres as stored, seconds). USD's st has v up: st =
(u, 1 − v). USD matrices are row-vector: a glTF (column-vector) matrix M is written as
Mᵀ. Not carried (named by the format's table row): lines, KHR_materials_unlit (lit),
EXT_mesh_gpu_instancing (one instance), vertex colours times a base-colour texture
(the texture wins), clips after the first.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.animation.clips import Channel, Clip, clip_time, node_poses, sample, trs_matrix

__all__ = ["SceneNotes", "build_stage", "usd_texture_transform"]

MOTION_FPS = 30.0
_WRAP = {10497: "repeat", 33071: "clamp", 33648: "mirror"}
_IMAGE_SUFFIX = {"image/png": "png", "image/jpeg": "jpg"}


@dataclass
class SceneNotes:
    """What a conversion wrote and what it could not (for the export's one-line note)."""

    meshes: int = 0
    skins: int = 0
    blend_shapes: int = 0
    clip: str | None = None
    dropped: list[str] = field(default_factory=list)


def _name(text, fallback: str, taken: set) -> str:
    from pxr import Tf

    base = Tf.MakeValidIdentifier(str(text)) if text else fallback
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _matrix(m: np.ndarray):
    from pxr import Gf

    return Gf.Matrix4d(np.asarray(m, float).T.tolist())


def _quat(q):
    from pxr import Gf

    x, y, z, w = (float(v) for v in q)
    return Gf.Quatf(w, x, y, z)


def usd_texture_transform(transform: dict) -> tuple[tuple, float, tuple]:
    """(scale, rotation in degrees, translation) of a UsdTransform2d that maps USD st as
    the glTF KHR_texture_transform `transform` maps glTF UVs (st = (u, 1 − v); the
    renderer's engine.render.gltf_material matrix in the same V-flipped space)."""
    sx, sy = (float(v) for v in transform.get("scale", (1.0, 1.0)))
    ox, oy = (float(v) for v in transform.get("offset", (0.0, 0.0)))
    r = float(transform.get("rotation", 0.0))
    # st' = R·S·(st − p) + p + (ox, −oy) with p = (0, 1): R·S·st + translation
    translation = (ox + sy * math.sin(r), 1.0 - oy - sy * math.cos(r))
    return (sx, sy), math.degrees(r), translation


class _Converter:
    def __init__(self, stage, g, folder: Path, clip: Clip | None, rest: dict,
                 notes: SceneNotes):
        self.stage, self.g, self.doc, self.folder = stage, g, g.doc, folder
        self.clip, self.rest, self.notes = clip, rest, notes
        nodes = self.doc.get("nodes") or []
        self.nodes = nodes
        self.parents = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
        self.times = self._times()
        # every node's local matrix at rest and at each time code
        rest_locals = [trs_matrix(*rest[i]) for i in range(len(nodes))]
        self.rest_locals = rest_locals
        self.poses = [node_poses(clip, t, rest) for t in self._clip_times()] \
            if clip is not None else []
        self.textures: dict[int, str] = {}
        self.materials: dict = {}
        self.readers: dict = {}
        self.node_paths: dict[int, str] = {}
        self.skeletons: dict = {}
        self.weights: dict[str, list] = {}  # skeleton path -> [(token, (k,) weights)]

    # -- time --------------------------------------------------------------------------

    def _times(self) -> np.ndarray:
        if self.clip is None:
            return np.zeros(0)
        count = max(2, int(round(self.clip.duration * MOTION_FPS)) + 1)
        return np.arange(count) / MOTION_FPS

    def _clip_times(self):
        last = float(np.nextafter(self.clip.duration, 0.0))  # (t = duration loops to 0)
        return [min(float(t), last) for t in self.times]

    def world(self, node: int, k: int | None) -> np.ndarray:
        """Node's world matrix at rest (k None) or at time code k."""
        out = np.eye(4)
        seen = set()
        while node is not None and node not in seen:
            seen.add(node)
            pose = None if k is None else self.poses[k].get(node)
            out = (trs_matrix(*pose) if pose is not None else self.rest_locals[node]) @ out
            node = self.parents.get(node)
        return out

    # -- accessors and images ----------------------------------------------------------

    def accessor(self, index) -> np.ndarray:
        from engine.asset.formats.gltf import read_accessor

        return np.array(read_accessor(self.g, int(index)))

    def _image_bytes(self, i: int) -> tuple[bytes, str]:
        image = (self.doc.get("images") or [])[i]
        if "bufferView" in image:
            b, off, length, _ = self.g.views[image["bufferView"]]
            data = bytes(self.g.buffer(b)[off:off + length])
        else:
            import base64
            from urllib.parse import unquote

            uri = image.get("uri", "")
            if uri.startswith("data:"):
                head, _, payload = uri.partition(",")
                data = base64.b64decode(payload) if head.endswith(";base64") else \
                    unquote(payload).encode("latin-1")
            else:
                from engine.asset.formats.gltf import safe_local

                data = safe_local(self.g.path, uri, f"images[{i}].uri").read_bytes()
        mime = image.get("mimeType") or ("image/png" if data[:4] == b"\x89PNG" else
                                         "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "")
        suffix = _IMAGE_SUFFIX.get(mime)
        if suffix is None:  # (webp and others: AR Quick Look reads PNG and JPEG)
            from PIL import Image

            from .common import png_bytes

            data, suffix = png_bytes(Image.open(io.BytesIO(data))), "png"
        return data, suffix

    def texture_file(self, texture: int) -> str | None:
        tex = (self.doc.get("textures") or [])[texture]
        source = tex.get("source")
        if source is None:
            for ext in (tex.get("extensions") or {}).values():
                if isinstance(ext, dict) and isinstance(ext.get("source"), int):
                    source = ext["source"]
        if source is None:
            return None
        if source not in self.textures:
            data, suffix = self._image_bytes(source)
            # (each in its own folder: two images side by side made usd-core's packer
            # warn "Failed to resolve reference @0/basecolor.png@")
            name = f"texture{len(self.textures)}/image.{suffix}"
            (self.folder / name).parent.mkdir(exist_ok=True)
            (self.folder / name).write_bytes(data)
            self.textures[source] = name
        return self.textures[source]

    # -- materials ---------------------------------------------------------------------

    def material(self, index: int | None, colours: bool):
        key = (index, colours)
        if key not in self.materials:
            self.materials[key] = self._material(index, colours)
        return self.materials[key]

    def _material(self, index: int | None, colours: bool):
        from pxr import Gf, Sdf, UsdShade

        mats = self.doc.get("materials") or []
        m = mats[index] if index is not None and index < len(mats) else {}
        taken = self.materials.setdefault("names", set())
        name = _name(m.get("name"), f"Material_{'default' if index is None else index}",
                     taken) + ("_colours" if colours else "")
        where = f"/Asset/Materials/{name}"
        material = UsdShade.Material.Define(self.stage, where)
        surface = UsdShade.Shader.Define(self.stage, f"{where}/PreviewSurface")
        surface.CreateIdAttr("UsdPreviewSurface")
        material.CreateSurfaceOutput().ConnectToSource(surface.ConnectableAPI(), "surface")
        F, C3 = Sdf.ValueTypeNames.Float, Sdf.ValueTypeNames.Color3f
        pbr = m.get("pbrMetallicRoughness") or {}
        extensions = m.get("extensions") or {}
        base = [float(x) for x in pbr.get("baseColorFactor", (1, 1, 1, 1))]
        mode = m.get("alphaMode", "OPAQUE")
        ctx = (material, where)
        diffuse = surface.CreateInput("diffuseColor", C3)
        diffuse.Set(Gf.Vec3f(*base[:3]))
        base_tex = self._texture(ctx, "BaseColor", pbr.get("baseColorTexture"), "sRGB",
                                 base)
        opacity = None
        if base_tex is not None:
            diffuse.ConnectToSource(base_tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3))
            if mode in ("BLEND", "MASK"):
                opacity = base_tex.CreateOutput("a", F)
        elif colours:  # (vertex colours, already times the base colour factor)
            reader = self._reader(ctx, "displayColor", "float3")
            diffuse.ConnectToSource(reader.CreateOutput("result", Sdf.ValueTypeNames.Float3))
        if mode in ("BLEND", "MASK"):
            put = surface.CreateInput("opacity", F)
            put.Set(base[3])
            if opacity is not None:
                put.ConnectToSource(opacity)
            if mode == "MASK":
                surface.CreateInput("opacityThreshold", F).Set(
                    float(m.get("alphaCutoff", 0.5)))
        rough, metal = (float(pbr.get("roughnessFactor", 1.0)),
                        float(pbr.get("metallicFactor", 1.0)))
        r_in, m_in = surface.CreateInput("roughness", F), surface.CreateInput("metallic", F)
        r_in.Set(rough)
        m_in.Set(metal)
        mr = self._texture(ctx, "MetallicRoughness", pbr.get("metallicRoughnessTexture"),
                           "raw", (1.0, rough, metal, 1.0))
        if mr is not None:
            r_in.ConnectToSource(mr.CreateOutput("g", F))
            m_in.ConnectToSource(mr.CreateOutput("b", F))
        normal_info = m.get("normalTexture")
        if isinstance(normal_info, dict):
            s = float(normal_info.get("scale", 1.0))
            normal = self._texture(ctx, "Normal", normal_info, "raw", (2 * s, 2 * s, 2.0, 1.0),
                                   (-s, -s, -1.0, 0.0))
            if normal is not None:
                surface.CreateInput("normal", Sdf.ValueTypeNames.Normal3f).ConnectToSource(
                    normal.CreateOutput("rgb", Sdf.ValueTypeNames.Float3))
        occlusion_info = m.get("occlusionTexture")
        if isinstance(occlusion_info, dict):
            k = float(occlusion_info.get("strength", 1.0))
            occlusion = self._texture(ctx, "Occlusion", occlusion_info, "raw",
                                      (k, k, k, 1.0), (1 - k, 1 - k, 1 - k, 0.0))
            if occlusion is not None:
                surface.CreateInput("occlusion", F).ConnectToSource(
                    occlusion.CreateOutput("r", F))
        strength = float((extensions.get("KHR_materials_emissive_strength") or {})
                         .get("emissiveStrength", 1.0))
        glow = [float(x) * strength for x in m.get("emissiveFactor", (0, 0, 0))]
        emissive_tex = self._texture(ctx, "Emissive", m.get("emissiveTexture"), "sRGB",
                                     (*glow, 1.0))
        if any(glow) or emissive_tex is not None:
            e_in = surface.CreateInput("emissiveColor", C3)
            e_in.Set(Gf.Vec3f(*glow))
            if emissive_tex is not None:
                e_in.ConnectToSource(emissive_tex.CreateOutput("rgb",
                                                               Sdf.ValueTypeNames.Float3))
        return material, bool(m.get("doubleSided", False))

    def _reader(self, ctx, primvar: str, kind: str):
        """A UsdPrimvarReader of `primvar` in the material (varname through a material
        input, as AR Quick Look's examples do; a string, not a token: usd-core's
        ShaderSdrCompliance)."""
        from pxr import Sdf, UsdShade

        material, where = ctx
        key = (where, primvar)
        if key not in self.readers:
            reader = UsdShade.Shader.Define(self.stage, f"{where}/{primvar}Reader")
            reader.CreateIdAttr(f"UsdPrimvarReader_{kind}")
            name = material.CreateInput(f"frame:{primvar}PrimvarName",
                                        Sdf.ValueTypeNames.String)
            name.Set(primvar)
            reader.CreateInput("varname", Sdf.ValueTypeNames.String).ConnectToSource(name)
            self.readers[key] = reader
        return self.readers[key]

    def _texture(self, ctx, slot: str, info, space: str, scale, bias=None):
        """A UsdUVTexture of a glTF textureInfo (None without one or its image)."""
        from pxr import Gf, Sdf, UsdShade

        if not isinstance(info, dict) or not isinstance(info.get("index"), int):
            return None
        textures = self.doc.get("textures") or []
        if not 0 <= info["index"] < len(textures):
            return None
        file = self.texture_file(info["index"])
        if file is None:
            return None
        material, where = ctx
        transform = (info.get("extensions") or {}).get("KHR_texture_transform")
        uv_set = int(info.get("texCoord", 0) or 0)
        if isinstance(transform, dict) and "texCoord" in transform:
            uv_set = int(transform["texCoord"])
        st = self._reader(ctx, "st" if uv_set == 0 else f"st{uv_set}", "float2") \
            .CreateOutput("result", Sdf.ValueTypeNames.Float2)
        if isinstance(transform, dict):
            scale2, degrees, translation = usd_texture_transform(transform)
            t2d = UsdShade.Shader.Define(self.stage, f"{where}/{slot}Transform")
            t2d.CreateIdAttr("UsdTransform2d")
            t2d.CreateInput("in", Sdf.ValueTypeNames.Float2).ConnectToSource(st)
            t2d.CreateInput("scale", Sdf.ValueTypeNames.Float2).Set(Gf.Vec2f(*scale2))
            t2d.CreateInput("rotation", Sdf.ValueTypeNames.Float).Set(degrees)
            t2d.CreateInput("translation", Sdf.ValueTypeNames.Float2).Set(
                Gf.Vec2f(*translation))
            st = t2d.CreateOutput("result", Sdf.ValueTypeNames.Float2)
        shader = UsdShade.Shader.Define(self.stage, f"{where}/{slot}")
        shader.CreateIdAttr("UsdUVTexture")
        shader.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(file)
        shader.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set(space)
        shader.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(st)
        sampler = {}
        if isinstance(textures[info["index"]].get("sampler"), int):
            samplers = self.doc.get("samplers") or []
            sampler = samplers[textures[info["index"]]["sampler"]] \
                if textures[info["index"]]["sampler"] < len(samplers) else {}
        for axis in ("S", "T"):
            shader.CreateInput(f"wrap{axis}", Sdf.ValueTypeNames.Token).Set(
                _WRAP.get(sampler.get(f"wrap{axis}", 10497), "repeat"))
        if any(abs(float(v) - 1.0) > 1e-9 for v in scale):
            shader.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*scale))
        if bias is not None:
            shader.CreateInput("bias", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*bias))
        return shader

    # -- nodes and meshes --------------------------------------------------------------

    def roots(self) -> list[int]:
        scenes = self.doc.get("scenes") or []
        scene = self.doc.get("scene", 0)
        if scenes and isinstance(scene, int) and 0 <= scene < len(scenes):
            return list(scenes[scene].get("nodes") or [])
        return [i for i in range(len(self.nodes)) if i not in self.parents]

    def build(self) -> None:
        from pxr import UsdGeom

        UsdGeom.Scope.Define(self.stage, "/Asset/Materials")
        taken: set = {"Materials"}
        for root in self.roots():
            self.node(root, "/Asset", taken)
        self.write_skeletons()

    def node(self, i: int, parent: str, taken: set) -> None:
        from pxr import UsdGeom

        node = self.nodes[i]
        path = f"{parent}/{_name(node.get('name'), f'node{i}', taken)}"
        self.node_paths[i] = path
        xform = UsdGeom.Xform.Define(self.stage, path)
        self._transform(xform, i)
        if "EXT_mesh_gpu_instancing" in (node.get("extensions") or {}):
            self.notes.dropped.append("GPU instances (one drawn)")
        children: set = set()
        if isinstance(node.get("mesh"), int):
            self.mesh(i, node["mesh"], path, children)
        for child in node.get("children", []):
            self.node(child, path, children)

    def _transform(self, xform, i: int) -> None:
        from pxr import Gf, Usd

        node = self.nodes[i]
        moved = {c.path for c in (self.clip.channels if self.clip else ()) if c.node == i}
        if not moved:
            if "matrix" in node or any(k in node for k in ("translation", "rotation",
                                                           "scale")):
                m = np.asarray(node["matrix"], float).reshape(4, 4).T if "matrix" in node \
                    else self.rest_locals[i]
                if not np.allclose(m, np.eye(4)):
                    xform.AddTransformOp().Set(_matrix(m))
            return
        t, r, s = self.rest[i]
        ops = (xform.AddTranslateOp(), xform.AddOrientOp(), xform.AddScaleOp())
        ops[0].Set(Gf.Vec3d(*map(float, t)))
        ops[1].Set(_quat(r))
        ops[2].Set(Gf.Vec3f(*map(float, s)))
        for k, poses in enumerate(self.poses):
            t, r, s = poses[i]
            code = Usd.TimeCode(k)
            ops[0].Set(Gf.Vec3d(*map(float, t)), code)
            ops[1].Set(_quat(r), code)
            ops[2].Set(Gf.Vec3f(*map(float, s)), code)

    def mesh(self, node_index: int, mesh_index: int, parent: str, taken: set) -> None:
        from pxr import Gf, Sdf, UsdGeom, UsdShade, Vt

        meshes = self.doc.get("meshes") or []
        if not 0 <= mesh_index < len(meshes):
            return
        gmesh = meshes[mesh_index]
        for p, prim in enumerate(gmesh.get("primitives") or []):
            attributes = prim.get("attributes") or {}
            if "POSITION" not in attributes:
                continue
            mode = prim.get("mode", 4)
            points = self.accessor(attributes["POSITION"]).astype(np.float32)
            name = _name(gmesh.get("name"), f"mesh{mesh_index}", taken) + \
                ("" if len(gmesh["primitives"]) == 1 else f"_{p}")
            where = f"{parent}/{name}"
            colours = None
            if "COLOR_0" in attributes:
                colours = self.accessor(attributes["COLOR_0"]).astype(np.float32)
            if mode == 0:
                cloud = UsdGeom.Points.Define(self.stage, where)
                cloud.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points))
                cloud.CreateWidthsAttr(Vt.FloatArray([0.01]))
                cloud.SetWidthsInterpolation(UsdGeom.Tokens.constant)
                if colours is not None:
                    cloud.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex).Set(
                        Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(colours[:, :3])))
                continue
            if mode != 4:
                self.notes.dropped.append("lines")
                continue
            indices = self.accessor(prim["indices"]).ravel().astype(np.int32) \
                if "indices" in prim else np.arange(len(points), dtype=np.int32)
            indices = indices[:len(indices) // 3 * 3]
            usd = UsdGeom.Mesh.Define(self.stage, where)
            usd.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points))
            usd.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(
                np.full(len(indices) // 3, 3, np.int32)))
            usd.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(indices))
            usd.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
            usd.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
            usd.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*map(float, points.min(axis=0))),
                                                Gf.Vec3f(*map(float, points.max(axis=0)))]))
            if "NORMAL" in attributes:
                usd.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(
                    self.accessor(attributes["NORMAL"]).astype(np.float32)))
                usd.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
            primvars = UsdGeom.PrimvarsAPI(usd)
            for n in (0, 1):
                if f"TEXCOORD_{n}" in attributes:
                    uv = self.accessor(attributes[f"TEXCOORD_{n}"]).astype(np.float32)
                    uv[:, 1] = 1.0 - uv[:, 1]
                    primvars.CreatePrimvar("st" if n == 0 else f"st{n}",
                                           Sdf.ValueTypeNames.TexCoord2fArray,
                                           UsdGeom.Tokens.vertex).Set(
                        Vt.Vec2fArray.FromNumpy(np.ascontiguousarray(uv)))
            material_index = prim.get("material")
            mats = self.doc.get("materials") or []
            textured = isinstance(material_index, int) and material_index < len(mats) and \
                isinstance((mats[material_index].get("pbrMetallicRoughness") or {})
                           .get("baseColorTexture"), dict)
            if colours is not None:
                rgb = colours[:, :3]
                if not textured and isinstance(material_index, int) and \
                        material_index < len(mats):
                    factor = (mats[material_index].get("pbrMetallicRoughness") or {}) \
                        .get("baseColorFactor", (1, 1, 1, 1))
                    rgb = rgb * np.asarray(factor[:3], np.float32)
                usd.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex).Set(
                    Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(rgb)))
                if colours.shape[1] == 4:
                    usd.CreateDisplayOpacityPrimvar(UsdGeom.Tokens.vertex).Set(
                        Vt.FloatArray.FromNumpy(np.ascontiguousarray(colours[:, 3])))
            material, double = self.material(
                material_index if isinstance(material_index, int) else None,
                colours is not None and not textured)
            if double:
                usd.CreateDoubleSidedAttr(True)
            UsdShade.MaterialBindingAPI.Apply(usd.GetPrim()).Bind(material)
            self.notes.meshes += 1
            self.deform(usd, node_index, gmesh, prim, name)

    # -- skins and morph targets -------------------------------------------------------

    def skeleton(self, skin: int | None, node: int | None):
        """(Skeleton path, joint tokens in the glTF skin's order) for skin `skin`, or for
        an unskinned morphing node the one-joint skeleton beside its meshes (UsdSkel
        applies blend shapes to skinned prims only: they are bound to it rigidly)."""
        from pxr import Gf, UsdSkel, Vt

        key = ("skin", skin) if skin is not None else ("morph", node)
        if key not in self.skeletons:
            if skin is None:
                where = f"{self.node_paths[node]}/MorphSkeleton"
                skel = UsdSkel.Skeleton.Define(self.stage, where)
                skel.CreateJointsAttr(Vt.TokenArray(["root"]))
                skel.CreateBindTransformsAttr(Vt.Matrix4dArray([Gf.Matrix4d(1.0)]))
                skel.CreateRestTransformsAttr(Vt.Matrix4dArray([Gf.Matrix4d(1.0)]))
                self.skeletons[key] = (where, ["root"], [])
            else:
                self.skeletons[key] = self._skin(skin)
        return self.skeletons[key]

    def _skin(self, s: int):
        skin = (self.doc.get("skins") or [])[s]
        joints = [int(j) for j in skin.get("joints") or []]
        members = set(joints)

        def joint_parent(j):
            p = self.parents.get(j)
            while p is not None and p not in members:
                p = self.parents.get(p)
            return p

        # parents first: depth-first over the joint tree, in glTF child order
        children: dict = {}
        for j in joints:
            children.setdefault(joint_parent(j), []).append(j)
        order, stack = [], list(reversed(children.get(None, [])))
        while stack:
            j = stack.pop()
            order.append(j)
            stack.extend(reversed(children.get(j, [])))
        taken: dict = {}
        tokens: dict[int, str] = {}
        for j in order:
            p = joint_parent(j)
            siblings = taken.setdefault(p, set())
            leaf = _name(self.nodes[j].get("name"), f"joint{j}", siblings)
            tokens[j] = leaf if p is None else f"{tokens[p]}/{leaf}"
        ibm = self.accessor(skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1) \
            if "inverseBindMatrices" in skin else np.tile(np.eye(4), (len(joints), 1, 1))
        binds = {j: np.linalg.inv(ibm[k]) for k, j in enumerate(joints)}
        where = f"/Asset/Skeleton_{s}"
        entry = (where, [tokens[j] for j in joints], order)
        self._skin_prims(where, order, tokens, binds, joint_parent)
        return entry

    def _local(self, j: int, parent, k: int | None) -> np.ndarray:
        world = self.world(j, k)
        return world if parent is None else np.linalg.inv(self.world(parent, k)) @ world

    def _skin_prims(self, where: str, order: list, tokens: dict, binds: dict,
                    joint_parent) -> None:
        from pxr import UsdSkel, Vt

        skel = UsdSkel.Skeleton.Define(self.stage, where)
        skel.CreateJointsAttr(Vt.TokenArray([tokens[j] for j in order]))
        skel.CreateBindTransformsAttr(Vt.Matrix4dArray([_matrix(binds[j]) for j in order]))
        skel.CreateRestTransformsAttr(Vt.Matrix4dArray(
            [_matrix(self._local(j, joint_parent(j), None)) for j in order]))
        self.skeletons[("joints", where)] = (order, joint_parent, tokens)

    def deform(self, usd, node_index: int, gmesh: dict, prim: dict, name: str) -> None:
        from pxr import Gf, Sdf, UsdSkel, Vt

        attributes = prim.get("attributes") or {}
        node = self.nodes[node_index]
        skin = node.get("skin") if isinstance(node.get("skin"), int) and \
            node["skin"] < len(self.doc.get("skins") or []) else None
        targets = [t for t in prim.get("targets") or [] if "POSITION" in t]
        if skin is None and not targets:
            return
        where, joint_tokens, _ = self.skeleton(skin, None if skin is not None else node_index)
        binding = UsdSkel.BindingAPI.Apply(usd.GetPrim())
        binding.CreateSkeletonRel().SetTargets([Sdf.Path(where)])
        if skin is not None and "JOINTS_0" in attributes and "WEIGHTS_0" in attributes:
            sets = [k for k in range(4) if f"JOINTS_{k}" in attributes
                    and f"WEIGHTS_{k}" in attributes]
            joints = np.hstack([self.accessor(attributes[f"JOINTS_{k}"]) for k in sets])
            weights = np.hstack([self.accessor(attributes[f"WEIGHTS_{k}"]) for k in sets])
            weights = weights.astype(np.float32)
            total = weights.sum(axis=1, keepdims=True)
            weights = np.where(total > 0, weights / np.where(total > 0, total, 1), weights)
            size = joints.shape[1]
            binding.CreateJointIndicesPrimvar(False, size).Set(
                Vt.IntArray.FromNumpy(np.ascontiguousarray(joints.astype(np.int32).ravel())))
            binding.CreateJointWeightsPrimvar(False, size).Set(
                Vt.FloatArray.FromNumpy(np.ascontiguousarray(weights.ravel())))
            binding.CreateJointsAttr(Vt.TokenArray(joint_tokens))
            binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
        elif skin is None:  # (rigidly on the morph skeleton's one joint)
            binding.CreateJointIndicesPrimvar(True, 1).Set(Vt.IntArray([0]))
            binding.CreateJointWeightsPrimvar(True, 1).Set(Vt.FloatArray([1.0]))
            binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
            self.notes.skins = len({k for k in self.skeletons if k[0] == "skin"})
        if not targets:
            return
        names = (gmesh.get("extras") or {}).get("targetNames") or []
        tokens, paths = [], []
        for t, target in enumerate(targets):
            label = names[t] if t < len(names) and isinstance(names[t], str) else f"target{t}"
            shape_name = _name(label, f"target{t}", set())
            shape = UsdSkel.BlendShape.Define(self.stage, f"{usd.GetPath()}/{shape_name}")
            offsets = self.accessor(target["POSITION"]).astype(np.float32)
            shape.CreateOffsetsAttr(Vt.Vec3fArray.FromNumpy(offsets))
            if "NORMAL" in target:
                shape.CreateNormalOffsetsAttr(Vt.Vec3fArray.FromNumpy(
                    self.accessor(target["NORMAL"]).astype(np.float32)))
            tokens.append(f"{name}_{shape_name}")
            paths.append(shape.GetPath())
        binding.CreateBlendShapesAttr(Vt.TokenArray(tokens))
        binding.CreateBlendShapeTargetsRel().SetTargets(paths)
        defaults = np.zeros(len(targets))
        given = node.get("weights", gmesh.get("weights")) or []
        defaults[:min(len(given), len(targets))] = given[:len(targets)]
        track = self._weights_track(node_index, len(targets), defaults)
        for t, token in enumerate(tokens):
            self.weights.setdefault(where, []).append((token, defaults[t],
                                                       None if track is None else track[:, t]))
        self.notes.blend_shapes += len(targets)

    def _weights_track(self, node: int, count: int, defaults) -> np.ndarray | None:
        """(k, count) morph weights at each time code, or None when the clip leaves them."""
        if self.clip is None:
            return None
        animations = self.doc.get("animations") or []
        index = self.clip.extra.get("index", 0)
        animation = animations[index] if index < len(animations) else {}
        samplers = animation.get("samplers") or []
        for ch in animation.get("channels") or []:
            target = ch.get("target") or {}
            if target.get("node") != node or target.get("path") != "weights":
                continue
            sampler = samplers[ch["sampler"]]
            times = self.accessor(sampler["input"])[:, 0].astype(np.float64)
            values = self.accessor(sampler["output"]).astype(np.float64).ravel()
            interpolation = sampler.get("interpolation", "LINEAR")
            shape = (len(times), 3, count) if interpolation == "CUBICSPLINE" \
                else (len(times), count)
            channel = Channel(node, "weights", times, values.reshape(shape), interpolation)
            return np.stack([sample(channel, clip_time(self.clip, t))
                             for t in self._clip_times()])
        return None

    def write_skeletons(self) -> None:
        """Each skeleton's SkelAnimation: joint poses and blend-shape weights, at rest
        (default values) and at each time code."""
        from pxr import Gf, Usd, UsdSkel, Vt

        for key, (where, *_) in list(self.skeletons.items()):
            if key[0] not in ("skin", "morph"):
                continue
            anim = UsdSkel.Animation.Define(self.stage, f"{where}/Animation")
            UsdSkel.BindingAPI.Apply(self.stage.GetPrimAtPath(where)) \
                .CreateAnimationSourceRel().SetTargets([anim.GetPath()])
            joints = self.skeletons.get(("joints", where))
            if joints is not None:
                order, joint_parent, tokens = joints
                anim.CreateJointsAttr(Vt.TokenArray([tokens[j] for j in order]))
                moved = self.clip is not None and bool(self.clip.channels)
                for k in [None] + (list(range(len(self.times))) if moved else []):
                    code = Usd.TimeCode.Default() if k is None else Usd.TimeCode(k)
                    locals_ = [self._local(j, joint_parent(j), k) for j in order]
                    t, r, s = _decompose(locals_)
                    anim.CreateTranslationsAttr().Set(Vt.Vec3fArray.FromNumpy(t), code)
                    anim.CreateRotationsAttr().Set(Vt.QuatfArray(
                        [_quat(q) for q in r]), code)
                    anim.CreateScalesAttr().Set(Vt.Vec3hArray(
                        [Gf.Vec3h(*map(float, v)) for v in s]), code)
            shapes = self.weights.get(where, [])
            if shapes:
                anim.CreateBlendShapesAttr(Vt.TokenArray([tok for tok, _, _ in shapes]))
                attr = anim.CreateBlendShapeWeightsAttr()
                attr.Set(Vt.FloatArray([float(d) for _, d, _ in shapes]))
                if any(track is not None for _, _, track in shapes):
                    for k in range(len(self.times)):
                        attr.Set(Vt.FloatArray([float(d if track is None else track[k])
                                                for _, d, track in shapes]),
                                 Usd.TimeCode(k))


def _decompose(matrices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, 3) translations, (n, 4) quaternions (x, y, z, w), (n, 3) scales of (4, 4)
    column-vector matrices T · R · S (a shear is dropped; a mirror goes into x's scale)."""
    from scipy.spatial.transform import Rotation

    m = np.asarray(np.stack(matrices), dtype=np.float64)
    linear = m[:, :3, :3]
    scale = np.linalg.norm(linear, axis=1)
    scale[:, 0] *= np.where(np.linalg.det(linear) < 0, -1.0, 1.0)
    rotation = linear / np.where(np.abs(scale) > 1e-12, scale, 1.0)[:, None, :]
    quats = Rotation.from_matrix(rotation).as_quat()
    return m[:, :3, 3].astype(np.float32), quats, scale


def build_stage(stage, glb: Path, folder: Path) -> SceneNotes:
    """Write the glTF/GLB at `glb` (decoded: engine.asset.formats.gltf_decode) into
    `stage` under /Asset (its default prim, a SkelRoot when the file has skins or morph
    targets), textures into `folder` beside the stage's layer. Returns the notes."""
    from pxr import UsdGeom, UsdSkel

    from engine.asset.clips import open_gltf, read_clips

    clips, rest, _ = read_clips(glb, joints=True)
    g = open_gltf(glb)
    notes = SceneNotes()
    clip = next((c for c in clips), None)
    if clip is not None:
        clip = Clip(clip.name, clip.channels, clip.duration, clip.deforms,
                    {"index": clips.index(clip)})
        notes.clip = clip.name
        if len(clips) > 1:
            notes.dropped.append(f"clips after the first ({len(clips) - 1})")
    deforms = bool(g.doc.get("skins")) or any(
        p.get("targets") for m in g.doc.get("meshes") or [] for p in m.get("primitives") or [])
    root = (UsdSkel.Root if deforms else UsdGeom.Xform).Define(stage, "/Asset")
    stage.SetDefaultPrim(root.GetPrim())
    converter = _Converter(stage, g, folder, clip, rest, notes)
    if clip is not None:
        stage.SetTimeCodesPerSecond(MOTION_FPS)
        stage.SetFramesPerSecond(MOTION_FPS)
        stage.SetStartTimeCode(0)
        stage.SetEndTimeCode(len(converter.times) - 1)
    converter.build()
    return notes
