"""The 3D evaluation's scoring (tools/eval_generator.py) on meshes with known answers."""

import numpy as np
import pytest

trimesh = pytest.importorskip("trimesh")

from tools.eval_generator import score  # noqa: E402


def _rotation_y(deg: float) -> np.ndarray:
    t = np.radians(deg)
    return np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])


def _rotation_x(deg: float) -> np.ndarray:
    t = np.radians(deg)
    return np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])


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


def test_psnr_ssim_and_iou_on_known_arrays():
    from tools.eval_views import MAX_PSNR, psnr, silhouette_iou, ssim

    a = np.full((32, 32, 3), 0.5)
    b = np.full((32, 32, 3), 0.6)
    assert psnr(a, b) == pytest.approx(20.0)  # MSE 0.01, peak 1
    assert psnr(a, a) == MAX_PSNR
    mask = np.zeros((32, 32), bool)
    mask[:8] = True
    c = b.copy()
    c[8:] = 0.5  # equal outside the mask: the masked PSNR sees only the difference
    assert psnr(a, c, mask) == pytest.approx(20.0) and psnr(a, c) == pytest.approx(26.02, abs=0.01)
    assert psnr(a, c, np.zeros((32, 32), bool)) is None
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 1, (32, 32, 3))
    assert ssim(noise, noise) == pytest.approx(1.0)
    # SSIM of a shifted mean: luminance term (2·0.5·0.6 + C1) / (0.25 + 0.36 + C1)
    c1 = 0.01 ** 2
    assert ssim(a, b) == pytest.approx((0.6 + c1) / (0.61 + c1), abs=1e-9)
    assert ssim(noise, rng.uniform(0, 1, (32, 32, 3))) < 0.1
    m1 = np.zeros((10, 10), bool)
    m1[:, :5] = True
    m2 = np.zeros((10, 10), bool)
    m2[:, 3:8] = True
    assert silhouette_iou(m1, m2) == pytest.approx(20 / 80)


def test_lab_chroma_and_colour_cast_flags():
    from engine.reference.color import float_to_lab as to_lab
    from tools.eval_views import colour_cast, mean_chroma

    lab = to_lab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    assert lab[0] == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    assert lab[1] == pytest.approx([32.30, 79.19, -107.86], abs=0.05)  # sRGB blue, D65
    assert np.degrees(np.arctan2(lab[2, 2], lab[2, 1])) % 360 == pytest.approx(136.0, abs=1)
    grey = np.full((8, 8, 3), 0.5)
    bluish = grey + np.array([-0.03, 0.0, 0.06])
    everywhere = np.ones((8, 8), bool)
    front, back = mean_chroma(grey, everywhere), mean_chroma(bluish, everywhere)
    assert back[1] < front[1] - 5
    # a back bluer than its front, where the ground truth's is not: flagged
    assert colour_cast(front, back, front, front)["flag"] == "blue"
    # the ground truth's back is as blue: no cast
    assert colour_cast(front, back, front, back)["flag"] is None
    # a warmer (redder) back is not a cast the issue names; a greener one is
    assert colour_cast((0, 0), (6, 2), (0, 0), (0, 0))["flag"] is None
    assert colour_cast((0, 0), (-6, 1), (0, 0), (0, 0))["flag"] == "green"
    assert colour_cast((0, 0), (5, -5), (0, 0), (0, 0))["flag"] == "purple"
    assert colour_cast((0, 0), (-1, -1), (0, 0), (0, 0))["flag"] is None  # under tolerance


def test_detail_ratio_and_ghost_score():
    from tools.eval_views import detail_energy, ghost_score, ratio

    rng = np.random.default_rng(1)
    mask = np.zeros((64, 64), bool)
    mask[8:56, 12:52] = True
    textured = np.repeat(rng.uniform(0.2, 0.8, (64, 64, 1)), 3, axis=2)
    flat = np.full((64, 64, 3), 0.5)
    assert detail_energy(flat, mask) == pytest.approx(0.0, abs=1e-12)
    assert ratio(detail_energy(flat, mask), detail_energy(textured, mask)) < 1e-9
    assert ratio(detail_energy(textured, mask), detail_energy(textured, mask)) == 1.0
    # a back that is the front mirrored left-right (a ghost) correlates fully
    front = textured
    assert ghost_score(front[:, ::-1], mask[:, ::-1], front, mask) == pytest.approx(1.0)
    other = np.repeat(rng.uniform(0.2, 0.8, (64, 64, 1)), 3, axis=2)
    assert abs(ghost_score(other, mask, front, mask)) < 0.15
    assert ghost_score(flat, np.zeros((64, 64), bool), front, mask) is None


def test_aligned_prediction_renders_as_the_ground_truth(tmp_path):
    """score_aligned's matrix puts a moved, turned and scaled copy of the ground truth
    back into its rest frame: rendered through the stage from the input's view and the
    back, it matches the ground truth's own render (the appearance metrics' premise)."""
    from tools.eval_generator import load_mesh, score_aligned
    from tools.eval_views import (
        render_views,
        view_distance,
        view_scores,
        views_for,
        write_transformed,
    )
    from tools.procedural import export_glb, random_object

    _, scene = random_object(np.random.default_rng([7, 3]))
    gt_path = tmp_path / "gt.glb"
    export_glb(scene, str(gt_path))
    moved = np.eye(4)
    moved[:3, :3] = 0.37 * _rotation_y(90.0)  # a quarter turn: inside the rotation grid
    moved[:3, 3] = [0.4, -0.2, 1.5]
    pred_path = tmp_path / "pred.glb"
    write_transformed(gt_path, moved, pred_path)
    gt = load_mesh(gt_path)
    metrics, matrix = score_aligned(load_mesh(pred_path), gt)
    assert metrics["chamfer"] < 0.02 and metrics["f@0.05"] > 0.99  # sampling noise only
    centre = write_transformed(pred_path, matrix, tmp_path / "aligned.glb")
    lo, hi = gt.bounds
    distance = view_distance(0.5 * float(np.linalg.norm(hi - lo)))
    views = [v for v in views_for(30.0, 20.0) if v.label in ("input", "+180")]
    gt_views = render_views(gt_path, views, distance=distance, size=64)
    pred_views = render_views(tmp_path / "aligned.glb", views, distance=distance,
                              offset=centre, size=64)
    for (p_rgb, p_mask), (g_rgb, g_mask) in zip(pred_views, gt_views, strict=True):
        s = view_scores(p_rgb, p_mask, g_rgb, g_mask)
        assert s["iou"] > 0.95 and s["psnr"] > 28 and s["ssim"] > 0.95
    # and without the offset the copy is not in place (the offset is what puts it there)
    if np.abs(centre).max() > 0.02 * (hi - lo).max():
        shifted = render_views(tmp_path / "aligned.glb", views[:1], distance=distance, size=64)
        assert view_scores(*shifted[0], *gt_views[0])["psnr"] < s["psnr"]


def test_appearance_alignment_breaks_symmetric_ties_towards_the_claimed_pose(tmp_path):
    """A cube's geometry fits any of 24 turns equally: the geometry's alignment takes
    the first best, the appearance's ICP from the pose the method claims when that fits
    as well (so a cube's logo faces are compared with the right faces). An asymmetric
    shape claimed a quarter turn off ends in the geometry's pose either way.
    The geometry's alignment never depends on the claim."""
    import json

    from tools.eval_generator import (
        align_matrices,
        camera_frame_pose,
        claimed_pose,
        normalise,
        rotation_angle,
    )

    cube = normalise(_turned_box(0, (1, 1, 1)))
    prior = _rotation_y(90.0) @ _rotation_x(3.0)  # the claim, a little off
    geometry, look = align_matrices(cube, cube, prior=prior)
    assert rotation_angle(look[:3, :3], _rotation_y(90.0)) < 1.0  # ICP settles it
    assert np.array_equal(geometry, align_matrices(cube, cube)[0])  # prior-free
    ell = trimesh.util.concatenate([trimesh.creation.box((1.0, 0.2, 0.2)),
                                    trimesh.creation.box((0.2, 0.7, 0.2),
                                                         transform=trimesh.transformations
                                                         .translation_matrix((0.4, 0.3, 0)))])
    ell = normalise(trimesh.Trimesh(ell.vertices, ell.faces))
    geometry, look = align_matrices(ell, ell, prior=prior)
    assert rotation_angle(geometry[:3, :3], np.eye(3)) < 3.0
    assert rotation_angle(look[:3, :3], geometry[:3, :3]) < 3.0  # the claim overruled

    # conventions: the camera frame's +z (toward the viewer) is the camera's direction
    az, el = 30.0, 20.0
    toward = camera_frame_pose(az, el) @ [0.0, 0.0, 1.0]
    a, e = np.radians(az), np.radians(el)
    assert toward == pytest.approx([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
    glb = tmp_path / "gen.glb"
    glb.with_suffix(".json").write_text(json.dumps(
        {"mesh": {"stood_upright": True, "turned_deg": 10.0}}))
    assert claimed_pose(glb, az, el) == pytest.approx(_rotation_y(20.0))
    glb.with_suffix(".json").write_text(json.dumps({"mesh": {"stood_upright": False}}))
    assert claimed_pose(glb, az, el) == pytest.approx(camera_frame_pose(az, el))


def test_eval_tool_scores_models_and_baselines_with_appearance(tmp_path):
    """tools/eval_generator.py --procedural --quick: a held-out procedural object is
    rendered under the front-view protocol, generated (a real `maquette generate` run),
    and every method's geometry and appearance scored; the table names every method."""
    import json

    from tools.eval_generator import PROTOCOLS, input_camera, main

    three_q = input_camera(PROTOCOLS["3q"], "plain", "x")
    assert (three_q["azimuth"], three_q["elevation"], three_q["fov"]) == (30.0, 20.0, 35.0)
    photo = [input_camera(PROTOCOLS["front"], "photo", f"o{i}") for i in range(20)]
    assert all(0 <= c["azimuth"] <= 10 and 5 <= c["elevation"] <= 10 and 30 <= c["fov"] <= 50
               for c in photo) and len({c["fov"] for c in photo}) > 10
    assert input_camera(PROTOCOLS["front"], "photo", "o1") == photo[1]  # the same every run

    table = tmp_path / "table.md"
    assert main(["--procedural", "1", "--quick", "--protocol", "front", "--out", str(tmp_path),
                 "--table", str(table)]) == 0
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["methods"] == ["maquette-ld-v3", "maquette-ld-v2", "extruded", "ellipsoid"]
    rows = report["rows"]
    assert [r["protocol"] for r in rows] == ["front"]
    assert 0 <= rows[0]["azimuth"] <= 10 and 5 <= rows[0]["elevation"] <= 10
    for row in rows:
        assert row["asset"].startswith("000_") and (tmp_path / "objects" / row["asset"]).is_file()
        for method in report["methods"]:
            assert 0.0 < row[method]["chamfer"] < 0.5
            assert 0.0 <= row[method]["f@0.05"] <= row[method]["f@0.1"] <= 1.0
        for model in ("maquette-ld-v3", "maquette-ld-v2"):
            assert 0.5 < row[model]["silhouette_iou"] <= 1.0
        for method in ("maquette-ld-v3", "maquette-ld-v2", "extruded"):
            m = row[method]
            assert set(m["views"]) == {"input", "+90", "+180", "+270"}
            assert 5 < m["novel_psnr"] < 60 and 0 < m["novel_ssim"] <= 1
            assert 0.3 < m["back_iou"] <= 1 and m["back_psnr_object"] > 5
            assert m["cast"]["flag"] in (None, "green", "blue", "purple")
            assert m["detail_ratio"] is None or m["detail_ratio"] >= 0
        assert "views" not in row["ellipsoid"]
    text = table.read_text()
    for name in ("**front**", "maquette-ld-v3", "maquette-ld-v2", "extruded", "ellipsoid",
                 "ground truth"):
        assert name in text


def test_contact_sheet_renders_each_side_of_each_model(tmp_path):
    """The sheet (input | front, left, right, back per model) is written, and a tile of a
    loadable asset is a render, not the red tile that marks a failure."""
    from PIL import Image

    from tools.eval_generator import contact_sheet

    glb = tmp_path / "box.glb"
    _turned_box(0).export(glb)
    image = tmp_path / "in.png"
    Image.new("RGB", (32, 32), (200, 40, 40)).save(image)
    sheet = tmp_path / "sheet.png"
    contact_sheet([(image, [glb])], sheet, cell=48, labels=["m"])
    tiles = np.asarray(Image.open(sheet).convert("RGB"))[18:, 48:].astype(int)
    assert tiles.shape[:2] == (48, 4 * 48)
    red = (tiles[..., 0] > 200) & (tiles[..., 1] < 30) & (tiles[..., 2] < 30)
    assert red.mean() < 0.5
