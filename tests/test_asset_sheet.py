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
    # normals rows (1 and 3) are far more colourful than the lit rows
    def chroma(row):
        return float(np.mean(np.ptp(means[row], axis=-1)))

    assert chroma(1) > chroma(0) and chroma(3) > chroma(2)
    assert not list(tmp_path.glob(".*png"))  # no temporary left behind
