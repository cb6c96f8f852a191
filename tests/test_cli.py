"""The `maquette` command end to end: real renders, exit codes, messages, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.render.offline import render_clip
from engine.render.writers import OutputError, probe_video

from .conftest import ROOT, SAMPLE_ASSETS


def maquette(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


def small_scene(tmp_path: Path, extra: str = "", file: str = "out/clip.mp4") -> Path:
    path = tmp_path / "scene.toml"
    path.write_text(f"""
[asset]
source = "{SAMPLE_ASSETS / 'robot.glb'}"
[output]
file = "{file}"
height = 64
fps = 8
duration = 0.5
msaa = 0
{extra}""")
    return path


def test_render_writes_the_scene_output(tmp_path):
    scene = small_scene(tmp_path)
    result = maquette("render", str(scene), "--quiet")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out" / "clip.mp4"
    assert f"wrote {out}" in result.stdout
    info = probe_video(out)
    assert info["frames"] == 4 and (info["width"], info["height"]) == (114, 64)


def test_render_bare_asset_with_output_override(tmp_path):
    out = tmp_path / "robot.gif"
    # A bare asset gets the default stage (a 6 s 1080p turntable): too slow for a test,
    # so check the override path and format with a scene instead, and the bare asset
    # through `still`.
    result = maquette("render", str(small_scene(tmp_path)), "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    assert probe_video(out)["frames"] == 4
    still = tmp_path / "bare.png"
    result = maquette("still", str(SAMPLE_ASSETS / "mug.glb"), "--at", "1", "-o", str(still))
    assert result.returncode == 0, result.stderr
    assert still.stat().st_size > 10_000


def test_bad_scene_exits_2_naming_file_and_key(tmp_path):
    scene = small_scene(tmp_path, '[camera]\nfov = "wide"\n')
    result = maquette("render", str(scene))
    assert result.returncode == 2
    assert str(scene) in result.stderr and "[camera] fov" in result.stderr
    assert "Traceback" not in result.stderr


HOSTILE_GLTF = (b'{"asset": {"version": "2.0"}, "buffers": [{"uri": "../../etc/passwd", '
                b'"byteLength": 12}], "meshes": [], "scenes": [{"nodes": []}]}')


@pytest.mark.parametrize("name,content,expected", [
    ("broken.glb", b"glTF\x02\x00\x00\x00garbage", "truncated GLB"),
    ("empty.stl", b"", "empty"),
    ("hostile.gltf", HOSTILE_GLTF, "buffers[0].uri"),
    ("image.glb", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG"),
])
def test_broken_asset_exits_2(tmp_path, name, content, expected):
    asset = tmp_path / name
    asset.write_bytes(content)
    result = maquette("still", str(asset), "-o", str(tmp_path / "x.png"))
    assert result.returncode == 2, result.stderr
    assert str(asset) in result.stderr and expected in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_unwritable_output_fails_cleanly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = maquette("render", str(small_scene(tmp_path)), "-o", str(blocker / "clip.mp4"), "-q")
    assert result.returncode == 2  # a file in the way is bad input (it exited 1)
    assert "a file is in the way" in result.stderr and "Traceback" not in result.stderr
    assert blocker.read_text() == "not a folder"


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def test_killed_ffmpeg_mid_render_leaves_no_file(scene_factory, tmp_path):
    scene = scene_factory("robot.glb", output={"height": 48, "duration": 2.0})
    existing = tmp_path / "clip.mp4"
    existing.write_bytes(b"previous good render")

    def kill_encoder(index, frame):
        if index == 5:
            for pid in _children(os.getpid()):
                os.kill(pid, signal.SIGKILL)

    with pytest.raises(OutputError, match="ffmpeg|encoder"):
        render_clip(scene, progress=False, on_frame=kill_encoder)
    assert existing.read_bytes() == b"previous good render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_demo_command(tmp_path):
    """`maquette demo` (what `make demo` runs): bundled image → asset → video + sheet."""
    out = tmp_path / "demo.mp4"
    result = maquette("demo", "-q", "-o", str(out))
    assert result.returncode == 0, result.stderr
    info = probe_video(out)
    assert info["codec"] == "h264" and info["frames"] == 180
    # it films the safe sweep and says how much of it is inferred, before rendering
    assert "seen check" in result.stdout and "every checked frame under" in result.stdout
    assert (tmp_path / "demo-asset.glb").stat().st_size > 10_000
    assert (tmp_path / "demo-asset.json").exists()
    assert (tmp_path / "demo-sheet.png").stat().st_size > 10_000
