"""Chunked rendering on local workers and on a real local Ray cluster: the output of any
worker count is bit-identical (per decoded frame) to the single-process render of the same
chunks; dead workers are retried; a stopped run resumes from its finished chunks.

Sizes are tiny (64x36, 12 frames in chunks of 4) so the module stays fast."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError, MaquetteError, WorkError
from engine.render.chunks import Job, WorkFolder, render_chunk
from engine.render.offline import render_clip
from engine.render.workers import asset_bundle, run_jobs
from engine.render.writers import read_frames
from tests.conftest import ROOT, SAMPLE_ASSETS, make_scene, sliding_scene_file

CHUNK = 4
OUTPUT = {"height": 36, "fps": 12, "duration": 1.0}  # 64x36, 12 frames


def hashes(path) -> list[str]:
    """sha256 of each decoded frame of a video (or PNG folder)."""
    return [hashlib.sha256(f.tobytes()).hexdigest() for f in read_frames(path)]


def keyframes(path: Path) -> list[int]:
    """Indices of the decoded frames that are keyframes (ffmpeg's showinfo)."""
    import re

    from engine.render.writers import _ffmpeg_exe

    proc = subprocess.run([_ffmpeg_exe(), "-hide_banner", "-i", str(path), "-vf", "showinfo",
                           "-f", "null", "-"], capture_output=True, text=True)
    return [int(n) for n, key in re.findall(r"n:\s*(\d+).*?iskey:([01])", proc.stderr)
            if key == "1"]


def scene_in(folder: Path, **sections):
    sections.setdefault("output", {})
    sections["output"] = {**OUTPUT, **sections["output"]}
    sections.setdefault("camera", {"move": "orbit"})
    return make_scene(folder, **sections)


def no_partials(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".partial-" in p.name or p.name.endswith(".work")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The single-process render (chunks one after another in this process): scene, hashes."""
    folder = tmp_path_factory.mktemp("reference")
    scene = scene_in(folder)
    report = run_jobs([Job(scene, str(folder / "one.mp4"))], workers=1, chunk_frames=CHUNK)
    assert report.where == "this process" and report.results[0].chunks == 3
    return scene, hashes(folder / "one.mp4")


def test_two_workers_give_the_frames_of_one(reference, tmp_path):
    scene, expected = reference
    out = tmp_path / "two.mp4"
    report = run_jobs([Job(scene, str(out))], workers=2, chunk_frames=CHUNK)
    assert report.where == "2 local workers"
    assert len({d.pid for d in report.done}) == 2  # really two processes
    assert hashes(out) == expected and len(expected) == 12
    assert len(set(expected)) == 12  # the camera moves: every frame differs
    assert keyframes(out) == [0, 4, 8]  # each chunk starts on a keyframe
    assert no_partials(tmp_path) == []  # work folder removed once the output is in place


def test_join_is_lossless_and_frame_ranges_render_the_full_frames(reference, tmp_path):
    """The joined file decodes to exactly each chunk's own decoded frames (-c copy), and a
    PNG render in chunks equals the one-pass render pixel for pixel (frames by time)."""
    scene, expected = reference
    work = WorkFolder(Job(scene, str(tmp_path / "x.mp4")), CHUNK, tmp_path / "work")
    parts = []
    for chunk in work.chunks():
        render_chunk(chunk)
        parts += hashes(chunk.target)
    assert parts == expected
    render_clip(scene, tmp_path / "full/", progress=False)
    run_jobs([Job(scene, str(tmp_path / "chunked") + "/")], workers=1, chunk_frames=5)
    full, chunked = read_frames(tmp_path / "full"), read_frames(tmp_path / "chunked")
    assert full.shape == chunked.shape == (12, 36, 64, 3)
    assert np.array_equal(full, chunked)


def test_several_jobs_and_frame_ranges_in_one_call(reference, tmp_path):
    """What a campaign does: many (shot, frame range, output) jobs scheduled together; each
    range's frames are those frames of the full render."""
    scene, _ = reference
    full = tmp_path / "full"
    render_clip(scene, str(full) + "/", progress=False)
    head, tail = str(tmp_path / "head") + "/", str(tmp_path / "tail") + "/"
    report = run_jobs([Job(scene, head, 0, 5, name="head"), Job(scene, tail, 5, None,
                                                                name="tail")],
                      workers=2, chunk_frames=CHUNK)
    assert [r.job.name for r in report.results] == ["head", "tail"]
    assert [r.chunks for r in report.results] == [1, 2]  # 0-4 (a 1-frame tail joins) | 5-8 9-11
    joined = np.concatenate([read_frames(tmp_path / "head"), read_frames(tmp_path / "tail")])
    assert np.array_equal(joined, read_frames(full))
    with pytest.raises(InputError, match="frames 5..20 are not within the shot's 0..12"):
        run_jobs([Job(scene, str(tmp_path / "x") + "/", 5, 20, name="late")])


def test_a_short_last_chunk_keeps_the_timestamps_right(reference, tmp_path):
    """Regression: 12 frames in chunks of 5 left a 2-frame chunk whose x264 decode delay
    differs; the joined MP4 then lasted 14 frames and decoded at its rate as 14 (2 repeated).
    Now the short remainder joins the chunk before it (5 + 7)."""
    from engine.render.chunks import plan_chunks
    from engine.render.writers import probe_video

    assert plan_chunks(0, 12, 5) == [(0, 5), (5, 12)]
    assert plan_chunks(0, 12, 11) == [(0, 12)]
    assert plan_chunks(0, 13, 5) == [(0, 5), (5, 10), (10, 13)]
    scene, _ = reference
    out = tmp_path / "five.mp4"
    run_jobs([Job(scene, str(out))], workers=1, chunk_frames=5)
    assert read_frames(out).shape[0] == 12
    assert probe_video(out)["fps"] == pytest.approx(12.0)
    assert keyframes(out) == [0, 5, 10]  # the 7-frame chunk keeps the GOP of 5


@pytest.mark.parametrize("suffix,background", [(".webm", "transparent"), (".mov", "#202020")])
def test_webm_with_alpha_and_prores_join_the_same_way(tmp_path, suffix, background):
    scene = scene_in(tmp_path, stage={"background": background},
                     output={"file": str(tmp_path / f"clip{suffix}")})
    one, two = tmp_path / f"one{suffix}", tmp_path / f"two{suffix}"
    run_jobs([Job(scene, str(one))], workers=1, chunk_frames=CHUNK)
    run_jobs([Job(scene, str(two))], workers=2, chunk_frames=CHUNK)
    frames = read_frames(two)
    assert frames.shape[0] == 12
    if background == "transparent":
        assert frames.shape[-1] == 4 and frames[..., 3].min() == 0  # alpha survived the join
    assert hashes(one) == hashes(two)


def test_a_worker_killed_mid_chunk_is_retried_and_the_output_is_identical(reference,
                                                                          tmp_path):
    scene, expected = reference
    out = tmp_path / "killed.mp4"
    claims = tmp_path / ".killed.mp4.work" / ".claims"
    killed: list[int] = []
    stop = threading.Event()

    def killer():  # SIGKILL the first worker seen mid-chunk (its first frame encoded)
        while not stop.is_set() and not killed:
            for claim in claims.glob("*") if claims.is_dir() else ():
                try:
                    pid = int(claim.read_text())
                    os.kill(pid, signal.SIGKILL)
                except (OSError, ValueError):  # the chunk ended meanwhile: wait for another
                    continue
                killed.append(pid)
                break
            time.sleep(0.005)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    messages: list[str] = []
    try:
        report = run_jobs([Job(scene, str(out))], workers=2, chunk_frames=CHUNK,
                          log=messages.append)
    finally:
        stop.set()
        thread.join()
    assert killed and report.retried, messages
    assert any("retrying" in m for m in messages)
    assert killed[0] not in {d.pid for d in report.done}
    assert hashes(out) == expected


def test_a_corrupt_or_missing_chunk_is_rendered_again_and_only_it(reference, tmp_path):
    scene, expected = reference
    job = Job(scene, str(tmp_path / "resumed.mp4"))
    work = WorkFolder(job, CHUNK)
    work.open()
    chunks = work.chunks()
    for chunk in chunks:  # a previous run that finished every chunk but was stopped
        work.store(chunk, render_chunk(chunk))
    work.close()
    chunks[1].target.write_bytes(chunks[1].target.read_bytes()[:-100])  # truncated
    chunks[2].target.unlink()
    report = run_jobs([job], workers=1, chunk_frames=CHUNK)
    result = report.results[0]
    assert result.reused == [chunks[0].name]
    assert sorted(result.rendered) == [chunks[1].name, chunks[2].name]
    assert hashes(result.path) == expected


def _cli(*args, **kwargs):
    """`maquette render ARGS` in its own session: its process group is its pid."""
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "render", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`: the workers a command started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def wait_gone(pgid: int, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return group_members(pgid)


def tiny_scene_file(folder: Path, seconds: float) -> Path:
    path = folder / "s.toml"
    path.write_text(
        f'[asset]\nsource = "{SAMPLE_ASSETS / "robot.glb"}"\n[camera]\nmove = "orbit"\n'
        f'[output]\nfile = "clip.mp4"\nheight = 36\nfps = 12\nduration = {seconds}\n'
        'msaa = 0\n')
    return path


def recorded(work: Path) -> dict:
    try:
        return json.loads((work / "manifest.json").read_text())["chunks"]
    except (OSError, ValueError, KeyError):
        return {}


def test_sigterm_leaves_no_output_no_workers_and_the_rerun_resumes(tmp_path):
    args = (str(tiny_scene_file(tmp_path, 2.0)), "--workers", "2", "--chunk-frames",
            str(CHUNK), "-q")
    work = tmp_path / ".clip.mp4.work"
    proc = _cli(*args)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if recorded(work):  # one chunk finished and recorded: stop the render
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert not (tmp_path / "clip.mp4").exists()
    assert [p for p in no_partials(tmp_path) if ".partial-" in p] == []
    assert wait_gone(proc.pid) == []  # every worker is gone with the command
    kept = len(recorded(work))
    assert 1 <= kept < 6

    proc = _cli(*args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"{kept} kept from an earlier run" in out
    assert not work.exists()
    one = tmp_path / "one.mp4"
    scene = scene_in(tmp_path, output={"duration": 2.0})
    run_jobs([Job(scene, str(one))], workers=1, chunk_frames=CHUNK)
    assert hashes(tmp_path / "clip.mp4") == hashes(one)


def test_ctrl_c_stops_the_workers_and_leaves_no_output(tmp_path):
    proc = _cli(str(tiny_scene_file(tmp_path, 2.0)), "--workers", "2", "--chunk-frames",
                "8", "-q")
    work = tmp_path / ".clip.mp4.work"
    claims = work / ".claims"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (
            claims.is_dir() and any(claims.iterdir())):
        time.sleep(0.02)
    busy = [c.name.split(".")[0] for c in claims.iterdir()]  # chunks mid-render now
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C)" in err
    assert wait_gone(proc.pid) == []
    # killed, not left to finish: the chunks they were rendering never completed
    assert busy and not any((work / f"{name}.mp4").exists() for name in busy)
    assert not (tmp_path / "clip.mp4").exists()
    assert [p for p in no_partials(tmp_path) if ".partial-" in p] == []


def test_refused_gif_bad_worker_count_and_a_busy_work_folder(tmp_path):
    scene = scene_in(tmp_path)
    with pytest.raises(InputError, match="GIF cannot be rendered in chunks"):
        run_jobs([Job(scene, str(tmp_path / "x.gif"))], workers=2)
    same = str(tmp_path / "same.mp4")  # one work folder, two renders: the second is refused
    with pytest.raises(InputError, match="another render of .*same.mp4 is using this work"):
        run_jobs([Job(scene, same, name="a"), Job(scene, same, name="b")])
    run_jobs([Job(scene, same, 0, 1)])  # ... and free again once the first let go
    proc = _cli(str(SAMPLE_ASSETS / "robot.glb"), "-o", str(tmp_path / "y.mp4"),
                "--workers", "zero")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "--workers" in err


PINNED = """
import sys
from dataclasses import replace
from pathlib import Path
from engine.render.chunks import Job, WorkFolder, render_chunk
from tests.conftest import make_scene
folder = Path(sys.argv[1])
scene = make_scene(folder, output={"height": 36, "fps": 12, "duration": 1.0},
                   camera={"move": "orbit"})
chunk = WorkFolder(Job(scene, str(folder / "x.mp4")), 4, folder / "work").chunks()[0]
print(render_chunk(replace(chunk, egl_device=int(sys.argv[2]))).sha256)
"""


def test_a_chunk_pinned_to_an_egl_device_renders_there(reference, tmp_path):
    """egl-device-index reaches Panda3D: device 0 (here llvmpipe's) renders the chunk's
    bytes; a device that does not exist is an error naming it. (Several GPUs: untested.)"""
    scene, _ = reference
    chunk = WorkFolder(Job(scene, str(tmp_path / "x.mp4")), CHUNK, tmp_path / "w").chunks()[0]
    expected = render_chunk(chunk).sha256
    run = [sys.executable, "-c", PINNED, str(tmp_path)]
    pinned = subprocess.run([*run, "0"], cwd=ROOT, capture_output=True, text=True)
    assert pinned.returncode == 0, pinned.stderr
    assert pinned.stdout.split()[-1] == expected
    missing = subprocess.run([*run, "99"], cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode != 0
    assert "cannot render on EGL device 99 (Panda3D egl-device-index)" in missing.stderr


def test_draft_flags_apply_to_chunked_renders(tmp_path):
    """--frames N (and the other run overrides) reach the chunked path: the first N frames,
    at the overridden size, written beside the scene's own output as a draft."""
    proc = _cli(str(tiny_scene_file(tmp_path, 1.0)), "--workers", "1", "--chunk-frames",
                "2", "--frames", "5", "--height", "18", "-q")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    draft = tmp_path / "clip.draft.mp4"
    frames = read_frames(draft)
    assert frames.shape == (5, 18, 32, 3) and "5 frames in 2 chunks" in out  # 0-1, 2-4
    assert not (tmp_path / "clip.mp4").exists()


def test_the_framing_guard_warns_on_the_chunked_path(tmp_path):
    """Same warning as the one-pass render (tests/test_framing.py's sliding asset), once."""
    scene = sliding_scene_file(tmp_path, "slide.mp4")
    proc = _cli(str(scene), "--workers", "2", "--chunk-frames", "4", "-q")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    warning = f"warning: {scene}: the asset's bounds leave the frame at 1.50-1.75 s (right"
    assert err.count(warning) == 1, err


def test_local_workers_never_import_ray():
    code = ("import sys, engine.cli, engine.render.workers, engine.render.chunks; "
            "sys.exit('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_an_unreachable_ray_address_is_a_clear_error(reference, tmp_path):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already joined in this process")
    scene, _ = reference
    with pytest.raises(WorkError, match=r"--ray 127\.0\.0\.1:1: no Ray cluster answers"):
        run_jobs([Job(scene, str(tmp_path / "x.mp4"))], ray="127.0.0.1:1", chunk_frames=CHUNK)


# ---------------------------------------------------------------------- a real Ray cluster

def test_ray_gives_the_frames_of_one_process(ray_cluster, reference, tmp_path):
    scene, expected = reference
    report = run_jobs([Job(scene, str(tmp_path / "ray.mp4"))], ray="auto", chunk_frames=CHUNK)
    assert report.where.startswith("Ray")
    assert hashes(tmp_path / "ray.mp4") == expected
    bundle = asset_bundle(scene)  # the asset travelled through the object store, by hash
    assert (Path(tempfile.gettempdir()) / "maquette-assets" / bundle.digest / "robot.glb"
            ).read_bytes() == (SAMPLE_ASSETS / "robot.glb").read_bytes()
    assert no_partials(tmp_path) == []


def test_a_ray_worker_failure_names_the_chunk(ray_cluster, tmp_path):
    asset = tmp_path / "robot.glb"
    shutil.copyfile(SAMPLE_ASSETS / "robot.glb", asset)
    scene = scene_in(tmp_path, asset=str(asset))
    asset.write_bytes(b"glTF" + b"\0" * 64)  # broken after planning: every worker fails
    with pytest.raises(MaquetteError, match=r"chunk broken\.mp4 frames \d+-\d+ .*on a Ray worker"):
        run_jobs([Job(scene, str(tmp_path / "broken.mp4"))], ray="auto", chunk_frames=CHUNK)
    assert not (tmp_path / "broken.mp4").exists()
