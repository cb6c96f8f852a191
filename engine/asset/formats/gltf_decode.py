"""Rewrite real-world glTF as a plain, self-contained GLB that every reader here reads.

``KHR_draco_mesh_compression`` (DracoPy) and ``EXT_meshopt_compression`` (meshoptimizer)
store geometry where neither trimesh nor panda3d-gltf looks; ``KHR_mesh_quantization``
attributes (integers, normalised or not) were read raw (a black garbled Duck); sparse
accessors were ignored; triangle fans were dropped by trimesh and points/lines made
Panda3D assert. :func:`plain_glb` rewrites such a file as a GLB with one BIN chunk holding
every buffer view decoded (every external buffer and image embedded, so the copy can live
anywhere): compression extensions removed, quantized attributes as float32, sparse
accessors dense, strips and fans as triangle lists, points and lines skipped (each named
in the notes it returns), and for static use (``static=True``: inspect, prep, export) the
mesh's default morph weights applied. Files that need none of it come back as None: they
are read as they are, byte for byte.

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
from engine.asset.model import AssetError, max_triangles

__all__ = ["DECODED_EXTENSIONS", "decoded_glb", "needs_decoding", "packed_glb", "plain_glb"]

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


def _draco_primitive(path: Path, where: str, prim: dict, doc: dict, views: list[bytes],
                     arrays: dict[int, np.ndarray]) -> None:
    """Decode one Draco-compressed primitive into `arrays` {accessor: (count, width)}."""
    import DracoPy

    ext = prim["extensions"][DRACO]
    try:
        mesh = DracoPy.decode(views[int(ext["bufferView"])])
    except Exception as exc:
        raise AssetError(f"{path}: {where}.extensions.{DRACO}: cannot decode: {exc}") from None
    accessors = doc["accessors"]
    if "indices" in prim:
        acc = accessors[prim["indices"]]
        faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), dtype=np.int64)
        arrays[prim["indices"]] = faces.reshape(-1, 1).astype(_DTYPE[acc["componentType"]])
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
        arrays[index] = data.astype(_DTYPE[acc["componentType"]])
    del prim["extensions"][DRACO]
    if not prim["extensions"]:
        del prim["extensions"]


def _strided(data: bytes, start: int, count: int, width: int, kind, stride: int | None):
    item = np.dtype(kind).itemsize
    raw = np.frombuffer(data, dtype=np.uint8)
    stride = stride or item * width
    if count and start + stride * (count - 1) + item * width > len(raw):
        raise ValueError(f"{count} items of {item * width} bytes do not fit in the view")
    rows = np.lib.stride_tricks.as_strided(raw[start:], shape=(count, width * item),
                                           strides=(stride, 1))
    return np.ascontiguousarray(rows).view(kind).reshape(count, width)


def _read(doc: dict, views: list[bytes], arrays: dict[int, np.ndarray], index: int):
    """Accessor `index` as a (count, width) array, sparse substitution applied."""
    if index in arrays:
        return arrays[index]
    acc = doc["accessors"][index]
    kind, width, count = _DTYPE[acc["componentType"]], _WIDTH[acc["type"]], int(acc["count"])
    if not 0 <= count <= 3 * max_triangles():  # (this runs before the checks do)
        raise ValueError(f"accessors[{index}].count {count} is over 3 x the triangle limit")
    if "bufferView" in acc:
        view = doc["bufferViews"][acc["bufferView"]]
        data = _strided(views[acc["bufferView"]], int(acc.get("byteOffset", 0)), count, width,
                        kind, view.get("byteStride"))
    else:
        data = np.zeros((count, width), dtype=kind)
    sparse = acc.get("sparse")
    if sparse:
        data = data.copy()
        n, ind, val = int(sparse["count"]), sparse["indices"], sparse["values"]
        where = _strided(views[ind["bufferView"]], int(ind.get("byteOffset", 0)), n, 1,
                         _DTYPE[ind["componentType"]], None).reshape(-1).astype(np.int64)
        if n and (where.min() < 0 or where.max() >= count):
            raise ValueError(f"accessors[{index}].sparse.indices: out of range")
        data[where] = _strided(views[val["bufferView"]], int(val.get("byteOffset", 0)), n,
                               width, kind, None)
    return data


def _float(acc: dict, data: np.ndarray) -> np.ndarray:
    """KHR_mesh_quantization: integer values as float32, normalised ones scaled as the
    spec says."""
    values = data.astype(np.float32)
    kind = acc["componentType"]
    if acc.get("normalized") and kind in _NORMALIZE:
        values = np.maximum(values / _NORMALIZE[kind], -1.0)
    return values


_MODES = {0: "POINTS", 1: "LINES", 2: "LINE_LOOP", 3: "LINE_STRIP", 4: "TRIANGLES",
          5: "TRIANGLE_STRIP", 6: "TRIANGLE_FAN"}


def _triangle_list(mode: int, order: np.ndarray) -> np.ndarray:
    """Strip or fan vertex order -> (n, 3) triangle list, winding kept (glTF 3.7.2.1)."""
    k = np.arange(max(len(order) - 2, 0))
    if mode == 5:
        even = k % 2 == 0
        tri = np.stack([np.where(even, k, k + 1), np.where(even, k + 1, k), k + 2], axis=1)
    else:
        tri = np.stack([np.zeros_like(k), k + 1, k + 2], axis=1)
    return order[tri]


def _baked_morph(doc, views, arrays, attributes, targets, weights) -> None:
    """Static use: the default morph weights applied to POSITION/NORMAL/TANGENT (new
    accessors; the originals may be shared)."""
    accessors = doc["accessors"]
    for name in ("POSITION", "NORMAL", "TANGENT"):
        if name not in attributes:
            continue
        moved = _read(doc, views, arrays, attributes[name]).astype(np.float32)
        for w, target in zip(weights, targets, strict=False):
            if w and name in target:
                delta = _read(doc, views, arrays, target[name]).astype(np.float32)
                moved[:, :3] += float(w) * delta[:, :3]
        if name != "POSITION":
            moved[:, :3] /= np.maximum(np.linalg.norm(moved[:, :3], axis=1, keepdims=True),
                                       1e-12)
        accessors.append({"componentType": 5126, "count": len(moved),
                          "type": accessors[attributes[name]]["type"]})
        attributes[name] = len(accessors) - 1
        arrays[attributes[name]] = moved


def _rewrite(doc: dict, views: list[bytes], arrays: dict[int, np.ndarray],
             static: bool, notes: list[str], surfaces_only: bool = True) -> None:
    """Quantized -> float, sparse -> dense, strips/fans -> lists, points/lines skipped
    (named in `notes`), and for static use the default morph weights applied."""
    accessors = doc.setdefault("accessors", [])
    for m, mesh in enumerate(doc.get("meshes") or []):
        kept = []
        for p, prim in enumerate(mesh.get("primitives") or []):
            where = f"meshes[{m}].primitives[{p}]"
            mode = prim.get("mode", 4)
            if mode in (0, 1, 2, 3) and not surfaces_only:
                kept.append(prim)  # (a GLB passed through keeps its points and lines)
                continue
            if mode in (0, 1, 2, 3):
                notes.append(f"{where}: mode {_MODES[mode]} is not a surface: skipped")
                continue
            attributes = prim.get("attributes") or {}
            for group in [attributes] + list(prim.get("targets") or []):
                for name, index in group.items():
                    acc = accessors[index]
                    quantized = acc["componentType"] != 5126 and not name.startswith("JOINTS_")
                    if quantized or "sparse" in acc:
                        data = _read(doc, views, arrays, index)
                        if quantized:
                            data = _float(acc, data)
                            acc["componentType"] = 5126
                            acc.pop("normalized", None)
                        arrays[index] = data
            weights = list(mesh.get("weights") or [])
            targets = prim.get("targets") or []
            if static and targets and any(weights):
                _baked_morph(doc, views, arrays, attributes, targets, weights)
                notes.append(f"{where}: default morph weights {weights} applied")
            if static and targets:
                del prim["targets"]
            if mode in (5, 6):
                count = int(accessors[attributes["POSITION"]]["count"])
                order = (_read(doc, views, arrays, prim["indices"]).reshape(-1)
                         if "indices" in prim else np.arange(count))
                tri = _triangle_list(mode, order.astype(np.int64))
                accessors.append({"componentType": 5125, "count": int(tri.size),
                                  "type": "SCALAR"})
                prim["indices"] = len(accessors) - 1
                arrays[prim["indices"]] = tri.reshape(-1, 1).astype(np.uint32)
                prim["mode"] = 4
            kept.append(prim)
        mesh["primitives"] = kept
        if static:
            mesh.pop("weights", None)
    empty = {m for m, mesh in enumerate(doc.get("meshes") or []) if not mesh["primitives"]}
    if empty:
        for node in doc.get("nodes") or []:
            if node.get("mesh") in empty:
                del node["mesh"]
        _drop_meshes(doc, empty)  # (a mesh without primitives is invalid glTF)
    for index, acc in enumerate(accessors):  # anything left sparse becomes dense too
        if "sparse" in acc and index not in arrays:
            arrays[index] = _read(doc, views, arrays, index)


def _drop_meshes(doc: dict, empty: set[int]) -> None:
    """Remove the meshes in `empty` (no node points at them now) and renumber the rest."""
    keep = [m for m in range(len(doc["meshes"])) if m not in empty]
    number = {old: new for new, old in enumerate(keep)}
    doc["meshes"] = [doc["meshes"][m] for m in keep]
    for node in doc.get("nodes") or []:
        if "mesh" in node:
            node["mesh"] = number[node["mesh"]]
    if not doc["meshes"]:
        del doc["meshes"]


def _needs_rewrite(doc: dict, static: bool) -> bool:
    if needs_decoding(doc):
        return True
    if any(isinstance(acc, dict) and "sparse" in acc for acc in doc.get("accessors") or []):
        return True
    for mesh in doc.get("meshes") or []:
        if not isinstance(mesh, dict):
            continue
        if static and any(p.get("targets") for p in mesh.get("primitives") or []):
            return True
        if any(prim.get("mode", 4) != 4 for prim in mesh.get("primitives") or []):
            return True
    return False


def _uses(doc: dict, index: int) -> set[str]:
    names = set()
    for mesh in doc.get("meshes") or []:
        for prim in mesh.get("primitives") or []:
            for group in [prim.get("attributes") or {}] + list(prim.get("targets") or []):
                names |= {name for name, i in group.items() if i == index}
    return names


def _decode(path: Path, static: bool, pack: bool = False
            ) -> tuple[bytes | None, tuple[str, ...]]:
    from engine.asset.formats.gltf import join_glb

    doc, binary = _document(path)
    if not _needs_rewrite(doc, static):
        if not pack:
            return None, ()
        if binary is not None and all("uri" not in b for b in doc.get("buffers") or []) \
                and all("uri" not in i for i in doc.get("images") or []):
            return path.read_bytes(), ()  # a self-contained GLB: byte for byte
    buffers = _buffers(path, doc, binary)
    views: list[bytes] = []
    for i, view in enumerate(doc.get("bufferViews") or []):
        ext = (view.get("extensions") or {}).get(MESHOPT)
        if ext is not None:
            views.append(_meshopt_view(path, i, ext, buffers, int(view["byteLength"])))
        else:
            start = int(view.get("byteOffset", 0))
            views.append(buffers[view["buffer"]][start:start + int(view["byteLength"])])
    arrays: dict[int, np.ndarray] = {}
    for m, mesh in enumerate(doc.get("meshes") or []):
        for p, prim in enumerate(mesh.get("primitives") or []):
            if DRACO in (prim.get("extensions") or {}):
                _draco_primitive(path, f"meshes[{m}].primitives[{p}]", prim, doc, views,
                                 arrays)
    notes: list[str] = []
    _rewrite(doc, views, arrays, static, notes, surfaces_only=not pack)
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
    for index, data in sorted(arrays.items()):
        acc = doc["accessors"][index]
        data = np.ascontiguousarray(data.astype(_DTYPE[acc["componentType"]]))
        acc["bufferView"] = add(data.tobytes(), {})
        acc.pop("byteOffset", None)
        acc.pop("sparse", None)
        if acc["componentType"] == 5126 and len(data) and (
                "min" in acc or "POSITION" in _uses(doc, index)):
            acc["min"] = [float(v) for v in data.min(0)]
            acc["max"] = [float(v) for v in data.max(0)]
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
    return join_glb(doc, bytes(blob)), tuple(notes)


@functools.lru_cache(maxsize=8)
def _decoded(path: str, mtime_ns: int, size: int, static: bool):
    return _decode(Path(path), static)


def plain_glb(path: Path, *, static: bool = False) -> tuple[bytes | None, tuple[str, ...]]:
    """(GLB bytes, notes) of `path` rewritten for readers that know only plain glTF:
    Draco/meshopt decoded, quantized attributes as float, sparse accessors dense,
    triangle strips and fans as lists, points and lines skipped (each named in the
    notes); `static`: the default morph weights applied and the targets dropped (for
    inspect/prep/export, not for a renderer that plays morphs). (None, ()) when the file
    needs none of it. Raises AssetError naming the file and field."""
    path = Path(path)
    info = os.stat(path)
    try:
        return _decoded(str(path), info.st_mtime_ns, info.st_size, static)
    except AssetError:
        raise
    except MemoryError:
        raise AssetError(f"{path}: not enough memory to decode it") from None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise AssetError(f"{path}: corrupt glTF (while decoding it): {exc}") from None


def packed_glb(path: Path) -> bytes:
    """`path` as one self-contained GLB for passing an unchanged glTF asset through an
    export: a self-contained GLB byte for byte; otherwise external buffers and images
    embedded, and what :func:`plain_glb` (static=False) rewrites, rewritten."""
    path = Path(path)
    try:
        return _decode(path, False, pack=True)[0]
    except AssetError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise AssetError(f"{path}: corrupt glTF (while packing it): {exc!r}") from None


def decoded_glb(path: Path, *, static: bool = False) -> bytes | None:
    """The GLB bytes of :func:`plain_glb`, or None."""
    return plain_glb(path, static=static)[0]
