"""Write the bundled procedural studio environment (equirectangular, linear HDR, OpenEXR).

    python tools/make_environment.py [--out scenes/environments/studio.exr]

A soft grey cyclorama: a warm-to-cool gradient sky, a dark floor, and three
rectangular soft boxes (key upper left, strip right, overhead) that make long
clean reflections on glossy products. Y-up; u = 0.5 looks towards -Z.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.render.environment import equirect_directions

ROOT = Path(__file__).resolve().parents[1]


def studio(height: int = 256, width: int = 512) -> np.ndarray:
    """(H, W, 3) float32 linear radiance."""
    d, _ = equirect_directions(height, width)
    up = d[..., 1:2]
    sky = np.array([0.55, 0.56, 0.60]) * (0.6 + 0.4 * np.clip(up, 0, 1))
    floor = np.array([0.10, 0.10, 0.11])
    rgb = np.where(up > 0, sky, floor + (sky - floor) * np.exp(12 * np.minimum(up, 0)))

    def softbox(center, half_w, half_h, radiance):
        c = np.asarray(center, float) / np.linalg.norm(center)
        right = np.cross([0.0, 1.0, 0.0], c)
        right = right / np.linalg.norm(right) if np.linalg.norm(right) > 1e-6 else np.array(
            [1.0, 0, 0])
        upv = np.cross(c, right)
        facing = d @ c
        x, y = d @ right, d @ upv
        inside = (facing > 0) & (np.abs(x) < half_w) & (np.abs(y) < half_h)
        edge = np.clip(1 - np.maximum(np.abs(x) / half_w, np.abs(y) / half_h), 0, 1)
        return inside[..., None] * np.asarray(radiance) * np.clip(edge * 8, 0, 1)[..., None]

    rgb = rgb + softbox([-0.9, 0.8, 0.8], 0.35, 0.25, [14.0, 13.5, 12.5])
    rgb = rgb + softbox([1.0, 0.2, 0.3], 0.06, 0.45, [9.0, 9.2, 10.0])
    rgb = rgb + softbox([0.0, 1.0, 0.15], 0.4, 0.15, [6.0, 6.0, 6.0])
    return rgb.astype(np.float32)


def write_exr(path: Path, rgb: np.ndarray) -> None:
    """Write (H, W, 3) float radiance as OpenEXR via Panda3D, atomically."""
    from panda3d.core import Filename, PfmFile

    h, w = rgb.shape[:2]
    pfm = PfmFile()
    pfm.clear(w, h, 3)
    for y in range(h):
        for x in range(w):
            pfm.set_point3(x, y, tuple(float(v) for v in rgb[y, x]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial.exr")  # PfmFile picks the format by suffix
    if not pfm.write(Filename.from_os_specific(str(tmp))):
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not write {tmp}")
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "scenes/environments/studio.exr")
    args = parser.parse_args()
    write_exr(args.out, studio())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
