"""Render the bundled concept image (scenes/samples/robot-concept.png) with our own renderer.

The image stands in for an AI-generated concept: a product-style shot of the
project's procedural robot toy on a light studio gradient, 3/4 view.

    python tools/make_sample_image.py [--out scenes/samples/robot-concept.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from engine.fileio import write_image
from engine.render.stage import Stage
from engine.scene import scene_from_dict

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "scenes/samples/robot-concept.png")
    parser.add_argument("--size", type=int, default=768)
    args = parser.parse_args()
    scene = scene_from_dict({
        "asset": {"source": str(ROOT / "scenes/assets/robot.glb")},
        "stage": {"lights": "softbox", "background": ["#f3f1ee", "#dedad4"], "shadow": 0.35},
        "camera": {"move": "static", "azimuth": 25, "elevation": 12, "fov": 30},
        "output": {"aspect": "1:1", "height": args.size, "msaa": 8, "file": "unused.mp4"},
    }, None)
    with Stage(scene, args.size, args.size) as stage:
        frame = stage.capture(0.0)
    write_image(Image.fromarray(frame[..., :3]), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
