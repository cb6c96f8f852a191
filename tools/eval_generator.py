"""Evaluate image → 3D generators on held-out meshes (issues 4 and 20).

For each mesh and input protocol: render the input view with Maquette's stage (512 ×
512, plain light-grey background), run `maquette generate IMAGE -o OUT.glb --model M`
for every `--model` given, then normalise prediction and ground truth (bounding-box
centre at the origin, longest side 1), align them by a rotation search (a grid of
rotations, best Chamfer on 2,000 points) followed by ICP, sample 10,000 surface
points each and report:

- Chamfer distance: mean of the two directions' mean nearest-neighbour distances;
- F-score at 0.05 and 0.1;
- volume IoU (voxels of 1/64, surface voxelised then filled) where both meshes are
  watertight;
- from the input view: silhouette IoU and colour PSNR of a render of the generated
  asset against the input (both cropped to their silhouette box, resized to 256 px);
- appearance from views the input did not show (tools/eval_views.py): the ground
  truth and the aligned prediction rendered alike (studio light turning with the
  camera, plain background, 160 px) from the input's view and 90°, 180° (the back)
  and 270° round from it: PSNR over the whole image and over the pixels where both
  show the object, SSIM, silhouette IoU, per view and as means; the colour-cast check
  (back-minus-front mean CIELAB a*, b* against the ground truth's), the back detail
  ratio (high-frequency energy, back / input view) and the ghost score (correlation
  of the back with the mirrored input view).

Input protocols (`--protocol`, both by default): `3q`, azimuth 30°, elevation 20°
(issue 4's); `front`, azimuth 0–10° and elevation 5–10° drawn per object from a seed
of its name (issue 20: how most concept images are drawn). Looks (`--look`): `plain`
(35° field of view, studio light, no floor) or `photo` (30–50° field of view drawn per
object, soft-box light, soft shadows on a floor, a light studio-sweep gradient).

Baselines, from the input's silhouette: an ellipsoid fitted to its box (depth = the
smaller side; geometry only) and the silhouette extruded to half its larger side,
textured by projecting the input image onto its front and its back (the naive
appearance baseline).

    python tools/eval_generator.py --model models/maquette-ld-v3.json \
        --model models/maquette-ld-v2.json --assets ../shared/assets \
        --out /work/data/eval --table docs/generator/eval_table.md

`--procedural N` scores N procedural objects of a seed no training set used instead:
the place to decide on a change before looking at the held-out meshes. `--quick`
renders smaller (input 256 px, views 64 px) for tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.shared_assets import SHARED_ASSETS  # noqa: E402

MESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply", ".stl")
BASELINE_MODEL = "maquette-ld-v2.json"  # the model before the shipped one, in models/
BACKGROUND = "#d9d9d9"
AZIMUTH, ELEVATION, SIZE = 30.0, 20.0, 512
N_POINTS = 10_000
HELD_OUT_SEED = 7  # procedural objects of a seed no training set used (they used 0 and 1)


def default_models() -> list[str]:
    """Cards scored unless --model says otherwise: the shipped model and the one before."""
    from engine.generate.pipeline import DEFAULT_MODEL, MODELS_DIR

    return [str(DEFAULT_MODEL), str(MODELS_DIR / BASELINE_MODEL)]


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def render_view(asset: Path, png: Path | None, *, azimuth=AZIMUTH, elevation=ELEVATION,
                up="y", background=BACKGROUND, size=SIZE, fov: float = 35.0,
                lights: str = "studio", ground: bool = False) -> np.ndarray:
    """(size, size, 4) uint8 RGBA of `asset` from a static camera; alpha from a second
    transparent render without the floor (the silhouette). `background` is a colour or
    a [top, bottom] gradient; `ground` puts the shadow-catching floor under it."""
    from PIL import Image

    from engine.render.stage import Stage
    from engine.scene import scene_from_dict

    frames = []
    for bg, floor in ((background, ground), ("transparent", False)):
        scene = scene_from_dict({
            "asset": {"source": str(asset), "up": up, "pivot": "center"},
            "stage": {"lights": lights, "background": bg, "ground": floor},
            "camera": {"move": "static", "azimuth": azimuth, "elevation": elevation,
                       "fov": fov},
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


def normalisation(mesh) -> np.ndarray:
    """(4, 4): box centre to the origin, longest side to 1."""
    lo, hi = mesh.bounds
    m = np.diag([1.0 / max(float((hi - lo).max()), 1e-9)] * 3 + [1.0])
    m[:3, 3] = -m[0, 0] * (lo + hi) / 2
    return m


def normalise(mesh):
    mesh = mesh.copy()
    mesh.apply_transform(normalisation(mesh))
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


POSE_TIE = 0.1  # poses within 10 % of the best Chamfer are ties (symmetric shapes)


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Degrees of the rotation between two (3, 3) rotations."""
    return float(np.degrees(np.arccos(np.clip((np.trace(a.T @ b) - 1) / 2, -1.0, 1.0))))


def align_matrices(pred, gt, seed=0, prior: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(4, 4) rigid transforms taking `pred` onto `gt` (both normalised). First, the
    geometry's: the best of the rotation grid by Chamfer on 2,000 points, refined by
    ICP. Second, the appearance's: ICP started from `prior` (3, 3), the pose the method
    itself claims, when its Chamfer comes within POSE_TIE of the geometry's (a cube's
    24 turns, a bottle's spins, a slab that fits turned about as well); else the
    geometry's. A cube's geometry does not say which face is which; its picture does."""
    import trimesh

    rng = np.random.default_rng(seed)
    pa = pred.sample(2000, seed=int(rng.integers(1 << 30))) if _has_seed() else pred.sample(2000)
    pb = gt.sample(2000, seed=int(rng.integers(1 << 30))) if _has_seed() else gt.sample(2000)
    rotations = _rotations()
    costs = [chamfer_f(pa @ r.T, pb, taus=())["chamfer"] for r in rotations]
    best = int(np.argmin(costs))

    def refine(r: np.ndarray) -> np.ndarray:
        m = np.eye(4)
        m[:3, :3] = r
        try:
            matrix, _, _ = trimesh.registration.icp(pa, pb, initial=m, max_iterations=40,
                                                    reflection=False, scale=False)
        except Exception:
            matrix = m
        return matrix

    def cost(m: np.ndarray) -> float:
        return chamfer_f(pa @ m[:3, :3].T + m[:3, 3], pb, taus=())["chamfer"]

    geometry = refine(rotations[best])
    if prior is None:
        return geometry, geometry
    claimed = refine(np.asarray(prior, float))
    return geometry, claimed if cost(claimed) <= cost(geometry) * (1 + POSE_TIE) else geometry


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
    return score_aligned(pred, gt, seed)[0]


def score_aligned(pred, gt, seed=0, prior: np.ndarray | None = None
                  ) -> tuple[dict, np.ndarray]:
    """`score`'s metrics and the (4, 4) matrix taking `pred` as given into the ground
    truth's rest frame (box centre at the origin, the ground truth's own scale): the
    pose in which tools/eval_views.py renders it beside the ground truth (ties broken
    towards `prior`, see align_matrices; the metrics never use the prior)."""
    n_pred, n_gt = normalisation(pred), normalisation(gt)
    pred, gt = normalise(pred), normalise(gt)
    g_m, a_m = align_matrices(pred, gt, seed, prior)
    res = {}
    if prior is not None:  # which pose the appearance renders use, and how far apart
        res["view_pose"] = "geometry" if np.array_equal(g_m, a_m) else "claimed"
        res["view_pose_vs_geometry_deg"] = round(rotation_angle(g_m[:3, :3], a_m[:3, :3]), 1)
    pred.apply_transform(g_m)
    kw = {"seed": seed} if _has_seed() else {}
    a = pred.sample(N_POINTS, **kw)
    b = gt.sample(N_POINTS, **kw)
    res.update(chamfer_f(a, b))
    res["volume_iou"] = volume_iou(pred, gt)
    to_rest = np.diag([1.0 / n_gt[0, 0]] * 3 + [1.0])
    return res, to_rest @ a_m @ n_pred


# --------------------------------------------------------------------------------------
# Baselines from the silhouette
# --------------------------------------------------------------------------------------


def baselines(alpha: np.ndarray, rgb: np.ndarray | None = None,
              textured: Path | None = None) -> dict:
    """Ellipsoid fitted to the silhouette's box, and the silhouette extruded to half its
    larger side; in the viewer frame (x right, y up, +z toward the viewer). With `rgb`
    (H, W, 3 uint8, the input) and `textured` (a .glb path), the extruded mesh is also
    written there textured by projecting the input onto its front and its back (the
    back's pixel (r, c) takes the input's (r, c): the naive appearance baseline)."""
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
    if rgb is not None and textured is not None:
        from engine.generate.glb import to_trimesh, write_glb
        from engine.generate.texture import bake_atlas

        t = 256
        tr = np.clip((r0 + (np.arange(t) + 0.5) * side / t).astype(int), 0, m.shape[0] - 1)
        tc = np.clip((c0 + (np.arange(t) + 0.5) * side / t).astype(int), 0, m.shape[1] - 1)
        crop = rgb[tr][:, tc, :3].astype(np.float64) / 255
        crop_mask = m[tr][:, tc].astype(np.float64)
        atlas = bake_atlas(crop, crop_mask, crop, crop_mask, 2 * t)
        textured.parent.mkdir(parents=True, exist_ok=True)
        write_glb(to_trimesh(result, atlas), textured)
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


def _rot_y(deg: float) -> np.ndarray:
    t = np.radians(deg)
    return np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])


def _rot_x(deg: float) -> np.ndarray:
    t = np.radians(deg)
    return np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])


def camera_frame_pose(azimuth: float, elevation: float) -> np.ndarray:
    """(3, 3) rotation from the input camera's frame (x right, y up, +z toward the
    viewer) to the ground truth's, for a camera at `azimuth`, `elevation` (degrees)."""
    return _rot_y(azimuth) @ _rot_x(-elevation)


def claimed_pose(generated_glb: Path, azimuth: float, elevation: float) -> np.ndarray:
    """(3, 3) rotation from a generated asset's frame to the ground truth's, as the
    generator claims it: stood upright and turned by `turned_deg`, the input's view is
    at that azimuth (OUT.json); otherwise the asset is in the camera's frame."""
    report = json.loads(generated_glb.with_suffix(".json").read_text())["mesh"]
    if report.get("stood_upright"):
        return _rot_y(azimuth - report.get("turned_deg", 0.0))
    return camera_frame_pose(azimuth, elevation)


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


def contact_sheet(items: list[tuple[Path, list[Path]]], png: Path, cell: int = 160,
                  labels: list[str] | None = None, row_labels: list[str] | None = None
                  ) -> None:
    """One row per input: the input image, then for each generated asset (one per
    model, side by side) its front, left, right and back (azimuth 0, 90, 270, 180;
    elevation 15) on the same light-grey stage. `labels` name the models (a header
    row), `row_labels` the inputs (written on the input tile). Written atomically."""
    from PIL import Image, ImageDraw, ImageFont

    from engine.fileio import write_image
    from tools.eval_views import PLAIN, View, render_views, view_distance

    sides = [View("front", 0.0, 15.0), View("left", 90.0, 15.0), View("right", 270.0, 15.0),
             View("back", 180.0, 15.0)]
    rows = []
    font = ImageFont.load_default()
    for k, (image, glbs) in enumerate(items):
        cells = [Image.open(image).convert("RGB").resize((cell, cell))]
        if row_labels:
            ImageDraw.Draw(cells[0]).text((3, cell - 13), row_labels[k], fill=(0, 0, 0),
                                          font=font)
        for glb in glbs:
            try:
                radius = 0.5 * float(np.linalg.norm(np.subtract(*load_mesh(glb).bounds)))
                for rgb, _ in render_views(glb, sides, distance=view_distance(radius),
                                           size=cell, background=PLAIN):
                    cells.append(Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)))
            except Exception:
                cells.extend(Image.new("RGB", (cell, cell), (255, 0, 0)) for _ in sides)
        row = Image.new("RGB", (cell * len(cells), cell))
        for i, c in enumerate(cells):
            row.paste(c, (i * cell, 0))
        rows.append(row)
    header = 18 if labels else 0
    sheet = Image.new("RGB", (max(r.width for r in rows), header + cell * len(rows)),
                      (255, 255, 255))
    if labels:
        draw = ImageDraw.Draw(sheet)
        draw.text((4, 3), "input", fill=(0, 0, 0), font=font)
        for m, name in enumerate(labels):
            x = cell * (1 + 4 * m)
            draw.text((x + 4, 3), f"{name}: front | left | right | back", fill=(0, 0, 0),
                      font=font)
    for i, r in enumerate(rows):
        sheet.paste(r, (0, header + i * cell))
    png.parent.mkdir(parents=True, exist_ok=True)
    write_image(sheet, png, what="a contact sheet")


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


# --------------------------------------------------------------------------------------
# Input protocols
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Protocol:
    """Where the input's camera is: azimuth and elevation ranges (degrees), drawn per
    object from a seed of its name (a fixed value when the range is one number)."""

    name: str
    azimuth: tuple[float, float]
    elevation: tuple[float, float]


PROTOCOLS = {
    "3q": Protocol("3q", (AZIMUTH, AZIMUTH), (ELEVATION, ELEVATION)),  # issue 4
    "front": Protocol("front", (0.0, 10.0), (5.0, 10.0)),  # issue 20: concept-art views
}
LOOKS = {
    # issue 4's renders: 35° lens, studio light, light grey, no floor
    "plain": {"fov": (35.0, 35.0), "lights": "studio", "background": BACKGROUND,
              "ground": False},
    # photo-like: 30-50° lens, big soft box with soft shadows on a floor, a studio sweep
    "photo": {"fov": (30.0, 50.0), "lights": "softbox", "background": ["#eeeeee", "#c9c9c9"],
              "ground": True},
}
TARGETS = {"f@0.05": ">= 0.70", "chamfer": "<= 0.042",
           "back_psnr_object": ">= v2 + 1.5 dB", "novel_psnr": "> v2", "novel_ssim": "> v2",
           "casts": "0"}


def input_camera(protocol: Protocol, look: str, name: str) -> dict:
    """azimuth, elevation, fov (degrees) of `name`'s input under `protocol` and `look`:
    drawn from a seed of the protocol's and the object's names (the same every run)."""
    rng = np.random.default_rng(zlib.crc32(f"{protocol.name}/{look}/{name}".encode()))
    return {"azimuth": round(float(rng.uniform(*protocol.azimuth)), 2),
            "elevation": round(float(rng.uniform(*protocol.elevation)), 2),
            "fov": round(float(rng.uniform(*LOOKS[look]["fov"])), 2)}


def render_input(asset: Path, png: Path, up: str, camera: dict, look: str,
                 size: int = SIZE) -> np.ndarray:
    """The input image of a protocol (RGB PNG at `png`); returns RGBA (alpha: the
    subject's silhouette, without floor or shadow)."""
    style = LOOKS[look]
    return render_view(asset, png, azimuth=camera["azimuth"], elevation=camera["elevation"],
                       up=up, size=size, fov=camera["fov"], lights=style["lights"],
                       background=style["background"], ground=style["ground"])


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


BASELINES = ("extruded", "ellipsoid")
GEOMETRY_KEYS = ("chamfer", "f@0.05", "f@0.1", "volume_iou")
VIEW_KEYS = ("silhouette_iou", "psnr")  # input view, against the input image (models only)
APPEARANCE_KEYS = ("input_psnr_object", "novel_psnr", "novel_psnr_object", "novel_ssim",
                   "novel_iou", "back_psnr", "back_psnr_object", "back_ssim", "back_iou",
                   "detail_ratio", "gt_detail_ratio", "ghost", "gt_ghost")
KEYS = GEOMETRY_KEYS + VIEW_KEYS + APPEARANCE_KEYS


def method_name(model: str) -> str:
    return "classical" if model == "classical" else Path(model).stem


def summarise(rows: list[dict], methods: list[str]) -> dict:
    """{protocol: {method: {key: mean over objects, "casts": flagged count, "n"}}}."""
    out: dict = {}
    for protocol in dict.fromkeys(r["protocol"] for r in rows):
        sub = [r for r in rows if r["protocol"] == protocol]
        out[protocol] = {}
        for method in methods:
            res = {k: mean([r[method].get(k) for r in sub]) for k in KEYS}
            casts = [r[method].get("cast") for r in sub]
            res["casts"] = (sum(1 for c in casts if c and c["flag"])
                            if any(c is not None for c in casts) else None)
            res["n"] = len(sub)
            out[protocol][method] = res
    return out


def _fmt(x, d=3):
    return "–" if x is None else f"{x:.{d}f}"


SUMMARY_COLUMNS = (  # (header, key, decimals)
    ("Chamfer ↓", "chamfer", 3), ("F@0.05 ↑", "f@0.05", 3), ("F@0.1 ↑", "f@0.1", 3),
    ("vol IoU ↑", "volume_iou", 3), ("input PSNR-obj ↑", "input_psnr_object", 1),
    ("novel PSNR ↑", "novel_psnr", 2), ("novel PSNR-obj ↑", "novel_psnr_object", 2),
    ("novel SSIM ↑", "novel_ssim", 3), ("novel sil IoU ↑", "novel_iou", 3),
    ("back PSNR-obj ↑", "back_psnr_object", 2), ("back SSIM ↑", "back_ssim", 3),
    ("back detail ↑", "detail_ratio", 2), ("ghost ↓", "ghost", 2), ("casts ↓", "casts", 0),
)


def table(rows: list[dict], summary: dict, methods: list[str]) -> str:
    """Markdown: per protocol the means of every method (and the ground truth's own back
    detail ratio and ghost score), then one line per object and method."""
    lines = []
    for protocol, by_method in summary.items():
        n = next(iter(by_method.values()))["n"]
        lines += [f"**{protocol}** (mean of {n})", "",
                  "| method | " + " | ".join(h for h, _, _ in SUMMARY_COLUMNS) + " |",
                  "| --- |" + " ---: |" * len(SUMMARY_COLUMNS)]
        for method in methods:
            m = by_method[method]
            lines.append(f"| {method} | " + " | ".join(
                _fmt(m.get(k), d) for _, k, d in SUMMARY_COLUMNS) + " |")
        gt = next(iter(by_method.values()))
        lines += ["| ground truth | " + " | ".join(
            _fmt(gt.get("gt_detail_ratio"), 2) if k == "detail_ratio" else
            _fmt(gt.get("gt_ghost"), 2) if k == "ghost" else "" for _, k, _ in SUMMARY_COLUMNS)
            + " |", ""]
    cols = (("Chamfer", "chamfer", 3), ("F@0.05", "f@0.05", 3), ("novel PSNR", "novel_psnr", 1),
            ("novel PSNR-obj", "novel_psnr_object", 1), ("novel SSIM", "novel_ssim", 3),
            ("back PSNR-obj", "back_psnr_object", 1), ("back detail", "detail_ratio", 2),
            ("ghost", "ghost", 2))
    lines += ["| protocol | asset | method | " + " | ".join(h for h, _, _ in cols)
              + " | cast |", "| --- | --- | --- |" + " ---: |" * len(cols) + " --- |"]
    for r in rows:
        for method in methods:
            m = r[method]
            cast = m.get("cast")
            flag = "–" if cast is None else (cast["flag"] or "no")
            lines.append(f"| {r['protocol']} | {r['asset']} | {method} | " + " | ".join(
                _fmt(m.get(k), d) for _, k, d in cols) + f" | {flag} |")
    return "\n".join(lines) + "\n"


def evaluate_asset(asset: Path, name: str, protocol: Protocol, args, out: Path) -> dict:
    """Render `asset`'s input under `protocol`, generate with every model, score every
    method's geometry and appearance against the ground truth. One row."""
    import trimesh

    from tools.eval_views import (
        appearance,
        render_views,
        view_distance,
        views_for,
        write_transformed,
    )

    camera = input_camera(protocol, args.look, name)
    stem = f"{protocol.name}_{name}"
    png = out / f"{stem}.png"
    up = up_axis(asset)
    rgba = render_input(asset, png, up, camera, args.look, size=args.input_size)
    gt = load_mesh(asset)
    if up == "z":
        gt.apply_transform(np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0],
                                     [0, 0, 0, 1]], float))
    lo, hi = gt.bounds
    distance = view_distance(0.5 * float(np.linalg.norm(hi - lo)))
    views = views_for(camera["azimuth"], camera["elevation"])
    gt_views = render_views(asset, views, distance=distance, up=up, size=args.view_size)
    row = {"asset": asset.name, "protocol": protocol.name, "look": args.look, "up": up,
           **camera, "generate_s": {}}

    def judge(method: str, mesh: trimesh.Trimesh, source: Path | None,
              prior: np.ndarray | None = None) -> dict:
        res, matrix = score_aligned(mesh, gt, prior=prior)
        if source is not None:
            aligned = out / "aligned" / f"{stem}.{method}.glb"
            centre = write_transformed(source, matrix, aligned)
            pred_views = render_views(aligned, views, distance=distance, offset=centre,
                                      size=args.view_size)
            res.update(appearance(pred_views, gt_views, views))
            if args.keep_views:
                _save_strip(out / "views" / f"{stem}.{method}.png", pred_views, gt_views)
        return res

    for model in args.model:
        method = method_name(model)
        glb = out / f"{stem}.{method}.glb"
        row["generate_s"][method] = round(generate(png, glb, model, args.generate_option), 2)
        prior = claimed_pose(glb, camera["azimuth"], camera["elevation"])
        row[method] = judge(method, load_mesh(glb), glb, prior)
        row[method].update(view_metrics(rgba, glb))
    textured = out / f"{stem}.extruded.glb"
    for base_name, mesh in baselines(rgba[..., 3], rgba[..., :3], textured).items():
        row[base_name] = judge(base_name, mesh, textured if base_name == "extruded" else None,
                               camera_frame_pose(camera["azimuth"], camera["elevation"]))
    return row


def _save_strip(png: Path, pred_views, gt_views) -> None:
    """Prediction's views above the ground truth's, for looking at."""
    from PIL import Image

    top = np.concatenate([v[0] for v in pred_views], axis=1)
    bottom = np.concatenate([v[0] for v in gt_views], axis=1)
    png.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.concatenate([top, bottom]) * 255 + 0.5).astype(np.uint8)).save(png)


def main(argv=None) -> int:
    from tools.eval_views import VIEW_SIZE

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=None, metavar="CARD",
                   help="model card (.json) or 'classical'; repeat to score several in one "
                        "run (default: the shipped v3 and v2)")
    p.add_argument("--assets", type=Path, default=SHARED_ASSETS,
                   help="folder of held-out meshes (default: the shared assets, "
                        "$MAQUETTE_SHARED_ASSETS or ../shared/assets beside the checkout)")
    p.add_argument("--out", type=Path, default=Path("/tmp/maquette-eval"))
    p.add_argument("--table", type=Path, help="write a Markdown table here")
    p.add_argument("--only", nargs="*", help="asset file names to evaluate")
    p.add_argument("--protocol", nargs="+", choices=sorted(PROTOCOLS), default=["3q", "front"],
                   help="input protocols (default: both)")
    p.add_argument("--look", choices=sorted(LOOKS), default="plain",
                   help="input rendering: plain (issue 4's) or photo (perspective 30-50°, "
                        "soft shadows on a floor)")
    p.add_argument("--view-size", type=int, default=VIEW_SIZE,
                   help=f"pixels of the appearance renders (default {VIEW_SIZE})")
    p.add_argument("--input-size", type=int, default=SIZE, help="pixels of the input render")
    p.add_argument("--quick", action="store_true",
                   help="small renders (input 256 px, views 64 px): for tests")
    p.add_argument("--keep-views", action="store_true",
                   help="also write each method's views above the ground truth's (views/)")
    p.add_argument("--sheet", type=Path,
                   help="contact sheet PNG: input + front/left/right/back of every model")
    p.add_argument("--procedural", type=int, default=0, metavar="N",
                   help="evaluate N procedural objects (tools/procedural/objects.py, seed "
                        "--seed) instead of --assets: a validation set to decide on changes "
                        "without touching the held-out meshes")
    p.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="seed of --procedural")
    p.add_argument("--generate-option", action="append", default=[], metavar="OPTION",
                   help="pass this option to `maquette generate` (repeatable), e.g. "
                        "--generate-option=--no-square")
    args = p.parse_args(argv)
    args.model = args.model or default_models()
    if args.quick:
        args.input_size, args.view_size = 256, 64
    methods = [method_name(m) for m in args.model]
    if len(set(methods)) != len(methods):
        p.error(f"--model: two models share a file name ({', '.join(methods)})")
    methods += list(BASELINES)

    args.out.mkdir(parents=True, exist_ok=True)
    if args.procedural:
        assets = procedural_assets(args.procedural, args.seed, args.out / "objects")
    else:
        assets = sorted(q for q in args.assets.iterdir() if q.suffix.lower() in MESH_SUFFIXES)
    if args.only:
        assets = [q for q in assets if q.name in args.only]
    rows = []
    for protocol in (PROTOCOLS[n] for n in args.protocol):
        for asset in assets:
            row = evaluate_asset(asset, asset.stem.replace(" ", "_"), protocol, args, args.out)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.sheet and rows:
        items = [(args.out / f"{r['protocol']}_{Path(r['asset']).stem.replace(' ', '_')}.png",
                  [args.out / f"{r['protocol']}_{Path(r['asset']).stem.replace(' ', '_')}"
                   f".{m}.glb" for m in methods[:len(args.model)]]) for r in rows]
        contact_sheet(items, args.sheet, labels=methods[:len(args.model)])
    summary = summarise(rows, methods)
    report = {"command": " ".join(sys.argv) if argv is None else " ".join(argv),
              "methods": methods, "targets": TARGETS, "rows": rows, "mean": summary}
    (args.out / "eval.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(summary, indent=1))
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table(rows, summary, methods))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
