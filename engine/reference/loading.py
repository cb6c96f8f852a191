"""Reading a reference image file into an (H, W, 4) uint8 RGBA array, safely.

The header is checked before any pixel is decoded, so a file that claims absurd
dimensions (a decompression bomb) is refused without allocating memory for it.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ReferenceImageError

#: PIL format names that are accepted ("MPO" is the multi-picture JPEG many cameras write).
ACCEPTED_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP"}
#: No side longer than this, in pixels.
MAX_SIDE_PX = 20000
# Smaller images cannot hold a subject (isolation needs 16 subject pixels and a border).
MIN_SIDE_PX = 16
#: No image larger than this, in pixels (150 megapixels).
MAX_PIXELS = 150_000_000


@dataclass
class LoadedImage:
    """rgba: (H, W, 4) uint8; downscaled_from: original (width, height) or None."""

    rgba: np.ndarray
    sha256: str
    downscaled_from: tuple[int, int] | None
    format: str


def _decode_errors() -> tuple[type[BaseException], ...]:
    return (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError,
            Image.DecompressionBombError)


def read_image(path: Path, *, max_side: int = 2048) -> LoadedImage:
    """Load `path` (PNG, JPEG or WebP) as RGBA, EXIF orientation applied.

    Images whose longer side exceeds `max_side` are downscaled (LANCZOS) so that it
    equals `max_side`; JPEGs are decoded at a reduced scale directly (no full decode).
    Raises ReferenceImageError for a missing, empty, non-image, unsupported, corrupt,
    truncated, zero-size or absurdly large file.
    """
    path = Path(path)
    if not path.exists():
        raise ReferenceImageError(f"{path}: no such file")
    if not path.is_file():
        raise ReferenceImageError(f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReferenceImageError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not data:
        raise ReferenceImageError(f"{path}: the file is empty")
    sha = hashlib.sha256(data).hexdigest()

    with warnings.catch_warnings():
        # We check the dimensions ourselves, below, with our own limits.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            # PIL refuses past twice its own limit, before we see the size.
            found = re.search(r"\((\d+) pixels\)", str(exc))
            claim = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
            raise ReferenceImageError(
                f"{path}: the image header claims absurd dimensions ({claim}); "
                f"the limit is {MAX_SIDE_PX} px a side and {MAX_PIXELS // 1_000_000} megapixels"
            ) from exc
        except UnidentifiedImageError as exc:
            raise ReferenceImageError(
                f"{path}: not an image that can be read (expected PNG, JPEG or WebP)"
            ) from exc
        except _decode_errors() as exc:
            raise ReferenceImageError(f"{path}: corrupt image file ({exc})") from exc

        fmt = im.format or "?"
        if fmt not in ACCEPTED_FORMATS:
            raise ReferenceImageError(
                f"{path}: {fmt} images are not supported; use PNG, JPEG or WebP")
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ReferenceImageError(f"{path}: the image has zero size ({w}x{h})")
        if min(w, h) < MIN_SIDE_PX:
            raise ReferenceImageError(
                f"{path}: the image is {w}x{h} pixels; a reference needs at least "
                f"{MIN_SIDE_PX} px a side")
        if max(w, h) > MAX_SIDE_PX or w * h > MAX_PIXELS:
            raise ReferenceImageError(
                f"{path}: the image header claims absurd dimensions ({w}x{h}); the limit is "
                f"{MAX_SIDE_PX} px a side and {MAX_PIXELS // 1_000_000} megapixels")

        scale = min(1.0, max_side / max(w, h))
        if scale < 1.0 and ACCEPTED_FORMATS[fmt] == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 scale when that still covers the target size.
            im.draft("RGB", (int(np.ceil(w * scale)), int(np.ceil(h * scale))))
        try:
            im.load()
            # EXIF orientations 5-8 turn the image a quarter turn (width and height swap).
            swapped = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
            im = ImageOps.exif_transpose(im)
            rgba = _to_rgba(im)
        except _decode_errors() as exc:
            raise ReferenceImageError(f"{path}: corrupt or truncated image file ({exc})") from exc

    downscaled_from = None
    if scale < 1.0:
        downscaled_from = (h, w) if swapped else (w, h)
        rgba = downscale(rgba, max_side)
    return LoadedImage(rgba=rgba, sha256=sha, downscaled_from=downscaled_from,
                       format=ACCEPTED_FORMATS[fmt])


def _to_rgba(im: Image.Image) -> np.ndarray:
    """Any PIL mode (palette, LA, 16-bit grey, CMYK, float...) → (H, W, 4) uint8."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im).astype(np.float64)
        hi = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(np.round(arr * (255.0 / hi)), 0, 255).astype(np.uint8)
        return _grey_to_rgba(grey)
    if mode == "F":
        arr = np.asarray(im).astype(np.float64)
        top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        grey = np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        return _grey_to_rgba(grey)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
            mode in ("P", "L", "RGB") and "transparency" in im.info):
        return np.asarray(im.convert("RGBA"), dtype=np.uint8).copy()
    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([rgb, alpha], axis=-1)


def _grey_to_rgba(grey: np.ndarray) -> np.ndarray:
    alpha = np.full_like(grey, 255)
    return np.stack([grey, grey, grey, alpha], axis=-1)


def downscale(rgba: np.ndarray, max_side: int) -> np.ndarray:
    """(H, W, 4) uint8 → the same with the longer side = max_side (LANCZOS, alpha-aware)."""
    h, w = rgba.shape[:2]
    s = max_side / max(h, w)
    if s >= 1.0:
        return rgba
    size = (max(1, round(w * s)), max(1, round(h * s)))
    # Premultiply so that colours under transparent pixels do not bleed into the edges.
    im = Image.fromarray(rgba, "RGBA").convert("RGBa")
    return np.asarray(im.resize(size, Image.Resampling.LANCZOS).convert("RGBA")).copy()
