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
* animation: every clip sampled at ``MOTION_FPS`` time codes a second; USD has one
  timeline, so several clips are the variants of an "animation" variant set on /Asset
  (the first selected: AR Quick Look plays it).

Units and frames: glTF's (Y-up, metres as stored, seconds). USD's st has v up: st =
(u, 1 − v). USD matrices are row-vector: a glTF (column-vector) matrix M is written as
Mᵀ. GPU instances are one node each (engine.asset.gltf_scene). Not carried (named by
the format's table row): lines, KHR_materials_unlit (lit), vertex colours times a
base-colour texture (the texture wins).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.animation.clips import trs_decompose
from engine.asset.gltf_scene import (
    MOTION_FPS,
    GltfScene,
    Sampled,
    Skin,
    st_transform,
    texture_mapping,
)

__all__ = ["build_stage"]

_WRAP = {10497: "repeat", 33071: "clamp", 33648: "mirror"}


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


class _Converter:
    def __init__(self, stage, scene: GltfScene, folder: Path, clips: list[Sampled]):
        self.stage, self.scene, self.doc, self.folder = stage, scene, scene.doc, folder
        self.clips = clips
        self.moved = set().union(*(c.moved for c in clips))
        self.ops: dict[int, tuple] = {}  # node -> its (translate, orient, scale) ops
        self.animations: list = []  # (SkelAnimation, Skin or None, its shapes' weights)
        self.nodes = scene.nodes
        self.textures: dict[int, str] = {}
        self.materials: dict = {}  # (material index, vertex colours) -> (Material, 2-sided)
        self.material_names: set = set()
        self.readers: dict = {}
        self.node_paths: dict[int, str] = {}
        self.names: dict[str, set] = {}  # prim path -> its children's names
        self.skeletons: dict = {}  # ("skin", s) | ("morph", node) -> (path, tokens, skin)
        self.weights: dict[str, list] = {}  # skeleton path -> [(token, rest, node, target)]
        self.weight_names: dict[str, set] = {}

    def texture_file(self, texture: int) -> str | None:
        source = self.scene.texture_source(texture)
        if source is None:
            return None
        if source not in self.textures:
            data, suffix = self.scene.image(source)
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

        m = self.scene.material(index)
        name = _name(m.get("name"), f"Material_{'default' if index is None else index}",
                     self.material_names) + ("_colours" if colours else "")
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

        if not isinstance(info, dict) or self.scene.texture_source(info.get("index")) is None:
            return None
        file = self.texture_file(info["index"])
        material, where = ctx
        uv_set, transform = texture_mapping(info)
        st = self._reader(ctx, "st" if uv_set == 0 else f"st{uv_set}", "float2") \
            .CreateOutput("result", Sdf.ValueTypeNames.Float2)
        if transform is not None:
            scale2, degrees, translation = st_transform(transform)
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
        sampler = self.scene.sampler(info["index"])
        for axis in ("S", "T"):
            shader.CreateInput(f"wrap{axis}", Sdf.ValueTypeNames.Token).Set(
                _WRAP.get(sampler.get(f"wrap{axis}", 10497), "repeat"))
        if any(abs(float(v) - 1.0) > 1e-9 for v in scale):
            shader.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*scale))
        if bias is not None:
            shader.CreateInput("bias", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*bias))
        return shader

    # -- nodes and meshes --------------------------------------------------------------

    def build(self) -> None:
        from pxr import UsdGeom

        UsdGeom.Scope.Define(self.stage, "/Asset/Materials")
        self.names["/Asset"] = {"Materials"}
        for root in self.scene.roots():  # (every node's path first: a skeleton is
            self._plan(root, "/Asset")  # placed under its origin node's)
        for root in self.scene.roots():
            self.node(root)
        self.write_skeletons()
        if len(self.clips) > 1:
            self.variants()
            return
        self.rest_values()
        for clip in self.clips:
            self.animate(clip)

    def _plan(self, i: int, parent: str) -> None:
        """Node i's prim path under `parent` (names unique among the parent's children,
        the meshes named after them)."""
        node = self.nodes[i]
        path = f"{parent}/{_name(node.get('name'), f'node{i}', self.names[parent])}"
        self.node_paths[i] = path
        self.names[path] = set()
        for child in node.get("children", []):
            self._plan(child, path)

    def node(self, i: int) -> None:
        from pxr import UsdGeom

        node = self.nodes[i]
        path = self.node_paths[i]
        xform = UsdGeom.Xform.Define(self.stage, path)
        self._transform(xform, i)
        if isinstance(node.get("mesh"), int):
            self.mesh(i, node["mesh"], path, self.names[path])
        for child in node.get("children", []):
            self.node(child)

    def _transform(self, xform, i: int) -> None:
        """A node's rest transform as one matrix op; a node a clip moves gets translate,
        orient and scale ops instead (their values: rest_values and animate)."""
        if i not in self.moved:
            m = self.scene.rest_locals[i]
            if not np.allclose(m, np.eye(4)):
                xform.AddTransformOp().Set(_matrix(m))
            return
        self.ops[i] = (xform.AddTranslateOp(), xform.AddOrientOp(), xform.AddScaleOp())

    def mesh(self, node_index: int, mesh_index: int, parent: str, taken: set) -> None:
        from pxr import Gf, Sdf, UsdGeom, UsdShade, Vt

        primitives = self.scene.primitives(mesh_index)
        label = (self.doc.get("meshes") or [])[mesh_index].get("name")
        for p, prim in enumerate(primitives):
            several = len(primitives) > 1
            name = _name(f"{label}_{p}" if label and several else label,
                         f"mesh{mesh_index}" + (f"_{p}" if several else ""), taken)
            where = f"{parent}/{name}"
            if prim.mode == 0:
                cloud = UsdGeom.Points.Define(self.stage, where)
                cloud.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(prim.points))
                cloud.CreateWidthsAttr(Vt.FloatArray([0.01]))
                cloud.SetWidthsInterpolation(UsdGeom.Tokens.constant)
                if prim.colors is not None:
                    cloud.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex).Set(
                        Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(prim.colors[:, :3])))
                continue
            if prim.mode != 4:  # (lines: AR Quick Look draws no curves)
                continue
            usd = UsdGeom.Mesh.Define(self.stage, where)
            usd.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(prim.points))
            usd.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(
                np.full(len(prim.indices) // 3, 3, np.int32)))
            usd.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(prim.indices))
            usd.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
            usd.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
            lo, hi = prim.points.min(axis=0), prim.points.max(axis=0)
            usd.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*map(float, lo)),
                                                Gf.Vec3f(*map(float, hi))]))
            if prim.normals is not None:
                usd.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(prim.normals))
                usd.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
            primvars = UsdGeom.PrimvarsAPI(usd)
            for n, uv in prim.uvs.items():
                if n > 1:
                    continue
                st = uv.copy()
                st[:, 1] = 1.0 - st[:, 1]
                primvars.CreatePrimvar("st" if n == 0 else f"st{n}",
                                       Sdf.ValueTypeNames.TexCoord2fArray,
                                       UsdGeom.Tokens.vertex).Set(
                    Vt.Vec2fArray.FromNumpy(np.ascontiguousarray(st)))
            pbr = self.scene.material(prim.material).get("pbrMetallicRoughness") or {}
            textured = isinstance(pbr.get("baseColorTexture"), dict)
            if prim.colors is not None:
                rgb = prim.colors[:, :3]
                if not textured:  # (drawn through the material: times its factor)
                    rgb = rgb * np.asarray(pbr.get("baseColorFactor", (1, 1, 1, 1))[:3],
                                           np.float32)
                usd.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex).Set(
                    Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(rgb)))
                if prim.colors.shape[1] == 4:
                    usd.CreateDisplayOpacityPrimvar(UsdGeom.Tokens.vertex).Set(
                        Vt.FloatArray.FromNumpy(np.ascontiguousarray(prim.colors[:, 3])))
            material, double = self.material(prim.material,
                                             prim.colors is not None and not textured)
            if double:
                usd.CreateDoubleSidedAttr(True)
            UsdShade.MaterialBindingAPI.Apply(usd.GetPrim()).Bind(material)
            self.deform(usd, node_index, mesh_index, prim, name)

    # -- skins and morph targets -------------------------------------------------------

    def skeleton(self, skin: int | None, node: int):
        """(Skeleton path, joint tokens in the glTF skin's order, Skin or None) for skin
        `skin`, or for an unskinned morphing node the one-joint skeleton beside its
        meshes (UsdSkel applies blend shapes to skinned prims only: they are bound to
        it rigidly)."""
        from pxr import Gf, UsdSkel, Vt

        key = ("skin", skin) if skin is not None else ("morph", node)
        if key not in self.skeletons:
            if skin is None:
                parent = self.node_paths[node]
                where = f"{parent}/{_name('MorphSkeleton', 'MorphSkeleton', self.names[parent])}"
                skel = UsdSkel.Skeleton.Define(self.stage, where)
                skel.CreateJointsAttr(Vt.TokenArray(["root"]))
                skel.CreateBindTransformsAttr(Vt.Matrix4dArray([Gf.Matrix4d(1.0)]))
                skel.CreateRestTransformsAttr(Vt.Matrix4dArray([Gf.Matrix4d(1.0)]))
                self.skeletons[key] = (where, ["root"], None, {})
            else:
                self.skeletons[key] = self._skin(skin)
        return self.skeletons[key]

    def _skin(self, s: int):
        from pxr import UsdSkel, Vt

        skin: Skin = self.scene.skin(s)
        taken: dict = {}
        tokens: dict[int, str] = {}
        for j in skin.order:  # (a joint's token is its path from the root joint)
            p = skin.parent[j]
            leaf = _name(self.nodes[j].get("name"), f"joint{j}", taken.setdefault(p, set()))
            tokens[j] = leaf if p is None else f"{tokens[p]}/{leaf}"
        # (under the node its root joints hang from: their transforms relative to it,
        # so a scale above them stays in that node's double-precision matrix, not in
        # SkelAnimation's half-float scales)
        parent = "/Asset" if skin.origin is None else self.node_paths[skin.origin]
        where = f"{parent}/{_name(f'Skeleton_{s}', f'Skeleton_{s}', self.names[parent])}"
        skel = UsdSkel.Skeleton.Define(self.stage, where)
        skel.CreateJointsAttr(Vt.TokenArray([tokens[j] for j in skin.order]))
        binds = {j: np.linalg.inv(skin.inverse_binds[k]) for k, j in enumerate(skin.joints)}
        skel.CreateBindTransformsAttr(Vt.Matrix4dArray([_matrix(binds[j])
                                                        for j in skin.order]))
        skel.CreateRestTransformsAttr(Vt.Matrix4dArray(
            [_matrix(self.scene.joint_local(skin, j)) for j in skin.order]))
        return where, [tokens[j] for j in skin.joints], skin, tokens

    def deform(self, usd, node_index: int, mesh_index: int, prim, name: str) -> None:
        from pxr import Gf, Sdf, UsdSkel, Vt

        skin = self.scene.skin_of(node_index)
        if skin is None and not prim.targets:
            return
        where, joint_tokens, _, _ = self.skeleton(skin, node_index)
        binding = UsdSkel.BindingAPI.Apply(usd.GetPrim())
        binding.CreateSkeletonRel().SetTargets([Sdf.Path(where)])
        if skin is not None and prim.joints is not None:
            size = prim.joints.shape[1]
            binding.CreateJointIndicesPrimvar(False, size).Set(
                Vt.IntArray.FromNumpy(np.ascontiguousarray(prim.joints.ravel())))
            binding.CreateJointWeightsPrimvar(False, size).Set(
                Vt.FloatArray.FromNumpy(np.ascontiguousarray(prim.weights.ravel())))
            binding.CreateJointsAttr(Vt.TokenArray(joint_tokens))
            binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
        elif skin is None:  # (rigidly on the morph skeleton's one joint)
            binding.CreateJointIndicesPrimvar(True, 1).Set(Vt.IntArray([0]))
            binding.CreateJointWeightsPrimvar(True, 1).Set(Vt.FloatArray([1.0]))
            binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
        if not prim.targets:
            return
        tokens, paths, shape_names = [], [], set()
        # (the skeleton's animation names every weight it drives: unique per skeleton)
        taken = self.weight_names.setdefault(where, set())
        for t, label in enumerate(self.scene.target_names(mesh_index, len(prim.targets))):
            shape_name = _name(label, f"target{t}", shape_names)
            shape = UsdSkel.BlendShape.Define(self.stage, f"{usd.GetPath()}/{shape_name}")
            offsets, normals = prim.targets[t]
            shape.CreateOffsetsAttr(Vt.Vec3fArray.FromNumpy(offsets))
            if normals is not None:
                shape.CreateNormalOffsetsAttr(Vt.Vec3fArray.FromNumpy(normals))
            tokens.append(_name(f"{name}_{shape_name}", f"shape{t}", taken))
            paths.append(shape.GetPath())
        binding.CreateBlendShapesAttr(Vt.TokenArray(tokens))
        binding.CreateBlendShapeTargetsRel().SetTargets(paths)
        rest = self.scene.default_weights(node_index, len(prim.targets))
        for t, token in enumerate(tokens):
            self.weights.setdefault(where, []).append((token, rest[t], node_index, t))

    def write_skeletons(self) -> None:
        """Each skeleton's SkelAnimation with its rest values (joint poses and
        blend-shape weights as defaults)."""
        from pxr import UsdSkel, Vt

        for where, _, skin, tokens in self.skeletons.values():
            anim = UsdSkel.Animation.Define(self.stage, f"{where}/Animation")
            UsdSkel.BindingAPI.Apply(self.stage.GetPrimAtPath(where)) \
                .CreateAnimationSourceRel().SetTargets([anim.GetPath()])
            shapes = self.weights.get(where, [])
            if skin is not None:
                anim.CreateJointsAttr(Vt.TokenArray([tokens[j] for j in skin.order]))
            if shapes:
                anim.CreateBlendShapesAttr(Vt.TokenArray([tok for tok, *_ in shapes]))
            self.animations.append((anim, skin, shapes))

    def rest_values(self) -> None:
        """The default (rest) values of everything a clip animates, into the current
        edit target (inside each variant when there are several: a stronger default
        outside would hide a variant's time samples)."""
        from pxr import Gf, Vt

        for i, ops in self.ops.items():
            t, r, s = self.scene.rest[i]
            ops[0].Set(Gf.Vec3d(*map(float, t)))
            ops[1].Set(_quat(r))
            ops[2].Set(Gf.Vec3f(*map(float, s)))
        for anim, skin, shapes in self.animations:
            if skin is not None:
                self._joints(anim, skin, None, None)
            if shapes:
                anim.GetBlendShapeWeightsAttr().Set(
                    Vt.FloatArray([float(rest) for _, rest, _, _ in shapes]))

    def _joints(self, anim, skin: Skin, pose, code) -> None:
        from pxr import Gf, Usd, Vt

        code = Usd.TimeCode.Default() if code is None else Usd.TimeCode(code)
        t, r, s = _decompose([self.scene.joint_local(skin, j, pose) for j in skin.order])
        anim.GetTranslationsAttr().Set(Vt.Vec3fArray.FromNumpy(t), code)
        anim.GetRotationsAttr().Set(Vt.QuatfArray([_quat(q) for q in r]), code)
        anim.GetScalesAttr().Set(Vt.Vec3hArray([Gf.Vec3h(*map(float, v)) for v in s]), code)

    def animate(self, clip: Sampled) -> None:
        """The time samples of one clip (into the current edit target): the nodes it
        moves, the joints of the skins it moves, the morph weights it animates."""
        from pxr import Gf, Usd, Vt

        for i in sorted(clip.moved & set(self.ops)):
            ops = self.ops[i]
            for k, poses in enumerate(clip.poses):
                t, r, s = poses[i]
                code = Usd.TimeCode(k)
                ops[0].Set(Gf.Vec3d(*map(float, t)), code)
                ops[1].Set(_quat(r), code)
                ops[2].Set(Gf.Vec3f(*map(float, s)), code)
        for anim, skin, shapes in self.animations:
            if skin is not None and clip.moved:
                for k, pose in enumerate(clip.poses):
                    self._joints(anim, skin, pose, k)
            if any(node in clip.weights for _, _, node, _ in shapes):
                attr = anim.GetBlendShapeWeightsAttr()
                for k in range(len(clip.times)):
                    attr.Set(Vt.FloatArray([
                        float(clip.weights[node][k, t] if node in clip.weights else rest)
                        for _, rest, node, t in shapes]), Usd.TimeCode(k))

    def variants(self) -> None:
        """Several clips: an "animation" variant set on /Asset, one variant per clip
        (its rest values and time samples inside), the first selected; each variant's
        clip name, order and last time code in the stage's
        customLayerData["maquette"]["clips"] (the timeline is the first's)."""
        root = self.stage.GetPrimAtPath("/Asset")
        variant_set = root.GetVariantSets().AddVariantSet("animation")
        taken: set = set()
        listed = {}
        for k, clip in enumerate(self.clips):
            name = _name(clip.name, "clip", taken)
            variant_set.AddVariant(name)
            variant_set.SetVariantSelection(name)
            with variant_set.GetVariantEditContext():
                self.rest_values()
                self.animate(clip)
            listed[name] = {"name": clip.name, "order": k, "endTimeCode": len(clip.times) - 1}
        variant_set.SetVariantSelection(next(iter(listed)))
        self.stage.GetRootLayer().customLayerData = {"maquette": {"clips": listed}}


def _decompose(matrices) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, 3) float32 translations, (n, 4) quaternions (x, y, z, w), (n, 3) scales of
    (4, 4) column-vector matrices (engine.animation.clips.trs_decompose each)."""
    parts = [trs_decompose(m) for m in matrices]
    return (np.array([p[0] for p in parts], np.float32), np.array([p[1] for p in parts]),
            np.array([p[2] for p in parts]))


def build_stage(stage, scene: GltfScene, folder: Path) -> None:
    """Write `scene` (a decoded glTF: engine.asset.gltf_scene) into `stage` under /Asset
    (its default prim, a SkelRoot when the file has skins or morph targets), textures
    into `folder` beside the stage's layer; one clip on the stage's timeline, several
    as the variants of an "animation" variant set."""
    from pxr import UsdGeom, UsdSkel

    clips = [scene.sampled(i) for i in scene.playing_clips()]
    deforms = bool(scene.doc.get("skins")) or any(
        p.targets for m in range(len(scene.doc.get("meshes") or []))
        for p in scene.primitives(m))
    root = (UsdSkel.Root if deforms else UsdGeom.Xform).Define(stage, "/Asset")
    stage.SetDefaultPrim(root.GetPrim())
    if clips:
        stage.SetTimeCodesPerSecond(MOTION_FPS)
        stage.SetFramesPerSecond(MOTION_FPS)
        stage.SetStartTimeCode(0)
        stage.SetEndTimeCode(len(clips[0].times) - 1)
    _Converter(stage, scene, folder, clips).build()
