"""Hand-off to image-to-video tools: passes exact from the renderer, targets' tables,
the manifest's camera, `maquette handoff` and `[output] passes` on `maquette render`.

Real renders (Panda3D offscreen), real files (PNG, OpenEXR through the reference library,
H.264 through ffmpeg), checked against geometry computed here by hand."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.handoff import project, write_handoff
from engine.render.passes import DEPTH_CODES, depth_from_codes, read_exr, read_png16
from engine.render.writers import probe_video
from engine.scene import SceneError, scene_from_dict
from engine.scene.handoff import TARGETS, plan, targets_markdown

ROOT = Path(__file__).resolve().parents[1]
ROBOT = ROOT / "scenes" / "assets" / "robot.glb"
THICKNESS = 0.002  # metres: the test plane is a thin box


def plane_asset(tmp_path: Path, tilt_deg: float = 0.0) -> tuple[Path, np.ndarray, np.ndarray]:
    """A 1 m square plate facing +Z turned `tilt_deg` about +Y, centred at the origin.
    Returns (GLB, the front face's unit normal, a point on it), world = file frame."""
    import trimesh

    box = trimesh.creation.box(extents=[1.0, 1.0, THICKNESS])
    turn = trimesh.transformations.rotation_matrix(math.radians(tilt_deg), [0, 1, 0])
    box.apply_transform(turn)
    path = tmp_path / f"plate-{tilt_deg:g}.glb"
    box.export(path)
    normal = turn[:3, :3] @ np.array([0.0, 0.0, 1.0])
    return path, normal, normal * THICKNESS / 2


def plate_scene(tmp_path: Path, asset: Path, **output):
    return scene_from_dict({
        "asset": {"source": str(asset), "pivot": "center"},
        "camera": {"move": "push-in", "strength": 0.3, "elevation": 0, "distance": 3.0,
                   "fov": 30},
        "stage": {"background": "transparent", "ground": False},
        "output": {"file": str(tmp_path / "clip.webm"), "height": 90, "fps": 10,
                   "duration": 0.3, "msaa": 4, **output}}, None)


def pixel_rays(camera: dict, width: int, height: int):
    """Per pixel centre: the ray's origin (3,) and direction (H, W, 3) in the world, with
    the direction scaled so that its depth along the view axis is 1."""
    c2w = np.array(camera["camera_to_world"])
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    cv = np.linalg.solve(np.array(camera["K"]), np.stack([u, v, np.ones_like(u)], -1)
                         .reshape(-1, 3).T).T  # OpenCV camera, z = 1
    gl = cv * np.array([1.0, -1.0, -1.0])
    return c2w[:3, 3], (gl @ c2w[:3, :3].T).reshape(height, width, 3)


@pytest.fixture(scope="module")
def tilted(tmp_path_factory):
    """A hand-off of a plate turned 35° under a push-in (generic target, 3 frames)."""
    tmp = tmp_path_factory.mktemp("tilted")
    asset, normal, point = plane_asset(tmp, 35.0)
    scene = plate_scene(tmp, asset, passes=["depth", "normal", "mask"])
    result = write_handoff(scene, tmp / "out", "generic")
    return result, normal, point


def test_depth_is_exact_on_a_tilted_plane_in_exr_and_16_bit(tilted):
    result, normal, point = tilted
    folder, manifest = result.folder, result.manifest
    w, h = result.plan.width, result.plan.height
    near, far = manifest["depth_range_m"]
    assert 0 < near < far
    worst_exr = worst_png = 0.0
    for camera in manifest["frames"]:
        i = camera["index"]
        exr = read_exr(folder / f"depth/frame_{i:05d}.exr")
        z = exr["Z"]
        mask = np.asarray(Image.open(folder / f"mask/frame_{i:05d}.png"))
        inside = mask == 255
        inside[1:-1, 1:-1] &= (inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2]
                               & inside[1:-1, 2:])  # away from the edges
        assert inside.sum() > 500
        origin, ray = pixel_rays(camera, w, h)
        true_z = (normal @ (point - origin)) / (ray @ normal)  # depth: rays have z = 1
        worst_exr = max(worst_exr, float(np.abs(z[inside] - true_z[inside]).max()))
        assert np.all(np.isinf(z[mask == 0]))  # nothing drawn: +inf
        np.testing.assert_array_equal(np.round(exr["A"] * 255), mask)  # coverage too
        png = read_png16(folder / f"depth/frame_{i:05d}.png")
        back = depth_from_codes(np.round(png * 65535), near, far)
        # half a 16-bit step of inverse depth, in metres, at this depth (+ float noise)
        step = true_z[inside] ** 2 * (1 / near - 1 / far) / DEPTH_CODES
        assert np.all(np.abs(back[inside] - true_z[inside]) <= step * 0.5 + 1e-5)
        hit = np.isfinite(z)
        assert np.all(png[hit] > 0)  # the farthest surface too is not "nothing"
        worst_png = max(worst_png, float(np.abs(back[inside] - true_z[inside]).max()))
        assert np.all(png[mask == 0] == 0)
    assert worst_exr < 2e-5, worst_exr  # metres, on a plate about 2-3 m away


def test_depth_png_is_monotonic_in_true_distance(tilted):
    result, normal, point = tilted
    values, truths = [], []
    for camera in result.manifest["frames"]:
        i = camera["index"]
        png = read_png16(result.folder / f"depth/frame_{i:05d}.png")
        z = read_exr(result.folder / f"depth/frame_{i:05d}.exr")["Z"]
        origin, ray = pixel_rays(camera, result.plan.width, result.plan.height)
        true_z = (normal @ (point - origin)) / (ray @ normal)
        hit = np.isfinite(z)
        values.append(png[hit])
        truths.append(true_z[hit])
    values, truths = np.concatenate(values), np.concatenate(truths)
    order = np.argsort(truths)
    v, t = values[order], truths[order]
    assert t[-1] - t[0] > 0.3  # the plate spans depth (tilt) and the camera moves
    # nearer (by more than float noise) is never darker: the max of everything farther
    farther = np.maximum.accumulate(v[::-1])[::-1]
    later = np.searchsorted(t, t + 1e-4)
    ok = later >= len(v)
    ok[~ok] = v[~ok] >= farther[later[~ok]]
    assert ok.all()
    assert v[0] == pytest.approx(1.0, abs=1e-4)  # the shot's nearest surface is white


def test_normals_of_a_plane_facing_the_camera_and_its_corners_reproject(tmp_path):
    asset, _, _ = plane_asset(tmp_path, 0.0)
    scene = plate_scene(tmp_path, asset, passes=["normal", "mask"])
    result = write_handoff(scene, tmp_path / "out", "generic")
    for camera in result.manifest["frames"]:
        i = camera["index"]
        mask = np.asarray(Image.open(result.folder / f"mask/frame_{i:05d}.png"))
        normal = read_png16(result.folder / f"normal/frame_{i:05d}.png") * 2 - 1
        face = mask == 255
        np.testing.assert_allclose(normal[face], np.tile([0.0, 0.0, 1.0], (face.sum(), 1)),
                                   atol=1e-4)
        assert np.all(normal[mask == 0] == -1)  # stored 0: nothing
        # the plate's front corners, projected with the manifest's K and pose, bound
        # the rendered mask to within a pixel
        corners = [project(camera, (x, y, THICKNESS / 2)) for x in (-0.5, 0.5)
                   for y in (-0.5, 0.5)]
        us, vs = [c[0] for c in corners], [c[1] for c in corners]
        rows, cols = np.nonzero(mask > 127)
        assert cols.min() == pytest.approx(min(us), abs=1.0)
        assert cols.max() + 1 == pytest.approx(max(us), abs=1.0)
        assert rows.min() == pytest.approx(min(vs), abs=1.0)
        assert rows.max() + 1 == pytest.approx(max(vs), abs=1.0)
        centre = project(camera, (0.0, 0.0, THICKNESS / 2))
        distance = np.linalg.norm(np.array(camera["camera_to_world"])[:3, 3])
        assert centre[2] == pytest.approx(distance - THICKNESS / 2, abs=1e-9)


def test_mask_equals_the_beauty_alpha(tmp_path):
    scene = scene_from_dict({
        "asset": {"source": str(ROBOT)}, "camera": {"move": "orbit"},
        "stage": {"background": "transparent", "ground": False},
        "output": {"file": str(tmp_path / "clip.webm"), "height": 96, "fps": 8,
                   "duration": 0.5, "msaa": 4, "passes": ["mask"]}}, None)
    result = write_handoff(scene, tmp_path / "out", None)
    last = result.plan.frames - 1
    for still, i in (("first.png", 0), ("last.png", last)):
        alpha = np.asarray(Image.open(result.folder / still))[..., 3]
        mask = np.asarray(Image.open(result.folder / f"mask/frame_{i:05d}.png"))
        assert mask.shape == alpha.shape
        np.testing.assert_array_equal(mask, alpha)
        assert (mask == 255).sum() > 500 and (mask == 0).sum() > 500


def test_mask_equals_the_beauty_alpha_on_antialiased_edges():
    """With multisampling resolving (coverage 0.25, 0.5, 0.75 at the edges), the mask is
    the beauty's alpha to the bit: its 8 bits come from the driver as the beauty's do
    (numpy's rounding made 128 of 0.5 where the driver writes 127). The Stage does not
    turn multisampling on by itself (it needs AntialiasAttrib on the scene): set here."""
    from panda3d.core import AntialiasAttrib

    from engine.render.passes import PassBuffers
    from engine.render.stage import Stage

    scene = scene_from_dict({
        "asset": {"source": str(ROBOT)},
        "stage": {"background": "transparent", "ground": False},
        "output": {"file": "/tmp/unused.webm", "height": 96, "msaa": 4}}, None)
    with Stage(scene, 170, 96) as stage:
        stage.root.set_antialias(AntialiasAttrib.M_multisample)
        buffers = PassBuffers(stage, ["mask"])
        try:
            for t in (0.0, 0.3):
                alpha = stage.capture(t)[..., 3]
                mask = np.round(buffers.read().mask * 255).astype(np.uint8)
                np.testing.assert_array_equal(mask, alpha)
                assert ((alpha > 0) & (alpha < 255)).sum() > 20  # edges are blended
        finally:
            buffers.close()


@pytest.mark.parametrize("name", list(TARGETS))
def test_every_target_plan_meets_its_table(name):
    target = TARGETS[name]
    for aspect in ("16:9", "9:16", "1:1", "4:5"):
        for height in (96, 480, 720, 1080, 2160):
            for duration in (0.2, 1.0, 3.0, 6.0, 12.0, 60.0):
                output = scene_from_dict({"asset": {"source": str(ROBOT)}, "output": {
                    "height": height, "aspect": aspect, "duration": duration}}, None).output
                p = plan(output, name)
                assert p.width % 2 == 0 and p.height % 2 == 0  # H.264 yuv420p
                assert p.duration == pytest.approx(p.frames / p.fps)
                if name == "generic":
                    assert (p.width, p.frames, p.fps) == (output.width, output.frame_count,
                                                          output.fps)
                    continue
                assert target.accepts_size(p.width, p.height), (aspect, height, p)
                assert target.accepts_frames(p.frames), (duration, p)
                assert p.fps == target.fps
                assert target.sources.get("sizes") and target.sources.get("frames")


def test_the_constraints_quoted_in_the_issue():
    ltx, cog, wan = TARGETS["ltx"], TARGETS["cogvideox"], TARGETS["wan"]
    assert ltx.accepts_size(768, 512) and not ltx.accepts_size(770, 512)
    assert ltx.accepts_frames(257) and not ltx.accepts_frames(256)
    assert cog.accepts_frames(81) and not cog.accepts_frames(49 + 8)
    assert set(wan.sizes) >= {(832, 480), (1280, 720)}
    assert not wan.accepts_frames(80)


def test_docs_handoff_holds_the_table_from_the_code():
    text = (ROOT / "docs" / "HANDOFF.md").read_text()
    assert targets_markdown() in text, "run: python tools/handoff_doc.py --write"
    check = subprocess.run([sys.executable, "tools/handoff_doc.py", "--check"], cwd=ROOT,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_handoff_command_for_ltx_writes_what_the_table_allows(tmp_path):
    scene_file = tmp_path / "shot.toml"
    scene_file.write_text(f'[asset]\nsource = "{ROBOT}"\n[output]\nheight = 64\n'
                          f'duration = 0.4\nfps = 10\n')
    out = tmp_path / "ltx"
    cmd = [sys.executable, "-m", "engine.cli", "handoff", str(scene_file), "--for", "ltx",
           "-o", str(out), "-q"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    p = manifest["plan"]
    ltx = TARGETS["ltx"]
    assert ltx.accepts_size(p["width"], p["height"]) and ltx.accepts_frames(p["frames"])
    for video in ("beauty.mp4", "depth.mp4", "mask.mp4"):
        info = probe_video(out / video)
        assert (info["width"], info["height"], info["frames"]) == (p["width"], p["height"],
                                                                   p["frames"]), video
    assert len(list((out / "depth").glob("frame_*.png"))) == p["frames"]
    assert len(list((out / "depth").glob("frame_*.exr"))) == p["frames"]
    assert len(manifest["frames"]) == p["frames"]
    assert Image.open(out / "first.png").size == (p["width"], p["height"])
    assert (out / "last.png").is_file()
    assert manifest["prompt"] == ""
    from engine.fileio import file_sha256

    assert manifest["asset"]["sha256"] == file_sha256(ROBOT)
    assert manifest["scene"]["sha256"] == file_sha256(scene_file)
    assert json.loads((tmp_path / "ltx.json").read_text())["kind"] == "handoff"
    # a second hand-off into the same folder is refused, and nothing in it changes
    before = {f: f.stat().st_mtime_ns for f in out.rglob("*")}
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 2 and "already holds files" in again.stderr
    assert {f: f.stat().st_mtime_ns for f in out.rglob("*")} == before


def test_render_with_passes_writes_them_beside_the_clip(tmp_path):
    from engine.handoff import render_shot

    scene = scene_from_dict({"asset": {"source": str(ROBOT)}, "output": {
        "file": str(tmp_path / "clip.mp4"), "height": 48, "fps": 8, "duration": 0.5,
        "msaa": 0, "passes": ["depth"]}}, None)
    stats, folder = render_shot(scene, progress=False)
    assert folder == tmp_path / "clip.passes"
    assert probe_video(tmp_path / "clip.mp4")["frames"] == stats.frames == 4
    assert len(list((folder / "depth").glob("*.png"))) == 4
    assert not (folder / "mask").exists()  # only what was asked: no hand-off, no mask
    # a folder of PNG frames takes its passes beside it too
    frames = scene_from_dict({"asset": {"source": str(ROBOT)}, "output": {
        "file": str(tmp_path / "frames") + "/", "height": 48, "fps": 8, "duration": 0.25,
        "msaa": 0, "passes": ["mask"]}}, None)
    stats, folder = render_shot(frames, progress=False)
    assert folder == tmp_path / "frames.passes"
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 2
    assert len(list((folder / "mask").glob("frame_*.png"))) == 2
    # a plain scene renders the clip alone, through render_clip
    plain = scene_from_dict({"asset": {"source": str(ROBOT)}, "output": {
        "file": str(tmp_path / "plain.mp4"), "height": 48, "fps": 8, "duration": 0.25,
        "msaa": 0}}, None)
    stats, folder = render_shot(plain, progress=False)
    assert folder is None and not (tmp_path / "plain.passes").exists()


def test_interrupted_handoff_leaves_nothing(tmp_path):
    scene = scene_from_dict({"asset": {"source": str(ROBOT)}, "output": {
        "height": 48, "fps": 8, "duration": 0.5, "msaa": 0}}, None)

    def stop(index, frame):
        if index == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_handoff(scene, tmp_path / "out", "generic", on_frame=stop)
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value, words", [
    (["depht"], "unknown pass 'depht'"), ("depth", "expected a list"),
    (["mask", "mask"], "named twice")])
def test_bad_passes_name_the_key(value, words):
    with pytest.raises(SceneError) as err:
        scene_from_dict({"asset": {"source": str(ROBOT)}, "output": {"passes": value}},
                        Path("/tmp/shot.toml"))
    assert "/tmp/shot.toml: [output] passes" in str(err.value) and words in str(err.value)


def test_bad_handoff_target_names_the_key():
    with pytest.raises(SceneError) as err:
        scene_from_dict({"asset": {"source": str(ROBOT)}, "output": {"handoff": "sora"}},
                        Path("/tmp/shot.toml"))
    assert "[output] handoff" in str(err.value) and "ltx" in str(err.value)


def test_render_command_with_handoff_key_writes_the_clip_for_the_target(tmp_path):
    scene_file = tmp_path / "shot.toml"
    scene_file.write_text(f'[asset]\nsource = "{ROBOT}"\n[output]\nfile = "clip.mp4"\n'
                          f'height = 64\nduration = 0.5\nfps = 10\nhandoff = "wan"\n')
    done = subprocess.run([sys.executable, "-m", "engine.cli", "render", str(scene_file),
                           "-q", "--frames", "3"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "re-timed" in done.stderr  # 0.5 s at Wan's 16 fps and 4n+1 frames
    assert "no 16:9 size" not in done.stderr  # 832x480 is Wan's 16:9
    info = probe_video(tmp_path / "clip.draft.mp4")  # --frames: a draft, beside the clip
    assert (info["width"], info["height"], info["frames"]) == (832, 480, 3)
    folder = tmp_path / "clip.draft.handoff"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["plan"]["frames"] == 9 and len(manifest["frames"]) == 3
    assert manifest["files"]["beauty"] == "../clip.draft.mp4"
    assert probe_video(folder / "depth.mp4")["frames"] == 3
    assert (tmp_path / "clip.draft.mp4.json").is_file()
