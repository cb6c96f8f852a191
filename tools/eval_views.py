"""Appearance from views the input did not show (issue 20), for tools/eval_generator.py.

Frames and units. Every mesh is rendered in the ground truth's *rest frame*: glTF
axes (Y up, +Z the front), the file's own units, the bounding-box centre at the
origin (a Z-up PLY/STL stood up first). A generated asset is brought into that frame
by the 3D protocol's own alignment (both normalised to longest side 1, rotation
search, ICP: `eval_generator.score_aligned`) and scaled by the ground truth's longest
side, so geometry and appearance are judged in the same pose.

Cameras: azimuth in degrees about +Y (0 looks at the front from +Z, 90 is the camera
on +X), elevation in degrees above the horizon through the box centre, one distance
for every view of an object (the ground truth's bounding sphere fitted to the
vertical field of view). Lights: the stage's "studio" preset, which turns with the
camera, so every view of both meshes is lit alike. Backgrounds: one transparent
render per view, composited in sRGB onto a plain colour.

Images are sRGB in [0, 1], (H, W, 3) float64; masks (H, W) bool (alpha > 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

VIEW_SIZE = 160  # pixels, square: appearance renders are kept small (2 shared CPU cores)
VIEW_FOV = 35.0  # vertical, degrees
NOVEL_OFFSETS = (90.0, 180.0, 270.0)  # degrees added to the input's azimuth
BACK_OFFSET = 180.0
PLAIN = (217 / 255, 217 / 255, 217 / 255)  # the protocol's light grey (#d9d9d9)
CAST_TOLERANCE = 2.3  # CIELAB units: about one just-noticeable difference
MAX_PSNR = 100.0  # dB, for identical images


# --------------------------------------------------------------------------------------
# Image metrics (pure functions)
# --------------------------------------------------------------------------------------


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """PSNR in dB of two images in [0, 1] (peak 1), over `mask` when given (None when
    the mask is empty); capped at MAX_PSNR."""
    err = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    if mask is not None:
        if not mask.any():
            return None
        err = err[mask]
    mse = float(err.mean())
    return MAX_PSNR if mse <= 10 ** (-MAX_PSNR / 10) else float(10 * np.log10(1.0 / mse))


def ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> float:
    """Mean structural similarity (Wang et al. 2004: Gaussian window σ = 1.5 px,
    K1 = 0.01, K2 = 0.03, peak 1) of two (H, W) or (H, W, C) images in [0, 1],
    averaged over channels."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    values = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch], b[..., ch]

        def blur(v):
            return ndimage.gaussian_filter(v, sigma, mode="reflect", truncate=3.5)

        mx, my = blur(x), blur(y)
        vx = blur(x * x) - mx * mx
        vy = blur(y * y) - my * my
        cov = blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        values.append(float(s.mean()))
    return float(np.mean(values))


def silhouette_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return float((a & b).sum() / union) if union else 1.0


def mean_chroma(rgb: np.ndarray, mask: np.ndarray) -> tuple[float, float] | None:
    """Mean (a*, b*) over the mask, or None when it is empty."""
    if not mask.any():
        return None
    from engine.reference.color import float_to_lab

    lab = float_to_lab(rgb[mask])
    return float(lab[:, 1].mean()), float(lab[:, 2].mean())


# Hue ranges (degrees in the a*-b* plane, 0 = +a*, 90 = +b*) of the casts issue 20
# names. sRGB green, cyan, blue and purple sit at about 136, 196, 306 and 328°; the
# warm half (red, orange, yellow: 345-120°) is not a cast it names.
CAST_HUES = {"green": (120.0, 210.0), "blue": (210.0, 300.0), "purple": (300.0, 345.0)}


def colour_cast(front: tuple[float, float], back: tuple[float, float],
                gt_front: tuple[float, float], gt_back: tuple[float, float],
                tolerance: float = CAST_TOLERANCE) -> dict:
    """The back's mean chroma shift from the front (a*, b*), beyond the ground truth's
    own back-minus-front shift. `flag` names the cast ("green", "blue", "purple")
    when that excess is longer than `tolerance` CIELAB units and its hue lies in one
    of CAST_HUES, else None."""
    shift = np.subtract(back, front)
    gt_shift = np.subtract(gt_back, gt_front)
    excess = shift - gt_shift
    size = float(np.hypot(*excess))
    hue = float(np.degrees(np.arctan2(excess[1], excess[0])) % 360.0)
    flag = None
    if size > tolerance:
        flag = next((name for name, (lo, hi) in CAST_HUES.items() if lo <= hue < hi), None)
    return {"shift_ab": [round(float(v), 2) for v in shift],
            "gt_shift_ab": [round(float(v), 2) for v in gt_shift],
            "excess": round(size, 2), "excess_hue": round(hue, 1), "flag": flag}


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def detail_energy(rgb: np.ndarray, mask: np.ndarray, sigma: float = 1.0,
                  erode: int = 2) -> float | None:
    """High-frequency energy: mean squared (luma − its Gaussian blur, σ px) inside the
    mask eroded by `erode` px (so the silhouette edge does not count); None if empty."""
    inner = ndimage.binary_erosion(mask, iterations=erode) if erode else mask
    if inner.sum() < 16:
        return None
    y = _luma(rgb)
    high = y - ndimage.gaussian_filter(y, sigma)
    return float((high[inner] ** 2).mean())


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else float(a / b)


def square_crop(rgb: np.ndarray, mask: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The silhouette's bounding square, resampled to n × n (nearest neighbour)."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return np.zeros((n, n, 3)), np.zeros((n, n), bool)
    side = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
    r0 = (rows.min() + rows.max() + 1) / 2 - side / 2
    c0 = (cols.min() + cols.max() + 1) / 2 - side / 2
    idx = (np.arange(n) + 0.5) * side / n
    rr = np.clip((r0 + idx).astype(int), 0, mask.shape[0] - 1)
    cc = np.clip((c0 + idx).astype(int), 0, mask.shape[1] - 1)
    inside_r = ((r0 + idx) >= 0) & ((r0 + idx) < mask.shape[0])
    inside_c = ((c0 + idx) >= 0) & ((c0 + idx) < mask.shape[1])
    keep = inside_r[:, None] & inside_c[None, :]
    return rgb[rr][:, cc], mask[rr][:, cc] & keep


def ghost_score(back_rgb: np.ndarray, back_mask: np.ndarray, front_rgb: np.ndarray,
                front_mask: np.ndarray, n: int = 64) -> float | None:
    """Correlation of the back view with the input view mirrored left-right (what a
    copy of the front seen through the object looks like from behind): both cropped
    to their silhouette square at n px, each RGB channel band-passed (Gaussian σ 1
    minus σ 6 px at n: the soft blobs a blurred ghost is made of, not pixel noise),
    Pearson correlation over pixels inside both (eroded 1 px). A literal mirrored copy
    scores about 1, unrelated colours about 0; shape and shading that are symmetric
    also correlate, so compare it with the ground truth's own score."""
    b, mb = square_crop(back_rgb, back_mask, n)
    f, mf = square_crop(front_rgb[:, ::-1], front_mask[:, ::-1], n)
    both = ndimage.binary_erosion(mb & mf, iterations=1)
    if both.sum() < 32:
        return None

    def band(rgb):
        return np.concatenate([(ndimage.gaussian_filter(rgb[..., c], 1.0)
                                - ndimage.gaussian_filter(rgb[..., c], 6.0))[both]
                               for c in range(3)])

    x, y = band(b), band(f)
    x, y = x - x.mean(), y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 1e-12 else None


def view_scores(pred_rgb, pred_mask, gt_rgb, gt_mask) -> dict:
    """One view of the generated asset against the ground truth, both on the plain
    background: PSNR over the whole image, PSNR over the pixels where both show the
    object (colour alone), SSIM over the whole image, silhouette IoU."""
    both = pred_mask & gt_mask
    return {"psnr": psnr(pred_rgb, gt_rgb), "psnr_object": psnr(pred_rgb, gt_rgb, both),
            "ssim": ssim(pred_rgb, gt_rgb), "iou": silhouette_iou(pred_mask, gt_mask)}


# --------------------------------------------------------------------------------------
# Rendering (Maquette's stage, offscreen)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    label: str  # "input", "+90", "+180", "+270"
    azimuth: float  # degrees
    elevation: float  # degrees


def views_for(azimuth: float, elevation: float) -> list[View]:
    """The input's view and the novel views NOVEL_OFFSETS round from it (same
    elevation); "+180" is the back."""
    return [View("input", azimuth, elevation)] + [
        View(f"+{int(d)}", (azimuth + d) % 360.0, elevation) for d in NOVEL_OFFSETS]


def view_distance(radius: float, fov: float = VIEW_FOV) -> float:
    """Camera distance at which the ground truth's bounding sphere fits every view."""
    from engine.animation.camera import fit_distance

    return fit_distance(radius, fov, 1.0)


def render_views(asset: Path, views: list[View], *, distance: float, up: str = "y",
                 offset=(0.0, 0.0, 0.0), size: int = VIEW_SIZE,
                 background=PLAIN, fov: float = VIEW_FOV) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(rgb, mask)] of `asset` from each view, one Stage for all. The stage puts the
    asset's box centre at the origin; `offset` (3,) moves it back to where it belongs
    in the ground truth's rest frame (the aligned prediction's own box centre)."""
    from engine.animation import CameraRig
    from engine.render.stage import Stage
    from engine.scene import scene_from_dict

    keyframes = [{"target": "asset", "property": f"position.{axis}", "keys": [[0.0, float(v)]]}
                 for axis, v in zip("xyz", offset, strict=True) if abs(v) > 0]
    scene = scene_from_dict({
        "asset": {"source": str(asset), "up": up, "pivot": "center"},
        "stage": {"lights": "studio", "background": "transparent", "ground": False},
        "camera": {"move": "static", "azimuth": 0.0, "elevation": 0.0, "fov": fov},
        "keyframes": keyframes,
        "output": {"height": size, "aspect": "1:1", "msaa": 4, "file": "unused.mov"},
    }, None)
    out = []
    bg = np.asarray(background, np.float64)
    with Stage(scene, size, size) as stage:
        for view in views:
            stage.timeline.rig = CameraRig(move="static", fov=fov, azimuth=view.azimuth,
                                           elevation=view.elevation, distance=distance)
            rgba = stage.capture(0.0).astype(np.float64) / 255
            a = rgba[..., 3:4]
            out.append((rgba[..., :3] * a + bg * (1 - a), rgba[..., 3] > 0.5))
    return out


def write_transformed(source: Path, matrix: np.ndarray, target: Path) -> np.ndarray:
    """Write `source` (any mesh file trimesh reads, textures kept) moved by `matrix`
    (4, 4) as a GLB at `target`; returns the moved asset's box centre (3,)."""
    import trimesh

    from engine.fileio import write_bytes_atomic

    scene = trimesh.load(str(source), force="scene")
    scene.apply_transform(matrix)
    lo, hi = scene.bounds
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(target, scene.export(file_type="glb"))
    return (np.asarray(lo) + np.asarray(hi)) / 2


# --------------------------------------------------------------------------------------
# One method against the ground truth
# --------------------------------------------------------------------------------------


def appearance(pred_views, gt_views, views: list[View]) -> dict:
    """Scores of one method's renders against the ground truth's, same views: per
    view, the means over the novel views and the back, the colour-cast check (back vs
    input view), the back detail ratio and the ghost score (back vs mirrored input
    view), each beside the ground truth's own value."""
    per_view = {v.label: view_scores(p[0], p[1], g[0], g[1])
                for v, p, g in zip(views, pred_views, gt_views, strict=True)}
    novel = [per_view[v.label] for v in views if v.label != "input"]
    back_label = f"+{int(BACK_OFFSET)}"
    res: dict = {"views": per_view}
    for key in ("psnr", "psnr_object", "ssim", "iou"):
        vals = [x[key] for x in novel if x[key] is not None]
        res[f"novel_{key}"] = float(np.mean(vals)) if vals else None
        res[f"back_{key}"] = per_view[back_label][key]
        res[f"input_{key}"] = per_view["input"][key]
    i_back = [v.label for v in views].index(back_label)
    (pf, pfm), (pb, pbm) = pred_views[0], pred_views[i_back]
    (gf, gfm), (gb, gbm) = gt_views[0], gt_views[i_back]
    chroma = [mean_chroma(pf, pfm), mean_chroma(pb, pbm), mean_chroma(gf, gfm),
              mean_chroma(gb, gbm)]
    res["cast"] = None if None in chroma else colour_cast(*chroma)
    res["detail_ratio"] = ratio(detail_energy(pb, pbm), detail_energy(pf, pfm))
    res["gt_detail_ratio"] = ratio(detail_energy(gb, gbm), detail_energy(gf, gfm))
    res["ghost"] = ghost_score(pb, pbm, gf, gfm)
    res["gt_ghost"] = ghost_score(gb, gbm, gf, gfm)
    return res
