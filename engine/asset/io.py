"""Read an asset file safely: sniff what it is, check it, then load it with trimesh.

Every check runs on the file's headers and JSON *before* any mesh data is allocated:

* the format comes from the content (magic bytes), not the extension;
* glTF/GLB: URIs must stay inside the asset's folder (``../``, absolute paths and
  remote URLs are refused), every accessor must fit in its buffer view, every view in
  its buffer, every buffer in the bytes that really exist;
* PLY/STL/OBJ: declared element counts must fit in the file's size;
* more than :func:`engine.asset.model.max_triangles` triangles are refused.

Errors are :class:`AssetError` whose message names the file and the field
(``buffers[0].uri``, ``accessors[3].count``...).
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import trimesh

from engine.asset.model import Asset, AssetError, max_triangles
from engine.asset.topology import face_normals

__all__ = ["SUPPORTED", "check_file", "load_asset", "sniff_format"]

SUPPORTED = ("glb", "gltf", "obj", "ply", "stl")
_EXTENSIONS = {".glb": "glb", ".gltf": "gltf", ".obj": "obj", ".ply": "ply", ".stl": "stl"}
_COMPONENT_SIZE = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_TYPE_COUNT = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_OTHER_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PK\x03\x04": "a ZIP archive (a USDZ or other package)",
    b"%PDF": "a PDF document",
    b"Kaydara FBX": "an FBX file (export only; import GLB/glTF/OBJ/PLY/STL)",
    b"PXR-USDC": "a USD file (export only)",
}


# ----------------------------------------------------------------------------------
# Sniffing
# ----------------------------------------------------------------------------------


def sniff_format(path: Path) -> str:
    """What the file's content is: one of :data:`SUPPORTED`; raises AssetError."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except FileNotFoundError:
        raise AssetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AssetError(f"{path}: is a folder, not an asset file") from None
    except OSError as exc:
        raise AssetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise AssetError(f"{path}: the file is empty")
    if head.startswith(b"glTF"):
        return "glb"
    if head[:4] == b"ply\n" or head[:5] == b"ply\r\n":
        return "ply"
    for magic, what in _OTHER_MAGIC.items():
        if head.startswith(magic):
            raise AssetError(f"{path}: not a 3D asset this tool reads: it is {what}")
    if size >= 84:
        (count,) = struct.unpack("<I", head[80:84])
        if 84 + 50 * count == size:
            return "stl"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "gltf"
    if text.lower().startswith(b"solid"):
        return "stl"
    sample = head.decode("utf-8", errors="ignore")
    if "\x00" not in sample and re.search(r"^\s*(v|vt|vn|f|o|g|mtllib|usemtl)\s", sample, re.M):
        return "obj"
    suffix = path.suffix.lower()
    if suffix == ".stl" and size >= 84:
        (count,) = struct.unpack("<I", head[80:84])
        raise AssetError(
            f"{path}: truncated or corrupt binary STL: the header says {count} triangles "
            f"({84 + 50 * count} bytes) but the file has {size} bytes"
        )
    raise AssetError(
        f"{path}: not a recognised 3D file (expected GLB, glTF, OBJ, PLY or STL content; "
        f"it starts with {head[:8]!r})"
    )


# ----------------------------------------------------------------------------------
# glTF / GLB checks
# ----------------------------------------------------------------------------------


def _read_glb(path: Path, size: int) -> tuple[dict, int]:
    """Parse a GLB's header and JSON chunk. Returns (json, BIN chunk length)."""
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12:
            raise AssetError(f"{path}: truncated GLB: {size} bytes, the header alone is 12")
        magic, version, length = struct.unpack("<4sII", header)
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
        if json_type != 0x4E4F534A:
            raise AssetError(f"{path}: corrupt GLB: the first chunk is not JSON")
        if 20 + json_len > length:
            raise AssetError(
                f"{path}: corrupt GLB: JSON chunk of {json_len} bytes runs past the file's "
                f"{length} bytes"
            )
        raw = handle.read(json_len)
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AssetError(f"{path}: corrupt GLB: the JSON chunk does not parse: {exc}") from None
        bin_len = 0
        offset = 20 + json_len
        if offset + 8 <= length:
            chunk = handle.read(8)
            blen, btype = struct.unpack("<II", chunk)
            if btype == 0x004E4942:
                if offset + 8 + blen > length:
                    raise AssetError(
                        f"{path}: truncated GLB: the BIN chunk says {blen} bytes, only "
                        f"{length - offset - 8} are there"
                    )
                bin_len = blen
    if not isinstance(doc, dict):
        raise AssetError(f"{path}: corrupt glTF: the JSON is not an object")
    return doc, bin_len


def _safe_local(path: Path, uri: str, field: str) -> Path:
    """Resolve a relative glTF/OBJ URI inside the asset's folder, or refuse."""
    if not isinstance(uri, str) or not uri:
        raise AssetError(f"{path}: {field}: not a valid URI")
    parsed = urlparse(uri)
    if parsed.scheme and len(parsed.scheme) > 1:  # (a one-letter scheme is a drive: C:)
        raise AssetError(
            f"{path}: {field}: {uri!r} is a {parsed.scheme}: URI; only files next to the "
            f"asset are read (remote and absolute references are refused)"
        )
    name = unquote(uri)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", name) or "\x00" in name:
        raise AssetError(
            f"{path}: {field}: {uri!r} is an absolute path; only files inside the asset's "
            f"folder are read"
        )
    folder = path.resolve().parent
    target = (folder / name.replace("\\", "/")).resolve()
    try:
        target.relative_to(folder)
    except ValueError:
        raise AssetError(
            f"{path}: {field}: {uri!r} points outside the asset's folder; refused"
        ) from None
    return target


def _data_uri_length(uri: str) -> int:
    head, _, payload = uri.partition(",")
    if head.endswith(";base64"):
        payload = payload.strip()
        return len(payload) * 3 // 4 - payload[-2:].count("=")
    return len(unquote(payload))


def _int(value, path: Path, field: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise AssetError(f"{path}: {field}: {value!r} is not a valid count/length")
    return value


def check_gltf(path: Path, doc: dict, bin_len: int | None, limit: int) -> int:
    """Validate a glTF document against the bytes that exist. Returns the triangle count."""
    buffers = doc.get("buffers", []) or []
    views = doc.get("bufferViews", []) or []
    accessors = doc.get("accessors", []) or []
    if not all(isinstance(x, list) for x in (buffers, views, accessors)):
        raise AssetError(f"{path}: corrupt glTF: buffers/bufferViews/accessors must be lists")

    buffer_lengths = []
    for i, buf in enumerate(buffers):
        field = f"buffers[{i}]"
        if not isinstance(buf, dict):
            raise AssetError(f"{path}: {field}: not an object")
        declared = _int(buf.get("byteLength"), path, f"{field}.byteLength")
        uri = buf.get("uri")
        if uri is None:
            if bin_len is None or i != 0:
                raise AssetError(f"{path}: {field}: no uri and no GLB binary chunk")
            actual = bin_len
            where = "the GLB's binary chunk"
        elif isinstance(uri, str) and uri.startswith("data:"):
            actual = _data_uri_length(uri)
            where = "its data: URI"
        else:
            target = _safe_local(path, uri, f"{field}.uri")
            if not target.is_file():
                raise AssetError(f"{path}: {field}.uri: {uri!r} not found next to the asset")
            actual = target.stat().st_size
            where = f"{target.name}"
        if declared > actual:
            raise AssetError(
                f"{path}: {field}.byteLength: {declared} bytes declared but {where} holds "
                f"only {actual}; refused before allocating"
            )
        buffer_lengths.append(declared)

    view_lengths = []
    for i, view in enumerate(views):
        field = f"bufferViews[{i}]"
        if not isinstance(view, dict):
            raise AssetError(f"{path}: {field}: not an object")
        b = _int(view.get("buffer"), path, f"{field}.buffer")
        if b >= len(buffer_lengths):
            raise AssetError(f"{path}: {field}.buffer: {b} does not exist")
        off = _int(view.get("byteOffset", 0), path, f"{field}.byteOffset")
        length = _int(view.get("byteLength"), path, f"{field}.byteLength")
        if off + length > buffer_lengths[b]:
            raise AssetError(
                f"{path}: {field}.byteLength: bytes {off}..{off + length} run past "
                f"buffers[{b}] ({buffer_lengths[b]} bytes)"
            )
        view_lengths.append((length, view.get("byteStride")))

    vertex_cap = 3 * limit
    for i, acc in enumerate(accessors):
        field = f"accessors[{i}]"
        if not isinstance(acc, dict):
            raise AssetError(f"{path}: {field}: not an object")
        count = _int(acc.get("count"), path, f"{field}.count")
        ctype = acc.get("componentType")
        if ctype not in _COMPONENT_SIZE or acc.get("type") not in _TYPE_COUNT:
            raise AssetError(f"{path}: {field}: unknown componentType/type")
        sparse = acc.get("sparse")
        if isinstance(sparse, dict):
            scount = _int(sparse.get("count"), path, f"{field}.sparse.count")
            if scount > count:
                raise AssetError(f"{path}: {field}.sparse.count: {scount} is more than the "
                                 f"accessor's {count} elements")
        if count > vertex_cap:
            raise AssetError(
                f"{path}: {field}.count: {count} elements is over the limit of {vertex_cap} "
                f"(MAQUETTE_MAX_TRIANGLES={limit}); refused before allocating"
            )
        elem = _COMPONENT_SIZE[ctype] * _TYPE_COUNT[acc["type"]]
        if "bufferView" in acc:
            v = _int(acc["bufferView"], path, f"{field}.bufferView")
            if v >= len(view_lengths):
                raise AssetError(f"{path}: {field}.bufferView: {v} does not exist")
            length, stride = view_lengths[v]
            stride = stride if isinstance(stride, int) and stride > 0 else elem
            off = _int(acc.get("byteOffset", 0), path, f"{field}.byteOffset")
            need = off + (stride * (count - 1) + elem if count else 0)
            if need > length:
                raise AssetError(
                    f"{path}: {field}.count: {count} elements need {need} bytes but "
                    f"bufferViews[{v}] has {length}; refused before allocating"
                )

    for i, image in enumerate(doc.get("images", []) or []):
        uri = image.get("uri") if isinstance(image, dict) else None
        if isinstance(uri, str) and not uri.startswith("data:"):
            target = _safe_local(path, uri, f"images[{i}].uri")
            if not target.is_file():
                raise AssetError(f"{path}: images[{i}].uri: {uri!r} not found next to the asset")

    # Triangles, counting each mesh once per node that instances it.
    uses: dict[int, int] = {}
    for node in doc.get("nodes", []) or []:
        if isinstance(node, dict) and isinstance(node.get("mesh"), int):
            uses[node["mesh"]] = uses.get(node["mesh"], 0) + 1
    triangles = 0
    for m, mesh in enumerate(doc.get("meshes", []) or []):
        for prim in (mesh or {}).get("primitives", []) or []:
            if not isinstance(prim, dict) or prim.get("mode", 4) not in (4, 5, 6):
                continue
            idx = prim.get("indices")
            pos = (prim.get("attributes") or {}).get("POSITION")
            ref = idx if isinstance(idx, int) else pos
            if isinstance(ref, int) and 0 <= ref < len(accessors):
                count = accessors[ref].get("count", 0)
                tris = count // 3 if prim.get("mode", 4) == 4 else max(count - 2, 0)
                triangles += tris * max(uses.get(m, 1), 1)
    if triangles > limit:
        raise AssetError(
            f"{path}: {triangles:,} triangles is over the limit of {limit:,}; decimate it "
            f"elsewhere first or raise MAQUETTE_MAX_TRIANGLES"
        )
    return triangles


# ----------------------------------------------------------------------------------
# PLY / STL / OBJ checks
# ----------------------------------------------------------------------------------

_PLY_SIZES = {"char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2,
              "int16": 2, "uint16": 2, "int": 4, "uint": 4, "int32": 4, "uint32": 4,
              "float": 4, "float32": 4, "double": 8, "float64": 8}


def check_ply(path: Path, size: int, limit: int) -> int:
    with open(path, "rb") as handle:
        head = handle.read(65536)
    end = head.find(b"end_header")
    if end < 0:
        raise AssetError(f"{path}: corrupt PLY: no end_header in the first 64 KiB")
    header_end = head.find(b"\n", end) + 1
    lines = head[:end].decode("ascii", errors="replace").splitlines()
    fmt = "ascii"
    elements: list[list] = []  # [name, count, min bytes per element]
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == "format" and len(words) > 1:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3:
            try:
                count = int(words[2])
            except ValueError:
                raise AssetError(f"{path}: corrupt PLY header: {line!r}") from None
            if count < 0:
                raise AssetError(f"{path}: corrupt PLY header: {line!r}")
            elements.append([words[1], count, 0])
        elif words[0] == "property" and elements:
            if words[1] == "list" and len(words) >= 5:
                # at least the list length and three indices
                elements[-1][2] += _PLY_SIZES.get(words[2], 1) + 3 * _PLY_SIZES.get(words[3], 1)
            else:
                elements[-1][2] += _PLY_SIZES.get(words[1], 1)
    faces = sum(c for name, c, _ in elements if name == "face")
    vertices = sum(c for name, c, _ in elements if name == "vertex")
    if faces > limit or vertices > 3 * limit:
        raise AssetError(
            f"{path}: header declares {vertices:,} vertices and {faces:,} faces, over the "
            f"limit of {limit:,} triangles (MAQUETTE_MAX_TRIANGLES); refused"
        )
    body = size - header_end
    if fmt.startswith("binary"):
        need = sum(c * b for _, c, b in elements)
    else:
        need = sum(c * max(b and 2, 2) for _, c, b in elements)  # at least "x\n" per element
    if need > body:
        names = ", ".join(f"element {n} {c}" for n, c, _ in elements)
        raise AssetError(
            f"{path}: truncated or corrupt PLY: the header declares {names} (at least "
            f"{need:,} bytes) but only {body:,} bytes follow it; refused before allocating"
        )
    return faces


def check_stl(path: Path, size: int, limit: int) -> int:
    with open(path, "rb") as handle:
        head = handle.read(84)
    if size >= 84:
        (count,) = struct.unpack("<I", head[80:84])
        if 84 + 50 * count == size:
            if count > limit:
                raise AssetError(
                    f"{path}: binary STL with {count:,} triangles, over the limit of "
                    f"{limit:,} (MAQUETTE_MAX_TRIANGLES); refused before reading"
                )
            if count == 0:
                raise AssetError(f"{path}: the STL holds no triangles")
            return count
    # ASCII: count facets in chunks
    count = _count_token(path, b"endfacet", b"", limit,
                         f"ASCII STL with more than {limit:,} triangles")
    if count == 0:
        raise AssetError(f"{path}: corrupt STL: no facets found")
    return count


def _count_token(path: Path, token: bytes, start: bytes, limit: int, what: str) -> int:
    """Count `token` in the file in 4 MiB chunks (overlapping by len(token) - 1 bytes,
    `start` prepended to the first), refusing as soon as the count passes `limit`."""
    count = 0
    keep = len(token) - 1
    with open(path, "rb") as handle:
        tail = start
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            data = tail + chunk
            count += data.count(token)
            tail = data[-keep:] if keep else b""
            if count > limit:
                raise AssetError(f"{path}: {what} (MAQUETTE_MAX_TRIANGLES); refused")
    return count


def check_obj(path: Path, size: int, limit: int) -> int:
    faces = _count_token(path, b"\nf ", b"\n", limit, f"OBJ with more than {limit:,} faces")
    with open(path, "rb") as handle:
        text = handle.read(min(size, 1 << 26)).decode("utf-8", errors="replace")
    for n, match in enumerate(re.finditer(r"^\s*mtllib\s+(.+?)\s*$", text, re.M)):
        mtl = _safe_local(path, match.group(1), f"mtllib #{n + 1} ({match.group(1)!r})")
        if mtl.is_file():
            mtext = mtl.read_text(errors="replace")
            for m in re.finditer(r"^\s*(map_\w+|bump|disp|decal|refl)\s+(.+?)\s*$", mtext, re.M):
                ref = m.group(2)
                words = ref.split()
                # texture options (-s 1 1 1 ...) come before the file name
                candidate = ref if not ref.startswith("-") else words[-1]
                _safe_local(mtl, candidate, f"{m.group(1)} ({candidate!r}) in {mtl.name}")
    return faces


def check_file(path: Path, fmt: str | None = None, limit: int | None = None) -> int:
    """Run the pre-allocation checks for `path`. Returns the (approximate) triangle count."""
    path = Path(path)
    fmt = fmt or sniff_format(path)
    limit = max_triangles() if limit is None else limit
    size = path.stat().st_size
    if fmt == "glb":
        doc, bin_len = _read_glb(path, size)
        return check_gltf(path, doc, bin_len, limit)
    if fmt == "gltf":
        try:
            doc = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AssetError(f"{path}: corrupt glTF: the JSON does not parse: {exc}") from None
        if not isinstance(doc, dict):
            raise AssetError(f"{path}: corrupt glTF: the JSON is not an object")
        return check_gltf(path, doc, None, limit)
    if fmt == "ply":
        return check_ply(path, size, limit)
    if fmt == "stl":
        return check_stl(path, size, limit)
    if fmt == "obj":
        return check_obj(path, size, limit)
    raise AssetError(f"{path}: unsupported format {fmt!r}")


# ----------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------


def _concatenate(loaded) -> tuple[trimesh.Trimesh, int]:
    """One mesh in file coordinates (node transforms applied). A single mesh whose
    node has no transform is returned as it is, without a copy."""
    if isinstance(loaded, trimesh.Trimesh):
        return loaded, 1
    if not isinstance(loaded, trimesh.Scene):
        return None, 0
    meshes = []
    for node in loaded.graph.nodes_geometry:
        transform, name = loaded.graph[node]
        geometry = loaded.geometry.get(name)
        if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
            continue
        meshes.append((np.asarray(transform, dtype=np.float64), geometry))
    if not meshes:
        return None, 0
    if len(meshes) == 1 and np.allclose(meshes[0][0], np.eye(4)):
        return meshes[0][1], 1
    moved = []
    for transform, geometry in meshes:
        copy = geometry.copy()
        copy.apply_transform(transform)
        moved.append(copy)
    if len(moved) == 1:
        return moved[0], 1
    return trimesh.util.concatenate(moved), len(moved)


def triangle_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(n,) float areas, computed without trimesh's caches (fast for millions)."""
    normal = face_normals(vertices, faces)
    return 0.5 * np.sqrt(np.einsum("ij,ij->i", normal, normal))


def load_asset(path: str | os.PathLike, *, limit: int | None = None) -> Asset:
    """Check, then load `path` into an :class:`Asset`. Raises AssetError."""
    path = Path(path)
    fmt = sniff_format(path)
    warnings = []
    expected = _EXTENSIONS.get(path.suffix.lower())
    if expected is None:
        warnings.append(f"the extension {path.suffix!r} is not a 3D format; read as "
                        f"{fmt.upper()} from its content")
    elif expected != fmt and {expected, fmt} != {"glb", "gltf"}:
        warnings.append(f"the file is named {path.suffix} but holds {fmt.upper()} data; read "
                        f"as {fmt.upper()}")
    limit = max_triangles() if limit is None else limit
    check_file(path, fmt, limit)
    file_type = fmt
    try:
        with open(path, "rb") as handle:
            loaded = trimesh.load(
                handle, file_type=file_type, force="scene",
                resolver=trimesh.resolvers.FilePathResolver(str(path.resolve())),
                process=False,
            )
    except AssetError:
        raise
    except MemoryError:
        raise AssetError(f"{path}: not enough memory to load it") from None
    except Exception as exc:  # trimesh raises many kinds for corrupt files
        raise AssetError(f"{path}: corrupt {fmt.upper()} file: {exc}") from None
    mesh, parts = _concatenate(loaded)
    if mesh is None or len(mesh.faces) == 0:
        raise AssetError(f"{path}: the file contains no triangles")
    if len(mesh.faces) > limit:
        raise AssetError(f"{path}: {len(mesh.faces):,} triangles is over the limit of "
                         f"{limit:,} (MAQUETTE_MAX_TRIANGLES)")
    vertices = np.asarray(mesh.vertices)
    if not np.all(np.isfinite(vertices)):
        raise AssetError(f"{path}: vertex positions contain NaN or infinity")
    faces = np.asarray(mesh.faces)
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise AssetError(f"{path}: face indices point past the {len(vertices)} vertices")
    extent = float(np.linalg.norm(vertices.max(axis=0) - vertices.min(axis=0)))
    # zero area? a sample of faces answers for almost every mesh; all faces otherwise
    step = max(1, len(faces) // 20000)
    area = float(triangle_areas(vertices, faces[::step]).sum())
    if step > 1 and not area > (extent * 1e-9) ** 2:
        area = float(triangle_areas(vertices, faces).sum())
    if not np.isfinite(area) or area <= (extent * 1e-9) ** 2 or extent == 0.0:
        raise AssetError(
            f"{path}: the mesh has zero surface area (all {len(faces)} triangles are "
            f"degenerate); nothing to inspect or render"
        )
    return Asset(mesh=mesh, source=path, format=fmt, warnings=warnings, parts=parts)

