"""The render-speed work (issue 15) keeps the picture: frames against references rendered
before it (commit 8f5b74e), the clip path's BGRA frames against captured ones, and the
cheaper passes really in place. No timings here (tools/bench_peers.py measures those)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from engine.render.engine_setup import get_graphics
from engine.render.offline import render_clip
from engine.render.stage import Stage
from engine.render.writers import FrameWriter, read_frames
from engine.scene import scene_from_dict

from .conftest import ROOT, SAMPLE_ASSETS
from .test_gltf_render import needs_samples, sample_scene

DATA = ROOT / "tests" / "data"
ORBIT_FRAMES = (0, 16, 32)  # of 48 at 24 fps


def orbit_scene(tmp_path, asset: str, **stage):
    """The bench clip's look (tools/bench_peers.py) at 480x270: studio light, ground; MSAA
    off. The references were rendered at 8f5b74e with msaa 4, which then drew exactly the
    pixels of msaa 0 (Panda3D's multisample attribute was never set), so msaa 0 now is the
    same picture; tests/test_render.py checks that msaa 4 smooths edges since."""
    look = {"lights": "studio", "background": ["#3a3d45", "#17181c"], "ground": True, **stage}
    out = tmp_path / ("x.mov" if look["background"] == "transparent" else "x.mp4")
    return scene_from_dict({
        "asset": {"source": str(SAMPLE_ASSETS / asset), "height": 0.3, "pivot": "base"},
        "stage": look, "camera": {"move": "orbit", "fov": 30, "elevation": 12, "turns": 1.0},
        "output": {"file": str(out), "height": 270, "fps": 24, "duration": 2.0, "msaa": 0},
    }, None)


def captures(scene, indices=ORBIT_FRAMES) -> list[np.ndarray]:
    with Stage(scene, scene.output.width, scene.output.height) as stage:
        return [stage.capture(stage.timeline.frame_time(i)) for i in indices]


def assert_close(frames: np.ndarray, reference: np.ndarray, what: str) -> None:
    """Equal but for a rare pixel: the references were drawn in Panda's state-sorted
    order (by address), so at a few edge samples where two parts of an asset touch the
    other one may win."""
    assert frames.shape == reference.shape, what
    diff = np.abs(frames.astype(int) - reference.astype(int)).max(axis=-1)
    off = int((diff > 2).sum())
    assert diff.mean() < 0.02, f"{what}: mean difference {diff.mean():.4f}"
    assert off <= 4, f"{what}: {off} pixels differ by more than 2 levels"


@pytest.mark.parametrize("asset, stage, fixture, channels", [
    ("bottle.glb", {}, "reference_speed_bottle_orbit.png", 3),
    ("robot.glb", {"background": "transparent"}, "reference_speed_robot_alpha.png", 4),
])
def test_frames_equal_the_ones_before_the_speed_work(tmp_path, asset, stage, fixture,
                                                     channels):
    frames = captures(orbit_scene(tmp_path, asset, **stage))
    strip = np.concatenate([f[..., :channels] for f in frames], axis=0)
    reference = np.asarray(Image.open(DATA / fixture))
    # frame 0 is the Stage's first: drawn once, it has its shadow as the reference has
    assert_close(strip, reference, fixture)


def test_the_first_frame_is_drawn_once_and_has_its_shadow(tmp_path):
    scene = orbit_scene(tmp_path, "bottle.glb")
    with Stage(scene, scene.output.width, scene.output.height) as stage:
        first = stage.capture(0.5)
        again = stage.capture(0.5)
    np.testing.assert_array_equal(first, again)


def test_the_shadow_map_is_depth_only(tmp_path):
    scene = orbit_scene(tmp_path, "bottle.glb")
    with Stage(scene, scene.output.width, scene.output.height) as stage:
        stage.capture(0.0)
        shadow = stage.key_light.get_shadow_buffer(stage.output.get_gsg())
        assert shadow is not None
        assert shadow.get_fb_properties().get_color_bits() == 0
        assert shadow.get_fb_properties().get_depth_bits() >= 16
    assert get_graphics() is not None


@pytest.mark.parametrize("name, stage", [
    ("frames/", {"background": "transparent"}),
    ("clip.mp4", {}),
])
def test_the_clip_path_sends_the_frames_stage_capture_gives(tmp_path, name,
                                                            stage):
    """render_clip hands Panda's BGRA bottom-up bytes to the writer; its frames are the
    captured ones (another Stage: equal but for a rare edge pixel) for PNG frames, within
    H.264's loss (and upright) for .mp4."""
    scene = orbit_scene(tmp_path, "robot.glb", **stage)
    scene.output.duration = 3 / 24
    target = tmp_path / name
    render_clip(scene, str(target), progress=False)
    written = read_frames(target)
    expected = np.stack(captures(scene, range(3)))
    if name.endswith("/"):
        assert_close(written, expected, name)
    else:
        diff = np.abs(written.astype(int) - expected[..., :3].astype(int))
        assert diff.mean() < 2.0
        flipped = np.abs(written.astype(int) - expected[:, ::-1, :, :3].astype(int))
        assert flipped.mean() > 4 * diff.mean(), "the clip is upside down"


@pytest.mark.parametrize("name, alpha", [("a.mp4", False), ("a.gif", False),
                                         ("a.webm", True), ("a/", True)])
def test_writer_bgra_bottom_up_equals_rgba(tmp_path, name, alpha):
    rng = np.random.default_rng(7)
    h, w = 32, 48
    ys, xs = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(3):
        rgba = np.zeros((h, w, 4), np.uint8)
        rgba[..., 0] = xs * 5 + i * 20
        rgba[..., 1] = ys * 7
        rgba[..., 2] = rng.integers(0, 255, (h, w))
        rgba[..., 3] = 255 if not alpha else np.where(xs < w // 2, 255, 90)
        frames.append(rgba)
    outputs = {}
    for layout in ("rgba", "bgra-bottom-up"):
        path = tmp_path / layout / name
        with FrameWriter(path, w, h, 10, alpha=alpha, layout=layout) as writer:
            for rgba in frames:
                if layout == "rgba":
                    writer.write(rgba)
                else:
                    writer.write(np.ascontiguousarray(rgba[::-1][..., [2, 1, 0, 3]]).data)
        outputs[layout] = read_frames(path)
    np.testing.assert_array_equal(outputs["rgba"], outputs["bgra-bottom-up"])


def test_writer_bgra_bottom_up_refuses_a_wrong_size(tmp_path):
    with FrameWriter(tmp_path / "a.mp4", 16, 8, 10, layout="bgra-bottom-up") as writer:
        with pytest.raises(ValueError, match="16x8x4 BGRA bytes"):
            writer.write(bytes(16 * 8 * 3))
        writer.write(bytes(16 * 8 * 4))
    with pytest.raises(ValueError, match="layout"):
        FrameWriter(tmp_path / "b.mp4", 16, 8, 10, layout="bgr")


@pytest.mark.parametrize("blas_threads", [None, "2"])
def test_a_glb_still_starts_lean(tmp_path, blas_threads):
    """A still's fixed costs (docs/BENCHMARKS.md): lazy imports (a .glb goes straight to
    Panda3D; trimesh/scipy cost ~0.5 CPU s), no ShowBase (~0.1 s; offscreen rendering
    needs only the graphics engine and pipe), and one OpenBLAS thread unless the user
    sets another count (numpy's import wakes the pool, whose threads spin ~0.1 s)."""
    code = (
        "import os, sys\n"
        "from engine.cli import main\n"
        f"rc = main(['still', {str(ROOT / 'scenes' / 'assets' / 'bottle.glb')!r}, '-o', "
        f"{str(tmp_path / 'still.png')!r}])\n"
        "heavy = ('trimesh', 'scipy', 'direct.showbase.ShowBase', 'imageio_ffmpeg')\n"
        "print(rc, sorted(m for m in heavy if m in sys.modules),\n"
        "      os.environ['OPENBLAS_NUM_THREADS'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if blas_threads:
        env["OPENBLAS_NUM_THREADS"] = blas_threads
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == f"0 [] {blas_threads or 1}"
    assert (tmp_path / "still.png").exists()


def test_the_viewer_base_shares_the_pipe_and_skips_the_entry_point_scan(tmp_path):
    """A ShowBase made after offscreen rendering started draws on the same pipe, and its
    Loader does not scan every package's entry points for model loaders (0.06 s)."""
    from direct.showbase.Loader import Loader

    from engine.render.engine_setup import get_base

    graphics = get_graphics()
    base = get_base()
    assert base.pipe == graphics.pipe and base.graphicsEngine == graphics.graphicsEngine
    assert get_graphics() is base
    assert Loader._loadedPythonFileTypes is False
    scene = orbit_scene(tmp_path, "bottle.glb")
    with Stage(scene, 64, 36) as stage:
        assert stage.capture(0.0)[..., 3].min() == 255


def test_an_opaque_offscreen_stage_folds_tone_mapping_into_the_main_pass(tmp_path):
    for stage, folded in (({}, True), ({"background": "transparent"}, False)):
        scene = orbit_scene(tmp_path, "bottle.glb", **stage)
        with Stage(scene, 96, 54) as s:
            s.capture(0.0)
            assert s.folded is folded
            assert (s.hdr is None) is folded, "folded: no HDR buffer, no full-screen pass"
    with Stage(orbit_scene(tmp_path, "bottle.glb"), 96, 54, fold=False) as s:
        assert not s.folded and s.hdr is not None


@needs_samples
def test_an_asset_with_blended_surfaces_keeps_the_hdr_path():
    """Folded, a BLEND surface would blend tone-mapped sRGB instead of linear light."""
    with Stage(sample_scene("AlphaBlendModeTest"), 96, 96) as s:
        assert not s.folded and s.hdr is not None
    with Stage(sample_scene("Box"), 96, 96) as s:
        assert s.folded


@pytest.mark.parametrize(("msaa", "tone"), [(0, "neutral"), (4, "neutral"), (0, "aces"),
                                            (0, "none")])
def test_folded_frames_equal_the_two_pass_ones(tmp_path, msaa, tone):
    """The same pixels inside surfaces (the float buffer's rounding: 1 level); at MSAA
    edges the samples are averaged after the output transform instead of before, which
    moves an edge pixel by at most a few tens of levels. The background quad once went
    after the scene and missed the uncovered samples of edge pixels (a black fringe,
    >100 levels off)."""
    scene = orbit_scene(tmp_path, "bottle.glb", tone_mapping=tone)
    scene.output.msaa = msaa
    frames = {}
    for fold in (True, False):
        with Stage(scene, scene.output.width, scene.output.height, fold=fold) as stage:
            assert stage.folded is fold and stage.msaa == msaa
            frames[fold] = np.stack([stage.capture(stage.timeline.frame_time(i)).astype(int)
                                     for i in ORBIT_FRAMES])
    diff = np.abs(frames[True] - frames[False]).max(axis=-1)
    assert diff.mean() < (0.02 if msaa == 0 else 0.15), diff.mean()
    assert diff.max() <= (1 if msaa == 0 else 48), diff.max()
    if msaa:  # antialiased edges: the folded frame is not msaa 0's
        scene.output.msaa = 0
        with Stage(scene, scene.output.width, scene.output.height) as stage:
            aliased = stage.capture(stage.timeline.frame_time(ORBIT_FRAMES[0])).astype(int)
        assert (np.abs(frames[True][0] - aliased).max(axis=-1) > 8).sum() > 50


def test_screen_window_bounds_the_projected_points_with_a_margin():
    from engine.render.asset_layer import screen_window

    clip = np.array([[-0.5, -0.5, 0.0, 1.0], [0.5, 0.25, 0.0, 1.0]])  # ndc x -.5..+.5, y -.5..+.25
    assert screen_window(clip, 200, 100, margin=2) == (48, 23, 104, 42)  # y 25..62.5
    assert screen_window(clip * [1, 1, 1, 0.5], 200, 100, margin=0) == (0, 0, 200, 75)
    assert screen_window(np.array([[-0.5, 0, 0, -1.0]]), 200, 100) == (0, 0, 200, 100)
    assert screen_window(np.array([[3.0, 0, 0, 1.0], [4.0, 0.5, 0, 1.0]]), 200, 100) is None


@pytest.mark.parametrize(("ground", "motion"), [
    (False, []), (True, [{"type": "wobble", "amplitude": 25}])])
def test_the_asset_layer_gives_the_one_pass_frames(tmp_path, ground, motion):
    """MSAA only over the asset's window (engine.render.asset_layer) against the whole
    frame multisampled: the same pixels but for rounding (premultiplied over: 1 level)
    and a few edge samples. With the ground, its shadow comes from the half-resolution
    ground layer (a shadow edge moves by a few levels) and a wobble tips part of the
    asset below the ground, which must still hide it (measured without the layer's
    depth-only ground: mean difference 0.23, 7584 pixels over 2 levels; with it 0.02,
    1263)."""
    scene = scene_from_dict({
        "asset": {"source": str(SAMPLE_ASSETS / "robot.glb"), "height": 0.3, "pivot": "base"},
        "stage": {"lights": "studio", "background": ["#3a3d45", "#17181c"], "ground": ground},
        "camera": {"move": "orbit", "fov": 30, "elevation": 12, "turns": 1.0},
        "motion": motion,
        "output": {"file": str(tmp_path / "x.mp4"), "height": 270, "fps": 24, "duration": 2.0,
                   "msaa": 4},
    }, None)
    frames, windows = {}, []
    for layer in (True, False):
        with Stage(scene, scene.output.width, scene.output.height, layer=layer) as stage:
            assert (stage.layer is not None) is layer and stage.msaa == 4
            shots = []
            for i in ORBIT_FRAMES:
                shots.append(stage.capture(stage.timeline.frame_time(i)).astype(int))
                if layer:
                    windows.append(stage.layer.window)
            frames[layer] = np.stack(shots)
    diff = np.abs(frames[True] - frames[False]).max(axis=-1)
    assert diff.mean() < 0.05, diff.mean()
    assert (diff > 2).sum() <= (2500 if ground else 12), int((diff > 2).sum())
    for _x, _y, w, h in windows:
        assert 0 < w * h < 0.6 * scene.output.width * scene.output.height


def _variant_defines(stage) -> list[dict[str, str]]:
    """The defines each Geom of the Stage's asset is drawn with, read from the source of
    the shader on its geom state (engine.render.surface_shaders)."""
    from panda3d.core import Shader, ShaderAttrib

    found = []
    for path in stage.asset.find_all_matches("**/+GeomNode"):
        node = path.node()
        for i in range(node.get_num_geoms()):
            shader = node.get_geom_state(i).get_attrib(ShaderAttrib).get_shader()
            lines = shader.get_text(Shader.ST_fragment).splitlines()[1:]  # (#version)
            header = itertools.takewhile(lambda line: line.startswith("#define "), lines)
            found.append(dict(line.split()[1:3] for line in header))
    return found


@needs_samples
@pytest.mark.parametrize("name, present, absent", [
    ("NormalTangentTest", {"NORMAL_MAP", "BASE_COLOR_MAP"}, {"EMISSION", "UNLIT"}),
    ("EmissiveStrengthTest", {"EMISSION"}, {"NORMAL_MAP", "UNLIT"}),
    ("UnlitTest", {"UNLIT"}, {"NORMAL_MAP", "EMISSION"}),
    ("MultiUVTest", {"UV1"}, {"UNLIT"}),
    ("BoxTextured", {"BASE_COLOR_MAP"}, {"NORMAL_MAP", "METAL_ROUGH_MAP", "UV1", "UNLIT"}),
    ("MetalRoughSpheresNoTextures", set(),
     {"BASE_COLOR_MAP", "METAL_ROUGH_MAP", "NORMAL_MAP", "OCCLUSION_MAP", "EMISSION"}),
])
def test_each_surface_is_drawn_with_the_variant_of_its_material(name, present, absent):
    """A CPU renderer runs both sides of a shader's branches, so each surface's shader is
    compiled for what its material has; the pixels are the references' (above) and the
    material tests' (tests/test_gltf_render_materials.py)."""
    with Stage(sample_scene(name), 96, 96) as stage:
        variants = _variant_defines(stage)
    assert variants
    for defines in variants:
        assert defines["TONE_MAPPING"] == "0" and defines["SHADING_MODE"] == "0"
        assert not absent & set(defines), (name, defines)
    assert present <= set().union(*variants), (name, variants)


@needs_samples
def test_alpha_modes_get_their_own_variants(tmp_path):
    """... in the shadow pass too: only GeomNodes with a MASK or BLEND surface are drawn
    with the shadow shader that tests alpha (tests/test_gltf_render_materials.py checks
    what that casts)."""
    from panda3d.core import Shader, ShaderAttrib

    from engine.render.surface_shaders import ALPHA_TESTED_TAG

    with Stage(sample_scene("AlphaBlendModeTest"), 96, 96) as stage:
        modes = {defines["ALPHA_MODE"] for defines in _variant_defines(stage)}
        tagged = {path.get_tag(ALPHA_TESTED_TAG) == "1": path
                  for path in stage.asset.find_all_matches("**/+GeomNode")}
        tested = stage.key_light.get_tag_state("1").get_attrib(ShaderAttrib).get_shader()
        plain = stage.key_light.get_initial_state().get_attrib(ShaderAttrib).get_shader()
    assert modes == {"0", "1", "2"}
    assert set(tagged) == {True, False}  # (the sample has opaque quads too)
    assert "#define ALPHA_TESTED 1" in tested.get_text(Shader.ST_fragment)
    assert "ALPHA_TESTED 1" not in plain.get_text(Shader.ST_fragment)
    with Stage(orbit_scene(tmp_path, "bottle.glb"), 96, 54) as stage:
        assert not stage.asset.find_all_matches(f"**/={ALPHA_TESTED_TAG}")


def test_live_changes_recompile_the_variants_and_back_give_the_fresh_frames(tmp_path):
    """Shading mode, tone mapping and the environment are defines of the asset's variants:
    each change shows (tone mapping and the environment only in the lit mode, the others
    being unlit), and going back draws the fresh Stage's pixels exactly."""
    environment = ROOT / "scenes" / "environments" / "studio.exr"
    with Stage(orbit_scene(tmp_path, "bottle.glb"), 160, 90) as stage:
        fresh = stage.capture(0.5).astype(int)
        changed = []
        for change in (lambda: stage.set_shading_mode("normals"),
                       lambda: stage.set_shading_mode("base-color"),
                       lambda: (stage.set_shading_mode("lit"), stage.set_tone_mapping("aces")),
                       lambda: stage.set_environment(environment)):
            change()
            changed.append(stage.capture(0.5).astype(int))
        assert {d["ENV_MAP"] for d in _variant_defines(stage)} == {"1"}
        stage.set_tone_mapping("neutral")
        stage.set_environment(None)
        back = stage.capture(0.5)
    for before, after in itertools.pairwise([fresh, *changed]):
        assert (np.abs(after - before).max(axis=-1) > 8).sum() > 100
    np.testing.assert_array_equal(back, fresh)


@pytest.mark.parametrize("msaa", [0, 4])
def test_the_background_rows_give_the_per_pixel_background_exactly(tmp_path, msaa):
    """engine.render.background: the row values plus dither, and the gradient under the
    ground's shadow only in the ground's window, draw the frames the per-pixel shader
    draws over the whole frame, bit for bit (msaa 4: with the half-resolution ground
    layer; msaa 0: the ground in the main pass)."""
    from engine.render.stage import _make_shader

    scene = orbit_scene(tmp_path, "bottle.glb")
    scene = replace(scene, output=replace(scene.output, msaa=msaa))
    times = (0.0, 0.45, 1.3)
    with Stage(scene, scene.output.width, scene.output.height) as stage:
        background = stage.background
        assert background is not None and (background.ground_region is not None) is (msaa > 0)
        fast = [stage.capture(t) for t in times]
        if msaa:
            window = background.ground_region.get_dimensions()
            assert 0.0 < (window[1] - window[0]) * (window[3] - window[2]) < 0.7
        per_pixel = {"GROUND_LAYER": 1} if background.ground_texture is not None else {}
        stage.post_quad.set_shader(
            _make_shader("post.vert.glsl", "background.frag.glsl", per_pixel))
        if background.ground_texture is not None:
            stage.post_quad.set_shader_input("ground_layer", background.ground_texture)
            background.ground_region.set_active(False)
            background.place = lambda corners: None  # (the region stays off)
        slow = [stage.capture(t) for t in times]
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("stage_look", [{}, {"background": "transparent"}])
def test_a_still_holds_the_frame_capture_gives(tmp_path, stage_look):
    """render_still decodes Panda's BGRA bottom-up bytes with PIL in one pass (no RGBA
    copy, flip and slice): the PNG holds Stage.capture's frame (RGB, or RGBA when the
    background is transparent)."""
    from engine.render.offline import render_still

    scene = orbit_scene(tmp_path, "robot.glb", **stage_look)
    path = render_still(scene, 0.5, tmp_path / "still.png")
    with Stage(scene, scene.output.width, scene.output.height) as stage:
        frame = stage.capture(0.5)
    expected = frame if stage_look else frame[..., :3]
    np.testing.assert_array_equal(np.asarray(Image.open(path)), expected)
