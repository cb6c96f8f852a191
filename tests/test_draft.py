"""Draft and override flags of `render` and `still` (engine.scene.overrides): real renders
through the CLI, read back with ffprobe-style probing (engine.render.writers) and PIL."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from engine.errors import InputError
from engine.render.writers import probe_video, read_frames
from engine.scene import scene_for_asset
from engine.scene.overrides import DRAFT, Overrides, apply_overrides, draft_output

from .conftest import SAMPLE_ASSETS
from .test_cli import maquette, small_scene


def test_draft_output_names():
    assert draft_output("out/clip.mp4") == "out/clip.draft.mp4"
    assert draft_output("/a/b.c/shot.webm") == "/a/b.c/shot.draft.webm"
    assert draft_output("out/frames/") == "out/frames.draft/"


def test_draft_values_and_explicit_flags_win():
    scene = scene_for_asset(SAMPLE_ASSETS / "robot.glb")
    assert (scene.output.height, scene.output.fps, scene.output.frame_count) == (1080, 30, 180)
    draft = apply_overrides(scene, Overrides(draft=True))
    assert (draft.output.width, draft.output.height) == (640, 360)
    assert (draft.output.fps, draft.output.msaa) == (DRAFT["fps"], 0)
    assert draft.output.frame_count == 72  # a bare asset's draft: 6 s at 12 fps, not 180
    mixed = apply_overrides(scene, Overrides(draft=True, height=540, msaa=2))
    assert (mixed.output.height, mixed.output.fps, mixed.output.msaa) == (540, 12, 2)
    assert scene.output.height == 1080  # the scene itself is not changed


@pytest.mark.parametrize("overrides, flag", [
    (Overrides(height=361), "--height 361"),  # .mp4 needs an even height
    (Overrides(fps=240, duration=3600), "--fps and --duration"),  # too many frames
    (Overrides(frames=500), "--frames 500"),  # beyond the shot's 180
    (Overrides(msaa=3), "--msaa"),
])
def test_apply_overrides_refuses_naming_the_flag(overrides, flag):
    with pytest.raises(InputError, match=flag):
        apply_overrides(scene_for_asset(SAMPLE_ASSETS / "robot.glb"), overrides)


def test_render_flags_give_the_requested_size_and_frame_count(tmp_path):
    out = tmp_path / "flags.mp4"
    result = maquette("render", str(small_scene(tmp_path)), "-o", str(out), "-q",
                      "--height", "48", "--fps", "6", "--duration", "1.5")
    assert result.returncode == 0, result.stderr
    info = probe_video(out)
    assert (info["width"], info["height"], info["frames"]) == (86, 48, 9)
    assert info["fps"] == pytest.approx(6)


def test_draft_without_output_writes_beside_the_scenes_own(tmp_path):
    scene = small_scene(tmp_path)  # out/clip.mp4, 64 px, 8 fps, 0.5 s
    own = tmp_path / "out" / "clip.mp4"
    own.parent.mkdir()
    own.write_bytes(b"the approved deliverable")
    result = maquette("render", str(scene), "-q", "--draft")
    assert result.returncode == 0, result.stderr
    assert own.read_bytes() == b"the approved deliverable"
    draft = tmp_path / "out" / "clip.draft.mp4"
    assert f"wrote {draft}" in result.stdout
    info = probe_video(draft)
    assert (info["width"], info["height"], info["frames"]) == (640, 360, 6)  # 0.5 s x 12
    record = json.loads((tmp_path / "out" / "clip.draft.mp4.json").read_text())
    settings = record["settings"]["output"]  # the provenance records what was rendered
    assert (settings["width"], settings["height"], settings["fps"], settings["msaa"],
            settings["frame_count"]) == (640, 360, 12.0, 0, 6)
    # asked for by name, the scene's own output is written
    result = maquette("render", str(scene), "-q", "--height", "32", "-o", str(own))
    assert result.returncode == 0, result.stderr
    assert probe_video(own)["height"] == 32


def test_frames_renders_the_first_frames_of_the_same_shot(tmp_path):
    scene = small_scene(tmp_path, file="out/full/")  # 4 frames of a 0.5 s turntable
    full = maquette("render", str(scene), "-q", "--height", "32")
    assert full.returncode == 0, full.stderr
    part = maquette("render", str(scene), "-q", "--height", "32", "--frames", "2",
                    "-o", str(tmp_path / "part") + "/")
    assert part.returncode == 0, part.stderr
    whole = read_frames(tmp_path / "out" / "full.draft")
    first = read_frames(tmp_path / "part")
    assert len(whole) == 4 and len(first) == 2 and first.shape[1:3] == (32, 56)
    np.testing.assert_array_equal(first, whole[:2])  # same times: the shot keeps its timing
    too_many = maquette("render", str(scene), "-q", "--frames", "5")
    assert too_many.returncode == 2
    assert "--frames 5: the shot has only 4 frames" in too_many.stderr


def test_still_draft_and_height(tmp_path):
    out = tmp_path / "draft.png"
    result = maquette("still", str(small_scene(tmp_path)), "--draft", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (640, 360)
    result = maquette("still", str(SAMPLE_ASSETS / "mug.glb"), "--height", "90", "--msaa",
                      "0", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (160, 90)


@pytest.mark.parametrize("args, message", [
    (["--height", "5"], "argument --height: expected a whole number from 16 to 4320, got 5"),
    (["--height", "tall"], "argument --height: expected a number, got 'tall'"),
    (["--fps", "0"], "argument --fps: expected a number from 1 to 240, got 0"),
    (["--duration", "-1"], "argument --duration: expected a number from 0.01"),
    (["--frames", "2.5"], "argument --frames: expected a whole number of frames"),
    (["--msaa", "3"], "argument --msaa: expected 0, 2, 4 or 8, got 3"),
])
def test_bad_flag_values_are_refused_naming_the_flag(tmp_path, args, message):
    result = maquette("render", str(small_scene(tmp_path)), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()
