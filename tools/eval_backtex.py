"""Score the back texture with and without `engine/generate/backtex.py` (issue 20).

For each input image: isolate, frame and run the model once, then bake the atlas
twice, with the back rebuilt from the front (`--back-texture`, the default) and with
the network's back colour as predicted (`--no-back-texture`), and score each atlas in
texture space, front and back in the front view's pixel grid (backtex's metrics):

- detail ratio: high-frequency energy of the back over the front's (1 = as detailed);
- ghost score: correlation of the back's band-passed luma with the front's at the same
  pixel (a mirrored copy of the front seen from behind), away from the silhouette;
- chroma shift: |mean a*b* of the back − the front's| (ΔE), the overall cast;
- palette distance: mean ΔE' from a back pixel to the nearest colour the front shows;
- the texture stage's CPU time (ms of this process, best of 3: steady on a shared
  machine) both ways.

`--seam GLB...` instead prints the side walls' seam of generated assets: the mean
ΔE between the front-coloured and the back-coloured copy of each point on the walls'
middle.

`--sheet PNG` also generates both assets (in-process, shipped defaults otherwise) and
renders front, side (90°), back (180°) and a 3/4 back (225°) of each, off above on.

    python tools/eval_backtex.py /tmp/eval/3q_*.png scenes/samples/robot-concept.png \
        --table docs/generator/backtex_table.md --sheet docs/generator/backtex_sheet.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

METRICS = ("detail_ratio", "ghost_score", "chroma_shift", "palette_distance")


def panels(atlas, half: int) -> tuple[np.ndarray, np.ndarray]:
    """The atlas's front and back (back mirrored into the front's grid), (half, half, 3)."""
    from PIL import Image

    rgb = np.asarray(atlas.convert("RGB"))
    w = rgb.shape[1] // 2

    def square(part):
        image = Image.fromarray(part).resize((half, half), Image.Resampling.BILINEAR)
        return np.asarray(image).astype(np.float32) / 255

    return square(rgb[:, :w]), square(rgb[:, w:])[:, ::-1]


def score_image(image: Path, texture_size: int = 1024) -> dict:
    """Texture-space metrics and timings of both atlases for one input image."""
    from engine.generate import backtex
    from engine.generate.card import load_card
    from engine.generate.pipeline import DEFAULT_MODEL
    from engine.generate.runtime import get_model
    from engine.generate.texture import texture_atlas
    from engine.reference import frame_subject, load_reference

    card = load_card(DEFAULT_MODEL)
    reference = load_reference(image)
    framed = frame_subject(reference, card.size, card.foreground_ratio, card.background)
    prediction = get_model(card, "cpu").predict(framed.image, framed.mask, True)
    hi = frame_subject(reference, texture_size // 2, card.foreground_ratio, card.background)
    row: dict = {"image": image.name}
    for name, rebuild in (("off", False), ("on", True)):
        times = []
        for _ in range(3):
            t = time.process_time()
            atlas, info = texture_atlas(hi.image, hi.mask, prediction.back_color,
                                        prediction.mask, texture_size, rebuild)
            times.append(time.process_time() - t)
        front, back = panels(atlas, texture_size // 2)
        for metric in METRICS:
            row[f"{metric}_{name}"] = round(getattr(backtex, metric)(front, back, hi.mask), 3)
        row[f"ms_{name}"] = round(1000 * min(times))
        if info is not None:
            row["colours"], row["front_only"] = info.colours, info.front_only
            row["detail_colours"] = info.detail_colours
    return row


def wall_seam(glb: Path) -> float:
    """Mean ΔE (CIE76) across the side walls' middle: every middle-ring point is in the
    GLB twice at one position, once with a front UV (u < 0.5) and once with a back UV;
    both are sampled in the atlas (bilinear) and compared. 0: no seam."""
    import trimesh

    from engine.reference.color import float_to_lab

    mesh = trimesh.load(glb, force="mesh", process=False)
    atlas = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB")) / 255.0
    uv = np.asarray(mesh.visual.uv)
    key = np.round(np.asarray(mesh.vertices) * 1e6).astype(np.int64)
    _, group = np.unique(key, axis=0, return_inverse=True)
    group = group.ravel()
    front, back = {}, {}
    for i, g in enumerate(group):
        (front if uv[i, 0] < 0.5 else back).setdefault(g, i)
    pairs = np.array([(front[g], back[g]) for g in front if g in back])
    if not len(pairs):
        return float("nan")
    h, w = atlas.shape[:2]

    def sample(i):  # glTF UV: v down from the top of the image
        x, y = uv[i, 0] * w - 0.5, uv[i, 1] * h - 0.5
        from scipy import ndimage

        return np.stack([ndimage.map_coordinates(atlas[..., c], [y, x], order=1,
                                                 mode="nearest") for c in range(3)], -1)

    a, b = float_to_lab(sample(pairs[:, 0])), float_to_lab(sample(pairs[:, 1]))
    return float(np.linalg.norm(a - b, axis=-1).mean())


def table(rows: list[dict]) -> str:
    head = ("| input | detail ratio ↑ off → on | ghost ↓ | chroma shift ↓ | palette dist ↓ "
            "| front-only | CPU ms off → on |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    lines = []
    for r in rows + [mean_row(rows)]:
        cells = [f"{r[m + '_off']:.2f} → **{r[m + '_on']:.2f}**" for m in METRICS]
        lines.append(f"| {r['image']} | " + " | ".join(cells)
                     + f" | {r.get('front_only', 0):.2f} | {r['ms_off']:.0f} → {r['ms_on']:.0f} |")
    return head + "\n".join(lines) + "\n"


def mean_row(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k != "image" and isinstance(rows[0][k], (int, float))]
    return {"image": f"**mean of {len(rows)}**",
            **{k: float(np.mean([r[k] for r in rows if k in r])) for k in keys}}


def sheet(images: list[Path], png: Path, work: Path, cell: int = 160) -> None:
    """Per input: the input, then front/90°/180°/225° without (top) and with (bottom)."""
    from PIL import Image, ImageDraw

    from engine.generate import GenerateSettings, generate_asset
    from tools.eval_generator import render_view

    rows = []
    for image in images:
        cells = {}
        for name, rebuild in (("off", False), ("on", True)):
            glb = work / f"{image.stem}.{name}.glb"
            generate_asset(image, glb, GenerateSettings(back_texture=rebuild), log=lambda m: None)
            cells[name] = [render_view(glb, None, azimuth=az, elevation=10.0, size=cell)[..., :3]
                           for az in (0.0, 90.0, 180.0, 225.0)]
        block = Image.new("RGB", (cell * 5, cell * 2), (255, 255, 255))
        block.paste(Image.open(image).convert("RGB").resize((cell, cell)), (0, cell // 2))
        for r, name in enumerate(("off", "on")):
            for c, tile in enumerate(cells[name]):
                block.paste(Image.fromarray(tile), (cell * (c + 1), cell * r))
            ImageDraw.Draw(block).text((cell + 4, cell * r + 4), name, fill=(0, 0, 0))
        rows.append(block)
    out = Image.new("RGB", (cell * 5, sum(b.height for b in rows)), (255, 255, 255))
    for i, block in enumerate(rows):
        out.paste(block, (0, i * cell * 2))
    png.parent.mkdir(parents=True, exist_ok=True)
    out.save(png)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="+", type=Path, help="input images (concept images)")
    p.add_argument("--table", type=Path, help="write a Markdown table here")
    p.add_argument("--json", type=Path, help="write the rows as JSON here")
    p.add_argument("--sheet", type=Path, help="before/after contact sheet PNG")
    p.add_argument("--sheet-only", nargs="*", help="image names (stems) for the sheet")
    p.add_argument("--work", type=Path, default=Path("/tmp/maquette-backtex"))
    p.add_argument("--seam", action="store_true",
                   help="the arguments are generated GLBs: print each one's wall seam (ΔE)")
    args = p.parse_args(argv)
    if args.seam:
        for glb in args.images:
            print(f"{glb}\t{wall_seam(glb):.2f}")
        return 0
    rows = []
    for image in args.images:
        rows.append(score_image(image))
        print(json.dumps(rows[-1]), flush=True)
    text = table(rows)
    print(text)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.sheet:
        args.work.mkdir(parents=True, exist_ok=True)
        chosen = [i for i in args.images if not args.sheet_only or i.stem in args.sheet_only]
        sheet(chosen, args.sheet, args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
