"""Shared fixtures: the project's own sample assets and small real renders."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from engine.scene import Scene, scene_from_dict
from tools.shared_assets import SHARED_ASSETS as _SHARED_ASSETS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ASSETS = ROOT / "scenes" / "assets"
SHARED_ASSETS = _SHARED_ASSETS


def make_scene(tmp_path: Path, asset: str = "robot.glb", **sections) -> Scene:
    """A small scene on a project sample asset; `sections` override TOML tables."""
    doc = {"asset": {"source": str(SAMPLE_ASSETS / asset)},
           "output": {"file": str(tmp_path / "clip.mp4"), "height": 72, "fps": 10,
                      "duration": 0.5, "msaa": 0}}
    for name, values in sections.items():
        doc.setdefault(name, {})
        if isinstance(values, dict):
            doc[name].update(values)
        else:
            doc[name] = values
    return scene_from_dict(doc, None)


def sliding_scene_file(folder: Path, output_file: str) -> Path:
    """A scene file whose robot slides out of the frame after 1 s (the framing guard's
    case: it warns about 1-2 s), writing `output_file` at 56x32, 4 fps, 2 s."""
    path = folder / "slide.toml"
    path.write_text(f"""
[asset]
source = "{SAMPLE_ASSETS / 'robot.glb'}"
[camera]
move = "static"
[[keyframes]]
target = "asset"
property = "position.x"
keys = [[0, 0], [1, 0], [2, 0.6]]
[output]
file = "{output_file}"
height = 32
fps = 4
duration = 2.0
msaa = 0
""")
    return path


def foreground_mask(frame: np.ndarray, background_rgb: tuple[int, int, int], tol: int = 12):
    """(H, W) bool: pixels that differ from a solid background colour."""
    diff = np.abs(frame[..., :3].astype(int) - np.array(background_rgb)).max(axis=-1)
    return diff > tol


@pytest.fixture
def scene_factory(tmp_path):
    def factory(asset: str = "robot.glb", **sections) -> Scene:
        return make_scene(tmp_path, asset, **sections)

    return factory


@pytest.fixture
def tiny_disk(tmp_path):
    """A 200 KiB tmpfs; skipped where mounting is not possible (not root, no tmpfs)."""
    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture(scope="module")
def ray_cluster():
    """A real local Ray cluster of 2 CPUs for one test module (Ray's local_mode is gone)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False)
    yield ray
    ray.shutdown()
