"""Offline rendering: a scene to a clip (frame capture + streaming encode) or a still.

Deterministic: frame i is rendered at time i / fps, never from wall time.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.fileio import guard_inputs, image_format, write_image
from engine.render.stage import Stage
from engine.render.writers import FrameWriter
from engine.scene.model import Scene
from engine.scene.source import scene_inputs


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


def progress_bar(total: int, enabled: bool):
    """The frames progress bar every long render shows (tqdm, on stderr)."""
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", disable=not enabled, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} frames "
                           "[{elapsed}<{remaining}, {rate_fmt}]")


def output_target(scene: Scene, output: Path | str | None = None) -> str:
    """The output path as the writer takes it: `output`, else the scene's [output] file
    (which the loader lets through without a suffix only when it ended with /, a folder
    of PNG frames: Path() drops that slash, so it is put back here)."""
    if output is not None:
        return os.fspath(output)
    file = scene.output.file
    return os.fspath(file) + ("/" if not file.suffix else "")


def render_clip(
    scene: Scene,
    output: Path | str | None = None,
    *,
    progress: bool = True,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
    inputs: Iterable[Path] = (),
    frames: int | None = None,
    warn: Callable[[str], None] | None = None,
) -> RenderStats:
    """Render every frame of `scene` (or only its first `frames`, the shot's timing
    unchanged) and stream it to `output` (default: the scene's file). `warn` is given
    the framing guard's warning (engine.scene.framing) before the first frame, when the
    asset's bounds leave the frame at some frame time.

    The output is written under a temporary name and moved into place only when
    complete; on any failure nothing is left under the final name. It is refused if it
    is one of the scene's files or of `inputs` (what else the caller read).
    """
    out = scene.output
    path = output_target(scene, output)
    guard_inputs([Path(path)], scene_inputs(scene, *inputs))
    alpha = scene.stage.background.transparent
    count = out.frame_count if frames is None else max(1, min(int(frames), out.frame_count))
    start = time.perf_counter()
    with Stage(scene, out.width, out.height) as stage:
        _warn_framing(stage, [stage.timeline.frame_time(i) for i in range(count)], warn)
        # Panda's BGRA bottom-up bytes go to the writer as they are: one copy per frame
        with FrameWriter(path, out.width, out.height, out.fps, alpha=alpha,
                         preset=out.quality, layout="bgra-bottom-up") as writer, \
                progress_bar(count, progress) as bar:
            for index in range(count):
                stage.set_time(stage.timeline.frame_time(index))
                stage.render()
                writer.write(stage.frame_bytes())
                if on_frame is not None:
                    on_frame(index, stage.read_frame())
                bar.update(1)
            final = writer.close()
    return RenderStats(final, count, out.width, out.height,
                       time.perf_counter() - start)


def _warn_framing(stage: Stage, times: list[float], warn: Callable[[str], None] | None
                  ) -> None:
    """Pass the framing guard's warning for `times` (s) to `warn`, if any."""
    if warn is None:
        return
    from engine.scene.framing import framing_report, framing_warning

    message = framing_warning(stage.scene, framing_report(stage.timeline, times))
    if message:
        warn(message)


def render_still(scene: Scene, at: float, output: Path, *, inputs: Iterable[Path] = (),
                 warn: Callable[[str], None] | None = None) -> Path:
    """Render the frame at time `at` (seconds) to a PNG or JPEG (by the suffix),
    atomically; never over one of the scene's files or `inputs`. `warn`: as for
    render_clip, for that one time."""
    from PIL import Image

    output = Path(output)
    if not isinstance(at, int | float) or not math.isfinite(at) or at < 0:
        raise InputError(f"--at: expected a time in seconds, 0 or more; got {at!r}")
    transparent = scene.stage.background.transparent
    image_format(output, alpha=transparent, what="a still")
    files = scene_inputs(scene, *inputs)
    guard_inputs([output], files)
    out = scene.output
    with Stage(scene, out.width, out.height) as stage:
        _warn_framing(stage, [at], warn)
        stage.set_time(at)
        stage.render()
        # Panda's BGRA bottom-up bytes decoded by PIL in one pass (read_frame's RGBA
        # conversion and flip, then the RGB slice: ~45 ms of a 1080p still)
        mode, raw = ("RGBA", "BGRA") if transparent else ("RGB", "BGRX")
        image = Image.frombuffer(mode, (out.width, out.height), stage.frame_bytes(), "raw",
                                 raw, 0, -1).copy()  # (a copy: the bytes are Panda's)
    write_image(image, output, files, what="a still")
    return output
