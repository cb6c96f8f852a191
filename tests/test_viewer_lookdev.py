"""Issue 16's look-dev keys in the live viewer: environment cycle and rotation, tone
mapping, orthographic, grid and axes, dimensions, the transparency checkerboard and
PageUp/PageDown. Each key's state change is checked without Panda3D; its effect on real
offscreen frames (EGL) after."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.animation import CameraPose
from engine.viewer.files import SCENE_STUDIO, environment_choices, neighbour_file
from engine.viewer.script import parse_script
from engine.viewer.state import (
    BACKGROUNDS,
    TONE_MAPPINGS,
    ViewContext,
    ViewState,
    dimensions_text,
    grid_step,
    handle,
    help_lines,
    ortho_film_height,
)

from .conftest import ROOT, SAMPLE_ASSETS

BUNDLED = ROOT / "scenes" / "environments" / "studio.exr"


@pytest.fixture(autouse=True, scope="module")
def small_shadow_map():
    """Tiny frames: a 512² shadow map keeps this file fast (as in test_viewer.py)."""
    import engine.render.stage as stage_module

    saved = stage_module.SHADOW_MAP_SIZE
    stage_module.SHADOW_MAP_SIZE = 512
    yield
    stage_module.SHADOW_MAP_SIZE = saved


def _ctx(**kw) -> ViewContext:
    pose = CameraPose(np.array([0.0, 0.15, 1.0]), np.array([0.0, 0.15, 0.0]),
                      np.array([0.0, 1.0, 0.0]), 30.0)
    return ViewContext(center=np.array([0.0, 0.15, 0.0]), radius=0.2, duration=4.0,
                       fps=30.0, scene_camera=lambda t: pose, **kw)


def press(state, ctx, *keys):
    commands = []
    for spec in keys:
        state, cmds = handle(state, parse_script(spec)[0], ctx)
        commands += cmds
    return state, commands


def _differs(a, b, pixels=20) -> bool:
    return int((np.abs(a[..., :3].astype(int) - b[..., :3]).max(axis=-1) > 8).sum()) >= pixels


# --- pure: each key changes the state it should ---------------------------------------------


def test_each_look_dev_key_changes_its_state():
    ctx = _ctx(environments=("scene (preset studio)", "studio.exr", "mine.hdr"),
               size=(0.2, 0.3, 0.2))
    s = ViewState()
    envs = []
    for _ in range(3):
        s, _ = press(s, ctx, "V")
        envs.append(s.environment)
    assert envs == [1, 2, 0] and press(ViewState(), ctx, "Shift+V")[0].environment == 2
    assert press(ViewState(), ctx, "V")[0].message == "environment: studio.exr"
    s, _ = press(ViewState(), ctx, "]", "]", "[", "]")
    assert s.environment_rotation == pytest.approx(30.0)
    s, _ = press(ViewState(environment_rotation=175.0), ctx, "]")
    assert s.environment_rotation == pytest.approx(-170.0)  # wraps to (-180, 180]
    tones = []
    s = ViewState()
    for _ in TONE_MAPPINGS:
        s, _ = press(s, ctx, "U")
        tones.append(s.tone_mapping)
    assert tones == ["aces", "none", "neutral"] and ViewState().tone_mapping == "neutral"
    for key, field in (("5", "orthographic"), ("X", "guides"), ("D", "dimensions")):
        on, _ = press(ViewState(), ctx, key)
        assert getattr(on, field) is True, key
        assert getattr(press(on, ctx, key)[0], field) is False, key
    assert "squares of 0.100 m" in press(ViewState(), ctx, "X")[0].message
    assert press(ViewState(), ctx, "PageDown")[1][0].name == "next-file"
    assert press(ViewState(), ctx, "PageUp")[1][0].name == "previous-file"
    # numpad 5 is 5 in a window; B reaches a transparent background
    from engine.viewer.window import BUTTON_NAMES

    assert BUTTON_NAMES["num_5"] == "5"
    assert BACKGROUNDS[-1][1].transparent
    labels = " ".join(label for label, _ in help_lines())
    for key in ("V", "[", "]", "U", "5", "X", "D", "PageUp", "PageDown"):
        assert key in labels.split(), key


def test_grid_steps_dimensions_and_ortho_frame_height():
    assert grid_step((0.08, 0.3, 0.08)) == pytest.approx(0.1)  # the bottle
    assert grid_step((0.5, 1.8, 0.4)) == pytest.approx(0.5)  # a person
    assert grid_step((0.01, 0.02, 0.01)) == pytest.approx(0.01)
    assert grid_step((10.0, 3.0, 3.0)) == pytest.approx(5.0)
    assert dimensions_text((0.2, 0.3, 0.25)) == "size W x H x D: 0.200 x 0.300 x 0.250 m"
    assert dimensions_text((1.2, 12.5, 0.04)) == "size W x H x D: 1.20 x 12.5 x 0.040 m"
    pose = CameraPose(np.array([0.0, 0.0, 2.0]), np.zeros(3), np.array([0.0, 1.0, 0.0]), 90.0)
    assert ortho_film_height(pose) == pytest.approx(4.0)  # 2 · 2 m · tan(45°)


def test_environment_choices_and_neighbour_files(tmp_path):
    choices = environment_choices(None, tmp_path / "a.glb")
    assert choices[0] == (f"scene ({SCENE_STUDIO})", None)
    assert ("studio.exr", BUNDLED) in choices
    (tmp_path / "b.hdr").write_bytes(b"#?RADIANCE\n")
    (tmp_path / "a.EXR").write_bytes(b"v/1\x01")
    own = tmp_path / "b.hdr"
    choices = environment_choices(own, tmp_path / "x.toml")
    labels = [label for label, _ in choices]
    assert labels == ["scene (b.hdr)", SCENE_STUDIO, "studio.exr", "a.EXR"]  # b.hdr once
    for name in ("b.glb", "a.toml", "C.png", "notes.txt", "d.obj", ".hidden.glb"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "e.glb").mkdir()  # a folder is not a file
    order = ["a.toml", "b.glb", "C.png", "d.obj"]
    for i, name in enumerate(order):
        assert neighbour_file(tmp_path / name, 1).name == order[(i + 1) % 4]
        assert neighbour_file(tmp_path / name, -1).name == order[i - 1]
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "x.glb").write_bytes(b"")
    assert neighbour_file(alone / "x.glb", 1) is None


# --- real frames, offscreen ----------------------------------------------------------------


def _box_glb(path: Path, size=(0.2, 0.3, 0.2)) -> Path:
    import trimesh

    trimesh.creation.box(size).export(path)
    return path


@pytest.fixture(scope="module")
def bottle():
    from engine.viewer.app import Viewer

    v = Viewer(SAMPLE_ASSETS / "bottle.glb", size=(160, 90), msaa=0)
    yield v
    v.close()


def test_tone_mapping_keys_change_the_picture_and_neutral_is_the_render(bottle):
    """U: ACES and none differ from neutral; back on neutral the live frame equals a
    fresh offline Stage's (whose pixels this change left as they were)."""
    from engine.render.stage import Stage
    from engine.scene import scene_for_asset

    neutral = bottle.grab()
    frames = {}
    for _ in range(2):
        bottle.send(parse_script("U")[0])
        frames[bottle.state.tone_mapping] = bottle.grab()
    assert set(frames) == {"aces", "none"}
    assert _differs(frames["aces"], neutral) and _differs(frames["none"], neutral)
    assert _differs(frames["aces"], frames["none"])
    bottle.send(parse_script("U")[0])
    back = bottle.grab()
    assert bottle.state.tone_mapping == "neutral"
    scene = scene_for_asset(SAMPLE_ASSETS / "bottle.glb")
    scene.camera.move = "static"
    with Stage(scene, 160, 90, msaa=0) as stage:
        fresh = stage.capture(0.0)
    assert np.array_equal(back, neutral) and np.abs(back.astype(int) - fresh).max() <= 2


def test_environment_keys_relight_the_asset(bottle):
    base = bottle.grab()
    bottle.send(parse_script("V")[0])
    lit = bottle.grab()
    assert bottle.ctx.environments[bottle.state.environment] == "studio.exr"
    assert _differs(lit, base)
    for _ in range(6):
        bottle.send(parse_script("]")[0])
    turned = bottle.grab()
    assert bottle.state.environment_rotation == pytest.approx(90.0)
    assert _differs(turned, lit)
    bottle.send(*parse_script("Shift+V, [, [, [, [, [, ["))
    assert np.array_equal(bottle.grab(), base)


def test_grid_and_axes_draw_lines_and_a_red_x_axis(bottle):
    base = bottle.grab()
    bottle.send(parse_script("X")[0])
    grid = bottle.grab()
    bottle.send(parse_script("X")[0])

    changed = np.abs(grid[..., :3].astype(int) - base[..., :3]).max(axis=-1) > 8
    r, g, b = (grid[..., i].astype(int) for i in range(3))
    assert changed[45:].sum() > 150  # grid lines on the ground, below the horizon
    assert (changed & (r > g + 80) & (r > b + 80)).sum() > 10  # the red +X axis
    assert np.array_equal(bottle.grab(), base)  # off again: gone


def test_transparent_background_shows_a_checkerboard_but_screenshots_keep_alpha(bottle):
    from engine.viewer.app import CHECKER_PX

    bottle.state = replace(bottle.state, background=len(BACKGROUNDS) - 1)
    window = bottle.grab(hud=True)
    render = bottle.grab()
    bottle.state = replace(bottle.state, background=0)
    corner = window[:2 * CHECKER_PX, :2 * CHECKER_PX, :3].astype(int)
    # two greys in squares of CHECKER_PX (top row first; squares from the bottom edge)
    tones = sorted({int(v) for v in np.unique(corner[..., 0])})
    assert tones[-1] - tones[0] > 30 and window[..., 3].min() == 255
    squares = corner[::CHECKER_PX // 2, ::CHECKER_PX // 2, 0]
    assert (np.abs(np.diff(squares, axis=1)) > 30).any()
    assert render[0, 0, 3] == 0 and render[..., 3].max() == 255  # alpha, as rendered


def test_dimensions_overlay_and_box_in_metres(tmp_path):
    from engine.viewer.app import Viewer

    glb = _box_glb(tmp_path / "box.glb", (0.2, 0.3, 0.25))
    with Viewer(glb, size=(200, 120), msaa=0) as v:
        base = v.grab()
        v.send(parse_script("D")[0])
        with_box = v.grab()
        v.grab(hud=True)
        entry = v.hud._texts["dimensions"][0]
        assert entry.get_text() == "size W x H x D: 0.200 x 0.300 x 0.250 m"
        assert "dimensions" in v.hud.shown()

    def orange(frame):
        r, g, b = (frame[..., i].astype(int) for i in range(3))
        return int(((r > 200) & (g > 120) & (b < 90)).sum())

    assert orange(with_box) > 60 and orange(base) == 0


def test_orthographic_keeps_the_framing_with_a_parallel_projection(tmp_path):
    """5: in the front view a box's front face is nearer than the target, so perspective
    draws it wider than an orthographic frame as tall as the perspective one at the
    target, where the box is exactly size / frame pixels wide."""
    from panda3d.core import OrthographicLens

    from engine.viewer.app import Viewer

    glb = _box_glb(tmp_path / "box.glb", (0.2, 0.3, 0.2))
    w, h = 240, 160
    with Viewer(glb, size=(w, h), msaa=0) as v:
        v.send(*parse_script("G, 1"))  # no ground shadow; the front view, level
        perspective = v.grab()
        v.send(parse_script("5")[0])
        ortho = v.grab()
        lens = v.stage.lens
        assert isinstance(lens, OrthographicLens)
        m = lens.get_projection_mat()
        assert (m.get_col(3)[0], m.get_col(3)[1], m.get_col(3)[3]) == (0, 0, 1)  # no w divide
        pose = v.stage.camera_override
        distance = v.state.orbit.distance
        film_h = 2 * distance * np.tan(np.radians(v.state.orbit.fov) / 2)
        assert lens.get_film_size()[1] == pytest.approx(film_h, rel=1e-4)
        assert np.linalg.norm(pose.eye - pose.target) >= distance  # stood back, same view
        v.send(parse_script("5")[0])
        assert np.array_equal(v.grab(), perspective)

    def width(frame):
        background = frame[2, 2, :3].astype(int)
        cols = (np.abs(frame[..., :3].astype(int) - background).max(axis=-1) > 12).any(axis=0)
        return int(cols.sum())

    expected = 0.2 / (film_h * w / h) * w
    assert abs(width(ortho) - expected) <= 2.0
    assert width(perspective) > width(ortho) + 2


def test_page_down_opens_the_next_file_and_keeps_the_look(tmp_path):
    from engine.viewer.app import Viewer

    a = _box_glb(tmp_path / "a.glb", (0.2, 0.3, 0.2))
    b = _box_glb(tmp_path / "b.glb", (0.6, 0.1, 0.4))
    (tmp_path / "c.toml").write_text("[asset]\nsource = 'missing.glb'\n")
    with Viewer(a, size=(96, 64), msaa=0) as v:
        v.send(*parse_script("M, U, Left"))
        v.grab()
        assert not v.state.follow
        v.send(parse_script("PageDown")[0])
        v.grab()
        assert v.source == b and v.error is None
        assert v.ctx.size == pytest.approx((0.6, 0.1, 0.4))
        assert v.state.follow and v.state.mode == "base-color"  # camera fresh, look kept
        assert v.state.tone_mapping == "aces" and v.state.message == "opened b.glb"
        v.send(parse_script("PageDown")[0])  # a broken scene: said, last good one shown
        frame = v.grab()
        assert v.source.name == "c.toml" and "c.toml" in v.error and "missing.glb" in v.error
        assert v.stage is not None and frame[..., :3].std() > 3
        v.send(parse_script("PageDown")[0])  # wraps round to the first
        v.grab()
        assert v.source == a and v.error is None and v.ctx.size == pytest.approx((0.2, 0.3, 0.2))
        v.send(parse_script("PageUp")[0])
        v.grab()
        assert v.source.name == "c.toml"


# --- drag and drop ---------------------------------------------------------------------------


def test_uri_lists_give_local_paths():
    from engine.viewer.xdnd import uri_list_paths

    text = ("# from a file manager\r\nfile:///tmp/a%20b.glb\r\nfile://localhost/srv/x.hdr\r\n"
            "https://example.com/y.glb\r\nfile://otherhost/z.glb\r\n\x00")
    assert uri_list_paths(text.encode()) == [Path("/tmp/a b.glb"), Path("/srv/x.hdr")]


def test_dropped_files_open_or_light_the_stage(tmp_path):
    """Viewer.drop (what a drop on the window calls): an .exr lights the stage and joins
    V's list; an asset opens; anything else is refused with a message."""
    import shutil

    from engine.viewer.app import Viewer

    a = _box_glb(tmp_path / "a.glb")
    other = tmp_path / "sub"
    other.mkdir()
    b = _box_glb(other / "b.glb", (0.4, 0.2, 0.2))
    exr = shutil.copy(BUNDLED, tmp_path / "sub" / "dropped.exr")
    with Viewer(a, size=(96, 64), msaa=0) as v:
        base = v.grab()
        v.drop([Path(exr)])
        lit = v.grab()
        assert v.ctx.environments[v.state.environment] == "dropped.exr" and _differs(lit, base)
        v.drop([tmp_path / "notes.txt"])
        v.grab()
        assert "cannot show notes.txt" in v.state.message and v.source == a
        v.drop([b])
        v.grab()
        assert v.source == b and "dropped.exr" in v.ctx.environments


DROP_TARGET_SCRIPT = """
import sys, time
import engine.render.stage
engine.render.stage.SHADOW_MAP_SIZE = 512
from engine.viewer.app import Viewer

v = Viewer(sys.argv[1], size=(160, 90), offscreen=False, msaa=0)
v.step()
print("xid", v.output.get_window_handle().get_int_handle(), flush=True)
end = time.time() + 60
while time.time() < end and v.source.name != sys.argv[2]:
    v.step()
    time.sleep(0.01)
print("source", v.source.name, "drops", v.input.drops is not None, flush=True)
from direct.showbase.MessengerGlobal import messenger
for button in ("page_down", "u", "5", "x", "d", "]", "v"):  # as Panda names them
    messenger.send("maquette-down", [button])
v.step()
s = v.state
print("keys", s.tone_mapping, s.orthographic, s.guides, s.dimensions, s.environment_rotation,
      s.environment, v.source.name, flush=True)
v.close()
"""


def _xdnd_source_drops(display_name: str, target_xid: int, uris: bytes) -> dict:
    """Play a file manager's part of XDND v5 (as GTK does): find the target's proxy and
    XdndAware, Enter / Position, wait for XdndStatus, Drop, hand over the URIs on
    request, wait for XdndFinished. Returns what the target answered."""
    from Xlib import X, Xatom, display
    from Xlib.protocol import event

    d = display.Display(display_name)
    atom = d.intern_atom
    root = d.screen().root
    source = root.create_window(0, 0, 1, 1, 0, X.CopyFromParent, X.InputOnly,
                                X.CopyFromParent)
    source.set_selection_owner(atom("XdndSelection"), X.CurrentTime)
    target = d.create_resource_object("window", target_xid)
    proxy_prop = target.get_full_property(atom("XdndProxy"), Xatom.WINDOW)
    dest = d.create_resource_object("window", proxy_prop.value[0]) if proxy_prop else target
    aware = dest.get_full_property(atom("XdndAware"), Xatom.ATOM)
    answers = {"aware": list(aware.value) if aware else None}

    def send(kind, data):
        ev = event.ClientMessage(window=target, client_type=atom(kind), data=(32, data))
        dest.send_event(ev, event_mask=0)
        d.flush()

    def wait(kind_or_type, seconds=20.0):
        import time

        end = time.time() + seconds
        while time.time() < end:
            while d.pending_events():
                ev = d.next_event()
                if ev.type == X.ClientMessage and ev.client_type == atom(kind_or_type):
                    return ev
                if ev.type == X.SelectionRequest and kind_or_type == "SelectionRequest":
                    return ev
            time.sleep(0.01)
        raise AssertionError(f"no {kind_or_type} from the viewer")

    send("XdndEnter", [source.id, 5 << 24, atom("text/uri-list"), 0, 0])
    send("XdndPosition", [source.id, 0, (40 << 16) | 30, X.CurrentTime, atom("XdndActionCopy")])
    status = wait("XdndStatus")
    answers["status"] = list(status.data[1])
    send("XdndDrop", [source.id, 0, X.CurrentTime, 0, 0])
    request = wait("SelectionRequest")
    request.requestor.change_property(request.property, request.target, 8, uris)
    notify = event.SelectionNotify(time=request.time, requestor=request.requestor,
                                   selection=request.selection, target=request.target,
                                   property=request.property)
    request.requestor.send_event(notify)
    d.flush()
    finished = wait("XdndFinished")
    answers["finished"] = list(finished.data[1])
    answers["copy"] = atom("XdndActionCopy")
    d.close()
    return answers


def test_a_file_dropped_on_a_real_window_opens_it(tmp_path):
    """XDND on a real X11 window (Xvfb): a drop of an asset from a drag source opens it;
    then the look-dev keys as Panda names them (PageDown wraps round to the first file)."""
    import os
    import shutil
    import subprocess
    import sys
    import time

    pytest.importorskip("Xlib")
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): no real-window check")
    display = ":96"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "640x480x24", "-nolisten",
                               "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        a = _box_glb(tmp_path / "a.glb")
        b = _box_glb(tmp_path / "dropped asset.glb", (0.4, 0.2, 0.2))
        env = dict(os.environ, DISPLAY=display)
        viewer = subprocess.Popen([sys.executable, "-c", DROP_TARGET_SCRIPT, str(a), b.name],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=ROOT)
        line = ""
        while not line.startswith("xid") and viewer.poll() is None:
            line = viewer.stdout.readline()  # (Panda's own notices come first)
        assert line.startswith("xid"), viewer.stderr.read()[-2000:]
        uri = b.resolve().as_uri().encode() + b"\r\n"
        answers = _xdnd_source_drops(display, int(line.split()[1]), uri)
        out, err = viewer.communicate(timeout=90)
    finally:
        server.terminate()
        server.wait()
    assert answers["aware"] == [5]
    assert answers["status"][1] & 1 and answers["status"][4] == answers["copy"]  # accepted
    assert answers["finished"][1] == 1 and answers["finished"][2] == answers["copy"]
    assert f"source {b.name} drops True" in out, err[-2000:]
    # the look-dev keys by the names Panda's ButtonThrower gives them
    assert f"keys aces True True True 15.0 1 {a.name}" in out, out[-2000:]


def test_a_scene_chooses_its_tone_mapping_and_the_viewer_starts_there(tmp_path):
    """[stage] tone_mapping: the render uses it, and the viewer shows the same curve
    (what you preview is what you render); U still cycles from there."""
    from engine.render.stage import Stage
    from engine.scene import load_scene
    from engine.viewer.app import Viewer

    path = tmp_path / "aces.toml"
    path.write_text(f"[asset]\nsource = '{SAMPLE_ASSETS / 'bottle.glb'}'\n[camera]\n"
                    "move = 'static'\n[stage]\ntone_mapping = 'aces'\n")
    scene = load_scene(path)
    assert scene.stage.tone_mapping == "aces"
    with Stage(scene, 160, 90, msaa=0) as stage:
        aces = stage.capture(0.0)
    scene.stage.tone_mapping = "neutral"
    with Stage(scene, 160, 90, msaa=0) as stage:
        neutral = stage.capture(0.0)
    assert _differs(aces, neutral)
    with Viewer(path, size=(160, 90), msaa=0, fixed_dt=0.0) as v:
        v.state = replace(v.state, playing=False)
        live = v.grab()
        assert v.state.tone_mapping == "aces"
        assert np.abs(live.astype(int) - aces).max() <= 2
        v.send(parse_script("U")[0])
        v.grab()
        assert v.state.tone_mapping == "none"
    bad = tmp_path / "bad.toml"
    bad.write_text(f"[asset]\nsource = '{SAMPLE_ASSETS / 'bottle.glb'}'\n[stage]\n"
                   "tone_mapping = 'filmic'\n")
    with pytest.raises(Exception, match="tone_mapping"):
        load_scene(bad)


def test_the_web_page_uses_the_scenes_tone_mapping(tmp_path):
    """model-viewer has the same three curves by the same names (aces: three.js's ACES
    filmic, the fit the stage uses)."""
    from engine.scene import scene_for_asset
    from engine.web.page import WebOptions, build_site

    scene = scene_for_asset(SAMPLE_ASSETS / "bottle.glb")
    scene.stage.tone_mapping = "aces"
    build_site(scene, tmp_path / "site", WebOptions(poster_long_side=96), log=lambda m: None)
    assert 'tone-mapping="aces"' in (tmp_path / "site" / "index.html").read_text()
