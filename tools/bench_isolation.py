"""Background removal's CPU time per image, this tree against a git revision.

`engine.reference.isolate.remove_background` on the images of
`tools/make_isolation_set.py` (every `*_<backdrop>.png` of `--images`, resized to
`--size` px square, as a 1024 px concept image would arrive), CPU seconds of the calls
alone (`time.process_time`, after one warm-up call), in fresh processes interleaved with
the same measurement in the baseline tree (the files of `--baseline`, extracted as
`tools/bench_still.py` does). Prints each run, the medians and their ratio.

    python tools/make_isolation_set.py --out /tmp/iso      # the images, once
    .venv/bin/python tools/bench_isolation.py --images /tmp/iso --baseline HEAD~1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_still import ROOT, extract_revision  # tools/ is on sys.path when run as a script
from benchlib import cpu_model

CHILD = """
import sys, time
import numpy as np
from PIL import Image
from engine.reference.isolate import remove_background
size, paths = int(sys.argv[1]), sys.argv[2:]
images = [np.asarray(Image.open(p).convert("RGB").resize((size, size),
          Image.Resampling.BICUBIC)) for p in paths]
remove_background(images[0])
start = time.process_time()
for image in images:
    remove_background(image)
print((time.process_time() - start) / len(images))
"""


def measure(tree: Path, size: int, images: list[Path]) -> float:
    """CPU s per image of remove_background, in a fresh process importing `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, "-c", CHILD, str(size), *map(str, images)],
                          cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: the measurement failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True,
                        help="a folder written by tools/make_isolation_set.py")
    parser.add_argument("--baseline", default="HEAD", help="git revision (default HEAD)")
    parser.add_argument("--size", type=int, default=1024, help="pixels (default 1024)")
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs (default 5)")
    args = parser.parse_args(argv)

    images = sorted(p for p in args.images.glob("*_*.png") if not p.stem.endswith("_mask"))
    if not images:
        raise SystemExit(f"{args.images}: no images (run tools/make_isolation_set.py)")
    with tempfile.TemporaryDirectory(prefix="bench-isolation-") as work:
        baseline = extract_revision(args.baseline, Path(work))
        trees = {"this tree": ROOT, args.baseline: baseline}
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores; load "
              f"{os.getloadavg()[0]:.2f}; {len(images)} images at {args.size} px; "
              f"{args.pairs} interleaved pairs")
        results: dict[str, list[float]] = {name: [] for name in trees}
        for pair in range(args.pairs):
            for name, tree in trees.items():
                cpu = measure(tree, args.size, images)
                results[name].append(cpu)
                print(f"  pair {pair + 1} {name:12s} {1000 * cpu:7.1f} CPU ms per image",
                      flush=True)
    medians = {name: statistics.median(runs) for name, runs in results.items()}
    for name, cpu in medians.items():
        print(f"{name:12s} median {1000 * cpu:7.1f} CPU ms per image")
    new, old = medians.values()
    print(f"this tree / {args.baseline}: {new / old:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
