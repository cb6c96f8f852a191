"""Panda3D start-up: configuration, one graphics pipe (and ShowBase, for the viewer) per
process, offscreen buffers.

This is the one seam between Maquette and the platform's graphics: headless EGL
(Mesa llvmpipe or a GPU) when there is no display or an offscreen render is
asked for, a real window otherwise.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass

from engine.errors import WorkError

_lock = threading.Lock()
_graphics = None  # Graphics, once started
_base = None  # the ShowBase, once a viewer asked for one
_offscreen_only: bool | None = None

BASE_PRC = """
audio-library-name null
sync-video #f
framebuffer-alpha #t
framebuffer-srgb #f
textures-power-2 none
notify-level-display fatal
notify-level-device fatal
notify-level-glgsg warning
notify-level-egldisplay fatal
default-directnotify-level warning
model-cache-dir
gl-force-fbo-color #f
transform-cache #f
loader-support-entry-points #f
"""


# gl-force-fbo-color #f: a buffer that asks for no colour gets none (Panda adds an RGB8
# attachment by default): the key light's shadow map is depth-only, nothing cleared or
# written but depth (measured: 0.91 of the per-frame CPU at 1080p under llvmpipe).
# transform-cache #f: Panda's TransformState cache hands a new transform an equal-within-
# 1e-6 one made earlier in the process, so a frame depended on what the process drew
# before it (a campaign's chunks differed, edge pixels by up to 48 levels, between one
# worker and two). The opaque bin draws in scene-graph order (see _start), not sorted
# by state: that sort compares attribute pointers, so where two of the asset's surfaces
# tie in depth (an ear against a head) which one showed depended on heap addresses.
# With both, the same scene gives the same bytes in any process, after anything.
# loader-support-entry-points #f: ShowBase's Loader would scan every installed package's
# entry points for model loaders (0.06 s of a still's ~1.6 CPU s); Maquette loads glTF
# through panda3d-gltf's converter itself (asset_node) and nothing through Panda's loader.


class RenderUnavailable(WorkError):
    """No graphics pipe: the system lacks EGL/GL libraries."""


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@dataclass
class Graphics:
    """What offscreen rendering needs of Panda3D: the process's graphics engine and pipe
    (the attribute names ShowBase gives them, so a ShowBase serves as one too)."""

    graphicsEngine: object
    pipe: object


def get_graphics():
    """The process's graphics engine and pipe, started on first use (headless EGL unless
    a viewer's ShowBase came first: then that ShowBase). Offscreen rendering needs no
    ShowBase, whose start costs ~0.1 CPU s of every render or still process."""
    with _lock:
        if _base is not None:
            return _base
        return _start(offscreen=True)


def get_base(offscreen: bool = True):
    """The process's ShowBase (the viewer's tasks, events and windows), created on first
    use with no default window, on the pipe get_graphics made if it ran first.

    offscreen=True selects headless EGL (works without a display). A later call
    asking for a window when the first one chose offscreen raises RuntimeError.
    """
    global _base
    with _lock:
        if _base is not None or _graphics is not None:
            if not offscreen and _offscreen_only:
                raise RuntimeError("Panda3D was already started offscreen in this process")
        if _base is not None:
            return _base
        graphics = _graphics or _start(offscreen)
        from direct.showbase.ShowBase import ShowBase

        stderr_fd = _silence_stderr()  # /dev/input probing prints harmless noise
        try:
            _base = ShowBase(windowType="none")
        finally:
            _restore_stderr(stderr_fd)
        _base.pipe = graphics.pipe  # (what its makeDefaultPipe would have made)
        return _base


def _start(offscreen: bool) -> Graphics:
    """Configure Panda3D and make the pipe (once per process; under _lock)."""
    global _graphics, _offscreen_only
    if _graphics is not None:
        return _graphics
    from panda3d.core import (
        CullBinManager,
        GraphicsEngine,
        GraphicsPipeSelection,
        loadPrcFileData,
    )

    headless = offscreen or not has_display()
    prc = BASE_PRC
    if headless:
        prc += "load-display p3headlessgl\naux-display pandagl\nwindow-type offscreen\n"
    else:
        prc += "load-display pandagl\naux-display p3headlessgl\n"
    loadPrcFileData("maquette", prc)
    stderr_fd = _silence_stderr()  # EGL probing prints harmless noise
    try:
        pipe = GraphicsPipeSelection.get_global_ptr().make_default_pipe()
    finally:
        _restore_stderr(stderr_fd)
    if pipe is None:
        raise RenderUnavailable(
            "No graphics pipe is available. Install the Mesa EGL libraries: "
            "sudo apt-get install -y libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri"
        )
    bins = CullBinManager.get_global_ptr()  # a prc "cull-bin" line comes too late
    bins.set_bin_type(bins.find_bin("opaque"), CullBinManager.BT_unsorted)
    _graphics = Graphics(GraphicsEngine.get_global_ptr(), pipe)
    _offscreen_only = headless
    return _graphics


def _silence_stderr() -> int | None:
    if os.environ.get("MAQUETTE_DEBUG_GL"):
        return None
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        return saved
    except OSError:
        return None


def _restore_stderr(saved: int | None) -> None:
    if saved is not None:
        os.dup2(saved, 2)
        os.close(saved)


def make_float_buffer(host, width: int, height: int, name: str, sort: int, samples: int = 0,
                      bits: int = 16):
    """A float RGBA buffer on `host`'s context (width × height, `bits` 16 (half) or 32
    per channel, `samples` MSAA samples, 24-bit depth), cleared to (0, 0, 0, 0) and depth
    each frame, rendering into a bound F_rgba16 or F_rgba32 texture; (buffer, texture),
    or None when the driver refuses it."""
    from panda3d.core import (
        FrameBufferProperties,
        GraphicsOutput,
        GraphicsPipe,
        Texture,
        WindowProperties,
    )

    base = get_graphics()
    fb = FrameBufferProperties()
    fb.set_float_color(True)
    fb.set_rgba_bits(bits, bits, bits, bits)
    fb.set_depth_bits(24)
    fb.set_multisamples(samples)
    buffer = base.graphicsEngine.make_output(
        base.pipe, name, sort, fb, WindowProperties.size(width, height),
        GraphicsPipe.BF_refuse_window, host.get_gsg(), host)
    if buffer is None:
        return None
    texture = Texture(name)
    texture.set_format(Texture.F_rgba32 if bits == 32 else Texture.F_rgba16)
    texture.set_component_type(Texture.T_float)
    buffer.add_render_texture(texture, GraphicsOutput.RTM_bind_or_copy)
    buffer.set_clear_color_active(True)
    buffer.set_clear_color((0, 0, 0, 0))
    buffer.set_clear_depth_active(True)
    return buffer, texture


def make_offscreen_buffer(width: int, height: int, name: str = "maquette"):
    """An RGBA8 offscreen buffer of exactly width × height pixels, sharing the GSG."""
    from panda3d.core import FrameBufferProperties, GraphicsPipe, WindowProperties

    global _gsg
    base = get_graphics()
    fb = FrameBufferProperties()
    fb.set_rgba_bits(8, 8, 8, 8)
    fb.set_depth_bits(24)
    props = WindowProperties.size(width, height)
    flags = GraphicsPipe.BF_refuse_window
    stderr_fd = _silence_stderr()
    try:
        buffer = base.graphicsEngine.make_output(base.pipe, name, 0, fb, props, flags, _gsg)
    finally:
        _restore_stderr(stderr_fd)
    if buffer is None:
        raise RenderUnavailable(f"could not create a {width}x{height} offscreen buffer")
    _gsg = buffer.get_gsg()
    return buffer


_gsg = None  # the first buffer's GSG: later buffers share it (and its compiled shaders)


def gl_renderer() -> str:
    """'vendor renderer version' of the GL driver in use (after a buffer exists)."""
    if _gsg is None:
        return "unknown"
    return f"{_gsg.get_driver_renderer()} / {_gsg.get_driver_version()}"


def open_window(width: int, height: int, title: str):
    """An on-screen window of width × height pixels titled `title`, on the process's
    ShowBase (started for a display: `get_base(offscreen=False)`).
    Raises RenderUnavailable (work failed, exit 1) when the platform gives none."""
    from panda3d.core import WindowProperties

    global _gsg
    base = get_base(offscreen=False)
    props = WindowProperties()
    props.set_size(width, height)
    props.set_title(title)
    win = base.openWindow(props=props, type="onscreen", makeCamera=False, keepCamera=False)
    if win is None:
        raise RenderUnavailable(f"could not open a {width}x{height} window")
    _gsg = _gsg or win.get_gsg()  # gl_renderer() names the window's driver too
    return win


def close_output(output) -> None:
    """Close a window or offscreen buffer made by open_window / make_offscreen_buffer."""
    if output.is_of_type(_window_type()):
        _base.closeWindow(output)  # (a window was opened on the viewer's ShowBase)
    else:
        get_graphics().graphicsEngine.remove_window(output)


def _window_type():
    from panda3d.core import GraphicsWindow

    return GraphicsWindow.get_class_type()
