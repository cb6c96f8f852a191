"""Contact sheets of photo-like inputs and what each generator makes of them (issue 20).

Inputs: every mesh of `--assets` rendered with the evaluation's photographic look
(tools/eval_generator.py `--look photo`: 30-50° perspective drawn per object,
soft-box light with soft shadows on a floor, a light studio sweep) under both input
protocols (front: azimuth 0-10°, elevation 5-10°; 3q: azimuth 30°, elevation 20°),
plus the bundled sample image(s) (`--image`, default scenes/samples/robot-concept.png).
Each input is generated with every `--model` (`maquette generate`, its defaults).

One sheet per protocol (the sample images go on the front sheet), one row per input:
input | for each model, its asset's front, left, right and back (azimuth 0, 90, 270,
180°, elevation 15°, studio light, light grey; the asset in its own frame: facing
+Z, as a creator meets it). Tiles are `--cell` px (default 160).

    python tools/generator_sheet.py --model models/maquette-ld-v3.json \\
        [--model models/maquette-ld-v2.json] --out /tmp/sheets --sheets docs/generator
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.eval_generator import (  # noqa: E402
    MESH_SUFFIXES,
    PROTOCOLS,
    contact_sheet,
    default_models,
    generate,
    input_camera,
    method_name,
    render_input,
    up_axis,
)

SAMPLE = Path(__file__).resolve().parent.parent / "scenes" / "samples" / "robot-concept.png"


def photo_inputs(assets: list[Path], protocol: str, folder: Path, size: int) -> list[Path]:
    """Render each asset's photographic input under `protocol` into `folder`."""
    pngs = []
    for asset in assets:
        name = asset.stem.replace(" ", "_")
        camera = input_camera(PROTOCOLS[protocol], "photo", name)
        png = folder / f"{protocol}_{name}.png"
        render_input(asset, png, up_axis(asset), camera, "photo", size=size)
        pngs.append(png)
    return pngs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=None, metavar="CARD",
                   help="model card (repeat: models side by side; default v3 and v2)")
    p.add_argument("--assets", type=Path, default=Path("../shared/assets"))
    p.add_argument("--image", action="append", type=Path, default=None,
                   help=f"extra input images (default {SAMPLE.relative_to(SAMPLE.parents[2])})")
    p.add_argument("--protocol", nargs="+", choices=sorted(PROTOCOLS), default=["front", "3q"])
    p.add_argument("--out", type=Path, default=Path("/tmp/maquette-sheets"),
                   help="inputs and generated assets go here")
    p.add_argument("--sheets", type=Path, default=Path("docs/generator"),
                   help="the sheets go here: generator_sheet_<protocol>.png")
    p.add_argument("--cell", type=int, default=160, help="tile size, pixels")
    p.add_argument("--input-size", type=int, default=512)
    p.add_argument("--only", nargs="*", help="asset file names to use")
    args = p.parse_args(argv)
    models = args.model or default_models()
    images = args.image if args.image is not None else [SAMPLE]
    names = [method_name(m) for m in models]

    assets = sorted(q for q in args.assets.iterdir() if q.suffix.lower() in MESH_SUFFIXES)
    if args.only:
        assets = [q for q in assets if q.name in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for k, protocol in enumerate(args.protocol):
        inputs = photo_inputs(assets, protocol, args.out, args.input_size)
        labels = [f"{a.stem} ({protocol})" for a in assets]
        if k == 0:
            inputs += images
            labels += [i.stem for i in images]
        items = []
        for png in inputs:
            glbs = []
            for model, name in zip(models, names, strict=True):
                glb = args.out / f"{png.stem}.{name}.glb"
                generate(png, glb, model)
                glbs.append(glb)
            items.append((png, glbs))
        sheet = args.sheets / f"generator_sheet_{protocol}.png"
        contact_sheet(items, sheet, cell=args.cell, labels=names, row_labels=labels)
        written.append(sheet)
        print(f"{sheet}: {len(items)} inputs x {len(models)} models", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
