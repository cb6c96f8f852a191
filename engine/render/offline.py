"""Offline rendering: a scene to a clip (frame capture + streaming encode) or a still.

Deterministic: frame i is rendered at time i / fps, never from wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.fileio import atomic_output
from engine.render.stage import Stage
from engine.render.writers import FrameWriter
from engine.scene.model import Scene


@dataclass
class RenderStats:
    path: Path
    frames: int
    width: int
    height: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", disable=not enabled, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} frames "
                           "[{elapsed}<{remaining}, {rate_fmt}]")


def render_clip(
    scene: Scene,
    output: Path | None = None,
    *,
    progress: bool = True,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
) -> RenderStats:
    """Render every frame of `scene` and stream it to `output` (default: the scene's file).

    The output is written under a temporary name and moved into place only when
    complete; on any failure nothing is left under the final name.
    """
    out = scene.output
    path = Path(output) if output is not None else out.file
    check_not_input(scene, path)
    alpha = scene.stage.background.transparent
    start = time.perf_counter()
    with Stage(scene, out.width, out.height) as stage:
        with FrameWriter(path, out.width, out.height, out.fps, alpha=alpha,
                         preset=out.quality) as writer, \
                _progress(out.frame_count, progress) as bar:
            for index in range(out.frame_count):
                frame = stage.capture(stage.timeline.frame_time(index))
                writer.write(frame)
                if on_frame is not None:
                    on_frame(index, frame)
                bar.update(1)
            final = writer.close()
    return RenderStats(final, out.frame_count, out.width, out.height,
                       time.perf_counter() - start)


def render_still(scene: Scene, at: float, output: Path) -> Path:
    """Render the frame at time `at` (seconds) to a PNG, atomically."""
    from PIL import Image

    output = Path(output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"{output}: a still is written as PNG; use a .png file name")
    check_not_input(scene, output)
    out = scene.output
    with Stage(scene, out.width, out.height) as stage:
        frame = stage.capture(at)
    image = Image.fromarray(frame if scene.stage.background.transparent else frame[..., :3])
    write_png_atomic(image, output)
    return output


def write_png_atomic(image, output: Path) -> None:
    """Save a PIL image to `output` via a temporary sibling and os.replace."""
    with atomic_output(output) as handle:
        image.save(handle, format="PNG")


def check_not_input(scene: Scene, output: Path) -> None:
    """Refuse to write over the scene's own files."""
    target = Path(output).resolve()
    inputs = [scene.asset.source.resolve()]
    if scene.path is not None:
        inputs.append(Path(scene.path).resolve())
    if target in inputs:
        raise ValueError(f"{output}: refusing to overwrite an input of the scene")
