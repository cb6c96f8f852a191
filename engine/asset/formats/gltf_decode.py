"""Decode compressed glTF into a plain, self-contained GLB.

``KHR_draco_mesh_compression`` (DracoPy) and ``EXT_meshopt_compression`` (meshoptimizer)
store geometry where neither trimesh nor panda3d-gltf looks. :func:`decoded_glb` rewrites
such a file as a GLB with one BIN chunk holding every buffer view decoded (and every
external buffer and image embedded, so the copy can live anywhere), the compression
extensions removed from the document. Files that use neither come back as None: they are
read as they are.

Units and frames are untouched (glTF's: metres, +Y up); only the storage changes.
Errors are :class:`AssetError` naming the file and the field.
"""

from __future__ import annotations

import base64
import functools
import os
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from engine.asset.check import safe_local
from engine.asset.model import AssetError

__all__ = ["DECODED_EXTENSIONS", "decoded_glb", "needs_decoding"]

DRACO = "KHR_draco_mesh_compression"
MESHOPT = "EXT_meshopt_compression"
QUANTIZED = "KHR_mesh_quantization"
DECODED_EXTENSIONS = {DRACO: "DracoPy", MESHOPT: "meshoptimizer", QUANTIZED: "numpy"}
_NORMALIZE = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}
_DTYPE = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16,
          5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


def needs_decoding(doc: dict) -> bool:
    used = set(doc.get("extensionsUsed") or []) | set(doc.get("extensionsRequired") or [])
    return bool(used & set(DECODED_EXTENSIONS))


def _document(path: Path) -> tuple[dict, bytes | None]:
    """(json, GLB BIN chunk or None) of a glTF/GLB file, through the container checks
    (sizes, JSON nesting) of engine.asset.formats.gltf."""
    from engine.asset.formats.gltf import parse_json, read_glb_header

    data = path.read_bytes()
    if data[:4] != b"glTF":
        return parse_json(data, path, "glTF"), None
    doc, chunk = read_glb_header(path, len(data))
    if chunk is None:
        return doc, None
    return doc, data[chunk[0]:chunk[0] + chunk[1]]


def _buffers(path: Path, doc: dict, binary: bytes | None) -> list[bytes]:
    out = []
    for i, buf in enumerate(doc.get("buffers") or []):
        uri = buf.get("uri")
        if uri is None:
            fallback = (buf.get("extensions") or {}).get(MESHOPT, {}).get("fallback")
            out.append(b"" if fallback or binary is None else bytes(binary))
        elif uri.startswith("data:"):
            head, _, payload = uri.partition(",")
            out.append(base64.b64decode(payload) if head.endswith(";base64")
                       else unquote(payload).encode("latin-1"))
        else:
            out.append(safe_local(path, unquote(uri), f"buffers[{i}].uri").read_bytes())
    return out


def _meshopt_view(path: Path, i: int, ext: dict, buffers: list[bytes], length: int) -> bytes:
    import meshoptimizer as mo

    where = f"{path}: bufferViews[{i}].extensions.{MESHOPT}"
    try:
        start = int(ext.get("byteOffset", 0))
        source = np.frombuffer(buffers[ext["buffer"]], dtype=np.uint8,
                               count=int(ext["byteLength"]), offset=start)
        count, stride, mode = int(ext["count"]), int(ext["byteStride"]), ext["mode"]
        if count < 0 or stride < 1 or count * stride > length:  # (no allocation bombs)
            raise AssetError(f"{where}: count {count} x byteStride {stride} is more than "
                             f"the view's byteLength {length}")
        if mode == "ATTRIBUTES":
            out = mo.decode_vertex_buffer(count, stride, source.tobytes())
        elif mode == "TRIANGLES":
            out = mo.decode_index_buffer(count, stride, source.tobytes())
        elif mode == "INDICES":
            out = mo.decode_index_sequence(count, stride, source.tobytes())
        else:
            raise AssetError(f"{where}.mode: {mode!r} is not ATTRIBUTES, TRIANGLES or "
                             f"INDICES")
        raw = np.ascontiguousarray(out).view(np.uint8).reshape(-1)[:count * stride]
        filt = ext.get("filter", "NONE")
        if filt != "NONE":
            decode = {"OCTAHEDRAL": mo.decode_filter_oct, "QUATERNION": mo.decode_filter_quat,
                      "EXPONENTIAL": mo.decode_filter_exp}.get(filt)
            if decode is None:
                raise AssetError(f"{where}.filter: {filt!r} is not a meshopt filter")
            kind = np.float32 if filt == "EXPONENTIAL" else (
                np.int8 if stride == 4 and filt == "OCTAHEDRAL" else np.int16)
            raw = np.ascontiguousarray(decode(raw.view(kind).copy(), count, stride))
            raw = raw.view(np.uint8).reshape(-1)[:count * stride]
        return raw.tobytes()
    except AssetError:
        raise
    except Exception as exc:  # corrupt streams raise several kinds
        raise AssetError(f"{where}: cannot decode: {exc}") from None


def _draco_primitive(path: Path, where: str, prim: dict, doc: dict,
                     views: list[bytes]) -> dict[int, bytes]:
    """{accessor index: decoded bytes} for one Draco-compressed primitive."""
    import DracoPy

    ext = prim["extensions"][DRACO]
    try:
        mesh = DracoPy.decode(views[int(ext["bufferView"])])
    except Exception as exc:
        raise AssetError(f"{path}: {where}.extensions.{DRACO}: cannot decode: {exc}") from None
    accessors = doc["accessors"]
    out = {}
    if "indices" in prim:
        acc = accessors[prim["indices"]]
        faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), dtype=np.int64)
        out[prim["indices"]] = faces.reshape(-1).astype(_DTYPE[acc["componentType"]]).tobytes()
    for name, unique_id in (ext.get("attributes") or {}).items():
        index = prim["attributes"].get(name)
        if index is None:
            continue
        attribute = mesh.get_attribute_by_unique_id(int(unique_id))
        if attribute is None:
            raise AssetError(f"{path}: {where}.extensions.{DRACO}.attributes.{name}: no "
                             f"attribute {unique_id} in the Draco stream")
        acc = accessors[index]
        data = np.asarray(attribute["data"]).reshape(int(acc["count"]), _WIDTH[acc["type"]])
        out[index] = data.astype(_DTYPE[acc["componentType"]]).tobytes()
    return out


def _dequantized(doc: dict, views: list[bytes], extra: dict[int, bytes]) -> dict[int, bytes]:
    """KHR_mesh_quantization: {accessor: float32 bytes} for each integer vertex attribute
    (positions, normals, tangents, UVs, colours, morph targets; not joints or weights'
    integer forms used by skins), normalised ones scaled as the spec says."""
    accessors = doc.get("accessors") or []
    wanted: set[int] = set()
    for mesh in doc.get("meshes") or []:
        for prim in mesh.get("primitives") or []:
            sets = [prim.get("attributes") or {}] + list(prim.get("targets") or [])
            for attributes in sets:
                wanted |= {i for name, i in attributes.items() if not name.startswith(
                    ("JOINTS_", "WEIGHTS_"))}
    out = {}
    for index in sorted(wanted):
        acc = accessors[index]
        kind = acc.get("componentType")
        if kind == 5126 or kind not in _NORMALIZE or "sparse" in acc:
            continue
        width, count = _WIDTH[acc["type"]], int(acc["count"])
        if index in extra:
            data = np.frombuffer(extra[index], dtype=_DTYPE[kind]).reshape(count, width)
        else:
            view = doc["bufferViews"][acc["bufferView"]]
            item = np.dtype(_DTYPE[kind]).itemsize
            stride = int(view.get("byteStride") or item * width)
            raw = np.frombuffer(views[acc["bufferView"]], dtype=np.uint8)
            start = int(acc.get("byteOffset", 0))
            rows = np.lib.stride_tricks.as_strided(
                raw[start:], shape=(count, width * item), strides=(stride, 1))
            data = np.ascontiguousarray(rows).view(_DTYPE[kind]).reshape(count, width)
        values = data.astype(np.float32)
        if acc.get("normalized"):
            values = np.maximum(values / _NORMALIZE[kind], -1.0)
        out[index] = values.astype(np.float32).tobytes()
        acc["componentType"] = 5126
        acc.pop("normalized", None)
        for key in ("min", "max"):
            if key in acc:
                acc[key] = [float(v) for v in (values.min(0) if key == "min" else values.max(0))]
    return out


def _decode(path: Path) -> bytes | None:
    from engine.asset.formats.gltf import join_glb

    doc, binary = _document(path)
    if not needs_decoding(doc):
        return None
    buffers = _buffers(path, doc, binary)
    views: list[bytes] = []
    for i, view in enumerate(doc.get("bufferViews") or []):
        ext = (view.get("extensions") or {}).get(MESHOPT)
        if ext is not None:
            views.append(_meshopt_view(path, i, ext, buffers, int(view["byteLength"])))
        else:
            start = int(view.get("byteOffset", 0))
            views.append(buffers[view["buffer"]][start:start + int(view["byteLength"])])
    # Draco: each compressed primitive's accessors get a bufferView of their own.
    extra: dict[int, bytes] = {}
    for m, mesh in enumerate(doc.get("meshes") or []):
        for p, prim in enumerate(mesh.get("primitives") or []):
            if DRACO in (prim.get("extensions") or {}):
                extra.update(_draco_primitive(path, f"meshes[{m}].primitives[{p}]", prim,
                                              doc, views))
                del prim["extensions"][DRACO]
                if not prim["extensions"]:
                    del prim["extensions"]
    blob = bytearray()
    new_views = []

    def add(data: bytes, template: dict) -> int:
        blob.extend(b"\0" * (-len(blob) % 4))
        view = {k: v for k, v in template.items() if k not in ("extensions", "buffer",
                                                               "byteOffset", "byteLength")}
        view.update(buffer=0, byteOffset=len(blob), byteLength=len(data))
        blob.extend(data)
        new_views.append(view)
        return len(new_views) - 1

    for i, view in enumerate(doc.get("bufferViews") or []):
        add(views[i], view)
    extra.update(_dequantized(doc, views, extra))
    for index, data in sorted(extra.items()):
        acc = doc["accessors"][index]
        acc["bufferView"] = add(data, {})
        acc.pop("byteOffset", None)
    for i, image in enumerate(doc.get("images") or []):
        uri = image.get("uri")
        if uri is not None and not uri.startswith("data:"):
            data = safe_local(path, unquote(uri), f"images[{i}].uri").read_bytes()
            suffix = Path(unquote(uri)).suffix.lower()
            image["mimeType"] = image.get("mimeType") or {
                ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".ktx2": "image/ktx2",
                ".webp": "image/webp"}.get(suffix, "image/png")
            del image["uri"]
            image["bufferView"] = add(data, {})
    doc["bufferViews"] = new_views
    doc["buffers"] = [{"byteLength": len(blob) + (-len(blob) % 4)}]
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in doc:
            doc[key] = [name for name in doc[key] if name not in DECODED_EXTENSIONS]
            if not doc[key]:
                del doc[key]
    return join_glb(doc, bytes(blob))


@functools.lru_cache(maxsize=8)
def _decoded(path: str, mtime_ns: int, size: int) -> bytes | None:
    return _decode(Path(path))


def decoded_glb(path: Path) -> bytes | None:
    """A plain GLB of `path` with its Draco/meshopt geometry decoded, or None when the
    file uses neither. Raises AssetError (naming the file and field) for corrupt
    streams."""
    path = Path(path)
    info = os.stat(path)
    try:
        return _decoded(str(path), info.st_mtime_ns, info.st_size)
    except AssetError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise AssetError(f"{path}: corrupt compressed glTF: {exc!r}") from None
