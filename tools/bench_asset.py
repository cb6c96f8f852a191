"""Benchmark inspect, prep (1M -> 50k triangles) and every export on a 1M-triangle
textured mesh.

    .venv/bin/python tools/bench_asset.py [--triangles 1000000] [--sheet] [--keep DIR]
                                          [--baseline REV]

The mesh is made here: a bumpy latitude/longitude sphere with a real UV seam and a
2048x2048 painted texture, saved as GLB.  Each step runs in its own Python process,
so its peak memory (max RSS, which includes the ~0.2 GB of the interpreter and
libraries) is its own.  Times are wall seconds of the step after imports,
including loading the asset, and the CPU seconds of the process over the same span
(wall time on a shared machine swings with the load; CPU time much less).

--baseline REV also runs every step with the `engine` package as committed at REV
(extracted with `git archive` to a temporary folder), each step right after the
current code's, and prints the ratio baseline / current of CPU and wall seconds:
before/after measured under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a child timing a baseline runs with that revision's tree first on the path
sys.path.insert(0, os.environ.get("MAQUETTE_BENCH_ROOT") or str(ROOT))


def make_mesh(path: Path, triangles: int) -> None:
    import numpy as np
    import trimesh
    from PIL import Image, ImageDraw
    from trimesh.visual import TextureVisuals
    from trimesh.visual.material import PBRMaterial

    rows = int(round((triangles / 2) ** 0.5))
    cols = rows
    theta = np.linspace(0, np.pi, rows + 1)
    phi = np.linspace(0, 2 * np.pi, cols + 1)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    bump = 1.0 + 0.03 * np.sin(9 * t) * np.cos(7 * p) + 0.01 * np.sin(40 * t) * np.sin(37 * p)
    radius = 0.15 * bump
    vertices = np.stack([radius * np.sin(t) * np.sin(p), radius * np.cos(t) + 0.15,
                         radius * np.sin(t) * np.cos(p)], axis=-1).reshape(-1, 3)
    idx = np.arange((rows + 1) * (cols + 1)).reshape(rows + 1, cols + 1)
    vertices[idx[0]] = vertices[idx[0, 0]]
    vertices[idx[-1]] = vertices[idx[-1, 0]]
    vertices[idx[:, -1]] = vertices[idx[:, 0]]  # the seam: same position, other UV
    uv = np.stack([p / (2 * np.pi), 1 - t / np.pi], axis=-1).reshape(-1, 2)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    # at the poles one triangle of each quad collapses: keep the other
    faces = np.vstack([np.stack([a, c, d], -1)[:-1].reshape(-1, 3),
                       np.stack([a, d, b], -1)[1:].reshape(-1, 3)])
    image = Image.new("RGB", (2048, 2048), (200, 180, 150))
    draw = ImageDraw.Draw(image)
    for i in range(0, 2048, 128):
        draw.rectangle([i, 0, i + 63, 2047], fill=(60 + i % 180, 90, 160))
        draw.rectangle([0, i, 2047, i + 31], fill=(230, 220, 90))
    mesh = trimesh.Trimesh(vertices, faces, process=False,
                           visual=TextureVisuals(uv=uv, material=PBRMaterial(
                               baseColorTexture=image, roughnessFactor=0.5)))
    path.write_bytes(mesh.export(file_type="glb"))


def run_step(step: str, source: Path, work: Path) -> dict:
    """In this (child) process: one step, timed. Returns figures."""
    import engine.asset.export as export
    from engine.asset.inspect import inspect_asset
    from engine.asset.io import load_asset
    from engine.asset.prep import PrepOptions, prepare

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    cpu_start = time.process_time()
    asset = load_asset(source)
    loaded = time.perf_counter()
    extra = {}
    if step == "load":
        pass
    elif step == "inspect":
        report = inspect_asset(asset)
        extra = {"triangles": report["counts"]["triangles"]}
    elif step == "sheet":
        # the whole `maquette inspect --sheet` (report + contact sheet of a display copy)
        import contextlib
        import io

        from engine.cli import main as cli

        with contextlib.redirect_stdout(io.StringIO()):
            if cli(["inspect", str(source), "--sheet", str(work / "sheet.png")]) != 0:
                raise SystemExit("inspect --sheet failed")
    elif step == "prep":
        result = prepare(asset, PrepOptions(faces=50_000, pivot="base", up="y"))
        export.export_mesh(result.mesh, work / "prepped.glb")
        extra = {"triangles_out": result.after["triangles"]}
    elif step.startswith("export-"):
        fmt = step.split("-", 1)[1]
        written = export.export_mesh(asset.mesh, work / f"out.{fmt}",
                                     units="mm" if fmt == "stl" else "m")
        exported = time.perf_counter()
        export.verify_export(written.path, export.expected_figures(
            asset.mesh, fmt, "mm" if fmt == "stl" else "m"))
        extra = {"export_s": exported - loaded, "verify_s": time.perf_counter() - exported,
                 "bytes": sum(p.stat().st_size for p in written.files)}
    end = time.perf_counter()
    return {"step": step, "seconds": end - start, "cpu_s": time.process_time() - cpu_start,
            "load_s": loaded - start,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "baseline_mb": baseline, **extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triangles", type=int, default=1_000_000)
    parser.add_argument("--sheet", action="store_true",
                        help="also time `maquette inspect --sheet` (report + contact sheet)")
    parser.add_argument("--keep", help="keep the mesh and outputs in this folder")
    parser.add_argument("--baseline", metavar="REV",
                        help="also time the engine package as committed at this git revision")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, source, work = args.child
        print(json.dumps(run_step(step, Path(source), Path(work))))
        return 0

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="maquette-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / "bench.glb"
    t0 = time.perf_counter()
    make_mesh(source, args.triangles)
    print(f"mesh: {source} ({source.stat().st_size / 1e6:.1f} MB, made in "
          f"{time.perf_counter() - t0:.1f} s)")
    steps = ["load", "inspect", "prep"] + [f"export-{f}" for f in
                                           ("glb", "gltf", "obj", "fbx", "usdz", "stl", "ply")]
    if args.sheet:
        steps.insert(2, "sheet")
    baseline_root = None
    if args.baseline:
        baseline_root = Path(tempfile.mkdtemp(prefix="maquette-baseline-"))
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "engine"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(baseline_root)], input=archive, check=True)
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline],
                             capture_output=True, text=True, check=True).stdout.strip()
        print(f"baseline: engine/ at {rev}, each step run right after the current code's")

    def child(step: str, root: Path | None) -> dict | None:
        env = {**os.environ, "PYTHONPATH": str(root or ROOT)}
        if root is not None:
            env["MAQUETTE_BENCH_ROOT"] = str(root)
        out = subprocess.run([sys.executable, __file__, "--child", step, str(source),
                              str(work)], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            print(f"{step:<14} FAILED{' (baseline)' if root else ''}\n{out.stderr[-2000:]}")
            return None
        return json.loads(out.stdout.strip().splitlines()[-1])

    print(f"{'step':<14}{'seconds':>9}{'CPU s':>8}{'of which load':>15}{'peak MB':>9}  notes")
    for step in steps:
        r = child(step, None)
        if r is None:
            return 1
        notes = ""
        if "export_s" in r:
            notes = (f"write {r['export_s']:.2f} s + read-back check {r['verify_s']:.2f} s, "
                     f"{r['bytes'] / 1e6:.1f} MB")
        elif "triangles_out" in r:
            notes = f"-> {r['triangles_out']:,} triangles"
        print(f"{step:<14}{r['seconds']:>9.2f}{r['cpu_s']:>8.2f}{r['load_s']:>15.2f}"
              f"{r['peak_mb']:>9.0f}  {notes}")
        if baseline_root is not None:
            b = child(step, baseline_root)
            if b is None:
                return 1
            notes = ""
            if "export_s" in b:
                notes = f"write {b['export_s']:.2f} s + check {b['verify_s']:.2f} s; "
            notes += (f"baseline/current: CPU x{b['cpu_s'] / r['cpu_s']:.2f}, "
                      f"wall x{b['seconds'] / r['seconds']:.2f}")
            print(f"{'  baseline':<14}{b['seconds']:>9.2f}{b['cpu_s']:>8.2f}{b['load_s']:>15.2f}"
                  f"{b['peak_mb']:>9.0f}  {notes}")
    import shutil

    if baseline_root is not None:
        shutil.rmtree(baseline_root, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
