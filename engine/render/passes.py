"""Render passes for compositing and image-to-video hand-off: depth, normals, mask.

Exact from the renderer, never estimated: a second camera on the Stage, sharing its
lens and pose, draws the same asset (the ground is left out) into two extra offscreen
buffers in the same `render_frame()` as the beauty, so every pass is frame-aligned:

- a geometry buffer (RGBA32F, one sample per pixel, no blending): the camera-space unit
  normal and the depth along the view axis, in metres, from the interpolated view-space
  position (passes.vert/passes.frag.glsl) — metric and exact to float precision, not
  read back from the 24-bit depth buffer;
- a mask buffer with the beauty's own format and MSAA samples: the asset's coverage,
  resolved exactly as the beauty's alpha is (the same vertex transform rasterises the
  same samples), then turned to 8 bits by a full-screen pass as tonemap.frag turns the
  beauty's (the driver's float-to-unorm rounding is not numpy's: 0.5 → 127 on llvmpipe).

Nothing here is built when no pass is asked for: a Stage without `PassBuffers` renders
as before.

Frames and units: camera space is OpenGL's (x right, y up, z toward the viewer; the
camera looks along -z); depth in metres along the view axis (not the ray length); image
rows top first. `depth` is +inf where no surface was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PASS_NAMES = ("depth", "normal", "mask")
PASSES_MASK_BIT = 2  # camera bit of the passes camera (0: scene camera, 1: key light)


@dataclass
class PassFrame:
    """One frame's passes, (H, W) top row first: `depth` float32 metres (+inf: no
    surface), `normal` (H, W, 3) float32 unit camera-space (0 where no surface), `mask`
    coverage in [0, 1], in steps of 1/255 as the beauty's alpha (None when the mask was
    not asked for)."""

    depth: np.ndarray
    normal: np.ndarray
    mask: np.ndarray | None


class PassBuffers:
    """Extra buffers on a Stage that render its passes each frame (see module doc)."""

    def __init__(self, stage, passes=PASS_NAMES):
        from panda3d.core import (
            BitMask32,
            Camera,
            FrameBufferProperties,
            GraphicsOutput,
            GraphicsPipe,
            RenderState,
            ShaderAttrib,
            Texture,
            WindowProperties,
        )

        from engine.render.asset_layer import full_frame_quad
        from engine.render.engine_setup import make_float_buffer, make_offscreen_buffer
        from engine.render.stage import _make_shader

        unknown = sorted(set(passes) - set(PASS_NAMES))
        if unknown:
            raise ValueError(f"unknown passes {unknown}; expected {', '.join(PASS_NAMES)}")
        self.stage = stage
        self.passes = tuple(p for p in PASS_NAMES if p in passes)
        base = stage._graphics
        engine = base.graphicsEngine
        size = WindowProperties.size(stage.width, stage.height)
        gsg, host = stage.output.get_gsg(), stage.output
        self.buffers = []

        def camera(name: str, shader) -> object:
            node = Camera(name, stage.lens)  # the Stage's own lens: same frustum, always
            node.set_camera_mask(BitMask32.bit(PASSES_MASK_BIT))
            node.set_initial_state(RenderState.make(ShaderAttrib.make(shader, 1000), 1000))
            return stage.camera.attach_new_node(node)  # child: the Stage's pose, always

        # Geometry: normal + metric depth, float32, one sample (no blending across edges).
        fb = FrameBufferProperties()
        fb.set_float_color(True)
        fb.set_rgba_bits(32, 32, 32, 32)
        fb.set_depth_bits(24)
        self.geometry = engine.make_output(base.pipe, "maquette-passes", -6, fb, size,
                                           GraphicsPipe.BF_refuse_window, gsg, host)
        if self.geometry is None:
            raise RuntimeError("could not create the passes buffer")
        self.buffers.append(self.geometry)
        self.geometry_texture = Texture("passes")
        self.geometry_texture.set_format(Texture.F_rgba32)
        self.geometry_texture.set_component_type(Texture.T_float)
        self.geometry.add_render_texture(self.geometry_texture, GraphicsOutput.RTM_copy_ram)
        self.geometry.set_clear_color_active(True)
        self.geometry.set_clear_color((0, 0, 0, 0))
        self.geometry.set_clear_depth_active(True)
        shader = _make_shader("passes.vert.glsl", "passes.frag.glsl")
        self.geometry_camera = camera("passes-camera", shader)
        self.geometry.make_display_region().set_camera(self.geometry_camera)

        # Mask: the beauty's format and samples, coverage in alpha.
        self.mask = self.mask_texture = self.mask_camera = self.mask_root = None
        if "mask" in self.passes:
            made = make_float_buffer(host, stage.width, stage.height, "maquette-mask", -6,
                                     stage.msaa)
            if made is None:
                raise RuntimeError("could not create the mask buffer")
            self.mask, coverage = made
            self.buffers.append(self.mask)
            self.mask_camera = camera("mask-camera",
                                      _make_shader("depth.vert.glsl", "depth.frag.glsl"))
            self.mask.make_display_region().set_camera(self.mask_camera)
            # ... then to 8 bits by a full-screen pass, as the beauty's alpha is made
            self.mask8 = make_offscreen_buffer(stage.width, stage.height, "maquette-mask8")
            self.buffers.append(self.mask8)
            self.mask8.set_sort(-4)  # after the mask buffer (-6)
            self.mask8.set_clear_color_active(True)
            self.mask8.set_clear_color((0, 0, 0, 0))
            self.mask_texture = Texture("mask")
            self.mask8.add_render_texture(self.mask_texture, GraphicsOutput.RTM_copy_ram)
            self.mask_root, card, post_camera = full_frame_quad("mask-post")
            card.set_shader(_make_shader("post.vert.glsl", "mask.frag.glsl"))
            card.set_shader_input("mask_color", coverage)
            self.mask8.make_display_region().set_camera(post_camera)

        if stage.ground is not None:  # the passes describe the asset, not the shadow catcher
            stage.ground.hide(BitMask32.bit(PASSES_MASK_BIT))

    def _read(self, texture, channels: int = 4) -> np.ndarray:
        h, w = self.stage.height, self.stage.width
        data = np.frombuffer(texture.get_ram_image_as("RGBA"), np.float32)
        return data.reshape(h, w, channels)[::-1]

    def read(self) -> PassFrame:
        """The passes of the frame the Stage rendered last."""
        geometry = self._read(self.geometry_texture)
        depth = geometry[..., 3].copy()
        depth[depth <= 0.0] = np.inf
        normal = np.ascontiguousarray(geometry[..., :3])
        mask = None
        if self.mask_texture is not None:  # 8-bit, as the beauty's alpha
            data = np.frombuffer(self.mask_texture.get_ram_image_as("RGBA"), np.uint8)
            mask = data.reshape(self.stage.height, self.stage.width, 4)[::-1, :, 3] / 255.0
        return PassFrame(depth=depth, normal=normal, mask=mask)

    def close(self) -> None:
        engine = self.stage._graphics.graphicsEngine
        for buffer in self.buffers:
            engine.remove_window(buffer)
        self.buffers = []
        for node in (self.geometry_camera, self.mask_camera, self.mask_root):
            if node is not None:
                node.remove_node()


# ---------------------------------------------------------------------- encoding
# Pure numpy; the file writers take an open binary handle (a Transaction's staged file).

def inverse_depth(depth: np.ndarray, near: float, far: float) -> np.ndarray:
    """Depth (metres, +inf: nothing) → the convention of depth-conditioned models
    (MiDaS-style relative inverse depth): (1/z - 1/far) / (1/near - 1/far), 1 at the
    shot's nearest surface, 0 at its farthest and where nothing was drawn. `near`, `far`:
    the shot's depth range in metres (equal: every surface is 1)."""
    out = np.zeros(depth.shape, np.float64)
    hit = np.isfinite(depth)
    if far - near <= 1e-12 * far:
        out[hit] = 1.0
        return out
    out[hit] = (1.0 / depth[hit] - 1.0 / far) / (1.0 / near - 1.0 / far)
    return np.clip(out, 0.0, 1.0)


DEPTH_CODES = 65534  # 16-bit depth: 1 (the shot's farthest surface) .. 65535 (nearest)


def depth_codes(depth: np.ndarray, near: float, far: float) -> np.ndarray:
    """Depth (metres, +inf: nothing) → 16-bit codes of `inverse_depth`: 0 where nothing
    was drawn, 1 + round(inverse_depth * 65534) on a surface, so that the shot's
    farthest surface (1) stays apart from nothing (0)."""
    codes = 1 + np.round(inverse_depth(depth, near, far) * DEPTH_CODES)
    return np.where(np.isfinite(depth), codes, 0).astype(np.uint16)


def depth_from_codes(codes: np.ndarray, near: float, far: float) -> np.ndarray:
    """The inverse of `depth_codes`: 16-bit codes → metres (0 → +inf)."""
    codes = np.asarray(codes, np.float64)
    value = (codes - 1) / DEPTH_CODES
    with np.errstate(divide="ignore"):
        if far - near <= 1e-12 * far:
            return np.where(codes > 0, near, np.inf)
        inv = value * (1.0 / near - 1.0 / far) + 1.0 / far
        return np.where(codes > 0, 1.0 / inv, np.inf)


def write_png16(handle, image: np.ndarray) -> None:
    """(H, W) or (H, W, 3) floats in [0, 1] as a 16-bit grey or RGB PNG."""
    import zlib

    values = np.round(np.clip(image, 0.0, 1.0) * 65535.0).astype(">u2")
    h, w = values.shape[:2]
    colour = 2 if values.ndim == 3 else 0  # PNG colour type: RGB or greyscale
    raw = np.concatenate([np.zeros((h, 1), np.uint8),
                          values.reshape(h, -1).view(np.uint8)], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([16, colour, 0, 0, 0])
    handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                 + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def read_png16(path) -> np.ndarray:
    """A 16-bit PNG as floats in [0, 1] (PIL reads the greyscale ones; RGB by hand)."""
    import zlib

    data = open(path, "rb").read()
    pos, chunks = 8, {}
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        chunks.setdefault(kind, []).append(data[pos + 8:pos + 8 + n])
        pos += 12 + n
    ihdr = chunks[b"IHDR"][0]
    w, h = int.from_bytes(ihdr[:4], "big"), int.from_bytes(ihdr[4:8], "big")
    if ihdr[8] != 16 or ihdr[12] != 0:
        raise ValueError(f"{path}: not a 16-bit non-interlaced PNG")
    channels = {0: 1, 2: 3}[ihdr[9]]
    raw = np.frombuffer(zlib.decompress(b"".join(chunks[b"IDAT"])), np.uint8)
    stride = w * channels * 2
    rows = raw.reshape(h, stride + 1)
    if np.any(rows[:, 0]):
        raise ValueError(f"{path}: filtered rows (only filter 0 is read here)")
    values = rows[:, 1:].copy().view(">u2").astype(np.float64) / 65535.0
    return values.reshape(h, w, channels)[..., 0] if channels == 1 else \
        values.reshape(h, w, channels)


def write_exr(path, channels: dict[str, np.ndarray], attributes: dict | None = None) -> None:
    """Float32 scanline OpenEXR (ZIP) with named channels, e.g. {"Z": depth, "A": mask}
    (the reference OpenEXR library, `openexr` on PyPI)."""
    import OpenEXR

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage,
              **(attributes or {})}
    data = {name: np.ascontiguousarray(values, np.float32) for name, values in channels.items()}
    OpenEXR.File(header, data).write(str(path))


def read_exr(path) -> dict[str, np.ndarray]:
    """Channel name → (H, W) float32 array."""
    import OpenEXR

    with OpenEXR.File(str(path)) as exr:
        return {name: np.array(ch.pixels) for name, ch in exr.channels().items()}


def grey_rgba(value: np.ndarray) -> np.ndarray:
    """(H, W) floats in [0, 1] → (H, W, 4) uint8 opaque grey (for the control videos)."""
    g = np.round(np.clip(value, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.dstack([g, g, g, np.full_like(g, 255)])


def normal_rgb(normal: np.ndarray) -> np.ndarray:
    """Unit camera-space normals → (n + 1) / 2 colours (0 where no surface)."""
    hit = np.any(normal != 0.0, axis=-1, keepdims=True)
    return np.where(hit, 0.5 * (normal + 1.0), 0.0)
