"""sRGB → CIE Lab (D65), for perceptual colour distances (ΔE76)."""

from __future__ import annotations

import numpy as np

# sRGB 8-bit code → linear light, as a 256-entry table.
_codes = np.arange(256, dtype=np.float64) / 255.0
_SRGB_TO_LINEAR = np.where(_codes <= 0.04045, _codes / 12.92,
                           ((_codes + 0.055) / 1.055) ** 2.4).astype(np.float32)
# Linear sRGB → XYZ, each row divided by the D65 white point (Xn, Yn, Zn).
_RGB_TO_XYZN = (np.array([[0.4124564, 0.3575761, 0.1804375],
                          [0.2126729, 0.7151522, 0.0721750],
                          [0.0193339, 0.1191920, 0.9503041]])
                / np.array([[0.95047], [1.0], [1.08883]])).astype(np.float32)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB → (..., 3) float32 Lab (L in [0, 100], a and b about ±100)."""
    lin = _SRGB_TO_LINEAR[rgb]
    xyz = lin @ _RGB_TO_XYZN.T
    eps = np.float32(216 / 24389)
    kappa = np.float32(24389 / 27)
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116).astype(np.float32)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab
