"""The back texture rebuilt from the front (engine/generate/backtex.py): its metrics on
constructed arrays, the stage on a constructed ghost with a colour cast, the side
walls' inset, and `maquette generate` end to end with a model that ghosts and tints."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image
from scipy import ndimage

from engine.generate import GenerateSettings, generate_asset
from engine.generate import backtex as bt
from engine.reference import frame_subject, load_reference
from tools.eval_backtex import panels

from .onnx_models import make_inflate_model

PURPLE = ((0.95, 0.8, 1.0), (0.06, 0.0, 0.1))  # gain, offset: a purple cast


def smooth_noise(n: int, seed: int, sigma: float = 3.0) -> np.ndarray:
    field = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=(n, n)), sigma)
    return field / field.std()


def face(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A black-and-white toy's face, (n, n, 3) sRGB and (n, n) mask: a light grey head
    with a fine grain, two black eyes and a black mouth (features that do not continue
    round the back), on mid grey."""
    yy, xx = (np.mgrid[:n, :n] + 0.5) / n
    head = (yy - 0.5) ** 2 + (xx - 0.5) ** 2 < 0.4 ** 2
    grain = 0.03 * np.random.default_rng(seed).normal(size=(n, n))
    rgb = np.full((n, n, 3), 0.5, np.float32)
    rgb[head] = (0.85 + grain[head])[:, None]
    for cx in (0.38, 0.62):
        rgb[(yy - 0.4) ** 2 + (xx - cx) ** 2 < 0.06 ** 2] = 0.05
    rgb[(np.abs(yy - 0.66) < 0.025) & (np.abs(xx - 0.5) < 0.14)] = 0.05
    return np.clip(rgb, 0, 1), head.astype(np.float32)


def ghost_of(front: np.ndarray, size: int, tint=PURPLE) -> np.ndarray:
    """What the network does: a blurred copy of the front in its own grid (a mirrored
    copy seen from behind), at the model's resolution, with a colour cast."""
    blurred = ndimage.gaussian_filter(front, (2, 2, 0))
    small = bt.resize(blurred, size)
    gain, offset = (np.array(t, np.float32) for t in tint)
    return np.clip(small * gain + offset, 0, 1)


# -- metrics ------------------------------------------------------------------------


def test_metrics_on_constructed_arrays():
    n = 128
    mask = np.zeros((n, n), np.float32)
    mask[16:112, 16:112] = 1
    a = 0.5 + 0.1 * smooth_noise(n, 1, 1.5)[..., None] * np.ones(3)
    b = 0.5 + 0.1 * smooth_noise(n, 2, 1.5)[..., None] * np.ones(3)
    # detail: a copy is as detailed, a blurred copy much less
    assert bt.detail_ratio(a, a, mask) == pytest.approx(1.0)
    assert bt.detail_ratio(a, ndimage.gaussian_filter(a, (3, 3, 0)), mask) < 0.2
    # ghost: a faint copy (any contrast) is a ghost, an unrelated pattern is not
    assert bt.ghost_score(a, 0.6 + 0.3 * (a - 0.5), mask) > 0.95
    assert abs(bt.ghost_score(a, b, mask)) < 0.15
    # chroma: the same colours are no cast; a purple tint is one, and off the palette
    purple = np.clip(a * np.array(PURPLE[0]) + np.array(PURPLE[1]), 0, 1)
    assert bt.chroma_shift(a, a, mask) == pytest.approx(0.0, abs=1e-6)
    assert bt.chroma_shift(a, purple, mask) > 10
    shuffled = a.reshape(-1, 3)[np.random.default_rng(0).permutation(n * n)].reshape(a.shape)
    assert bt.palette_distance(a, shuffled, mask) < 1.0
    assert bt.palette_distance(a, purple, mask) > 10


def test_lab_round_trip():
    from engine.reference.color import float_to_lab, lab_to_float

    rgb = np.random.default_rng(3).uniform(size=(500, 3)).astype(np.float32)
    assert np.abs(lab_to_float(float_to_lab(rgb)) - rgb).max() < 2.5 / 255


def test_clean_fringe_replaces_the_backdrop_blend_with_the_subject_colour():
    n = 256
    yy, xx = np.mgrid[:n, :n]
    mask = np.clip(60.5 - np.hypot(yy - 128, xx - 128), 0, 1).astype(np.float32)  # soft edge
    red = np.array([0.8, 0.1, 0.1], np.float32)
    rgb = mask[..., None] * red + (1 - mask[..., None]) * 0.5  # composited on grey
    clean = bt.clean_fringe(rgb, mask)
    fringe = (mask > 0.05) & (mask < 0.95)
    assert np.abs(rgb[fringe] - red).max() > 0.1  # there was a blend
    assert np.abs(clean[fringe] - red).max() < 0.02
    assert np.abs(clean[mask >= 0.95] - rgb[mask >= 0.95]).max() == 0  # inside untouched
    assert np.abs(clean[mask == 0] - red).max() < 0.02  # outside: the rim's colour


def test_fill_from_fills_holes_from_their_surroundings():
    values = np.zeros((64, 64, 3), np.float32)
    values[:, :32] = [1.0, 0.0, 0.0]
    values[:, 32:] = [0.0, 0.0, 1.0]
    known = np.ones((64, 64), bool)
    known[20:44, 8:24] = False  # a hole inside the red half
    values[~known] = [0.0, 1.0, 0.0]  # the hole's own (wrong) colour
    filled = bt.fill_from(values, known)
    assert np.abs(filled[~known] - [1.0, 0.0, 0.0]).max() < 0.05
    assert np.array_equal(filled[known], values[known])


# -- the stage on a constructed ghost --------------------------------------------------


def test_back_texture_removes_a_ghosted_face_and_a_purple_cast():
    n = 256
    front, mask = face(n)
    front = bt.clean_fringe(front, mask)
    predicted = ghost_of(front, 128)
    before = bt.resize(predicted, n)
    after, info = bt.back_texture(front, mask, predicted, bt.resize(mask, 128))
    # the face is the front's alone: its features are found, and do not come back
    assert 0.02 < info.front_only < 0.2
    assert bt.ghost_score(front, before, mask) > 0.5
    assert bt.ghost_score(front, after, mask) < 0.15
    # a black-and-white toy gets no purple back
    assert bt.chroma_shift(front, before, mask) > 10
    assert bt.chroma_shift(front, after, mask) < 2
    assert bt.palette_distance(front, after, mask) < 2 < bt.palette_distance(front, before, mask)
    # the eyes' place on the back is head-coloured, not black
    eyes = (np.hypot(*(np.mgrid[:n, :n] / n - np.array([0.4, 0.38])[:, None, None])) < 0.04)
    assert after[eyes].mean() > 0.7 and before[eyes].mean() < 0.5
    # the head's grain is on the back at full resolution (the prediction has none)
    assert bt.detail_ratio(front, before, mask) < 0.05
    assert bt.detail_ratio(front, after, mask) > 0.2
    # front and back are one surface at the silhouette: the same colours there
    depth = ndimage.distance_transform_edt(mask > 0.5) / n
    rim = (mask > 0.5) & (depth < 0.004)
    assert np.abs(after[rim] - front[rim]).mean() < 0.01
    assert np.abs(before[rim] - front[rim]).mean() > 0.05


def test_continuing_bands_are_kept():
    """A band that crosses the silhouette continues round the back: its colour stays."""
    n = 256
    yy, xx = (np.mgrid[:n, :n] + 0.5) / n
    mask = ((np.abs(xx - 0.5) < 0.3) & (np.abs(yy - 0.5) < 0.4)).astype(np.float32)
    front = np.full((n, n, 3), 0.5, np.float32)
    front[mask > 0] = [0.9, 0.9, 0.85]
    band = (mask > 0) & (np.abs(yy - 0.5) < 0.08)
    front[band] = [0.8, 0.1, 0.1]  # a red label round a bottle
    after, info = bt.back_texture(front, mask, bt.resize(front, 128), bt.resize(mask, 128))
    middle = band & (np.abs(yy - 0.5) < 0.04)
    assert info.front_only < 0.02
    assert np.abs(after[middle] - [0.8, 0.1, 0.1]).max() < 0.08


def test_side_wall_insets_move_smoothly_along_the_outline():
    """Each wall corner's colour is sampled inside the silhouette at a point that moves
    with the corner: neighbouring corners' samples are at most a pixel or so apart and
    never stuck on one pixel (the nearest-pixel inset jumped up to 3 px and stood still
    on half the edges, which striped the walls)."""
    from engine.generate.reconstruct import _inset_uv

    s = 64
    yy, xx = np.mgrid[:s, :s]
    inside = ((yy - 31.5) / 26) ** 2 + ((xx - 31.5) / 18) ** 2 < 1
    r, c = np.nonzero(inside)
    edges = []
    for dr, dc, a, b in ((-1, 0, (0, 0), (0, 1)), (1, 0, (1, 1), (1, 0)),
                         (0, -1, (1, 0), (0, 0)), (0, 1, (0, 1), (1, 1))):
        out = ~inside[np.clip(r + dr, 0, s - 1), np.clip(c + dc, 0, s - 1)]
        edges += [((pr + a[0], pc + a[1]), (pr + b[0], pc + b[1]))
                  for pr, pc in zip(r[out], c[out], strict=True)]
    corners = sorted({p for e in edges for p in e})
    index = {p: i for i, p in enumerate(corners)}
    at = np.array(corners)
    uv = _inset_uv(inside, at[:, 0], at[:, 1]) * s
    jumps = np.array([np.linalg.norm(uv[index[a]] - uv[index[b]]) for a, b in edges])
    assert jumps.max() < 1.6 and (jumps < 1e-6).mean() < 0.05
    pixel = np.floor(uv[:, ::-1]).astype(int)
    assert inside[pixel[:, 0], pixel[:, 1]].all()


# -- end to end -------------------------------------------------------------------------


def test_generate_rebuilds_a_ghosted_purple_back(tmp_path):
    """A model whose back colour is the front's copy with a purple cast (what the
    shipped network does, exaggerated): by default the asset's back has neither the
    face nor the cast; `back_texture=False` keeps the prediction as it was."""
    card = make_inflate_model(tmp_path / "m", size=64, name="ghost", back_tint=PURPLE)
    rgb, mask = face(320)
    image = tmp_path / "toy.png"
    rgba = np.concatenate([rgb, mask[..., None]], axis=-1)
    Image.fromarray((rgba * 255 + 0.5).astype(np.uint8)).save(image)
    m = frame_subject(load_reference(image), 256).mask  # the subject in the atlas's grid
    scores = {}
    for rebuild in (False, True):
        out = tmp_path / f"toy_{rebuild}.glb"
        result = generate_asset(image, out, GenerateSettings(
            model=str(card), faces=6000, texture_size=512, back_texture=rebuild),
            log=lambda m: None)
        assert result.report["settings"]["back_texture"] is rebuild
        atlas = trimesh.load(out, force="mesh").visual.material.baseColorTexture
        front, back = panels(atlas, 256)
        scores[rebuild] = {k: getattr(bt, k)(front, back, m)
                           for k in ("ghost_score", "chroma_shift", "palette_distance")}
    assert scores[False]["ghost_score"] > 0.5 and scores[True]["ghost_score"] < 0.15
    assert scores[False]["chroma_shift"] > 10 and scores[True]["chroma_shift"] < 3
    assert scores[True]["palette_distance"] < 3 < scores[False]["palette_distance"]
