"""The live viewer: pure input handling, K keyframes, and real offscreen frames (EGL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.scene import LIGHT_PRESETS, load_scene, scene_from_dict
from engine.scene.timeline import Bounds, Timeline
from engine.viewer.keyframes import (
    MARK_BEGIN,
    KeyframeSaveError,
    save_camera_key,
    write_scene_safely,
)
from engine.viewer.script import Wait, parse_script
from engine.viewer.state import (
    BACKGROUNDS,
    BINDINGS,
    MODES,
    SAFE_FRAMES,
    ViewContext,
    ViewState,
    Wheel,
    advance,
    camera_for,
    handle,
    help_lines,
    orbit_from_pose,
    orbit_pose,
    safe_frame_rect,
)
from engine.viewer.state import Drag as DragEvent
from engine.viewer.state import Key as K

from .conftest import ROOT, SAMPLE_ASSETS

SIZE = (128, 72)
BOUNDS = Bounds(np.array([-0.1, 0.0, -0.1]), np.array([0.1, 0.3, 0.1]))


@pytest.fixture(autouse=True, scope="module")
def small_shadow_map():
    """Frames here are tiny and llvmpipe spends most of a frame on the 2048² shadow map:
    a 512² map keeps this file fast. The viewer's behaviour does not depend on its size."""
    import engine.render.stage as stage_module

    saved = stage_module.SHADOW_MAP_SIZE
    stage_module.SHADOW_MAP_SIZE = 512
    yield
    stage_module.SHADOW_MAP_SIZE = saved


def context(camera=None, keyframes=None, saveable=True) -> tuple[ViewContext, Timeline]:
    doc = {"asset": {"source": str(SAMPLE_ASSETS / "bottle.glb")},
           "camera": camera or {"move": "static", "elevation": 15}}
    if keyframes:
        doc["keyframes"] = keyframes
    timeline = Timeline(scene_from_dict(doc, None), BOUNDS)
    ctx = ViewContext(center=timeline.bounds.center, radius=timeline.bounds.radius,
                      duration=timeline.duration, fps=30.0, scene_camera=timeline.camera,
                      can_save_keyframes=saveable)
    return ctx, timeline


def press(state: ViewState, ctx: ViewContext, *keys: str):
    commands = []
    for spec in keys:
        state, cmds = handle(state, parse_script(spec)[0], ctx)
        commands += cmds
    return state, commands


def close(a, b, tol=1e-6) -> bool:
    return np.allclose(np.asarray(a, float), np.asarray(b, float), atol=tol)


# --- pure: every key does what it says ---------------------------------------------------------


def test_navigation_keys_move_a_free_camera_that_starts_where_the_shot_was():
    ctx, _ = context()
    s0 = ViewState()
    shot = camera_for(s0, ctx)
    # Leaving the shot for a free orbit does not jump.
    start = orbit_pose(orbit_from_pose(shot))
    assert close(start.eye, shot.eye) and close(start.target, shot.target)

    s, _ = press(s0, ctx, "Left")
    assert not s.follow and s.orbit.azimuth == pytest.approx(orbit_from_pose(shot).azimuth + 15)
    s, _ = press(s0, ctx, "Up")
    assert s.orbit.elevation == pytest.approx(orbit_from_pose(shot).elevation - 15)
    d0 = orbit_from_pose(shot).distance
    assert press(s0, ctx, "Plus")[0].orbit.distance == pytest.approx(d0 / 1.2)
    assert press(s0, ctx, "Minus")[0].orbit.distance == pytest.approx(d0 * 1.2)
    assert handle(s0, Wheel(2), ctx)[0].orbit.distance == pytest.approx(d0 / 1.44)
    panned, _ = press(s0, ctx, "Shift+Right")
    assert not close(panned.orbit.target, shot.target)
    assert panned.orbit.azimuth == pytest.approx(orbit_from_pose(shot).azimuth)
    # Panning moves target and eye together: the view direction stays.
    assert close(camera_for(panned, ctx).forward, shot.forward)
    dragged, _ = handle(s0, DragEvent("left", 72, 0, 720), ctx)
    assert dragged.orbit.azimuth == pytest.approx(orbit_from_pose(shot).azimuth - 27)
    middle, _ = handle(s0, DragEvent("middle", 0, 72, 720), ctx)
    assert middle.orbit.target[1] > shot.target[1]
    # R: back to the scene's camera.
    reset, _ = press(panned, ctx, "R")
    assert reset.follow and close(camera_for(reset, ctx).eye, shot.eye)


@pytest.mark.parametrize("key, azimuth, elevation", [
    ("1", 0, 0), ("3", 90, 0), ("Ctrl+1", -180, 0), ("Ctrl+3", -90, 0), ("7", 0, 89),
    ("Ctrl+7", 0, -89), ("9", 35, 25)])
def test_named_views(key, azimuth, elevation):
    ctx, _ = context()
    s, _ = press(ViewState(), ctx, "Left", "Plus", key)
    assert s.orbit.azimuth == pytest.approx(azimuth)
    assert s.orbit.elevation == pytest.approx(elevation)
    assert close(s.orbit.target, ctx.center)
    pose = camera_for(s, ctx)
    assert np.isfinite(pose.eye).all() and np.isfinite(pose.up).all()


def test_time_keys_play_pause_step_scrub_and_turntable():
    ctx, _ = context()
    s = ViewState(playing=True)
    s = advance(s, 0.5, ctx)
    assert s.time == pytest.approx(0.5)
    s, _ = press(s, ctx, "Space")
    assert not s.playing
    assert advance(s, 1.0, ctx).time == pytest.approx(0.5)
    assert press(s, ctx, "Period")[0].time == pytest.approx(0.5 + 1 / 30)
    assert press(s, ctx, "Comma", "Comma")[0].time == pytest.approx(0.5 - 2 / 30)
    assert press(s, ctx, "Shift+Period")[0].time == pytest.approx(1.5)
    assert press(s, ctx, "Home")[0].time == 0.0
    assert press(s, ctx, "Shift+Comma")[0].time == 0.0  # clamped
    assert advance(ViewState(time=5.9), 0.2, ctx).time == pytest.approx(0.1)  # loops
    s, _ = press(s, ctx, "Period")
    assert not s.playing, "stepping pauses"
    t, _ = press(ViewState(), ctx, "T")
    assert t.turntable and not t.follow
    az = t.orbit.azimuth
    assert advance(t, 1.0, ctx).orbit.azimuth == pytest.approx(az + 45)
    assert not press(t, ctx, "T")[0].turntable


def test_look_keys_cycle_lights_backgrounds_ground_modes_and_safe_frames():
    ctx, _ = context()
    s = ViewState()
    seen = [s.lights]
    for _ in range(len(LIGHT_PRESETS) - 1):
        s, _ = press(s, ctx, "L")
        seen.append(s.lights)
    assert seen == list(LIGHT_PRESETS)
    assert press(s, ctx, "L")[0].lights == LIGHT_PRESETS[0]
    assert press(ViewState(), ctx, "Shift+L")[0].lights == LIGHT_PRESETS[-1]
    s = ViewState()
    modes = []
    for _ in MODES:
        s, _ = press(s, ctx, "M")
        modes.append(s.mode)
    assert modes == list(MODES[1:]) + [MODES[0]]
    s = ViewState()
    frames = []
    for _ in SAFE_FRAMES:
        s, _ = press(s, ctx, "A")
        frames.append(s.safe_frame)
    assert frames == list(SAFE_FRAMES[1:]) + [None]
    assert press(ViewState(), ctx, "B")[0].background == 1
    assert press(ViewState(background=len(BACKGROUNDS) - 1), ctx, "B")[0].background == 0
    assert press(ViewState(), ctx, "G")[0].ground is False
    assert press(ViewState(), ctx, "H")[0].help and press(ViewState(), ctx, "F1")[0].help
    assert press(ViewState(), ctx, "F")[0].stats
    assert press(ViewState(), ctx, "F12")[1][0].name == "screenshot"
    assert press(ViewState(), ctx, "K")[1][0].name == "save-keyframe"
    assert press(ViewState(), ctx, "Esc")[1][0].name == "quit"
    unsaveable, _ = context(saveable=False)
    s, cmds = press(ViewState(), unsaveable, "K")
    assert not cmds and "scene file" in s.message
    # An unbound key changes nothing.
    assert handle(ViewState(), K("z"), ctx) == (ViewState(), [])


def test_script_parsing():
    steps = parse_script("T, wait:1.5, L, F12, Shift+Left, Ctrl+1, Comma, Plus, wheel:2, "
                         "drag:middle:10:-4, wait:ready")
    assert steps[0] == K("t") and steps[1] == Wait(1.5) and steps[3] == K("f12")
    assert steps[4] == K("left", shift=True) and steps[5] == K("1", ctrl=True)
    assert steps[6] == K(",") and steps[7] == K("+") and steps[8] == Wheel(2.0)
    assert steps[9] == DragEvent("middle", 10.0, -4.0) and steps[10] == Wait(None)
    for bad in ("Q,Zap", "wait:soon", "drag:left:1", "Hyper+L"):
        with pytest.raises(ValueError):
            parse_script(bad)


def test_safe_frame_rect_is_centred_and_has_the_aspect():
    assert safe_frame_rect(1280, 720, "16:9") == (0, 0, 1280, 720)
    assert safe_frame_rect(1280, 720, "9:16") == (438, 0, 843, 720)
    assert safe_frame_rect(1280, 720, "1:1") == (280, 0, 1000, 720)
    x0, y0, x1, y1 = safe_frame_rect(400, 800, "16:9")
    assert (x0, x1) == (0, 400) and (x1 - x0) / (y1 - y0) == pytest.approx(16 / 9, rel=0.01)


def test_readme_documents_every_control():
    readme = (ROOT / "README.md").read_text()
    assert "## Live viewer" in readme
    section = readme.split("## Live viewer", 1)[1].split("\n## ", 1)[0]
    for label, _ in help_lines():
        for part in label.split("  "):
            assert f"`{part.strip()}`" in section, f"README misses the key {part!r}"
    assert len(BINDINGS) >= 25


# --- K: camera keyframes into the scene file ---------------------------------------------------


SCENE_TEXT = """# My shot. Comments and layout must survive.
[asset]
source = "{asset}"

[camera]
move = "orbit"   # turns once
elevation = 12

[[keyframes]]          # the user's own camera track
target = "camera"
property = "rotation.x"
keys = [[0, 0], [6, 10]]

[output]
duration = 6.0
"""


def _timeline_of(path: Path) -> Timeline:
    return Timeline(load_scene(path), BOUNDS)


def test_k_saves_keys_that_reproduce_the_view_and_keeps_the_file_safe(tmp_path):
    path = tmp_path / "shot.toml"
    original = SCENE_TEXT.format(asset=SAMPLE_ASSETS / "bottle.glb")
    path.write_text(original)
    os.chmod(path, 0o640)
    timeline = _timeline_of(path)
    ctx = ViewContext(center=timeline.bounds.center, radius=timeline.bounds.radius,
                      duration=6.0, fps=30.0, scene_camera=timeline.camera)
    views = {}
    for t, keys in ((1.0, ("Left", "Left", "Plus", "Shift+Up")), (4.0, ("Down", "Minus"))):
        state, _ = press(ViewState(time=t), ctx, *keys)
        views[t] = camera_for(state, ctx)
        save_camera_key(path, BOUNDS, t, views[t])
    text = path.read_text()
    assert text.startswith(original.rstrip("\n")), "the user's text is kept byte for byte"
    assert text.count(MARK_BEGIN) == 1
    assert (tmp_path / "shot.toml.bak").is_file()
    assert os.stat(path).st_mode & 0o777 == 0o640
    # Rendering the saved scene puts the camera where the viewer had it, at both keys.
    saved = _timeline_of(path)
    for t, view in views.items():
        pose = saved.camera(t)
        assert close(pose.eye, view.eye, 1e-4) and close(pose.target, view.target, 1e-4)
    # Keying the same time again replaces that key instead of adding one.
    save_camera_key(path, BOUNDS, 4.0, views[1.0])
    assert close(_timeline_of(path).camera(4.0).eye, views[1.0].eye, 1e-4)
    assert path.read_text().count("[[keyframes]]") == 7  # the user's + 6 properties
    # A file that changed on disk since it was read is never overwritten.
    before = path.read_bytes()
    with pytest.raises(KeyframeSaveError):
        write_scene_safely(path, b"something else", "garbage")
    assert path.read_bytes() == before


def test_k_twice_keeps_the_version_before_the_first_k_and_snaps_to_frames(tmp_path):
    """The .bak was rewritten on every K (after two, it equalled the new file); keys
    were saved between frames (t = 0.324638 at 30 fps)."""
    path = tmp_path / "shot.toml"
    original = SCENE_TEXT.format(asset=SAMPLE_ASSETS / "bottle.glb")
    path.write_text(original)
    timeline = _timeline_of(path)
    ctx = ViewContext(center=timeline.bounds.center, radius=timeline.bounds.radius,
                      duration=6.0, fps=30.0, scene_camera=timeline.camera)
    first, _ = press(ViewState(time=0.324638), ctx, "Left", "Plus")
    message = save_camera_key(path, BOUNDS, 0.324638, camera_for(first, ctx), fps=30.0)
    assert "t = 0.33 s" in message
    second, _ = press(ViewState(time=2.0), ctx, "Down")
    save_camera_key(path, BOUNDS, 2.0, camera_for(second, ctx), fps=30.0, backup=False)
    assert (tmp_path / "shot.toml.bak").read_text() == original
    assert path.read_text() != original
    saved = load_scene(path)
    times = {t for k in saved.keyframes if k.target == "camera" for t in k.times}
    assert {0.333333, 2.0} <= times and 0.324638 not in times
    for t in times - {0.0, 6.0}:
        assert abs(t * 30 - round(t * 30)) < 1e-4, f"key at {t} s is between frames"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_k_pressed_twice_in_the_viewer_keeps_the_first_backup(tmp_path):
    from engine.viewer.app import Viewer

    path = tmp_path / "shot.toml"
    original = SCENE_TEXT.format(asset=SAMPLE_ASSETS / "bottle.glb")
    path.write_text(original)
    with Viewer(path, size=SIZE, msaa=0) as v:
        v.send(K("space"), K("left"), K("k"))
        v.step()
        first = path.read_text()
        v.send(K("left"), K("left"), K("k"))
        v.step()
        assert v.error is None and "before the first K" in v.state.message
    assert (tmp_path / "shot.toml.bak").read_text() == original
    assert path.read_text() != first != original


def test_screenshots_are_real_jpeg_and_never_over_an_input(tmp_path, capsys):
    from engine.cli import main

    scene = tmp_path / "shot.toml"
    scene.write_text(SCENE_TEXT.format(asset=SAMPLE_ASSETS / "bottle.glb"))
    before = scene.read_bytes()
    assert main(["view", str(scene), "--offscreen", "--size", "64x36", "--msaa", "0",
                 "--screenshot", str(scene)]) == 2
    assert scene.read_bytes() == before and "PNG or JPEG" in capsys.readouterr().err
    shutil.copy(ROOT / "scenes" / "samples" / "robot-concept.png", tmp_path / "concept.png")
    image_scene = tmp_path / "image.toml"
    image_scene.write_text('[asset]\nsource = "concept.png"\n')
    concept = (tmp_path / "concept.png").read_bytes()
    assert main(["view", str(image_scene), "--offscreen", "--size", "64x36", "--screenshot",
                 str(tmp_path / "concept.png")]) == 2
    assert "refusing to write over" in capsys.readouterr().err
    assert (tmp_path / "concept.png").read_bytes() == concept
    out = tmp_path / "shot.jpg"
    assert main(["view", str(scene), "--offscreen", "--size", "64x36", "--msaa", "0",
                 "--screenshot", str(out)]) == 0
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.size == (64, 36)


# --- real frames, offscreen ----------------------------------------------------------------


@pytest.fixture(scope="module")
def viewer():
    from engine.viewer.app import Viewer

    v = Viewer(SAMPLE_ASSETS / "bottle.glb", size=SIZE, msaa=0)
    yield v
    v.close()


def _differs(a: np.ndarray, b: np.ndarray, pixels: int = 20) -> bool:
    return int((np.abs(a[..., :3].astype(int) - b[..., :3]).max(axis=-1) > 8).sum()) >= pixels


def test_keys_change_the_picture(viewer):
    base = viewer.grab()
    assert base.shape == (SIZE[1], SIZE[0], 4)
    # Nothing changed: the 3D passes are skipped and the last scene image is reused.
    idle = viewer.idle_frames
    assert np.array_equal(viewer.grab(), base) and viewer.idle_frames == idle + 1
    undo = {"L": "Shift+L", "B": None, "G": "G", "Left": "R", "Plus": "R"}
    for key, back in undo.items():
        viewer.send(parse_script(key)[0])
        assert _differs(viewer.grab(), base), f"{key} should change the picture"
        if back is None:
            viewer.state = replace(viewer.state, background=0)
        else:
            viewer.send(parse_script(back)[0])
    assert not _differs(viewer.grab(), base, 1), "undoing every change gives the first picture"
    # Screenshots leave the HUD out unless asked; the help overlay is drawn over the frame.
    viewer.send(K("h"))
    assert _differs(viewer.grab(hud=True), base, 200)
    assert not _differs(viewer.grab(), base, 1)
    viewer.send(K("h"))


def test_every_inspection_mode_renders_differently(viewer):
    frames = {}
    for mode in MODES:  # M cycles through them
        frames[mode] = viewer.grab()
        assert viewer.state.mode == mode
        viewer.send(K("m"))
    for i, a in enumerate(MODES):
        for b in MODES[i + 1:]:
            assert _differs(frames[a], frames[b]), f"{a} and {b} look the same"
    assert viewer.grab() is not None and viewer.state.mode == "lit"


def test_live_light_switch_equals_a_fresh_render(viewer, tmp_path):
    """What you preview is what you render: a preset switched live matches a Stage built
    with that preset."""
    from engine.render.stage import Stage
    from engine.scene import scene_for_asset

    viewer.state = replace(viewer.state, lights="neon", time=0.0, follow=True, orbit=None)
    viewer.step()
    live = viewer.grab()
    scene = scene_for_asset(SAMPLE_ASSETS / "bottle.glb")
    scene.camera.move = "static"
    scene.stage.lights = "neon"
    with Stage(scene, *SIZE, msaa=0) as stage:
        fresh = stage.capture(0.0)
    assert np.abs(live.astype(int) - fresh).max() <= 2
    viewer.state = replace(viewer.state, lights="studio")


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_hot_reload_keeps_the_camera_and_survives_a_broken_edit(tmp_path):
    from engine.viewer.app import Viewer

    scene = tmp_path / "shot.toml"
    asset = tmp_path / "thing.glb"
    shutil.copy(SAMPLE_ASSETS / "bottle.glb", asset)
    good = '[asset]\nsource = "thing.glb"\n[stage]\nlights = "studio"\n'
    scene.write_text(good)
    with Viewer(scene, size=SIZE, msaa=0, poll_seconds=0.0) as v:
        v.send(K("left"), K("+"))
        v.step()
        orbit = v.state.orbit
        triangles = v.stats["triangles"]
        _touch(scene, good.replace("studio", "neon"))
        v.step()
        assert v.state.lights == "neon" and v.stage.preset is not None and v.error is None
        assert v.state.orbit == orbit and not v.state.follow, "the camera is kept"
        stage = v.stage
        _touch(scene, good.replace('"studio"', '"studio'))  # broken TOML
        shown = v.grab(hud=True)
        assert v.error and "invalid TOML" in v.error and v.stage is stage
        assert _differs(shown, v.grab(), 100), "the error is shown in the window"
        shutil.copy(SAMPLE_ASSETS / "mug.glb", asset)  # the asset changes on disk too
        os.utime(asset, ns=(0, time.time_ns() + 4_000_000_000))
        _touch(scene, good.replace("studio", "rim"))  # fixed
        v.step()
        assert v.error is None and v.state.lights == "rim"
        assert v.stats["triangles"] != triangles and v.state.orbit == orbit
        # K writes into the scene file; the reload that follows keeps the view.
        v.send(K("space"), K("k"))  # pause, key the camera
        v.step()
        assert MARK_BEGIN in scene.read_text() and v.error is None
        assert v.state.orbit == orbit and "saved to shot.toml" in v.state.message
        # The shot now passes through the saved view: R returns to the shot's camera.
        eye = camera_for(v.state, v.ctx).eye
        v.send(K("r"))
        v.step()
        assert v.state.follow and close(camera_for(v.state, v.ctx).eye, eye, 1e-3)


def test_image_generation_runs_in_the_background(tmp_path, monkeypatch):
    from engine.generate import GenerateSettings
    from engine.viewer.app import Viewer

    from .onnx_models import make_inflate_model

    monkeypatch.setenv("MAQUETTE_CACHE", str(tmp_path / "cache"))
    card = make_inflate_model(tmp_path, size=64)
    image = ROOT / "scenes" / "samples" / "robot-concept.png"
    settings = GenerateSettings(model=str(card), faces=3000, texture_size=256)
    with Viewer(image, size=SIZE, msaa=0, generate=settings) as v:
        assert not v.ready
        first = v.grab(hud=True)
        empty = np.zeros_like(first)
        empty[...] = first[0, 0]
        assert _differs(first, empty, 30), "a progress indicator is shown"
        start = time.perf_counter()
        gaps = []
        while not v.ready and time.perf_counter() - start < 60:
            t0 = time.perf_counter()
            v.step()
            gaps.append(time.perf_counter() - t0)
        total = time.perf_counter() - start
        assert v.ready and v.error is None
        assert len(gaps) >= 3, f"only {len(gaps)} frames in {total:.1f} s of generation"
        assert max(gaps) < max(0.6 * total, 0.5), "a frame waited for the generator"
        assert v.stats["triangles"] > 1000


def test_cli_view_offscreen_script_writes_screenshots(tmp_path):
    from engine.cli import main

    out = tmp_path / "shot.png"
    code = main(["view", str(ROOT / "scenes" / "turntable.toml"), "--offscreen", "--size",
                 "96x54", "--msaa", "0", "--keys", "T,wait:0.1,L,F12,M,F12", "--screenshot",
                 str(out)])
    assert code == 0
    a, b = np.array(Image.open(out)), np.array(Image.open(tmp_path / "shot-2.png"))
    assert a.shape == (54, 96, 3) and _differs(a, b)
    assert main(["view", str(ROOT / "scenes" / "turntable.toml"), "--offscreen", "--keys",
                 "Zap"]) == 2


def test_cli_view_without_a_display_says_so(monkeypatch, capsys):
    from engine.cli import main

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view", str(SAMPLE_ASSETS / "mug.glb")]) == 2
    assert "--offscreen" in capsys.readouterr().err


WINDOW_SCRIPT = """
import sys
import numpy as np
from PIL import Image
import engine.render.stage
engine.render.stage.SHADOW_MAP_SIZE = 512  # as in this file's other tests: speed only
from direct.showbase.MessengerGlobal import messenger
from panda3d.core import WindowProperties
from engine.cli import main
from engine.viewer.app import Viewer

asset, out = sys.argv[1], sys.argv[2]
assert main(["view", asset, "--size", "160x90", "--msaa", "0", "--keys", "L,F12",
             "--frames", "3", "--screenshot", out]) == 0
image = np.array(Image.open(out))
assert image.shape == (90, 160, 3) and image.std() > 5
v = Viewer(asset, size=(160, 90), offscreen=False, msaa=0)
assert not v.offscreen
v.step()
for button in ("arrow_left", "l", "wheel_up", "m"):  # as Panda's ButtonThrower sends them
    messenger.send("maquette-down", [button])
v.step()
assert not v.state.follow and v.state.lights == "softbox" and v.state.mode == "base-color"
props = WindowProperties()
props.set_size(200, 100)
v.output.request_properties(props)
for _ in range(5):
    v.step()
image = v.grab()
assert (v.width, v.height) == (200, 100) and image.shape == (100, 200, 4), image.shape
assert image[..., :3].std() > 5
print("ok")
"""


@pytest.fixture(scope="module")
def xvfb_display():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): no real-window check")
    display = ":97"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "640x480x24", "-nolisten",
                               "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    if server.poll() is not None:
        pytest.skip("Xvfb did not start")
    yield display
    server.terminate()
    server.wait()


def test_real_window_under_xvfb(tmp_path, xvfb_display):
    """A real window (pandagl on X): `maquette view` with scripted keys, F12 and
    --frames; then Panda's own button events, and a resize that the stage follows."""
    out = tmp_path / "window.png"
    env = dict(os.environ, DISPLAY=xvfb_display)
    run = subprocess.run([sys.executable, "-c", WINDOW_SCRIPT, str(SAMPLE_ASSETS / "mug.glb"),
                          str(out)], env=env, capture_output=True, text=True, timeout=90,
                         cwd=ROOT)
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-2000:]


def test_seen_mode_tints_the_inferred_side_and_the_stats_say_how_much(tmp_path):
    """M's "seen" mode draws a marked asset grey where the image saw it and magenta
    where it was inferred; the stats overlay's share follows the camera."""
    import trimesh

    from engine.asset.seen import set_seen
    from engine.viewer.app import Viewer

    box = trimesh.creation.box((0.2, 0.3, 0.2))
    set_seen(box, (box.vertices[:, 2] > 0).astype(np.float32))  # front half seen
    glb = tmp_path / "marked.glb"
    box.export(glb)

    def magenta(frame):
        r, g, b = (frame[..., i].astype(int) for i in range(3))
        return int(((r > g + 40) & (b > g + 20)).sum())

    with Viewer(glb, size=(160, 120), msaa=0) as v:
        v.state = replace(v.state, mode="seen")
        v.send(K("1"))  # front view
        front = v.grab()
        front_share = v.view_inferred_share()
        v.send(K("ctrl+1"))  # back view
        back = v.grab()
        back_share = v.view_inferred_share()
    assert magenta(back) > 200 and magenta(back) > 10 * max(magenta(front), 1)
    assert front_share < 0.1 and back_share > 0.9
def test_moving_frames_drop_resolution_then_refine_once_and_stop_drawing():
    """Issue 16: while the camera moves the 3D view is drawn smaller (a target the
    machine cannot reach forces the smallest scale); still, one full-resolution frame,
    then no draws at all until the next input."""
    from engine.viewer.app import Viewer
    from engine.viewer.live import MIN_SCALE, scaled_size
    from engine.viewer.state import Key

    size = (320, 180)
    with Viewer(SAMPLE_ASSETS / "bottle.glb", size=size, msaa=0, target_fps=1e6) as v:
        v.run_script([Key("t")])  # turntable: the camera moves every step
        for _ in range(8):
            v.step()
        small = scaled_size(*size, MIN_SCALE)
        assert v.render_sizes[-1] == small  # moving: reduced
        v.send(Key("t"))  # turntable off: nothing moves (a bare asset does not play)
        for _ in range(3):
            v.step()
        assert v.render_sizes[-1] == size  # the refine frame at full resolution
        draws = v.draws
        for _ in range(10):
            v.step()
        assert v.draws == draws  # idle: nothing drawn
        v.send(Key("left"))  # input: drawn again, moving size first
        v.step()
        assert v.draws == draws + 1
        assert v.render_sizes[-1] == small



def _drawn_triangles(stage) -> int:
    return sum(np_.node().get_geom(i).get_primitive(k).get_num_primitives()
               for np_ in stage.asset.find_all_matches("**/+GeomNode")
               for i in range(np_.node().get_num_geoms())
               for k in range(np_.node().get_geom(i).get_num_primitives()))


@pytest.fixture(scope="module")
def heavy_sphere(tmp_path_factory) -> Path:
    """A textured 45k-triangle sphere with smooth normals (tools/bench_viewer.py's)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from tools.bench_viewer import make_sphere_glb

    path = tmp_path_factory.mktemp("heavy") / "sphere45k.glb"
    assert make_sphere_glb(path, 45_000) > 40_000
    return path


def test_moving_frames_draw_a_heavy_asset_lighter_and_the_still_exactly(heavy_sphere):
    """Issue 16: on llvmpipe a heavy mesh costs per triangle at any render scale (the
    100k sphere stayed at 10.7 fps at the smallest scale). Moving frames at a reduced
    scale swap in a simplified copy sharing the vertex data; the refine frame, a
    screenshot while moving and wireframe draw the full mesh."""
    from engine.render.moving_proxy import PROXY_TRIANGLES
    from engine.viewer.app import Viewer
    from engine.viewer.state import Key

    with Viewer(heavy_sphere, size=(256, 144), msaa=0, target_fps=1e6) as v:
        full = _drawn_triangles(v.stage)
        for _ in range(3):  # drawn, refined, then idle: the copy is made in idle time
            v.step()
        assert _drawn_triangles(v.stage) == full and v._proxy_stage is v.stage
        v.run_script([Key("t")])  # turntable: moving, at the smallest scale
        for _ in range(4):
            v.step()
        moving = _drawn_triangles(v.stage)
        assert 0.8 * PROXY_TRIANGLES <= moving <= 1.05 * PROXY_TRIANGLES < full
        assert f"({moving:,} moving)" in v._stats_text()  # the stats overlay says so
        assert _drawn_triangles(v.stage) == moving
        v.grab()  # a screenshot is of the real mesh, even while moving
        assert _drawn_triangles(v.stage) == full
        v.step()
        assert _drawn_triangles(v.stage) == moving
        v.send(Key("t"))  # stop: the refine frame draws the full mesh
        for _ in range(3):
            v.step()
        assert _drawn_triangles(v.stage) == full
        v.state = replace(v.state, mode="wireframe")  # while moving: the real topology
        v.run_script([Key("t")])
        for _ in range(3):
            v.step()
        assert v.render_sizes[-1][0] < 256 and _drawn_triangles(v.stage) == full


def test_moving_proxy_looks_like_the_mesh(heavy_sphere):
    """The lighter copy keeps texture, shading and outline: a still of it at full size
    against the full mesh's, within a small tolerance (UVs or normals taken from the
    wrong corners would show as stripes and facets)."""
    from engine.render.moving_proxy import build_moving_proxy
    from engine.render.stage import Stage

    scene = scene_from_dict({"asset": {"source": str(heavy_sphere)},
                             "output": {"height": 144, "msaa": 0}}, None)
    stage = Stage(scene, 256, 144, msaa=0)
    try:
        still = stage.capture(0.0)
        proxy = build_moving_proxy(stage.asset)
        proxy.use(True)
        light = stage.capture(0.0)
        proxy.use(False)
        again = stage.capture(0.0)
    finally:
        stage.close()
    assert np.array_equal(again, still)
    assert not np.array_equal(light, still)  # (it is drawn)
    diff = np.abs(light[..., :3].astype(int) - still[..., :3].astype(int))
    assert diff.mean() < 1.0 and np.percentile(diff.max(axis=-1), 99) < 40, diff.mean()
    outline = (light[..., 3] > 127) != (still[..., 3] > 127)
    assert outline.sum() < 0.01 * (still[..., 3] > 127).sum()



def test_moving_frames_draw_without_multisampling_and_the_still_with_it():
    """Issue 16: a multisampled Stage's reduced-size moving frames go to a second HDR
    buffer without samples (on llvmpipe the 4x float buffer cost ~20 ms of a 320x180
    frame); back at full size the multisampled buffer draws the same picture as before,
    exactly."""
    from engine.render.stage import Stage

    scene = scene_from_dict({"asset": {"source": str(SAMPLE_ASSETS / "bottle.glb")},
                             "output": {"height": 90, "msaa": 4}}, None)
    stage = Stage(scene, 160, 90, msaa=4, fold=False)  # (the viewer's Stage is not folded)
    try:
        assert stage.msaa == 4
        still = stage.capture(0.5)
        stage.set_render_size(40, 22, multisample=False)
        draft = stage.capture(0.5)
        buffer = stage.scene_buffer
        assert buffer is not stage.hdr and not stage.hdr.is_active() and buffer.is_active()
        assert buffer.get_fb_properties().get_multisamples() == 0
        assert (buffer.get_x_size(), buffer.get_y_size()) == (40, 22)
        assert draft.shape == still.shape and not np.array_equal(draft, still)
        assert np.abs(draft[..., :3].astype(int) - still[..., :3]).mean() < 12  # upscaled
        stage.set_render_size(160, 90, multisample=True)
        assert stage.scene_buffer is stage.hdr and not buffer.is_active()
        assert np.array_equal(stage.capture(0.5), still)
    finally:
        stage.close()

def test_moving_proxy_shares_vertex_data_and_skips_light_assets():
    from engine.render.asset_node import load_asset_node
    from engine.render.engine_setup import get_base
    from engine.render.moving_proxy import build_moving_proxy

    get_base()
    node, _ = load_asset_node(SAMPLE_ASSETS / "bottle.glb")
    assert build_moving_proxy(node) is None  # a few thousand triangles: drawn as is
    proxy = build_moving_proxy(node, budget=200)
    assert proxy is not None and proxy.proxy_triangles < proxy.full_triangles
    for geom_node, i, full, light in proxy.slots:
        assert light.get_vertex_data() == full.get_vertex_data()
        assert geom_node.get_geom(i) == full
    proxy.use(True)
    assert all(n.get_geom(i) == light for n, i, _, light in proxy.slots)
    proxy.use(False)
    assert all(n.get_geom(i) == full for n, i, full, _ in proxy.slots)

def test_live_resolution_holds_a_frame_budget():
    from engine.viewer.live import HEADROOM, LiveResolution

    live = LiveResolution(target_fps=15.0)
    for _ in range(20):  # a frame at scale s costs 0.2 s · s² (5 fps at full size)
        s = live.plan(moving=True)
        live.measured(s, 0.2 * s * s)
    assert HEADROOM > 1 and abs(0.2 * live.scale ** 2 - 1 / (15 * HEADROOM)) < 0.003
    assert live.plan(moving=False) == 1.0  # refine once
    assert live.plan(moving=False) is None  # then nothing
    assert live.plan(moving=False, hud_changed=True) == 1.0


def test_the_plus_x_camera_has_one_name_in_the_viewer_and_on_the_contact_sheet():
    """Issue 16: it was "right view" in the viewer and "left side (+X)" on the sheet."""
    from engine.render.contact_sheet import VIEWS as SHEET
    from engine.viewer.state import VIEWS, help_lines

    assert VIEWS["right"][0] == 90.0  # azimuth 90: the camera on +X
    sheet_plus_x = next(label for label, az, _ in SHEET if az == 90.0)
    ctx, _ = context()
    state, _ = press(ViewState(), ctx, "3")
    assert state.message == f"view: {sheet_plus_x}"
    assert any(sheet_plus_x in text for _, text in help_lines())


@pytest.mark.parametrize("size", [(404, 720), (360, 360), (640, 360)])  # 9:16, 1:1, 16:9
def test_hud_blocks_never_leave_the_window(size, tmp_path):
    """Issue 16: in a 404-px-wide 9:16 window the help was clipped and the status and
    error lines were cut at the window's edge. Every shown block (help, stats, status,
    a long message) is wrapped or shrunk to lie inside the window."""
    from engine.viewer.app import Viewer
    from engine.viewer.state import Key

    with Viewer(SAMPLE_ASSETS / "bottle.glb", size=size, msaa=0) as v:
        v.send(Key("f"))
        v.step()
        assert "stats" in v.hud.shown()
        for name in v.hud.shown():  # the stats (with the full GL renderer) and status
            left, top, right, bottom = v.hud.block_bounds(name)
            assert left >= 0 and top >= 0 and right <= size[0] and bottom <= size[1], name
        v.send(Key("h"))
        v.step()
        v.error = ("reload failed, showing the last good version: "
                   + "a/very/long/path/to/some/scene/file.toml: [asset] source: " * 3)
        image = v.grab(hud=True)
        hud = v.hud
        shown = hud.shown()
        assert {"help", "error"} <= set(shown)
        w, h = size
        for name in shown:
            left, top, right, bottom = hud.block_bounds(name)
            assert left >= 0 and top >= 0 and right <= w and bottom <= h, (name, size)
        if size == (404, 720):
            from PIL import Image
            Image.fromarray(image).save(tmp_path / "hud-9x16.png")


def test_the_hud_names_the_current_view():
    from engine.viewer.state import current_view_label

    ctx, _ = context()
    assert current_view_label(ViewState()) == "scene camera"
    s, _ = press(ViewState(), ctx, "3")
    assert current_view_label(s) == "right (+X) view"
    s, _ = press(s, ctx, "Left")
    assert current_view_label(s) == "free camera"
    s, _ = press(s, ctx, "Ctrl+1")
    assert current_view_label(s) == "back (-Z) view"


def test_exposure_keys_change_the_exposure_and_the_picture(viewer):
    from engine.viewer.state import Key

    ctx, _ = context()
    s, _ = press(ViewState(), ctx, "E", "E", "Shift+E")
    assert s.exposure == pytest.approx(0.5)
    s, _ = press(s, ctx, *["E"] * 20)
    assert s.exposure == pytest.approx(6.0)  # clamped
    base = viewer.grab()
    viewer.send(Key("e"), Key("e"))
    brighter = viewer.grab()
    assert _differs(base, brighter)  # the asset (the background is not exposed)
    assert brighter[..., :3].mean() > base[..., :3].mean()
    viewer.send(Key("e", shift=True), Key("e", shift=True))
