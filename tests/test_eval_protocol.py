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
