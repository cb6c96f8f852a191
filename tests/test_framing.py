"""The framing guard (engine.scene.framing): pure projection of the asset's moving bounds
through the camera, checked against real renders and the bundled scenes."""

from __future__ import annotations

import numpy as np
import pytest

from engine.asset.io import load_asset
from engine.render.stage import Stage
from engine.scene import load_scene
from engine.scene.framing import box_corners, frame_extent, framing_report, scene_framing
from engine.scene.timeline import Bounds, Timeline

from .conftest import ROOT, foreground_mask, make_scene, sliding_scene_file
from .test_cli import maquette

BG = "#202020"


def file_bounds(path) -> Bounds:
    lo, hi = load_asset(path).mesh.bounds
    return Bounds(np.asarray(lo), np.asarray(hi))


def sliding_scene(tmp_path, end_x: float = 0.6):
    """A static camera; the robot slides toward +X (screen right) from 1 s on."""
    return make_scene(tmp_path, stage={"background": BG, "ground": False},
                      camera={"move": "static"},
                      keyframes=[{"target": "asset", "property": "position.x",
                                  "keys": [[0, 0], [1, 0], [2, end_x]]}],
                      output={"duration": 2.0, "fps": 10, "height": 72})


def test_frame_extent_centre_edges_and_behind():
    from engine.animation import CameraPose

    pose = CameraPose([0, 0, 2], [0, 0, 0], [0, 1, 0], 90.0)  # tan(45) = 1: edges at |x| = z
    ext = frame_extent(np.array([[-1, -0.5, 0], [2, 1, 0]]), pose, 2.0)
    np.testing.assert_allclose(ext, [-0.25, 0.5, -0.25, 0.5])  # x / (depth * aspect)
    assert np.all(np.isinf(frame_extent(np.array([[0, 0, 3.0]]), pose, 1.0)))  # behind


def test_guard_catches_a_move_that_leaves_the_frame(tmp_path):
    scene = sliding_scene(tmp_path)
    report = scene_framing(scene, file_bounds(scene.asset.source))
    assert not report.ok and len(report.ranges) == 1
    out = report.ranges[0]
    assert out.edges == ("right",)
    assert 1.0 < out.start < 1.9 and out.end == pytest.approx(1.9)  # the last frame time
    assert "leave the frame at" in report.warning() and "(right," in report.warning()
    still = make_scene(tmp_path, camera={"move": "static"})
    assert scene_framing(still, file_bounds(still.asset.source)).ok
    inside = make_scene(tmp_path, camera={"move": "static", "distance": 0.05})
    report = scene_framing(inside, file_bounds(inside.asset.source))
    assert report.ranges[0].edges == ("left", "right", "bottom", "top")
    assert "the camera is inside the bounds" in report.warning()


def test_guard_agrees_with_the_rendered_pixels(tmp_path):
    """Where the guard says the bounds left past the right edge, the render's right
    column shows the asset; where it says inside, no edge column does."""
    scene = sliding_scene(tmp_path)
    with Stage(scene, scene.output.width, scene.output.height) as stage:
        report = framing_report(stage.timeline, [0.5, 1.5])
        assert [bool(np.max(np.abs(e)) > 1) for e in report.extents] == [False, True]
        inside, outside = (foreground_mask(stage.capture(t), (32, 32, 32)) for t in (0.5, 1.5))
    edges = lambda m: (m[:, 0].any(), m[:, -1].any(), m[0].any(), m[-1].any())  # noqa: E731
    assert edges(inside) == (False, False, False, False)
    assert edges(outside)[1] and not edges(outside)[0]


def test_fixed_hero_push_in_stays_in_frame():
    """hero-push-in.toml cut the bottle's cap and base in its last second (the fitted
    framing was its far end; now it is its closest)."""
    scene = load_scene(ROOT / "scenes" / "hero-push-in.toml")
    report = scene_framing(scene, file_bounds(scene.asset.source))
    assert report.ok, report.warning()
    assert np.abs(report.extents[-1, 2:]).max() > 0.75  # and it still ends close


@pytest.mark.parametrize("name", ["turntable", "rim-reveal", "social-vertical",
                                  "transparent-loop"])
def test_bundled_scenes_stay_in_frame(name):
    scene = load_scene(ROOT / "scenes" / f"{name}.toml")
    assert scene_framing(scene, file_bounds(scene.asset.source)).ok


@pytest.mark.parametrize("move", ["push-in", "pull-out"])
@pytest.mark.parametrize("strength", [0.2, 0.6, 0.95])
@pytest.mark.parametrize("aspect", ["16:9", "9:16", "1:1"])
@pytest.mark.parametrize("asset", ["bottle.glb", "mug.glb", "lamp.glb"])
def test_fitted_push_in_and_pull_out_keep_the_bounds_by_construction(tmp_path, move, strength,
                                                                      aspect, asset):
    scene = make_scene(tmp_path, asset, camera={"move": move, "strength": strength},
                       output={"aspect": aspect, "duration": 2.0, "fps": 10})
    timeline = Timeline(scene, file_bounds(scene.asset.source))
    report = framing_report(timeline, np.linspace(0, 2, 21), tolerance=0.0)
    assert report.ok, report.warning()
    corners = box_corners(timeline.bounds)
    close = frame_extent(corners, timeline.camera(2.0 if move == "push-in" else 0.0),
                         timeline.aspect)
    assert np.abs(close).max() > 0.6  # the closest end is the fitted framing


def test_render_and_still_warn_with_the_times(tmp_path):
    scene = sliding_scene_file(tmp_path, "out/slide.mp4")
    result = maquette("render", str(scene), "-q")
    assert result.returncode == 0, result.stderr
    assert f"warning: {scene}: the asset's bounds leave the frame at 1.50-1.75 s (right" \
        in result.stderr, result.stderr
    result = maquette("still", str(scene), "--at", "0.5", "-o", str(tmp_path / "ok.png"))
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    result = maquette("still", str(scene), "--at", "2", "-o", str(tmp_path / "out.png"))
    assert result.returncode == 0 and "leave the frame at 2.00 s (right" in result.stderr
