"""Image-based lighting from an equirectangular environment (.hdr, .exr, .png, .jpg).

Diffuse light comes from 9 spherical-harmonic irradiance coefficients computed
here in numpy; reflections sample the (mipmapped) equirectangular texture at a
level chosen by roughness. Directions are Y-up (glTF): u = 0.5 at -Z, v = 0 at +Y.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import InputError

HDR_SUFFIXES = (".hdr", ".exr")
LDR_SUFFIXES = (".png", ".jpg", ".jpeg")
ENVIRONMENT_SUFFIXES = HDR_SUFFIXES + LDR_SUFFIXES
MAX_ENVIRONMENT_PIXELS = 64 << 20

# Cosine-lobe convolution factors per SH band (Ramamoorthi & Hanrahan 2001).
_BAND = np.array([np.pi, 2 * np.pi / 3, 2 * np.pi / 3, 2 * np.pi / 3,
                  np.pi / 4, np.pi / 4, np.pi / 4, np.pi / 4, np.pi / 4])


class EnvironmentLoadError(InputError):
    """The environment image cannot be used; the message names the file."""


def equirect_directions(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (H, W, 3), Y-up, of pixel centres, and their solid angles (H, W)."""
    v = (np.arange(height) + 0.5) / height
    u = (np.arange(width) + 0.5) / width
    theta = v * np.pi  # from +Y
    phi = (u - 0.5) * 2 * np.pi  # 0 at -Z, towards +X
    sin_t = np.sin(theta)[:, None]
    d = np.stack([sin_t * np.sin(phi)[None, :],
                  np.repeat(np.cos(theta)[:, None], width, 1),
                  -sin_t * np.cos(phi)[None, :]], axis=-1)
    solid = (2 * np.pi / width) * (np.pi / height) * np.repeat(sin_t, width, 1)
    return d, solid


def sh_basis(d: np.ndarray) -> np.ndarray:
    """Real SH basis up to band 2 for directions (..., 3) → (..., 9)."""
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    return np.stack([
        0.282095 * np.ones_like(x), 0.488603 * y, 0.488603 * z, 0.488603 * x,
        1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1),
        1.092548 * x * z, 0.546274 * (x * x - y * y)], axis=-1)


def irradiance_sh(radiance: np.ndarray) -> np.ndarray:
    """(9, 3) coefficients c so irradiance E(n) = Σ c_i Y_i(n), from (H, W, 3) linear radiance.

    Diffuse outgoing radiance is then albedo · E(n) / π.
    """
    h, w = radiance.shape[:2]
    d, solid = equirect_directions(h, w)
    basis = sh_basis(d) * solid[..., None]  # (H, W, 9)
    coeffs = np.einsum("hwk,hwc->kc", basis, radiance)
    return coeffs * _BAND[:, None]


def irradiance(coeffs: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Evaluate E(n) for unit normals (..., 3) → (..., 3)."""
    return sh_basis(np.asarray(normal, np.float64)) @ coeffs


def _downsample(rgb: np.ndarray, max_width: int) -> np.ndarray:
    """Box-filter (H, W, 3) by an integer factor until the width is at most max_width."""
    while rgb.shape[1] > max_width and rgb.shape[0] % 2 == 0 and rgb.shape[1] % 2 == 0:
        rgb = 0.25 * (rgb[::2, ::2] + rgb[1::2, ::2] + rgb[::2, 1::2] + rgb[1::2, 1::2])
    return rgb


_MAGIC = ((b"\x76\x2f\x31\x01", "OpenEXR"), (b"#?", "Radiance HDR"),
          (b"\x89PNG", "PNG"), (b"\xff\xd8\xff", "JPEG"))
_SUFFIX_KIND = {".exr": "OpenEXR", ".hdr": "Radiance HDR", ".png": "PNG", ".jpg": "JPEG",
                ".jpeg": "JPEG"}


def _magic_kind(head: bytes) -> str | None:
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def read_equirect(path: Path) -> np.ndarray:
    """(H, W, 3) float32 linear radiance from .hdr/.exr (as is) or .png/.jpg (sRGB)."""
    from panda3d.core import Filename, PfmFile, PNMImageHeader

    path = Path(path)
    if path.suffix.lower() not in ENVIRONMENT_SUFFIXES:
        raise EnvironmentLoadError(f"{path}: environment must be one of "
                                f"{', '.join(ENVIRONMENT_SUFFIXES)}")
    if not path.is_file():
        raise EnvironmentLoadError(f"{path}: environment file not found")
    with open(path, "rb") as handle:
        head = handle.read(4)
    kind, expected = _magic_kind(head), _SUFFIX_KIND.get(path.suffix.lower())
    if kind != expected:  # (Panda's OpenEXR reader aborts the process on a non-EXR file)
        found = f"it holds {kind} data" if kind else "its content is not an image"
        raise EnvironmentLoadError(f"{path}: not an image Maquette can read as an "
                                   f"environment: named {expected}, but {found}")
    header = PNMImageHeader()
    if not header.read_header(Filename.from_os_specific(str(path))):
        raise EnvironmentLoadError(f"{path}: not an image Maquette can read as an environment")
    w, h = header.get_x_size(), header.get_y_size()
    if w * h > MAX_ENVIRONMENT_PIXELS or w < 8 or h < 4:
        raise EnvironmentLoadError(f"{path}: environment size {w}x{h} is out of range")
    pfm = PfmFile()
    if not pfm.read(Filename.from_os_specific(str(path))) or pfm.get_num_channels() < 3:
        raise EnvironmentLoadError(f"{path}: cannot decode the environment image")
    data = np.array(memoryview(pfm), np.float32).reshape(h, w, -1)[..., :3]
    if path.suffix.lower() in LDR_SUFFIXES:
        data = np.where(data <= 0.04045, data / 12.92, ((data + 0.055) / 1.055) ** 2.4)
    if not np.all(np.isfinite(data)):
        raise EnvironmentLoadError(f"{path}: the environment holds non-finite values")
    return np.clip(data, 0.0, 6.0e4).astype(np.float32)


def load_environment(path: Path):
    """Read an equirectangular image. Returns (Panda Texture, (9, 3) SH coefficients)."""
    from panda3d.core import SamplerState, Texture

    radiance = read_equirect(path)
    coeffs = irradiance_sh(_downsample(radiance.astype(np.float64), 128))
    image = _downsample(radiance, 1024)
    h, w = image.shape[:2]
    texture = Texture(Path(path).name)
    texture.setup_2d_texture(w, h, Texture.T_float, Texture.F_rgb16)
    # Panda keeps RAM images bottom row first, channels in BGR order.
    texture.set_ram_image(np.ascontiguousarray(image[::-1, :, ::-1]).tobytes())
    texture.set_minfilter(SamplerState.FT_linear_mipmap_linear)
    texture.set_magfilter(SamplerState.FT_linear)
    texture.set_wrap_u(SamplerState.WM_repeat)
    texture.set_wrap_v(SamplerState.WM_clamp)
    return texture, coeffs
