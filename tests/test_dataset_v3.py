"""v3 training data and training (issue 20): albedo targets, the photo look, the
front_albedo output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from PIL import Image
from trimesh.visual import TextureVisuals
from trimesh.visual.material import PBRMaterial

RED, BLUE = (200, 40, 40), (30, 60, 210)


def _two_tone_box(path):
    """A 1 m box whose front half (z > 0) is red and back half (z < 0) blue; base on
    y = 0. Returns its vertices."""
    from tools.procedural import export_glb

    scene = trimesh.Scene()
    for name, colour, z in (("front", RED, 0.25), ("back", BLUE, -0.25)):
        box = trimesh.creation.box((1.0, 1.0, 0.5))
        box.apply_translation((0, 0.5, z))
        texture = Image.new("RGB", (8, 8), colour)
        texture.format = "PNG"
        box.visual = TextureVisuals(
            uv=np.full((len(box.vertices), 2), 0.5),
            material=PBRMaterial(baseColorTexture=texture, baseColorFactor=[255] * 4,
                                 metallicFactor=0.0, roughnessFactor=0.6))
        scene.add_geometry(box, geom_name=name)
    export_glb(scene, path)
    return np.concatenate([np.asarray(g.vertices) for g in scene.geometry.values()])


@pytest.mark.parametrize("fov", [0.0, 40.0])
def test_albedo_targets_carry_no_light_tint(tmp_path, fov):
    """Under the neon preset the lit render is tinted, the base-colour targets are not:
    the front albedo is the front half's red and the back albedo (the farthest surface
    of each ray) the back half's blue, within 3/255, orthographic and perspective."""
    from tools.make_dataset import Renderer

    glb = tmp_path / "box.glb"
    verts = _two_tone_box(glb)
    views = [{"azimuth": 0.0, "elevation": 5.0, "lights": "neon", "exposure": 0.0,
              "fov": fov}]
    (r,) = Renderer(32, lit_back=fov == 0).render_object(str(glb), verts, views)
    m = r["mask"]
    inner = m & np.roll(m, 2, 0) & np.roll(m, -2, 0) & np.roll(m, 2, 1) & np.roll(m, -2, 1)
    assert inner.sum() > 200
    front = r["front_albedo"][inner].astype(float)
    # the rays through the middle leave by the back face (near the outline a perspective
    # ray leaves by a side, whose far end is red)
    centre = np.zeros_like(m)
    centre[12:20, 12:20] = True
    back = r["back_albedo"][centre].astype(float)
    assert np.abs(front - RED).max() <= 3
    assert np.abs(back - BLUE).max() <= 3
    lit = r["rgba"][..., :3][inner].astype(float)
    assert np.abs(lit.mean(0) - RED).max() > 10  # the light's tint is in the lit render
    assert np.all(r["front"][m] <= r["back"][m])
    assert ("back_rgba" in r) == (fov == 0)


def test_albedo_targets_follow_the_texture(tmp_path):
    """The base-colour targets sample the texture at each surface point's UV: a box
    whose front face shows a texture red on its left half and blue on its right comes
    out red on the left of the crop and blue on the right (from 2026-12-03 to 12-07 the
    pass read a texture coordinate column the renderer had renamed, so every target was
    the texture's corner texel: one colour per part)."""
    from tools.make_dataset import Renderer
    from tools.procedural import export_glb

    box = trimesh.creation.box((1.0, 1.0, 0.4))
    box.apply_translation((0, 0.5, 0))
    v = np.asarray(box.vertices)
    texture = Image.new("RGB", (8, 8), RED)
    texture.paste(BLUE, (4, 0, 8, 8))
    texture.format = "PNG"
    box.visual = TextureVisuals(  # u from x: the left half of every face is red
        uv=np.stack([np.where(v[:, 0] < 0, 0.05, 0.95), np.full(len(v), 0.5)], 1),
        material=PBRMaterial(baseColorTexture=texture, baseColorFactor=[255] * 4,
                             metallicFactor=0.0, roughnessFactor=0.6))
    scene = trimesh.Scene()
    scene.add_geometry(box, geom_name="box")
    export_glb(scene, tmp_path / "box.glb")
    views = [{"azimuth": 0.0, "elevation": 0.0, "lights": "studio", "exposure": 0.0,
              "fov": 0.0}]
    (r,) = Renderer(32).render_object(str(tmp_path / "box.glb"), v, views)
    cols = np.nonzero(r["mask"].any(0))[0]
    left, right = cols.min() + 2, cols.max() - 2
    rows = slice(12, 20)
    assert np.abs(r["front_albedo"][rows, left].astype(float) - RED).max() <= 3
    assert np.abs(r["front_albedo"][rows, right].astype(float) - BLUE).max() <= 3


def test_photo_look_shard(tmp_path):
    """--look photo: albedo targets, no lit back, perspective views near eye level that
    are framed like v2's (silhouette box 0.85 of the crop, centred)."""
    from tools.make_dataset import PHOTO_FOV, main

    out = tmp_path / "photo"
    assert main(["--out", str(out), "--count", "4", "--size", "32", "--shard-size", "4",
                 "--views", "4", "--seed", "11", "--look", "photo", "--quiet"]) == 0
    z = np.load(out / "shard_00000.npz")
    assert "back_rgba" not in z.files
    assert z["front_albedo"].shape == z["back_albedo"].shape == (4, 32, 32, 3)
    assert json.loads((out / "dataset.json").read_text())["look"] == "photo"
    for i in range(4):
        meta = json.loads(str(z["meta"][i]))
        assert meta["look"] == "photo"
        assert meta["fov"] == 0 or PHOTO_FOV[0] <= meta["fov"] <= PHOTO_FOV[1]
        assert -5 <= meta["elevation"] <= 35
        m = z["mask"][i]
        rows, cols = np.nonzero(m)
        span = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
        assert abs(span / 32 - 0.85) <= 2.5 / 32
        assert abs((rows.min() + rows.max()) / 2 - 15.5) <= 1.5
        assert abs((cols.min() + cols.max()) / 2 - 15.5) <= 1.5
        front, back = z["front"][i].astype(float), z["back"][i].astype(float)
        assert np.all(front[m] <= back[m] + 1e-3)
        k, ax, ay = meta["lens"]  # the crop's lens: k = crop side / distance, about fov's
        if meta["fov"] == 0:
            assert (k, ax, ay) == (0, 0, 0)
        else:
            assert k == pytest.approx(2 * np.tan(np.radians(meta["fov"]) / 2), rel=0.15)
            assert abs(ax) < 0.5 and abs(ay) < 0.5


def test_photo_look_objects():
    """The photo look is deterministic, reaches the frame family, and swaps printed
    materials for photographic ones; the v2 look (the held-out procedural objects) is
    what random_object gave before the look existed."""
    from tools.procedural.objects import PHOTO_MATERIALS, random_object

    families = set()
    for seed in range(40):
        kind_a, a = random_object(np.random.default_rng([3, seed]), "photo")
        kind_b, b = random_object(np.random.default_rng([3, seed]), "photo")
        assert kind_a == kind_b
        va = np.concatenate([np.asarray(g.vertices) for g in a.geometry.values()])
        vb = np.concatenate([np.asarray(g.vertices) for g in b.geometry.values()])
        assert np.array_equal(va, vb) and np.all(np.isfinite(va))
        assert np.ptp(va, axis=0).max() == pytest.approx(1.0, abs=0.02) or \
            kind_a.startswith("sample")
        families.add(kind_a.split("-")[0])
        for g in a.geometry.values():
            assert g.visual.material.name.split("-")[-1] in PHOTO_MATERIALS
    assert "frame" in families and len(families) >= 6
    # the v2 look: same generator, same object as the default call
    kind, scene = random_object(np.random.default_rng([7, 3]), "v2")
    kind0, scene0 = random_object(np.random.default_rng([7, 3]))
    assert kind == kind0
    with pytest.raises(ValueError, match="look"):
        random_object(np.random.default_rng(0), "painted")


def test_front_albedo_head_starts_from_a_six_output_checkpoint():
    """widen_head: a v2-style checkpoint loads into a net with the front_albedo output;
    the first four outputs are unchanged and the new one starts as the back colour."""
    torch = pytest.importorskip("torch")
    from tools.train_generator import LayeredDepthNet, widen_head

    torch.manual_seed(0)
    six = LayeredDepthNet((8, 8, 16, 16)).eval()
    nine = LayeredDepthNet((8, 8, 16, 16), front_albedo=True)
    nine.load_state_dict(widen_head(six.state_dict(), 9))
    nine.eval()
    assert nine.output_names() == ["mask", "front_depth", "back_depth", "back_color",
                                   "front_albedo"]
    x = torch.randn(2, 4, 32, 32)
    with torch.no_grad():
        a, b = six(x), nine(x)
    assert len(b) == 5
    for u, v in zip(a, b[:4], strict=True):
        assert torch.equal(u, v)
    assert torch.equal(b[4], b[3])


def test_training_on_a_shard_without_the_target_names_the_field(tmp_path):
    """--back-target lit on photo-look shards (no lit back): refused, naming the shard
    and the field."""
    pytest.importorskip("torch")
    from tools.make_dataset import main as make
    from tools.train_generator import main as train

    data = tmp_path / "data"
    make(["--out", str(data), "--count", "2", "--size", "32", "--shard-size", "1",
          "--views", "1", "--seed", "12", "--look", "photo", "--quiet"])
    with pytest.raises(SystemExit, match="shard_0000.*back_rgba"):
        train(["--data", str(data), "--out", str(tmp_path / "run"), "--back-target", "lit",
               "--steps", "1", "--batch", "1", "--widths", "8,8,16,16"])


def test_warm_start_is_small_and_loads(tmp_path):
    """tools/make_warm_start.py: float16 weights without the view head or optimiser,
    which load_net reads back to the same outputs up to float16 rounding."""
    torch = pytest.importorskip("torch")
    from tools.make_warm_start import main as make
    from tools.train_generator import LayeredDepthNet, ViewHead, load_net

    torch.manual_seed(0)
    net = LayeredDepthNet((8, 8, 16, 16), front_albedo=True)
    net.view_head = ViewHead(32, 4)
    config = {"widths": [8, 8, 16, 16], "size": 32, "front_albedo": True,
              "view_head_hidden": 4}
    torch.save({"model": net.state_dict(), "config": config, "step": 7,
                "opt": torch.optim.AdamW(net.parameters()).state_dict()}, tmp_path / "ck.pt")
    assert make([str(tmp_path / "ck.pt"), str(tmp_path / "warm.pt")]) == 0
    warm = torch.load(tmp_path / "warm.pt", weights_only=False)
    assert "opt" not in warm and warm["step"] == 7
    assert not any(k.startswith("view_head.") for k in warm["model"])
    assert all(v.dtype == torch.float16 for v in warm["model"].values()
               if v.is_floating_point())
    back = load_net(warm).float().eval()
    net.view_head = None
    x = torch.randn(1, 4, 32, 32)
    with torch.no_grad():
        for a, b in zip(net.eval()(x), back(x), strict=True):
            assert float((a - b).abs().max()) < 2e-2


def test_view_head_taken_from_the_shipped_graph(tmp_path):
    """train_view_head --from-onnx: v2's head on v2's fp16 warm start (what a
    --freeze-encoder fine-tune keeps) gives the shipped graph's view_elevation."""
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from tools.make_dataset import main as make
    from tools.train_generator import load_net
    from tools.train_view_head import main as graft

    from .conftest import ROOT

    models = ROOT / "models"
    data = tmp_path / "data"
    make(["--out", str(data), "--count", "4", "--size", "128", "--shard-size", "4",
          "--views", "4", "--seed", "5", "--quiet"])
    out = tmp_path / "view.pt"
    assert graft(["--checkpoint", str(models / "maquette-ld-v2.weights-fp16.pt"), "--out",
                  str(out), "--val", str(data / "shard_00000.npz"), "--from-onnx",
                  str(models / "maquette-ld-v2.onnx")]) == 0
    ck = torch.load(out, weights_only=False)
    assert ck["config"]["view_head_hidden"] == 64
    net = load_net(ck).float().eval()
    x = np.zeros((1, 4, 128, 128), np.float32)
    x[0, :, 32:96, 40:88] = 0.6
    sess = ort.InferenceSession(str(models / "maquette-ld-v2.onnx"),
                                providers=["CPUExecutionProvider"])
    expected = sess.run(["view_elevation"], {"image": x})[0]
    with torch.no_grad():
        got = net(torch.from_numpy(x))[-1].numpy()
    assert abs(float(expected[0, 0]) - float(got[0, 0])) < 0.5  # degrees


def test_a_photo_look_model_is_exported_with_a_perspective_card(tmp_path):
    """export_onnx on photo-look data writes a perspective card (fov 40 unless --fov
    says otherwise; --fov 0: orthographic) that the runtime loads with that lens."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from engine.generate.card import load_card
    from tools.export_onnx import main as export
    from tools.make_dataset import main as make
    from tools.train_generator import main as train

    data, run = tmp_path / "data", tmp_path / "run"
    make(["--out", str(data), "--count", "4", "--size", "32", "--shard-size", "2",
          "--views", "2", "--seed", "12", "--look", "photo", "--quiet"])
    train(["--data", str(data), "--out", str(run), "--steps", "1", "--batch", "2",
           "--widths", "8,8,16,16", "--val-count", "2", "--eval-every", "1",
           "--front-albedo-weight", "1"])
    for fov, want in ((None, 40.0), ("0", 0.0)):
        out = tmp_path / f"models-{fov}"
        assert export(["--checkpoint", str(run / "best.pt"), "--data", str(data),
                       "--name", "tiny", "--out", str(out), "--val-count", "2",
                       *([] if fov is None else ["--fov", fov])]) == 0
        card = load_card(out / "tiny.json")
        assert card.fov_deg == want
        assert card.raw["camera"]["type"] == ("perspective" if want else "orthographic")


def test_product_family():
    """--family product: printed boxes, appliances and vans, deterministic, longest
    side 1 m; the print stays on the +z faces in the photo look (the rest is its plain
    ground colour, so no back repeats the front's logo); an unknown family is named."""
    from tools.procedural.objects import random_object

    kinds = set()
    for seed in range(16):
        kind, scene = random_object(np.random.default_rng([21, seed]), "photo", "product")
        again, scene2 = random_object(np.random.default_rng([21, seed]), "photo", "product")
        assert kind == again and kind.startswith("product-")
        kinds.add(kind)
        va = np.concatenate([np.asarray(g.vertices) for g in scene.geometry.values()])
        vb = np.concatenate([np.asarray(g.vertices) for g in scene2.geometry.values()])
        assert np.array_equal(va, vb)
        assert np.ptp(va, axis=0).max() == pytest.approx(1.0, abs=0.02)
        printed = [g for g in scene.geometry.values() if g.visual.material.name == "graphic"
                   and min(g.visual.material.baseColorTexture.size) > 4]
        assert len(printed) == 1
        assert np.all(printed[0].face_normals[:, 2] > 0.85)
    assert kinds == {"product-package", "product-appliance", "product-vehicle"}
    with pytest.raises(ValueError, match="family"):
        random_object(np.random.default_rng(0), "photo", "spaceship")


def test_family_shard(tmp_path):
    """make_dataset --family: every sample of the shard is of that family, and
    dataset.json says so."""
    from tools.make_dataset import main

    out = tmp_path / "product"
    assert main(["--out", str(out), "--count", "4", "--size", "32", "--shard-size", "4",
                 "--views", "2", "--seed", "5", "--look", "photo", "--family", "product",
                 "--quiet"]) == 0
    z = np.load(out / "shard_00000.npz")
    assert all(json.loads(str(m))["family"].startswith("product-") for m in z["meta"])
    assert json.loads((out / "dataset.json").read_text())["family"] == "product"
