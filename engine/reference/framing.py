"""Framing: the square, centred, grey-backed crop of the subject that the generator expects.

The subject's mask bounding box is centred in a square crop whose side is the box's
longer side divided by `foreground_ratio`; the crop may extend beyond the image (that
part is background). See docs/GENERATOR_INTERFACE.md, "Framing".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .errors import ReferenceImageError
from .model import Reference


@dataclass
class Framed:
    """image: (S, S, 3) float32 sRGB in [0, 1], the subject over `background` grey.

    mask: (S, S) float32 in [0, 1].
    crop_box: (x0, y0, side, side) in source pixels of `Reference.rgba` (pixel edges:
        the image spans [0, W] × [0, H]); may extend beyond the image.
    scale: output pixels per source pixel (S / side).
    """

    image: np.ndarray
    mask: np.ndarray
    crop_box: tuple[float, float, float, float]
    scale: float


def mask_bbox(mask: np.ndarray, level: float = 0.5) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel-edge bounds of `mask > level` (x1, y1 exclusive)."""
    rows = np.flatnonzero((mask > level).any(axis=1))
    cols = np.flatnonzero((mask > level).any(axis=0))
    if rows.size == 0:
        raise ValueError("empty mask")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def frame_subject(ref: Reference, size: int, foreground_ratio: float = 0.85,
                  background: float = 0.5) -> Framed:
    """Crop `ref` square around its subject and resize to (size, size) (LANCZOS).

    The bbox of `ref.mask > 0.5` is centred, its longer side spans `foreground_ratio` of
    the crop. The subject is composited over `background` grey at source resolution,
    then the crop is resampled, so colours hidden under transparency never bleed in.
    """
    if size < 1 or not 0.0 < foreground_ratio <= 1.0:
        raise ValueError(f"bad framing: size={size}, foreground_ratio={foreground_ratio}")
    try:
        x0, y0, x1, y1 = mask_bbox(ref.mask)
    except ValueError:
        raise ReferenceImageError(f"{ref.name}: no subject found (the mask is empty)") from None
    side = max(x1 - x0, y1 - y0) / foreground_ratio
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    bx, by = cx - side / 2.0, cy - side / 2.0

    h, w = ref.mask.shape
    # Pad the image so the crop box lies inside it (PIL's box must not leave the image).
    pad_l = max(0, int(np.ceil(-bx)) + 1)
    pad_t = max(0, int(np.ceil(-by)) + 1)
    pad_r = max(0, int(np.ceil(bx + side - w)) + 1)
    pad_b = max(0, int(np.ceil(by + side - h)) + 1)
    # Only the part of the image near the crop is needed: cut first, then pad.
    cut_x0, cut_y0 = max(0, int(np.floor(bx)) - 1), max(0, int(np.floor(by)) - 1)
    cut_x1, cut_y1 = min(w, int(np.ceil(bx + side)) + 1), min(h, int(np.ceil(by + side)) + 1)
    rgb = ref.rgba[cut_y0:cut_y1, cut_x0:cut_x1, :3].astype(np.float32) / 255.0
    m = ref.mask[cut_y0:cut_y1, cut_x0:cut_x1].astype(np.float32)
    comp = rgb * m[..., None] + np.float32(background) * (1.0 - m[..., None])
    pads = ((pad_t, pad_b), (pad_l, pad_r))
    planes = [np.pad(comp[..., c], pads, constant_values=background) for c in range(3)]
    planes.append(np.pad(m, pads, constant_values=0.0))

    box = (bx - cut_x0 + pad_l, by - cut_y0 + pad_t,
           bx - cut_x0 + pad_l + side, by - cut_y0 + pad_t + side)
    out = [np.asarray(Image.fromarray(p, "F").resize((size, size), Image.Resampling.LANCZOS,
                                                     box=box)) for p in planes]
    image = np.clip(np.stack(out[:3], axis=-1), 0.0, 1.0).astype(np.float32)
    mask = np.clip(out[3], 0.0, 1.0).astype(np.float32)
    return Framed(image=image, mask=mask, crop_box=(bx, by, side, side), scale=size / side)
