"""sRGB ↔ CIE Lab (D65), for perceptual colour distances (ΔE76) and colour work in Lab."""

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
_XYZN_TO_RGB = np.linalg.inv(_RGB_TO_XYZN.astype(np.float64)).astype(np.float32)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB → (..., 3) float32 Lab (L in [0, 100], a and b about ±100)."""
    r, g, b = (_SRGB_TO_LINEAR[rgb[..., i]] for i in range(3))
    m = _RGB_TO_XYZN
    lab = np.empty(rgb.shape, np.float32)
    f = [None, None, None]
    for i in range(3):
        t = r * m[i, 0]
        t += g * m[i, 1]
        t += b * m[i, 2]
        f[i] = _lab_f(t)
    lab[..., 0] = 116 * f[1] - 16
    lab[..., 1] = 500 * (f[0] - f[1])
    lab[..., 2] = 200 * (f[1] - f[2])
    return lab


def float_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB float in [0, 1] → Lab float32 (8-bit quantised, as images are)."""
    return srgb_to_lab((np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def lab_to_float(lab: np.ndarray) -> np.ndarray:
    """(..., 3) Lab → sRGB float32 in [0, 1] (clipped): the inverse of `float_to_lab`."""
    lab = lab.astype(np.float32)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > 6 / 29, f ** 3, np.float32(3 * (6 / 29) ** 2) * (f - 4 / 29))
    linear = np.clip(xyz @ _XYZN_TO_RGB.T, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear,
                    1.055 * np.power(linear, np.float32(1 / 2.4)) - 0.055)
    return np.clip(srgb, 0.0, 1.0).astype(np.float32)


def _lab_f(t: np.ndarray) -> np.ndarray:
    """CIE's f(t): cube root above (6/29)³, linear below; float32, in place on `t`."""
    small = t <= np.float32(216 / 24389)
    out = np.cbrt(t, out=t)
    if small.any():
        out[small] = (np.float32(24389 / 27) * (out[small] ** 3) + 16) / 116
    return out
