"""Geometry compression of the web page's GLB: `KHR_draco_mesh_compression` (DracoPy,
`draco_glb`) or `EXT_meshopt_compression` (meshoptimizer's codecs, `meshopt_glb`, below).

Draco:
Each eligible triangle primitive (mode 4; float POSITION, NORMAL and TEXCOORD_0 only; no
morph targets, no extension of its own) is encoded with Draco; its accessors keep their
types and counts but lose their bufferViews, and the GLB is rebuilt with only the data
still referenced (images, animation and skin data, primitives left as they were), so
the uncompressed copy is not shipped alongside. The extension is required: a viewer
without a Draco decoder refuses the file instead of drawing nothing (model-viewer decodes
it with the decoder the page carries in vendor/, see DECODER_FILES; Scene Viewer and
three.js also read it).

Quantisation (Draco's, per primitive): POSITION 14 bits over the primitive's largest
extent (0.06 mm on a 1 m asset), NORMAL 10 bits, TEXCOORD_0 12 bits (1/4096 of the UV
range: a quarter texel of a 1024² texture). Positions are in the file's own units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.asset.formats.gltf import COMPONENT_DTYPE, TYPE_COUNT, join_glb, split_glb

DRACO = "KHR_draco_mesh_compression"
#: The decoder files the page carries (three.js's glTF build of Draco's WASM decoder).
DECODER_FILES = ("draco_wasm_wrapper.js", "draco_decoder.wasm", "LICENSE-draco")
POSITION_BITS, NORMAL_BITS, TEXCOORD_BITS = 14, 10, 12
LEVEL = 7  # Draco's compression level, 0-10 (7: gltf-transform's and gltfpack's default)
_ELIGIBLE = {"POSITION", "NORMAL", "TEXCOORD_0"}
_DRACO_TYPES = {0: "POSITION", 1: "NORMAL", 3: "TEXCOORD_0"}  # draco::GeometryAttribute
_FLOAT, _U16, _U32 = 5126, 5123, 5125


@dataclass
class Compressed:
    """The compressed GLB and what happened to each primitive."""

    glb: bytes
    compressed: int = 0  # primitives encoded with Draco
    skipped: list[str] = field(default_factory=list)  # "meshes[0].primitives[1]: why"
    bytes_before: int = 0
    bytes_after: int = 0


def _array(doc: dict, binary: bytes, index: int) -> np.ndarray:
    """(count, components) copy of accessors[index] (a plain, non-sparse accessor)."""
    acc = doc["accessors"][index]
    dtype = np.dtype(COMPONENT_DTYPE[acc["componentType"]])
    width = TYPE_COUNT[acc["type"]]
    view = doc["bufferViews"][acc["bufferView"]]
    stride = view.get("byteStride") or dtype.itemsize * width
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.ndarray((acc["count"], width), dtype=dtype, buffer=binary, offset=start,
                      strides=(stride, dtype.itemsize)).copy()


def _why_not(doc: dict, primitive: dict) -> str | None:
    """Why a primitive stays as it is (None: it can be encoded)."""
    if primitive.get("mode", 4) != 4:
        return "not a triangle list"
    if primitive.get("targets"):
        return "has morph targets (Draco reorders vertices)"
    if primitive.get("extensions"):
        return "already carries an extension"
    attributes = primitive.get("attributes", {})
    extra = sorted(set(attributes) - _ELIGIBLE)
    if extra:
        return f"carries {', '.join(extra)} (only POSITION, NORMAL, TEXCOORD_0 are encoded)"
    for name, index in list(attributes.items()) + [("indices", primitive.get("indices"))]:
        if index is None:
            continue
        acc = doc["accessors"][index]
        if "bufferView" not in acc or acc.get("sparse"):
            return f"its {name} accessor is sparse or has no data"
        if name != "indices" and (acc["componentType"] != _FLOAT or acc.get("normalized")):
            return f"its {name} is not float (quantized)"
    return None


def _encode(doc: dict, binary: bytes, primitive: dict) -> tuple[bytes, dict, dict]:
    """(draco bytes, {attribute: draco unique id}, {attribute or 'indices': accessor})."""
    import DracoPy

    attributes = primitive["attributes"]
    points = _array(doc, binary, attributes["POSITION"]).astype(np.float64)
    if "indices" in primitive:
        faces = _array(doc, binary, primitive["indices"]).reshape(-1, 3)
    else:
        faces = np.arange(len(points) - len(points) % 3).reshape(-1, 3)
    extra = {}
    if "NORMAL" in attributes:
        extra["normals"] = _array(doc, binary, attributes["NORMAL"]).astype(np.float64)
        extra["normal_quantization_bits"] = NORMAL_BITS
    if "TEXCOORD_0" in attributes:
        extra["tex_coord"] = _array(doc, binary, attributes["TEXCOORD_0"]).astype(np.float64)
        extra["tex_coord_quantization_bits"] = TEXCOORD_BITS
    data = DracoPy.encode(points, faces.astype(np.uint32), quantization_bits=POSITION_BITS,
                          compression_level=LEVEL, **extra)
    decoded = DracoPy.decode(data)  # the counts and ids a decoder will see
    ids = {_DRACO_TYPES[a["attribute_type"]]: int(a["unique_id"])
           for a in decoded.attributes if a["attribute_type"] in _DRACO_TYPES}
    count = len(decoded.points)
    accessors = {}
    for name in attributes:
        old = doc["accessors"][attributes[name]]
        acc = {"componentType": _FLOAT, "count": count, "type": old["type"]}
        if name == "POSITION":
            acc["min"] = [float(x) for x in decoded.points.min(axis=0)]
            acc["max"] = [float(x) for x in decoded.points.max(axis=0)]
        accessors[name] = acc
    faces_out = np.asarray(decoded.faces).size
    accessors["indices"] = {"componentType": _U16 if count <= 65535 else _U32,
                            "count": int(faces_out), "type": "SCALAR"}
    return data, ids, accessors


def _start(glb: bytes) -> tuple[dict, bytes, Compressed]:
    """(json, BIN chunk, a result that is `glb` unchanged): with a reason in `skipped` when
    the GLB's data is not all in its BIN chunk (nothing is compressed then)."""
    doc, binary = split_glb(glb)
    result = Compressed(glb=glb, bytes_before=len(glb), bytes_after=len(glb))
    buffers = doc.get("buffers", [])
    if len(buffers) != 1 or "uri" in buffers[0]:
        result.skipped.append("the GLB's data is not all in its BIN chunk: left as it is")
    return doc, binary, result


def draco_glb(glb: bytes) -> Compressed:
    """`glb` with its eligible primitives Draco-encoded (see the module docstring).

    A GLB with external buffers or no BIN chunk is returned as it is, with the reason."""
    doc, binary, result = _start(glb)
    if result.skipped:
        return result
    blobs: list[bytes] = []  # new bufferViews' bytes, appended after the kept ones
    for m, mesh in enumerate(doc.get("meshes", [])):
        for p, primitive in enumerate(mesh.get("primitives", [])):
            why = _why_not(doc, primitive)
            if why:
                result.skipped.append(f"meshes[{m}].primitives[{p}]: {why}")
                continue
            data, ids, accessors = _encode(doc, binary, primitive)
            new_ids = {}
            for name, acc in accessors.items():
                doc["accessors"].append(acc)
                new_ids[name] = len(doc["accessors"]) - 1
            primitive["indices"] = new_ids.pop("indices")
            primitive["attributes"] = new_ids
            primitive["extensions"] = {DRACO: {
                "bufferView": ("new", len(blobs)), "attributes": ids}}
            blobs.append(data)
            result.compressed += 1
    if not result.compressed:
        return result
    result.glb = _rebuild(doc, binary, blobs)
    result.bytes_after = len(result.glb)
    return result


def _rebuild(doc: dict, binary: bytes, blobs: list[bytes]) -> bytes:
    """The GLB with only the accessors and bufferViews still referenced; ("new", k)
    placeholders become bufferViews holding blobs[k]."""
    used_acc: set[int] = set()
    for mesh in doc.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            used_acc.update(primitive.get("attributes", {}).values())
            if "indices" in primitive:
                used_acc.add(primitive["indices"])
            for target in primitive.get("targets", []) or []:
                used_acc.update(target.values())
    for animation in doc.get("animations", []):
        for sampler in animation.get("samplers", []):
            used_acc.update((sampler["input"], sampler["output"]))
    for skin in doc.get("skins", []):
        if "inverseBindMatrices" in skin:
            used_acc.add(skin["inverseBindMatrices"])
    acc_map = {old: new for new, old in enumerate(sorted(used_acc))}
    accessors = [doc["accessors"][old] for old in sorted(used_acc)]

    def remap_acc(value: int) -> int:
        return acc_map[value]

    for mesh in doc.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            primitive["attributes"] = {k: remap_acc(v)
                                       for k, v in primitive["attributes"].items()}
            if "indices" in primitive:
                primitive["indices"] = remap_acc(primitive["indices"])
            if primitive.get("targets"):
                primitive["targets"] = [{k: remap_acc(v) for k, v in t.items()}
                                        for t in primitive["targets"]]
    for animation in doc.get("animations", []):
        for sampler in animation.get("samplers", []):
            sampler["input"] = remap_acc(sampler["input"])
            sampler["output"] = remap_acc(sampler["output"])
    for skin in doc.get("skins", []):
        if "inverseBindMatrices" in skin:
            skin["inverseBindMatrices"] = remap_acc(skin["inverseBindMatrices"])
    doc["accessors"] = accessors

    # bufferViews: the kept ones in their old order, then the Draco blobs
    old_views = doc.get("bufferViews", [])
    refs: list[tuple[dict, str]] = []  # (object, key) holding an old view index
    for acc in accessors:
        if "bufferView" in acc:
            refs.append((acc, "bufferView"))
        sparse = acc.get("sparse")
        if sparse:
            refs += [(sparse["indices"], "bufferView"), (sparse["values"], "bufferView")]
    refs += [(image, "bufferView") for image in doc.get("images", []) if "bufferView" in image]
    used_views = sorted({obj[key] for obj, key in refs})
    view_map: dict[int, int] = {}
    views, chunks, offset = [], [], 0

    def place(data: bytes, template: dict) -> int:
        nonlocal offset
        view = {k: v for k, v in template.items() if k not in ("byteOffset", "byteLength")}
        view.update(buffer=0, byteOffset=offset, byteLength=len(data))
        pad = b"\0" * (-len(data) % 4)
        chunks.append(data + pad)
        offset += len(data) + len(pad)
        views.append(view)
        return len(views) - 1

    for old in used_views:
        v = old_views[old]
        start = v.get("byteOffset", 0)
        view_map[old] = place(binary[start:start + v["byteLength"]], v)
    for obj, key in refs:
        obj[key] = view_map[obj[key]]
    for mesh in doc.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            ext = primitive.get("extensions", {}).get(DRACO)
            if ext and isinstance(ext["bufferView"], tuple):
                ext["bufferView"] = place(blobs[ext["bufferView"][1]], {})
    doc["bufferViews"] = views
    doc["buffers"] = [{"byteLength": offset}]
    for key in ("extensionsUsed", "extensionsRequired"):
        names = doc.setdefault(key, [])
        if DRACO not in names:
            names.append(DRACO)
    return join_glb(doc, b"".join(chunks))


MESHOPT = "EXT_meshopt_compression"


def _view_users(doc: dict) -> dict[int, set[str]]:
    """bufferView index -> what reads it: "attribute", "indices", "other" (images, sparse
    parts, animation and skin data)."""
    users: dict[int, set[str]] = {}
    accessors = doc.get("accessors", [])

    def mark(acc_index: int, kind: str) -> None:
        acc = accessors[acc_index]
        if "bufferView" in acc:
            users.setdefault(acc["bufferView"], set()).add(kind)
        sparse = acc.get("sparse")
        if sparse:
            for part in (sparse["indices"], sparse["values"]):
                users.setdefault(part["bufferView"], set()).add("other")

    used = set()
    for mesh in doc.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            for index in primitive.get("attributes", {}).values():
                mark(index, "attribute")
                used.add(index)
            for target in primitive.get("targets", []) or []:
                for index in target.values():
                    mark(index, "attribute")
                    used.add(index)
            if "indices" in primitive:
                kind = "indices" if primitive.get("mode", 4) == 4 else "other"
                mark(primitive["indices"], kind)
                used.add(primitive["indices"])
    for i in range(len(accessors)):
        if i not in used:
            mark(i, "other")
    for image in doc.get("images", []):
        if "bufferView" in image:
            users.setdefault(image["bufferView"], set()).add("other")
    return users


def meshopt_glb(glb: bytes) -> Compressed:
    """`glb` with its vertex-attribute and triangle-index bufferViews encoded with
    meshoptimizer's codecs (EXT_meshopt_compression, modes ATTRIBUTES and TRIANGLES; no
    filters, so the values decode exactly). The uncompressed views point at a fallback
    buffer with no data; the extension is required. Views shared between several
    accessors, or read by images, sparse accessors, animations or skins, stay as they are
    (each is named in `skipped`). model-viewer's bundle carries the meshopt decoder."""
    import meshoptimizer

    doc, binary, result = _start(glb)
    if result.skipped:
        return result
    users = _view_users(doc)
    by_view: dict[int, list[dict]] = {}
    for acc in doc.get("accessors", []):
        if "bufferView" in acc:
            by_view.setdefault(acc["bufferView"], []).append(acc)
    meshoptimizer.encode_vertex_version(0)  # EXT_meshopt_compression's vertex codec
    chunks, offset, fallback = [], 0, 0

    def place(data: bytes) -> int:
        nonlocal offset
        start = offset
        pad = b"\0" * (-len(data) % 4)
        chunks.append(data + pad)
        offset += len(data) + len(pad)
        return start

    for i, view in enumerate(doc.get("bufferViews", [])):
        start = view.get("byteOffset", 0)
        raw = binary[start:start + view["byteLength"]]
        kinds, accs = users.get(i, set()), by_view.get(i, [])
        encoded = None
        if kinds in ({"attribute"}, {"indices"}) and len(accs) == 1 \
                and not accs[0].get("byteOffset", 0):
            acc = accs[0]
            size = np.dtype(COMPONENT_DTYPE[acc["componentType"]]).itemsize \
                * TYPE_COUNT[acc["type"]]
            stride = view.get("byteStride") or size
            count = acc["count"]
            if kinds == {"attribute"} and stride % 4 == 0 and stride <= 256 \
                    and count * stride <= len(raw):
                data = np.frombuffer(raw[:count * stride], np.uint8).reshape(count, stride)
                encoded = (meshoptimizer.encode_vertex_buffer(data, count, stride),
                           {"byteStride": stride, "count": count, "mode": "ATTRIBUTES"})
            elif kinds == {"indices"} and size in (2, 4) and count % 3 == 0 \
                    and stride == size:
                idx = np.frombuffer(raw[:count * size], COMPONENT_DTYPE[acc["componentType"]])
                vertices = int(idx.max()) + 1 if count else 0
                encoded = (meshoptimizer.encode_index_buffer(
                               idx.astype(np.uint32), count, vertices),
                           {"byteStride": size, "count": count, "mode": "TRIANGLES"})
        if encoded is None:
            if kinds & {"attribute", "indices"}:
                result.skipped.append(f"bufferViews[{i}]: shared or strided data, not "
                                      "encoded")
            view["byteOffset"] = place(raw)
            view["buffer"] = 0
            continue
        data, ext = encoded
        ext.update(buffer=0, byteOffset=place(bytes(data)), byteLength=len(data))
        view.update(buffer=1, byteOffset=fallback)
        fallback += view["byteLength"] + (-view["byteLength"] % 4)
        view.setdefault("extensions", {})[MESHOPT] = ext
        result.compressed += 1
    if not result.compressed:
        return Compressed(glb=glb, skipped=result.skipped, bytes_before=len(glb),
                          bytes_after=len(glb))
    doc["buffers"] = [{"byteLength": offset},
                      {"byteLength": fallback, "extensions": {MESHOPT: {"fallback": True}}}]
    for key in ("extensionsUsed", "extensionsRequired"):
        names = doc.setdefault(key, [])
        if MESHOPT not in names:
            names.append(MESHOPT)
    result.glb = join_glb(doc, b"".join(chunks))
    result.bytes_after = len(result.glb)
    return result
