#!/usr/bin/env python3
"""Live viewer frame time vs the offline renderer's render-only rate, in one run.

    python tools/bench_viewer.py                       # 720p + 1080p, 30 frames, 2 rounds
    python tools/bench_viewer.py --sizes 1280x720 --frames 20 --rounds 1

The asset is made here: a UV sphere of ~100k triangles with a 1024² procedural
texture, written to a temporary GLB, on a scene with studio lights, the ground
and the key light's shadow, an orbit camera and msaa 4 (the scene default).

Per size, two measurements, each in its own process (one ShowBase per process, and
no buffer of the other one rendering along):

``viewer``   `Viewer.step()` offscreen (EGL), the stats overlay on, the scene playing
             (the orbit camera moves every frame): input, state, HUD, render; nothing
             read back.
``offline``  `Stage.set_time` + `Stage.render` on the same scene and frames: the
             offline renderer's render-only rate (as in tools/bench_render.py).

After --warmup frames, each frame's wall time is recorded; the table shows the
median and the 99th percentile (of --frames frames: with 30 frames that is close
to the slowest), fps from the median, CPU seconds per frame of the process, and
the viewer/offline ratio of median frame times (1.00 = no extra cost for being
interactive). Rounds are interleaved and the best median of each is kept: the
machines here are shared and noise only ever slows a run down.
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

from benchlib import cpu_model  # tools/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a plain checkout, uninstalled
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

TRIANGLES = 100_000


def make_sphere_glb(path: Path, triangles: int = TRIANGLES) -> int:
    """A textured UV sphere (radius 0.15 m, resting on y=0) with about `triangles`
    triangles and a 1024² texture. Returns the triangle count."""
    import trimesh
    from PIL import Image

    n = int(round((triangles / 2) ** 0.5))  # rows = cols = n: 2 n² triangles
    rows, cols = n, n
    v = np.linspace(0.0, 1.0, rows + 1)
    u = np.linspace(0.0, 1.0, cols + 1)
    uu, vv = np.meshgrid(u, v)
    theta, phi = uu * 2 * np.pi, vv * np.pi
    r = 0.15
    bumps = 1.0 + 0.03 * np.sin(12 * theta) * np.sin(9 * phi)
    xyz = np.stack([r * bumps * np.sin(phi) * np.sin(theta), r * bumps * np.cos(phi) + r,
                    r * bumps * np.sin(phi) * np.cos(theta)], axis=-1).reshape(-1, 3)
    uv = np.stack([uu, 1.0 - vv], axis=-1).reshape(-1, 2)
    idx = np.arange((rows + 1) * (cols + 1)).reshape(rows + 1, cols + 1)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])
    size = 1024
    gy, gx = np.mgrid[0:size, 0:size] / size
    tex = np.stack([0.5 + 0.5 * np.sin(gx * 40), 0.5 + 0.5 * np.sin(gy * 30),
                    0.6 + 0.4 * ((np.floor(gx * 16) + np.floor(gy * 16)) % 2)], -1)
    image = Image.fromarray((tex * 255).astype(np.uint8))
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, roughnessFactor=0.4,
                                                   metallicFactor=0.0)
    mesh = trimesh.Trimesh(xyz, faces, process=False,
                           visual=trimesh.visual.TextureVisuals(uv=uv, material=material))
    # smooth normals, as real assets carry (without NORMAL a glTF viewer must shade flat:
    # panda3d-gltf then unshares every corner, 3 vertices per triangle)
    mesh.vertex_normals  # noqa: B018 (computed and cached: the GLB export writes them)
    path.write_bytes(mesh.export(file_type="glb"))
    return len(faces)


def write_scene(directory: Path, asset: Path) -> Path:
    scene = directory / "bench.toml"
    scene.write_text(f"""[asset]
source = "{asset.name}"

[stage]
lights = "studio"
ground = true
shadow = 0.65

[camera]
move = "orbit"

[output]
file = "out.mp4"
fps = 30
duration = 6.0
msaa = 4
""")
    return scene


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def worker(mode: str, scene_path: Path, width: int, height: int, warmup: int,
           frames: int) -> dict:
    """One measurement in this process; returns per-frame seconds and CPU."""
    from engine.render.engine_setup import gl_renderer

    times = []
    if mode in ("live", "live-plain"):
        return live_worker(scene_path, width, height, warmup, frames,
                           light_moving_frames=mode == "live")
    if mode == "viewer":
        from engine.viewer.app import Viewer
        from engine.viewer.state import Key

        viewer = Viewer(scene_path, size=(width, height), offscreen=True)
        viewer.send(Key("f"))  # the stats overlay on, as when watching frame times
        for _ in range(warmup):
            viewer.step()
        cpu = _cpu()
        for _ in range(frames):
            start = time.perf_counter()
            viewer.step()
            times.append(time.perf_counter() - start)
        cpu = _cpu() - cpu
        triangles = viewer.stats.get("triangles", 0)
        viewer.close()
    else:
        from engine.render.stage import Stage
        from engine.scene import load_scene

        scene = load_scene(scene_path)
        stage = Stage(scene, width, height)
        fps = scene.output.fps
        for i in range(warmup):
            stage.set_time(i / fps)
            stage.render()
        cpu = _cpu()
        for i in range(warmup, warmup + frames):
            start = time.perf_counter()
            stage.set_time(i / fps)
            stage.render()
            times.append(time.perf_counter() - start)
        cpu = _cpu() - cpu
        triangles = 0
        stage.close()
    return {"mode": mode, "width": width, "height": height, "times": times,
            "cpu_per_frame": cpu / max(frames, 1), "renderer": gl_renderer(),
            "triangles": triangles}


def live_worker(scene_path: Path, width: int, height: int, warmup: int, frames: int,
                target_fps: float = 15.0, idle_seconds: float = 3.0,
                light_moving_frames: bool = True) -> dict:
    """The viewer as used: a bare-asset window (offscreen here) orbiting with the
    auto-turntable at --target-fps; then key-to-screen latency (a key sent while idle,
    up to its frame finished: sync_frame) and idle CPU (the window loop's idle steps)."""
    from engine.render.engine_setup import gl_renderer
    from engine.scene import load_scene
    from engine.viewer.app import IDLE_POLL_S, Viewer
    from engine.viewer.state import Key

    asset = Path(os.environ.get("BENCH_LIVE_ASSET") or load_scene(scene_path).asset.source)
    viewer = Viewer(asset, size=(width, height), offscreen=True, fixed_dt=1 / 30,
                    target_fps=target_fps, light_moving_frames=light_moving_frames)
    engine = viewer.base.graphicsEngine
    viewer.send(Key("t"))  # turntable: the camera moves every frame
    for _ in range(warmup + 10):  # the scale settles
        viewer.step()
    times, scales = [], []
    cpu = _cpu()
    for _ in range(frames):
        start = time.perf_counter()
        viewer.step()
        engine.sync_frame()
        times.append(time.perf_counter() - start)
        scales.append(viewer.render_sizes[-1][0] / width)
    cpu = _cpu() - cpu
    viewer.send(Key("t"))  # turntable off: refine, then idle
    for _ in range(80):  # past the 2 s message
        viewer.step()
    latency = []
    for _ in range(5):
        for _ in range(80):
            viewer.step()
        start = time.perf_counter()
        viewer.send(Key("left"))
        viewer.step()
        engine.sync_frame()
        latency.append(time.perf_counter() - start)
    for _ in range(80):  # refine and settle again
        viewer.step()
    draws, c0, t0 = viewer.draws, _cpu(), time.perf_counter()
    while time.perf_counter() - t0 < idle_seconds:  # Viewer.run's window loop when idle
        viewer.step()
        time.sleep(IDLE_POLL_S)
    idle_cpu = (_cpu() - c0) / (time.perf_counter() - t0)
    idle_draws = viewer.draws - draws
    viewer.close()
    return {"mode": "live", "width": width, "height": height, "times": times,
            "cpu_per_frame": cpu / max(frames, 1), "renderer": gl_renderer(),
            "scale_median": float(np.median(scales)), "latency": latency,
            "idle_cpu": idle_cpu, "idle_draws": idle_draws, "target_fps": target_fps,
            "triangles": 0}


def run_live(args, scene: Path) -> int:
    """`--live-pairs` interleaved process pairs: the viewer as shipped (`live`: moving
    frames without multisampling, a heavy asset's simplified copy) and the baseline
    (`live-plain`: only the render scale drops), alternating which goes first."""
    width, height = args.live_size
    runs: dict[str, list[dict]] = {"live": [], "live-plain": []}
    for pair in range(args.live_pairs):
        order = ("live", "live-plain") if pair % 2 == 0 else ("live-plain", "live")
        for mode in order:
            res = run_worker(args, mode, scene, width, height)
            runs[mode].append(res)
            print(f"pair {pair + 1}: {mode:<10} {1 / float(np.median(res['times'])):5.1f} fps "
                  f"at scale {res['scale_median']:.2f}", file=sys.stderr, flush=True)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; GL: {runs['live'][0]['renderer']}; "
          f"asset: {args.live_asset or 'UV sphere, 100k triangles'}; "
          f"{args.live_pairs} interleaved pair(s), medians")
    print("| moving frames | window | target fps | orbit fps | orbit p99 ms | render scale "
          "| key-to-screen ms | idle CPU (% of a core) | idle draws |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    fps = {}
    for mode, label in (("live", "light (shipped)"), ("live-plain", "scale only")):
        rs = runs[mode]
        fps[mode] = [1 / float(np.median(r["times"])) for r in rs]
        p99 = [float(np.percentile(r["times"], 99)) * 1000 for r in rs]
        print(f"| {label} | {width}x{height} | {rs[0]['target_fps']:g} | "
              f"{np.median(fps[mode]):.1f} | {np.median(p99):.0f} | "
              f"{np.median([r['scale_median'] for r in rs]):.2f} | "
              f"{np.median([np.median(r['latency']) for r in rs]) * 1000:.0f} | "
              f"{np.median([r['idle_cpu'] for r in rs]) * 100:.1f} | "
              f"{max(r['idle_draws'] for r in rs)} |")
    ratios = [a / b for a, b in zip(fps["live"], fps["live-plain"], strict=True)]
    print(f"\norbit fps, light / scale only: median {np.median(ratios):.2f} "
          f"(pairs {' '.join(f'{r:.2f}' for r in ratios)})")
    return 0


def run_worker(args, mode: str, scene: Path, width: int, height: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", mode, "--scene", str(scene),
           "--sizes", f"{width}x{height}", "--frames", str(args.frames),
           "--warmup", str(args.warmup)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"worker {mode} {width}x{height} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--live", action="store_true",
                        help="the live viewer as used: orbit fps at --target-fps, "
                             "key-to-screen latency, idle CPU (one window size)")
    parser.add_argument("--live-size", default="1280x720")
    parser.add_argument("--live-asset", help="asset for --live (default: the 100k sphere)")
    parser.add_argument("--live-pairs", type=int, default=2,
                        help="--live: interleaved pairs of shipped and baseline processes")
    parser.add_argument("--worker", choices=("viewer", "offline", "live", "live-plain"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [tuple(int(x) for x in s.lower().split("x")) for s in args.sizes]

    if args.worker:
        result = worker(args.worker, Path(args.scene), *sizes[0], args.warmup, args.frames)
        print(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory(prefix="maquette-bench-viewer-") as tmp:
        tmp = Path(tmp)
        asset = tmp / "sphere100k.glb"
        triangles = make_sphere_glb(asset)
        scene = write_scene(tmp, asset)
        if args.live:
            if args.live_asset:
                os.environ["BENCH_LIVE_ASSET"] = str(Path(args.live_asset).resolve())
            args.live_size = tuple(int(x) for x in args.live_size.lower().split("x"))
            return run_live(args, scene)
        best: dict[tuple, dict] = {}
        rounds: dict[tuple, list[float]] = {}
        renderer = "?"
        for r in range(args.rounds):
            for width, height in sizes:
                for mode in ("viewer", "offline"):
                    res = run_worker(args, mode, scene, width, height)
                    renderer = res["renderer"]
                    med = float(np.median(res["times"]))
                    key = (width, height, mode)
                    rounds.setdefault(key, []).append(med)
                    if key not in best or med < float(np.median(best[key]["times"])):
                        best[key] = res
                    print(f"round {r + 1}: {width}x{height} {mode:<8} median "
                          f"{med * 1000:8.1f} ms", file=sys.stderr, flush=True)

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; GL: {renderer}")
    print(f"asset: UV sphere, {triangles:,} triangles, 1024² texture; studio lights, ground "
          f"+ key-light shadow (2048² map), msaa 4; {args.frames} frames after "
          f"{args.warmup} warm-up, best of {args.rounds} round(s)")
    print()
    print("| size | mode | median ms | p99 ms | fps (median) | CPU s/frame | viewer / offline "
          "(median) | per-round ratios |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for width, height in sizes:
        off = best[(width, height, "offline")]
        off_med = float(np.median(off["times"]))
        for mode in ("viewer", "offline"):
            res = best[(width, height, mode)]
            t = np.array(res["times"])
            med, p99 = float(np.median(t)), float(np.percentile(t, 99))
            ratio = med / off_med
            per_round = " ".join(
                f"{v / o:.2f}" for v, o in zip(rounds[(width, height, "viewer")],
                                               rounds[(width, height, "offline")], strict=True))
            print(f"| {width}x{height} | {mode} | {med * 1000:.1f} | {p99 * 1000:.1f} | "
                  f"{1 / med:.2f} | {res['cpu_per_frame']:.3f} | "
                  f"{ratio:.2f} | {per_round if mode == 'viewer' else ''} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
