"""`maquette still` of a .glb at 1080p as whole processes, against a baseline tree.

The short job of issue 15: ``python -m engine.cli still scenes/assets/bottle.glb -o
still.png`` (1920x1080 PNG, the default look), CPU seconds user + sys of the whole
process (``os.wait4``), interleaved with the same command run in a baseline tree: the
files of git revision ``--baseline`` (default ``HEAD``: the working tree's changes against
the last commit), extracted with ``git archive`` into a temporary folder and
byte-compiled as an install would, so both sides start the same way. Both run with this
venv's Python. Prints each run, the medians, their ratio, the bar (1.5 CPU s) and
whether the two stills are equal.

    .venv/bin/python tools/bench_still.py --pairs 8
    .venv/bin/python tools/bench_still.py --baseline 211f222 --pairs 8
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import cpu_model, run_child  # tools/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
ASSET = Path("scenes") / "assets" / "bottle.glb"
BAR_CPU_S = 1.5


def extract_revision(revision: str, folder: Path) -> Path:
    """The tracked files of `revision` under `folder`, their engine byte-compiled."""
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder / "engine")],
                   check=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=8, help="interleaved pairs (default 8)")
    parser.add_argument("--baseline", default="HEAD",
                        help="git revision to compare with (default HEAD)")
    args = parser.parse_args(argv)

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "engine")],
                   check=True)
    with tempfile.TemporaryDirectory(prefix="bench-still-") as work:
        work = Path(work)
        baseline = extract_revision(args.baseline, Path(tempfile.mkdtemp(dir=work)))
        trees = {"this tree": ROOT, f"{args.baseline}": baseline}
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores; Python "
              f"{platform.python_version()}; load {os.getloadavg()[0]:.2f}")
        print(f"still: {ASSET}, 1080p PNG; {args.pairs} interleaved pairs")
        results: dict[str, list[float]] = {name: [] for name in trees}
        for pair in range(args.pairs):
            for index, (name, tree) in enumerate(trees.items()):
                output = work / f"still-{index}.png"
                cmd = [sys.executable, "-m", "engine.cli", "still", str(ASSET), "-o",
                       str(output)]
                cpu, wall = run_child(cmd, cwd=tree)
                results[name].append(cpu)
                print(f"  pair {pair + 1} {name:12s} CPU {cpu:5.2f} s  wall {wall:5.2f} s",
                      flush=True)
        medians = {name: statistics.median(runs) for name, runs in results.items()}
        for name, cpu in medians.items():
            print(f"{name:12s} median CPU {cpu:5.2f} s (min {min(results[name]):.2f}, "
                  f"max {max(results[name]):.2f})")
        new, old = medians.values()
        same = (work / "still-0.png").read_bytes() == (work / "still-1.png").read_bytes()
        print(f"this tree / {args.baseline}: CPU {new / old:.2f}; bar: CPU < {BAR_CPU_S} s "
              f"({'met' if new < BAR_CPU_S else 'not met'}); stills "
              f"{'byte-equal' if same else 'differ'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
