"""Evaluate an image → 3D generator on held-out meshes (issue 4's protocol).

For each mesh: render a 3/4 view (azimuth 30°, elevation 20°, 512 × 512, studio
light, plain light-grey background) with Maquette's stage, run
`maquette generate IMAGE -o OUT.glb --model MODEL`, then normalise prediction and
ground truth (bounding-box centre at the origin, longest side 1), align them by a
rotation search (a grid of rotations, best Chamfer on 2,000 points) followed by ICP,
sample 10,000 surface points each and report:

- Chamfer distance: mean of the two directions' mean nearest-neighbour distances;
- F-score at 0.05 and 0.1;
- volume IoU (voxels of 1/64, surface voxelised then filled) where both meshes are
  watertight;
- from the input view: silhouette IoU and colour PSNR of a render of the generated
  asset against the input (both cropped to their silhouette box, resized to 256 px).

Two baselines are scored under the same protocol from the input's silhouette: an
ellipsoid fitted to its box (depth = the smaller side) and the silhouette extruded
to half its larger side.

    python tools/eval_generator.py --model models/maquette-ld-v2.json \
        --assets ../shared/assets --out /work/data/eval --table docs/generator/eval.md

`--procedural N` scores N procedural objects of a seed no training set used instead:
the place to decide on a change before looking at the held-out meshes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".stl")
BACKGROUND = "#d9d9d9"
AZIMUTH, ELEVATION, SIZE = 30.0, 20.0, 512
N_POINTS = 10_000
HELD_OUT_SEED = 7  # procedural objects of a seed no training set used (they used 0 and 1)


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def render_view(asset: Path, png: Path | None, *, azimuth=AZIMUTH, elevation=ELEVATION,
                up="y", background=BACKGROUND, size=SIZE) -> np.ndarray:
    """(size, size, 4) uint8 RGBA of `asset` from a static camera; alpha from a second
    transparent render (the silhouette)."""
    from PIL import Image

    from engine.render.stage import Stage
    from engine.scene import scene_from_dict

    frames = []
    for bg in (background, "transparent"):
        scene = scene_from_dict({
            "asset": {"source": str(asset), "up": up, "pivot": "center"},
            "stage": {"lights": "studio", "background": bg, "ground": False},
            "camera": {"move": "static", "azimuth": azimuth, "elevation": elevation},
            "output": {"height": size, "aspect": "1:1", "msaa": 4, "file": "unused.mov"},
        }, None)
        with Stage(scene, size, size) as stage:
            frames.append(stage.capture(0.0))
    rgba = frames[0].copy()
    rgba[..., 3] = frames[1][..., 3]
    if png is not None:
        png.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgba[..., :3]).save(png)
    return rgba


def up_axis(path: Path) -> str:
    """glTF and OBJ are Y-up; for PLY/STL ask the asset inspector which way is up."""
    if path.suffix.lower() in (".glb", ".gltf", ".obj"):
        return "y"
    try:
        from engine.asset.inspect import guess_up

        axis, _ = guess_up(load_mesh(path), "+z")
        return "z" if "z" in axis else "y"
    except Exception:
        return "z"


# --------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------


def load_mesh(path: Path):
    import trimesh

    loaded = trimesh.load(str(path), force="scene")
    mesh = loaded.to_geometry() if hasattr(loaded, "to_geometry") else loaded.dump(
        concatenate=True)
    return trimesh.Trimesh(vertices=np.asarray(mesh.vertices), faces=np.asarray(mesh.faces),
                           process=True)


def normalise(mesh):
    mesh = mesh.copy()
    lo, hi = mesh.bounds
    mesh.apply_translation(-(lo + hi) / 2)
    mesh.apply_scale(1.0 / max(float((hi - lo).max()), 1e-9))
    return mesh


def _rotations() -> list[np.ndarray]:
    """24 axis-aligned frames × 12 turns about the vertical: covers any up-axis mix-up
    and any azimuth, to 15°."""
    from scipy.spatial.transform import Rotation

    base = Rotation.create_group("O").as_matrix()
    turns = Rotation.from_euler("y", np.arange(0, 360, 30)[:, None], degrees=True).as_matrix()
    out = [t @ b for b in base for t in turns]
    uniq = []
    for r in out:
        if not any(np.allclose(r, u, atol=1e-6) for u in uniq):
            uniq.append(r)
    return uniq


def chamfer_f(a: np.ndarray, b: np.ndarray, taus=(0.05, 0.1)) -> dict:
    from scipy.spatial import cKDTree

    da, _ = cKDTree(b).query(a)
    db, _ = cKDTree(a).query(b)
    res = {"chamfer": float(0.5 * (da.mean() + db.mean()))}
    for t in taus:
        p, r = float((da < t).mean()), float((db < t).mean())
        res[f"f@{t}"] = 0.0 if p + r == 0 else 2 * p * r / (p + r)
    return res


def align(pred, gt, seed=0):
    """Rotation search + ICP; returns the aligned copy of `pred` (both normalised)."""
    import trimesh

    rng = np.random.default_rng(seed)
    pa = pred.sample(2000, seed=int(rng.integers(1 << 30))) if _has_seed() else pred.sample(2000)
    pb = gt.sample(2000, seed=int(rng.integers(1 << 30))) if _has_seed() else gt.sample(2000)
    best, best_r = np.inf, np.eye(3)
    for r in _rotations():
        c = chamfer_f(pa @ r.T, pb, taus=())["chamfer"]
        if c < best:
            best, best_r = c, r
    m = np.eye(4)
    m[:3, :3] = best_r
    try:
        matrix, _, _ = trimesh.registration.icp(pa, pb, initial=m, max_iterations=40,
                                                reflection=False, scale=False)
    except Exception:
        matrix = m
    out = pred.copy()
    out.apply_transform(matrix)
    return out


def _has_seed() -> bool:
    import inspect

    import trimesh

    return "seed" in inspect.signature(trimesh.Trimesh.sample).parameters


def _occupancy(mesh, pitch: float) -> set:
    """Integer cells (pitch-sized, from the origin) inside a watertight mesh: surface
    voxelisation then a hole fill (no ray tracing, so no rtree/embree needed)."""
    grid = mesh.voxelized(pitch).fill()
    cells = np.floor(np.asarray(grid.points) / pitch).astype(np.int64)
    return set(map(tuple, cells))


def volume_iou(a, b, pitch: float = 1 / 64) -> float | None:
    if not (a.is_watertight and b.is_watertight):
        return None
    try:
        ia, ib = _occupancy(a, pitch), _occupancy(b, pitch)
    except Exception:
        return None
    union = len(ia | ib)
    return float(len(ia & ib) / union) if union else None


def score(pred, gt, seed=0) -> dict:
    """Issue 4's protocol: normalise both (box centre, longest side 1), align, sample.
    The scale comes from the prediction's box in the frame it is written in, so a
    perfect cube turned 30° about the vertical is shrunk by 1/1.37 and scores
    F@0.05 = 0 (tests/test_eval_protocol.py): orientation counts."""
    pred, gt = normalise(pred), normalise(gt)
    pred = align(pred, gt, seed)
    kw = {"seed": seed} if _has_seed() else {}
    a = pred.sample(N_POINTS, **kw)
    b = gt.sample(N_POINTS, **kw)
    res = chamfer_f(a, b)
    res["volume_iou"] = volume_iou(pred, gt)
    return res


# --------------------------------------------------------------------------------------
# Baselines from the silhouette
# --------------------------------------------------------------------------------------


def baselines(alpha: np.ndarray) -> dict:
    """Ellipsoid fitted to the silhouette's box, and the silhouette extruded to half its
    larger side; in the viewer frame (x right, y up, +z toward the viewer)."""
    import trimesh

    from engine.generate.reconstruct import layered_mesh

    m = alpha > 127
    rows, cols = np.nonzero(m)
    h = rows.max() - rows.min() + 1
    w = cols.max() - cols.min() + 1
    ell = trimesh.creation.icosphere(subdivisions=4, radius=0.5)
    ell.apply_scale([w, h, min(w, h)])
    # extruded: the silhouette in a square crop, front = -d/2, back = +d/2 (crop units)
    side = max(h, w)
    r0, c0 = rows.min() + h / 2 - side / 2, cols.min() + w / 2 - side / 2
    n = 128
    yy, xx = np.mgrid[:n, :n]
    sr = np.clip((r0 + (yy + 0.5) * side / n).astype(int), 0, m.shape[0] - 1)
    sc = np.clip((c0 + (xx + 0.5) * side / n).astype(int), 0, m.shape[1] - 1)
    small = m[sr, sc]
    d = 0.5 * max(h, w) / side
    result = layered_mesh(small, np.full((n, n), -d / 2), np.full((n, n), d / 2))
    ext = trimesh.Trimesh(vertices=result.vertices, faces=result.faces, process=True)
    return {"ellipsoid": ell, "extruded": ext}


# --------------------------------------------------------------------------------------
# Input-view image metrics
# --------------------------------------------------------------------------------------


def _crop(rgba: np.ndarray, n=256):
    from PIL import Image

    m = rgba[..., 3] > 127
    rows, cols = np.nonzero(m)
    if len(rows) == 0:
        return np.zeros((n, n), bool), np.zeros((n, n, 3))
    side = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
    cr, cc = (rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2
    box = (int(cc - side / 2), int(cr - side / 2), int(cc - side / 2) + side,
           int(cr - side / 2) + side)
    img = Image.fromarray(rgba).crop(box).resize((n, n), Image.Resampling.BILINEAR)
    arr = np.asarray(img).astype(np.float64) / 255
    return arr[..., 3] > 0.5, arr[..., :3]


def view_metrics(input_rgba: np.ndarray, generated_glb: Path) -> dict:
    """Render the generated asset from the input's view and compare with the input. The
    asset faces +Z; it is in the camera's frame (seen at elevation 0), or stood upright
    by the estimated elevation its OUT.json reports (seen from that elevation) and
    turned by `turned_deg` about the vertical (seen from that azimuth)."""
    report = json.loads(generated_glb.with_suffix(".json").read_text())["mesh"]
    elevation = report.get("view_elevation_deg") if report.get("stood_upright") else 0.0
    out = render_view(generated_glb, None, azimuth=report.get("turned_deg", 0.0),
                      elevation=elevation or 0.0)
    ma, ca = _crop(input_rgba)
    mb, cb = _crop(out)
    iou = float((ma & mb).sum() / max((ma | mb).sum(), 1))
    both = ma & mb
    mse = float(((ca - cb) ** 2)[both].mean()) if both.any() else 1.0
    psnr = float(10 * np.log10(1.0 / max(mse, 1e-10)))
    return {"silhouette_iou": iou, "psnr": psnr}


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def contact_sheet(items: list[tuple[Path, Path]], png: Path, cell: int = 160) -> None:
    """One row per asset: the input image, then the generated asset from azimuth 0, 90,
    180 and 270 degrees (elevation 15) on the same light-grey stage."""
    from PIL import Image

    rows = []
    for image, glb in items:
        cells = [Image.open(image).convert("RGB").resize((cell, cell))]
        for az in (0.0, 90.0, 180.0, 270.0):
            try:
                rgba = render_view(glb, None, azimuth=az, elevation=15.0, size=cell)
                cells.append(Image.fromarray(rgba[..., :3]))
            except Exception:
                cells.append(Image.new("RGB", (cell, cell), (255, 0, 0)))
        row = Image.new("RGB", (cell * len(cells), cell))
        for i, c in enumerate(cells):
            row.paste(c, (i * cell, 0))
        rows.append(row)
    sheet = Image.new("RGB", (rows[0].width, cell * len(rows)))
    for i, r in enumerate(rows):
        sheet.paste(r, (0, i * cell))
    png.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(png)


def procedural_assets(count: int, seed: int, folder: Path) -> list[Path]:
    """GLBs of `count` procedural objects (object i: default_rng([seed, i])), named
    by index and family, in `folder`."""
    from tools.procedural.objects import random_object
    from tools.procedural.samples import export_glb

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        family, scene = random_object(np.random.default_rng([seed, i]))
        path = folder / f"{i:03d}_{family}.glb"
        export_glb(scene, str(path))
        paths.append(path)
    return paths


def generate(image: Path, glb: Path, model: str, options: tuple[str, ...] | list[str] = ()
             ) -> float:
    t = time.time()
    cmd = [sys.executable, "-m", "engine.cli", "generate", str(image), "-o", str(glb),
           "--model", model, *options]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.time() - t


def mean(values):
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


METHODS = ("model", "extruded", "ellipsoid")
KEYS = ("chamfer", "f@0.05", "f@0.1", "volume_iou", "silhouette_iou", "psnr")


def summarise(rows: list[dict]) -> dict:
    return {method: {k: mean([r[method].get(k) for r in rows]) for k in KEYS}
            for method in METHODS}


def table(rows: list[dict], summary: dict) -> str:
    """Markdown table: one line per asset and method, then the means."""
    lines = ["| asset | method | Chamfer ↓ | F@0.05 ↑ | F@0.1 ↑ | vol IoU ↑ | sil IoU ↑ "
             "| PSNR ↑ |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]

    def fmt(x, d=3):
        return "–" if x is None else f"{x:.{d}f}"

    for r in rows + [{"asset": "**mean**", **summary}]:
        for method in METHODS:
            m = r[method]
            lines.append(f"| {r['asset']} | {method} | {fmt(m.get('chamfer'))} | "
                         f"{fmt(m.get('f@0.05'))} | {fmt(m.get('f@0.1'))} | "
                         f"{fmt(m.get('volume_iou'))} | {fmt(m.get('silhouette_iou'))} | "
                         f"{fmt(m.get('psnr'), 1)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/maquette-ld-v2.json",
                   help="model card, or 'classical'")
    p.add_argument("--assets", type=Path, default=Path("../shared/assets"))
    p.add_argument("--out", type=Path, default=Path("/tmp/maquette-eval"))
    p.add_argument("--table", type=Path, help="write a Markdown table here")
    p.add_argument("--only", nargs="*", help="asset file names to evaluate")
    p.add_argument("--sheet", type=Path, help="contact sheet PNG: input + 4 turntable views")
    p.add_argument("--procedural", type=int, default=0, metavar="N",
                   help="evaluate N procedural objects (tools/procedural/objects.py, seed "
                        "--seed) instead of --assets: a validation set to decide on changes "
                        "without touching the held-out meshes")
    p.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="seed of --procedural")
    p.add_argument("--generate-option", action="append", default=[], metavar="OPTION",
                   help="pass this option to `maquette generate` (repeatable), e.g. "
                        "--generate-option=--no-square")
    args = p.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    if args.procedural:
        assets = procedural_assets(args.procedural, args.seed, args.out / "objects")
    else:
        assets = sorted(q for q in args.assets.iterdir() if q.suffix.lower() in MESH_SUFFIXES)
    if args.only:
        assets = [q for q in assets if q.name in args.only]
    rows = []
    made = []
    for asset in assets:
        name = asset.stem.replace(" ", "_")
        png = args.out / f"{name}.png"
        up = up_axis(asset)
        rgba = render_view(asset, png, up=up)
        glb = args.out / f"{name}.glb"
        seconds = generate(png, glb, args.model, args.generate_option)
        made.append((png, glb))
        gt = load_mesh(asset)
        if up == "z":
            gt.apply_transform(np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0],
                                         [0, 0, 0, 1]], float))
        row = {"asset": asset.name, "up": up, "generate_s": round(seconds, 2)}
        row["model"] = score(load_mesh(glb), gt)
        row["model"].update(view_metrics(rgba, glb))
        for base_name, mesh in baselines(rgba[..., 3]).items():
            row[base_name] = score(mesh, gt)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.sheet and made:
        contact_sheet(made, args.sheet)
    summary = summarise(rows)
    (args.out / "eval.json").write_text(json.dumps({"rows": rows, "mean": summary}, indent=1))
    print(json.dumps(summary, indent=1))
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table(rows, summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
