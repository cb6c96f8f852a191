"""Write an asset in the format the next tool wants, atomically, and read it back.

Formats: GLB and glTF (PBR material, texture embedded in the GLB or in the .bin next
to the .gltf, optional baked rigid animation), OBJ + MTL + texture, FBX (binary 7.4,
our own writer), USDZ (usd-core), binary STL (metres or millimetres) and PLY.

Every file is written under a temporary name in the target folder and moved into
place only when all of an export's files are complete; an export never writes over
the asset it was read from.  :func:`verify_export` reads a written file back with an
independent reader (trimesh for glTF/OBJ/STL/PLY, ufbx for FBX, usd-core for USDZ)
and compares triangle count, bounds and texture presence.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from engine.asset.model import AssetError, texture_image
from engine.asset.topology import face_normals, smooth_vertex_normals
from engine.fileio import Transaction, write_files_atomic

__all__ = ["EXPORT_FORMATS", "ExportResult", "bake_animation", "export_mesh",
           "expected_figures", "verify_export"]

EXPORT_FORMATS = ("glb", "gltf", "obj", "fbx", "usdz", "stl", "ply")


@dataclass
class ExportResult:
    path: Path
    format: str
    files: list[Path] = field(default_factory=list)


# ----------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------


def _png_bytes(image) -> bytes:
    buf = io.BytesIO()
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB"
    image.convert(mode).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _base_color(mesh: trimesh.Trimesh) -> tuple[float, float, float]:
    material = getattr(mesh.visual, "material", None)
    if material is not None:
        factor = getattr(material, "baseColorFactor", None)
        if factor is None:
            factor = getattr(material, "diffuse", None)
        if factor is not None:
            f = np.asarray(factor, dtype=float)[:3]
            return tuple(f / 255.0 if f.max() > 1.0 else f)
    if getattr(mesh.visual, "kind", None) in ("vertex", "face"):
        colors = np.asarray(mesh.visual.vertex_colors, dtype=float)[:, :3].mean(axis=0)
        return tuple(colors / 255.0)
    return (0.8, 0.8, 0.8)


def mesh_normals(mesh: trimesh.Trimesh) -> np.ndarray:
    """(n, 3) vertex normals: the mesh's own if it carries them, else computed (fast,
    smooth across UV seams, hard edges kept)."""
    cached = mesh._cache.cache.get("vertex_normals")
    if cached is not None and len(cached) == len(mesh.vertices):
        return np.asarray(cached, dtype=np.float64)
    normals = smooth_vertex_normals(np.asarray(mesh.vertices, dtype=np.float64),
                                    np.asarray(mesh.faces, dtype=np.int64))
    mesh._cache["vertex_normals"] = normals
    return normals


def _uv(mesh: trimesh.Trimesh) -> np.ndarray | None:
    uv = getattr(mesh.visual, "uv", None)
    if uv is None or len(uv) != len(mesh.vertices):
        return None
    return np.asarray(uv, dtype=np.float64)


# ----------------------------------------------------------------------------------
# glTF animation
# ----------------------------------------------------------------------------------


def _split_glb(data: bytes) -> tuple[dict, bytes]:
    _, _, length = struct.unpack("<4sII", data[:12])
    json_len, _ = struct.unpack("<II", data[12:20])
    doc = json.loads(data[20:20 + json_len])
    offset = 20 + json_len
    binary = b""
    if offset + 8 <= length:
        bin_len, _ = struct.unpack("<II", data[offset:offset + 8])
        binary = data[offset + 8:offset + 8 + bin_len]
    return doc, binary


def _join_glb(doc: dict, binary: bytes) -> bytes:
    raw = json.dumps(doc, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 4)
    binary = binary + b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(raw) + (8 + len(binary) if binary else 0)
    out = struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(raw), 0x4E4F534A)
    out += raw
    if binary:
        out += struct.pack("<II", len(binary), 0x004E4942) + binary
    return out


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
    doc, binary = _split_glb(glb)
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
    return _join_glb(doc, bytes(binary))


# ----------------------------------------------------------------------------------
# Writers
# ----------------------------------------------------------------------------------


# mesh.metadata flag (set on display copies): also write a TANGENT attribute. Without
# one, panda3d-gltf computes tangents itself in a Python loop (~0.7 s per 100k
# triangles), which is most of the contact sheet's load.
GLTF_TANGENTS = "maquette_gltf_tangents"


def _glb(mesh: trimesh.Trimesh) -> bytes:
    data = trimesh.Scene(mesh).export(file_type="glb")
    if mesh.metadata.get(GLTF_TANGENTS):
        data = _with_tangents(data, mesh)
    return data


def _with_tangents(glb: bytes, mesh: trimesh.Trimesh) -> bytes:
    """The GLB with a TANGENT accessor added to its one primitive (left as it is when
    there is not exactly one primitive with UVs and normals, or its vertices are not
    the mesh's)."""
    from engine.asset.topology import vertex_tangents

    uv = _uv(mesh)
    doc, binary = _split_glb(glb)
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
    return _join_glb(doc, bytes(binary))


def _gltf_files(mesh: trimesh.Trimesh, out: Path, animation) -> dict[Path, bytes]:
    glb = _glb(mesh)
    if animation is not None:
        glb = bake_animation(glb, *animation)
    doc, binary = _split_glb(glb)
    bin_name = out.stem + ".bin"
    doc["buffers"] = [{"uri": bin_name, "byteLength": len(binary)}]
    text = json.dumps(doc, indent=1).encode()
    return {out.with_name(bin_name): binary, out: text}


_LUT3 = np.array([list(f"{i:03d}".encode()) for i in range(1000)], dtype=np.uint8)
_LUT3_VOID = _LUT3.copy().view("V3").ravel()  # "000".."999" as 3-byte items: one gather


def _digits(values: np.ndarray, width: int, strip: bool = True) -> np.ndarray:
    """(n,) non-negative ints -> (n, width) uint8 ASCII digits (three at a time from a
    lookup table), right-aligned with NUL bytes in front (or zero-padded: strip=False)."""
    chunks = -(-width // 3)
    n = len(values)
    out = np.empty((n, chunks), dtype="V3")
    small = n == 0 or int(values.max()) < 2**31
    rest = values.astype(np.int32 if small else np.int64)  # int32 divides faster
    for c in range(chunks - 1, -1, -1):
        rest, low = np.divmod(rest, 1000)
        out[:, c] = _LUT3_VOID[low]
    out = out.view(np.uint8).reshape(n, chunks * 3)[:, chunks * 3 - width:]
    if not strip:  # (a fraction's leading zeros are digits)
        return out
    # leading zeros become NUL bytes, removed from the finished text: some readers
    # (assimp) misread zero-padded OBJ indices
    lead = np.full(n, width - 1, dtype=np.int8)  # leading zeros of each number
    for k in range(1, width):
        lead -= values >= 10**k
    out *= np.arange(width, dtype=np.int8) >= lead[:, None]
    return out


def _line_array(tag: bytes, n: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """An (n, len(tag) + width + 1) uint8 array of lines "tag....\\n" and a view of the
    (n, width) middle to fill in place (no hstack/concatenate copies)."""
    t = len(tag)
    lines = np.empty((n, t + width + 1), dtype=np.uint8)
    lines[:, :t] = np.frombuffer(tag, dtype=np.uint8)
    lines[:, -1] = 10
    return lines, lines[:, t:t + width]


def _fixed_lines(tag: bytes, x: np.ndarray, decimals: int) -> np.ndarray:
    """(n, m) floats -> n lines "tag -12.345678 ..." of ASCII fields (NUL-padded to one
    width; the NULs are removed from the finished text)."""
    x = np.asarray(x, dtype=np.float64)
    scale = 10**decimals
    q = np.rint(np.abs(x) * scale).astype(np.int64)
    whole, frac = np.divmod(q, scale)
    iw = max(1, len(str(int(whole.max())))) if q.size else 1
    n, m = x.shape
    w = 3 + iw + decimals
    lines, body = _line_array(tag, n, m * w)
    out = body.reshape(n, m, w)  # (a view: the lines are filled in place)
    out[..., 0] = 32
    out[..., 1] = np.where((x < 0) & (q > 0), 45, 32)  # "-" or a space
    out[..., 2:2 + iw] = _digits(whole.ravel(), iw).reshape(n, m, iw)
    out[..., 2 + iw] = 46
    out[..., 3 + iw:] = _digits(frac.ravel(), decimals, strip=False).reshape(n, m, decimals)
    return _strip_nul(lines)


def _strip_nul(lines: np.ndarray) -> np.ndarray:
    """The text without its NUL padding, as a flat uint8 array (a boolean compress:
    faster than tobytes() + bytes.replace, and no second full-size copy)."""
    return lines[lines != 0]


def _obj_text(vertices, faces, uv, normals, mtl_name: str | None) -> bytes:
    """OBJ text: positions, UVs, normals, triangles (indices shared: v/vt/vn equal)."""
    return b"".join(bytes(chunk) for chunk in _obj_chunks(vertices, faces, uv, normals,
                                                           mtl_name))


_OBJ_BLOCK = 1 << 16  # rows formatted at a time: small buffers, reused by the allocator


def _obj_chunks(vertices, faces, uv, normals, mtl_name: str | None):
    """The OBJ text in pieces (bytes, or flat uint8 arrays) to write one after another,
    made block by block (_OBJ_BLOCK rows: no full-size buffers, whose fresh pages
    cost more than the formatting in a new process).

    Written with numpy as fixed-width fields (fixed-point floats: positions with 7
    decimals, UVs 6, normals 5) whose padding is then dropped, about 3x faster
    than formatting strings in Python at a million triangles."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    n, f = len(vertices), len(faces)
    yield b"# Maquette\n"
    if mtl_name:
        yield f"mtllib {mtl_name}\nusemtl material0\n".encode()
    blocks = [(b"v", vertices, 7)]
    if uv is not None:
        blocks.append((b"vt", np.asarray(uv, dtype=np.float64), 6))
    blocks.append((b"vn", np.asarray(normals, dtype=np.float64), 5))
    for tag, values, decimals in blocks:
        for start in range(0, n, _OBJ_BLOCK):
            yield _fixed_lines(tag, values[start:start + _OBJ_BLOCK], decimals)
    width = len(str(max(n, 1)))
    # each corner " i/i/i" (or " i//i" without UVs), written into the lines in place
    slots = [0, 1] if uv is None else [0, 1, 2]
    corner = 1 + len(slots) * width + (len(slots) - 1) + (uv is None)
    for start in range(0, f, _OBJ_BLOCK):
        block = faces[start:start + _OBJ_BLOCK]
        m = len(block)
        d = _digits((block + 1).ravel(), width).reshape(m, 3, width)
        lines, body = _line_array(b"f", m, 3 * corner)
        out = body.reshape(m, 3, corner)
        out[..., 0] = 32
        at = 1
        for k in slots:
            if k:
                out[..., at] = 47
                at += 1
                if uv is None:  # "//": no UV index
                    out[..., at] = 47
                    at += 1
            out[..., at:at + width] = d
            at += width
        yield _strip_nul(lines)


def _obj_files(mesh: trimesh.Trimesh, out: Path) -> dict[Path, bytes]:
    image = texture_image(mesh)
    uv = _uv(mesh)
    mtl_name = out.stem + ".mtl"
    files: dict[Path, bytes] = {}
    r, g, b = _base_color(mesh)
    mtl = [f"# Maquette\nnewmtl material0\nKa 0 0 0\nKd {r:.6g} {g:.6g} {b:.6g}\n"
           "Ks 0.04 0.04 0.04\nNs 50\nd 1\nillum 2\n"]
    if image is not None and uv is not None:
        texture_name = f"{out.stem}_basecolor.png"
        files[out.with_name(texture_name)] = _png_bytes(image)
        mtl.append(f"map_Kd {texture_name}\n")
    files[out.with_name(mtl_name)] = "".join(mtl).encode("ascii")
    chunks = _obj_chunks(mesh.vertices, mesh.faces, uv, mesh_normals(mesh), mtl_name)

    def write(handle, _chunks=chunks):
        for chunk in _chunks:
            handle.write(chunk)  # (arrays through the buffer protocol: no copy)

    files[out] = write
    return files


_STL_RECORD = np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])


def _stl_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """Binary STL: 80-byte header, count, then (normal, 3 corners, 0) per triangle."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    normal = face_normals(vertices, faces)
    length = np.sqrt(np.einsum("ij,ij->i", normal, normal))[:, None]
    normal = np.divide(normal, length, out=np.zeros_like(normal), where=length > 0)
    record = np.empty(len(faces), dtype=_STL_RECORD)
    record["n"] = normal
    record["v"] = np.take(vertices.astype(np.float32), faces, axis=0)  # (float32: half the bytes)
    record["a"] = 0
    header = b"Maquette binary STL".ljust(80, b" ")
    return header + struct.pack("<I", len(record)) + record.tobytes()


def export_mesh(mesh: trimesh.Trimesh, out: str | os.PathLike, *, fmt: str | None = None,
                units: str = "m", animation: tuple[np.ndarray, np.ndarray] | None = None,
                protect: list[Path] = (), txn: Transaction | None = None) -> ExportResult:
    """Write `mesh` to `out` in `fmt` (default: from the suffix).

    units: "m" or "mm" (STL only: printers expect millimetres).  animation: (times (k,),
    matrices (k, 4, 4)) baked into GLB/glTF.  protect: paths never to write over.
    txn: stage the files into this engine.fileio.Transaction (the caller verifies the
    staged files, then commits); without it they are moved into place at once."""
    out = Path(out)
    fmt = (fmt or out.suffix.lower().lstrip(".")).lower()
    if fmt not in EXPORT_FORMATS:
        raise AssetError(f"{out}: unknown export format {fmt!r}; expected one of "
                         f"{', '.join(EXPORT_FORMATS)}")
    if units not in ("m", "mm"):
        raise AssetError(f"units must be 'm' or 'mm', not {units!r}")
    if units == "mm" and fmt != "stl":
        raise AssetError("--units mm is for STL (3D printing); other formats are in metres")
    if animation is not None and fmt not in ("glb", "gltf"):
        raise AssetError("--animation bakes motion into glTF channels: export .glb or .gltf")
    image = texture_image(mesh)
    uv = _uv(mesh)
    if fmt == "glb":
        data = _glb(mesh)
        if animation is not None:
            data = bake_animation(data, *animation)
        files = {out: data}
    elif fmt == "gltf":
        files = _gltf_files(mesh, out, animation)
    elif fmt == "obj":
        files = _obj_files(mesh, out)
    elif fmt == "stl":
        vertices = np.asarray(mesh.vertices, dtype=np.float64)
        if units == "mm":  # (not mesh.copy(): that also copies and decodes the texture)
            vertices = vertices * 1000.0
        files = {out: _stl_bytes(vertices, mesh.faces)}
    elif fmt == "ply":
        files = {out: trimesh.exchange.ply.export_ply(mesh, encoding="binary",
                                                      include_attributes=False)}
    elif fmt == "fbx":
        from engine.asset.fbx import fbx_bytes

        png = _png_bytes(image) if image is not None and uv is not None else None
        texture_name = f"{out.stem}_basecolor.png"
        files = {out: fbx_bytes(mesh.vertices, mesh.faces, mesh_normals(mesh), uv, png,
                                name=out.stem or "asset", base_color=_base_color(mesh),
                                texture_name=texture_name)}
        if png is not None:
            # embedded in the FBX and also referenced next to it (RelativeFilename),
            # for importers that ignore embedded media
            files = {out.with_name(texture_name): png, **files}
    else:  # usdz
        from engine.asset.usdz import write_usdz

        png = _png_bytes(image) if image is not None and uv is not None else None

        def writer(handle, _png=png):
            with tempfile.TemporaryDirectory(prefix="maquette-") as tmp:
                target = Path(tmp) / "asset.usdz"
                write_usdz(target, mesh.vertices, mesh.faces, mesh_normals(mesh), uv, _png,
                           base_color=_base_color(mesh))
                handle.write(target.read_bytes())

        files = {out: writer}
    written = write_files_atomic(files, list(protect), txn)
    return ExportResult(path=out, format=fmt, files=written)


# ----------------------------------------------------------------------------------
# Read-back verification
# ----------------------------------------------------------------------------------


def expected_figures(mesh: trimesh.Trimesh, fmt: str, units: str = "m",
                     first_matrix: np.ndarray | None = None) -> dict:
    """What a faithful export of `mesh` reads back as."""
    bounds = np.asarray(mesh.bounds, dtype=float)
    if first_matrix is not None:
        corners = trimesh.bounds.corners(bounds)
        moved = trimesh.transform_points(corners, first_matrix)
        bounds = np.array([moved.min(axis=0), moved.max(axis=0)])
    if units == "mm":
        bounds = bounds * 1000.0
    textured = texture_image(mesh) is not None and _uv(mesh) is not None
    keeps_texture = fmt in ("glb", "gltf", "obj", "fbx", "usdz")
    return {"triangles": int(len(mesh.faces)), "bounds": bounds,
            "textured": bool(textured and keeps_texture)}


def read_back(path: Path, fmt: str | None = None) -> dict:
    """Figures of an exported file, read with a reader that is not our writer."""
    path = Path(path)
    fmt = (fmt or path.suffix.lower().lstrip(".")).lower()
    if fmt == "fbx":
        return read_fbx(path)
    if fmt == "usdz":
        from engine.asset.usdz import read_usdz

        figures = read_usdz(path)
        figures["reader"] = "usd-core"
        return figures
    if fmt == "obj" and path.stat().st_size > OBJ_SCAN_BYTES:
        return scan_obj(path)
    if fmt == "stl":
        figures = scan_stl(path)
        if figures is not None:
            return figures
    from engine.asset.io import load_asset

    asset = load_asset(path)
    return {"triangles": asset.triangles, "bounds": asset.bounds,
            "textured": bool(asset.texture is not None and asset.has_uv),
            "reader": "trimesh"}


def scan_stl(path: Path) -> dict | None:
    """Figures of a binary STL read with numpy (the 50-byte records viewed in place:
    count from the header, checked against the file size, bounds of every corner), or
    None for an ASCII STL. The file passes the loader's checks first (size limit)."""
    from engine.asset.io import check_file, sniff_format

    path = Path(path)
    if sniff_format(path) != "stl":
        raise AssetError(f"{path}: not an STL file")
    count = check_file(path, "stl")
    data = path.read_bytes()
    if len(data) != 84 + 50 * count or struct.unpack("<I", data[80:84])[0] != count:
        return None  # ASCII: the general loader reads it
    corners = np.frombuffer(data, dtype=_STL_RECORD, count=count, offset=84)["v"]
    lo, hi = corners.min(axis=(0, 1)), corners.max(axis=(0, 1))
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise AssetError(f"{path}: vertex positions contain NaN or infinity")
    return {"triangles": int(count), "bounds": np.array([lo, hi], dtype=np.float64),
            "textured": False, "reader": "numpy STL"}


OBJ_SCAN_BYTES = 16 << 20  # trimesh parses OBJ line by line in Python: ~20 s for 1M faces


def _first_line(data: bytes, tag: bytes) -> int | None:
    """Offset of the first line that starts with `tag`, or None."""
    if data.startswith(tag):
        return 0
    at = data.find(b"\n" + tag)
    return None if at < 0 else at + 1


def _obj_block(data: bytes, tag: bytes) -> tuple[int, int, int] | None:
    """(start, end, lines) of the lines starting with `tag` (e.g. b"v ") when they form
    one contiguous run, as writers emit them; (0, 0, 0) if there are none, None if
    other lines are mixed in.  Counted in place (bytes.count/find with bounds)."""
    head = b"\n" + tag
    start = _first_line(data, tag)
    if start is None:
        return 0, 0, 0
    last = data.rfind(head) + 1 or start
    end = data.find(b"\n", last)
    end = len(data) if end < 0 else end
    lines = data.count(b"\n", start, end) + 1
    if data.count(head, start, end) + 1 != lines:
        return None
    return start, end, lines


def _scan_obj_fast(data: bytes) -> tuple[int, np.ndarray] | None:
    """(triangles, (n, 3) positions) from contiguous `v` and `f` blocks with bytes
    counts and one split, or None when the file is laid out otherwise."""
    if data.find(b"\r") >= 0 or data.find(b"\t") >= 0:
        return None
    v = _obj_block(data, b"v ")
    f = _obj_block(data, b"f ")
    if v is None or f is None or not v[2]:
        return None
    (v0, v1, vlines), (f0, f1, flines) = v, f
    raw = np.frombuffer(data, dtype=np.uint8, count=f1 - f0, offset=f0)
    spaces = np.flatnonzero(raw == 32)
    after = raw[np.minimum(spaces + 1, len(raw) - 1)]
    if not np.all(((after >= 48) & (after <= 57)) | (after == 45)):
        return None  # a space not followed by an index: not one space per corner
    # every face line: "f" + one space per corner; triangles = corners - 2 per line
    triangles = len(spaces) - 2 * flines if flines else 0
    del raw, spaces, after
    tokens = data[v0:v1].split()
    width = len(tokens) // vlines
    if width * vlines != len(tokens) or width not in (4, 5, 7, 8):  # v x y z [w | r g b [a]]
        return None
    del tokens[::width]  # the "v" tags (checked below: a stray tag fails float parsing)
    points = np.array(tokens, dtype=np.float64).reshape(vlines, width - 1)[:, :3]
    return triangles, points


def scan_obj(path: Path) -> dict:
    """Figures of a large OBJ by a numpy scan (counts, bounds, UVs, the texture named by
    its MTL), used instead of trimesh's slow line-by-line parser above OBJ_SCAN_BYTES.

    Fast path (what writers emit, ours included): the `v` lines and the `f` lines each
    form one contiguous block; corners are counted with bytes.count and positions
    parsed in one split.  Anything else goes through a line-by-line numpy scan."""
    import re

    from engine.asset.io import _safe_local

    path = Path(path)
    data = path.read_bytes()
    fast = _scan_obj_fast(data)
    if fast is not None:
        triangles, points = fast
    else:
        triangles, points = _scan_obj_lines(data)
    uv = data.startswith(b"vt ") or data.find(b"\nvt ") >= 0
    textured = False
    for name in _line_values(data, b"mtllib "):
        mtl = _safe_local(path, name.decode().strip(), "mtllib")
        if mtl.is_file():
            for tex in re.finditer(r"^map_Kd (.+)$", mtl.read_text(), re.M):
                textured |= _safe_local(mtl, tex.group(1).strip(), "map_Kd").is_file()
    if not len(points):
        raise AssetError(f"{path}: no vertex positions")
    return {"triangles": triangles, "bounds": np.array([points.min(axis=0),
                                                        points.max(axis=0)]),
            "textured": bool(textured and uv), "reader": "numpy OBJ scan"}


def _line_values(data: bytes, tag: bytes) -> list[bytes]:
    """The rest of every line that starts with `tag` (bytes.find: a regex with re.M
    takes ~0.6 s to walk 100 MB)."""
    head = b"\n" + tag
    at = _first_line(data, tag)
    values: list[bytes] = []
    if at is None:
        return values
    while True:
        end = data.find(b"\n", at)
        end = len(data) if end < 0 else end
        values.append(data[at + len(tag):end])
        at = data.find(head, end) + 1  # data[end] is the newline: the next line counts
        if at == 0:
            return values


def _scan_obj_lines(data: bytes) -> tuple[int, np.ndarray]:
    """(triangles, (n, 3) positions), line by line in numpy (any line order)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    if len(ends) == 0 or ends[-1] != len(raw) - 1:
        ends = np.r_[ends, len(raw)]
    starts = np.r_[0, ends[:-1] + 1]
    first = raw[np.minimum(starts, len(raw) - 1)]
    second = raw[np.minimum(starts + 1, len(raw) - 1)]
    is_face = (first == ord("f")) & (second == 32)
    # tokens after "f" = spaces on the line (single-spaced, as written by us and most tools)
    line_of_space = np.searchsorted(ends, np.flatnonzero(raw == 32))
    corners = np.bincount(line_of_space, minlength=len(ends))[is_face]
    triangles = int(np.sum(np.maximum(corners - 2, 0)))
    is_vertex = (first == ord("v")) & (second == 32)
    blob = b" ".join(data[a + 2:b] for a, b in zip(starts[is_vertex], ends[is_vertex],
                                                   strict=True))
    points = np.array(blob.split(), dtype=np.float64)
    points = points.reshape(-1, 3) if points.size % 3 == 0 else points[: points.size // 4 * 4] \
        .reshape(-1, 4)[:, :3]
    return triangles, points


_FBX_CHILD = r"""
import base64, gc, json, os, sys
gc.disable()  # ufbx's objects crash the cycle collector: never run it here
import numpy as np
import ufbx
out = {}
with ufbx.load_file(sys.argv[1]) as scene:
    tri, lo, hi, uv, normals = 0, [float("inf")] * 3, [float("-inf")] * 3, False, False
    for mesh in scene.meshes:
        tri += int(mesh.num_triangles)
        # the positions' buffer, copied while the scene is open (a Python loop over the
        # Vec3 objects took ~0.5 s per million)
        pts = np.array(mesh.vertex_position.values, dtype=float).reshape(-1, 3)
        if len(pts):
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
           "materials": len(scene.materials), "diffuse_textures": textures,
           "unit_meters": float(scene.settings.unit_meters),
           "warnings": [str(w.description) for w in scene.metadata.warnings],
           "version": int(scene.metadata.version)}
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


def verify_export(path: Path, expected: dict, fmt: str | None = None) -> dict:
    """Read `path` back and compare with `expected` (from :func:`expected_figures`).
    Returns the figures read; raises AssetError on a mismatch."""
    try:
        got = read_back(path, fmt)
    except AssetError:
        raise
    except Exception as exc:
        raise AssetError(f"{path}: the export does not read back: {exc}") from None
    problems = []
    if got["triangles"] != expected["triangles"]:
        problems.append(f"{got['triangles']} triangles read back, {expected['triangles']} "
                        f"written")
    scale = float(np.max(np.abs(expected["bounds"]))) or 1.0
    if not np.allclose(got["bounds"], expected["bounds"], atol=1e-4 * scale):
        problems.append(f"bounds {np.round(got['bounds'], 5).tolist()} read back, "
                        f"{np.round(expected['bounds'], 5).tolist()} written")
    if expected["textured"] and not got["textured"]:
        problems.append("the texture did not come back")
    if problems:
        raise AssetError(f"{path}: export verification failed ({got['reader']}): "
                         + "; ".join(problems))
    return got
