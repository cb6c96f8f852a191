"""Load an asset file into a Panda3D node, and measure it in file coordinates.

Every file passes the one asset check first (:func:`engine.asset.io.check_file`: sizes,
URIs, node tree, texture dimensions, and for glTF the geometry itself), so the
renderer never sees NaN or absurd positions, a texture over the limit or a hostile
file. glTF/GLB then go straight to panda3d-gltf (no trimesh import); OBJ, PLY and STL
are loaded and checked by trimesh once, converted to GLB by the one GLB writer and
cached by content hash.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.asset.formats.gltf import glb_bytes
from engine.asset.formats.gltf_decode import decoded_glb
from engine.asset.gltf_scene import expand_instancing
from engine.asset.io import check_file, check_scene, load_scene, sniff_format
from engine.asset.model import AssetError
from engine.fileio import file_sha256, write_bytes_atomic
from engine.render import gltf_material
from engine.scene.source import cache_dir
from engine.scene.timeline import Bounds

GLTF_FORMATS = ("glb", "gltf")
CONVERTER_VERSION = 3  # bump when the conversion changes: old cached GLBs are not reused

# One error type for unreadable or unsafe assets, whichever layer finds the problem.
AssetLoadError = AssetError


def as_gltf(path: Path) -> Path:
    """Path of a glTF/GLB with the asset's content (converted and cached if needed).

    The file is first sniffed and checked (engine.asset.io): hostile glTF (URIs leaving
    the folder, absurd buffer or accessor sizes, cyclic or too deep node trees),
    truncated files, meshes over the triangle limit, textures over the texture limit
    and non-finite, absurd or zero-area geometry are refused before anything is
    allocated (OBJ/PLY/STL: before the converted GLB is written).
    """
    fmt = sniff_format(path)
    check_file(path, fmt)
    decoded = decoded_glb(path) if fmt in GLTF_FORMATS else None
    if decoded is not None:  # Draco/meshopt/quantized: panda3d-gltf reads the plain copy
        target = cache_dir() / "converted" / f"{file_sha256(path)}-v{CONVERTER_VERSION}.glb"
        if not target.is_file():
            write_bytes_atomic(target, decoded)
        return target
    if fmt in GLTF_FORMATS and path.suffix.lower() == f".{fmt}":
        return path
    target = cache_dir() / "converted" / f"{file_sha256(path)}-v{CONVERTER_VERSION}.glb"
    if target.is_file():
        return target
    loaded, _ = load_scene(path, fmt, process=True, checked=True)  # (checked above)
    check_scene(path, loaded)
    for geometry in loaded.geometry.values():
        _dielectric_by_default(geometry)
    write_bytes_atomic(target, glb_bytes(loaded))
    return target


def _dielectric_by_default(geometry) -> None:
    """OBJ/PLY materials say nothing about metal; glTF's default metallicFactor is 1.

    trimesh converts them to glTF without a metallicFactor, which would render them as
    dark metal: make them explicitly non-metallic, and drop trimesh's tiny placeholder
    texture for meshes that have UVs but no image.
    """
    import trimesh

    material = getattr(geometry.visual, "material", None)
    if material is None:
        return
    if not isinstance(material, trimesh.visual.material.PBRMaterial):
        material = material.to_pbr()
        geometry.visual.material = material
    if material.metallicFactor is None:
        material.metallicFactor = 0.0
    image = material.baseColorTexture
    if image is not None and max(image.size) <= 4:
        # trimesh's placeholder for "UVs but no texture": it would darken the colour twice.
        material.baseColorTexture = None


def _load_gltf(source: str):
    """panda3d-gltf's `load_model`, with what Maquette's shader reads of each glTF material
    (engine.render.gltf_material: alpha, unlit, emissive strength, normal and occlusion
    maps, UV sets) and EXT_mesh_gpu_instancing expanded. Tangents only for primitives
    whose material has a normal map, in numpy: panda3d-gltf computes them in Python for
    every primitive that has none, a third of loading bottle.glb (0.18 of 0.5 s)."""
    import gltf

    try:
        from gltf._converter import Converter, CS_yup_right
        from gltf.parseutils import parse_gltf_file
    except ImportError:  # another panda3d-gltf layout: its own loader, tangents and all
        return gltf.load_model(source)

    class _Converter(Converter):
        _wants_tangents = False
        _tangent_uv = 0  # the UV set of the primitive's normal map
        _rest_binds = None

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._bind_shapes = {}  # skin index -> its common joint_world(rest) * IBM

        def update(self, gltf_data) -> None:
            if any("EXT_mesh_gpu_instancing" in (n.get("extensions") or {})
                   for n in gltf_data.get("nodes", [])):
                for i, buffer in enumerate(gltf_data.get("buffers", [])):
                    self.load_buffer(i, buffer)
                expand_instancing(
                    gltf_data,
                    lambda index: gltf_material.accessor_floats(gltf_data, self.buffers, index))
            super().update(gltf_data)

        def load_material(self, matid, gltf_mat) -> None:
            gltf_material.check_material(gltf_mat, f"materials[{matid}]")
            super().load_material(matid, gltf_mat)
            state = gltf_material.material_state(self.mat_states[matid], gltf_mat,
                                                 self.textures, f"materials[{matid}]")
            self.mat_states[matid] = state
            for meshid, geom_index in self.mat_mesh_map[matid]:
                self.meshes[meshid].set_geom_state(geom_index, state)

        def load_primitive(self, geom_node, gltf_primitive, gltf_mesh, gltf_data) -> None:
            materials = gltf_data.get("materials", [])
            index = gltf_primitive.get("material")
            material = materials[index] if isinstance(index, int) and index < len(
                materials) else {}
            normal = material.get("normalTexture")
            self._wants_tangents = isinstance(normal, dict)
            self._tangent_uv = gltf_material.uv_set_and_transform(normal)[0] if isinstance(
                normal, dict) else 0
            super().load_primitive(geom_node, gltf_primitive, gltf_mesh, gltf_data)
            last = geom_node.get_num_geoms() - 1
            gltf_material.rename_uv_columns(geom_node.modify_geom(last))

        def build_character_joints(self, char, root_nodeids, affected, skinid, gltf_data):
            # Skins drew rotated by the nodes above their armature (RiggedSimple's Z_UP,
            # a Blender export's axis fix: lying on the side or back). Two causes, both
            # mended here. (1) panda3d-gltf makes each joint's bind pose relative to the
            # Character's net transform taken while the Character is not yet placed (its
            # own node only); the full glTF world transform is used instead. (2) Panda
            # skins by joint(t) * joint(bind)^-1 and draws the bind pose at rest, while
            # glTF draws joint_world(t) * inverseBind: where every joint's
            # joint_world(rest) * inverseBind is one matrix C != I (a "bind shape"), the
            # vertices are moved by C and the inverse binds become joint_world(rest)^-1.
            from panda3d.core import LMatrix4, TransformState

            own = char.get_transform()
            root = next((n for n, skin in self.skeletons.items() if skin == skinid), None)
            if root is None:  # (two skins under one root node: panda3d-gltf keeps one)
                return super().build_character_joints(char, root_nodeids, affected, skinid,
                                                      gltf_data)
            char.set_transform(TransformState.make_mat(
                self.csxform_inv * _world_matrix(gltf_data, root) * self.csxform))
            skin = gltf_data["skins"][skinid]
            rest = [_world_matrix(gltf_data, j) for j in skin["joints"]]
            ibm_accessor = skin.get("inverseBindMatrices")
            self._rest_binds = None
            if ibm_accessor is not None:
                binds = [self.load_matrix(m) for m in
                         super().get_buffer_from_accessor(gltf_data, ibm_accessor)]
                shapes = ([b * r for b, r in zip(binds, rest, strict=True)]  # world * IBM
                          if len(binds) == len(rest) else [])  # (row form)
                if shapes and all(m.almost_equal(shapes[0], 1e-4) for m in shapes) and not \
                        shapes[0].almost_equal(LMatrix4.ident_mat(), 1e-6):
                    self._bind_shapes[skinid] = shapes[0]
                    inverse = [LMatrix4(r) for r in rest]
                    for m in inverse:
                        m.invert_in_place()
                    self._rest_binds = (ibm_accessor, [
                        tuple(m.get_cell(i, k) for i in range(4) for k in range(4))
                        for m in inverse])
            try:
                return super().build_character_joints(char, root_nodeids, affected, skinid,
                                                      gltf_data)
            finally:
                char.set_transform(own)
                self._rest_binds = None

        def get_buffer_from_accessor(self, gltf_data, accid, unpack=True):
            if self._rest_binds is not None and accid == self._rest_binds[0] and unpack:
                return self._rest_binds[1]
            return super().get_buffer_from_accessor(gltf_data, accid, unpack)

        def combine_mesh_skin(self, geom_node, charinfo) -> None:
            from panda3d.core import LMatrix4, NodePath

            super().combine_mesh_skin(geom_node, charinfo)
            skinid = next((k for k, c in self.characters.items() if c is charinfo), None)
            shape = self._bind_shapes.get(skinid)
            if shape is None or not charinfo.jvtmap:
                return
            net = NodePath(geom_node.get_parent(0)).get_net_transform().get_mat()
            inverse = LMatrix4(net)
            inverse.invert_in_place()
            move = net * (self.csxform_inv * shape * self.csxform) * inverse
            for geom in geom_node.modify_geoms():
                geom.modify_vertex_data().transform_vertices(move)

        def calculate_tangents(self, geom) -> None:
            if self._wants_tangents:
                gltf_material.add_tangents(geom, self.compose_cs == CS_yup_right,
                                           self._tangent_uv)

    data = parse_gltf_file(source)
    # Application-specific vertex attributes (names starting with "_", such as the seen
    # marks' _SEEN) are not drawn; panda3d-gltf 1.x fails on them ('NoneType' object has
    # no attribute 'basename' while repacking the vertex columns), so they are dropped.
    for mesh in data.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            attributes = primitive.get("attributes") or {}
            for name in [n for n in attributes if n.startswith("_")]:
                del attributes[name]
    converter = _Converter(source, settings=None)
    converter.update(data)
    return converter.active_scene.node()


def _world_matrix(gltf_data: dict, node: int):
    """The glTF world matrix of `node` (file frame, Y-up; Panda's row-vector LMatrix4:
    own local first, then each ancestor's), as panda3d-gltf reads each node's local."""
    from panda3d.core import LMatrix4, LQuaternion

    nodes = gltf_data.get("nodes", [])
    parents = {child: i for i, n in enumerate(nodes) for child in n.get("children", [])}
    world = LMatrix4(LMatrix4.ident_mat())
    seen = set()
    while node is not None and node not in seen:
        seen.add(node)
        entry = nodes[node]
        if "matrix" in entry:
            local = LMatrix4(*entry["matrix"])
        else:
            local = LMatrix4(LMatrix4.ident_mat())
            if "scale" in entry:
                local.set_scale_mat(tuple(entry["scale"]))
            if "rotation" in entry:
                x, y, z, w = entry["rotation"]
                rotation = LMatrix4()
                LQuaternion(w, x, y, z).extract_to_matrix(rotation)
                local *= rotation
            if "translation" in entry:
                local *= LMatrix4.translate_mat(*entry["translation"])
        world = world * local
        node = parents.get(node)
    return world


def load_asset_node(path: Path):
    """Load `path` as a Panda3D NodePath. Returns (node, bounds in file coords, Y-up)."""
    from panda3d.core import Material, NodePath

    source = as_gltf(path)
    try:
        node = NodePath(_load_gltf(str(source)))
    except Exception as exc:
        raise AssetLoadError(f"{path}: cannot load glTF: {exc}") from None
    lo, hi = node.get_tight_bounds() or (None, None)
    if lo is None:
        raise AssetLoadError(f"{path}: the asset has no visible geometry")
    # panda3d-gltf turned the file's Y-up into Panda's Z-up: (x, y, z) -> (x, -z, y).
    lo_file = np.array([lo.x, lo.z, -hi.y])
    hi_file = np.array([hi.x, hi.z, -lo.y])
    if not np.all(np.isfinite([lo_file, hi_file])):
        raise AssetLoadError(f"{path}: the asset has non-finite vertex positions")
    fallback = Material("maquette-default")
    fallback.set_base_color((0.8, 0.8, 0.8, 1.0))
    fallback.set_roughness(0.5)
    fallback.set_metallic(0.0)
    node.set_material(fallback)  # only where the file gives none (children override)
    gltf_material.default_inputs(node)  # likewise the glTF material's shader inputs
    node.set_python_tag("maquette_gltf", source)  # the glTF it came from (its clips)
    return node, Bounds(lo_file, hi_file)
