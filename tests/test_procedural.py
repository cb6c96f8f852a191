"""Tests for the procedural sample assets (tools.procedural.samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from tools.procedural.samples import SAMPLE_ASSETS, export_glb

# expected height (along +Y) of each asset, metres
HEIGHTS = {"bottle": (0.28, 0.32), "mug": (0.09, 0.11), "robot": (0.22, 0.29), "lamp": (0.30, 0.45)}


@pytest.fixture(scope="module")
def scenes() -> dict[str, trimesh.Scene]:
    return {name: fn() for name, fn in SAMPLE_ASSETS.items()}


def _welded(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Merge the UV-seam and sharp-edge duplicate vertices (positions only)."""
    m = mesh.copy()
    m.merge_vertices(merge_tex=True, merge_norm=True)
    return m


def test_registry() -> None:
    assert set(SAMPLE_ASSETS) == {"bottle", "mug", "robot", "lamp"}
    assert all(callable(fn) for fn in SAMPLE_ASSETS.values())


@pytest.mark.parametrize("name", sorted(SAMPLE_ASSETS))
def test_parts_closed_textured(scenes, name) -> None:
    scene = scenes[name]
    assert isinstance(scene, trimesh.Scene) and scene.geometry
    total = 0
    for part, mesh in scene.geometry.items():
        total += len(mesh.faces)
        welded = _welded(mesh)
        assert welded.is_watertight, f"{name}/{part} not watertight"
        assert welded.volume > 0, f"{name}/{part} inside out"
        # UVs per vertex, inside the unit square
        uv = mesh.visual.uv
        assert uv is not None and uv.shape == (len(mesh.vertices), 2)
        assert uv.min() >= -1e-9 and uv.max() <= 1 + 1e-9
        mat = mesh.visual.material
        assert isinstance(mat, trimesh.visual.material.PBRMaterial)
        assert isinstance(mat.baseColorTexture, Image.Image)
        assert mat.metallicFactor is not None and mat.roughnessFactor is not None
        # winding agrees with the explicit vertex normals (outward, smooth/sharp as built)
        normals = mesh.vertex_normals
        np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)
        agree = np.einsum("ij,ij->i", mesh.face_normals, normals[mesh.faces].mean(axis=1))
        assert (agree > 0).all(), f"{name}/{part} normals disagree with winding"
    assert 5_000 <= total <= 40_000


@pytest.mark.parametrize("name", sorted(SAMPLE_ASSETS))
def test_frame_y_up_base_centred(scenes, name) -> None:
    lo, hi = scenes[name].bounds
    lo_h, hi_h = HEIGHTS[name]
    assert abs(lo[1]) < 1e-3, "base must sit on y = 0"
    assert lo_h <= hi[1] - lo[1] <= hi_h
    centre = (lo + hi) / 2.0
    assert abs(centre[0]) < 0.01 and abs(centre[2]) < 0.01
    # taller than wide: height really is along Y
    assert hi[1] - lo[1] > max(hi[0] - lo[0], hi[2] - lo[2]) * 0.75


def test_bottle_materials(scenes) -> None:
    geo = scenes["bottle"].geometry
    body, cap = geo["body"].visual.material, geo["cap"].visual.material
    assert body.baseColorTexture.size == (1024, 1024)
    assert body.metallicFactor == 0.0 and body.roughnessFactor == pytest.approx(0.25)
    assert cap.metallicFactor == 1.0 and cap.roughnessFactor == pytest.approx(0.3)
    # the cap is the top of the bottle
    assert geo["cap"].bounds[1][1] == pytest.approx(scenes["bottle"].bounds[1][1])


def test_robot_faces_front(scenes) -> None:
    geo = scenes["robot"].geometry
    body_front = max(geo["body"].bounds[1][2], geo["head"].bounds[1][2])
    assert geo["eyes"].bounds[1][2] > body_front - 1e-3
    assert geo["pupils"].bounds[1][2] > geo["eyes"].bounds[1][2]
    # two eyes, left and right of the centre line, in the upper part
    eyes = geo["eyes"].vertices
    assert eyes[:, 0].min() < -0.01 and eyes[:, 0].max() > 0.01
    assert eyes[:, 1].min() > scenes["robot"].bounds[1][1] * 0.5


def test_mug_handle_on_side(scenes) -> None:
    geo = scenes["mug"].geometry
    assert geo["handle"].bounds[1][0] > geo["body"].bounds[1][0] + 0.01
    assert geo["handle"].visual.material.roughnessFactor >= 0.5  # matte glaze


def test_lamp_has_emissive_bulb(scenes) -> None:
    bulb = scenes["lamp"].geometry["bulb"].visual.material
    assert np.max(bulb.emissiveFactor) > 0.5
    assert scenes["lamp"].geometry["base"].visual.material.metallicFactor == 1.0


def test_deterministic() -> None:
    for name, fn in SAMPLE_ASSETS.items():
        a, b = fn(), fn()
        assert list(a.geometry) == list(b.geometry)
        for part in a.geometry:
            ma, mb = a.geometry[part], b.geometry[part]
            assert np.array_equal(ma.vertices, mb.vertices), f"{name}/{part}"
            assert np.array_equal(ma.faces, mb.faces)
            assert np.array_equal(ma.visual.uv, mb.visual.uv)
            ta, tb = ma.visual.material.baseColorTexture, mb.visual.material.baseColorTexture
            assert ta.tobytes() == tb.tobytes()


def test_seed_varies_but_keeps_frame() -> None:
    a, b = SAMPLE_ASSETS["bottle"](0), SAMPLE_ASSETS["bottle"](3)
    ta = a.geometry["body"].visual.material.baseColorTexture
    tb = b.geometry["body"].visual.material.baseColorTexture
    assert ta.tobytes() != tb.tobytes() or not np.array_equal(
        a.geometry["body"].vertices, b.geometry["body"].vertices
    )
    assert abs(b.bounds[0][1]) < 1e-3


@pytest.mark.parametrize("name", sorted(SAMPLE_ASSETS))
def test_glb_round_trip(scenes, name, tmp_path) -> None:
    scene = scenes[name]
    path = tmp_path / f"{name}.glb"
    assert export_glb(scene, path) == str(path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind
    data = path.read_bytes()
    assert data[:4] == b"glTF" and b"image/png" in data
    assert len(data) < 1_500_000

    loaded = trimesh.load(path, force="scene")
    assert set(loaded.geometry) == set(scene.geometry)
    for part, mesh in scene.geometry.items():
        back = loaded.geometry[part]
        assert len(back.faces) == len(mesh.faces)
        mat = back.visual.material
        assert isinstance(mat.baseColorTexture, Image.Image)
        assert mat.baseColorTexture.size == mesh.visual.material.baseColorTexture.size
        assert mat.metallicFactor == pytest.approx(mesh.visual.material.metallicFactor)
        assert mat.roughnessFactor == pytest.approx(mesh.visual.material.roughnessFactor)
        assert back.visual.uv is not None
    # coordinates written as-is (glTF is Y-up): same bounds, base on y = 0
    np.testing.assert_allclose(loaded.bounds, scene.bounds, atol=1e-5)
    assert abs(loaded.bounds[0][1]) < 1e-3


def test_export_overwrites_atomically(tmp_path) -> None:
    path = tmp_path / "sub" / "mug.glb"
    path.parent.mkdir()
    path.write_bytes(b"old")
    export_glb(SAMPLE_ASSETS["mug"](), path)
    assert path.read_bytes()[:4] == b"glTF"
    assert sorted(p.name for p in path.parent.iterdir()) == ["mug.glb"]


def test_committed_assets_match_generator() -> None:
    """scenes/assets/*.glb are what tools/make_sample_assets.py writes (same geometry)."""
    folder = Path(__file__).resolve().parents[1] / "scenes" / "assets"
    for name, fn in SAMPLE_ASSETS.items():
        path = folder / f"{name}.glb"
        if not path.exists():
            pytest.skip(f"{path} not generated")
        loaded = trimesh.load(path, force="scene")
        built = fn()
        assert {k: len(g.faces) for k, g in loaded.geometry.items()} == {
            k: len(g.faces) for k, g in built.geometry.items()
        }
        np.testing.assert_allclose(loaded.bounds, built.bounds, atol=1e-5)
