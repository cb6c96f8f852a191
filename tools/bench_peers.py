"""Maquette against a peer renderer (pyrender) on the same clip, as whole processes.

The clip (issue 15): a product asset (``scenes/assets/bottle.glb``), a 48-frame 1920x1080
orbit (24 fps, 2 s), one shadowed key light, H.264 (libx264 veryfast, CRF 18, yuv420p,
BT.709) through the same ffmpeg binary.

* **maquette**: ``python -m engine.cli render scene.toml -o out.mp4 -q`` (the default look:
  studio preset, key-light shadow, ground contact shadow, MSAA 4, tone mapping).
* **pyrender**: a script run in its own throw-away virtual environment
  (``~/.cache/maquette-bench/pyrender-venv``, made by this tool with pip: pyrender,
  PyOpenGL 3.1.7, numpy < 2; never a project dependency), EGL offscreen
  (``PYOPENGL_PLATFORM=egl``), its default 4x MSAA, one directional light with
  ``SHADOWS_DIRECTIONAL`` (by default no floor, pyrender's cheapest setup: the shadow
  falls on the asset only; ``--pyrender-ground`` adds a grey floor that receives it, which
  costs pyrender about 2.7x the CPU), the same camera poses and key-light direction
  per frame (computed here from Maquette's timeline), the RGB frames piped to ffmpeg with
  the same encoder arguments.

Each run is one child process; its CPU time is user + sys from ``os.wait4`` (which
includes the child's own waited-for children: ffmpeg, and for Maquette nothing else).
Runs are interleaved (maquette, pyrender, maquette, ...) so noise from other tenants
of a shared machine falls on both. Prints each run and the medians and ratios.

    .venv/bin/python tools/bench_peers.py --pairs 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from benchlib import cpu_model, run_child  # tools/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ASSET = ROOT / "scenes" / "assets" / "bottle.glb"
VENV = Path.home() / ".cache" / "maquette-bench" / "pyrender-venv"
PYRENDER_PACKAGES = ("pyrender==0.1.45", "PyOpenGL==3.1.7", "numpy<2")

SCENE_TOML = """\
[asset]
source = {asset}
height = 0.3
pivot = "base"

[stage]
lights = "studio"
background = ["#3a3d45", "#17181c"]
ground = true

[camera]
move = "orbit"
fov = 30
elevation = 12
turns = 1.0

[output]
file = "clip.mp4"
aspect = "16:9"
height = {height}
fps = 24
duration = {duration}
msaa = 4
quality = "veryfast"
"""

PYRENDER_SCRIPT = r'''
import json, os, subprocess, sys
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
import numpy as np
import pyrender
import trimesh

spec = json.load(open(sys.argv[1]))
w, h = spec["width"], spec["height"]
loaded = trimesh.load(spec["asset"], force="scene")
loaded.apply_transform(np.array(spec["asset_matrix"]))
scene = pyrender.Scene.from_trimesh_scene(loaded, bg_color=[0.23, 0.24, 0.27, 1.0],
                                          ambient_light=[0.25, 0.25, 0.25])
if spec["ground"] > 0:  # a grey floor that receives the key light's shadow
    ground = trimesh.creation.box(extents=[spec["ground"], 0.001, spec["ground"]])
    ground.apply_translation([0.0, -0.0005, 0.0])
    scene.add(pyrender.Mesh.from_trimesh(ground, smooth=False))
camera = scene.add(pyrender.PerspectiveCamera(yfov=np.radians(spec["fov"]), aspectRatio=w / h,
                                              znear=0.01, zfar=100.0))
light = scene.add(pyrender.DirectionalLight(color=np.ones(3), intensity=3.0))

def look_at(eye, target, up):
    eye, target, up = (np.asarray(v, float) for v in (eye, target, up))
    z = eye - target
    z /= np.linalg.norm(z)
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, np.cross(z, x), z, eye
    return m

renderer = pyrender.OffscreenRenderer(w, h)
ffmpeg = subprocess.Popen(spec["ffmpeg"], stdin=subprocess.PIPE)
flags = pyrender.RenderFlags.SHADOWS_DIRECTIONAL
for frame in spec["frames"]:
    scene.set_pose(camera, look_at(frame["eye"], frame["target"], frame["up"]))
    key = np.asarray(frame["key"], float)
    scene.set_pose(light, look_at(key, [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]))
    color, _ = renderer.render(scene, flags=flags)
    ffmpeg.stdin.write(np.ascontiguousarray(color).tobytes())
ffmpeg.stdin.close()
renderer.delete()
sys.exit(ffmpeg.wait())
'''


def ensure_pyrender_venv(path: Path = VENV) -> Path:
    """The venv's python, creating the venv with pip on first use."""
    python = path / "bin" / "python"
    marker = path / ".maquette-bench-ok"
    if marker.exists() and marker.read_text() == "\n".join(PYRENDER_PACKAGES):
        return python
    print(f"installing {', '.join(PYRENDER_PACKAGES)} into {path} ...", flush=True)
    venv.create(path, with_pip=True, clear=True)
    # pyrender pins PyOpenGL 3.1.0, whose EGL support is broken: 3.1.7 after it
    subprocess.run([python, "-m", "pip", "install", "-q", "numpy<2", "pyrender==0.1.45"],
                   check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "PyOpenGL==3.1.7"], check=True)
    marker.write_text("\n".join(PYRENDER_PACKAGES))
    return python


def x264_command(width: int, height: int, fps: int, output: Path) -> list[str]:
    """ffmpeg reading rgb24 frames from stdin, with the .mp4 arguments FrameWriter uses."""
    import imageio_ffmpeg

    from engine.render.writers import _BT709_PARAMS, _BT709_TAGS

    return [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error",
            "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}",
            "-framerate", f"{fps}/1", "-i", "pipe:0", "-an",
            "-vf", f"scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,{_BT709_PARAMS}",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
            *_BT709_TAGS, "-movflags", "+faststart", "-f", "mp4", str(output)]


def pyrender_spec(scene_file: Path, output: Path, ground: bool) -> dict:
    """Camera and key-light poses per frame from Maquette's own timeline (Y-up metres)."""
    import numpy as np

    from engine.animation.transform import axis_angle_matrix
    from engine.asset.io import load_asset
    from engine.scene import load_scene
    from engine.scene.lighting import PRESETS, normalized
    from engine.scene.timeline import Bounds, Timeline

    scene = load_scene(scene_file)
    mesh = load_asset(scene.asset.source)
    timeline = Timeline(scene, Bounds(np.asarray(mesh.bounds[0]), np.asarray(mesh.bounds[1])))
    out = scene.output
    key = PRESETS[scene.stage.lights].key
    frames = []
    matrices = []
    for index in range(out.frame_count):
        frame = timeline.at(timeline.frame_time(index))
        cam = frame.camera
        offset = cam.eye - cam.target
        rig = axis_angle_matrix((0.0, 1.0, 0.0), np.degrees(np.arctan2(offset[0], offset[2])))
        key_pos = rig @ normalized(key.direction) * 5.0 * timeline.bounds.radius
        frames.append({"eye": cam.eye.tolist(), "target": cam.target.tolist(),
                       "up": cam.up.tolist(), "key": key_pos.tolist()})
        matrices.append(frame.asset_matrix)
    if not all(np.allclose(m, matrices[0]) for m in matrices):
        raise SystemExit("the bench clip must keep the asset still (an orbit)")
    return {"asset": str(scene.asset.source), "asset_matrix": matrices[0].tolist(),
            "width": out.width, "height": out.height, "fov": float(scene.camera.fov),
            "ground": float(24 * timeline.bounds.radius) if ground else 0.0, "frames": frames,
            "ffmpeg": x264_command(out.width, out.height, int(out.fps), output)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs (default 5)")
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--frames", type=int, default=48, help="at 24 fps (default 48)")
    parser.add_argument("--only", choices=("maquette", "pyrender"),
                        help="run one side (no ratios)")
    parser.add_argument("--pyrender-ground", action="store_true",
                        help="give pyrender a floor that receives the shadow (default: none, "
                             "its cheapest setup: the shadow falls on the asset only)")
    parser.add_argument("--keep", type=Path, help="copy the last clips into this folder")
    args = parser.parse_args(argv)

    from engine.render import engine_setup

    work = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    scene_file = work / "clip.toml"
    scene_file.write_text(SCENE_TOML.format(asset=json.dumps(str(ASSET)), height=args.height,
                                            duration=args.frames / 24))
    sides: dict[str, list[str]] = {}
    env = dict(os.environ)
    if args.only != "pyrender":
        sides["maquette"] = [sys.executable, "-m", "engine.cli", "render", str(scene_file),
                             "-o", str(work / "maquette.mp4"), "-q"]
    if args.only != "maquette":
        python = ensure_pyrender_venv()
        spec_file = work / "pyrender.json"
        spec_file.write_text(json.dumps(pyrender_spec(scene_file, work / "pyrender.mp4",
                                                      args.pyrender_ground)))
        script = work / "pyrender_clip.py"
        script.write_text(PYRENDER_SCRIPT)
        sides["pyrender"] = [str(python), str(script), str(spec_file)]
        env["PYOPENGL_PLATFORM"] = "egl"

    engine_setup.make_offscreen_buffer(16, 16, "probe")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; {engine_setup.gl_renderer()}; "
          f"Python {platform.python_version()}; load {os.getloadavg()[0]:.2f}")
    print(f"clip: {ASSET.name}, {args.frames} frames {args.height}p, orbit, H.264 veryfast; "
          f"{args.pairs} interleaved pairs")

    results: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for pair in range(args.pairs):
        for name, cmd in sides.items():
            cpu, wall = run_child(cmd, env=env, cwd=ROOT)
            results[name].append((cpu, wall))
            print(f"  pair {pair + 1} {name:9s} CPU {cpu:6.2f} s  wall {wall:6.2f} s",
                  flush=True)
    medians = {name: (statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs))
               for name, runs in results.items()}
    for name, (cpu, wall) in medians.items():
        runs = results[name]
        print(f"{name:9s} median CPU {cpu:6.2f} s (min {min(c for c, _ in runs):.2f}, "
              f"max {max(c for c, _ in runs):.2f})  wall {wall:6.2f} s")
    if len(medians) == 2:
        (mc, mw), (pc, pw) = medians["maquette"], medians["pyrender"]
        print(f"maquette / pyrender: CPU {mc / pc:.2f}, wall {mw / pw:.2f}  "
              f"(bar: CPU <= {1 / 1.2:.2f}; goal 0.50)")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        for name in sides:
            clip = work / f"{name}.mp4"
            if clip.exists():
                clip.replace(args.keep / clip.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
