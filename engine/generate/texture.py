"""Bake the texture atlas: front view (left half) and back colour (right half).

Both halves are square images in the front view's pixel grid (row down, column right),
sRGB in [0, 1], stretched to (size, size/2) each; the back is stored un-mirrored, as
seen from behind. The back is either rebuilt from the front (`engine.generate.backtex`:
no ghosts, the front's palette, detail at full resolution, a rim shared with the front)
or the network's predicted back colour, upsampled.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from engine.generate.backtex import BackTextureInfo, back_texture, clean_fringe, resize


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


def texture_atlas(front_rgb: np.ndarray, front_mask: np.ndarray, back_color: np.ndarray,
                  back_mask: np.ndarray, size: int, rebuild_back: bool = True,
                  rim: float = 0.0) -> tuple[Image.Image, BackTextureInfo | None]:
    """The atlas from the framed front at size/2 (front_rgb, front_mask) and the
    model's back colour and mask (S×S, contract grid). rebuild_back: the back from
    `backtex.back_texture` (and the front's matte fringe cleaned); False: the predicted
    back colour as it is (the earlier texture, for comparison). rim: how far inside the
    silhouette (crop units) the side walls sample the texture (`back_texture`)."""
    half = size // 2
    if not rebuild_back:
        return bake_atlas(front_rgb, front_mask, resize(back_color, half),
                          resize(back_mask, half), size), None
    front = clean_fringe(front_rgb, front_mask)
    back, info = back_texture(front, front_mask, back_color, back_mask, rim=rim)
    filled = np.ones(front_mask.shape, np.float32)  # both are already filled outside
    return bake_atlas(front, filled, back, filled, size), info
