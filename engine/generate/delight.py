"""Remove the input's own shading from the front texture with the model's delit front.

A model whose card names a `front_albedo` output predicts the front's base colour at the
model's resolution S (sRGB in [0, 1], the crop's pixel grid). The texture keeps the
image's full-resolution detail and colours and takes its shading from that prediction:
the luma ratio albedo / image at S, smoothed inside the subject, clipped, and upsampled
onto the texture's grid (the same framing at another size), multiplies all three
channels. Only light and shade are removed, never hue: a per-channel ratio let the
model's guess at the light's tint into the texture (maquette-ld-v3 candidate: white
trucks and boxes came out mint green, a grey teapot pink; docs/GENERATOR.md). Colours are
sRGB values in [0, 1] throughout; sizes are pixels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

RATIO_RANGE = (0.25, 4.0)  # the most a pixel is darkened or brightened
SMOOTH_PX = 1.5  # Gaussian sigma of the ratio, in pixels at the model's resolution
EPS = 0.02  # keeps dark pixels' ratios finite


LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 weights


def shading_ratio(image: np.ndarray, mask: np.ndarray, albedo: np.ndarray) -> np.ndarray:
    """(S, S, 3) luma ratio albedo / image (the same in the three channels), smoothed
    with the subject's pixels only (mask (S, S) in [0, 1]) and spread outward from the
    subject; 1 where there is none."""
    inside = mask > 0.5
    if not inside.any():
        return np.ones_like(image)
    ratio = (albedo @ LUMA + EPS) / (image @ LUMA + EPS)
    ratio = np.repeat(ratio[..., None], 3, axis=-1)
    w = inside.astype(np.float64)
    num = ndimage.gaussian_filter(ratio * w[..., None], (SMOOTH_PX, SMOOTH_PX, 0))
    den = ndimage.gaussian_filter(w, SMOOTH_PX)[..., None]
    smooth = np.where(den > 1e-3, num / np.maximum(den, 1e-3), 1.0)
    _, (rows, cols) = ndimage.distance_transform_edt(~inside, return_indices=True)
    smooth = smooth[rows, cols]
    return np.clip(smooth, *RATIO_RANGE).astype(np.float32)


def resize_grid(values: np.ndarray, size: int, order: int = 1) -> np.ndarray:
    """(S, S, ...) → (size, size, ...) by spline interpolation of `order` with pixel
    centres aligned (grid mode), edges extended; `values` itself when S == size."""
    factor = size / values.shape[0]
    if abs(factor - 1.0) < 1e-9:
        return values
    return ndimage.zoom(values, (factor, factor) + (1,) * (values.ndim - 2), order=order,
                        mode="nearest", grid_mode=True)


def delight(texture_rgb: np.ndarray, image: np.ndarray, mask: np.ndarray,
            albedo: np.ndarray) -> np.ndarray:
    """texture_rgb (H, H, 3): the front at the texture's resolution; image, mask,
    albedo: the model's input (S, S, 3), its mask (S, S) and its front_albedo (S, S, 3),
    the same framing. Returns the delit texture (H, H, 3) in [0, 1]."""
    up = resize_grid(shading_ratio(image, mask, albedo), texture_rgb.shape[0])
    up = up[: texture_rgb.shape[0], : texture_rgb.shape[1]]
    return np.clip(texture_rgb * up, 0.0, 1.0).astype(np.float32)
