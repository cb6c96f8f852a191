"""Scene files: defaults, and every error path names the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

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
