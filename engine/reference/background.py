"""A smooth background model fitted robustly to the image border.

The background of a product shot is a solid colour, a linear gradient or a soft
vignette. Each Lab channel is modelled as a quadratic polynomial in the normalised
pixel coordinates (x, y in [-1, 1]), fitted by least squares to the pixels of a thin
border band. The fit is iterated with outlier rejection, so a subject that touches
the border over part of its length does not pull the model.

A wall meeting a floor (a horizon across the image) is no quadratic: in the rows where
the quadratic misses the image's own left and right edges, and those two edges agree
with each other, the backdrop of the row is taken from them (`BackgroundModel.rows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Lab ΔE below which a border pixel always counts as fitting the model.
MIN_INLIER_DE = 2.5
#: At most this many border pixels take part in the fit (evenly subsampled).
MAX_SAMPLES = 20000
#: Row backdrop: a row's left and right edge colours (median over ROW_SMOOTH rows) must
#: agree within this ΔE76, the quadratic miss them by more than ROW_MISS_DE, and the run
#: of such rows reach the top or bottom of the image.
ROW_AGREE_DE = 6.0
ROW_MISS_DE = 4.0
ROW_SMOOTH = 9
ROW_SEAM = 4


@dataclass
class BackgroundModel:
    """coef: (6, 3) float64, Lab = basis(x, y) @ coef with basis [1, x, y, x², xy, y²].

    inlier_fraction: fraction of border samples that fit the model.
    border_residuals: (n,) float32 ΔE of the inlier border samples from the model.
    """

    coef: np.ndarray
    inlier_fraction: float
    border_residuals: np.ndarray
    rows: np.ndarray | None = None  # (H, 3) float32 Lab of rows taken from the edges, NaN
    #                                 where the quadratic holds (None: nowhere)

    def row_mask(self, height: int) -> np.ndarray:
        """(height,) bool: the rows whose backdrop comes from the image's edges."""
        if self.rows is None or len(self.rows) != height:
            return np.zeros(height, bool)
        return ~np.isnan(self.rows[:, 0])

    def render(self, height: int, width: int) -> np.ndarray:
        """(height, width, 3) float32 Lab of the modelled background."""
        out = self._render_quadratic(height, width)
        use = self.row_mask(height)
        if use.any():
            out[use] = self.rows[use][:, None, :]
        return out

    def distance(self, lab: np.ndarray, chroma_weight: float = 1.0) -> np.ndarray:
        """(H, W) float32 ΔE76 of (H, W, 3) float32 Lab pixels from the model.

        chroma_weight: scales the a and b differences (< 1 for images whose colour was
        subsampled, as in JPEG, where chroma smears past the edges)."""
        total = self._quadratic_distance(lab, chroma_weight)
        use = self.row_mask(lab.shape[0])
        if use.any():
            diff = lab[use] - self.rows[use][:, None, :]
            if chroma_weight != 1.0:
                diff[..., 1:] *= np.float32(chroma_weight)
            total[use] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        return total

    def _render_quadratic(self, height: int, width: int) -> np.ndarray:
        x, y = _coords(width), _coords(height)
        c = self.coef.astype(np.float32)
        out = np.empty((height, width, 3), np.float32)
        xy = y[:, None] * x[None, :]
        for ch in range(3):
            along_x = c[0, ch] + c[1, ch] * x + c[3, ch] * x * x
            along_y = c[2, ch] * y + c[5, ch] * y * y
            plane = out[..., ch]
            np.multiply(xy, c[4, ch], out=plane)
            plane += along_x[None, :]
            plane += along_y[:, None]
        return out

    def _quadratic_distance(self, lab: np.ndarray, chroma_weight: float) -> np.ndarray:
        h, w = lab.shape[:2]
        x, y = _coords(w), _coords(h)
        c = self.coef.astype(np.float32)
        xy = y[:, None] * x[None, :]
        total = np.zeros((h, w), np.float32)
        diff = np.empty((h, w), np.float32)
        for ch in range(3):
            along_x = c[0, ch] + c[1, ch] * x + c[3, ch] * x * x
            along_y = c[2, ch] * y + c[5, ch] * y * y
            np.multiply(xy, -c[4, ch], out=diff)
            diff += lab[..., ch]
            diff -= along_x[None, :]
            diff -= along_y[:, None]
            if ch and chroma_weight != 1.0:
                diff *= np.float32(chroma_weight)
            diff *= diff
            total += diff
        return np.sqrt(total, out=total)


def _coords(n: int) -> np.ndarray:
    """(n,) float32 pixel-centre coordinates normalised to [-1, 1]."""
    return ((np.arange(n, dtype=np.float32) + 0.5) / n * 2.0 - 1.0).astype(np.float32)


def _basis(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)


def border_band(height: int, width: int, band: int) -> np.ndarray:
    """(height, width) bool: the pixels within `band` pixels of the image edge."""
    m = np.zeros((height, width), bool)
    m[:band] = m[-band:] = True
    m[:, :band] = m[:, -band:] = True
    return m


def fit_background(lab: np.ndarray, band: int | None = None, iterations: int = 8,
                   where: np.ndarray | None = None) -> BackgroundModel:
    """Fit the background model to the border band of `lab` ((H, W, 3) float32 Lab).

    band: border band width in pixels (default: 1 % of the shorter side, at least 2).
    where: (H, W) bool, fit to these pixels instead of the border band (a refit on all
        the background found so far).
    """
    h, w = lab.shape[:2]
    if band is None:
        band = max(2, min(h, w) // 100)
    band = max(1, min(band, min(h, w) // 2 or 1))
    rows, cols = np.nonzero(border_band(h, w, band) if where is None else where)
    step = max(1, len(rows) // MAX_SAMPLES)
    rows, cols = rows[::step], cols[::step]
    vals = lab[rows, cols].astype(np.float64)
    basis = _basis(_coords(w)[cols].astype(np.float64), _coords(h)[rows].astype(np.float64))

    # Start from the median colour; assumes most of the border shows background.
    coef = np.zeros((6, 3))
    coef[0] = np.median(vals, axis=0)
    resid = np.linalg.norm(vals - basis @ coef, axis=1)
    inliers = resid < max(MIN_INLIER_DE, 3.0 * 1.4826 * float(np.median(resid)))
    for _ in range(iterations):
        if inliers.sum() < 12:
            break
        coef, *_ = np.linalg.lstsq(basis[inliers], vals[inliers], rcond=None)
        resid = np.linalg.norm(vals - basis @ coef, axis=1)
        scale = 1.4826 * float(np.median(resid[inliers]))
        new = resid < max(MIN_INLIER_DE, 4.0 * scale)
        if np.array_equal(new, inliers):
            break
        inliers = new
    model = BackgroundModel(coef=coef, inlier_fraction=float(inliers.mean()),
                            border_residuals=resid[inliers].astype(np.float32))
    rows_lab = _edge_rows(lab, model, max(2, min(h, w) // 100))
    if rows_lab is None:
        return model
    model.rows = rows_lab
    # the border, judged against the rows it now follows: its noise, not the horizon
    band_mask = border_band(h, w, band)
    dist = model.distance(lab)[band_mask]
    keep = dist < max(MIN_INLIER_DE, 4.0 * 1.4826 * float(np.median(dist)))
    model.inlier_fraction = float(keep.mean())
    model.border_residuals = dist[keep][::max(1, keep.sum() // MAX_SAMPLES)].astype(np.float32)
    return model


def _edge_rows(lab: np.ndarray, model: BackgroundModel, band: int) -> np.ndarray | None:
    """(H, 3) Lab of the rows whose backdrop the left and right edges show better than
    the quadratic does (NaN elsewhere), or None when there are none."""
    from scipy import ndimage

    h, w = lab.shape[:2]
    if w < 8 * band or h < 2 * ROW_SMOOTH:
        return None
    raw_left = np.median(lab[:, :band], axis=1)
    raw_right = np.median(lab[:, -band:], axis=1)
    left = ndimage.median_filter(raw_left, size=(ROW_SMOOTH, 1), mode="nearest")
    right = ndimage.median_filter(raw_right, size=(ROW_SMOOTH, 1), mode="nearest")
    quad = model._render_quadratic(h, w)
    miss = np.maximum(np.linalg.norm(left - quad[:, 0], axis=1),
                      np.linalg.norm(right - quad[:, -1], axis=1))
    agree = np.linalg.norm(left - right, axis=1) < ROW_AGREE_DE
    use = agree & (miss > ROW_MISS_DE)
    # only runs of rows that reach the top or bottom edge (a floor, a ceiling band): a
    # wide subject crossing the middle of the image from edge to edge is no backdrop
    runs, count = ndimage.label(use)
    if count:
        reach = np.unique(runs[[0, -1]])
        use = np.isin(runs, reach[reach > 0])
        # and the few rows of a soft horizon's seam next to them, where the quadratic's
        # miss is still over the noise but under ROW_MISS_DE
        near = ndimage.binary_dilation(use, iterations=ROW_SEAM)
        use |= near & agree & (miss > MIN_INLIER_DE)
    if use.sum() < ROW_SMOOTH:
        return None
    rows = np.full((h, 3), np.nan, np.float32)
    # each row's own edges where they agree (the seam of a soft horizon, which the
    # median would shift by a row or two), else the smoothed ones
    own = np.linalg.norm(raw_left - raw_right, axis=1) < ROW_AGREE_DE
    colour = np.where(own[:, None], 0.5 * (raw_left + raw_right), 0.5 * (left + right))
    rows[use] = colour[use]
    return rows
