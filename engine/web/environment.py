"""The stage's lighting as one equirectangular HDR image for model-viewer.

model-viewer lights a model only from its `environment-image` (plus a soft shadow
from straight above), so the whole light rig goes into that image: the preset's
studio environment (sky/ground hemisphere and soft boxes, as the stage's shader
draws them at roughness 0) or the scene's own HDR (resampled with the stage's
rotation), with the key and fill lights added as small bright discs whose radiance
gives the same irradiance as the stage's directional lights (E = L * solid angle).

Frames and units: world directions are glTF's, Y-up; radiance is linear RGB in
the stage's units (the page's `exposure` = 2^EV scales it like the stage's). The
image is laid out as three.js reads an equirectangular map (equirectUv): column
u = atan2(z, x) / 2pi + 0.5 (so the centre looks along +X, u = 0.75 along +Z),
top row up. The light rig turns with the camera's azimuth on the stage; the page's
camera orbits a fixed environment, so the rig is frozen at its azimuth at t = 0.
Written as Radiance RGBE (.hdr) with run-length-encoded scanlines.
"""

from __future__ import annotations

import math

import numpy as np

from engine.animation.transform import axis_angle_matrix
from engine.scene.lighting import LightPreset, hex_to_linear, normalized

ENV_WIDTH = 512  # 0.7 degrees per pixel: the light discs below span ~16 pixels
LIGHT_RADIUS_DEG = 6.0  # angular radius of the discs that stand in for directional lights


def page_directions(width: int = ENV_WIDTH) -> np.ndarray:
    """(H, W, 3) unit world directions (Y-up) of the pixel centres, H = W / 2, in the
    three.js equirectangular layout (see the module docstring)."""
    height = width // 2
    u = (np.arange(width) + 0.5) / width
    v = 1.0 - (np.arange(height) + 0.5) / height  # 1 at the top row
    phi = (u - 0.5) * 2.0 * math.pi
    elevation = (v - 0.5) * math.pi
    cos_e = np.cos(elevation)[:, None]
    return np.stack([cos_e * np.cos(phi)[None, :],
                     np.repeat(np.sin(elevation)[:, None], width, axis=1),
                     cos_e * np.sin(phi)[None, :]], axis=-1)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def studio_radiance(directions: np.ndarray, preset: LightPreset, rig: np.ndarray) -> np.ndarray:
    """(..., 3) radiance of the preset's analytic environment (pbr.frag.glsl's
    environment_radiance at roughness 0) for world `directions` (..., 3); `rig` (3, 3)
    turns the preset's rig frame into the world."""
    up = directions[..., 1:2]
    sky, ground = hex_to_linear(preset.sky), hex_to_linear(preset.ground)
    radiance = ground + (sky - ground) * _smoothstep(-0.25, 0.35, up)
    for box in preset.softboxes:
        d = rig @ normalized(box.direction)
        radius = math.radians(box.radius_deg)
        c = directions @ d
        edge = _smoothstep(math.cos(radius), math.cos(max(radius - 0.02, 0.0)), c)
        radiance = radiance + (hex_to_linear(box.color) * box.intensity) * edge[..., None]
    return radiance * preset.environment


def equirect_sample(image: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a Maquette equirectangular image (H, W, 3), laid out as
    engine.render.environment reads it (u = 0.5 at -Z, top row +Y), along (..., 3)."""
    h, w = image.shape[:2]
    d = directions
    u = 0.5 + np.arctan2(d[..., 0], -d[..., 2]) / (2.0 * math.pi)
    row = np.arccos(np.clip(d[..., 1], -1.0, 1.0)) / math.pi * h - 0.5
    col = u * w - 0.5
    r0 = np.clip(np.floor(row).astype(int), 0, h - 1)
    r1 = np.clip(r0 + 1, 0, h - 1)
    fr = np.clip(row - np.floor(row), 0.0, 1.0)[..., None]
    c0 = np.floor(col).astype(int)
    fc = (col - c0)[..., None]
    c0, c1 = c0 % w, (c0 + 1) % w
    top = image[r0, c0] * (1 - fc) + image[r0, c1] * fc
    bottom = image[r1, c0] * (1 - fc) + image[r1, c1] * fc
    return top * (1 - fr) + bottom * fr


def add_light_disc(radiance: np.ndarray, directions: np.ndarray, toward: np.ndarray,
                   irradiance_rgb: np.ndarray, radius_deg: float = LIGHT_RADIUS_DEG) -> None:
    """Add, in place, a disc around unit `toward` (3,) whose integral over its solid
    angle is `irradiance_rgb` (3,): what a directional light of that irradiance gives a
    surface facing it. The disc's edge is softened over its outer quarter."""
    radius = math.radians(radius_deg)
    c = directions @ toward
    weight = _smoothstep(math.cos(radius), math.cos(0.75 * radius), c)
    h, w = directions.shape[:2]
    pixel_solid = (2.0 * math.pi / w) * (math.pi / h) * np.sqrt(
        np.maximum(1.0 - directions[..., 1] ** 2, 0.0))  # cos(elevation) of each row
    solid = float(np.sum(weight * pixel_solid))
    if solid <= 0:
        return
    radiance += weight[..., None] * (np.asarray(irradiance_rgb) / solid)


def stage_environment(stage, preset: LightPreset, rig_azimuth: float,
                      width: int = ENV_WIDTH) -> np.ndarray:
    """(H, W, 3) float32 linear radiance of the stage's whole light for the page.

    `stage`: the scene's StageSpec (its environment image, intensity and rotation);
    `rig_azimuth`: the camera's azimuth (degrees) at t = 0, which turns the rig."""
    directions = page_directions(width)
    rig = axis_angle_matrix((0.0, 1.0, 0.0), rig_azimuth)
    if stage.environment is not None:
        from engine.render.environment import read_equirect

        source = read_equirect(stage.environment)
        # pbr.frag.glsl's env_direction: the map is looked up along R(theta) w
        theta = math.radians(rig_azimuth + stage.environment_rotation)
        c, s = math.cos(theta), math.sin(theta)
        d = directions
        looked = np.stack([c * d[..., 0] - s * d[..., 2], d[..., 1],
                           s * d[..., 0] + c * d[..., 2]], axis=-1)
        radiance = equirect_sample(source, looked) * stage.environment_intensity
    else:
        radiance = studio_radiance(directions, preset, rig)
    radiance = np.array(radiance, dtype=np.float64)
    for light in (preset.key, *preset.fills):
        add_light_disc(radiance, directions, rig @ normalized(light.direction),
                       hex_to_linear(light.color) * light.intensity)
    return radiance.astype(np.float32)


def _rgbe(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float → (H, W, 4) uint8 Radiance RGBE."""
    peak = np.max(rgb, axis=-1)
    mantissa, exponent = np.frexp(peak)
    scale = np.where(peak > 1e-32, mantissa * 256.0 / np.maximum(peak, 1e-32), 0.0)
    out = np.zeros(rgb.shape[:2] + (4,), dtype=np.uint8)
    out[..., :3] = np.clip(rgb * scale[..., None], 0, 255).astype(np.uint8)
    out[..., 3] = np.where(peak > 1e-32, exponent + 128, 0).astype(np.uint8)
    return out


def _rle_channel(values: np.ndarray) -> bytes:
    """One channel of one scanline in Radiance's RLE: runs of 3+ equal bytes as
    (128 + n, value), everything else as literal dumps (n, bytes...), n <= 127."""
    out = bytearray()
    n = len(values)
    data = values.tobytes()
    i = 0
    literal_start = 0

    def flush(end: int) -> None:
        nonlocal literal_start
        while literal_start < end:
            count = min(127, end - literal_start)
            out.append(count)
            out.extend(data[literal_start:literal_start + count])
            literal_start += count

    while i < n:
        j = i + 1
        while j < n and j - i < 127 and data[j] == data[i]:
            j += 1
        if j - i >= 3:
            flush(i)
            out.append(128 + (j - i))
            out.append(data[i])
            literal_start = j
        i = j
    flush(n)
    return bytes(out)


def hdr_bytes(radiance: np.ndarray) -> bytes:
    """A Radiance .hdr file (RLE scanlines) of (H, W, 3) linear radiance, top row first."""
    h, w = radiance.shape[:2]
    if not 8 <= w < 0x8000:
        raise ValueError(f"RLE .hdr scanlines must be 8 to 32767 pixels wide, not {w}")
    rgbe = _rgbe(np.maximum(np.nan_to_num(radiance), 0.0))
    chunks = [f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {h} +X {w}\n".encode("ascii")]
    start = bytes([2, 2, w >> 8, w & 255])
    for row in rgbe:
        chunks.append(start)
        chunks.extend(_rle_channel(np.ascontiguousarray(row[:, k])) for k in range(4))
    return b"".join(chunks)


def read_hdr(data: bytes) -> np.ndarray:
    """(H, W, 3) float32 from a .hdr written by :func:`hdr_bytes` (RLE scanlines only):
    the round trip the tests check, and the page-weight report's reader."""
    header_end = data.index(b"\n\n") + 2
    line_end = data.index(b"\n", header_end)
    parts = data[header_end:line_end].split()
    h, w = int(parts[1]), int(parts[3])
    pos = line_end + 1
    out = np.zeros((h, w, 4), dtype=np.uint8)
    for r in range(h):
        if data[pos:pos + 2] != b"\x02\x02":
            raise ValueError("not an RLE scanline")
        pos += 4
        for k in range(4):
            x = 0
            while x < w:
                count = data[pos]
                pos += 1
                if count > 128:
                    out[r, x:x + count - 128, k] = data[pos]
                    pos += 1
                    x += count - 128
                else:
                    out[r, x:x + count, k] = np.frombuffer(data, np.uint8, count, pos)
                    pos += count
                    x += count
    e = out[..., 3].astype(np.int32)
    scale = np.where(e > 0, np.ldexp(1.0, e - 136), 0.0)
    return (out[..., :3] * scale[..., None]).astype(np.float32)
