"""Export a trained layered-depth generator to ONNX and write its model card.

    python tools/export_onnx.py --checkpoint /work/data/run1/best.pt \
        --data /work/data/ld128 --name maquette-ld-v2 --out models/

Writes OUT/NAME.onnx and OUT/NAME.json (docs/GENERATOR_INTERFACE.md). Checks that
onnxruntime (CPU) and torch agree on validation inputs (max abs difference per
output), measures CPU inference time, and fills the card's metrics by running the
exported ONNX graph on the validation shard (shard_00000.npz: objects that appear
in no training shard) next to trivial baselines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.fileio import file_sha256  # noqa: E402
from engine.generate.card import (  # noqa: E402
    BACKGROUND,
    CHANNELS,
    FOREGROUND_RATIO,
    FORMAT,
    MAX_FOV_DEG,
)
from tools.train_generator import (  # noqa: E402
    BACK_TARGETS,
    MEAN,
    OUTPUT_NAMES,
    STD,
    ShardData,
    load_net,
    plain_input,
)

OPSET = 17
PHOTO_DEFAULT_FOV = 40.0  # degrees: the middle of the photo look's 30-50


class _Export(__import__("torch").nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        return self.net(image)


def export(checkpoint: Path, onnx_path: Path, front_albedo: bool = True):
    import torch

    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = ck["config"]
    net = load_net(ck).float()
    net.front_albedo = net.front_albedo and front_albedo  # (the head keeps its channels)
    net.eval()
    names = net.output_names()
    size = int(cfg["size"])
    dummy = torch.zeros(1, 4, size, size)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        _Export(net).eval(), (dummy,), str(onnx_path), input_names=["image"],
        output_names=names, opset_version=OPSET, dynamo=False,
        dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}},
    )
    import onnx

    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model)
    return net, ck, size


def front_albedo_metrics(sess, data: ShardData, batch: int = 16) -> dict[str, float]:
    """L1 (mean over RGB, inside the true mask) of the front_albedo output against the
    front's rendered base colour, and of the input image itself (no delighting)."""
    sums = {"front_albedo_l1": 0.0, "front_albedo_input_l1": 0.0}
    n = 0.0
    for start in range(0, len(data), batch):
        b = data.batch(np.arange(start, min(start + batch, len(data))))
        pred = sess.run(["front_albedo"], {"image": plain_input(b).numpy()})[0]
        m = b["mask"].numpy() > 0.5
        truth = b["front_rgb"].numpy()
        sums["front_albedo_l1"] += np.abs(pred - truth).mean(1, keepdims=True)[m].sum()
        sums["front_albedo_input_l1"] += np.abs(b["rgb"].numpy() - truth).mean(
            1, keepdims=True)[m].sum()
        n += m.sum()
    return {k: round(float(v / max(n, 1)), 4) for k, v in sums.items()}


def training_data_text(look: str, train_size, size: int, val_count: int) -> str:
    """The card's `training_data` sentence for a dataset of make_dataset's `look`."""
    objects = ("Procedural objects only (tools/procedural/objects.py: primitives, bevelled boxes, "
               "surfaces of revolution, extrusions of random outlines, unions of parts "
               "(characters, furniture, props), noise-displaced blobs/rocks, and "
               "tools.procedural.samples SAMPLE_ASSETS)")
    if look == "photo":
        views = (" plus thin parts and open frames (bikes, desk lamps, slat chairs, bar "
                 "stools, frame tables, easels), with photographic materials (fabric, wood, "
                 "metal, glassy dielectrics, skin, fur, plastic, printed), rendered by "
                 "Maquette's own Panda3D stage (tools/make_dataset.py --look photo): 90 % "
                 "perspective (30-50 deg vertical fov), 75 % of views within 40 deg of the "
                 "front, 80 % at elevation 0..20 deg, studio/softbox light mostly; targets "
                 "are the unlit base colour (albedo) of front and back.")
    else:
        views = (" with procedural textures and random roughness/metallic, rendered by "
                 "Maquette's own Panda3D stage (tools/make_dataset.py): orthographic, "
                 "elevation -10..40 deg, any azimuth, light presets "
                 "studio/softbox/sunset/rim/neon/night, random exposure.")
    return (f"{objects}{views} {train_size} training renders at {size}x{size}; "
            f"validation: {val_count} renders of other objects (shard 0).")


def view_metrics(sess, data: ShardData, shard: Path, batch: int = 16) -> dict[str, float]:
    """Mean absolute error (degrees) of the view_elevation output against the renders'
    true camera elevation, and of always answering the training set's mean (15°)."""
    truth = np.array([json.loads(str(m))["elevation"] for m in np.load(shard)["meta"]])
    truth = truth[: len(data)]
    pred = np.concatenate([
        sess.run(["view_elevation"], {"image": plain_input(data.batch(
            np.arange(s, min(s + batch, len(data))))).numpy()})[0][:, 0]
        for s in range(0, len(data), batch)])
    return {"view_elevation_mae_deg": round(float(np.abs(pred - truth).mean()), 2),
            "view_elevation_prior_mae_deg": round(float(np.abs(15.0 - truth).mean()), 2)}


def ort_session(onnx_path: Path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


def metrics_on(data: ShardData, run, batch: int = 16) -> dict[str, float]:
    """Validation metrics of `run(x) -> (mask_logit, front, back, color)` (numpy), and of
    two trivial baselines that use the true mask: flat (front = back = 0) and a constant
    slab (front = -h, back = +h, h = the mean half-thickness over the validation set)."""
    sums = {k: 0.0 for k in ("front", "back", "thick", "color", "flat_front", "flat_back",
                              "slab_front", "slab_back", "slab_thick", "front_shifted",
                              "npx")}
    inter = union = 0.0
    half = []
    for start in range(0, len(data), batch):
        b = data.batch(np.arange(start, min(start + batch, len(data))))
        m = b["mask"].numpy() > 0.5
        half.append((b["back"] - b["front"]).numpy()[m] / 2)
    h = float(np.concatenate(half).mean())
    for start in range(0, len(data), batch):
        b = data.batch(np.arange(start, min(start + batch, len(data))))
        x = plain_input(b).numpy()
        mask_logit, front, back, color = run(x)
        m = b["mask"].numpy() > 0.5
        tf, tb = b["front"].numpy(), b["back"].numpy()
        tc = b["back_rgb"].numpy()
        pm = mask_logit > 0
        inter += float((pm & m).sum())
        union += float((pm | m).sum())
        sums["npx"] += m.sum()
        sums["front"] += np.abs(front - tf)[m].sum()
        for i in range(len(m)):  # front depth up to a per-image z offset (placement)
            mi = m[i, 0]
            if mi.any():
                err = front[i, 0][mi] - tf[i, 0][mi]
                sums["front_shifted"] += np.abs(err - np.median(err)).sum()
        sums["back"] += np.abs(back - tb)[m].sum()
        sums["thick"] += np.abs((back - front) - (tb - tf))[m].sum()
        sums["color"] += np.abs(color - tc).mean(1, keepdims=True)[m].sum()
        sums["flat_front"] += np.abs(tf)[m].sum()
        sums["flat_back"] += np.abs(tb)[m].sum()
        sums["slab_front"] += np.abs(-h - tf)[m].sum()
        sums["slab_back"] += np.abs(h - tb)[m].sum()
        sums["slab_thick"] += np.abs(2 * h - (tb - tf))[m].sum()
    n = sums.pop("npx")
    out = {f"{k}_l1": round(float(v / n), 4) for k, v in sums.items()}
    out["mask_iou"] = round(inter / max(union, 1), 4)
    return out


def validation_sheet(data: ShardData, run, png: Path, n: int = 8, stride: int = 37) -> None:
    """PNG rows: input | mask pred | front true, pred | back true, pred | back colour true,
    pred (depths shown as 0.5 + depth, crop units, black outside the mask)."""
    from PIL import Image

    idx = (np.arange(n) * stride) % len(data)
    b = data.batch(idx)
    x = plain_input(b).numpy()
    mask_logit, front, back, color = run(x)
    rows = []
    for i in range(n):
        m = b["mask"][i, 0].numpy() > 0.5
        pm = mask_logit[i, 0] > 0

        def dep(d, mm):
            return np.where(mm, np.clip(0.5 + d, 0, 1), 0)[..., None].repeat(3, -1)

        def col(c, mm):
            return np.where(mm[..., None], c.transpose(1, 2, 0), 0.5)

        inp = x[i, :3].transpose(1, 2, 0) * 0.5 + 0.5
        row = [inp, pm[..., None].repeat(3, -1).astype(np.float32),
               dep(b["front"][i, 0].numpy(), m), dep(front[i, 0], pm),
               dep(b["back"][i, 0].numpy(), m), dep(back[i, 0], pm),
               col(b["back_rgb"][i].numpy(), m), col(color[i], pm)]
        rows.append(np.concatenate(row, 1))
    img = (np.concatenate(rows, 0) * 255).clip(0, 255).astype(np.uint8)
    png.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(png)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path, help="dataset folder (shard 0 = val)")
    p.add_argument("--name", default="maquette-ld-v2")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--val-count", type=int, default=500)
    p.add_argument("--sheet", type=Path, help="write a PNG of validation predictions")
    p.add_argument("--no-front-albedo", action="store_true",
                   help="leave the front_albedo output out of the graph (the runtime then "
                        "textures the front with the image as it is)")
    p.add_argument("--back-target", choices=sorted(BACK_TARGETS),
                   help="score back_color against this target (default: the one the "
                        "checkpoint was trained on; v2: lit)")
    p.add_argument("--fov", type=float, default=None, metavar="DEG",
                   help="the card's camera: perspective, assuming DEG degrees across the "
                        "longer side of an image whose lens the user does not give "
                        "(default: 40 for photo-look data, whose depths are along the "
                        "camera's axis; 0, orthographic, for v2's look)")
    args = p.parse_args(argv)
    if args.fov is not None and not 0 <= args.fov <= MAX_FOV_DEG:
        p.error(f"--fov must be from 0 to {MAX_FOV_DEG:g} degrees")

    import torch

    torch.set_num_threads(2)
    onnx_path = args.out / f"{args.name}.onnx"
    net, ck, size = export(args.checkpoint, onnx_path, not args.no_front_albedo)
    sess = ort_session(onnx_path)

    back_target = args.back_target or ck["config"].get("back_target", "lit")
    val = ShardData("cpu", back_target, net.front_albedo)
    val.add([args.data / "shard_00000.npz"])
    val.arrays = {k: v[: args.val_count] for k, v in val.arrays.items()}

    # torch vs onnxruntime on real validation inputs
    x = plain_input(val.batch(np.arange(min(8, len(val))))).numpy()
    names = net.output_names()
    with torch.no_grad():
        ref = [t.numpy() for t in net(torch.from_numpy(x))]
    got = sess.run(names, {"image": x})
    diffs = {n: float(np.abs(a - b).max()) for n, a, b in zip(names, ref, got, strict=True)}
    print("max |onnxruntime - torch|:", json.dumps(diffs))

    # CPU inference time, batch 1
    timing = {}
    for threads in (1, 2):
        s = ort_session(onnx_path, threads)
        one = x[:1]
        s.run(names, {"image": one})
        t = time.perf_counter()
        reps = 10
        for _ in range(reps):
            s.run(names, {"image": one})
        timing[f"onnxruntime_cpu_ms_{threads}_threads"] = round(
            (time.perf_counter() - t) / reps * 1000, 1)
    print("inference:", timing)

    def run(xb):
        return sess.run(OUTPUT_NAMES, {"image": xb})

    metrics = metrics_on(val, run)
    if "view_elevation" in names:
        metrics.update(view_metrics(sess, val, args.data / "shard_00000.npz"))
    if "front_albedo" in names:
        metrics.update(front_albedo_metrics(sess, val))
    print("validation:", json.dumps(metrics))
    if args.sheet:
        validation_sheet(val, run, args.sheet)

    rows = ck.get("rows", [])
    last = rows[-1] if rows else {}
    info = args.data / "dataset.json"
    look = json.loads(info.read_text()).get("look", "v2") if info.is_file() else "v2"
    digest = file_sha256(onnx_path)
    fov = args.fov if args.fov is not None else (PHOTO_DEFAULT_FOV if look == "photo" else 0.0)
    lens = {"type": "perspective", "fov_deg": fov} if fov > 0 else {"type": "orthographic"}
    card = {
        "id": args.name,  # the one name: file stem, card id, console, README
        "format": FORMAT,
        "onnx": onnx_path.name,
        "sha256": digest,
        "input": {"name": "image", "size": size, "channels": list(CHANNELS),
                  "mean": MEAN, "std": STD, "foreground_ratio": FOREGROUND_RATIO,
                  "background": BACKGROUND},
        "outputs": {n: n for n in names},
        "camera": {**lens, "crop_extent": 1.0, "depth_origin": "bbox_center",
                   "training": ("perspective 30-50 deg (90 %) and orthographic renders; "
                                "depth along the camera axis" if look == "photo" else
                                "orthographic renders")},
        "architecture": {
            "type": "U-Net (half-resolution encoder/decoder + full-resolution refinement)",
            "widths": ck["config"]["widths"], "parameters": int(ck.get("params", 0)),
            "opset": OPSET,
            "back_depth": "front_depth + softplus(thickness), so back >= front everywhere",
        },
        "training_data": training_data_text(look, last.get("train_size"), size, len(val)),
        "held_out": ["../shared/assets/*"],
        "held_out_note": "No file from ../shared/assets was used for training or "
                         "validation; those meshes are the evaluation set.",
        "training": {
            "steps": last.get("step"), "samples_seen": last.get("samples_seen"),
            "train_samples": last.get("train_size"), "minutes": last.get("minutes"),
            "device": ck["config"].get("device", "cpu"),
            "batch": ck["config"].get("batch"), "lr": ck["config"].get("lr"),
            "seed": ck["config"].get("seed"), "checkpoint": args.checkpoint.name,
            "back_target": ck["config"].get("back_target", "lit"),
            "init": ck["config"].get("init"),
            "front_albedo_weight": ck["config"].get("front_albedo_weight", 0.0),
        },
        "metrics": {
            "split": f"validation shard 0 ({len(val)} renders of unseen procedural objects)",
            "units": "depth L1 in crop sides inside the true mask; colour L1 in [0,1] sRGB",
            "baselines": "flat_*: front = back = 0; slab_*: front = -h, back = +h with h the "
                         "mean half-thickness of the validation set (both given the true "
                         "mask); front_shifted_l1: front L1 after removing each image's "
                         "median offset (shape error without placement error)",
            **metrics,
            "onnx_vs_torch_max_abs_diff": diffs,
            **timing,
        },
        "licence": "MIT",
    }
    if ck.get("view_head"):
        card["view_head"] = {
            "output": "view_elevation: the camera's elevation above the horizon, degrees",
            "training": "tools/train_view_head.py: a 1-hidden-layer MLP on the frozen "
                        "network's bottleneck features (mean and max over space)",
            **ck["view_head"]}
    card_path = args.out / f"{args.name}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB) and {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
