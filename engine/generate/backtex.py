"""The back's texture, rebuilt from the front: no ghosts, no colour casts, material detail.

The network's back colour (`Prediction.back_color`, 128 px) is blurred, carries soft
mirrored copies of the front's features (ghosts: eyes, faces, lettering) and colour
casts that the image does not show. `back_texture` keeps only what it is good for, the
low-frequency layout of materials on the back, and builds the rest from the front:

1. **Palette and front-only features.** The front is clustered in Lab into a few
   colours; a connected region of one colour that does not reach the silhouette is a
   feature the front alone shows (a face, an eye, a logo, a label): a surface region
   that continues onto the back must cross the silhouette, where front and back meet.
2. **Ghosts out.** Inside those features (grown by the back's blur) the predicted
   back is replaced by the back around them (push-pull inpainting).
3. **No casts.** Each back pixel is assigned to the front's continuing colours (its
   own colour, and a spatial prior: the colours the front shows nearby, front-only
   features replaced by their surroundings); each colour's mean on the back is moved to
   its mean on the front, and the rest of the back's chroma is held within that
   colour's own spread on the front.
4. **Detail at full resolution.** The front's high frequencies (above the back's
   resolution) are tiled onto the back in random, overlapping, feathered patches
   taken from feature-free areas of the same colour on the front (never from the
   features, never in place: a patch lands anywhere on the back).
5. **A shared rim.** At the silhouette front and back are the same surface, so within
   a band along it the back takes the front's own texture, fading to the rebuilt back
   inward: the side walls, which sample both at the silhouette, show no seam.

Frames and units: every image is square and in the front view's pixel grid (row down,
column right); the back follows the generator contract: back pixel (r, c) is the back
of the line of sight of front pixel (r, c). Colours are sRGB in [0, 1]; Lab is CIE
D65 (L in [0, 100]). Lengths are fractions of the grid side unless named `_px`.

The metrics at the end (`detail_ratio`, `chroma_shift`, `palette_distance`,
`ghost_score`) score any front/back pair in that grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from engine.reference.color import float_to_lab, lab_to_float

WORK = 256  # px: the grid where layout, palette and features are decided
COLOURS = 8  # k-means clusters of the front (merged when closer than MERGE_DE)
MERGE_DE = 7.0  # ΔE' (L weighted by L_WEIGHT) under which two clusters are one colour
L_WEIGHT = 0.5  # lightness counts half in colour distances: shading is not a new material
RIM_TOUCH = 0.012  # a region within this of the outside reaches the silhouette
GHOST_GROW = 0.02  # features grown by this (the back's blur) before inpainting
PRIOR_SIGMA = 0.06  # spatial prior of the back's colours: the front's colours this near
COLOUR_SIGMA = 14.0  # ΔE': how far a back pixel's colour may be from a palette colour
RIM = 0.01  # the back is the front's texture this far inside the silhouette (at least)
RIM_FADE = 0.02  # and fades to the rebuilt back over this much further in
DETAIL_SCALE = 1 / 4  # detail: the front minus its copy at this share of its resolution
PATCH = 1 / 16  # detail patch side (stride half of it)
EDGE = 4.0  # a detail patch holds no pixel of more than this × its colour's median energy
SHARPEN = 4.0  # colour weights raised to this power draw the back's colour boundaries
RESIDUAL = 0.5  # share of the predicted back's own variation within a colour that is kept




@dataclass
class BackTextureInfo:
    """What `back_texture` found; fractions are of the subject's pixels."""

    colours: int = 0  # palette colours of the front
    front_only: float = 0.0  # share of the subject covered by front-only features
    detail_colours: int = 0  # colours that had feature-free patches to give detail
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Colour
# --------------------------------------------------------------------------------------


def _weighted(lab: np.ndarray) -> np.ndarray:
    """Lab with lightness scaled by L_WEIGHT: Euclidean distance there is ΔE'."""
    return lab * np.array([L_WEIGHT, 1.0, 1.0], np.float32)


def palette(lab: np.ndarray, k: int = COLOURS, seed: int = 0, iterations: int = 10
            ) -> np.ndarray:
    """(m, 3) Lab pixels → (c, 3) Lab cluster centres (k-means++ in ΔE', deterministic;
    clusters closer than MERGE_DE merged)."""
    x = _weighted(lab.reshape(-1, 3)).astype(np.float64)
    rng = np.random.default_rng(seed)
    if len(x) > 3000:
        x = x[rng.choice(len(x), 3000, replace=False)]
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, min(k, len(x))):
        d2 = _sq_distances(x, np.array(centres)).min(axis=1).astype(np.float64)
        if d2.sum() <= 0:
            break
        centres.append(x[rng.choice(len(x), p=d2 / d2.sum())])
    c = np.array(centres)
    for _ in range(iterations):
        label = np.argmin(_sq_distances(x, c), axis=1)
        c = np.array([x[label == j].mean(0) if np.any(label == j) else c[j]
                      for j in range(len(c))])
    # Merge near-duplicates (one material split by shading), largest first.
    label = np.argmin(_sq_distances(x, c), axis=1)
    counts = np.bincount(label, minlength=len(c))
    kept: list[np.ndarray] = []
    for j in np.argsort(-counts):
        if counts[j] == 0:
            continue
        if all(np.linalg.norm(c[j] - q) >= MERGE_DE for q in kept):
            kept.append(c[j])
    return (np.array(kept) / np.array([L_WEIGHT, 1.0, 1.0])).astype(np.float32)


def _sq_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(..., 3) and (k, 3) → (..., k) squared Euclidean distances (by one product)."""
    x = x.astype(np.float32)
    c = centres.astype(np.float32)
    d = (x * x).sum(-1, keepdims=True) - 2 * x @ c.T + (c * c).sum(-1)
    return np.maximum(d, 0.0)


def _nearest(lab: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.argmin(_sq_distances(_weighted(lab), _weighted(centres)), axis=-1)


# --------------------------------------------------------------------------------------
# Image helpers
# --------------------------------------------------------------------------------------


def resize(values: np.ndarray, size: int, order: int = 1) -> np.ndarray:
    """(S, S, ...) float → (size, size, ...) float32, channel by channel: bilinear
    (order 1, pixel centres aligned), nearest (order 0) or a box filter (order -1)."""
    if values.shape[0] == size:
        return values.astype(np.float32, copy=False)
    method = {1: Image.Resampling.BILINEAR, 0: Image.Resampling.NEAREST,
              -1: Image.Resampling.BOX}[order]
    flat = values.reshape(values.shape[0], values.shape[1], -1).astype(np.float32)
    out = np.stack([np.asarray(Image.fromarray(flat[..., i], mode="F").resize(
        (size, size), method)) for i in range(flat.shape[-1])], axis=-1)
    return out.reshape((size, size) + values.shape[2:])


def _area(values: np.ndarray, size: int) -> np.ndarray:
    """Downsample by area averaging (a box filter), channel by channel."""
    return resize(values, size, order=-1)


def _push_pull(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(S, S, C) values known with `weight` (S, S) in [0, 1] → (S, S, C) filled everywhere:
    weighted values summed down a pyramid, then each level's gaps filled from the
    coarser level (smoothed by a 3×3 box) on the way up."""
    levels = []
    v, ww = values * weight[..., None], weight.astype(np.float32)
    while min(v.shape[:2]) > 2:
        levels.append((v, ww))
        h, wd = v.shape[0] // 2 * 2, v.shape[1] // 2 * 2
        v = v[:h, :wd].reshape(h // 2, 2, wd // 2, 2, -1).sum(axis=(1, 3))
        ww = ww[:h, :wd].reshape(h // 2, 2, wd // 2, 2).sum(axis=(1, 3))
    filled = np.where(ww[..., None] > 0, v / np.maximum(ww, 1e-9)[..., None],
                      (v.sum((0, 1)) / max(float(ww.sum()), 1e-9))[None, None])
    for v, ww in reversed(levels):
        up = np.repeat(np.repeat(filled, 2, axis=0), 2, axis=1)
        up = np.pad(up, ((0, v.shape[0] - up.shape[0]), (0, v.shape[1] - up.shape[1]),
                         (0, 0)), mode="edge")
        up = ndimage.uniform_filter(up, size=(3, 3, 1), mode="nearest")
        alpha = np.clip(ww, 0.0, 1.0)[..., None]
        filled = alpha * (v / np.maximum(ww, 1e-9)[..., None]) + (1 - alpha) * up
    return filled.astype(np.float32)


def fill_from(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(S, S, C) values with the pixels where `known` (S, S) bool is False filled
    smoothly from the known ones (`_push_pull`)."""
    if known.all() or not known.any():
        return values
    return np.where(known[..., None], values, _push_pull(values, known))


def clean_fringe(rgb: np.ndarray, mask: np.ndarray, core: float = 0.95) -> np.ndarray:
    """(N, N, 3): the matte's soft edge (mask below `core`, where the image blends into
    the backdrop) and everything outside replaced by the subject's own colours, filled
    smoothly from the inside (at WORK resolution): a texture has no backdrop at its
    edge, and the side walls sample it there."""
    inside = mask >= core
    if inside.all() or not inside.any():
        return rgb
    n = rgb.shape[0]
    f = n // WORK if n % WORK == 0 else 1
    w = inside.astype(np.float32)
    if f > 1:
        ww = _area(w, WORK)
        v = _area(rgb * w[..., None], WORK) / np.maximum(ww, 1e-9)[..., None]
        filled = resize(_push_pull(v, ww), n)
    else:
        filled = _push_pull(rgb.astype(np.float32), w)
    return np.where(inside[..., None], rgb, filled).astype(np.float32)


# --------------------------------------------------------------------------------------
# The stage
# --------------------------------------------------------------------------------------


def front_only_features(labels: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """(S, S) bool: connected regions of one palette colour that do not come within
    RIM_TOUCH of the outside (they do not cross the silhouette, so the front alone
    shows them). labels: (S, S) palette index; inside: subject mask."""
    s = inside.shape[0]
    outside_dist = ndimage.distance_transform_edt(inside)
    near_rim = outside_dist <= max(RIM_TOUCH * s, 1.5)
    features = np.zeros_like(inside)
    for j in np.unique(labels[inside]):
        parts, count = ndimage.label((labels == j) & inside)
        if count == 0:
            continue
        touching = np.unique(parts[near_rim & (parts > 0)])
        lone = np.ones(count + 1, bool)
        lone[0] = False
        lone[touching] = False
        features |= lone[parts]
    return features


def back_texture(front: np.ndarray, front_mask: np.ndarray, back: np.ndarray,
                 back_mask: np.ndarray | None = None, seed: int = 0, rim: float = RIM
                 ) -> tuple[np.ndarray, BackTextureInfo]:
    """The back's texture at the front's resolution.

    front (N, N, 3) sRGB [0, 1], its matte's fringe cleaned (`clean_fringe`), with its
    mask (N, N) in [0, 1]; back (S, S, 3) the predicted back colour (contract grid),
    back_mask (S, S) its mask (used only where the front's is nearly empty); rim: how
    far inside the silhouette (crop units) the back is the front's texture (at least
    as far as the side walls sample it, so their two halves agree). Returns
    (N, N, 3) sRGB in [0, 1] in the same grid (outside the subject: the front's fill)
    and what was found.
    """
    n = front.shape[0]
    info = BackTextureInfo()
    w = min(WORK, n)
    inside = _area(front_mask.astype(np.float32), w) > 0.5
    if inside.sum() < 16 and back_mask is not None:
        inside = resize(back_mask, w) > 0.5
    if inside.sum() < 16:
        info.notes.append("subject too small: predicted back kept")
        return resize(back, n).astype(np.float32), info
    lab_f = float_to_lab(ndimage.gaussian_filter(_area(front, w), (0.7, 0.7, 0)))
    lab_b = float_to_lab(resize(back.astype(np.float32), w))

    # 1. Palette, and the features only the front shows.
    centres = palette(lab_f[inside], seed=seed)
    info.colours = k = len(centres)
    labels = _nearest(lab_f, centres)
    features = front_only_features(labels, inside)
    info.front_only = round(float(features.sum() / inside.sum()), 3)
    grown = ndimage.binary_dilation(features, iterations=max(1, round(GHOST_GROW * w))) & inside

    # 2. Ghosts out: the back inside the grown features comes from the back around them.
    lab_b = fill_from(lab_b, inside & ~grown)

    # 3. Colours: a spatial prior from the front's continuing colours (front-only
    # features take the colours around them), times how well the back's colour fits.
    _, (rr, cc) = ndimage.distance_transform_edt(~(inside & ~features), return_indices=True)
    onehot = (labels[rr, cc][..., None] == np.arange(k)).astype(np.float32) * inside[..., None]
    q = max(8, w // 4)  # the prior is smooth: blurred on a coarser grid
    sq = PRIOR_SIGMA * q
    prior = resize(ndimage.gaussian_filter(_area(onehot, q), (sq, sq, 0), truncate=3.0), w)
    share = onehot.reshape(-1, k).sum(0) / max(float(onehot.sum()), 1.0)
    prior = prior / np.maximum(prior.sum(-1, keepdims=True), 1e-6) + 0.02 * share
    fit = _sq_distances(_weighted(lab_b), _weighted(centres))
    weight = prior * np.exp(-0.5 * fit / COLOUR_SIGMA ** 2) + 1e-12
    weight /= weight.sum(-1, keepdims=True)
    inner = weight * inside[..., None]
    mean_b = np.einsum("hwk,hwc->kc", inner, lab_b) / np.maximum(
        inner.reshape(-1, k).sum(0), 1e-6)[:, None]
    target = np.zeros((k, 3), np.float32)
    spread = np.zeros((k, 3), np.float32)
    for j in range(k):
        px = lab_f[inside & ~features & (labels == j)]
        px = px if len(px) else lab_f[inside & (labels == j)]
        target[j] = px.mean(0) if len(px) else centres[j]
        spread[j] = px.std(0) if len(px) > 1 else 0.0
    # Sharpened weights draw the colour boundaries; the back's own variation within
    # a colour is kept at half strength, within that colour's spread on the front.
    sharp = weight ** SHARPEN
    sharp /= sharp.sum(-1, keepdims=True)
    limit = np.maximum(sharp @ (1.5 * spread), np.array([8.0, 4.0, 4.0], np.float32))
    residual = np.clip(RESIDUAL * (lab_b - sharp @ mean_b), -limit, limit)
    layout = lab_to_float(fill_from(sharp @ target + residual, inside))

    # 4. Detail: the front's high frequencies in random patches of the same colour.
    coarse = max(1, int(round(n * DETAIL_SCALE)))
    luma = _luma(front)
    high = luma - resize(_area(luma, coarse), n)
    detail = _detail(high, inside, labels, features, weight, seed, info)

    # 5. The rim: near the silhouette the back is the front's texture.
    depth = ndimage.distance_transform_edt(inside) / w
    band = np.clip((max(rim, RIM) + RIM_FADE - depth) / RIM_FADE, 0.0, 1.0) * (1.0 - grown)
    up = resize(np.concatenate([layout, band[..., None]], axis=-1), n)
    rim_n = np.where(front_mask > 0.5, up[..., 3], 1.0)[..., None]
    out = rim_n * front + (1 - rim_n) * (up[..., :3] + detail[..., None])
    return np.clip(out, 0.0, 1.0).astype(np.float32), info


def _detail(high: np.ndarray, inside: np.ndarray, labels: np.ndarray, features: np.ndarray,
            weight: np.ndarray, seed: int, info: BackTextureInfo) -> np.ndarray:
    """(N, N) detail (luma) for the back from the front's high-pass luma `high` (N, N):
    overlapping patches (side PATCH, stride half of it, sine windows whose squares sum
    to 1, so the detail keeps its variance), each copied from a random place on the
    front of the same palette colour, away from front-only features and from edges
    (no patch may hold a pixel of more than EDGE × the colour's median detail energy, or
    the whole subject's, whichever is less: a colour that is all structure, a wheel's
    hub, lends none).
    inside, labels, features, weight (colour weights of the back, (w, w, k)): WORK grid."""
    n, w = high.shape[0], inside.shape[0]
    f = n / w
    p = max(8, int(round(PATCH * n)) // 2 * 2)
    half = p // 2
    pw = max(2, int(round(p / f)))  # patch side on the WORK grid
    energy = ndimage.gaussian_filter(_area(high ** 2, w), 1.0)  # local, not per pixel
    clean = inside & ~ndimage.binary_dilation(features, iterations=max(1, pw // 4))
    k = weight.shape[-1]
    rng = np.random.default_rng(seed)
    typical = float(np.median(energy[clean])) if clean.any() else 0.0
    pools: list[np.ndarray | None] = []
    for j in range(k):
        mine = clean & (labels == j)
        pool = None
        if mine.sum() >= pw * pw:
            calm = mine & (energy <= EDGE * min(float(np.median(energy[mine])), typical))
            for need in (0.99, 0.9):
                room = ndimage.uniform_filter(calm.astype(np.float32), pw, mode="constant")
                centres = np.argwhere(room >= need)
                if len(centres) >= 8:
                    pool = ((centres + 0.5) * f).astype(np.int64)
                    break
        pools.append(pool)
    info.detail_colours = sum(pool is not None for pool in pools)
    if not info.detail_colours:
        return np.zeros_like(high)
    win1 = np.sin(np.pi * (np.arange(p) + 0.5) / p).astype(np.float32)
    window = win1[:, None] * win1[None, :]
    pad = np.pad(high, p)
    flat = pad.ravel()
    m = (n + half) // p + 2  # cells per row of one parity class
    out = np.zeros((p + m * p + p, p + m * p + p), np.float32)
    ramp = np.arange(p)
    colour = np.argmax(weight, axis=-1)
    for py in (0, 1):
        for px in (0, 1):
            y0 = -half + py * half + p * np.arange(m)  # cell top-left rows, image coords
            x0 = -half + px * half + p * np.arange(m)
            cy = np.clip(((y0 + half) / f).astype(int), 0, w - 1)
            cx = np.clip(((x0 + half) / f).astype(int), 0, w - 1)
            cell_colour = colour[cy[:, None], cx[None, :]]
            sy = np.zeros((m, m), np.int64)
            sx = np.zeros((m, m), np.int64)
            live = np.zeros((m, m), bool)
            for j, pool in enumerate(pools):
                pick = cell_colour == j
                if pool is None or not pick.any():
                    continue
                chosen = pool[rng.integers(len(pool), size=int(pick.sum()))]
                sy[pick], sx[pick] = chosen[:, 0] - half + p, chosen[:, 1] - half + p
                live[pick] = True
            index = ((sy[:, :, None, None] + ramp[None, None, :, None]) * pad.shape[1]
                     + sx[:, :, None, None] + ramp[None, None, None, :])
            tiles = np.take(flat, index) * window * live[:, :, None, None]
            tiles = tiles.transpose(0, 2, 1, 3).reshape(m * p, m * p)
            oy, ox = p - half + py * half, p - half + px * half
            out[oy:oy + m * p, ox:ox + m * p] += tiles
    return out[p:p + n, p:p + n] * (resize(inside.astype(np.float32), n) > 0.5)


# --------------------------------------------------------------------------------------
# Metrics (texture space; front and back in the front's pixel grid)
# --------------------------------------------------------------------------------------


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3] @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def _interior(mask: np.ndarray, margin: float) -> np.ndarray:
    inside = mask > 0.5
    return ndimage.distance_transform_edt(inside) > margin * mask.shape[0]


def detail_ratio(front: np.ndarray, back: np.ndarray, mask: np.ndarray) -> float:
    """High-frequency energy of the back over the front's (luma minus its Gaussian blur
    of σ = side/256, mean square over the subject away from its edge): 1 = as detailed."""
    inner = _interior(mask, 0.01)
    sigma = front.shape[0] / 256

    def energy(rgb):
        y = _luma(rgb)
        return float(((y - ndimage.gaussian_filter(y, sigma)) ** 2)[inner].mean())

    return energy(back) / max(energy(front), 1e-12)


def chroma_shift(front: np.ndarray, back: np.ndarray, mask: np.ndarray) -> float:
    """|mean (a, b) of the back − that of the front| over the subject, in ΔE units: how
    far the back's overall colour is cast away from the front's."""
    inner = mask > 0.5
    fa = float_to_lab(front)[inner][:, 1:].mean(0)
    ba = float_to_lab(back)[inner][:, 1:].mean(0)
    return float(np.linalg.norm(ba - fa))


def palette_distance(front: np.ndarray, back: np.ndarray, mask: np.ndarray,
                     samples: int = 4000) -> float:
    """Mean ΔE' from each back pixel to the nearest colour the front shows (subject
    pixels, lightness counted half): 0 when the back uses only front colours."""
    from scipy.spatial import cKDTree

    inner = mask > 0.5
    rng = np.random.default_rng(0)
    weights = np.array([0.5, 1.0, 1.0], np.float32)  # lightness counts half
    f = float_to_lab(front)[inner] * weights
    b = float_to_lab(back)[inner] * weights
    f = f[rng.choice(len(f), min(samples, len(f)), replace=False)]
    b = b[rng.choice(len(b), min(samples, len(b)), replace=False)]
    return float(cKDTree(f).query(b)[0].mean())


def ghost_score(front: np.ndarray, back: np.ndarray, mask: np.ndarray) -> float:
    """Correlation of the back's band-passed luma with the front's at the same pixel of
    the grid (a mirrored copy of the front, seen from behind), over the subject away
    from its silhouette (within side/32 of it front and back legitimately agree: they
    are the same surface there). Band: σ from side/256 to side/32. 1 = a copy."""
    n = front.shape[0]
    inner = _interior(mask, 1 / 32)
    if inner.sum() < 16:
        return 0.0

    def band(rgb):
        y = _luma(rgb)
        return ndimage.gaussian_filter(y, n / 256) - ndimage.gaussian_filter(y, n / 32)

    a, b = band(front)[inner], band(back)[inner]
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-12))
