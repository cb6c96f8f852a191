"""Contact sheet of every light preset on every bundled sample asset (docs/presets.png).

Rows: the presets of engine.scene.lighting.PRESETS; columns: the sample assets in
scenes/assets/ plus three swatch products that span the range a preset must hold
(white matte, black gloss, polished metal; made here with trimesh, 0.25 m tall). Each
tile is one real render on the default stage (dark background, ground shadow), static
camera at 20 deg azimuth and 10 deg elevation. One Stage per asset; the preset is
switched between captures (Stage.set_light_preset, what the viewer does).

    python tools/preset_sheet.py                 # -> docs/presets.png
    python tools/preset_sheet.py --tile 200 -o /tmp/presets.png --background "#f0f0f0"

`swatch_asset` is also what tests/test_presets.py renders its white and black
products from, so the sheet and the colour checks look at the same objects.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLES = ("bottle", "lamp", "mug", "robot")
# name -> (sRGB base colour, metallic, roughness)
SWATCHES = {
    "white matte": ((0.92, 0.92, 0.90), 0.0, 0.7),
    "black gloss": ((0.03, 0.03, 0.035), 0.0, 0.2),
    "metal": ((0.95, 0.93, 0.88), 1.0, 0.2),
}
_LABEL = 22
_ROW_LABEL = 90


def swatch_asset(path: Path, color, metallic: float, roughness: float) -> Path:
    """Write a product-like swatch (a smooth bottle turned from a profile, 0.25 m tall,
    Y-up) with one PBR material (sRGB `color`) to `path` (.glb); returns the path."""
    import trimesh
    from trimesh.visual.material import PBRMaterial

    # (radius, height) in metres, base to top: body, a quarter-ellipse shoulder, neck
    shoulder = [(0.022 + 0.038 * np.cos(a), 0.15 + 0.06 * np.sin(a))
                for a in np.linspace(0.0, np.pi / 2, 24)]
    profile = [(0.0, 0.0), (0.057, 0.0), (0.06, 0.003), *shoulder, (0.022, 0.244),
               (0.024, 0.246), (0.024, 0.25), (0.0, 0.25)]
    mesh = trimesh.creation.revolve(np.array(profile), sections=96)
    mesh.merge_vertices()
    mesh.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    rgba = [int(round(255 * c)) for c in color] + [255]
    mesh.visual = trimesh.visual.TextureVisuals(material=PBRMaterial(
        baseColorFactor=rgba, metallicFactor=float(metallic),
        roughnessFactor=float(roughness)))
    mesh.export(path)
    return Path(path)


def render_tiles(asset: Path, presets, tile: int, background: str) -> list[np.ndarray]:
    """One (tile, tile, 3) uint8 render of `asset` per preset."""
    from engine.render.stage import Stage
    from engine.scene import scene_from_dict

    scene = scene_from_dict({
        "asset": {"source": str(asset), "height": 0.25},
        "stage": {"background": background},
        "camera": {"move": "static", "azimuth": 20, "elevation": 10},
        "output": {"aspect": "1:1", "height": tile, "msaa": 4, "duration": 1.0},
    }, None)
    tiles = []
    with Stage(scene, tile, tile) as stage:
        for name in presets:
            stage.set_light_preset(name)
            tiles.append(stage.capture(0.0)[..., :3])
    return tiles


def compose(grid: list[list[np.ndarray]], rows: list[str], columns: list[str], tile: int):
    """A labelled sheet (PIL image) of `grid[row][column]` tiles."""
    from PIL import Image, ImageDraw, ImageFont

    width = _ROW_LABEL + tile * len(columns)
    height = _LABEL + tile * len(rows)
    sheet = Image.new("RGB", (width, height), (24, 24, 26))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=15)
    for j, name in enumerate(columns):
        draw.text((_ROW_LABEL + j * tile + 6, 3), name, fill=(235, 235, 235), font=font)
    for i, name in enumerate(rows):
        draw.text((8, _LABEL + i * tile + tile // 2 - 8), name, fill=(235, 235, 235),
                  font=font)
        for j, image in enumerate(grid[i]):
            sheet.paste(Image.fromarray(image), (_ROW_LABEL + j * tile, _LABEL + i * tile))
    return sheet


def main(argv: list[str] | None = None) -> int:
    from engine.fileio import write_image
    from engine.scene.lighting import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "presets.png"))
    parser.add_argument("--tile", type=int, default=240, help="tile side, pixels")
    parser.add_argument("--background", default="#1e1f24", help="stage background")
    parser.add_argument("--presets", help="comma-separated subset (default: all)")
    args = parser.parse_args(argv)
    presets = args.presets.split(",") if args.presets else list(PRESETS)
    columns = list(SAMPLES) + list(SWATCHES)
    columns_tiles: list[list[np.ndarray]] = []
    with tempfile.TemporaryDirectory(prefix="maquette-presets-") as tmp:
        assets = [ROOT / "scenes" / "assets" / f"{name}.glb" for name in SAMPLES]
        assets += [swatch_asset(Path(tmp) / f"swatch{i}.glb", *spec)
                   for i, spec in enumerate(SWATCHES.values())]
        for asset in assets:
            columns_tiles.append(render_tiles(asset, presets, args.tile, args.background))
    grid = [[columns_tiles[j][i] for j in range(len(columns))] for i in range(len(presets))]
    out = Path(args.output)
    write_image(compose(grid, presets, columns, args.tile), out, [], what="a preset sheet")
    print(f"wrote {out} ({len(presets)} presets x {len(columns)} assets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
