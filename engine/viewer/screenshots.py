"""Screenshots: the names they get (--screenshot's name, then NAME-2, NAME-3 ...; else
maquette-SOURCE-001.png in the working folder) and the frame read back from the
viewer's output (RGBA8, top row first)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ScreenshotNames:
    """Hands out screenshot paths; `taken` counts those given under --screenshot's name."""

    def __init__(self, source: Path, path: Path | None):
        self.source, self.path, self.taken = source, path, 0

    def next(self) -> Path:
        if self.path is not None:
            self.taken += 1
            if self.taken == 1:
                return self.path
            p = self.path
            return p.with_name(f"{p.stem}-{self.taken}{p.suffix or '.png'}")
        i = 1
        while True:
            path = Path(f"maquette-{self.source.stem}-{i:03d}.png")
            if not path.exists():
                return path
            i += 1


class FrameGrabber:
    """Copies the output's next rendered frame to RAM (a triggered render-to-texture
    copy, attached on first use so frames without a grab read nothing back)."""

    def __init__(self, output):
        self.output = output
        self.texture = None

    def grab(self, render) -> np.ndarray:
        """Call render() (one frame) and return it: (H, W, 4) uint8 RGBA, top row first."""
        from panda3d.core import GraphicsOutput, Texture

        if self.texture is None:
            self.texture = Texture("viewer-screenshot")
            self.output.add_render_texture(self.texture, GraphicsOutput.RTM_triggered_copy_ram)
        self.output.trigger_copy()
        render()
        tex = self.texture
        data = tex.get_ram_image_as("RGBA")
        image = np.frombuffer(data, dtype=np.uint8).reshape(tex.get_y_size(), tex.get_x_size(), 4)
        return image[::-1].copy()
