"""Campaigns on the chunk scheduler (issue 19): `maquette campaign --workers N` and `--ray`
schedule every shot's chunks through engine.render.workers.run_jobs, against real engines:
spawned local processes (the CLI as a subprocess) and a real local Ray cluster
(`ray.init(num_cpus=2)`). Tiny shots: 8 frames at height 36, 4-frame chunks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.campaign import load_campaign, run_campaign
from engine.errors import MaquetteError
from engine.render.chunks import Job, egl_device_for, visible_gpus, worker_gpu
from engine.render.workers import auto_workers, ray_task_options, run_jobs
from engine.render.writers import read_frames

from .conftest import ROOT, SAMPLE_ASSETS, make_scene
from .test_campaign import SHOTS as CAMPAIGN_SHOTS

CAMPAIGN = """[campaign]
asset = "{asset}"
output = "{out}"

[defaults.output]
height = 36
duration = 1.0
fps = 8
msaa = 0
""" + CAMPAIGN_SHOTS.format(extra=', passes = ["mask"]').replace("{", "{{").replace("}", "}}")
SHOTS = ("hero", "vertical", "square")


def campaign_file(folder: Path, out: str) -> Path:
    path = folder / f"{out}.toml"
    path.write_text(CAMPAIGN.format(asset=SAMPLE_ASSETS / "robot.glb", out=out))
    return path


def maquette(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MAQUETTE_LIBRARY": str(cwd / "nolib"),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=ROOT, env=env)


def statuses(stdout: str) -> dict[str, str]:
    return {line.split()[1].rstrip(":"): line.split()[0] for line in stdout.splitlines()
            if line.split() and line.split()[0] in ("rendered", "kept", "failed", "planned")}


def hashes(path: Path) -> list[str]:
    return [hashlib.sha256(f.tobytes()).hexdigest() for f in read_frames(path)]


def deliverables(folder: Path) -> dict[str, object]:
    """Per shot: its clip's per-frame hashes, its poster's pixels' hash, and (square) the
    hashes of its mask frames."""
    out = {}
    for name in SHOTS:
        with Image.open(folder / f"{name}.mp4.poster.png") as poster:
            pixels = hashlib.sha256(np.asarray(poster).tobytes()).hexdigest()
        out[name] = (hashes(folder / f"{name}.mp4"), pixels)
    masks = sorted((folder / "square.passes" / "mask").glob("*.png"))
    out["square.passes"] = [hashlib.sha256(p.read_bytes()).hexdigest() for p in masks]
    return out


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """The campaign with --workers 1 (chunks one after another in the CLI's process)."""
    folder = tmp_path_factory.mktemp("one")
    r = maquette("campaign", str(campaign_file(folder, "one")), "--workers", "1",
                 "--chunk-frames", "4", "-q", cwd=folder)
    assert r.returncode == 0, r.stderr
    assert statuses(r.stdout) == dict.fromkeys(SHOTS, "rendered")
    result = deliverables(folder / "one")
    assert len(result["hero"][0]) == 8 and len(result["square.passes"]) == 8
    return result


def test_two_workers_give_the_deliverables_of_one_and_skip_by_every_file(one_worker,
                                                                         tmp_path):
    camp = campaign_file(tmp_path, "two")
    r = maquette("campaign", str(camp), "--workers", "2", "--chunk-frames", "4", "-q",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert statuses(r.stdout) == dict.fromkeys(SHOTS, "rendered")
    assert "chunks on 2 local workers" in r.stdout
    out = tmp_path / "two"
    assert deliverables(out) == one_worker
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no work folders
    record = json.loads((out / "square.mp4.json").read_text())
    named = {Path(f["path"]).relative_to(out).as_posix() for f in record["deliverable"]["files"]}
    assert {"square.mp4", "square.mp4.poster.png", "square.passes/mask/frame_00007.png",
            "square.passes/manifest.json"} <= named
    # a re-run keeps all; a deleted pass frame and a deleted poster re-render only their shots
    r = maquette("campaign", str(camp), "--workers", "2", "--chunk-frames", "4", "-q",
                 cwd=tmp_path)
    assert statuses(r.stdout) == dict.fromkeys(SHOTS, "kept"), r.stderr
    kept = (out / "vertical.mp4").stat().st_mtime_ns
    (out / "square.passes" / "mask" / "frame_00003.png").unlink()
    (out / "hero.mp4.poster.png").unlink()
    r = maquette("campaign", str(camp), "--workers", "2", "--chunk-frames", "4", "-q",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert statuses(r.stdout) == {"hero": "rendered", "vertical": "kept", "square": "rendered"}
    assert (out / "vertical.mp4").stat().st_mtime_ns == kept
    assert deliverables(out) == one_worker
    assert [p.name for p in out.iterdir() if ".partial-" in p.name] == []


def test_a_failing_shot_leaves_the_others_on_workers(tmp_path):
    """A shot whose destination is refused fails inside run_jobs (keep_going); the other
    shots' chunks render on the same pool and are finished; the exit status says so."""
    camp = campaign_file(tmp_path, "deliver")
    (tmp_path / "deliver" / "vertical.mp4").mkdir(parents=True)  # a folder where a clip goes
    (tmp_path / "deliver" / "vertical.mp4" / "x").write_text("in the way")
    r = maquette("campaign", str(camp), "--workers", "2", "--chunk-frames", "4", "-q",
                 cwd=tmp_path)
    assert r.returncode == 1
    assert statuses(r.stdout) == {"hero": "rendered", "vertical": "failed",
                                  "square": "rendered"}
    assert "failed: vertical" in r.stderr
    assert len(read_frames(tmp_path / "deliver" / "hero.mp4")) == 8
    assert "failed" in (tmp_path / "deliver" / "index.html").read_text()


def test_run_jobs_keep_going_drops_only_the_failing_job(tmp_path):
    """A job whose chunks fail on the workers (its asset broken) is reported with its chunk;
    the other job of the same run is joined and complete."""
    asset = tmp_path / "robot.glb"
    shutil.copyfile(SAMPLE_ASSETS / "robot.glb", asset)
    output = {"height": 36, "fps": 12, "duration": 1.0}
    good = make_scene(tmp_path, output=output, camera={"move": "orbit"})
    bad = make_scene(tmp_path, asset=str(asset), output=output, camera={"move": "orbit"})
    asset.write_bytes(b"glTF" + b"\0" * 64)
    finished = []
    report = run_jobs([Job(good, str(tmp_path / "good.mp4")), Job(bad, str(tmp_path / "bad.mp4"))],
                      workers=2, chunk_frames=4, keep_going=True,
                      on_job=lambda result: finished.append(result.job.label))
    assert finished == ["good.mp4"] and [r.job.label for r in report.results] == ["good.mp4"]
    assert list(report.failed) == ["bad.mp4"]
    assert "chunk bad.mp4 frames" in report.failed["bad.mp4"]
    assert len(read_frames(tmp_path / "good.mp4")) == 12
    assert not (tmp_path / "bad.mp4").exists()


def test_sigterm_mid_campaign_keeps_finished_shots_only_and_the_rerun_resumes(tmp_path):
    """SIGTERM once the first shot is joined and finished (its sidecar): that shot is whole,
    the other has no output and no partial file, no worker outlives the command; the re-run
    keeps the first shot and resumes the second from its finished chunks."""
    import signal
    import time

    from .test_workers import wait_gone

    camp = tmp_path / "long.toml"
    camp.write_text(CAMPAIGN.format(asset=SAMPLE_ASSETS / "robot.glb", out="deliver")
                    .replace("duration = 1.0", "duration = 3.0").split("[[shot]]\nname = "
                                                                       '"square"')[0])
    out = tmp_path / "deliver"
    args = [sys.executable, "-m", "engine.cli", "campaign", str(camp), "--workers", "2",
            "--chunk-frames", "4", "-q"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            env={**os.environ, "MAQUETTE_LIBRARY": str(tmp_path / "nolib")})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and \
            not (out / "hero.mp4.json").is_file():
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert wait_gone(proc.pid) == []
    assert len(read_frames(out / "hero.mp4")) == 24 and (out / "hero.mp4.poster.png").is_file()
    assert not (out / "vertical.mp4").exists()
    assert [p.name for p in out.iterdir() if ".partial-" in p.name] == []
    work = json.loads((out / ".vertical.mp4.work" / "manifest.json").read_text())["chunks"]
    assert len(work) < 6

    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "MAQUETTE_LIBRARY": str(tmp_path / "nolib")})
    assert r.returncode == 0, r.stderr
    assert statuses(r.stdout) == {"hero": "kept", "vertical": "rendered"}
    if work:
        assert f"resuming: {len(work)} finished chunk(s) kept" in r.stderr
    assert len(read_frames(out / "vertical.mp4")) == 24
    assert not (out / ".vertical.mp4.work").exists()


# ---------------------------------------------------------------------- a real Ray cluster

def test_ray_gives_the_deliverables_of_one_worker(ray_cluster, one_worker, tmp_path):
    campaign = load_campaign(campaign_file(tmp_path, "ray"))
    said = []
    report = run_campaign(campaign, progress=False, ray="auto", chunk_frames=4,
                          log=said.append)
    assert report.failed == [] and report.where.startswith("Ray")
    # the two pooled shots share one asset: its bundle is put in the object store once
    assert "Ray: 1 asset bundle(s) in the object store for 2 job(s)" in said, said
    assert [r.status for r in report.results] == ["rendered"] * 3
    assert deliverables(tmp_path / "ray") == one_worker
    again = run_campaign(campaign, progress=False, ray="auto", chunk_frames=4)
    assert [r.status for r in again.results] == ["kept"] * 3


# ---------------------------------------------------------------------- GPU pinning

def test_gpu_ids_and_pinning_rules():
    assert visible_gpus({}) == [] and visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 0,3"}) == ["2", "0", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1,-1,2"}) == ["1"]  # CUDA stops there
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    assert [worker_gpu(k, ["2", "0"]) for k in range(3)] == ["2", "0", "2"]
    assert worker_gpu(0, []) is None
    assert egl_device_for("3") == 3 and egl_device_for(1) == 1
    assert egl_device_for("GPU-5e1c0d3a-aaaa") is None  # a UUID: EGL's default device
    assert auto_workers(cores=16, gpus=["0", "1", "2", "3"]) == 4  # one worker per GPU
    assert auto_workers(cores=16, gpus=[]) == 8
    assert ray_task_options({"CPU": 64, "GPU": 8}, 2)["num_gpus"] == 1
    assert ray_task_options({"CPU": 2}, 2) == {"max_retries": 2, "retry_exceptions": False,
                                               "num_cpus": 1, "num_gpus": 0}


def test_local_workers_are_pinned_to_the_visible_gpus(tmp_path, monkeypatch):
    """Each spawned worker renders on the EGL device of its GPU in CUDA_VISIBLE_DEVICES:
    "0" (here llvmpipe's device 0) gives the bytes of an unpinned run; "99" reaches Panda3D
    as egl-device-index 99 and fails naming it."""
    scene = make_scene(tmp_path, output={"height": 36, "fps": 12, "duration": 0.5},
                       camera={"move": "orbit"})
    plain = run_jobs([Job(scene, str(tmp_path / "plain.mp4"))], workers=2, chunk_frames=3)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    pinned = run_jobs([Job(scene, str(tmp_path / "pinned.mp4"))], workers=2, chunk_frames=3)
    assert sorted(d.sha256 for d in pinned.done) == sorted(d.sha256 for d in plain.done)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "99")
    with pytest.raises(MaquetteError, match=r"cannot render on EGL device 99"):
        run_jobs([Job(scene, str(tmp_path / "missing.mp4"))], workers=2, chunk_frames=3)
