"""glTF 2.0 and GLB: the container, the pre-allocation checks, and the one GLB writer.

Reading (numpy only, no trimesh): :func:`read_glb_header` parses a GLB's header and
JSON chunk; :func:`check_gltf` runs the table :data:`CHECKS` over the document
(extensions, buffers, views, accessors, images, the node tree, the triangle limit) and
then reads every placed primitive's POSITION and indices through its accessors, moved
by its node's world matrix, for :func:`engine.asset.check.measure_geometry`. Renders
load glTF with panda3d-gltf straight after this check: it is what stands between a
hostile file and the renderer.

Writing: :func:`glb_bytes` is the one GLB writer (``export``, ``generate``, the OBJ/PLY/
STL converter for the renderer and the procedural assets all use it), with
:func:`bake_animation` adding rigid node animation and :func:`gltf_files` splitting a
GLB into ``.gltf`` + ``.bin``.

Units and frames are glTF's: metres, +Y up, right-handed; node matrices are 4×4
column-vector transforms (stored column-major in the file); times in seconds.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from engine.asset.check import (
    Extent,
    check_texture,
    field_int,
    measure_geometry,
    open_texture,
    require_surface,
    safe_local,
)
from engine.asset.model import AssetError, Limits, mesh_uv

from .common import mesh_normals, trimesh_figures

__all__ = ["CHECKS", "GLTF_TANGENTS", "bake_animation", "check_gltf", "glb_bytes",
           "gltf_files", "join_glb", "read_back", "read_glb_header", "split_glb",
           "write_glb", "write_gltf"]

CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
COMPONENT_DTYPE = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16,
                   5125: np.uint32, 5126: np.float32}
TYPE_COUNT = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
MAX_JSON_DEPTH = 128  # glTF's own structure is 6 deep; extras rarely add more than a few
MAX_NODE_DEPTH = 512  # panda3d-gltf recursed 900 levels here, and failed at 2000
UNREADABLE_EXTENSIONS = {  # stored where neither trimesh nor panda3d-gltf looks, and
    # not decoded by engine.asset.formats.gltf_decode (which removes the ones it decodes)
    "KHR_draco_mesh_compression": "Draco mesh compression",
    "EXT_meshopt_compression": "meshopt compression",
    "KHR_mesh_quantization": "quantized vertex attributes",
    "KHR_texture_basisu": "KTX2/Basis Universal textures (no maintained Python decoder "
                          "is installed; re-export the textures as PNG or JPEG)",
    "EXT_texture_webp": "WebP-only textures",
}
# Required extensions whose absence of support would only change the look, not lose
# geometry: read (the renderer may draw them plainly).
READABLE_REQUIRED = {"KHR_texture_transform", "KHR_materials_unlit", "KHR_lights_punctual",
                     "KHR_materials_emissive_strength", "EXT_mesh_gpu_instancing",
                     "KHR_materials_pbrSpecularGlossiness"}


# ----------------------------------------------------------------------------------
# The container
# ----------------------------------------------------------------------------------


def _nesting(raw: bytes) -> int:
    """An upper bound of the JSON's nesting depth from its brackets (brackets inside
    strings can only raise it), in numpy: no Python recursion, no walk of the tree."""
    data = np.frombuffer(raw, dtype=np.uint8)
    step = (np.isin(data, (91, 123)).astype(np.int32) - np.isin(data, (93, 125)))
    return int(np.cumsum(step).max()) if len(step) else 0


def _depth(doc) -> int:
    """The exact nesting depth of parsed JSON, walked iteratively."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if \
            isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                deepest = max(deepest, level + 1)
                stack.append((child, level + 1))
    return deepest


def parse_json(raw: bytes, path: Path, what: str) -> dict:
    """The glTF JSON object, or an AssetError naming the file (a nesting deeper than
    MAX_JSON_DEPTH is refused: readers after us recurse into it)."""
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except RecursionError:
        doc = None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssetError(f"{path}: corrupt {what}: the JSON does not parse: {exc}") from None
    if doc is None or (_nesting(raw) > MAX_JSON_DEPTH and _depth(doc) > MAX_JSON_DEPTH):
        raise AssetError(f"{path}: corrupt {what}: the JSON is nested more than "
                         f"{MAX_JSON_DEPTH} levels deep; refused")
    if not isinstance(doc, dict):
        raise AssetError(f"{path}: corrupt {what}: the JSON is not an object")
    return doc


def read_glb_header(path: Path, size: int) -> tuple[dict, tuple[int, int]]:
    """Parse a GLB's header and JSON chunk, reading no further.
    Returns (json, (offset, length) of the BIN chunk's data in the file; length 0: none)."""
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12:
            raise AssetError(f"{path}: truncated GLB: {size} bytes, the header alone is 12")
        _, version, length = struct.unpack("<4sII", header)
        if version != 2:
            raise AssetError(f"{path}: GLB header: version {version}, only glTF 2.0 is read")
        if length > size:
            raise AssetError(
                f"{path}: truncated GLB: the header says {length} bytes, the file has {size}"
            )
        chunk = handle.read(8)
        if len(chunk) < 8:
            raise AssetError(f"{path}: truncated GLB: no JSON chunk")
        json_len, json_type = struct.unpack("<II", chunk)
        if json_type != CHUNK_JSON:
            raise AssetError(f"{path}: corrupt GLB: the first chunk is not JSON")
        if 20 + json_len > length:
            raise AssetError(
                f"{path}: corrupt GLB: JSON chunk of {json_len} bytes runs past the file's "
                f"{length} bytes"
            )
        doc = parse_json(handle.read(json_len), path, "GLB")
        offset = 20 + json_len
        if offset + 8 > length:
            return doc, (0, 0)
        blen, btype = struct.unpack("<II", handle.read(8))
    if btype != CHUNK_BIN:
        return doc, (0, 0)
    if offset + 8 + blen > length:
        raise AssetError(f"{path}: truncated GLB: the BIN chunk says {blen} bytes, only "
                         f"{length - offset - 8} are there")
    return doc, (offset + 8, blen)


def split_glb(data: bytes) -> tuple[dict, bytes]:
    """(json, BIN chunk) of GLB bytes written by a trusted writer (ours)."""
    _, _, length = struct.unpack("<4sII", data[:12])
    json_len, _ = struct.unpack("<II", data[12:20])
    doc = json.loads(data[20:20 + json_len])
    offset = 20 + json_len
    binary = b""
    if offset + 8 <= length:
        bin_len, _ = struct.unpack("<II", data[offset:offset + 8])
        binary = data[offset + 8:offset + 8 + bin_len]
    return doc, binary


def join_glb(doc: dict, binary: bytes) -> bytes:
    """GLB bytes of a json document and its BIN chunk (each padded to 4 bytes)."""
    raw = json.dumps(doc, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 4)
    binary = binary + b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(raw) + (8 + len(binary) if binary else 0)
    out = struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(raw), CHUNK_JSON)
    out += raw
    if binary:
        out += struct.pack("<II", len(binary), CHUNK_BIN) + binary
    return out


# ----------------------------------------------------------------------------------
# Checks: one function per part of the document, run in order by check_gltf
# ----------------------------------------------------------------------------------


@dataclass
class GltfFile:
    """A glTF document being checked, and what the checks learnt of it so far."""

    path: Path
    doc: dict
    bin_chunk: tuple[int, int] | None  # a GLB's BIN data (offset, length); None: .gltf
    limits: Limits
    buffer_lengths: list[int] = field(default_factory=list)
    views: list[tuple[int, int, int, int | None]] = field(default_factory=list)
    parents: dict[int, int] = field(default_factory=dict)  # child node -> parent node
    triangles: int = 0
    _data: dict[int, object] = field(default_factory=dict)

    def items(self, key: str) -> list:
        value = self.doc.get(key, []) or []
        if not isinstance(value, list):
            raise AssetError(f"{self.path}: corrupt glTF: {key} must be a list")
        return value

    def objects(self, key: str):
        """(index, "key[index]", object) for each entry of the list `key`, each one
        required to be a JSON object."""
        for i, item in enumerate(self.items(key)):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                raise self.fail(where, "not an object")
            yield i, where, item

    def fail(self, where: str, text: str) -> AssetError:
        return AssetError(f"{self.path}: {where}: {text}")

    def buffer(self, index: int):
        """The bytes of buffers[index] (memory-mapped from the file where they lie)."""
        if index not in self._data:
            length = self.buffer_lengths[index]
            uri = self.items("buffers")[index].get("uri")
            if length == 0:
                data = b""
            elif uri is None:
                data = np.memmap(self.path, dtype=np.uint8, mode="r",
                                 offset=self.bin_chunk[0], shape=(length,))
            elif uri.startswith("data:"):
                head, _, payload = uri.partition(",")
                try:
                    data = base64.b64decode(payload) if head.endswith(";base64") else \
                        unquote(payload).encode("latin-1", errors="replace")
                except binascii.Error as exc:
                    raise self.fail(f"buffers[{index}].uri", f"bad base64: {exc}") from None
            else:
                data = np.memmap(safe_local(self.path, uri, f"buffers[{index}].uri"),
                                 dtype=np.uint8, mode="r", shape=(length,))
            self._data[index] = data
        return self._data[index]


def _data_uri_length(uri: str) -> int:
    head, _, payload = uri.partition(",")
    if head.endswith(";base64"):
        payload = payload.strip()
        return len(payload) * 3 // 4 - payload[-2:].count("=")
    return len(unquote(payload))


def check_extensions(g: GltfFile) -> None:
    """Refuse required extensions that store geometry where no reader here looks."""
    for name in g.items("extensionsRequired"):
        if name in UNREADABLE_EXTENSIONS:
            raise g.fail("extensionsRequired", f"{name!r} ({UNREADABLE_EXTENSIONS[name]}) "
                         f"is not supported; export the asset without it")
        if name not in READABLE_REQUIRED:
            raise g.fail("extensionsRequired", f"{name!r} is not a glTF extension this "
                         f"tool supports; export the asset without it")


def _buffer_holds(g: GltfFile, i: int, buf: dict) -> tuple[int, str]:
    """(bytes that really exist for buffers[i], where they are)."""
    uri = buf.get("uri")
    if uri is None:
        if g.bin_chunk is None or i != 0:
            raise g.fail(f"buffers[{i}]", "no uri and no GLB binary chunk")
        return g.bin_chunk[1], "the GLB's binary chunk"
    if isinstance(uri, str) and uri.startswith("data:"):
        return _data_uri_length(uri), "its data: URI"
    target = safe_local(g.path, uri, f"buffers[{i}].uri")
    if not target.is_file():
        raise g.fail(f"buffers[{i}].uri", f"{uri!r} not found next to the asset")
    return target.stat().st_size, target.name


def check_buffers(g: GltfFile) -> None:
    """Every buffer's declared byteLength exists (in the BIN chunk, its data: URI or
    its file beside the asset)."""
    for i, field_name, buf in g.objects("buffers"):
        declared = field_int(buf.get("byteLength"), g.path, f"{field_name}.byteLength")
        actual, where = _buffer_holds(g, i, buf)
        if declared > actual:
            raise g.fail(f"{field_name}.byteLength", f"{declared} bytes declared but "
                         f"{where} holds only {actual}; refused before allocating")
        g.buffer_lengths.append(declared)


def check_views(g: GltfFile) -> None:
    """Every buffer view lies inside its buffer."""
    for _, where, view in g.objects("bufferViews"):
        b = field_int(view.get("buffer"), g.path, f"{where}.buffer")
        if b >= len(g.buffer_lengths):
            raise g.fail(f"{where}.buffer", f"{b} does not exist")
        off = field_int(view.get("byteOffset", 0), g.path, f"{where}.byteOffset")
        length = field_int(view.get("byteLength"), g.path, f"{where}.byteLength")
        if off + length > g.buffer_lengths[b]:
            raise g.fail(f"{where}.byteLength", f"bytes {off}..{off + length} run past "
                         f"buffers[{b}] ({g.buffer_lengths[b]} bytes)")
        stride = view.get("byteStride")
        g.views.append((b, off, length, stride if isinstance(stride, int) and stride > 0
                        else None))


def _fits_view(g: GltfFile, where: str, view_index, offset, count: int, elem: int,
               stride: int | None = None) -> None:
    """`count` elements of `elem` bytes from `offset` fit in bufferViews[view_index]."""
    v = field_int(view_index, g.path, f"{where}.bufferView")
    if v >= len(g.views):
        raise g.fail(f"{where}.bufferView", f"{v} does not exist")
    length = g.views[v][2]
    stride = stride or g.views[v][3] or elem
    off = field_int(offset, g.path, f"{where}.byteOffset")
    need = off + (stride * (count - 1) + elem if count else 0)
    if need > length:
        raise g.fail(f"{where}.count", f"{count} elements need {need} bytes but "
                     f"bufferViews[{v}] has {length}; refused before allocating")


def _check_sparse(g: GltfFile, where: str, acc: dict, count: int, elem: int) -> None:
    sparse = acc.get("sparse")
    if sparse is None:
        return
    if not isinstance(sparse, dict) or not isinstance(sparse.get("indices"), dict) or \
            not isinstance(sparse.get("values"), dict):
        raise g.fail(f"{where}.sparse", "needs count, indices and values")
    scount = field_int(sparse.get("count"), g.path, f"{where}.sparse.count")
    if scount > count:
        raise g.fail(f"{where}.sparse.count", f"{scount} is more than the accessor's "
                     f"{count} elements")
    indices = sparse["indices"]
    if indices.get("componentType") not in (5121, 5123, 5125):
        raise g.fail(f"{where}.sparse.indices.componentType", "not an unsigned integer type")
    size = np.dtype(COMPONENT_DTYPE[indices["componentType"]]).itemsize
    _fits_view(g, f"{where}.sparse.indices", indices.get("bufferView"),
               indices.get("byteOffset", 0), scount, size, size)
    values = sparse["values"]
    _fits_view(g, f"{where}.sparse.values", values.get("bufferView"),
               values.get("byteOffset", 0), scount, elem, elem)


def check_accessors(g: GltfFile) -> None:
    """Every accessor's elements (and sparse substitutes) fit in their buffer views;
    counts over three times the triangle limit are refused before allocating."""
    vertex_cap = 3 * g.limits.triangles
    for _, where, acc in g.objects("accessors"):
        count = field_int(acc.get("count"), g.path, f"{where}.count")
        ctype = acc.get("componentType")
        if ctype not in COMPONENT_DTYPE or acc.get("type") not in TYPE_COUNT:
            raise g.fail(where, "unknown componentType/type")
        if count > vertex_cap:
            raise g.fail(f"{where}.count", f"{count} elements is over the limit of "
                         f"{vertex_cap} (MAQUETTE_MAX_TRIANGLES={g.limits.triangles}); "
                         f"refused before allocating")
        elem = np.dtype(COMPONENT_DTYPE[ctype]).itemsize * TYPE_COUNT[acc["type"]]
        _check_sparse(g, where, acc, count, elem)
        if "bufferView" in acc:
            _fits_view(g, where, acc["bufferView"], acc.get("byteOffset", 0), count, elem)


def check_images(g: GltfFile) -> None:
    """Every image is inside the asset's folder (or the file) and, from its header,
    within the texture limit."""
    for _, where, image in g.objects("images"):
        uri = image.get("uri")
        if isinstance(uri, str):
            with open_texture(g.path, uri, f"{where}.uri") as handle:
                if handle is None:
                    raise g.fail(f"{where}.uri", f"{uri!r} not found next to the asset")
                check_texture(g.path, where, handle, g.limits.texture_pixels)
        elif "bufferView" in image:
            v = field_int(image["bufferView"], g.path, f"{where}.bufferView")
            if v >= len(g.views):
                raise g.fail(f"{where}.bufferView", f"{v} does not exist")
            b, off, length, _ = g.views[v]
            data = g.buffer(b)[off:off + min(length, 1 << 20)]
            check_texture(g.path, where, io.BytesIO(bytes(data)), g.limits.texture_pixels)


def _node_depths(g: GltfFile, nodes: list) -> None:
    """Children exist, each node has one parent at most, no cycles, and no chain is
    deeper than MAX_NODE_DEPTH (readers after us recurse along it)."""
    depth: dict[int, int] = {}
    for start in range(len(nodes)):
        chain, node = [], start
        while node not in depth:
            if node in chain:
                raise g.fail(f"nodes[{node}].children", "the node tree has a cycle")
            chain.append(node)
            if node not in g.parents:
                depth[node] = 0
                chain.pop()
                break
            node = g.parents[node]
        for node in reversed(chain):
            depth[node] = depth[g.parents[node]] + 1
            if depth[node] > MAX_NODE_DEPTH:
                raise g.fail(f"nodes[{node}]", f"the node tree is more than "
                             f"{MAX_NODE_DEPTH} levels deep; refused")


def check_nodes(g: GltfFile) -> None:
    """The nodes form trees (glTF requires it); see :func:`_node_depths`."""
    nodes = g.items("nodes")
    meshes = len(g.items("meshes"))
    for i, _, node in g.objects("nodes"):
        if "mesh" in node and field_int(node["mesh"], g.path, f"nodes[{i}].mesh") >= meshes:
            raise g.fail(f"nodes[{i}].mesh", f"{node['mesh']} does not exist")
        children = node.get("children", []) or []
        if not isinstance(children, list):
            raise g.fail(f"nodes[{i}].children", "must be a list")
        for child in children:
            c = field_int(child, g.path, f"nodes[{i}].children")
            if c >= len(nodes):
                raise g.fail(f"nodes[{i}].children", f"{c} does not exist")
            if c in g.parents:
                raise g.fail(f"nodes[{c}]", f"is a child of both nodes[{g.parents[c]}] and "
                             f"nodes[{i}]; glTF nodes form trees")
            g.parents[c] = i
    _node_depths(g, nodes)


def _primitives(g: GltfFile, m: int) -> list[tuple[int, dict]]:
    meshes = g.items("meshes")
    mesh = meshes[m] if 0 <= m < len(meshes) and isinstance(meshes[m], dict) else {}
    prims = mesh.get("primitives", []) or []
    return [(p, prim) for p, prim in enumerate(prims if isinstance(prims, list) else [])
            if isinstance(prim, dict) and prim.get("mode", 4) in (4, 5, 6)]


def _primitive_triangles(g: GltfFile, prim: dict) -> int:
    accessors = g.items("accessors")
    idx = prim.get("indices")
    pos = (prim.get("attributes") or {}).get("POSITION")
    ref = idx if isinstance(idx, int) else pos
    if not (isinstance(ref, int) and 0 <= ref < len(accessors)):
        return 0
    count = accessors[ref].get("count", 0)
    return count // 3 if prim.get("mode", 4) == 4 else max(count - 2, 0)


def count_triangles(g: GltfFile) -> None:
    """Triangles, each mesh counted once per node that places it (once if none does),
    refused over the limit."""
    uses: dict[int, int] = {}
    for node in g.items("nodes"):
        if isinstance(node.get("mesh"), int):
            uses[node["mesh"]] = uses.get(node["mesh"], 0) + 1
    for m in range(len(g.items("meshes"))):
        per_mesh = sum(_primitive_triangles(g, prim) for _, prim in _primitives(g, m))
        g.triangles += per_mesh * max(uses.get(m, 1), 1)
    if g.triangles > g.limits.triangles:
        raise AssetError(
            f"{g.path}: {g.triangles:,} triangles is over the limit of "
            f"{g.limits.triangles:,}; decimate it elsewhere first or raise "
            f"MAQUETTE_MAX_TRIANGLES")


def _numbers(g: GltfFile, where: str, value, size: int, default) -> np.ndarray:
    if value is None:
        return np.asarray(default, dtype=np.float64)
    if not isinstance(value, list) or len(value) != size or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in value):
        raise g.fail(where, f"expected {size} numbers")
    out = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise g.fail(where, "contains NaN or infinity")
    return out


def node_matrix(g: GltfFile, i: int) -> np.ndarray:
    """(4, 4) local transform of nodes[i]: its matrix, or translation · rotation · scale."""
    node = g.items("nodes")[i]
    if "matrix" in node:
        return _numbers(g, f"nodes[{i}].matrix", node["matrix"], 16, None).reshape(4, 4).T
    t = _numbers(g, f"nodes[{i}].translation", node.get("translation"), 3, [0, 0, 0])
    x, y, z, w = _numbers(g, f"nodes[{i}].rotation", node.get("rotation"), 4, [0, 0, 0, 1])
    s = _numbers(g, f"nodes[{i}].scale", node.get("scale"), 3, [1, 1, 1])
    n = x * x + y * y + z * z + w * w
    k = 2.0 / n if n > 0 else 0.0
    rotation = np.array([
        [1 - k * (y * y + z * z), k * (x * y - z * w), k * (x * z + y * w)],
        [k * (x * y + z * w), 1 - k * (x * x + z * z), k * (y * z - x * w)],
        [k * (x * z - y * w), k * (y * z + x * w), 1 - k * (x * x + y * y)]])
    out = np.eye(4)
    out[:3, :3] = rotation * s
    out[:3, 3] = t
    return out


def _roots(g: GltfFile) -> list[int] | None:
    """The default scene's root nodes (every parentless node without scenes), or None
    when the file has no nodes at all."""
    nodes, scenes = g.items("nodes"), g.items("scenes")
    if not scenes:
        return [i for i in range(len(nodes)) if i not in g.parents] if nodes else None
    chosen = g.doc.get("scene", 0)
    scene = scenes[chosen] if isinstance(chosen, int) and 0 <= chosen < len(scenes) \
        else scenes[0]
    roots = (scene.get("nodes", []) if isinstance(scene, dict) else []) or []
    roots = [field_int(r, g.path, "scenes[].nodes") for r in roots]
    if any(r >= len(nodes) for r in roots):
        raise g.fail("scenes[].nodes", f"{max(roots)} does not exist")
    return roots


def placed_meshes(g: GltfFile) -> list[tuple[int | None, int, np.ndarray]]:
    """(node, mesh, (4, 4) world matrix) for every mesh the default scene places (all
    root nodes without scenes; every mesh once, unmoved, without nodes)."""
    roots = _roots(g)
    if roots is None:
        return [(None, m, np.eye(4)) for m in range(len(g.items("meshes")))]
    nodes = g.items("nodes")
    placed, stack = [], [(r, np.eye(4)) for r in roots]
    while stack:
        i, parent = stack.pop()
        world = parent @ node_matrix(g, i)
        mesh = nodes[i].get("mesh")
        if isinstance(mesh, int):
            placed.append((i, mesh, world))
        stack.extend((c, world) for c in nodes[i].get("children", []) or [])
    return placed


def read_accessor(g: GltfFile, index: int) -> np.ndarray:
    """(count, components) array of accessors[index] (sparse substitutes applied;
    normalized integers scaled to [0, 1] or [-1, 1])."""
    acc = g.items("accessors")[index]
    dtype = np.dtype(COMPONENT_DTYPE[acc["componentType"]])
    shape = (acc["count"], TYPE_COUNT[acc["type"]])
    if "bufferView" in acc:
        b, off, _, stride = g.views[acc["bufferView"]]
        out = np.ndarray(shape, dtype=dtype, buffer=g.buffer(b),
                         offset=off + acc.get("byteOffset", 0),
                         strides=(stride or dtype.itemsize * shape[1], dtype.itemsize))
    else:
        out = np.zeros(shape, dtype=dtype)
    sparse = acc.get("sparse")
    if isinstance(sparse, dict) and sparse.get("count"):
        out = out.copy()
        count = sparse["count"]

        def view(part: dict, kind: np.dtype, width: int) -> np.ndarray:
            b, off, _, _ = g.views[part["bufferView"]]
            return np.ndarray((count, width), dtype=kind, buffer=g.buffer(b),
                              offset=off + part.get("byteOffset", 0))

        idx = view(sparse["indices"], np.dtype(COMPONENT_DTYPE[sparse["indices"]
                                                               ["componentType"]]), 1)[:, 0]
        if len(idx) and int(idx.max()) >= shape[0]:
            raise g.fail(f"accessors[{index}].sparse.indices", f"{int(idx.max())} is past "
                         f"the accessor's {shape[0]} elements")
        out[idx] = view(sparse["values"], dtype, shape[1])
    if acc.get("normalized") and dtype.kind in "iu":
        return np.maximum(out / float(np.iinfo(dtype).max), -1.0)
    return out


def _triangles(g: GltfFile, prim: dict, vertices: int, where: str) -> np.ndarray:
    """(n, 3) corner indices of a TRIANGLES, TRIANGLE_STRIP or TRIANGLE_FAN primitive."""
    idx = prim.get("indices")
    if idx is None:
        corners = np.arange(vertices)
    else:
        index = field_int(idx, g.path, f"{where}.indices")
        if index >= len(g.items("accessors")):
            raise g.fail(f"{where}.indices", f"{index} does not exist")
        corners = read_accessor(g, index)
        if corners.shape[1] != 1 or corners.dtype.kind != "u":
            raise g.fail(f"{where}.indices", f"accessors[{index}] is not unsigned integers")
        corners = corners[:, 0]
    mode = prim.get("mode", 4)
    if mode == 4:
        return corners[: len(corners) // 3 * 3].reshape(-1, 3)
    if len(corners) < 3:
        return np.zeros((0, 3), dtype=np.int64)
    first = corners[:-2] if mode == 5 else np.full(len(corners) - 2, corners[0])
    return np.column_stack([first, corners[1:-1], corners[2:]])


def check_geometry(g: GltfFile) -> None:
    """Every placed primitive's positions (moved to where its node puts them) are
    finite and in range, its indices point at its vertices, and the whole has area."""
    extent = Extent.empty()
    accessors = g.items("accessors")
    for node, m, world in placed_meshes(g):
        for p, prim in _primitives(g, m):
            where = f"meshes[{m}].primitives[{p}]"
            pos = (prim.get("attributes") or {}).get("POSITION")
            if not isinstance(pos, int) or not 0 <= pos < len(accessors):
                continue
            points = read_accessor(g, pos).astype(np.float64)
            if points.shape[1] != 3:
                raise g.fail(f"{where}.attributes.POSITION", f"accessors[{pos}] is not VEC3")
            moved = not np.array_equal(world, np.eye(4))
            if moved:
                with np.errstate(over="ignore", invalid="ignore"):
                    points = points @ world[:3, :3].T + world[:3, 3]
            field = f"accessors[{pos}] (POSITION of {where}" + (
                f", placed by nodes[{node}])" if moved else ")")
            measure_geometry(g.path, points, _triangles(g, prim, len(points), where),
                             field, extent, index_field=f"{where}.indices")
    require_surface(g.path, extent)


CHECKS: tuple[Callable[[GltfFile], None], ...] = (
    check_extensions, check_buffers, check_views, check_accessors, check_images,
    check_nodes, count_triangles, check_geometry,
)


def check_gltf(path: Path, doc: dict, bin_chunk: tuple[int, int] | None,
               limits: Limits) -> int:
    """Validate a glTF document against the bytes that exist, then its geometry.
    Returns the triangle count."""
    g = GltfFile(Path(path), doc, bin_chunk, limits)
    for check in CHECKS:
        check(g)
    return g.triangles


def check_glb_file(path: Path, size: int, limits: Limits) -> int:
    doc, bin_chunk = read_glb_header(path, size)
    return check_gltf(path, doc, bin_chunk, limits)


def check_gltf_file(path: Path, size: int, limits: Limits) -> int:
    return check_gltf(path, parse_json(Path(path).read_bytes(), path, "glTF"), None, limits)


# ----------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------


# mesh.metadata flag (set on display copies): also write a TANGENT attribute. Without
# one, panda3d-gltf computes tangents itself in a Python loop (~0.7 s per 100k
# triangles), which is most of the contact sheet's load.
GLTF_TANGENTS = "maquette_gltf_tangents"


def glb_bytes(geometry, **options) -> bytes:
    """The one GLB writer: a trimesh Trimesh or Scene as GLB bytes (trimesh's glTF
    exporter; `options` go to it, e.g. include_normals), with a TANGENT attribute when
    a mesh is flagged GLTF_TANGENTS."""
    import trimesh

    scene = geometry if isinstance(geometry, trimesh.Scene) else trimesh.Scene(geometry)
    data = scene.export(file_type="glb", **options)
    if isinstance(geometry, trimesh.Trimesh) and geometry.metadata.get(GLTF_TANGENTS):
        data = _with_tangents(data, geometry)
    return data


def _with_tangents(glb: bytes, mesh) -> bytes:
    """The GLB with a TANGENT accessor added to its one primitive (left as it is when
    there is not exactly one primitive with UVs and normals, or its vertices are not
    the mesh's)."""
    from engine.asset.topology import vertex_tangents

    uv = mesh_uv(mesh)
    doc, binary = split_glb(glb)
    primitives = [p for m in doc.get("meshes", []) for p in m.get("primitives", [])]
    if uv is None or len(primitives) != 1:
        return glb
    attributes = primitives[0].get("attributes", {})
    if "TANGENT" in attributes or "NORMAL" not in attributes or \
            doc["accessors"][attributes["POSITION"]]["count"] != len(mesh.vertices):
        return glb
    gltf_uv = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])  # glTF's v runs down the image
    tangents = vertex_tangents(mesh.vertices, np.asarray(mesh.faces), gltf_uv,
                               mesh_normals(mesh))
    binary = bytearray(binary + b"\0" * (-len(binary) % 4))
    offset = len(binary)
    binary.extend(tangents.tobytes())
    doc["bufferViews"].append({"buffer": 0, "byteOffset": offset,
                               "byteLength": tangents.nbytes, "target": 34962})
    doc["accessors"].append({"bufferView": len(doc["bufferViews"]) - 1,
                             "componentType": 5126, "count": len(tangents), "type": "VEC4"})
    attributes["TANGENT"] = len(doc["accessors"]) - 1
    doc["buffers"][0]["byteLength"] = len(binary)
    return join_glb(doc, bytes(binary))


def _decompose(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k, 4, 4) rigid + uniform-scale matrices → translations (k, 3), quaternions
    (k, 4) xyzw (sign-continuous), scales (k, 3)."""
    from scipy.spatial.transform import Rotation

    m = np.asarray(matrices, dtype=np.float64)
    translation = m[:, :3, 3]
    linear = m[:, :3, :3]
    scale = np.cbrt(np.linalg.det(linear))
    rotation = linear / scale[:, None, None]
    quats = Rotation.from_matrix(rotation).as_quat()  # xyzw
    for i in range(1, len(quats)):
        if np.dot(quats[i], quats[i - 1]) < 0:
            quats[i] = -quats[i]
    return translation, quats, np.repeat(scale[:, None], 3, axis=1)


def bake_animation(glb: bytes, times: np.ndarray, matrices: np.ndarray,
                   name: str = "maquette-motion") -> bytes:
    """Add a rigid animation to a GLB: a new root node (parent of the scene's nodes)
    whose translation/rotation/scale follow `matrices` (k, 4, 4) at `times` (k,) s,
    as LINEAR glTF channels. The node's rest TRS is the first sample."""
    times = np.asarray(times, dtype=np.float32)
    if times.ndim != 1 or len(times) < 2 or np.any(np.diff(times) <= 0):
        raise ValueError("animation times must be increasing, at least two samples")
    doc, binary = split_glb(glb)
    translation, rotation, scale = _decompose(matrices)
    binary = bytearray(binary + b"\0" * (-len(binary) % 4))
    doc.setdefault("buffers", [{"byteLength": 0}])
    doc.setdefault("bufferViews", [])
    doc.setdefault("accessors", [])

    def add(array: np.ndarray, kind: str) -> int:
        data = np.ascontiguousarray(array, dtype=np.float32)
        offset = len(binary)
        binary.extend(data.tobytes())
        binary.extend(b"\0" * (-len(binary) % 4))
        doc["bufferViews"].append({"buffer": 0, "byteOffset": offset,
                                   "byteLength": data.nbytes})
        accessor = {"bufferView": len(doc["bufferViews"]) - 1, "componentType": 5126,
                    "count": len(data), "type": kind}
        if kind == "SCALAR":
            accessor["min"] = [float(data.min())]
            accessor["max"] = [float(data.max())]
        doc["accessors"].append(accessor)
        return len(doc["accessors"]) - 1

    t_acc = add(times, "SCALAR")
    outputs = [("translation", add(translation, "VEC3")), ("rotation", add(rotation, "VEC4")),
               ("scale", add(scale, "VEC3"))]
    doc["buffers"][0]["byteLength"] = len(binary)
    scene_index = doc.get("scene", 0)
    scene = doc["scenes"][scene_index]
    doc.setdefault("nodes", []).append({
        "name": name, "children": list(scene.get("nodes", [])),
        "translation": [float(x) for x in translation[0]],
        "rotation": [float(x) for x in rotation[0]],
        "scale": [float(x) for x in scale[0]],
    })
    node = len(doc["nodes"]) - 1
    scene["nodes"] = [node]
    doc.setdefault("animations", []).append({
        "name": name,
        "samplers": [{"input": t_acc, "output": acc, "interpolation": "LINEAR"}
                     for _, acc in outputs],
        "channels": [{"sampler": i, "target": {"node": node, "path": path}}
                     for i, (path, _) in enumerate(outputs)],
    })
    return join_glb(doc, bytes(binary))


def _animated_glb(mesh, options) -> bytes:
    data = glb_bytes(mesh)
    if options is not None and options.animation is not None:
        data = bake_animation(data, *options.animation)
    return data


def scene_glb(mesh, options=None) -> bytes:
    """The asset as one glTF document for the writers that convert a scene (USDZ, FBX):
    options.document (prep's or the source's, decoded), else `mesh`, or its several
    pieces (options.pieces) each as its own node, written as a GLB."""
    document = getattr(options, "document", None)
    if document is not None:
        return document
    import trimesh

    from .common import mesh_normals

    pieces = list(getattr(options, "pieces", ()) or ())
    for piece in pieces if len(pieces) > 1 else [mesh]:
        mesh_normals(piece)  # (the file's own, else computed with hard edges kept)
    return glb_bytes(trimesh.Scene(pieces) if len(pieces) > 1 else mesh,
                     include_normals=True)


def write_glb(mesh, out: Path, options=None) -> dict[Path, bytes]:
    return {out: _animated_glb(mesh, options)}


def gltf_files(glb: bytes, out: Path) -> dict[Path, bytes]:
    """A GLB split into `out` (.gltf JSON) and the .bin beside it."""
    doc, binary = split_glb(glb)
    bin_name = out.stem + ".bin"
    doc["buffers"] = [{"uri": bin_name, "byteLength": len(binary)}]
    text = json.dumps(doc, indent=1).encode()
    return {out.with_name(bin_name): binary, out: text}


def write_gltf(mesh, out: Path, options=None) -> dict[Path, bytes]:
    return gltf_files(_animated_glb(mesh, options), out)


read_back = trimesh_figures
