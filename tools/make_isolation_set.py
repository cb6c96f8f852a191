"""Test images for subject isolation, with their true masks: meshes standing on a floor.

Each mesh is rendered by Maquette's own stage (offscreen) twice from the same camera:
once over a transparent background with the shadow-catcher ground on (the subject plus
its cast and contact shadow, the shadow as black with opacity in alpha), once with the
ground off (the subject's true alpha). The first is composited over backdrops the way
product shots and concept images look:

- ``white``, ``grey``: plain;
- ``gradient``: a vertical gradient, light at the top;
- ``floor-white``, ``floor-grey``: a wall and a floor of another tone meeting at a soft
  horizon a little above the subject's base (the floor shows behind it), the shadow
  falling on the floor.

Pixels are sRGB uint8; masks are the true alpha > 0.5. Deterministic.

    python tools/make_isolation_set.py --out /tmp/iso            # PNGs + masks + scores
    python tools/make_isolation_set.py --out /tmp/iso --sheet docs/generator/isolation.png

`score` isolates every image with `engine.reference` and reports the mask IoU against the
truth, per backdrop and mean, and the warnings it gave.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.shared_assets import SHARED_ASSETS as SHARED  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: (file, up axis, azimuth): the meshes, and the sample assets of scenes/assets.
MESHES = (("Duck.glb", "y", 30.0), ("teapot.stl", "z", 20.0), ("bunny.ply", "z", 30.0),
          ("suzanne.ply", "z", 15.0), ("CesiumMilkTruck.glb", "y", 35.0),
          ("BoxTextured.glb", "y", 30.0))
SAMPLES = (("robot.glb", "y", 25.0), ("mug.glb", "y", 30.0), ("bottle.glb", "y", 10.0))
BACKDROPS = ("white", "grey", "gradient", "floor-white", "floor-grey")


def render_pair(asset: Path, up: str, azimuth: float, size: int = 384, elevation: float = 12.0,
                shadow: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """((size, size, 4) uint8 RGBA with the ground's shadow in alpha, (size, size) float
    true subject alpha in [0, 1])."""
    from engine.render.stage import Stage
    from engine.scene import scene_from_dict

    frames = []
    for ground in (True, False):
        scene = scene_from_dict({
            "asset": {"source": str(asset), "up": up},
            "stage": {"lights": "softbox", "background": "transparent", "ground": ground,
                      "shadow": shadow},
            "camera": {"move": "static", "azimuth": azimuth, "elevation": elevation,
                       "fov": 30},
            "output": {"aspect": "1:1", "height": size, "msaa": 4, "file": "unused.mov"},
        }, None)
        with Stage(scene, size, size) as stage:
            frames.append(stage.capture(0.0))
    return frames[0], frames[1][..., 3].astype(np.float32) / 255.0


def backdrop(kind: str, size: int, true_alpha: np.ndarray) -> np.ndarray:
    """(size, size, 3) float sRGB in [0, 1] for `kind` (see the module docstring)."""
    rows = np.linspace(0.0, 1.0, size)[:, None, None]
    if kind == "white":
        return np.full((size, size, 3), 0.96)
    if kind == "grey":
        return np.full((size, size, 3), 0.62)
    if kind == "gradient":
        top, bottom = np.array([0.95, 0.94, 0.92]), np.array([0.70, 0.69, 0.67])
        return np.broadcast_to(top + (bottom - top) * rows, (size, size, 3)).copy()
    wall, floor = {"floor-white": ((0.96, 0.96, 0.95), (0.80, 0.78, 0.74)),
                   "floor-grey": ((0.55, 0.57, 0.60), (0.40, 0.38, 0.36))}[kind]
    filled = np.nonzero((true_alpha > 0.5).any(axis=1))[0]
    top_row, base_row = int(filled[0]), int(filled[-1])
    horizon = base_row - 0.3 * (base_row - top_row)
    r = np.arange(size, dtype=np.float64)[:, None, None]
    t = 1.0 / (1.0 + np.exp(-(r - horizon) / 1.5))  # a soft seam, about 3 px
    depth = np.clip((r - horizon) / max(size - horizon, 1.0), 0.0, 1.0)
    floor_tone = np.array(floor) * (0.92 + 0.08 * depth)  # the floor lightens towards us
    return np.broadcast_to(np.array(wall) * (1 - t) + floor_tone * t, (size, size, 3)).copy()


def composite(rgba: np.ndarray, back: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: the render (straight colour; the shadow black) over `back`."""
    alpha = rgba[..., 3:4].astype(np.float64) / 255.0
    out = rgba[..., :3].astype(np.float64) / 255.0 * alpha + back * (1.0 - alpha)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def make_set(out: Path, size: int = 384) -> list[dict]:
    """Write image PNGs and true masks under `out`; one entry per image."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    sources = [(SHARED / f, up, az) for f, up, az in MESHES if (SHARED / f).is_file()]
    sources += [(ROOT / "scenes" / "assets" / f, up, az) for f, up, az in SAMPLES]
    entries = []
    for path, up, azimuth in sources:
        rgba, alpha = render_pair(path, up, azimuth, size)
        mask_png = out / f"{path.stem}_mask.png"
        Image.fromarray(((alpha > 0.5) * 255).astype(np.uint8)).save(mask_png)
        for kind in BACKDROPS:
            image = out / f"{path.stem}_{kind}.png"
            Image.fromarray(composite(rgba, backdrop(kind, size, alpha))).save(image)
            entries.append({"object": path.stem, "backdrop": kind, "image": str(image),
                            "mask": str(mask_png)})
    (out / "set.json").write_text(json.dumps(entries, indent=1))
    return entries


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def score(entries: list[dict]) -> list[dict]:
    """Isolate each image with engine.reference; IoU of mask > 0.5 against the truth."""
    from PIL import Image

    from engine.reference import load_reference

    rows = []
    for e in entries:
        reference = load_reference(Path(e["image"]))
        truth = np.asarray(Image.open(e["mask"])) > 127
        rows.append({**e, "iou": round(iou(reference.mask > 0.5, truth), 4),
                     "warnings": reference.warnings})
        print(f"{e['object']:16s} {e['backdrop']:12s} IoU {rows[-1]['iou']:.3f}  "
              + " | ".join(w[:60] for w in reference.warnings), flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    by = {k: float(np.mean([r["iou"] for r in rows if r["backdrop"] == k]))
          for k in BACKDROPS if any(r["backdrop"] == k for r in rows)}
    return {"mean_iou": float(np.mean([r["iou"] for r in rows])), "by_backdrop": by,
            "min_iou": float(min(r["iou"] for r in rows)), "images": len(rows)}


def sheet(rows: list[dict], path: Path, tile: int = 160) -> None:
    """Per image: the input and its mask (white: kept; red: subject lost; blue: backdrop
    kept)."""
    from PIL import Image, ImageDraw

    from engine.reference import load_reference

    columns = 2 * len(BACKDROPS)
    objects = sorted({r["object"] for r in rows}, key=[r["object"] for r in rows].index)
    out = Image.new("RGB", (columns * tile, len(objects) * (tile + 14)), "white")
    for r in rows:
        y = objects.index(r["object"]) * (tile + 14)
        x = 2 * BACKDROPS.index(r["backdrop"]) * tile
        got = load_reference(Path(r["image"])).mask > 0.5
        truth = np.asarray(Image.open(r["mask"])) > 127
        vis = np.zeros(got.shape + (3,), np.uint8)
        vis[got & truth] = 255
        vis[truth & ~got] = (220, 40, 40)
        vis[got & ~truth] = (40, 90, 230)
        out.paste(Image.open(r["image"]).convert("RGB").resize((tile, tile)), (x, y))
        out.paste(Image.fromarray(vis).resize((tile, tile)), (x + tile, y))
        ImageDraw.Draw(out).text((x + 2, y + tile), f"{r['object']} {r['backdrop']} "
                                 f"IoU {r['iou']:.3f}", fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the images")
    p.add_argument("--size", type=int, default=384)
    p.add_argument("--sheet", type=Path, help="write a sheet of inputs and masks")
    p.add_argument("--json", type=Path, help="write the scores here")
    p.add_argument("--reuse", action="store_true", help="score the images already there")
    args = p.parse_args(argv)
    listing = args.out / "set.json"
    entries = (json.loads(listing.read_text()) if args.reuse and listing.is_file()
               else make_set(args.out, args.size))
    rows = score(entries)
    result = summary(rows)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": result}, indent=1))
    if args.sheet:
        sheet(rows, args.sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
