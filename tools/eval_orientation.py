"""How square to its own axes does a generated asset come out? (held-out procedural objects)

A layered-depth mesh is built in the camera's frame, so an object seen from azimuth
`a` comes out turned by -a about the vertical. `maquette generate` stands it upright
and then squares its footprint (`--square`). This tool measures the result the way a
user meets it: procedural objects (tools/procedural/objects.py, built square to their own
axes) drawn from a seed no training set used, rendered like a concept image
(perspective camera, 35° field of view, random azimuth and elevation 0–35°,
light-grey background), then `generate`'s own steps (background removal, framing,
model, mesh). For every render it reports the yaw error modulo 90° (a box turned by
90° is square again) with and without squaring, per object family.

    python tools/eval_orientation.py --objects 150 --table docs/generator/orientation_table.md

Round footprints are never turned, so for cans and vases the numbers only say where
the camera was. Each row also says whether the object's own footprint is round
(`reconstruct.footprint` of its true mesh varies by under 20 % over all turns); the
summary counts the round objects that were turned anyway (a lantern turned 40° shows
its side to the camera). Deterministic from --seed.

    python tools/eval_orientation.py --roundish docs/generator/roundish_sheet.png

renders roundish objects (lantern, pot, lamp post, extinguisher, vase, cylinders; the
teapot, bunny and Suzanne of ../shared/assets) and, for contrast, boxy ones (a box,
drawers, a chair) from several azimuths, generates each, and writes a sheet: the input,
the asset seen from its front (+Z) and from above, with the turn and why.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.generate.card import load_card  # noqa: E402
from engine.generate.pipeline import DEFAULT_MODEL, GenerateSettings, build_mesh  # noqa: E402
from engine.generate.reconstruct import MIN_AREA_VARIATION  # noqa: E402
from engine.generate.runtime import get_model  # noqa: E402
from tools.eval_generator import HELD_OUT_SEED  # noqa: E402


def yaw_error(degrees: float) -> float:
    """|angle| folded to [0, 45]: how far from square to the axes (a quarter turn is)."""
    return abs((degrees + 45.0) % 90.0 - 45.0)


def true_variation(scene) -> float:
    """How much the true footprint's bounding rectangle varies over all turns (0 round)."""
    from engine.generate.reconstruct import footprint

    mesh = scene.to_geometry() if hasattr(scene, "to_geometry") else scene.dump(concatenate=True)
    shape = footprint(np.asarray(mesh.vertices))
    return 0.0 if shape is None else shape.variation


def render_views(objects: int, views: int, seed: int, folder: Path):
    """Yield (family, azimuth, elevation, RGBA PNG path, true footprint variation) for
    `views` renders of each of `objects` procedural objects (object i uses
    default_rng([seed, i]))."""
    from PIL import Image

    from tools.eval_generator import render_view
    from tools.procedural.objects import random_object
    from tools.procedural.samples import export_glb

    for i in range(objects):
        rng = np.random.default_rng([seed, i])
        family, scene = random_object(rng)
        variation = true_variation(scene)
        glb = folder / f"object_{i}.glb"
        export_glb(scene, str(glb))
        for k in range(views):
            azimuth = float(rng.uniform(0.0, 360.0))
            elevation = float(rng.uniform(0.0, 35.0))
            png = folder / f"object_{i}_{k}.png"
            Image.fromarray(render_view(glb, None, azimuth=azimuth, elevation=elevation,
                                        size=384)).save(png)
            yield family, azimuth, elevation, png, variation


def measure(objects: int, views: int, seed: int, card_path: Path) -> list[dict]:
    """One row per render: family, camera, squaring turn and yaw errors (degrees)."""
    from engine.reference import frame_subject, load_reference

    card = load_card(card_path)
    model = get_model(card, "cpu")
    settings = GenerateSettings(faces=8000)
    rows = []
    with tempfile.TemporaryDirectory(prefix="maquette-orientation-") as tmp:
        for family, azimuth, elevation, png, variation in render_views(objects, views, seed,
                                                                       Path(tmp)):
            framed = frame_subject(load_reference(png), card.size, card.foreground_ratio,
                                   card.background)
            prediction = model.predict(framed.image, framed.mask)
            _mesh, info = build_mesh(prediction, framed.mask, settings)
            camera_frame = -azimuth  # the object's axes, as the asset holds them
            rows.append({"family": family, "azimuth": round(azimuth, 2),
                         "elevation": round(elevation, 2), "turned_deg": info["turned_deg"],
                         "round": variation < MIN_AREA_VARIATION,
                         "error_camera_frame": yaw_error(camera_frame),
                         "error_squared": yaw_error(camera_frame + info["turned_deg"])})
            print(json.dumps(rows[-1]), flush=True)
    return rows


# --------------------------------------------------------------------------------------
# Roundish objects: never to be turned
# --------------------------------------------------------------------------------------


def _part(mesh, rgb, offset=(0.0, 0.0, 0.0), stand=False):
    """A trimesh part, coloured, stood on +y when it was built along z, moved."""
    import trimesh

    if stand:
        mesh.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    mesh.apply_translation(offset)
    mesh.visual = trimesh.visual.ColorVisuals(mesh, face_colors=list(rgb) + [255])
    return mesh


def roundish_objects() -> dict:
    """name -> (trimesh.Scene, round?): roundish objects the issue names (lantern, pot,
    lamp post, extinguisher) and a few more, plus boxy ones for contrast. Y-up, metres."""
    import trimesh
    from trimesh.creation import box, cone, cylinder, icosphere, torus

    def cyl(r, h, y0=0.0, rgb=(180, 60, 50)):
        return _part(cylinder(r, h, sections=48), rgb, (0, y0 + h / 2, 0), stand=True)

    dark, brass = (40, 40, 40), (230, 190, 90)
    objects = {
        "cylinder": ([cyl(0.15, 0.8)], True),
        "drum": ([cyl(0.4, 0.35, rgb=(60, 120, 200))], True),
        "lantern": ([cyl(0.2, 0.04, rgb=dark), cyl(0.17, 0.36, 0.04, rgb=brass),
                     _part(cone(0.24, 0.16, sections=48), dark, (0, 0.40, 0), stand=True),
                     _part(torus(0.07, 0.012), dark, (0, 0.62, 0))], True),
        "lamp post": ([cyl(0.12, 0.06, rgb=(30, 40, 35)), cyl(0.03, 1.2, 0.06, rgb=(30, 40, 35)),
                       _part(icosphere(3, 0.11), (240, 230, 200), (0, 1.33, 0))], True),
        "extinguisher": ([cyl(0.1, 0.5, rgb=(200, 30, 30)),
                          _part(icosphere(3, 0.1), (200, 30, 30), (0, 0.5, 0)),
                          cyl(0.03, 0.08, 0.58, rgb=dark),
                          _part(box((0.12, 0.02, 0.03)), dark, (0.05, 0.66, 0))], True),
        "pot": ([cyl(0.3, 0.3, rgb=(170, 170, 175)), cyl(0.32, 0.02, 0.3, rgb=(120, 120, 125)),
                 _part(box((0.1, 0.03, 0.04)), dark, (0.36, 0.27, 0)),
                 _part(box((0.1, 0.03, 0.04)), dark, (-0.36, 0.27, 0))], True),
        "vase": ([cyl(0.12, 0.1, rgb=(90, 140, 110)),
                  _part(icosphere(3, 0.2), (90, 140, 110), (0, 0.28, 0)),
                  cyl(0.07, 0.25, 0.4, rgb=(90, 140, 110))], True),
        "box": ([_part(box((0.8, 0.5, 0.4)), (200, 120, 60), (0, 0.25, 0))], False),
        "drawers": ([_part(box((0.6, 0.9, 0.45)), (150, 110, 70), (0, 0.45, 0))]
                    + [_part(box((0.5, 0.2, 0.02)), (170, 130, 90), (0, 0.18 + 0.27 * i, 0.23))
                       for i in range(3)], False),
        "chair": ([_part(box((0.05, 0.45, 0.05)), (120, 80, 50), (x, 0.225, z))
                   for x in (-0.2, 0.2) for z in (-0.2, 0.2)]
                  + [_part(box((0.48, 0.05, 0.48)), (120, 80, 50), (0, 0.47, 0)),
                     _part(box((0.48, 0.5, 0.05)), (120, 80, 50), (0, 0.75, -0.215))], False),
    }
    return {name: (trimesh.Scene(parts), flag) for name, (parts, flag) in objects.items()}


SHARED_ROUNDISH = ("teapot.stl", "bunny.ply", "suzanne.ply")


def roundish_sheet(sheet: Path, azimuths=(0.0, 20.0, 35.0, 60.0), elevation=15.0,
                   card_path: Path = DEFAULT_MODEL, shared: Path | None = None) -> list[dict]:
    """Generate every roundish (and boxy) object from each azimuth with `generate`'s
    defaults; write `sheet` (rows: input | asset from its front | asset from above) and
    return one row per render (name, round?, azimuth, turn, why)."""
    from PIL import Image, ImageDraw

    from engine.generate.pipeline import generate_asset
    from tools.eval_generator import render_view, up_axis
    from tools.shared_assets import SHARED_ASSETS

    shared = shared or SHARED_ASSETS
    rows, tiles = [], []
    with tempfile.TemporaryDirectory(prefix="maquette-roundish-") as tmp:
        folder = Path(tmp)
        sources = []
        for name, (scene, is_round) in roundish_objects().items():
            glb = folder / f"{name.replace(' ', '_')}.glb"
            scene.export(glb)
            sources.append((name, glb, "y", is_round))
        for file in SHARED_ROUNDISH:
            if (shared / file).is_file():
                sources.append((file.split(".")[0], shared / file, up_axis(shared / file), True))
        for name, glb, up, is_round in sources:
            for azimuth in azimuths:
                png = folder / f"{glb.stem}_{azimuth:g}.png"
                rgba = render_view(glb, None, azimuth=azimuth, elevation=elevation, up=up,
                                   size=256)
                Image.fromarray(rgba).save(png)
                out = folder / f"{glb.stem}_{azimuth:g}_asset.glb"
                report = generate_asset(png, out, GenerateSettings(model=str(card_path)),
                                        log=lambda m: None).report["mesh"]
                why = (report.get("squaring") or {}).get("reason", "")
                rows.append({"name": name, "round": is_round, "azimuth": azimuth,
                             "turned_deg": report["turned_deg"], "why": why})
                print(json.dumps(rows[-1]), flush=True)
                views = [rgba] + [render_view(out, None, azimuth=0.0, elevation=e, size=256)
                                  for e in (5.0, 85.0)]
                tile = Image.new("RGB", (3 * 256, 276), "white")
                for k, v in enumerate(views):
                    rgb = v[..., :3].astype(np.float32) * (v[..., 3:] / 255.0) + 255.0 * (
                        1.0 - v[..., 3:] / 255.0)
                    tile.paste(Image.fromarray(rgb.astype(np.uint8)), (256 * k, 0))
                ImageDraw.Draw(tile).text(
                    (4, 258), f"{name} az {azimuth:g}: turned {report['turned_deg']:g} ({why})",
                    fill=(200, 0, 0) if is_round and report["turned_deg"] else (0, 0, 0))
                tiles.append(tile.resize((384, 138), Image.Resampling.LANCZOS))
    columns = len(azimuths)
    height = -(-len(tiles) // columns)
    out = Image.new("RGB", (columns * 384, height * 138), "white")
    for i, tile in enumerate(tiles):
        out.paste(tile, ((i % columns) * 384, (i // columns) * 138))
    sheet.parent.mkdir(parents=True, exist_ok=True)
    out.save(sheet)
    return rows


def summarise(rows: list[dict]) -> tuple[list[tuple], dict]:
    """Per family (name, renders, share turned, mean errors) and over the turned renders."""
    families = defaultdict(list)
    for r in rows:
        families[r["family"].split("-")[0]].append(r)
    table = []
    for name, group in sorted(families.items()):
        table.append((name, len(group), np.mean([r["turned_deg"] != 0 for r in group]),
                      np.mean([r["error_camera_frame"] for r in group]),
                      np.mean([r["error_squared"] for r in group])))
    turned = [r for r in rows if r["turned_deg"] != 0]
    before = np.array([r["error_camera_frame"] for r in turned])
    after = np.array([r["error_squared"] for r in turned])
    summary = {"renders": len(rows), "turned": len(turned)}
    round_rows = [r for r in rows if r.get("round")]
    if round_rows:
        wrong = [abs(r["turned_deg"]) for r in round_rows if r["turned_deg"] != 0]
        summary.update({"round_renders": len(round_rows), "round_turned": len(wrong),
                        "round_turned_mean_deg": float(np.mean(wrong)) if wrong else 0.0})
    if turned:
        summary.update({
            "mean_error_camera_frame": float(before.mean()),
            "mean_error_squared": float(after.mean()),
            "median_error_squared": float(np.median(after)),
            "share_improved": float((after < before).mean()),
            "share_within_10_camera_frame": float((before < 10).mean()),
            "share_within_10_squared": float((after < 10).mean())})
    return table, summary


def markdown(table: list[tuple], summary: dict) -> str:
    lines = ["| family | renders | turned | yaw error, camera frame | yaw error, squared |",
             "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {n} | {k} | {share:.0%} | {a:.1f}° | {b:.1f}° |"
              for n, k, share, a, b in table]
    if summary.get("round_renders"):
        lines.append(f"| round footprint (true mesh) | {summary['round_renders']} | "
                     f"{summary['round_turned'] / summary['round_renders']:.0%} | | |")
    if summary.get("turned"):
        lines.append(f"| **all turned renders** | {summary['turned']} of {summary['renders']} "
                     f"| 100% | {summary['mean_error_camera_frame']:.1f}° | "
                     f"{summary['mean_error_squared']:.1f}° |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=60)
    p.add_argument("--views", type=int, default=2, help="renders per object")
    p.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model card")
    p.add_argument("--table", type=Path, help="write a Markdown table here")
    p.add_argument("--json", type=Path, help="write every row and the summary here")
    p.add_argument("--roundish", type=Path, metavar="SHEET.png",
                   help="instead: generate the roundish and boxy test objects, write a sheet")
    args = p.parse_args(argv)
    if args.roundish:
        rows = roundish_sheet(args.roundish, card_path=args.model)
        round_rows = [r for r in rows if r["round"]]
        turned = [r for r in round_rows if r["turned_deg"]]
        print(f"round objects turned: {len(turned)} of {len(round_rows)} renders; boxy ones "
              f"squared: {sum(1 for r in rows if not r['round'] and r['turned_deg'])} of "
              f"{len(rows) - len(round_rows)}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(rows, indent=1))
        return 0
    rows = measure(args.objects, args.views, args.seed, args.model)
    table, summary = summarise(rows)
    text = markdown(table, summary)
    print(text)
    print(json.dumps(summary, indent=1))
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
