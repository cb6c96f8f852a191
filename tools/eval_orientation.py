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
the camera was. Deterministic from --seed.
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
from engine.generate.runtime import get_model  # noqa: E402
from tools.eval_generator import HELD_OUT_SEED  # noqa: E402


def yaw_error(degrees: float) -> float:
    """|angle| folded to [0, 45]: how far from square to the axes (a quarter turn is)."""
    return abs((degrees + 45.0) % 90.0 - 45.0)


def render_views(objects: int, views: int, seed: int, folder: Path):
    """Yield (family, azimuth, elevation, RGBA PNG path) for `views` renders of each of
    `objects` procedural objects (object i uses default_rng([seed, i]))."""
    from PIL import Image

    from tools.eval_generator import render_view
    from tools.procedural.objects import random_object
    from tools.procedural.samples import export_glb

    for i in range(objects):
        rng = np.random.default_rng([seed, i])
        family, scene = random_object(rng)
        glb = folder / f"object_{i}.glb"
        export_glb(scene, str(glb))
        for k in range(views):
            azimuth = float(rng.uniform(0.0, 360.0))
            elevation = float(rng.uniform(0.0, 35.0))
            png = folder / f"object_{i}_{k}.png"
            Image.fromarray(render_view(glb, None, azimuth=azimuth, elevation=elevation,
                                        size=384)).save(png)
            yield family, azimuth, elevation, png


def measure(objects: int, views: int, seed: int, card_path: Path) -> list[dict]:
    """One row per render: family, camera, squaring turn and yaw errors (degrees)."""
    from engine.reference import frame_subject, load_reference

    card = load_card(card_path)
    model = get_model(card, "cpu")
    settings = GenerateSettings(faces=8000)
    rows = []
    with tempfile.TemporaryDirectory(prefix="maquette-orientation-") as tmp:
        for family, azimuth, elevation, png in render_views(objects, views, seed, Path(tmp)):
            framed = frame_subject(load_reference(png), card.size, card.foreground_ratio,
                                   card.background)
            prediction = model.predict(framed.image, framed.mask)
            _mesh, info = build_mesh(prediction, framed.mask, settings)
            camera_frame = -azimuth  # the object's axes, as the asset holds them
            rows.append({"family": family, "azimuth": round(azimuth, 2),
                         "elevation": round(elevation, 2), "turned_deg": info["turned_deg"],
                         "error_camera_frame": yaw_error(camera_frame),
                         "error_squared": yaw_error(camera_frame + info["turned_deg"])})
            print(json.dumps(rows[-1]), flush=True)
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
    args = p.parse_args(argv)
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
