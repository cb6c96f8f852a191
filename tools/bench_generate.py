"""Benchmark `maquette generate` stage by stage on a 1024×1024 input.

    python tools/bench_generate.py [--runs 5] [--model models/NAME.json|classical] [--device auto]

Stages: load, isolate, model, reconstruct, texture, write (median of warm runs; the
first run, which creates the ONNX session, is reported separately). The baseline
measured in the same run is decoding the input PNG and encoding it again with
pillow: `total / baseline` says how many "image round-trips" a generation costs,
a ratio that survives this shared machine's noise better than seconds do. Each warm
run is paired with one made with the back-texture stage off (interleaved), so the
stage's cost is a ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchlib import cpu_model  # tools/ is on sys.path when run as a script
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("load", "isolate", "model", "reconstruct", "texture", "write")


def baseline_seconds(image: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        with Image.open(image) as im:
            im.load()
            with tempfile.TemporaryFile() as handle:
                im.save(handle, format="PNG")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    from engine.generate import GenerateSettings, generate_asset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs (default 5)")
    parser.add_argument("--model", default=None, help="card path or 'classical'")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--faces", type=int, default=20000)
    parser.add_argument("--texture-size", type=int, default=1024)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "input-1024.png"
        with Image.open(ROOT / "scenes/samples/robot-concept.png") as source:
            source.convert("RGB").resize((1024, 1024), Image.Resampling.LANCZOS).save(image)
        settings = GenerateSettings(device=args.device, model=args.model, faces=args.faces,
                                    texture_size=args.texture_size)
        plain = replace(settings, back_texture=False)
        reports, plain_reports = [], []
        for run in range(args.runs + 1):
            result = generate_asset(image, Path(tmp) / f"out{run}.glb", settings,
                                    log=lambda m: None)
            reports.append(result.report)
            if run:  # interleaved pair: the same input with the back-texture stage off
                result = generate_asset(image, Path(tmp) / f"plain{run}.glb", plain,
                                        log=lambda m: None)
                plain_reports.append(result.report)
        base = baseline_seconds(image, max(3, args.runs))

    cold, warm = reports[0], reports[1:]
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"model: {cold['model']['id']} on {cold['model']['device']}; input 1024x1024; "
          f"faces {args.faces}; texture {args.texture_size}; {args.runs} warm runs")
    print(f"{'stage':<12}{'cold s':>9}{'warm s':>9}{'share':>8}")
    total = statistics.median(r["timings_s"]["total"] for r in warm)
    for stage in STAGES:
        value = statistics.median(r["timings_s"].get(stage, 0.0) for r in warm)
        print(f"{stage:<12}{cold['timings_s'].get(stage, 0.0):>9.3f}{value:>9.3f}"
              f"{value / total:>8.0%}")
    print(f"{'total':<12}{cold['timings_s']['total']:>9.3f}{total:>9.3f}")
    plain_total = statistics.median(r["timings_s"]["total"] for r in plain_reports)
    plain_texture = statistics.median(r["timings_s"]["texture"] for r in plain_reports)
    texture = statistics.median(r["timings_s"]["texture"] for r in warm)
    print(f"back-texture stage off (interleaved pairs): texture {plain_texture:.3f} s, "
          f"total {plain_total:.3f} s; on / off = {total / plain_total:.2f}x total, "
          f"{texture / plain_texture:.2f}x texture")
    print(f"baseline (PNG decode + encode of the input): {base:.3f} s; "
          f"total / baseline = {total / base:.1f}x")
    print(f"target: total warm < 1.5 s on 2 CPU cores -> {'met' if total < 1.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
