"""The generator's training tools (dataset, training, export) and the shipped model."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
CARDS = sorted(MODELS.glob("*.json"))


def test_procedural_objects_are_deterministic_and_sized():
    from tools.procedural.objects import random_object

    for seed in range(12):
        kind_a, a = random_object(np.random.default_rng(seed))
        kind_b, b = random_object(np.random.default_rng(seed))
        assert kind_a == kind_b
        va = np.concatenate([np.asarray(g.vertices) for g in a.geometry.values()])
        vb = np.concatenate([np.asarray(g.vertices) for g in b.geometry.values()])
        assert np.array_equal(va, vb)
        assert np.all(np.isfinite(va))


def test_make_dataset_tiny_shard(tmp_path):
    from tools.make_dataset import main

    out = tmp_path / "data"
    assert main(["--out", str(out), "--count", "2", "--size", "32", "--shard-size", "2",
                 "--views", "2", "--seed", "3", "--quiet"]) == 0
    z = np.load(out / "shard_00000.npz")
    assert z["rgba"].shape == (2, 32, 32, 4) and z["rgba"].dtype == np.uint8
    assert z["back_rgba"].shape == (2, 32, 32, 4)
    assert z["mask"].shape == (2, 32, 32) and z["mask"].dtype == bool
    for key in ("front", "back"):
        assert z[key].shape == (2, 32, 32)
    assert len(z["meta"]) == 2
    for i in range(2):
        m = z["mask"][i]
        front = z["front"][i].astype(np.float32)
        back = z["back"][i].astype(np.float32)
        assert m.sum() > 20
        assert np.all(front[m] <= back[m] + 1e-3)
        assert np.all(front[~m] == 0) and np.all(back[~m] == 0)
        # crop units: an object fitting 0.85 of the crop cannot be deeper than ~1.5
        assert np.abs(front).max() < 1.5 and np.abs(back).max() < 1.5
        # framing: mask bbox centred, longer side ~0.85 of the crop
        rows, cols = np.nonzero(m)
        span = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
        assert abs(span / 32 - 0.85) <= 2.5 / 32
        assert abs((rows.min() + rows.max()) / 2 - 15.5) <= 1.5
        assert abs((cols.min() + cols.max()) / 2 - 15.5) <= 1.5
        # rendered coverage agrees with the silhouette
        assert np.mean((z["rgba"][i][..., 3] > 127) == m) > 0.95
        meta = json.loads(str(z["meta"][i]))
        assert -10 <= meta["elevation"] <= 40
    # resumable: a second run skips the existing shard
    before = (out / "shard_00000.npz").stat().st_mtime_ns
    main(["--out", str(out), "--count", "2", "--size", "32", "--shard-size", "2",
          "--views", "2", "--seed", "3", "--quiet"])
    assert (out / "shard_00000.npz").stat().st_mtime_ns == before
    # --first-shard: validation shard 0 and the shards from N on; the rest skipped
    fresh = tmp_path / "fresh"
    main(["--out", str(fresh), "--count", "6", "--size", "32", "--shard-size", "2",
          "--views", "2", "--seed", "3", "--quiet", "--first-shard", "2"])
    assert sorted(q.name for q in fresh.glob("shard_*.npz")) == ["shard_00000.npz",
                                                                 "shard_00002.npz"]
    assert np.array_equal(np.load(fresh / "shard_00000.npz")["rgba"], z["rgba"])


def test_training_step_and_losses():
    torch = pytest.importorskip("torch")
    from tools.train_generator import LayeredDepthNet, augment, losses

    torch.manual_seed(0)
    net = LayeredDepthNet((8, 8, 16, 16), full=8)
    B, S = 2, 32
    m = torch.zeros(B, 1, S, S)
    m[:, :, 8:24, 8:24] = 1
    batch = {"rgb": torch.rand(B, 3, S, S), "alpha": m.clone(), "back_rgb": torch.rand(B, 3, S, S),
             "mask": m.clone(), "front": -0.1 * m, "back": 0.2 * m}
    x, b = augment(batch, torch.Generator().manual_seed(0))
    assert x.shape == (B, 4, S, S)
    out = net(x)
    assert [tuple(o.shape) for o in out] == [(B, 1, S, S)] * 3 + [(B, 3, S, S)]
    assert torch.all(out[2] >= out[1])
    assert 0 <= float(out[3].min()) and float(out[3].max()) <= 1
    t = losses(out, b)
    assert math.isfinite(float(t["total"]))
    t["total"].backward()


@pytest.mark.skipif(not CARDS, reason="no model shipped in models/")
@pytest.mark.parametrize("card_path", CARDS, ids=[c.stem for c in CARDS])
def test_shipped_card_matches_onnx(card_path):
    card = json.loads(card_path.read_text())
    onnx_path = card_path.parent / card["onnx"]
    assert onnx_path.is_file()
    assert onnx_path.stat().st_size <= 30 * 1024 * 1024
    assert hashlib.sha256(onnx_path.read_bytes()).hexdigest() == card["sha256"]
    assert card["format"] == "maquette-layered-depth/1"
    assert card["input"]["channels"] == ["r", "g", "b", "mask"]
    assert card["input"]["foreground_ratio"] == 0.85
    camera = card["camera"]
    assert camera["type"] == "orthographic" or (
        camera["type"] == "perspective" and 30 <= camera["fov_deg"] <= 50)
    assert not any("shared/assets" in str(v) for v in
                   (card["training_data"],)), "held-out assets must not be training data"


@pytest.mark.skipif(not CARDS, reason="no model shipped in models/")
@pytest.mark.parametrize("card_path", CARDS, ids=[c.stem for c in CARDS])
def test_shipped_onnx_runs_on_cpu(card_path):
    ort = pytest.importorskip("onnxruntime")
    card = json.loads(card_path.read_text())
    sess = ort.InferenceSession(str(card_path.parent / card["onnx"]),
                                providers=["CPUExecutionProvider"])
    inp = card["input"]
    assert [i.name for i in sess.get_inputs()] == [inp["name"]]
    S = inp["size"]
    x = np.full((1, 4, S, S), 0.5, np.float32)
    yy, xx = np.mgrid[:S, :S]
    disc = ((yy - S / 2) ** 2 + (xx - S / 2) ** 2) < (0.425 * S) ** 2
    x[0, 0][disc], x[0, 1][disc], x[0, 2][disc] = 0.8, 0.3, 0.2
    x[0, 3] = disc
    mean = np.array(inp["mean"], np.float32).reshape(1, 4, 1, 1)
    std = np.array(inp["std"], np.float32).reshape(1, 4, 1, 1)
    names = [card["outputs"][k] for k in ("mask", "front_depth", "back_depth", "back_color")]
    mask, front, back, color = sess.run(names, {inp["name"]: (x - mean) / std})
    assert mask.shape == front.shape == back.shape == (1, 1, S, S)
    assert color.shape == (1, 3, S, S)
    assert np.all(back >= front - 1e-5)
    assert color.min() >= 0 and color.max() <= 1
    assert np.all(np.isfinite(front)) and np.all(np.isfinite(back))


def test_view_head_trains_and_round_trips(tmp_path):
    """tools/train_view_head.py on a real (tiny) shard: the checkpoint it writes loads
    with a fifth output, the elevation in degrees, one per image."""
    torch = pytest.importorskip("torch")
    from tools.make_dataset import main as make
    from tools.train_generator import LayeredDepthNet, load_net
    from tools.train_view_head import main as train_head

    data = tmp_path / "data"
    make(["--out", str(data), "--count", "8", "--size", "32", "--shard-size", "8",
          "--views", "4", "--seed", "5", "--quiet"])
    net = LayeredDepthNet((8, 8, 16, 16))
    config = {"widths": [8, 8, 16, 16], "size": 32}
    optimiser = torch.optim.AdamW(net.parameters())
    torch.save({"model": net.state_dict(), "config": config, "opt": optimiser.state_dict()},
               tmp_path / "net.pt")
    shard = str(data / "shard_00000.npz")
    train_head(["--checkpoint", str(tmp_path / "net.pt"), "--out", str(tmp_path / "view.pt"),
                "--train", shard, "--val", shard, "--epochs", "3", "--hidden", "4"])
    checkpoint = torch.load(tmp_path / "view.pt", weights_only=False)
    assert checkpoint["config"]["view_head_hidden"] == 4
    assert checkpoint["view_head"]["train_renders"] == 8
    assert "opt" not in checkpoint  # for export only: small enough to bring back
    loaded = load_net(checkpoint).eval()
    with torch.no_grad():
        out = loaded(torch.zeros(2, 4, 32, 32))
    assert len(out) == 5 and out[4].shape == (2, 1)
    assert -90 < float(out[4][0, 0]) < 90


def test_fine_tuning_starts_from_a_checkpoint(tmp_path):
    """train_generator --init: the network (widths from the checkpoint, its view head
    dropped) starts from the given weights and trains on."""
    torch = pytest.importorskip("torch")
    from tools.make_dataset import main as make
    from tools.train_generator import LayeredDepthNet, ViewHead
    from tools.train_generator import main as train

    data = tmp_path / "data"
    make(["--out", str(data), "--count", "4", "--size", "32", "--shard-size", "2",
          "--views", "2", "--seed", "6", "--quiet"])
    assert len(list(data.glob("shard_*.npz"))) == 2  # validation + one training shard
    torch.manual_seed(1)
    net = LayeredDepthNet((8, 8, 16, 16))
    net.view_head = ViewHead(32, 4)
    torch.save({"model": net.state_dict(), "config": {"widths": [8, 8, 16, 16], "size": 32,
                                                      "view_head_hidden": 4}},
               tmp_path / "init.pt")
    out = tmp_path / "run"
    assert train(["--data", str(data), "--out", str(out), "--init", str(tmp_path / "init.pt"),
                  "--steps", "2", "--batch", "2", "--eval-every", "1", "--val-count", "2",
                  "--lr", "1e-3"]) == 0
    tuned = torch.load(out / "model.pt", weights_only=False)
    assert tuned["config"]["widths"] == [8, 8, 16, 16]
    assert tuned["config"]["init"] == str(tmp_path / "init.pt")
    assert not any(k.startswith("view_head.") for k in tuned["model"])
    start = {k: v for k, v in net.state_dict().items() if not k.startswith("view_head.")}
    assert tuned["model"].keys() == start.keys()
    moved = [k for k in start if start[k].dtype.is_floating_point
             and not torch.equal(start[k], tuned["model"][k])]
    assert moved  # it trained from there
    near = [k for k in moved if k.endswith(".weight")
            and float((start[k] - tuned["model"][k]).abs().max()) < 0.05]
    assert near  # two small steps: the weights stay near the ones it started from
    # --freeze-bn: batch-norm statistics, scales and shifts stay as they were
    assert any(".running_mean" in k for k in moved)  # (they moved without it)
    assert train(["--data", str(data), "--out", str(tmp_path / "frozen"), "--init",
                  str(tmp_path / "init.pt"), "--freeze-bn", "--steps", "2", "--batch", "2",
                  "--eval-every", "1", "--val-count", "2", "--lr", "1e-3"]) == 0
    frozen = torch.load(tmp_path / "frozen" / "model.pt", weights_only=False)["model"]
    bn = [k for k in start if k.rsplit(".", 1)[0] + ".running_var" in start]
    assert bn and all(torch.equal(start[k], frozen[k]) for k in bn)
    assert any(not torch.equal(start[k], frozen[k]) for k in start if k not in bn)



def test_depth_teacher_sets_the_depth_targets(tmp_path):
    """train_generator --depth-teacher: the depth terms compare the student with the
    frozen teacher's prediction on the same augmented input, not with the renders. A
    student started from the teacher (batch norm frozen) has zero depth loss on its
    first step; without the teacher the same step has a depth loss; colour trains in
    both, and validation still scores depth against the renders."""
    torch = pytest.importorskip("torch")
    from tools.make_dataset import main as make
    from tools.train_generator import LayeredDepthNet, ViewHead
    from tools.train_generator import main as train

    data = tmp_path / "data"
    make(["--out", str(data), "--count", "4", "--size", "32", "--shard-size", "2",
          "--views", "2", "--seed", "6", "--quiet"])
    torch.manual_seed(2)
    net = LayeredDepthNet((8, 8, 16, 16))
    net.view_head = ViewHead(32, 4)  # the teacher's view head is not part of it
    torch.save({"model": net.state_dict(), "config": {"widths": [8, 8, 16, 16], "size": 32,
                                                      "view_head_hidden": 4}},
               tmp_path / "v2.pt")
    common = ["--data", str(data), "--init", str(tmp_path / "v2.pt"), "--freeze-bn",
              "--steps", "1", "--batch", "2", "--eval-every", "1", "--val-count", "2"]
    assert train(common + ["--out", str(tmp_path / "taught"),
                           "--depth-teacher", str(tmp_path / "v2.pt")]) == 0
    assert train(common + ["--out", str(tmp_path / "plain")]) == 0
    taught = torch.load(tmp_path / "taught" / "model.pt", weights_only=False)
    plain = torch.load(tmp_path / "plain" / "model.pt", weights_only=False)
    t, p = taught["rows"][-1], plain["rows"][-1]
    for k in ("train_front", "train_back", "train_thick", "train_grad"):
        assert t[k] < 1e-6 and p[k] > 1e-3, k
    assert t["train_color"] == pytest.approx(p["train_color"])  # colour: the renders
    assert taught["rows"][0]["val_front"] == pytest.approx(plain["rows"][0]["val_front"])
    assert taught["config"]["depth_teacher"] == str(tmp_path / "v2.pt")

@pytest.mark.parametrize("name", ["maquette-ld-v3", "maquette-ld-v2"])
def test_shipped_training_weights_are_the_shipped_model(name):
    """models/NAME.weights-fp16.pt (the start for `train_generator.py --init`) holds the
    network the ONNX graph of the same name was exported from: same outputs on the same
    input, up to float16 rounding."""
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from tools.train_generator import load_net

    weights = MODELS / f"{name}.weights-fp16.pt"
    card = json.loads((MODELS / f"{name}.json").read_text())
    net = load_net(torch.load(weights, weights_only=False, map_location="cpu")).float().eval()
    S = card["input"]["size"]
    rng = np.random.default_rng(0)
    x = np.full((1, 4, S, S), 0.5, np.float32)
    yy, xx = np.mgrid[:S, :S]
    blob = ((yy - S / 2) / 0.4) ** 2 + ((xx - S / 2) / 0.3) ** 2 < (S / 2) ** 2
    x[0, :3] = np.where(blob, rng.uniform(0.2, 0.9, (3, S, S)), 0.5)
    x[0, 3] = blob
    x = (x - 0.5) / 0.5  # the card's mean and std
    assert card["input"]["mean"] == [0.5] * 4 and card["input"]["std"] == [0.5] * 4
    sess = ort.InferenceSession(str(MODELS / card["onnx"]), providers=["CPUExecutionProvider"])
    names = [card["outputs"][k] for k in ("front_depth", "back_depth", "back_color")]
    expected = sess.run(names, {card["input"]["name"]: x})
    with torch.no_grad():
        got = net(torch.from_numpy(x))[1:4]
    for e, g in zip(expected, got, strict=True):
        assert np.abs(e - g.numpy()).max() < 5e-3


def test_normal_error_sees_a_rounded_crease():
    """The surface-normal term is 0 for the true depth, small for an offset copy (L1
    would not be), large for a rounded roof crease of the same depth range, and joins
    the total only when weighted."""
    torch = pytest.importorskip("torch")
    from tools.train_generator import _normal_error, losses

    S = 64
    x = torch.linspace(-0.5, 0.5, S).view(1, 1, 1, S).expand(1, 1, S, S)
    roof = -(0.4 - x.abs())  # a crease down the middle, faces at 45°·0.4 slope
    rounded = -(0.4 - torch.sqrt(x ** 2 + 0.01))  # the same crease, rounded
    m = torch.ones(1, 1, S, S)
    assert float(_normal_error(roof, roof, m)) < 1e-6
    assert float(_normal_error(roof + 0.05, roof, m)) < 1e-6  # an offset keeps normals
    assert float(_normal_error(rounded, roof, m)) > 0.01
    out = [torch.zeros(1, 1, S, S), rounded, rounded + 0.2, torch.zeros(1, 3, S, S)]
    b = {"mask": m, "front": roof, "back": roof + 0.2, "back_rgb": torch.zeros(1, 3, S, S)}
    plain, weighted = losses(out, b), losses(out, b, normal_weight=2.0)
    assert float(plain["normal"]) > 0.02
    assert float(weighted["total"] - plain["total"]) == pytest.approx(
        2.0 * float(plain["normal"]), rel=1e-5)


def test_device_scripts_parse_and_need_an_output_folder(tmp_path):
    """tools/device/*.sh are for a lent GPU machine (dry-run by hand, see
    docs/GENERATOR.md); here: they parse, and train_v3.sh stops at once, saying why,
    when $OUT (where a device call's files come back from) is not set."""
    import os
    import subprocess

    for script in sorted((ROOT / "tools" / "device").glob("*.sh")):
        subprocess.run(["bash", "-n", str(script)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    done = subprocess.run(["bash", str(ROOT / "tools" / "device" / "train_v3.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "OUT" in done.stderr
