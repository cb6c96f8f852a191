"""The 3D evaluation's scoring (tools/eval_generator.py) on meshes with known answers."""

import numpy as np
import pytest

trimesh = pytest.importorskip("trimesh")

from tools.eval_generator import score  # noqa: E402


def _rotation_y(deg: float) -> np.ndarray:
    t = np.radians(deg)
    return np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])


def _turned_box(deg: float, extents=(1.0, 0.6, 0.8)):
    box = trimesh.creation.box(extents)
    return trimesh.Trimesh(box.vertices @ _rotation_y(deg).T, box.faces)


def test_identical_mesh_scores_perfect():
    s = score(_turned_box(0), _turned_box(0))
    assert s["chamfer"] < 0.01 and s["f@0.05"] == 1.0 and s["volume_iou"] > 0.95


def test_orientation_counts_a_turned_perfect_cube_scores_low():
    """Normalising by the prediction's box before alignment shrinks a turned cube (the
    reason the generator squares its output to the axes)."""
    turned = score(_turned_box(30, (1, 1, 1)), _turned_box(0, (1, 1, 1)))
    assert turned["f@0.05"] < 0.2


def test_a_different_shape_scores_worse():
    sphere = trimesh.creation.icosphere(3)
    s = score(sphere, _turned_box(0))
    assert s["f@0.05"] < 0.6 and s["chamfer"] > 0.03


def test_orientation_tool_measures_yaw_modulo_a_quarter_turn():
    """tools/eval_orientation.py: the yaw error folds to [0, 45]° (a quarter turn is
    square again), and a real run renders a held-out object, generates it and reports
    the camera-frame error as the camera's azimuth folded."""
    from engine.generate.pipeline import DEFAULT_MODEL
    from tools.eval_orientation import measure, summarise, yaw_error

    assert yaw_error(0.0) == 0.0 and yaw_error(90.0) == 0.0 and yaw_error(-180.0) == 0.0
    assert yaw_error(30.0) == pytest.approx(30.0) and yaw_error(60.0) == pytest.approx(30.0)
    assert yaw_error(45.0) == pytest.approx(45.0) and yaw_error(-100.0) == pytest.approx(10.0)
    rows = measure(objects=1, views=2, seed=7, card_path=DEFAULT_MODEL)
    assert len(rows) == 2
    for row in rows:
        assert row["error_camera_frame"] == pytest.approx(yaw_error(-row["azimuth"]), abs=0.01)
        assert row["error_squared"] == pytest.approx(
            yaw_error(-row["azimuth"] + row["turned_deg"]), abs=0.01)
        assert -45.0 <= row["turned_deg"] < 45.0
    table, summary = summarise(rows)
    assert summary["renders"] == 2 and sum(k for _, k, *_ in table) == 2


def test_eval_tool_scores_procedural_validation_objects(tmp_path):
    """tools/eval_generator.py --procedural: a held-out procedural object is rendered,
    generated (a real `maquette generate` run) and scored, with both baselines."""
    import json

    from tools.eval_generator import main

    assert main(["--procedural", "1", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "eval.json").read_text())
    (row,) = report["rows"]
    assert row["asset"].startswith("000_") and (tmp_path / "objects" / row["asset"]).is_file()
    for method in ("model", "extruded", "ellipsoid"):
        assert 0.0 < row[method]["chamfer"] < 0.5
        assert 0.0 <= row[method]["f@0.05"] <= row[method]["f@0.1"] <= 1.0
    assert 0.5 < row["model"]["silhouette_iou"] <= 1.0
