"""The one asset check: the rules every asset file passes, on every path that loads one.

``engine.asset.io.check_file`` runs them from a file's headers and JSON before any mesh
or image data is decoded (inspect, prep, export, render, still, view, the contact sheet
and the OBJ/PLY/STL converter all go through it); each format's own checks live in its
module under :mod:`engine.asset.formats`, and use the rules here:

* :func:`safe_local`: a URI a file refers to stays inside the asset's folder;
* :func:`check_texture`: a texture's width and height, read from its header (PNG,
  JPEG, WebP, GIF, BMP, KTX2; other formats through Pillow's lazy open), are within
  :func:`engine.asset.model.max_texture_pixels`;
* :func:`check_geometry`: positions are finite and within ±MAX_COORDINATE (the file's
  units, metres by glTF's convention), face indices point at vertices, and the surface
  has an area.

Errors are :class:`AssetError`, naming the file and the field.
"""

from __future__ import annotations

import base64
import io
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

import numpy as np

from engine.asset.model import MAX_COORDINATE, AssetError
from engine.asset.topology import triangle_areas

__all__ = ["Extent", "check_geometry", "check_texture", "field_int", "image_size",
           "measure_geometry", "require_surface", "safe_local"]


def field_int(value, path: Path, field: str, minimum: int = 0) -> int:
    """`value` as a count/length/index of at least `minimum`, or an AssetError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise AssetError(f"{path}: {field}: {value!r} is not a valid count/length")
    return value


def safe_local(path: Path, uri: str, field: str) -> Path:
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


# ----------------------------------------------------------------------------------
# Textures: dimensions from the header
# ----------------------------------------------------------------------------------

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(handle: BinaryIO) -> tuple[int, int] | None:
    """Walk the JPEG's marker segments (by their lengths) to the frame header."""
    handle.seek(2)
    while True:
        byte = handle.read(1)
        while byte == b"\xff":  # fill bytes
            byte = handle.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before
            return None
        raw = handle.read(2)
        if len(raw) < 2:
            return None
        (length,) = struct.unpack(">H", raw)
        if marker in _JPEG_SOF:
            body = handle.read(5)
            if len(body) < 5:
                return None
            height, width = struct.unpack(">HH", body[1:5])
            return width, height
        handle.seek(length - 2, io.SEEK_CUR)
        if handle.read(1) != b"\xff":
            return None


def _webp_size(handle: BinaryIO, kind: bytes) -> tuple[str, int, int] | None:
    """Width and height from a WebP's first chunk (lossy, lossless or extended)."""
    handle.seek(20)
    body = handle.read(10)
    if kind == b"VP8 " and len(body) >= 10:
        w, h = struct.unpack("<HH", body[6:10])
        return "WebP", w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L" and len(body) >= 5:
        bits = int.from_bytes(body[1:5], "little")
        return "WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X" and len(body) >= 10:
        return ("WebP", int.from_bytes(body[4:7], "little") + 1,
                int.from_bytes(body[7:10], "little") + 1)
    return None


def image_size(handle: BinaryIO) -> tuple[str, int, int] | None:
    """(format, width, height) from an image file's header, reading at most a few
    segments (never decoding pixels); None when the header is not recognised."""
    handle.seek(0)
    head = handle.read(32)
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return ("PNG",) + struct.unpack(">II", head[16:24])
    if head.startswith(b"\xff\xd8"):
        size = _jpeg_size(handle)
        return None if size is None else ("JPEG",) + size
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp_size(handle, head[12:16])
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ("GIF",) + struct.unpack("<HH", head[6:10])
    if head[:2] == b"BM" and len(head) >= 26:
        w, h = struct.unpack("<ii", head[18:26])
        return "BMP", abs(w), abs(h)
    if head[:12] == b"\xabKTX 20\xbb\r\n\x1a\n":
        handle.seek(20)
        return ("KTX2",) + struct.unpack("<II", handle.read(8))
    return None


def _pillow_size(handle: BinaryIO) -> tuple[str, int, int] | None:
    """Other formats (TGA, TIFF...): Pillow's open reads only the header."""
    import warnings

    from PIL import Image

    handle.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                return image.format or "image", image.size[0], image.size[1]
    except Image.DecompressionBombError as exc:
        numbers = [int(n) for n in re.findall(r"\d+", str(exc))]
        return "image", numbers[0] if numbers else 1 << 30, 1
    except Exception:  # not an image Pillow knows: the loader decides what to do with it
        return None


def check_texture(path: Path, field: str, handle: BinaryIO, limit: int) -> None:
    """Refuse a texture larger than `limit` pixels, from its header alone."""
    size = image_size(handle) or _pillow_size(handle)
    if size is None:
        return
    kind, width, height = size
    if width * height > limit:
        side = int(limit ** 0.5)
        bound = f"{side}×{side}" if side * side == limit else f"{limit:,}"
        raise AssetError(
            f"{path}: {field}: {width}×{height} {kind} texture ({width * height / 1e6:.1f} "
            f"Mpx) exceeds the limit of {bound} pixels; refused before decoding: shrink "
            f"the image, or raise MAQUETTE_MAX_TEXTURE_PIXELS"
        )


@contextmanager
def open_texture(path: Path, uri: str, field: str) -> Iterator[BinaryIO | None]:
    """The texture `uri` refers to (a data: URI or a file beside `path`), opened for
    :func:`check_texture`, or None when the file is missing."""
    if uri.startswith("data:"):
        head, _, payload = uri.partition(",")
        # the header and a few JPEG segments are at the front: decode only that much
        if head.endswith(";base64"):
            text = payload.strip()[: 1 << 20]
            data = base64.b64decode(text[: len(text) // 4 * 4])
        else:
            data = unquote(payload[: 1 << 20]).encode("latin-1", errors="replace")
        yield io.BytesIO(data)
        return
    target = safe_local(path, uri, field)
    if not target.is_file():
        yield None
        return
    with open(target, "rb") as handle:
        yield handle


# ----------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------


@dataclass
class Extent:
    """What :func:`measure_geometry` found, summed over the parts of one asset."""

    lo: np.ndarray
    hi: np.ndarray
    area: float = 0.0
    faces: int = 0

    @classmethod
    def empty(cls) -> Extent:
        return cls(np.full(3, np.inf), np.full(3, -np.inf))


def measure_geometry(path: Path, vertices: np.ndarray, faces: np.ndarray,
                     field: str = "vertex positions", extent: Extent | None = None,
                     index_field: str | None = None) -> Extent:
    """Check one part's positions (finite, within ±MAX_COORDINATE) and face indices
    (within the vertices), and add its bounds and (sampled) area to `extent`.

    vertices: (n, 3) float in the file's units; faces: (m, 3) int."""
    extent = extent or Extent.empty()
    vertices = np.asarray(vertices)
    faces = np.asarray(faces)
    if not len(faces):
        return extent
    finite = np.isfinite(vertices).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise AssetError(f"{path}: {field}: vertex {bad} is {vertices[bad].tolist()}: "
                         f"positions contain NaN or infinity "
                         f"({int((~finite).sum()):,} of {len(vertices):,} vertices)")
    peak = float(np.abs(vertices).max()) if len(vertices) else 0.0
    if peak > MAX_COORDINATE:
        raise AssetError(f"{path}: {field}: a coordinate reaches {peak:.3g}, beyond the "
                         f"limit of ±{MAX_COORDINATE:.0e} (units wrong, or a corrupt file)")
    low, high = int(faces.min()), int(faces.max())
    if low < 0 or high >= len(vertices):
        raise AssetError(f"{path}: {index_field or field}: face index "
                         f"{low if low < 0 else high} points past the {len(vertices):,} "
                         f"vertices")
    extent.lo = np.minimum(extent.lo, vertices.min(axis=0))
    extent.hi = np.maximum(extent.hi, vertices.max(axis=0))
    # zero area? a sample of faces answers for almost every mesh; all faces otherwise
    vertices = np.asarray(vertices, dtype=np.float64)
    step = max(1, len(faces) // 20000)
    area = float(triangle_areas(vertices, faces[::step]).sum())
    size = float(np.linalg.norm(extent.hi - extent.lo))
    if step > 1 and not area > (size * 1e-9) ** 2:
        area = float(triangle_areas(vertices, faces).sum())
    extent.area += area
    extent.faces += len(faces)
    return extent


def require_surface(path: Path, extent: Extent) -> None:
    """Refuse an asset with no triangles, or whose triangles have no area."""
    if not extent.faces:
        raise AssetError(f"{path}: the file contains no triangles")
    size = float(np.linalg.norm(extent.hi - extent.lo))
    if size == 0.0 or not extent.area > (size * 1e-9) ** 2:
        raise AssetError(
            f"{path}: the mesh has zero surface area (all {extent.faces:,} triangles are "
            f"degenerate); nothing to inspect or render"
        )


def check_geometry(path: Path, vertices: np.ndarray, faces: np.ndarray,
                   field: str = "vertex positions") -> None:
    """The geometry rules for one mesh (see the module docstring)."""
    require_surface(path, measure_geometry(path, vertices, faces, field))
