"""Light presets keep a product's true colours: real renders of a white matte and a black
gloss product (tools/preset_sheet.py's swatches) and the sample bottle under every
preset, measured in CIELAB over the asset's own pixels (alpha of a transparent render)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.reference.color import srgb_to_lab
from engine.render.stage import Stage
from engine.scene import LIGHT_PRESETS, scene_from_dict
from tools.preset_sheet import SWATCHES, main, swatch_asset

from .conftest import SAMPLE_ASSETS

SIZE = 96


def _renders(asset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """preset -> (Lab of the lit asset's pixels, Lab of its base colour there)."""
    scene = scene_from_dict({
        "asset": {"source": str(asset), "height": 0.25},
        "stage": {"background": "transparent", "ground": False},
        "camera": {"move": "static", "azimuth": 20, "elevation": 10},
        "output": {"aspect": "1:1", "height": SIZE, "msaa": 0, "duration": 1.0,
                   "file": "frames/"},
    }, None)
    out = {}
    with Stage(scene, SIZE, SIZE) as stage:
        stage.set_shading_mode("base-color")
        albedo = stage.capture(0.0)
        stage.set_shading_mode("lit")
        for name in LIGHT_PRESETS:
            stage.set_light_preset(name)
            frame = stage.capture(0.0)
            inside = (frame[..., 3] == 255) & (albedo[..., 3] == 255)
            out[name] = srgb_to_lab(frame[..., :3][inside]), srgb_to_lab(albedo[..., :3][inside])
    return out


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("swatches")
    assets = {name: swatch_asset(folder / f"{i}.glb", *spec)
              for i, (name, spec) in enumerate(SWATCHES.items())}
    assets["bottle"] = SAMPLE_ASSETS / "bottle.glb"
    return {name: _renders(path) for name, path in assets.items() if name != "metal"}


def _chroma(lab: np.ndarray) -> np.ndarray:
    return np.hypot(lab[:, 1], lab[:, 2])


@pytest.mark.parametrize("preset", LIGHT_PRESETS)
def test_a_white_product_stays_light_and_near_neutral(measured, preset):
    """Old rim: mean L* 18 (a black face with white edges); old neon: chroma 58 (magenta
    and cyan halves); old sunset: chroma 40 (orange); old night: L* 34."""
    lab, _ = measured["white matte"][preset]
    assert lab[:, 0].mean() >= 45, f"{preset}: mean L* {lab[:, 0].mean():.1f}"
    assert _chroma(lab).mean() <= 20, f"{preset}: mean chroma {_chroma(lab).mean():.1f}"


@pytest.mark.parametrize("preset", LIGHT_PRESETS)
def test_a_black_product_stays_black_and_readable(measured, preset):
    """Its highlights and edges stand out of a black set (L* about 3): the brightest
    5 % reach L* 12 under every preset and 25 under the edge-lit rim and neon (old rim:
    3.4, old neon 14.9); and it stays black (mean L* at most 25)."""
    lab, _ = measured["black gloss"][preset]
    bright = np.percentile(lab[:, 0], 95)
    assert bright >= (25 if preset in ("rim", "neon") else 12), f"{preset}: p95 L* {bright:.1f}"
    assert lab[:, 0].mean() <= 25, f"{preset}: mean L* {lab[:, 0].mean():.1f}"


@pytest.mark.parametrize("preset", LIGHT_PRESETS)
def test_the_bottle_keeps_its_own_colours(measured, preset):
    """The lit colour's hue and chroma (a*, b*) stay near the base colour's, pixel by
    pixel (median distance): old neon 42 (flat red and green halves), old sunset 28."""
    lab, albedo = measured["bottle"][preset]
    shift = np.median(np.hypot(*(lab[:, 1:] - albedo[:, 1:]).T))
    assert shift <= 16, f"{preset}: median a*b* shift {shift:.1f}"


def test_preset_sheet_tool_writes_every_preset_on_every_asset(tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["-o", str(out), "--tile", "48", "--presets", "studio,neon"]) == 0
    image = Image.open(out)
    assert image.size == (90 + 48 * 7, 22 + 48 * 2)  # 4 samples + 3 swatches, 2 rows
    tile = np.asarray(image.convert("RGB"))[22:70, 90:138].astype(int)
    assert np.abs(tile - tile[0, 0]).max() > 40  # a rendered bottle, not a blank tile
