"""OBJ + MTL + PNG: the writer (numpy-formatted text), the pre-allocation check (face
count, MTL and texture references), and the read-back (trimesh, or a numpy scan of
large files). Units as written: the mesh's own (metres); v runs up the image."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.asset.check import check_texture, open_texture, safe_local
from engine.asset.model import AssetError, mesh_uv, texture_image

from .common import (
    base_color,
    count_token,
    joined_pieces,
    mesh_normals,
    png_bytes,
    trimesh_figures,
)

__all__ = ["OBJ_SCAN_BYTES", "check_obj", "read_back", "scan_obj", "write"]


def _check_mtl(path: Path, mtl: Path, limits) -> None:
    """Every texture an MTL file names stays in the folder and is within the limit."""
    mtext = mtl.read_text(errors="replace")
    for m in re.finditer(r"^\s*(map_\w+|bump|disp|decal|refl)\s+(.+?)\s*$", mtext, re.M):
        ref = m.group(2)
        # texture options (-s 1 1 1 ...) come before the file name
        candidate = ref if not ref.startswith("-") else ref.split()[-1]
        field = f"{m.group(1)} ({candidate!r}) in {mtl.name}"
        with open_texture(mtl, candidate, field) as handle:
            if handle is not None:
                check_texture(path, field, handle, limits.texture_pixels)


def check_obj(path: Path, size: int, limits) -> int:
    """Faces in the OBJ (counted in chunks, refused over the limit); its MTL files and
    their texture references must stay inside the asset's folder, and each texture
    present is checked against the texture limit."""
    limit = limits.triangles
    faces = count_token(path, b"\nf ", b"\n", limit, f"OBJ with more than {limit:,} faces")
    with open(path, "rb") as handle:
        text = handle.read(min(size, 1 << 26)).decode("utf-8", errors="replace")
    for n, match in enumerate(re.finditer(r"^\s*mtllib\s+(.+?)\s*$", text, re.M)):
        mtl = safe_local(path, match.group(1), f"mtllib #{n + 1} ({match.group(1)!r})")
        if mtl.is_file():
            _check_mtl(path, mtl, limits)
    return faces


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




_OBJ_BLOCK = 1 << 16  # rows formatted at a time: small buffers, reused by the allocator


def _obj_chunks(vertices, faces, uv, normals, mtl_name: str | None, groups=None):
    """The OBJ text in pieces (bytes, or flat uint8 arrays) to write one after another,
    made block by block (_OBJ_BLOCK rows: no full-size buffers, whose fresh pages
    cost more than the formatting in a new process). `groups`: (name, material, faces)
    runs of the faces, each written after its own ``g``/``usemtl`` line.

    Written with numpy as fixed-width fields (fixed-point floats: positions with 7
    decimals, UVs 6, normals 5) whose padding is then dropped, about 3x faster
    than formatting strings in Python at a million triangles."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    n, f = len(vertices), len(faces)
    yield b"# Maquette\n"
    if mtl_name:
        yield f"mtllib {mtl_name}\n".encode()
        if groups is None:
            yield b"usemtl material0\n"
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
    runs = [(None, None, 0, f)] if groups is None else []
    first = 0
    for name, material, count in groups or ():
        runs.append((name, material, first, first + count))
        first += count
    for name, material, run_start, run_end in runs:
        if name is not None:
            yield f"g {name}\nusemtl {material}\n".encode()
        yield from _face_lines(faces[run_start:run_end], width, slots, corner, uv is None)


def _face_lines(faces, width, slots, corner, no_uv):
    """The "f" lines of `faces` (0-based), block by block."""
    for start in range(0, len(faces), _OBJ_BLOCK):
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
                if no_uv:  # "//": no UV index
                    out[..., at] = 47
                    at += 1
            out[..., at:at + width] = d
            at += width
        yield _strip_nul(lines)


def _material(name: str, mesh, out: Path, texture_stem: str) -> tuple[str, dict]:
    """(MTL block, {texture path: PNG bytes}) of one mesh's material: Kd (the base
    colour factor), d (its alpha when blended), Ke (emissive), map_Kd (and map_d, its
    alpha, when blended or masked), norm (the normal map) and map_Ke, as the PBR
    material holds them."""
    material = getattr(mesh.visual, "material", None)
    r, g, b = base_color(mesh)
    alpha = 1.0
    factor = getattr(material, "baseColorFactor", None)
    if factor is not None and getattr(material, "alphaMode", None) == "BLEND":
        f = np.asarray(factor, dtype=float)
        alpha = float(f[3] / 255.0 if f.max() > 1.0 else f[3]) if len(f) > 3 else 1.0
    lines = [f"newmtl {name}\nKa 0 0 0\nKd {r:.6g} {g:.6g} {b:.6g}\nKs 0.04 0.04 0.04\n"
             f"Ns 50\nd {alpha:.6g}\nillum 2\n"]
    emissive = getattr(material, "emissiveFactor", None)
    if emissive is not None and np.any(np.asarray(emissive, dtype=float) > 0):
        lines.append("Ke {:.6g} {:.6g} {:.6g}\n".format(*np.asarray(emissive, float)[:3]))
    files: dict[Path, bytes] = {}
    image = texture_image(mesh)
    if image is not None and mesh_uv(mesh) is not None:
        slots = [("map_Kd", "basecolor", image)]
        for tag, word, attr in (("norm", "normal", "normalTexture"),
                                ("map_Ke", "emissive", "emissiveTexture")):
            extra = getattr(material, attr, None)
            if extra is not None:
                slots.append((tag, word, extra))
        for tag, word, picture in slots:
            texture_name = f"{texture_stem}_{word}.png"
            files[out.with_name(texture_name)] = png_bytes(picture)
            lines.append(f"{tag} {texture_name}\n")
            if word == "basecolor" and getattr(material, "alphaMode", None) in ("BLEND",
                                                                               "MASK"):
                lines.append(f"map_d {texture_name}\n")  # its alpha channel
    return "".join(lines), files


def write(mesh, out: Path, options=None) -> dict[Path, bytes]:
    """The OBJ, its MTL and textures; with several pieces (options.pieces), one group
    and one material per piece (glTF primitives keep their own colours and textures)."""
    pieces = list(getattr(options, "pieces", ()) or ()) or [mesh]
    mtl_name = out.stem + ".mtl"
    files: dict[Path, bytes] = {}
    mtl = ["# Maquette\n"]
    names: dict[object, str] = {}  # one MTL material per distinct material (by content)
    written: dict[bytes, Path] = {}  # one PNG per distinct image
    groups = []
    for i, piece in enumerate(pieces):
        material = getattr(piece.visual, "material", None)
        key = hash(material) if material is not None else None
        if key not in names:
            names[key] = f"material{len(names)}"
            stem = out.stem if len(pieces) == 1 else f"{out.stem}_{len(names) - 1}"
            block, textures = _material(names[key], piece, out, stem)
            for path, data in textures.items():
                if data in written:  # the same image as another material's: named once
                    block = block.replace(f" {path.name}\n", f" {written[data].name}\n")
                else:
                    written[data] = path
                    files[path] = data
            mtl.append(block)
        groups.append((f"part{i}", names[key], len(piece.faces)))
    files[out.with_name(mtl_name)] = "".join(mtl).encode("utf-8")
    if len(pieces) == 1:
        vertices, faces, uv, normals = mesh.vertices, mesh.faces, mesh_uv(mesh), \
            mesh_normals(mesh)
        groups = None
    else:
        vertices, faces, uv, normals = joined_pieces(pieces)
    chunks = _obj_chunks(vertices, faces, uv, normals, mtl_name, groups)

    def write(handle, _chunks=chunks):
        for chunk in _chunks:
            handle.write(chunk)  # (arrays through the buffer protocol: no copy)

    files[out] = write
    return files


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
        mtl = safe_local(path, name.decode().strip(), "mtllib")
        if mtl.is_file():
            for tex in re.finditer(r"^map_Kd (.+)$", mtl.read_text(), re.M):
                textured |= safe_local(mtl, tex.group(1).strip(), "map_Kd").is_file()
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




def read_back(path: Path) -> dict:
    if path.stat().st_size > OBJ_SCAN_BYTES:
        return scan_obj(path)
    return trimesh_figures(path)
