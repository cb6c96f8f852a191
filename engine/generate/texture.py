"""Bake the texture atlas: front view (left half) and predicted back colour (right half)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage


def _bleed(rgb: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Extend colours outward from the mask so bilinear sampling at seams stays clean."""
    if inside.all() or not inside.any():
        return rgb
    _, (rows, cols) = ndimage.distance_transform_edt(~inside, return_indices=True)
    return rgb[rows, cols]


def bake_atlas(front_rgb: np.ndarray, front_mask: np.ndarray, back_rgb: np.ndarray,
               back_mask: np.ndarray, size: int) -> Image.Image:
    """front_rgb (H, W, 3) and back_rgb (h, w, 3) sRGB in [0, 1], square; → size×size RGB.

    The back colour follows the contract (mirrored into the front's pixel grid); the
    atlas's right half holds it un-mirrored, as seen from behind.
    """
    half = size // 2

    def panel(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        rgb = _bleed(rgb, mask > 0.5)
        image = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
        return np.asarray(image.resize((half, size), Image.Resampling.LANCZOS))

    left = panel(front_rgb, front_mask)
    right = panel(back_rgb[:, ::-1], back_mask[:, ::-1])
    return Image.fromarray(np.concatenate([left, right], axis=1))
