"""The inspect contact sheet: eight views, lit and normals + wireframe, labelled."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.render.contact_sheet import VIEWS, render_contact_sheet, tile_means

from .conftest import SAMPLE_ASSETS


def test_contact_sheet_has_every_view_lit_and_normals(tmp_path):
    out = render_contact_sheet(SAMPLE_ASSETS / "robot.glb", tmp_path / "sheet.png", tile=96)
    image = Image.open(out)
    assert image.size == (4 * 96, 4 * (96 + 22))  # 8 views in 2 rows of 4, each lit + normals
    assert len(VIEWS) == 8
    means = tile_means(out, tile=96)
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    for r in range(4):
        for c in range(4):
            tile = pixels[r * 118 + 22:(r + 1) * 118, c * 96:(c + 1) * 96]
            corner = tile[:4, :4].reshape(-1, 3).mean(axis=0)
            # the asset is in every tile: many pixels differ from the backdrop
            assert (np.abs(tile - corner).max(axis=-1) > 25).mean() > 0.03, (r, c)
    # each view's normals tile differs from its lit tile where the asset is (another
    # pass, not a copy),
    # and its front view is dominated by the +Z normal's colour (blue channel high)
    for lit_row in (0, 2):
        for c in range(4):
            lit = pixels[lit_row * 118 + 22:(lit_row + 1) * 118, c * 96:(c + 1) * 96]
            normals = pixels[(lit_row + 1) * 118 + 22:(lit_row + 2) * 118, c * 96:(c + 1) * 96]
            corner = lit[:4, :4].reshape(-1, 3).mean(axis=0)
            subject = np.abs(lit - corner).max(axis=-1) > 25
            assert np.abs(lit - normals)[subject].mean() > 5, (lit_row, c)
    front = pixels[118 + 22:2 * 118, 0:96]
    corner = front[:4, :4].reshape(-1, 3).mean(axis=0)
    asset = np.abs(front - corner).max(axis=-1) > 25
    assert front[asset][:, 2].mean() > front[asset][:, 1].mean()
    assert means.shape == (4, 4, 3)
    assert not list(tmp_path.glob(".*png"))  # no temporary left behind
