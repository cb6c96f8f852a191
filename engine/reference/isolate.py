"""Subject isolation: the image's own alpha, or removal of a plain/gradient background.

Background removal, step by step:
1. model the background from the border (`background.fit_background`, Lab quadratic);
2. per-pixel ΔE76 distance from the model;
3. hysteresis threshold relative to the border's own noise: candidate pixels are above
   `t_low`, and a candidate region is kept only when it holds a seed, a pixel whose
   3×3-averaged distance is above `t_high` (so isolated noise specks go); then the
   regions next to the subject that are below `t_low` but end at a crisp edge join it
   (`_extend_low_contrast`: a white box's faces on a white backdrop);
4. drop tiny components; fill holes unless they show the background's colour
   (a mug handle's opening stays open, a subject patch that is merely close to the
   background colour is filled);
5. a soft 2 px edge that keeps thin parts (no morphological opening of the subject);
6. when the background just outside the subject sits above the border's noise (a
   spotlight backdrop that no quadratic through the border matches), refit the model to
   all the background found so far and segment again.
Noisy images (border noise above NOISY_T_LOW) are segmented on a lightly smoothed copy;
lossy ones (JPEG, WebP) weight chroma by half and peel the ringing halo off the outline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from .background import BackgroundModel, border_band, fit_background
from .color import srgb_to_lab

#: Alpha counts as meaningful when at least this fraction of pixels is < 250 and > 5.
ALPHA_MIN_FRACTION = 0.0005
#: Floor of the low threshold (ΔE76): differences below this are background.
MIN_T_LOW = 3.0
#: Above this low threshold (ΔE76) the image counts as noisy and is smoothed first.
NOISY_T_LOW = 5.0
#: At most this many refits of the background model to the background found so far.
REFITS = 3
#: Lossy images: weight of the a and b differences in the distance (JPEG subsamples and
#: rings colour more than lightness, so chroma smears past the outline).
LOSSY_CHROMA_WEIGHT = 0.5
#: Lossy images: an outline pixel stays only above this fraction of the strongest distance
EDGE_FRACTION = 0.2
#: ...within this many pixels (JPEG ringing, chroma bleed).
EDGE_RADIUS = 4

#: Cast shadows: not darker than this fraction of the background's lightness (L*) ...
SHADOW_MIN_RATIO = 0.4
#: ... with a chroma shift below this (ΔE, plus 8 % of the darkening) ...
SHADOW_MAX_CHROMA = 4.0
#: ... smooth (L* gradient per pixel after a 1 px blur) ...
SHADOW_MAX_GRADIENT = 4.0
#: ... and at most this fraction of the mask; its edge against the backdrop is at most
#: this fraction as dark as its inside (a penumbra fading out).
SHADOW_MAX_FRACTION = 0.4
SHADOW_EDGE_FADE = 0.6
#: ... and changes slowly there (L* per pixel after a 1 px blur; a crisp edge is steeper).
SHADOW_EDGE_GRADIENT = 2.0
#: A subject whose colour (median chroma shift from the backdrop, ΔE in a*b*) is below
#: this is neutral: its own shading looks like a shadow, so under it a shadow region must
#: also have at least this fraction of its pixels left or right of every other subject
#: pixel in their row (a shadow on the floor reaches out sideways: 0.13-0.8 measured on
#: tools/make_isolation_set.py's images; a white bunny's own shading 0.03).
SHADOW_MIN_SUBJECT_CHROMA = 6.0
SHADOW_NEUTRAL_REACH = 0.1
#: ... and its lowest pixel must be no higher than this fraction of the rest of the
#: subject's height above the subject's lowest pixel.
SHADOW_BASE_REACH = 0.05

#: Low-contrast parts (a white box's face on a white backdrop, 1.5-4 ΔE): next to the
#: subject, regions at least 5 px thick whose 5x5 mean distance is above t_ext =
#: max(EXTEND_MIN_DE, EXTEND_NOISE x the border's median residual) join it when their
#: median distance is at least EXTEND_MIN_LEVEL x t_ext, they stay above EXTEND_EDGE_KEEP
#: of that 2 px in from the backdrop, the backdrop 2-4 px outside them is back at its
#: noise (median distance at most EXTEND_OUTSIDE x t_ext: a crisp edge; a soft shadow, a
#: glow or a misfit of the backdrop fades out instead. Measured on tools/
#: make_isolation_set.py's images: faces 0.0-0.19, soft shadows 0.64-0.76, the pieces of
#: a shadow next to the subject 0.35-0.38), they do not reach the image's edge, and they
#: are at most EXTEND_MAX_AREA x the subject found so far. Lossless, low-noise images
#: only (JPEG's ringing is a faint halo with crisp edges).
EXTEND_MIN_DE = 1.0
EXTEND_NOISE = 6.0
EXTEND_MIN_LEVEL = 1.5
EXTEND_EDGE_KEEP = 0.5
EXTEND_OUTSIDE = 0.3
EXTEND_MAX_AREA = 10.0

#: A strip along an image edge at most this many pixels thick is not the subject.
BORDER_STRIP_PX = 3
#: A removed floor, or kept low-contrast parts, are reported from this fraction of the image.
NOTE_FRACTION = 0.005

_EIGHT = np.ones((3, 3), bool)


@dataclass
class Isolation:
    """What background removal found.

    mask: (H, W) float32 in [0, 1], soft edges; binary: (H, W) bool, mask > 0.5.
    distance: (H, W) float32 ΔE76 of each pixel from the background model.
    t_low, t_high: the hysteresis thresholds used (ΔE76).
    background: the fitted border model.
    notes: plain-words notes on what was removed (a floor, a cast shadow, a border strip).
    """

    mask: np.ndarray
    binary: np.ndarray
    distance: np.ndarray
    t_low: float
    t_high: float
    background: BackgroundModel
    notes: list[str] = field(default_factory=list)  # what was removed, in plain words


def has_meaningful_alpha(alpha: np.ndarray) -> bool:
    """True when (H, W) uint8 alpha has both see-through (< 250) and opaque-ish (> 5) parts."""
    need = max(1, int(ALPHA_MIN_FRACTION * alpha.size))
    return (int(np.count_nonzero(alpha < 250)) >= need
            and int(np.count_nonzero(alpha > 5)) >= need)


def alpha_mask(alpha: np.ndarray) -> np.ndarray:
    """(H, W) uint8 alpha → (H, W) float32 mask in [0, 1]."""
    return alpha.astype(np.float32) / np.float32(255.0)


def remove_background(rgb: np.ndarray, *, lossy: bool = False) -> Isolation:
    """Isolate the subject of (H, W, 3) uint8 sRGB on a plain or gradient background.

    lossy: the image went through lossy compression (JPEG, WebP): halve the weight of
    chroma in the distance and peel off the halo of ringing and chroma bleed around the
    outline (`_trim_halo`). Off for lossless images, where it would only nibble at faint
    outlines.
    """
    lab = srgb_to_lab(rgb)
    cw = LOSSY_CHROMA_WEIGHT if lossy else 1.0
    iso = _isolate(lab, fit_background(lab), cw, lossy)
    for _ in range(REFITS):
        # A spotlight backdrop can be brighter in the middle than any quadratic through
        # the border allows: the background next to the subject then sits well above the
        # border's noise (or was swallowed into the subject). Refit the model to all the
        # background found so far, which reaches closer to the subject, and try again.
        near = _grow(iso.binary, 5)
        away = ~near
        outer = near & ~_grow(iso.binary, 2)
        if away.sum() < 100 or not outer.any():
            break
        border_level = float(np.mean(iso.background.border_residuals))
        if float(np.mean(iso.distance[outer])) <= max(2.0 * border_level, 0.25 * iso.t_low):
            break
        refit = _isolate(lab, fit_background(lab, where=away), cw, lossy)
        changed = np.count_nonzero(refit.binary != iso.binary)
        iso = refit
        if changed <= 0.0005 * iso.binary.size:
            break
    iso = _drop_cast_shadow(lab, iso)
    iso = _drop_border_strips(iso)
    floor = _floor_removed(lab, iso)
    if floor >= NOTE_FRACTION:
        iso.notes.insert(0, f"Removed a floor/ground band of {floor:.0%} of the image (a "
                         "surface of another tone than the backdrop, running to the image's "
                         "edges), keeping the subject standing on it.")
    return iso


def _floor_removed(lab: np.ndarray, iso: Isolation) -> float:
    """Fraction of the image that the backdrop's edge rows (a floor) took out of the
    subject: pixels a plain quadratic backdrop would have called subject."""
    use = iso.background.row_mask(lab.shape[0])
    if not use.any():
        return 0.0
    quadratic = iso.background._quadratic_distance(lab[use], 1.0)
    return float(((quadratic > iso.t_low) & ~iso.binary[use]).sum() / iso.binary.size)


def _drop_border_strips(iso: Isolation) -> Isolation:
    """Drop subject pixels in the outer BORDER_STRIP_PX of an edge where the subject does
    not continue inward past it (a frame line or a 2 px strip along the edge is no
    subject, and must not read as "cut off")."""
    binary = iso.binary
    strip = thin_border_strips(binary)
    if not strip.any():
        return iso
    kept = binary & ~strip
    note = (f"Removed a thin strip along the image's edge ({int(strip.sum())} px), not part "
            "of the subject.")
    return replace(iso, mask=feather(kept), binary=kept, notes=iso.notes + [note])


def thin_border_strips(binary: np.ndarray) -> np.ndarray:
    """(H, W) bool: subject pixels within BORDER_STRIP_PX of an edge whose row or column
    is background BORDER_STRIP_PX + 1 pixels in from that edge."""
    h, w = binary.shape
    k = BORDER_STRIP_PX
    strip = np.zeros_like(binary)
    if h <= 2 * k + 2 or w <= 2 * k + 2:
        return strip
    strip[:k] |= binary[:k] & ~binary[k + 1][None, :]
    strip[-k:] |= binary[-k:] & ~binary[-k - 2][None, :]
    strip[:, :k] |= binary[:, :k] & ~binary[:, k + 1][:, None]
    strip[:, -k:] |= binary[:, -k:] & ~binary[:, -k - 2][:, None]
    return strip


def _drop_cast_shadow(lab: np.ndarray, iso: Isolation) -> Isolation:
    """Remove a soft shadow cast on the backdrop under the subject (product shots have one).

    Shadow pixels are darker than the background model but keep its chroma and are not
    very dark (L ratio above SHADOW_MIN_RATIO); only such regions whose centroid lies
    below the rest of the subject's centroid and that fade out towards the backdrop (a
    penumbra) are dropped, and only when they are a modest part of the mask; under a
    neutral (white, grey) subject only those that also reach out sideways past it, and
    only their parts beside or beneath it. Two passes: regions of smooth pixels
    (a gradient splits them), then what remains joined into whole shadows (a hard-edged
    dark contact shadow inside a faint wide one, which the first pass splits) whose
    edge against the backdrop is also gentle.
    """
    fields = _ShadowFields.of(lab, iso)
    first = _drop_shadow_regions(fields, iso, joined=False)
    both = _drop_shadow_regions(fields, first, joined=True)
    removed = int((iso.binary & ~both.binary).sum())
    if not removed:
        return iso
    note = (f"Removed a cast shadow of {removed / iso.binary.size:.1%} of the image under "
            "the subject (darker than the backdrop, of its colour, fading out at its edge).")
    return replace(both, notes=iso.notes + [note])


@dataclass(frozen=True)
class _ShadowFields:
    """Per-pixel fields both shadow passes read (the image and background do not change
    between them): lightness L, the background's L, how much darker than the background
    (L units), the chroma distance from it (a, b units) and the smoothed L gradient
    (L units per pixel)."""

    lum: np.ndarray
    bg_lum: np.ndarray
    darkening: np.ndarray
    chroma_shift: np.ndarray
    gradient: np.ndarray

    @staticmethod
    def of(lab: np.ndarray, iso: Isolation) -> _ShadowFields:
        h, w = iso.binary.shape
        bg = iso.background.render(h, w)
        lum = lab[..., 0]
        gy, gx = np.gradient(ndimage.gaussian_filter(lum, 1.0))
        return _ShadowFields(lum, bg[..., 0], bg[..., 0] - lum,
                             np.hypot(lab[..., 1] - bg[..., 1], lab[..., 2] - bg[..., 2]),
                             np.hypot(gx, gy))


def _label_median(values: np.ndarray, labels: np.ndarray, index: np.ndarray) -> np.ndarray:
    """`ndimage.median` per label (0 for a label with no pixels), given only the labelled
    pixels: it sorts all it is given, and most of an image is label 0."""
    sel = labels > 0
    if not sel.any():
        return np.zeros(len(index))
    sub = labels[sel]
    present = np.bincount(sub, minlength=int(index.max()) + 1)[index] > 0
    return np.where(present, np.asarray(ndimage.median(values[sel], sub, index)), 0.0)


def _drop_shadow_regions(fields: _ShadowFields, iso: Isolation, joined: bool) -> Isolation:
    """One pass of `_drop_cast_shadow`: regions of smooth shadow-like pixels (joined
    False), or of all shadow-like pixels with a gentle edge (joined True)."""
    binary = iso.binary
    h, w = binary.shape
    lum, bg_lum, darkening = fields.lum, fields.bg_lum, fields.darkening
    chroma_shift, gradient = fields.chroma_shift, fields.gradient
    shadow_like = (binary & (darkening > iso.t_low)
                   & (lum > SHADOW_MIN_RATIO * bg_lum)
                   & (chroma_shift < SHADOW_MAX_CHROMA + 0.08 * darkening))
    candidate = shadow_like & (gradient < SHADOW_MAX_GRADIENT)
    total = int(binary.sum())
    if not candidate.any() or candidate.sum() > SHADOW_MAX_FRACTION * total:
        return iso
    core = binary & ~candidate
    if not core.any():
        return iso
    # A neutral (white, grey) subject on a neutral backdrop has shaded parts that look
    # just like a shadow: for one, a region must also reach out sideways past the rest
    # of the subject (a shadow on the floor does; the subject's own shading does not).
    neutral = float(np.median(chroma_shift[core])) < SHADOW_MIN_SUBJECT_CHROMA
    core_row = float(np.nonzero(core)[0].mean())
    # Pieces of one shadow split by a darker fold are one region; joined, one shadow is
    # every shadow-like pixel touching it: a hard-edged dark contact shadow and the faint
    # penumbra around it, which a gradient splits.
    member = shadow_like if joined else candidate
    labels, n = ndimage.label(_grow(member, 1) & binary, structure=_EIGHT)
    labels = np.where(member, labels, 0)
    index = np.arange(1, n + 1)
    row_of = np.indices((h, w))[0]
    rows = np.asarray(ndimage.mean(row_of, labels, index))
    # A shadow on the floor reaches down to the subject's base (or past it); a light band
    # across the subject's middle (a label on a mug meeting a white backdrop at the
    # outline) does not.
    core_rows = np.nonzero(core.any(axis=1))[0]
    base_row = core_rows[-1] - SHADOW_BASE_REACH * (core_rows[-1] - core_rows[0] + 1)
    lowest = np.asarray(ndimage.maximum(row_of, labels, index)) if n else np.zeros(0)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    smooth = np.asarray(ndimage.mean(candidate, labels, index))
    # A shadow fades out into the backdrop (a penumbra): where it meets the background
    # its lightness changes slowly and it is much lighter than its darkest part. A shaded
    # part of the subject ends at a crisp edge.
    outline = binary & _grow(~binary, 1)
    edge_labels = np.where(outline, labels, 0)
    edge_count = np.bincount(edge_labels.ravel(), minlength=n + 1)[1:]
    edge_dark = _label_median(darkening, edge_labels, index)
    edge_gradient = _label_median(gradient, edge_labels, index)
    if joined:
        inner_dark = np.zeros(n)
        for k in np.nonzero((edge_count >= 8) & (areas >= 16))[0]:
            inner_dark[k] = float(np.percentile(darkening[labels == k + 1], 75))
        gentle = edge_gradient < SHADOW_EDGE_GRADIENT
    else:
        inner_dark = _label_median(darkening, np.where(outline, 0, labels), index)
        gentle = np.ones(n, bool)
    soft = (edge_count >= 8) & (edge_dark < SHADOW_EDGE_FADE * inner_dark) & gentle
    below = np.nonzero((rows > core_row) & (lowest >= base_row)
                       & (areas >= max(16, 1e-3 * total)) & soft & (smooth >= 0.5))[0]
    if neutral and below.size:
        reach = np.asarray(ndimage.mean(_outside_rows(core), labels, below + 1))
        below = below[reach >= SHADOW_NEUTRAL_REACH]
    if below.size == 0:
        return iso
    shadow = np.isin(labels, below + 1)
    # Take the penumbra's rim with it: subject pixels next to the shadow that are darker
    # than the background without a colour of their own.
    rim = (_grow(shadow, 2) & binary & ~shadow & (chroma_shift < SHADOW_MAX_CHROMA + 2.0)
           & (lum > SHADOW_MIN_RATIO * bg_lum))
    if neutral:  # only what lies beside or beneath the rest of the subject goes
        away = _outside_rows(core) | _below_columns(core)
        shadow &= away
        rim &= away
    kept = binary & ~shadow & ~rim
    labels, n = ndimage.label(kept, structure=_EIGHT)
    if n > 1:
        areas = np.bincount(labels.ravel(), minlength=n + 1)
        areas[0] = 0
        kept = np.isin(labels, np.nonzero(areas >= max(16, 0.01 * areas.max()))[0])
    return replace(iso, mask=feather(kept), binary=kept)


def _outside_rows(core: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels left or right of every `core` pixel in their row."""
    h, w = core.shape
    cols = np.arange(w)
    has = core.any(axis=1)
    first = np.where(has, core.argmax(axis=1), w)
    last = np.where(has, w - 1 - core[:, ::-1].argmax(axis=1), -1)
    return (cols[None, :] < first[:, None]) | (cols[None, :] > last[:, None])


def _below_columns(core: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels below every `core` pixel in their column."""
    h = core.shape[0]
    has = core.any(axis=0)
    last = np.where(has, h - 1 - core[::-1].argmax(axis=0), -1)
    return np.arange(h)[:, None] > last[None, :]


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """(H, W) bool dilated by a (2 radius + 1)² square (separable, fast)."""
    return ndimage.maximum_filter(mask.view(np.uint8), size=2 * radius + 1).view(bool)


def _isolate(lab: np.ndarray, bg: BackgroundModel, cw: float, lossy: bool) -> Isolation:
    """One segmentation of (H, W, 3) Lab against background model `bg`."""
    h, w = lab.shape[:2]
    dist = bg.distance(lab, cw)
    t_low = _low_threshold(bg)
    notes: list[str] = []
    if t_low <= NOISY_T_LOW:
        binary = _segment(dist, t_low, 2.0 * t_low)
        if lossy:
            binary = _trim_halo(binary, dist)
        else:
            extended = _extend_low_contrast(binary, dist, bg, t_low)
            added = int(np.count_nonzero(extended & ~binary))
            if added >= NOTE_FRACTION * binary.size:
                notes.append(f"Kept low-contrast parts of the subject ({added / binary.size:.0%} "
                             "of the image) close to the backdrop's colour but ending at a "
                             "crisp edge.")
            binary = extended
        binary = _fill_holes(binary, dist, bg)
    else:
        # Noisy image (grain, JPEG): segment a lightly smoothed image, whose noise is
        # about 4x lower, so that subject parts of modest contrast are not lost. Smoothing
        # also smears strong edges 1-2 px onto the background: pixels that only the
        # smoothed image calls subject and that lie within 2 px of both a strong pixel
        # and the background are that smear, and go.
        raw_dist, raw_bg, raw_t_low = dist, bg, t_low
        smooth = ndimage.gaussian_filter(lab, sigma=(1.0, 1.0, 0.0))
        bg = fit_background(smooth)
        dist = bg.distance(smooth, cw)
        t_low = _low_threshold(bg)
        binary = _segment(dist, t_low, 2.0 * t_low)
        strong = raw_dist > raw_t_low
        smear = (_grow(strong, 2) & ~strong
                 & _grow(~binary, 2))
        binary &= ~smear
        if lossy:
            binary = _trim_halo(binary, raw_dist)
        binary = _fill_holes(binary, raw_dist, raw_bg)
    return Isolation(feather(binary), binary, dist, t_low, 2.0 * t_low, bg, notes)


def _extend_low_contrast(binary: np.ndarray, dist: np.ndarray, bg: BackgroundModel,
                         t_low: float) -> np.ndarray:
    """`binary` plus the low-contrast regions next to it that end at a crisp edge (the
    EXTEND_* rules above): the parts of a subject too close to the backdrop's colour for
    the hysteresis, such as the white sides of a box on a white backdrop."""
    residuals = bg.border_residuals
    t_ext = max(EXTEND_MIN_DE,
                EXTEND_NOISE * (float(np.median(residuals)) if residuals.size else 0.0))
    if t_ext >= t_low or not binary.any():
        return binary
    smooth = ndimage.uniform_filter(dist, size=5)  # the backdrop's dither averaged out
    above = (smooth > t_ext) & ~binary
    # Work in the window of the parts of `above` next to the subject, plus the reach of
    # the tests below (opening 2 px, the outside ring 4 px): the same result for a
    # fraction of the work.
    parts, _ = ndimage.label(above, structure=_EIGHT)
    near = np.unique(parts[_grow(binary, 3) & above])
    near = near[near > 0]
    if near.size == 0:
        return binary
    found = ndimage.find_objects(parts)
    boxes = [found[k - 1] for k in near]
    h, w = binary.shape
    m = 8
    window = (slice(max(0, min(b[0].start for b in boxes) - m),
                    min(h, max(b[0].stop for b in boxes) + m)),
              slice(max(0, min(b[1].start for b in boxes) - m),
                    min(w, max(b[1].stop for b in boxes) + m)))
    kept = _crisp_regions(binary[window], dist[window], smooth[window], above[window],
                          border_band(h, w, 2)[window], t_ext, int(binary.sum()))
    if kept is None:
        return binary
    out = binary.copy()
    out[window] |= kept
    return out


def _crisp_regions(binary: np.ndarray, dist: np.ndarray, smooth: np.ndarray,
                   above: np.ndarray, edge: np.ndarray, t_ext: float,
                   subject_area: int) -> np.ndarray | None:
    """`_extend_low_contrast`'s tests in a window: the low-contrast regions of `above`
    that pass them, with their own outline (None: none)."""
    # (an opening drops the thin ring of anti-aliased pixels along every outline)
    candidate = ndimage.binary_opening(above, structure=np.ones((5, 5), bool))
    labels, n = ndimage.label(candidate, structure=_EIGHT)
    if n == 0:
        return None
    index = np.arange(1, n + 1)
    touching = np.zeros(n + 1, bool)
    touching[labels[_grow(binary, 3) & candidate]] = True
    touching[labels[edge & candidate]] = False
    touching[0] = False
    if not touching.any():
        return None
    backdrop = ~above & ~binary
    next_to = _grow(backdrop, 1)
    rim = candidate & _grow(next_to, 1) & ~next_to  # 2 px in from the backdrop
    outside_of = ndimage.grey_dilation(labels, footprint=np.ones((9, 9), bool))
    outside = backdrop & (outside_of > 0) & ~_grow(above, 1)  # 2-4 px out

    def median_on(values, where, owners):
        """Per region: the median of `values` on its `where` pixels (inf: none)."""
        out = np.full(n + 1, np.inf)
        has = np.bincount(owners[where], minlength=n + 1) > 0
        out[1:][has[1:]] = _label_median(values, np.where(where, owners, 0), index)[has[1:]]
        return out

    level = median_on(smooth, candidate, labels)
    rim_level = median_on(smooth, rim, labels)  # inf: enclosed by the subject
    outside_level = median_on(dist, outside, outside_of)
    outside_level[~np.isfinite(rim_level)] = 0.0
    area = np.bincount(labels.ravel(), minlength=n + 1)
    keep = (touching & (level >= EXTEND_MIN_LEVEL * t_ext)
            & (rim_level >= EXTEND_EDGE_KEEP * level)
            & (outside_level <= EXTEND_OUTSIDE * t_ext)
            & (area <= EXTEND_MAX_AREA * subject_area))
    if not keep.any():
        return None
    kept = keep[labels]
    return kept | (above & _grow(kept, 2))


def _low_threshold(bg: BackgroundModel) -> float:
    """ΔE76 above which a pixel may be subject: 1.5x the border's 99.5th percentile."""
    res = bg.border_residuals
    noise = float(np.percentile(res, 99.5)) if res.size else 0.0
    return max(MIN_T_LOW, 1.5 * noise)


def _trim_halo(binary: np.ndarray, dist: np.ndarray, passes: int = 4) -> np.ndarray:
    """Peel off the subject's outer pixels that are only a faint echo of a nearby edge.

    JPEG ringing and chroma bleed put a halo of a few ΔE around strong edges; a pixel
    within 2 px of the background whose distance is below EDGE_FRACTION of the strongest
    distance within EDGE_RADIUS px is such an echo. Each pass peels at most 2 px, and
    only at the outline, so subject regions of low contrast inside stay.
    """
    local = ndimage.maximum_filter(dist, size=2 * EDGE_RADIUS + 1)
    faint = dist <= EDGE_FRACTION * local
    for _ in range(passes):
        ring = binary & _grow(~binary, 2)
        peel = ring & faint
        if not peel.any():
            break
        binary = binary & ~peel
    return binary


def _segment(dist: np.ndarray, t_low: float, t_high: float) -> np.ndarray:
    """Hysteresis: regions above t_low that hold a pixel whose 3x3 mean is above t_high."""
    h, w = dist.shape
    candidates = dist > t_low
    labels, n = ndimage.label(candidates, structure=_EIGHT)
    if n == 0:
        return candidates
    seeds = ndimage.uniform_filter(dist, size=3) > t_high
    has_seed = np.bincount(labels[seeds & candidates], minlength=n + 1) > 0
    area = np.bincount(labels.ravel(), minlength=n + 1)
    keep = has_seed & (area >= max(8, int(1e-4 * h * w)))
    keep[0] = False
    return keep[labels]


def _fill_holes(binary: np.ndarray, dist: np.ndarray, bg: BackgroundModel) -> np.ndarray:
    """Fill enclosed holes, except those whose pixels look like the background."""
    # Background regions (4-connected) that do not reach the image edge are holes.
    labels, n = ndimage.label(~binary)
    if n == 0:
        return binary
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    flat = labels.ravel()
    area = np.bincount(flat, minlength=n + 1).astype(np.float64)
    mean_d = np.bincount(flat, weights=dist.ravel(), minlength=n + 1) / np.maximum(area, 1)
    # Judge a hole by its core, 4 px or more from the subject, where no edge echo
    # (anti-aliasing, JPEG ringing) reaches; narrow holes have no core: all of it then.
    core = ~_grow(binary, 3)
    core_area = np.bincount(flat[core.ravel()], minlength=n + 1).astype(np.float64)
    core_sum = np.bincount(flat[core.ravel()], weights=dist[core], minlength=n + 1)
    has_core = core_area >= 4
    mean_d[has_core] = core_sum[has_core] / core_area[has_core]
    bg_level = float(np.mean(bg.border_residuals)) if bg.border_residuals.size else 0.0
    # A real opening shows the background: as close to the model as the border is.
    looks_like_background = mean_d <= 1.5 * bg_level + 1.0
    tiny = area <= max(4, 5e-5 * binary.size)
    fill = tiny | ~looks_like_background
    fill[0] = False
    fill[edge] = False
    return binary | fill[labels]


def feather(binary: np.ndarray, sigma: float = 0.7) -> np.ndarray:
    """(H, W) bool → (H, W) float32 soft mask, about 2 px wide at the edge.

    The decision stays where it was (> 0.5 exactly on `binary`), so a 1 px wide strap
    or antenna keeps a value of at least 0.6 all along.
    """
    out = binary.astype(np.float32)
    rows = np.flatnonzero(binary.any(axis=1))
    cols = np.flatnonzero(binary.any(axis=0))
    if rows.size == 0:
        return out
    m = int(np.ceil(4 * sigma)) + 1  # only the subject's box (plus the blur's reach) changes
    box = (slice(max(0, rows[0] - m), rows[-1] + m + 1),
           slice(max(0, cols[0] - m), cols[-1] + m + 1))
    inside = binary[box]
    soft = ndimage.gaussian_filter(out[box], sigma)
    out[box] = np.where(inside, np.maximum(soft, 0.6), np.minimum(soft, 0.4))
    return out
