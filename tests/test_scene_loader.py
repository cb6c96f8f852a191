"""Scene files: defaults, and every error path names the file, the key and what was expected."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from engine.scene import SceneError, load_scene, scene_from_dict

from .conftest import ROOT, SAMPLE_ASSETS

BOTTLE = SAMPLE_ASSETS / "bottle.glb"


def write(tmp_path: Path, text: str, name: str = "scene.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def minimal(tmp_path: Path, extra: str = "") -> Path:
    return write(tmp_path, f'[asset]\nsource = "{BOTTLE}"\n{extra}')


def test_minimal_scene_gets_nice_defaults(tmp_path):
    scene = load_scene(minimal(tmp_path))
    assert scene.asset.source == BOTTLE.resolve()
    assert scene.stage.lights == "studio" and scene.stage.ground
    assert scene.camera.move == "orbit" and scene.camera.distance is None
    assert (scene.output.width, scene.output.height) == (1920, 1080)
    assert scene.output.frame_count == 180
    assert scene.output.file == tmp_path / "out" / "clip.mp4"


def test_relative_source_resolves_against_scene_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "thing.glb").write_bytes(BOTTLE.read_bytes())
    scene = load_scene(write(tmp_path, '[asset]\nsource = "a/thing.glb"\n'))
    assert scene.asset.source == (tmp_path / "a" / "thing.glb").resolve()


@pytest.mark.parametrize("aspect,height,size", [("16:9", 720, (1280, 720)),
                                                ("9:16", 1920, (1080, 1920)),
                                                ("1:1", 1080, (1080, 1080)),
                                                ("4:5", 1350, (1080, 1350)),
                                                ("16:9", 101, (180, 101))])
def test_aspect_sizes_are_even_widths(tmp_path, aspect, height, size):
    # PNG frames: an odd height is fine there (.mp4 needs an even one)
    scene = load_scene(minimal(tmp_path, f'[output]\naspect = "{aspect}"\nheight = {height}\n'
                                         'file = "frames/"\n'))
    assert (scene.output.width, scene.output.height) == size


def test_all_example_scenes_load():
    scenes = sorted((ROOT / "scenes").glob("*.toml"))
    assert len(scenes) >= 5
    for path in scenes:
        if path.name.startswith("campaign-"):  # campaign files: engine.campaign
            from engine.campaign import load_campaign

            load_campaign(path)
            continue
        load_scene(path)


def test_gradient_and_transparent_backgrounds(tmp_path):
    scene = load_scene(minimal(tmp_path, '[stage]\nbackground = ["#ffffff", "#000"]\n'))
    assert scene.stage.background.top == (1.0, 1.0, 1.0)
    assert scene.stage.background.bottom == (0.0, 0.0, 0.0)
    scene = load_scene(minimal(tmp_path, '[stage]\nbackground = "transparent"\n'
                                         '[output]\nfile = "x.mov"\n'))
    assert scene.stage.background.transparent


def test_keyframes_and_motions_parse(tmp_path):
    scene = load_scene(minimal(tmp_path, """
[[motion]]
type = "float"
amplitude = 0.02
period = 3.0
[[keyframes]]
target = "camera"
property = "fov"
keys = [[0, 35], [2, 20]]
interpolation = "cubic"
ease = "in-out"
"""))
    assert scene.motions[0].type == "float" and scene.motions[0].period == 3.0
    assert scene.keyframes[0].times == [0.0, 2.0] and scene.keyframes[0].values == [35.0, 20.0]


ERRORS = [
    # (extra TOML, key named in the message, fragment of what was expected)
    ('[stage]\nlights = "disco"\n', "[stage] lights", "studio, softbox"),
    ('[stage]\nlihgts = "studio"\n', "[stage] lihgts", "did you mean 'lights'"),
    ('[stag]\nlights = "studio"\n', "[stag]", "did you mean 'stage'"),
    ('[stage]\nbackground = "blue"\n', "[stage] background", "#1e1f24"),
    ('[stage]\nbackground = ["#fff"]\n', "[stage] background", "gradient"),
    ('[stage]\nground = "yes"\n', "[stage] ground", "true or false"),
    ('[stage]\nexposure = 99\n', "[stage] exposure", "from -10 to 10"),
    ('[camera]\nfov = "wide"\n', "[camera] fov", "expected a number"),
    ('[camera]\nfov = 200\n', "[camera] fov", "from 5 to 120"),
    ('[camera]\nmove = "zoom"\n', "[camera] move", "orbit"),
    ('[camera]\ndistance = "close"\n', "[camera] distance", "fit"),
    ('[camera]\nturns = true\n', "[camera] turns", "expected a number"),
    ('[output]\naspect = "4:3"\n', "[output] aspect", "16:9"),
    ('[output]\nheight = 10.5\n', "[output] height", "whole number"),
    ('[output]\nfps = 0\n', "[output] fps", "from 1 to 240"),
    ('[output]\nfile = "clip.avi"\n', "[output] file", ".mp4"),
    ('[output]\nmsaa = 3\n', "[output] msaa", "0, 2, 4 or 8"),
    ('[stage]\nbackground = "transparent"\n', "[output] file", "transparency"),
    ('[[motion]]\ntype = "jump"\n', "[[motion]] #1 type", "spin"),
    ('[[motion]]\nperiod = 2\n', "[[motion]] #1 type", "missing required key"),
    ('[[motion]]\ntype = "spin"\nspeed = 2\n', "[[motion]] #1 speed", "unknown key"),
    ('[[keyframes]]\ntarget = "light"\nproperty = "scale"\nkeys = [[0, 1]]\n',
     "[[keyframes]] #1 target", "asset, camera"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "fov"\nkeys = [[0, 1]]\n',
     "[[keyframes]] #1 property", "position.x"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "scale"\nkeys = [[0, 1], [0, 2]]\n',
     "[[keyframes]] #1 keys[1]", "times must increase"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "scale"\nkeys = [[0, 1, 2]]\n',
     "[[keyframes]] #1 keys[0]", "[time, value]"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "scale"\nkeys = []\n',
     "[[keyframes]] #1 keys", "list of [time, value]"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "scale"\nkeys = [[0, 1]]\n'
     'interpolation = "bezier"\n', "[[keyframes]] #1 interpolation", "step, linear, cubic"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "scale"\nkeys = [[0, 1]]\nease = "fast"\n',
     "[[keyframes]] #1 ease", "in-out"),
]


@pytest.mark.parametrize("extra,key,expected", ERRORS)
def test_errors_name_file_key_and_expectation(tmp_path, extra, key, expected):
    path = minimal(tmp_path, extra)
    with pytest.raises(SceneError) as info:
        load_scene(path)
    message = str(info.value)
    assert str(path.resolve()) in message
    assert key in message
    assert expected in message


@pytest.mark.parametrize("text,expected", [
    ("[stage]\nlights = \"studio\"\n", "[asset] source"),
    ('[asset]\nsource = "missing.glb"\n', "file not found"),
    ('[asset]\nsource = "thing.fbx"\n', "unsupported file type '.fbx'"),
    ('[asset]\nheight = 1\n', "[asset] source: missing required key"),
    ("[asset\nsource = 1", "invalid TOML"),
])
def test_asset_errors(tmp_path, text, expected):
    with pytest.raises(SceneError, match=None) as info:
        load_scene(write(tmp_path, text))
    assert expected in str(info.value)


def test_missing_binary_and_huge_files(tmp_path):
    with pytest.raises(SceneError, match="scene file not found"):
        load_scene(tmp_path / "nope.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SceneError, match="not UTF-8"):
        load_scene(binary)
    huge = tmp_path / "huge.toml"
    huge.write_text("# " + "x" * (2 << 20))
    with pytest.raises(SceneError, match="larger than"):
        load_scene(huge)


def test_scene_from_dict_without_file_names_scene():
    with pytest.raises(SceneError, match=r"<scene>: \[camera\] fov"):
        scene_from_dict({"asset": {"source": str(BOTTLE)}, "camera": {"fov": -1}})


# --- issue 12: one settings schema; what the camera/animation code refuses is refused at load


REFUSED_AT_LOAD = [
    # (extra TOML, key named in the message, fragment of the reason)
    ('[camera]\nmove = "push-in"\nstrength = 1.0\n', "[camera] strength", "not including 1"),
    ('[[motion]]\ntype = "drop"\namplitude = -1\n', "[[motion]] #1 amplitude", ">= 0 for drop"),
    ('[[motion]]\ntype = "slide"\namplitude = -0.5\n', "[[motion]] #1 amplitude", ">= 0"),
    ('[[keyframes]]\ntarget = "camera"\nproperty = "fov"\nkeys = [[0, 35], [1, 0]]\n',
     "[[keyframes]] #1 keys[1]", "camera fov"),
    ('[[keyframes]]\ntarget = "camera"\nproperty = "fov"\nkeys = [[0, 179]]\n',
     "[[keyframes]] #1 keys[0]", "from 5 to 120"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "scale"\nkeys = [[0, 1], [2, -0.5]]\n',
     "[[keyframes]] #1 keys[1]", "asset scale"),
    ('[output]\nheight = 1081\n', "[output] height", "even height"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "position.x"\nkeys = [[0, 3e38]]\n',
     "[[keyframes]] #1 keys[0]", "from -100000 to 100000"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "scale"\nkeys = [[-1, 1]]\n',
     "[[keyframes]] #1 keys[0]", "time"),
    # the curve between the keys leaves the range: Catmull-Rom overshoot, an overshooting ease
    ('[[keyframes]]\ntarget = "asset"\nproperty = "scale"\nkeys = [[0, 0], [1, 0], [2, 10]]\n'
     'interpolation = "cubic"\n', "[[keyframes]] #1 keys", "between the keys"),
    ('[[keyframes]]\ntarget = "asset"\nproperty = "scale"\nkeys = [[0, 1], [1, 0]]\n'
     'ease = "back-out"\n', "[[keyframes]] #1 keys", "between the keys"),
    ('[[keyframes]]\ntarget = "camera"\nproperty = "fov"\nkeys = [[0, 30]]\n'
     '[[keyframes]]\ntarget = "camera"\nproperty = "fov"\nkeys = [[0, 40]]\n',
     "[[keyframes]] #2 property", "second camera fov track"),
    ('[[motion]]\ntype = "spin"\nspin = 2\n', "[[motion]] #1 spin", "valid keys: type, "),
    ('[motoin]\ntype = "spin"\n', "[motoin]", "did you mean 'motion'"),
]


@pytest.mark.parametrize("extra,key,expected", REFUSED_AT_LOAD)
def test_refused_at_load_naming_file_and_key(tmp_path, extra, key, expected):
    path = minimal(tmp_path, extra)
    with pytest.raises(SceneError) as info:
        load_scene(path)
    message = str(info.value)
    assert message.startswith(f"{path.resolve()}: {key}:"), message
    assert expected in message


def test_odd_height_is_fine_for_png_frames_and_other_formats(tmp_path):
    for file in ("frames/", "clip.webm", "clip.mov", "clip.gif"):
        scene = load_scene(minimal(tmp_path, f'[output]\nheight = 101\nfile = "{file}"\n'))
        assert scene.output.height == 101


def _number_settings():
    """(section, key, Setting) for every number a scene file may give, from the schema."""
    from engine.animation.settings import settings_of
    from engine.scene.model import SECTIONS

    for section, cls in SECTIONS.items():
        for key, (_, spec) in settings_of(cls).items():
            if spec.kind in ("number", "integer"):
                yield section, key, spec


def _table(section: str, key: str, value: str, motion: str = "drop") -> str:
    if section == "asset":  # minimal() ends inside [asset]
        return f"{key} = {value}\n"
    if section == "motion":
        return f'[[motion]]\ntype = "{motion}"\n{key} = {value}\n'
    return f"[{section}]\n{key} = {value}\n"


NUMBER_SETTINGS = [(s, k) for s, k, _ in _number_settings()]


@pytest.mark.parametrize("section,key", NUMBER_SETTINGS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", "true", '"1"'])
def test_every_number_refuses_nan_inf_and_wrong_types(tmp_path, section, key, value):
    path = minimal(tmp_path, _table(section, key, value))
    with pytest.raises(SceneError) as info:
        load_scene(path)
    where = f"[[motion]] #1 {key}" if section == "motion" else f"[{section}] {key}"
    assert str(info.value).startswith(f"{path.resolve()}: {where}: expected ")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_keyframe_values_and_times_refuse_nan_and_inf(tmp_path, value):
    for keys in (f"[[0, {value}]]", f"[[{value}, 1]]"):
        path = minimal(tmp_path, '[[keyframes]]\ntarget = "camera"\nproperty = "distance"\n'
                                 f"keys = {keys}\n")
        with pytest.raises(SceneError, match=r"\[\[keyframes\]\] #1 keys\[0\]"):
            load_scene(path)


def test_what_loads_is_what_the_timeline_can_evaluate(tmp_path):
    """Every number setting at both ends of its declared range loads, and the scene's
    timeline (the camera and motion code) evaluates it to finite poses: the loader and
    the consumers agree on every range."""
    from engine.animation import MOTION_TYPES
    from engine.animation.motion import NON_NEGATIVE_AMPLITUDE
    from engine.scene.timeline import Bounds, Timeline

    bounds = Bounds(np.array([-0.1, 0.0, -0.1]), np.array([0.1, 0.3, 0.1]))
    checked = 0
    for section, key, spec in _number_settings():
        ends = list(spec.values) or [spec.lo, spec.hi]
        for end, motion in itertools.product(ends, MOTION_TYPES if section == "motion"
                                             else ["-"]):
            value = end
            if end == spec.hi and spec.hi_open:
                value = end - 1e-6
            if end == spec.lo and spec.lo_open:
                value = end + 1e-6
            if key == "amplitude" and motion in NON_NEGATIVE_AMPLITUDE and value < 0:
                continue  # the one declared exception (test_refused_at_load_...)
            text = _table(section, key, f"{value!r}", motion)
            if section == "output" and key == "duration":
                text += "fps = 1\n"  # 3600 s at 30 fps is over the frame limit
            elif section == "output" and key == "height":
                text += 'file = "frames/"\n'
            scene = load_scene(minimal(tmp_path, text))
            timeline = Timeline(scene, bounds)
            for t in (0.0, 0.5 * scene.output.duration, scene.output.duration):
                frame = timeline.at(t)
                assert np.all(np.isfinite(frame.asset_matrix)), (section, key, value)
                assert np.all(np.isfinite(frame.camera.eye)), (section, key, value)
            checked += 1
    assert checked >= 2 * 20


def test_camera_and_motion_code_check_the_declared_rules():
    """CameraRig and Motion (used directly by tools) refuse what the loader refuses, with the
    same words, naming the field."""
    from engine.animation import CameraRig, Motion, SettingError

    for kwargs, key in [({"strength": 1.0}, "strength"), ({"fov": float("nan")}, "fov"),
                        ({"azimuth": float("inf")}, "azimuth"), ({"turns": 1e9}, "turns"),
                        ({"elevation": 90.0}, "elevation"), ({"distance": 0.0}, "distance")]:
        with pytest.raises(SettingError) as info:
            CameraRig(**kwargs)
        assert info.value.key == key
    for kwargs, key in [({"type": "drop", "amplitude": -1.0}, "amplitude"),
                        ({"type": "float", "period": float("nan")}, "period"),
                        ({"type": "spin", "start": float("inf")}, "start")]:
        with pytest.raises(SettingError) as info:
            Motion(**kwargs)
        assert info.value.key == key


def test_a_scene_edited_after_loading_is_reported_with_file_and_key(tmp_path):
    from engine.scene.timeline import Bounds, Timeline

    path = minimal(tmp_path, '[[motion]]\ntype = "drop"\n')
    scene = load_scene(path)
    scene.motions[0].amplitude = -2.0  # e.g. by a tool, after the load
    scene.camera.strength = 1.0
    bounds = Bounds(np.zeros(3), np.ones(3))
    with pytest.raises(SceneError, match=r"scene\.toml: \[\[motion\]\] #1 amplitude: expected"):
        Timeline(scene, bounds)
    scene.motions.clear()
    with pytest.raises(SceneError, match=r"scene\.toml: \[camera\] strength: expected"):
        Timeline(scene, bounds)


@pytest.mark.parametrize("t", [float("nan"), float("inf"), -1.0])
def test_timeline_refuses_a_time_that_is_not_on_the_clock(tmp_path, t):
    from engine.scene.timeline import Bounds, Timeline

    path = minimal(tmp_path)
    timeline = Timeline(load_scene(path), Bounds(np.zeros(3), np.ones(3)))
    with pytest.raises(SceneError, match=r"scene\.toml: time: expected seconds from 0"):
        timeline.at(t)


@pytest.mark.parametrize("nested", ["x = " + "[" * 3000 + "]" * 3000,
                                    "x = " + "{a = " * 3000 + "1" + "}" * 3000,
                                    '[stage]\nlights = "' + "[" * 5000 + '"\n' + "y = " +
                                    "[" * 40 + "]" * 40])
def test_deeply_nested_toml_is_a_short_error_naming_the_file(tmp_path, nested):
    path = write(tmp_path, f'[asset]\nsource = "{BOTTLE}"\n{nested}\n')
    with pytest.raises(SceneError) as info:
        load_scene(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "nested" in message and len(message) < 200


def test_brackets_inside_strings_and_comments_do_not_count_as_nesting(tmp_path):
    from engine.scene.loader import MAX_NESTING, nesting_depth

    text = ('a = "[[[[\\"[[[["  # [[[[[[[[\n'
            "b = '''[[[[\n[[[['''\n"
            'c = """{{{{\n\\"""{{{{"""\n'
            "d = [[1, 2], [3]]\n")
    assert nesting_depth(text) == 2
    load = minimal(tmp_path, "# " + "[" * (MAX_NESTING + 5) + "\n")
    load_scene(load)


def test_names_come_from_their_owners():
    """Preset names and suffixes are the owners' registries, not copies."""
    from engine.animation import CAMERA_MOVES, EASINGS, MOTION_TYPES
    from engine.animation.settings import settings_of
    from engine.render.environment import ENVIRONMENT_SUFFIXES
    from engine.render.writers import X264_PRESETS
    from engine.scene import LIGHT_PRESETS
    from engine.scene.lighting import PRESETS
    from engine.scene.model import KeyframeSpec, OutputSpec, StageSpec

    assert LIGHT_PRESETS == tuple(PRESETS)
    assert settings_of(StageSpec)["lights"][1].options() == tuple(PRESETS)
    assert settings_of(StageSpec)["environment"][1].options() == ENVIRONMENT_SUFFIXES
    assert settings_of(OutputSpec)["quality"][1].options() == X264_PRESETS
    assert settings_of(KeyframeSpec)["ease"][1].options() == tuple(EASINGS)
    from engine.animation import CameraRig, Motion

    assert settings_of(CameraRig)["move"][1].options() == CAMERA_MOVES
    assert settings_of(Motion)["type"][1].options() == MOTION_TYPES


def test_readme_scene_reference_is_generated_from_the_schema():
    import tomllib

    from tools.scene_reference import main, reference

    assert main(["--check"]) == 0, "run: python tools/scene_reference.py --write"
    block = reference().removeprefix("```toml\n").removesuffix("```\n")
    doc = tomllib.loads(block)  # the reference is a valid scene, every key once
    doc["asset"]["source"] = str(BOTTLE)
    del doc["stage"]["environment"]
    doc["output"]["file"] = "clip.mp4"
    scene = scene_from_dict(doc, None)
    assert scene.keyframes[0].values == [0.0, 180.0, 360.0]


def test_cli_reports_schema_errors_with_file_and_key_exit_2(tmp_path):
    """Through the real command line: refused at load (nothing rendered), and a still at a
    time that is not on the clock names the time, exit 2 (not a traceback)."""
    import subprocess
    import sys

    def maquette(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                              text=True, timeout=600, cwd=ROOT)

    odd = minimal(tmp_path, '[output]\nheight = 1081\nfile = "x.mp4"\n')
    result = maquette("render", str(odd))
    assert result.returncode == 2, result.stderr
    assert f"{odd.resolve()}: [output] height: H.264 .mp4" in result.stderr
    assert not (tmp_path / "x.mp4").exists()

    strong = minimal(tmp_path, '[camera]\nmove = "push-in"\nstrength = 1.0\n')
    result = maquette("still", str(strong), "-o", str(tmp_path / "s.png"))
    assert result.returncode == 2 and "[camera] strength" in result.stderr, result.stderr

    small = minimal(tmp_path, "[output]\nheight = 32\nmsaa = 0\n")
    result = maquette("still", str(small), "--at", "nan", "-o", str(tmp_path / "t.png"))
    assert result.returncode == 2, result.stderr
    assert "--at" in result.stderr and "nan" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "t.png").exists()


def test_an_output_given_instead_of_the_scenes_is_checked_against_its_keys(tmp_path):
    from engine.scene.loader import check_output_file

    scene = load_scene(minimal(tmp_path, '[output]\nheight = 1081\nfile = "x.mov"\n'))
    check_output_file(scene, tmp_path / "frames/")
    with pytest.raises(SceneError, match=r"scene\.toml: \[output\] height: .* even height, got "
                                         r"1081 \(for -o .*y\.mp4\)"):
        check_output_file(scene, tmp_path / "y.mp4")
    with pytest.raises(SceneError, match=r"scene\.toml: -o .*y\.avi: unsupported"):
        check_output_file(scene, tmp_path / "y.avi")


@pytest.mark.parametrize("lo,hi", [([0, 0, 0], [1, float("nan"), 1]),
                                   ([-3e38, 0, 0], [3e38, 1, 1]),
                                   ([0, 0, 0], [float("inf"), 1, 1])])
def test_timeline_refuses_asset_bounds_it_cannot_frame(tmp_path, lo, hi):
    """NaN or astronomically large bounds used to surface as 'eye must be 3 finite numbers'
    (or a Panda3D assertion) at render time, naming nothing."""
    from engine.scene.timeline import Bounds, Timeline

    path = minimal(tmp_path)
    with pytest.raises(SceneError, match=r"scene\.toml: \[asset\] source: .*bottle\.glb: the "
                                         r"asset's bounds"):
        Timeline(load_scene(path), Bounds(np.array(lo, float), np.array(hi, float)))


def test_a_keyframe_track_edited_after_loading_is_reported_with_file_and_key(tmp_path):
    from engine.scene.timeline import Bounds, Timeline

    path = minimal(tmp_path, '[[keyframes]]\ntarget = "asset"\nproperty = "scale"\n'
                             "keys = [[0, 1], [1, 2]]\n")
    scene = load_scene(path)
    scene.keyframes[0].times = [1.0, 0.5]
    with pytest.raises(SceneError, match=r"scene\.toml: \[\[keyframes\]\] #1: times must be "
                                         r"strictly increasing"):
        Timeline(scene, Bounds(np.zeros(3), np.ones(3)))
