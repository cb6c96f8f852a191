"""How square to its own axes does a generated asset come out? (validation renders)

A layered-depth mesh is built in the camera's frame, so an object seen from azimuth
`a` comes out turned by -a about the vertical. `maquette generate` stands it upright
and then squares its footprint (`--square`). This tool measures the result on a
dataset shard written by tools/make_dataset.py (use a validation shard: shard 0 holds
objects no training shard has), whose objects are built square to their own axes:
for every render, the yaw error modulo 90° (a box turned by 90° is square again) of
the asset with and without squaring, per object family.

    python tools/eval_orientation.py --shard /work/data/gpu1/shard_00000.npz \\
        --table docs/generator/orientation_table.md

Round footprints are never turned, so for cans and vases the numbers only say where
the camera was. Deterministic.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.generate.card import load_card  # noqa: E402
from engine.generate.pipeline import DEFAULT_MODEL, GenerateSettings, build_mesh  # noqa: E402
from engine.generate.runtime import get_model  # noqa: E402


def yaw_error(degrees: float) -> float:
    """|angle| folded to [0, 45]: how far from square to the axes (a quarter turn is)."""
    return abs((degrees + 45.0) % 90.0 - 45.0)


def measure(shard: Path, card_path: Path, limit: int | None = None) -> list[dict]:
    """One row per render: family, camera azimuth, squaring turn, yaw errors (degrees)."""
    data = np.load(shard)
    model = get_model(load_card(card_path), "cpu")
    settings = GenerateSettings(faces=4000)
    rows = []
    count = len(data["mask"]) if limit is None else min(limit, len(data["mask"]))
    for i in range(count):
        rgba = data["rgba"][i].astype(np.float32) / 255.0
        alpha = rgba[..., 3]
        image = rgba[..., :3] * alpha[..., None] + 0.5 * (1.0 - alpha[..., None])
        prediction = model.predict(image, alpha)
        _mesh, info = build_mesh(prediction, alpha, settings)
        meta = json.loads(str(data["meta"][i]))
        camera_frame = -float(meta["azimuth"])  # the object's axes, seen in the asset
        rows.append({"family": meta["family"], "azimuth": float(meta["azimuth"]),
                     "turned_deg": info["turned_deg"],
                     "error_camera_frame": yaw_error(camera_frame),
                     "error_squared": yaw_error(camera_frame + info["turned_deg"])})
    return rows


def summarise(rows: list[dict]) -> tuple[list[tuple], dict]:
    """Per family (name, renders, share turned, mean errors) and over the turned renders."""
    families = defaultdict(list)
    for r in rows:
        families[r["family"]].append(r)
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
    p.add_argument("--shard", type=Path, required=True, help="validation shard (.npz)")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model card")
    p.add_argument("--limit", type=int, help="only the first N renders")
    p.add_argument("--table", type=Path, help="write a Markdown table here")
    p.add_argument("--json", type=Path, help="write every row and the summary here")
    args = p.parse_args(argv)
    if not args.shard.is_file():
        raise SystemExit(f"{args.shard}: no such shard")
    rows = measure(args.shard, args.model, args.limit)
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
