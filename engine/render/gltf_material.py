"""What panda3d-gltf loads but Maquette's PBR shader needs told: the glTF material's alpha
mode and cutoff, unlit, emissive strength, normal and occlusion maps, the UV set and
KHR_texture_transform of each texture slot (shader inputs on the material's RenderState,
read by shaders/pbr.frag.glsl), tangents for normal-mapped primitives that have none, and
EXT_mesh_gpu_instancing (one child node per instance).

Units and frames: UVs as panda3d-gltf stores them (V flipped: v = 1 - v_glTF); tangents in
the vertex data's frame (glTF Y-up before panda3d-gltf's Z-up transform, converted by
`add_tangents`); instance translations in metres in the parent node's frame.
"""

from __future__ import annotations

import math

import numpy as np

# Texture slots, numbered as the shader's uv_transform_N (and uv_sets, uv_set_emissive).
SLOTS = ("base", "metal_rough", "normal", "occlusion", "emissive")
ALPHA_MODES = {"OPAQUE": 0, "MASK": 1, "BLEND": 2}


def slot_textures(gltf_mat: dict) -> dict[str, dict]:
    """The texture info of each slot the material fills (glTF textureInfo dicts)."""
    pbr = gltf_mat.get("pbrMetallicRoughness") or {}
    found = {
        "base": pbr.get("baseColorTexture"),
        "metal_rough": pbr.get("metallicRoughnessTexture"),
        "normal": gltf_mat.get("normalTexture"),
        "occlusion": gltf_mat.get("occlusionTexture"),
        "emissive": gltf_mat.get("emissiveTexture"),
    }
    return {slot: info for slot, info in found.items() if isinstance(info, dict)}


def uv_set_and_transform(info: dict | None):
    """(UV set, Panda Mat3) of one textureInfo: texCoord (KHR_texture_transform's
    texCoord overrides it) and the transform in panda3d-gltf's V-flipped UVs (the same
    matrix panda3d-gltf gives its TexMatrixAttrib; row vectors: uv' = uv * M)."""
    from panda3d.core import Mat3

    if not info:
        return 0, Mat3(Mat3.ident_mat())
    transform = (info.get("extensions") or {}).get("KHR_texture_transform")
    uv_set = int(info.get("texCoord", 0) or 0)
    matrix = Mat3(Mat3.ident_mat())
    if isinstance(transform, dict):
        if "texCoord" in transform:
            uv_set = int(transform["texCoord"])
        scale = transform.get("scale")
        if scale:
            matrix *= (Mat3.translate_mat(0, -1) * Mat3.scale_mat(scale[0], scale[1])
                       * Mat3.translate_mat(0, 1))
        rotation = transform.get("rotation")
        if rotation:
            matrix *= (Mat3.translate_mat(0, -1) * Mat3.rotate_mat(math.degrees(rotation))
                       * Mat3.translate_mat(0, 1))
        offset = transform.get("offset") or (0.0, 0.0)
        matrix *= Mat3.translate_mat(offset[0], -offset[1])
    return min(max(uv_set, 0), 1), matrix


def default_inputs(node) -> None:
    """The inputs for geometry without a glTF material: drawn as before (opaque, lit, no
    maps, UV set 0 untransformed). Set on the asset's root node; materials override."""
    from panda3d.core import Texture

    white = Texture("maquette-white")
    white.setup_2d_texture(1, 1, Texture.T_unsigned_byte, Texture.F_rgba8)
    white.set_ram_image(b"\xff\xff\xff\xff")
    _apply(node.set_shader_input, {}, {}, white)


def material_state(state, gltf_mat: dict, textures: dict, where: str = "material"):
    """`state` (a RenderState) with the material's shader inputs, and BLEND drawn
    premultiplied (the HDR buffer is) without depth writes, MASK by the shader's discard
    (Panda's fixed-function alpha test never sees the shader's alpha). `where` names the
    material in errors (a field that is not a number: ValueError)."""
    from panda3d.core import (
        AlphaTestAttrib,
        DepthWriteAttrib,
        ShaderAttrib,
        TransparencyAttrib,
    )

    attrib = ShaderAttrib.make()
    holder = [attrib]

    def set_input(name, value):
        holder[0] = holder[0].set_shader_input(name, value)

    slots = slot_textures(gltf_mat)
    occlusion = None
    if "occlusion" in slots:
        occlusion = textures.get(slots["occlusion"].get("index"))
    _apply(set_input, slots, gltf_mat, occlusion, where)
    state = state.add_attrib(holder[0])
    mode = gltf_mat.get("alphaMode", "OPAQUE")
    state = state.remove_attrib(AlphaTestAttrib)
    if mode == "BLEND":
        state = state.set_attrib(TransparencyAttrib.make(TransparencyAttrib.M_premultiplied_alpha))
        state = state.set_attrib(DepthWriteAttrib.make(DepthWriteAttrib.M_off))
    else:
        state = state.remove_attrib(TransparencyAttrib)
    return state


def _number(value, where: str, default: float) -> float:
    """A glTF number field (absent: `default`); ValueError naming the field otherwise."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    return float(value)


def check_material(gltf_mat: dict, where: str) -> None:
    """ValueError naming the field where a number the renderer reads is not one (before
    panda3d-gltf reads them: its errors name neither the material nor the field)."""
    pbr = gltf_mat.get("pbrMetallicRoughness") or {}
    for key, size in (("baseColorFactor", 4),):
        _numbers(pbr.get(key), f"{where}.pbrMetallicRoughness.{key}", size)
    for key in ("metallicFactor", "roughnessFactor"):
        _number(pbr.get(key), f"{where}.pbrMetallicRoughness.{key}", 0.0)
    _numbers(gltf_mat.get("emissiveFactor"), f"{where}.emissiveFactor", 3)
    _number(gltf_mat.get("alphaCutoff"), f"{where}.alphaCutoff", 0.5)
    for slot, key in (("normalTexture", "scale"), ("occlusionTexture", "strength")):
        info = gltf_mat.get(slot)
        if isinstance(info, dict):
            _number(info.get(key), f"{where}.{slot}.{key}", 1.0)
    strength = (gltf_mat.get("extensions") or {}).get("KHR_materials_emissive_strength")
    if isinstance(strength, dict):
        _number(strength.get("emissiveStrength"),
                f"{where}.extensions.KHR_materials_emissive_strength.emissiveStrength", 1.0)


def _numbers(value, where: str, size: int) -> None:
    if value is None:
        return
    if not isinstance(value, list) or len(value) != size:
        raise ValueError(f"{where}: expected {size} numbers, got {value!r}")
    for i, item in enumerate(value):
        _number(item, f"{where}[{i}]", 0.0)


def _apply(set_input, slots: dict, gltf_mat: dict, occlusion_texture,
           where: str = "material") -> None:
    from panda3d.core import LMatrix4f

    extensions = gltf_mat.get("extensions") or {}
    uv_sets = []
    for i, slot in enumerate(SLOTS):
        uv_set, matrix = uv_set_and_transform(slots.get(slot))
        set_input(f"uv_transform_{i}", LMatrix4f(matrix))  # (Panda binds a mat3 from its 3x3)
        uv_sets.append(float(uv_set))
    set_input("uv_sets", tuple(uv_sets[:4]))
    set_input("uv_set_emissive", uv_sets[4])
    set_input("alpha_mode", float(ALPHA_MODES.get(gltf_mat.get("alphaMode", "OPAQUE"), 0)))
    set_input("alpha_cutoff", _number(gltf_mat.get("alphaCutoff"), f"{where}.alphaCutoff", 0.5))
    set_input("unlit", float("KHR_materials_unlit" in extensions))
    strength = extensions.get("KHR_materials_emissive_strength") or {}
    set_input("emissive_strength", _number(
        strength.get("emissiveStrength"),
        f"{where}.extensions.KHR_materials_emissive_strength.emissiveStrength", 1.0))
    normal = slots.get("normal")
    set_input("normal_scale", _number(normal.get("scale"), f"{where}.normalTexture.scale", 1.0)
              if normal else 0.0)
    occlusion = slots.get("occlusion")
    if occlusion_texture is not None:  # (the defaults pass a white map, unused)
        set_input("occlusion_map", occlusion_texture)
    set_input("occlusion_strength", _number(
        occlusion.get("strength"), f"{where}.occlusionTexture.strength", 1.0)
        if occlusion is not None and occlusion_texture is not None else 0.0)


# --- tangents -------------------------------------------------------------------------


def vertex_tangents(positions: np.ndarray, normals: np.ndarray, uvs: np.ndarray,
                    triangles: np.ndarray) -> np.ndarray:
    """Per-vertex glTF tangents (n, 4): xyz along +U, w = ±1 so that
    cross(normal, tangent) * w points along +V (V up, as panda3d-gltf stores UVs and as
    MikkTSpace-baked maps expect). Accumulated over the triangles, orthogonalised
    against the normal; vertices without a usable UV gradient get any perpendicular."""
    p = np.asarray(positions, dtype=np.float64)
    n = np.asarray(normals, dtype=np.float64)
    uv = np.asarray(uvs, dtype=np.float64)
    tri = np.asarray(triangles, dtype=np.int64).reshape(-1, 3)
    e1 = p[tri[:, 1]] - p[tri[:, 0]]
    e2 = p[tri[:, 2]] - p[tri[:, 0]]
    d1 = uv[tri[:, 1]] - uv[tri[:, 0]]
    d2 = uv[tri[:, 2]] - uv[tri[:, 0]]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    inv = np.divide(1.0, det, out=np.zeros_like(det), where=np.abs(det) > 1e-20)[:, None]
    t = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * inv
    b = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * inv
    tan = np.zeros_like(p)
    bit = np.zeros_like(p)
    for corner in range(3):
        np.add.at(tan, tri[:, corner], t)
        np.add.at(bit, tri[:, corner], b)
    tan -= n * np.sum(n * tan, axis=1, keepdims=True)
    length = np.linalg.norm(tan, axis=1)
    bad = length < 1e-12
    if bad.any():  # any unit vector perpendicular to the normal
        helper = np.where(np.abs(n[bad, 0:1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
        alt = np.cross(n[bad], helper)
        tan[bad] = alt
        length[bad] = np.maximum(np.linalg.norm(alt, axis=1), 1e-12)
    tan /= length[:, None]
    w = np.where(np.sum(np.cross(n, tan) * bit, axis=1) < 0.0, -1.0, 1.0)
    return np.concatenate([tan, w[:, None]], axis=1)


def _column(vdata, name):
    """(rows, array index, start byte, stride) of a float32 column, or None."""
    from panda3d.core import GeomEnums

    fmt = vdata.get_format()
    column = fmt.get_column(name)
    if column is None or column.get_numeric_type() != GeomEnums.NT_float32:
        return None
    index = fmt.get_array_with(name)
    stride = fmt.get_array(index).get_stride()
    raw = np.frombuffer(memoryview(vdata.get_array(index)), dtype=np.uint8)
    width = 4 * column.get_num_components()
    rows = raw.reshape(-1, stride)[:, column.get_start():column.get_start() + width]
    return np.ascontiguousarray(rows).view("<f4"), index, column.get_start(), stride


def _triangle_indices(geom) -> np.ndarray | None:
    from panda3d.core import GeomEnums

    if geom.get_primitive_type() != GeomEnums.PT_polygons:
        return None
    triangles = geom.get_primitive(0).decompose()
    if not triangles.is_indexed():
        start = triangles.get_first_vertex()
        return np.arange(start, start + triangles.get_num_vertices(), dtype=np.int64)
    kinds = {GeomEnums.NT_uint8: np.uint8, GeomEnums.NT_uint16: np.uint16,
             GeomEnums.NT_uint32: np.uint32}
    kind = kinds.get(triangles.get_index_type())
    if kind is None:
        return None
    return np.frombuffer(memoryview(triangles.get_vertices()), dtype=kind).astype(np.int64)


def add_tangents(geom, y_up_to_z_up: bool, uv_set: int = 0) -> bool:
    """Give `geom` a tangent column computed by `vertex_tangents` (from its positions,
    normals and the normal map's UV set); False (nothing changed) if it lacks one."""
    from panda3d.core import GeomEnums, InternalName

    vdata = geom.get_vertex_data()
    columns = [_column(vdata, name) for name in (
        InternalName.get_vertex(), InternalName.get_normal(),
        InternalName.get_texcoord_name(str(uv_set)))]
    triangles = _triangle_indices(geom)
    if any(c is None for c in columns) or triangles is None or not len(triangles):
        return False
    (p, *_), (n, *_), (uv, *_) = columns
    tangents = vertex_tangents(p[:, :3], n[:, :3], uv[:, :2], triangles)
    if y_up_to_z_up:  # as panda3d-gltf does for the file's TANGENT: (x, y, z) -> (x, -z, y)
        tangents = tangents[:, [0, 2, 1, 3]] * [1.0, -1.0, 1.0, 1.0]
    vdata = vdata.replace_column(InternalName.get_tangent(), 4, GeomEnums.NT_float32,
                                 GeomEnums.C_other)
    fmt = vdata.get_format()
    index = fmt.get_array_with(InternalName.get_tangent())
    stride = fmt.get_array(index).get_stride()
    start = fmt.get_column(InternalName.get_tangent()).get_start()
    handle = vdata.modify_array(index).modify_handle()
    rows = np.frombuffer(handle.get_data(), dtype=np.uint8).copy().reshape(-1, stride)
    rows[:, start:start + 16] = np.ascontiguousarray(tangents, dtype="<f4").view(np.uint8)
    handle.copy_data_from(rows.tobytes())
    geom.set_vertex_data(vdata)
    return True


# --- UV sets --------------------------------------------------------------------------

# The vertex columns pbr.vert.glsl reads for glTF TEXCOORD_0 and _1. Panda binds its
# p3d_MultiTexCoordN to the UV set of the material's N-th texture stage (so a material
# with one texture had no p3d_MultiTexCoord1), and a GLSL name cannot hold the '.' of
# panda3d-gltf's 'texcoord.1': the columns are renamed to these.
UV_COLUMNS = ("maquette_uv0", "maquette_uv1")


def rename_uv_columns(geom) -> None:
    """Rename `geom`'s texcoord.0 / texcoord.1 columns to UV_COLUMNS (data unchanged)."""
    from panda3d.core import (
        GeomVertexArrayFormat,
        GeomVertexColumn,
        GeomVertexData,
        GeomVertexFormat,
        InternalName,
    )

    vdata = geom.get_vertex_data()
    old = vdata.get_format()
    renames = {InternalName.get_texcoord_name(str(i)).get_name(): InternalName.make(name)
               for i, name in enumerate(UV_COLUMNS)}
    if not any(old.has_column(InternalName.make(name)) for name in renames):
        return
    fmt = GeomVertexFormat()
    for a in range(old.get_num_arrays()):
        source = old.get_array(a)
        array = GeomVertexArrayFormat()
        for c in range(source.get_num_columns()):
            column = GeomVertexColumn(source.get_column(c))
            target = renames.get(column.get_name().get_name())
            if target is not None:
                column.set_name(target)
            array.add_column(column)
        array.set_stride(source.get_stride())
        fmt.add_array(array)
    fmt.set_animation(old.get_animation())
    renamed = GeomVertexData(vdata.get_name(), GeomVertexFormat.register_format(fmt),
                             vdata.get_usage_hint())
    for a in range(old.get_num_arrays()):
        renamed.modify_array_handle(a).copy_data_from(vdata.get_array_handle(a))
    geom.set_vertex_data(renamed)


# --- EXT_mesh_gpu_instancing ----------------------------------------------------------


def accessor_floats(data: dict, buffers, index: int) -> np.ndarray:
    """An accessor's rows as float64 (normalized integers mapped as glTF says), read from
    panda3d-gltf's loaded buffers with the view's stride."""
    acc = data["accessors"][index]
    view = data["bufferViews"][acc["bufferView"]]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[acc["type"]]
    kind = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16,
            5125: np.uint32, 5126: np.float32}[acc["componentType"]]
    item = np.dtype(kind).itemsize * width
    stride = view.get("byteStride") or item
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    raw = np.frombuffer(bytes(buffers[view["buffer"]]), dtype=np.uint8)
    count = acc["count"]
    rows = np.lib.stride_tricks.as_strided(raw[start:], shape=(count, item),
                                           strides=(stride, 1))
    values = np.ascontiguousarray(rows).view(np.dtype(kind).newbyteorder("<"))
    values = values.reshape(count, width).astype(np.float64)
    if acc.get("normalized") and kind is not np.float32:
        info = np.iinfo(kind)
        values = np.maximum(values / info.max, -1.0)
    return values
