"""Reference preparation: load an image, isolate its subject, warn, frame it.

A floor of the architecture: imports nothing else from `engine` (numpy, scipy and
pillow only).

    ref = load_reference(Path("shoe.png"))        # ReferenceImageError if it cannot work
    ref.warnings                                  # plain-words warnings
    framed = frame_subject(ref, 256)              # (256, 256, 3) on 50 % grey + mask
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from .checks import check_reference
from .errors import ReferenceImageError
from .framing import Framed, frame_subject, mask_bbox
from .isolate import Isolation, alpha_mask, has_meaningful_alpha, remove_background
from .loading import MAX_PIXELS, MAX_SIDE_PX, MIN_SIDE_PX, downscale, read_image
from .model import Reference

__all__ = [
    "Framed", "Isolation", "MAX_PIXELS", "MAX_SIDE_PX", "Reference", "ReferenceImageError",
    "frame_subject", "isolate_subject", "load_reference", "mask_bbox", "reference_from_array",
]

#: A subject smaller than this fraction of the image (or 16 px) counts as no subject.
MIN_SUBJECT_FRACTION = 1e-4


def load_reference(path: Path, *, max_side: int = 2048,
                   timings: dict[str, float] | None = None) -> Reference:
    """Load an image file (PNG, JPEG, WebP), isolate the subject and check it.

    Images with a longer side above `max_side` are downscaled to it (with a warning).
    Raises ReferenceImageError (naming the file) for files that cannot work.
    timings: if given, receives the seconds spent in "load" and "isolate".
    """
    path = Path(path)
    start = time.perf_counter()
    loaded = read_image(path, max_side=max_side)
    loaded_at = time.perf_counter()
    reference = _build(loaded.rgba, path, loaded.sha256, loaded.downscaled_from,
                       lossy=loaded.format in ("JPEG", "WebP"))
    if timings is not None:
        timings["load"] = round(loaded_at - start, 4)
        timings["isolate"] = round(time.perf_counter() - loaded_at, 4)
    return reference


def reference_from_array(rgba_or_rgb: np.ndarray, source: Path | None = None, *,
                         max_side: int | None = None, lossy: bool = False) -> Reference:
    """A Reference from an in-memory image.

    rgba_or_rgb: (H, W, 4) or (H, W, 3) or (H, W), uint8, or float in [0, 1].
    sha256 is that of the (H, W, 4) uint8 array's bytes.
    max_side: downscale (with a warning) when the longer side is above it.
    lossy: the pixels went through JPEG/WebP compression (trims the ringing halo).
    """
    name = str(source) if source is not None else "<array>"
    rgba = _as_rgba(np.asarray(rgba_or_rgb), name)
    downscaled_from = None
    if max_side is not None and max(rgba.shape[:2]) > max_side:
        downscaled_from = (rgba.shape[1], rgba.shape[0])
    sha = hashlib.sha256(np.ascontiguousarray(rgba).tobytes()).hexdigest()
    if downscaled_from is not None:
        rgba = downscale(rgba, max_side)
    return _build(rgba, None if source is None else Path(source), sha, downscaled_from,
                  lossy=lossy)


def isolate_subject(rgba: np.ndarray, *, lossy: bool = False
                    ) -> tuple[np.ndarray, str, Isolation | None]:
    """(H, W, 4) uint8 → ((H, W) float32 mask, mask_source, Isolation or None for alpha)."""
    alpha = rgba[..., 3]
    if has_meaningful_alpha(alpha):
        return alpha_mask(alpha), "alpha", None
    iso = remove_background(np.ascontiguousarray(rgba[..., :3]), lossy=lossy)
    return iso.mask, "background-removal", iso


def _build(rgba: np.ndarray, source: Path | None, sha: str,
           downscaled_from: tuple[int, int] | None, *, lossy: bool = False) -> Reference:
    name = str(source) if source is not None else "<array>"
    h, w = rgba.shape[:2]
    if int(np.count_nonzero(rgba[..., 3] > 5)) == 0:
        raise ReferenceImageError(f"{name}: no subject found (the image is fully transparent)")
    mask, mask_source, iso = isolate_subject(rgba, lossy=lossy)
    if float((mask > 0.5).sum()) < max(16.0, MIN_SUBJECT_FRACTION * h * w):
        raise ReferenceImageError(
            f"{name}: no subject found (nothing in the image stands out from its background)")
    warnings = check_reference(mask, iso, downscaled_from, (w, h))
    return Reference(source=source, rgba=rgba, mask=mask, mask_source=mask_source,
                     warnings=warnings, sha256=sha, downscaled_from=downscaled_from)


def _as_rgba(arr: np.ndarray, name: str) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4), uint8 or float in [0, 1] → (H, W, 4) uint8."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ReferenceImageError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) "
                                  f"image, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ReferenceImageError(f"{name}: the image has zero size "
                                  f"({arr.shape[1]}x{arr.shape[0]})")
    if min(arr.shape[:2]) < MIN_SIDE_PX:
        raise ReferenceImageError(f"{name}: the image is {arr.shape[1]}x{arr.shape[0]} pixels; "
                                  f"a reference needs at least {MIN_SIDE_PX} px a side")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            arr = np.round(np.clip(arr, 0.0, 1.0) * 255.0)
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 3:
        arr = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(arr)
