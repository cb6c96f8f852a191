#!/usr/bin/env python3
"""What the history-independent render settings cost: CPU seconds per frame with them
(the shipped engine_setup) and with Panda3D's defaults (transform cache on, state-sorted
opaque bin), in interleaved pairs of fresh processes.

    python tools/bench_determinism.py                       # 3 pairs, 40 frames, 720p
    python tools/bench_determinism.py --pairs 5 --frames 60 --height 1080

Each process renders the campaign's vertical shot (scenes/campaign-robot.toml: push-in,
sunset, msaa 4) at 9:16 and `--height`, frames i / fps after one warm-up frame, and
reports its own CPU seconds (user + system) over the timed frames. The printed ratio is
shipped / defaults per pair and its median: above 1 means the settings cost time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from benchlib import cpu_model  # tools/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
mode, height, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
from engine.render import engine_setup
if mode == "defaults":
    engine_setup.BASE_PRC = engine_setup.BASE_PRC.replace("transform-cache #f", "")
engine_setup.get_graphics()
if mode == "defaults":
    from panda3d.core import CullBinManager
    bins = CullBinManager.get_global_ptr()
    bins.set_bin_type(bins.find_bin("opaque"), CullBinManager.BT_state_sorted)
from engine.render.stage import Stage
from engine.campaign import load_campaign
shot = next(s for s in load_campaign({campaign!r}).shots if s.name == "vertical")
width = height * 9 // 16
with Stage(shot.scene, width, height) as stage:
    stage.capture(0.0)
    start = resource.getrusage(resource.RUSAGE_SELF)
    for i in range(frames):
        stage.capture(i / shot.scene.output.fps)
    end = resource.getrusage(resource.RUSAGE_SELF)
cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
print(json.dumps({{"cpu_per_frame": cpu / frames}}))
"""


def run(mode: str, height: int, frames: int) -> float:
    code = CHILD.format(root=str(ROOT), campaign=str(ROOT / "scenes" / "campaign-robot.toml"))
    proc = subprocess.run([sys.executable, "-c", code, mode, str(height), str(frames)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])["cpu_per_frame"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; vertical shot 9:16 at {args.height} px, {args.frames} "
          f"frames per process")
    ratios = []
    for pair in range(args.pairs):
        order = ("shipped", "defaults") if pair % 2 == 0 else ("defaults", "shipped")
        cpu = {mode: run(mode, args.height, args.frames) for mode in order}
        ratios.append(cpu["shipped"] / cpu["defaults"])
        print(f"pair {pair + 1}: shipped {1000 * cpu['shipped']:.1f} ms/frame CPU, "
              f"defaults {1000 * cpu['defaults']:.1f}, ratio {ratios[-1]:.3f}")
    print(f"median ratio shipped/defaults: {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
