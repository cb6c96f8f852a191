#!/usr/bin/env python3
"""Render-pipeline throughput: render-only vs render+readback vs render+encode, in one run.

    python tools/bench_render.py                                  # 60 frames, 720p + 1080p
    python tools/bench_render.py --frames 30 --heights 720 --preset medium veryfast

For each height (16:9 width) one :class:`engine.render.stage.Stage` renders the scene
(default: ``scenes/turntable.toml``'s asset and stage, orbit camera, msaa 4 like
production) and, after ``--warmup`` frames, measures over ``--frames`` frames:

``render``    ``Stage.set_time`` + ``Stage.render`` (no conversion to numpy).
``capture``   ``Stage.capture`` (render + ``read_frame``: the RGBA array the writer gets).
``encode``    the captured frames fed to ``FrameWriter`` with no rendering (encoder alone).
``full``      what ``engine.render.offline.render_clip`` does: ``capture`` + ``FrameWriter``
              to an H.264 ``.mp4`` in a temporary directory, timed from opening the
              writer to ``close()`` returning (encoder start-up and flush included),
              once per ``--preset``.

Frame i is rendered at time i / fps, so every mode renders the same frames.  Printed per
row: fps, the ratio to render-only, seconds per frame the render thread spent inside
``FrameWriter.write`` (copy + waiting on a full queue), and the CPU seconds per frame
of this process (renderer) and of ffmpeg (encoder).

All modes are repeated ``--rounds`` times, interleaved, on the same Stage; the table
shows the best fps of each mode over the rounds (noise from other tenants only ever
slows a run down), its ratio to the best render-only fps, and each round's own ratio.
The machines this runs on are shared and noisy: compare ratios within one run, not
absolute fps across runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from benchlib import cpu_model  # tools/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a plain checkout, uninstalled
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.render import engine_setup  # noqa: E402
from engine.render.stage import Stage  # noqa: E402
from engine.render.writers import X264_PRESETS, FrameWriter  # noqa: E402
from engine.scene import scene_from_dict  # noqa: E402

DEFAULT_SCENE = ROOT / "scenes" / "turntable.toml"


@dataclass
class Row:
    height: int
    width: int
    mode: str
    frames: int
    seconds: float
    write_s: float = 0.0  # render thread inside FrameWriter.write
    self_cpu: float = 0.0  # CPU seconds of this process (all threads: llvmpipe included)
    child_cpu: float = 0.0  # CPU seconds of waited-for children (ffmpeg)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_scene_dict(path: Path, msaa: int) -> dict:
    doc = tomllib.loads(path.read_text())
    source = Path(doc["asset"]["source"])
    if not source.is_absolute():
        source = (path.parent / source).resolve()
    doc["asset"]["source"] = str(source)
    camera = doc.setdefault("camera", {})
    camera["move"] = "orbit"
    output = doc.setdefault("output", {})
    output.pop("file", None)  # the bench writes into a temporary directory
    output["msaa"] = msaa
    output["aspect"] = "16:9"
    return doc


class Meter:
    """Wall time and CPU time (self and waited-for children) of a block."""

    def __enter__(self) -> Meter:
        self._self0 = resource.getrusage(resource.RUSAGE_SELF)
        self._child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._t0
        s1 = resource.getrusage(resource.RUSAGE_SELF)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.self_cpu = (s1.ru_utime + s1.ru_stime) - (self._self0.ru_utime + self._self0.ru_stime)
        self.child_cpu = (c1.ru_utime + c1.ru_stime) - (
            self._child0.ru_utime + self._child0.ru_stime
        )


def bench_height(doc: dict, height: int, args, tmp: Path) -> list[list[Row]]:
    """All modes at one height, ``args.rounds`` times (interleaved); rows per round."""
    doc = {**doc, "output": {**doc["output"], "height": height}}
    scene = scene_from_dict(doc, None)
    out = scene.output
    width, fps, n = out.width, out.fps, args.frames
    times = [i / fps for i in range(n)]
    rounds: list[list[Row]] = []

    with Stage(scene, width, height) as stage:
        for i in range(args.warmup):  # shader compile, shadow map, caches
            stage.capture(times[i % n])
        for k in range(args.rounds):
            rows: list[Row] = []
            rounds.append(rows)
            print(f"  round {k + 1}/{args.rounds}", flush=True)
            bench_round(stage, width, height, fps, times, args, tmp, rows)
    return rounds


def bench_round(stage, width, height, fps, times, args, tmp, rows) -> None:
    n = len(times)

    def row(mode: str, m: Meter, write_s: float = 0.0) -> Row:
        r = Row(height, width, mode, n, m.seconds, write_s, m.self_cpu, m.child_cpu)
        rows.append(r)
        print(f"    {width}x{height} {mode:<18} {r.fps:6.2f} fps", flush=True)
        return r

    with Meter() as m:
        for t in times:
            stage.set_time(t)
            stage.render()
    row("render", m)

    captured: list[np.ndarray] = []
    with Meter() as m:
        for t in times:
            captured.append(stage.capture(t))
    row("capture", m)

    for preset in args.preset:
        path = tmp / f"encode-{height}-{preset}.mp4"
        write_s = 0.0
        with Meter() as m:
            with FrameWriter(path, width, height, fps, preset=preset) as writer:
                for frame in captured:
                    t0 = time.perf_counter()
                    writer.write(frame)
                    write_s += time.perf_counter() - t0
        row(f"encode {preset}", m, write_s)
        path.unlink(missing_ok=True)
    del captured

    for preset in args.preset:
        path = tmp / f"full-{height}-{preset}.mp4"
        write_s = 0.0
        with Meter() as m:  # the loop of offline.render_clip
            with FrameWriter(path, width, height, fps, preset=preset) as writer:
                for t in times:
                    frame = stage.capture(t)
                    t0 = time.perf_counter()
                    writer.write(frame)
                    write_s += time.perf_counter() - t0
        row(f"full {preset}", m, write_s)
        if args.keep:
            print(f"    kept {path} ({path.stat().st_size / 1e6:.1f} MB)")
        else:
            path.unlink(missing_ok=True)


def print_table(rounds: list[list[Row]]) -> None:
    """One line per size and mode: best fps over the rounds (noise only slows a run
    down), its ratio to the best render-only fps, the per-round ratios, and the
    diagnostics of the best round."""
    print()
    header = (
        f"| {'size':>9} | {'mode':<18} | {'fps':>6} | {'/ render':>8} | "
        f"{'per round':<14} | {'write s/f':>9} | {'render CPU s/f':>14} | "
        f"{'ffmpeg CPU s/f':>14} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    by_height: dict[int, list[list[Row]]] = {}
    for rows in rounds:
        by_height.setdefault(rows[0].height, []).append(rows)
    for group in by_height.values():
        modes = [r.mode for r in group[0]]
        base_best = max(rows[0].fps for rows in group)
        for i, mode in enumerate(modes):
            runs = [rows[i] for rows in group]
            best = max(runs, key=lambda r: r.fps)
            per_round = " ".join(f"{rows[i].fps / rows[0].fps:.2f}" for rows in group)
            write = f"{best.write_s / best.frames:.3f}" if mode.startswith(("full", "enc")) else ""
            print(
                f"| {best.width:>4}x{best.height:<4} | {mode:<18} | {best.fps:6.2f} | "
                f"{best.fps / base_best:8.2f} | {per_round:<14} | {write:>9} | "
                f"{best.self_cpu / best.frames:14.3f} | {best.child_cpu / best.frames:14.3f} |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scene",
        type=Path,
        default=DEFAULT_SCENE,
        help="scene TOML whose asset and stage are used (camera: orbit)",
    )
    parser.add_argument("--frames", type=int, default=60, help="measured frames per mode")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up frames per size")
    parser.add_argument("--heights", type=int, nargs="+", default=[720, 1080])
    parser.add_argument(
        "--preset",
        nargs="+",
        default=["medium", "veryfast", "ultrafast"],
        choices=X264_PRESETS,
        metavar="PRESET",
        help="x264 presets for the full pipeline (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="repeat all modes this many times, interleaved; report the best",
    )
    parser.add_argument("--msaa", type=int, default=4, choices=(0, 2, 4, 8))
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the encoded videos (in the printed temporary directory)",
    )
    args = parser.parse_args(argv)
    if args.frames < 1 or args.warmup < 1 or args.rounds < 1:
        parser.error("--frames, --warmup and --rounds must be at least 1")

    doc = load_scene_dict(args.scene, args.msaa)
    tmp = Path(tempfile.mkdtemp(prefix="maquette-bench-"))
    print(f"scene: {args.scene} (asset {doc['asset']['source']}, orbit, msaa {args.msaa})")
    print(
        f"frames: {args.frames} measured + {args.warmup} warm-up per size; "
        f"presets: {' '.join(args.preset)}; crf 18 yuv420p; output in {tmp}"
    )
    rows: list[list[Row]] = []
    renderer = "unknown"
    try:
        for height in args.heights:
            rows += bench_height(doc, height, args, tmp)
            renderer = engine_setup.gl_renderer()
    finally:
        if not args.keep:
            for p in tmp.iterdir():
                p.unlink()
            tmp.rmdir()

    print()
    print(f"CPU:         {cpu_model()}")
    print(f"cores:       {usable_cores()} usable ({os.cpu_count()} online)")
    print(f"GL renderer: {renderer}")
    print(f"python:      {platform.python_version()}  {platform.platform()}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
