#!/usr/bin/env python3
"""Write the project's procedural sample assets as GLB files.

    python tools/make_sample_assets.py                 # -> scenes/assets/NAME.glb
    python tools/make_sample_assets.py --out /tmp/x --only bottle robot

The assets come from :mod:`tools.procedural.samples` and are deterministic: the same
seed gives the same geometry, textures and (with the same trimesh/pillow versions)
the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running from a plain checkout, uninstalled
    sys.path.insert(0, str(ROOT))

from tools.procedural.samples import SAMPLE_ASSETS, export_glb  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "scenes" / "assets", help="output directory"
    )
    parser.add_argument(
        "--only", nargs="+", choices=sorted(SAMPLE_ASSETS), help="build only these assets"
    )
    parser.add_argument("--seed", type=int, default=0, help="variation seed (0 = canonical)")
    args = parser.parse_args(argv)

    names = args.only or list(SAMPLE_ASSETS)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        scene = SAMPLE_ASSETS[name](seed=args.seed)
        path = args.out / f"{name}.glb"
        export_glb(scene, path)
        data = path.read_bytes()
        faces = sum(len(g.faces) for g in scene.geometry.values())
        extent = scene.bounds[1] - scene.bounds[0]
        print(
            f"{path}: {len(data) / 1024:.0f} KiB, {len(scene.geometry)} parts, {faces} triangles, "
            f"{extent[0]:.3f} x {extent[1]:.3f} x {extent[2]:.3f} m, "
            f"sha256 {hashlib.sha256(data).hexdigest()[:12]}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
