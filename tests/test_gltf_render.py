"""The renderer draws what real-world glTF carries (issue 14, Render): the asset's own
animation plays (node channels sampled by engine.animation.clips, skins and morphs posed
through panda3d-gltf's Characters), deterministic by time. Khronos samples from
../shared/gltf-samples (each with its licence there)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.animation.clips import Channel, Clip, choose_clip, node_matrices, sample
from engine.asset.clips import read_clips
from engine.scene import scene_from_dict
from engine.scene.loader import SceneError

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "gltf-samples"
if not SAMPLES.is_dir():
    SAMPLES = Path("/work/shared/gltf-samples")

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="no ../shared/gltf-samples")


def sample_file(name: str) -> Path:
    folder = SAMPLES / name
    for variant in ("glTF-Binary", "glTF", "glTF-Embedded"):
        found = sorted((folder / variant).glob("*.gl*"))
        if found:
            return found[0]
    raise FileNotFoundError(folder)


def sample_scene(name: str, height: int = 96, **asset):
    return scene_from_dict({
        "asset": {"source": str(sample_file(name)), **asset},
        "output": {"height": height, "aspect": "1:1", "msaa": 0},
        "camera": {"move": "static"},
    }, None)


# --- pure sampling --------------------------------------------------------------------


def test_linear_step_and_cubic_sampling():
    times = np.array([0.0, 1.0, 2.0])
    values = np.array([[0.0, 0, 0], [2.0, 0, 0], [2.0, 4.0, 0]])
    linear = Channel(0, "translation", times, values, "LINEAR")
    step = Channel(0, "translation", times, values, "STEP")
    assert np.allclose(sample(linear, 0.5), [1, 0, 0])
    assert np.allclose(sample(linear, 1.5), [2, 2, 0])
    assert np.allclose(sample(step, 0.99), [0, 0, 0])
    assert np.allclose(sample(step, 1.5), [2, 0, 0])
    assert np.allclose(sample(linear, 5.0), [2, 4, 0])  # clamped past the last key
    # CUBICSPLINE with zero tangents: smoothstep between the keys
    cubic = np.zeros((3, 3, 3))
    cubic[:, 1] = values
    spline = Channel(0, "translation", times, cubic, "CUBICSPLINE")
    assert np.allclose(sample(spline, 0.5), [1, 0, 0])
    assert np.allclose(sample(spline, 0.25), [2 * (3 * 0.25**2 - 2 * 0.25**3), 0, 0])


def test_rotation_slerps_and_clip_loops():
    half = np.sqrt(0.5)
    rot = Channel(3, "rotation", np.array([0.0, 1.0]),
                  np.array([[0, 0, 0, 1.0], [0, half, 0, half]]), "LINEAR")
    q = sample(rot, 0.5)
    assert np.allclose(q, [0, np.sin(np.pi / 8), 0, np.cos(np.pi / 8)])
    clip = Clip("turn", (rot,), 1.0)
    rest = {3: (np.array([1.0, 0, 0]), np.array([0, 0, 0, 1.0]), np.ones(3))}
    at = node_matrices(clip, 0.5, rest)[3]
    assert np.allclose(at[:3, 3], [1, 0, 0])  # the rest translation is kept
    assert np.allclose(node_matrices(clip, 2.5, rest)[3], at)  # looping: 2.5 s = 0.5 s


def test_choose_clip():
    clips = [Clip("Walk"), Clip("Run")]
    assert choose_clip(clips, None) == 0
    assert choose_clip(clips, "Run") == 1
    assert choose_clip(clips, 1) == 1
    assert choose_clip(clips, "none") is None
    assert choose_clip([], None) is None
    with pytest.raises(KeyError, match="'Walk', 'Run'"):
        choose_clip(clips, "Jump")
    with pytest.raises(KeyError, match="2 clips"):
        choose_clip(clips, 5)


def test_animation_setting_is_checked():
    with pytest.raises(SceneError, match="animation"):
        scene_from_dict({"asset": {"source": str(Path(__file__)), "animation": -1}}, None)


@needs_samples
def test_reads_node_channels_of_every_interpolation():
    clips, rest, _ = read_clips(sample_file("InterpolationTest"))
    kinds = {(c.channels[0].interpolation, c.channels[0].path) for c in clips}
    assert len(clips) == 9 and len(kinds) == 9
    skin, _, _ = read_clips(sample_file("RiggedSimple"))
    assert skin[0].deforms and not skin[0].channels


# --- rendering --------------------------------------------------------------------------


@needs_samples
@pytest.mark.parametrize("name", ["BoxAnimated", "AnimatedTriangle", "InterpolationTest",
                                  "SimpleSkin", "AnimatedMorphCube", "RiggedSimple"])
def test_asset_animation_plays_and_is_deterministic(name):
    from engine.render.stage import Stage

    with Stage(sample_scene(name), 96, 96) as stage:
        first = stage.capture(0.0)
        frames = {t: stage.capture(t) for t in (0.5, 1.0, 1.5)}
        again = stage.capture(0.5)
        back = stage.capture(0.0)
    moved = max(float(np.abs(f.astype(int) - first).mean()) for f in frames.values())
    assert moved > 0.01, f"{name}: frames at 0.5/1.0/1.5 s equal t=0"
    assert np.array_equal(again, frames[0.5])
    assert np.array_equal(back, first)


@needs_samples
def test_animation_none_holds_the_rest_pose():
    from engine.render.stage import Stage

    with Stage(sample_scene("BoxAnimated", animation="none"), 96, 96) as stage:
        assert stage.asset_animation.names == ["anim0"]
        assert np.array_equal(stage.capture(0.0), stage.capture(1.0))


def test_viewer_w_asks_for_the_next_clip():
    from engine.viewer.state import Command, Key, ViewContext, handle, initial_state

    ctx = ViewContext(center=np.zeros(3), radius=1.0, duration=4.0, fps=30.0,
                      scene_camera=lambda t: None)
    _, commands = handle(initial_state(ctx), Key("w"), ctx)
    assert commands == [Command("next-clip")]


@needs_samples
def test_cycling_clips_plays_each_then_none():
    from engine.render.stage import Stage

    with Stage(sample_scene("InterpolationTest"), 96, 96) as stage:
        animation = stage.asset_animation
        seen = []
        for _ in range(len(animation.names) + 1):
            seen.append(animation.cycle())
        assert seen[-2] == "none" and seen[-1] == animation.names[0]
        animation.select(None)
        rest = stage.capture(0.0)
        animation.select(4)  # CubicSpline Rotation: turns a cube
        turned = stage.capture(0.6)
        animation.select(None)  # its node goes back to rest
        assert np.array_equal(stage.capture(0.6), rest)
        assert not np.array_equal(turned, rest)


def test_a_glb_maquette_baked_plays(tmp_path):
    """`maquette export --animation` bakes the scene's motion into the GLB's own clip
    (bake_animation): rendering that GLB on a still stage plays it."""
    from engine.asset.formats.gltf import bake_animation
    from engine.render.stage import Stage

    robot = Path(__file__).resolve().parents[1] / "scenes" / "assets" / "robot.glb"
    times = np.linspace(0.0, 2.0, 5)
    matrices = np.repeat(np.eye(4)[None], len(times), axis=0)
    matrices[:, 0, 3] = 0.1 * times  # slides 0.1 m/s along x
    baked = tmp_path / "baked.glb"
    baked.write_bytes(bake_animation(robot.read_bytes(), times, matrices))
    scene = scene_from_dict({"asset": {"source": str(baked)},
                             "output": {"height": 96, "aspect": "1:1", "msaa": 0},
                             "camera": {"move": "static"}}, None)
    with Stage(scene, 96, 96) as stage:
        assert stage.asset_animation.names == ["maquette-motion"]
        first, later = stage.capture(0.0), stage.capture(1.0)
    assert float(np.abs(first.astype(int) - later).mean()) > 0.05
