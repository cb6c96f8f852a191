"""Train the layered-depth generator (image → mask, front/back depth, back colour) on the CPU.

Reads the shards written by tools/make_dataset.py. Shard 0 (its objects appear in no
other shard) is the validation set; the others train. New shards that appear while
training runs (the dataset tool may still be rendering) join at the next round.

The back colour is learnt from the back's unlit base colour (`--back-target albedo`,
the default: no light preset's tint in it) or, as v2 was, from the lit render from the
mirrored eye (`lit`). `--front-albedo-weight W` adds a sixth output, `front_albedo`:
the front's base colour with the input's own shading removed (docs/GENERATOR_INTERFACE.md).
`--depth-teacher CHECKPOINT` trains the depth layers towards that frozen network's
own prediction on the same input instead of the rendered depths: colour learns from a
look (perspective photo-like renders) whose depths the runtime's orthographic reading
does not describe, while the geometry stays the teacher's. Validation still scores
depth against the renders.

    python tools/train_generator.py --data /work/data/ld128 --out /work/data/run1 \
        --steps 6000 --batch 16 --threads 2

Writes OUT/model.pt (last), OUT/best.pt (best validation loss), OUT/log.csv,
OUT/log.json and OUT/curve.png. Deterministic from --seed for a fixed set of shards
(thread scheduling aside).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.generate.card import BACKGROUND, OUTPUT_CHANNELS  # noqa: E402

MEAN = [0.5, 0.5, 0.5, 0.5]
STD = [0.5, 0.5, 0.5, 0.5]
OUTPUT_NAMES = list(OUTPUT_CHANNELS)  # mask, front_depth, back_depth, back_color
BACK_TARGETS = {"albedo": "back_albedo", "lit": "back_rgba"}  # --back-target → shard key

# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _block(cin: int, cout: int, stride: int = 1, convs: int = 2) -> nn.Sequential:
    layers = _conv(cin, cout, stride)
    for _ in range(convs - 1):
        layers += _conv(cout, cout)
    return nn.Sequential(*layers)


class LayeredDepthNet(nn.Module):
    """A small U-Net working at half resolution, with a full-resolution refinement
    that sees the input again. Input (B, 4, S, S) normalised per the card; outputs
    (in order) mask logit (B,1), front depth (B,1), back depth (B,1) = front +
    softplus(thickness), back colour (B,3) in [0, 1], and with `front_albedo` the
    front's base colour (B,3) in [0, 1]. S must be a multiple of 16."""

    def __init__(self, widths=(24, 48, 96, 160), full: int = 16, front_albedo: bool = False):
        super().__init__()
        w = list(widths)
        self.widths = w
        self.front_albedo = front_albedo
        channels = 9 if front_albedo else 6
        self.enc = nn.ModuleList([_block(4, w[0], stride=2)] + [
            _block(w[i - 1], w[i], stride=2) for i in range(1, len(w))])
        self.dec = nn.ModuleList([
            _block(w[i + 1] + w[i], w[i]) for i in reversed(range(len(w) - 1))])
        self.refine = _block(w[0] + 4, full, convs=1)
        self.head = nn.Conv2d(full, channels, 1)
        # global context: pooled bottleneck → per-image offsets of every output
        self.context = nn.Linear(w[-1], channels)
        self.view_head: ViewHead | None = None  # optional 5th output (tools/train_view_head.py)

    def forward(self, x):
        skips = []
        h = x
        for i, enc in enumerate(self.enc):
            h = enc(h)
            if i < len(self.enc) - 1:
                skips.append(h)
        ctx = self.context(h.mean(dim=(2, 3)))[:, :, None, None]
        view = None if self.view_head is None else self.view_head(bottleneck_features(h))
        for dec in self.dec:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = dec(torch.cat([h, skip], 1))
        h = F.interpolate(h, size=x.shape[-2:], mode="bilinear", align_corners=False)
        h = self.refine(torch.cat([h, x], 1))
        o = self.head(h) + ctx
        mask = o[:, 0:1]
        front = o[:, 1:2]
        back = front + F.softplus(o[:, 2:3])
        color = torch.sigmoid(o[:, 3:6])
        outs = (mask, front, back, color)
        if self.front_albedo:
            outs += (torch.sigmoid(o[:, 6:9]),)
        if view is not None:
            outs += (view,)
        return outs

    def output_names(self) -> list[str]:
        """Graph output names, in the order forward returns them."""
        return OUTPUT_NAMES + (["front_albedo"] if self.front_albedo else []) + \
            (["view_elevation"] if self.view_head is not None else [])


def widen_head(state: dict, channels: int) -> dict:
    """A 6-output checkpoint's state for a net with `channels` head outputs: the extra
    (front albedo) channels start as copies of the back colour's (3:6)."""
    state = dict(state)
    for key in ("head.weight", "head.bias", "context.weight", "context.bias"):
        v = state[key]
        if v.shape[0] < channels:
            extra = v[3:6].clone().repeat((channels - v.shape[0]) // 3,
                                          *([1] * (v.dim() - 1)))
            state[key] = torch.cat([v, extra], 0)
    return state


def bottleneck_features(h: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) bottleneck → (B, 2C): mean and max over space."""
    return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], 1)


class ViewHead(nn.Module):
    """Bottleneck features → the camera's elevation above the horizon, degrees (B, 1).
    Standardises its input with fixed statistics, then a one-hidden-layer MLP whose
    output is in units of 15° around 15° (the training range is -10..40°)."""

    def __init__(self, features: int, hidden: int = 64):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))
        self.mlp = nn.Sequential(nn.Dropout(0.3), nn.Linear(features, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 1))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.mlp((f - self.mean) / self.std) * 15.0 + 15.0


def load_net(checkpoint: dict) -> LayeredDepthNet:
    """The network of a checkpoint (with its view head when it has one)."""
    cfg = checkpoint["config"]
    net = LayeredDepthNet(tuple(cfg["widths"]), front_albedo=bool(cfg.get("front_albedo")))
    if cfg.get("view_head_hidden"):
        net.view_head = ViewHead(2 * cfg["widths"][-1], cfg["view_head_hidden"])
    net.load_state_dict(checkpoint["model"])
    return net


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


class ShardData:
    """All samples of a set of shards in memory (uint8 / float16), on `device` (a GPU
    holds tens of thousands of 128 px samples; batches are then cut there)."""

    def __init__(self, device: str = "cpu", back_target: str | None = None,
                 front_albedo: bool = False):
        """back_target: a key of BACK_TARGETS (the batch's `back_rgb`), None = none."""
        self.device = device
        self.back_key = BACK_TARGETS[back_target] if back_target else None
        self.front_albedo = front_albedo
        self.KEYS = ("rgba", "mask", "front", "back") + \
            ((self.back_key,) if self.back_key else ()) + \
            (("front_albedo",) if front_albedo else ())
        self.loaded: set[str] = set()
        self.parts: dict[str, list[torch.Tensor]] = {k: [] for k in self.KEYS}
        self.arrays: dict[str, torch.Tensor] = {}

    def add(self, paths) -> int:
        added = 0
        for p in sorted(paths):
            if str(p) in self.loaded:
                continue
            try:
                z = np.load(p)
                files = z.files
            except Exception:  # a shard being written; next round
                continue
            missing = [k for k in self.KEYS if k not in files]
            if missing:
                raise SystemExit(f"{p}: no field {missing[0]!r} (render it with a "
                                 "tools/make_dataset.py that writes it, or choose another "
                                 "--back-target)")
            try:
                arrays = {k: z[k] for k in self.KEYS}
            except Exception:  # a shard being written; next round
                continue
            for k, v in arrays.items():
                self.parts[k].append(torch.from_numpy(v).to(self.device))
            self.loaded.add(str(p))
            added += len(arrays["mask"])
        if added:
            self.arrays = {k: torch.cat(v) for k, v in self.parts.items()}
            self.parts = {k: [v] for k, v in self.arrays.items()}
        return added

    def truncate(self, count: int) -> None:
        self.arrays = {k: v[:count] for k, v in self.arrays.items()}

    def __len__(self) -> int:
        return 0 if not self.arrays else len(self.arrays["mask"])

    def batch(self, idx) -> dict[str, torch.Tensor]:
        a = self.arrays
        idx = torch.as_tensor(idx, device=self.device)
        rgba = a["rgba"][idx].permute(0, 3, 1, 2).float() / 255
        b = {
            "rgb": rgba[:, :3], "alpha": rgba[:, 3:4],
            "mask": a["mask"][idx].float()[:, None],
            "front": a["front"][idx].float()[:, None],
            "back": a["back"][idx].float()[:, None],
        }
        if self.back_key:
            b["back_rgb"] = a[self.back_key][idx].permute(0, 3, 1, 2)[:, :3].float() / 255
        if self.front_albedo:
            b["front_rgb"] = a["front_albedo"][idx].permute(0, 3, 1, 2).float() / 255
        return b


def make_input(rgb, true_alpha, matte, bg) -> torch.Tensor:
    photo = rgb * true_alpha + bg * (1 - true_alpha)  # the subject on its backdrop
    x = photo * matte + BACKGROUND * (1 - matte)
    x = torch.cat([x, matte], 1)
    mean = torch.tensor(MEAN, device=x.device).view(1, 4, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 4, 1, 1)
    return (x - mean) / std


def augment(b: dict, gen: torch.Generator,
            light_gain: float = 0.0) -> tuple[torch.Tensor, dict]:
    """Flip, scale/shift jitter (depths scale with the crop), colour jitter applied to
    the input and the colour targets alike (another material), a per-channel gain of
    ±`light_gain` on the input alone (another light's tint, which albedo targets do not
    have), imperfect mattes (erode/dilate/blur, backdrop fringe)."""
    B = b["mask"].shape[0]

    def rnd(*shape):
        return torch.rand(*shape, generator=gen, device=gen.device)

    # horizontal flip: a mirrored object is a valid object (back colour stays aligned)
    flip = rnd(B) < 0.5
    for k in b:
        b[k] = torch.where(flip.view(B, 1, 1, 1), b[k].flip(-1), b[k])
    # scale / shift jitter
    scale = 1 + (rnd(B) * 2 - 1) * 0.08  # >1: subject bigger
    shift = (rnd(B, 2) * 2 - 1) * 0.04
    theta = torch.zeros(B, 2, 3, device=gen.device)
    theta[:, 0, 0] = 1 / scale
    theta[:, 1, 1] = 1 / scale
    theta[:, :, 2] = shift
    S = b["mask"].shape[-1]
    grid = F.affine_grid(theta, (B, 1, S, S), align_corners=False)
    colour_keys = ["back_rgb"] + (["front_rgb"] if "front_rgb" in b else [])
    lin = torch.cat([b["rgb"], b["alpha"]] + [b[k] for k in colour_keys], 1)
    lin = F.grid_sample(lin, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    near = torch.cat([b["mask"], b["front"], b["back"]], 1)
    near = F.grid_sample(near, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    b["rgb"], b["alpha"] = lin[:, 0:3], lin[:, 3:4]
    for i, k in enumerate(colour_keys):
        b[k] = lin[:, 4 + 3 * i:7 + 3 * i]
    b["mask"] = near[:, 0:1]
    b["front"] = near[:, 1:2] * scale.view(B, 1, 1, 1)
    b["back"] = near[:, 2:3] * scale.view(B, 1, 1, 1)
    # straight colour outside coverage is undefined after resampling: un-premultiply-ish
    # colour jitter (same on front and back): per-channel gain, gamma, saturation
    gain = 1 + (rnd(B, 3, 1, 1) * 2 - 1) * 0.12
    gamma = torch.exp((rnd(B, 1, 1, 1) * 2 - 1) * 0.25)
    sat = 1 + (rnd(B, 1, 1, 1) * 2 - 1) * 0.3

    def jitter(c):
        c = (c * gain).clamp(0, 1) ** gamma
        g = c.mean(1, keepdim=True)
        return (g + (c - g) * sat).clamp(0, 1)

    for k in ["rgb"] + colour_keys:
        b[k] = jitter(b[k])
    if light_gain:
        tint = 1 + (rnd(B, 3, 1, 1) * 2 - 1) * light_gain
        b["rgb"] = (b["rgb"] * tint).clamp(0, 1)
    # imperfect matte
    alpha = b["alpha"]
    matte = alpha.clone()
    mode = rnd(B)
    k = 3
    dil = F.max_pool2d(alpha, k, 1, k // 2)
    ero = -F.max_pool2d(-alpha, k, 1, k // 2)
    matte = torch.where((mode < 0.15).view(B, 1, 1, 1), dil, matte)
    matte = torch.where(((mode >= 0.15) & (mode < 0.3)).view(B, 1, 1, 1), ero, matte)
    blur = F.avg_pool2d(matte, 3, 1, 1)
    matte = torch.where(((mode >= 0.3) & (mode < 0.45)).view(B, 1, 1, 1), blur, matte)
    hard = (rnd(B) < 0.2).view(B, 1, 1, 1)
    matte = torch.where(hard, (matte > 0.5).float(), matte)
    bg = rnd(B, 3, 1, 1)
    return make_input(b["rgb"], b["alpha"], matte, bg), b


def plain_input(b: dict) -> torch.Tensor:
    return make_input(b["rgb"], b["alpha"], b["alpha"], torch.full_like(b["rgb"][:, :, :1, :1],
                                                                         BACKGROUND))


# --------------------------------------------------------------------------------------
# Losses and metrics
# --------------------------------------------------------------------------------------


def _masked_l1(pred, target, m):
    return ((pred - target).abs() * m).sum() / m.sum().clamp(min=1)


def _grad_l1(pred, target, m):
    def dx(t):
        return t[..., :, 1:] - t[..., :, :-1]

    def dy(t):
        return t[..., 1:, :] - t[..., :-1, :]

    mx = m[..., :, 1:] * m[..., :, :-1]
    my = m[..., 1:, :] * m[..., :-1, :]
    return _masked_l1(dx(pred), dx(target), mx) + _masked_l1(dy(pred), dy(target), my)


def _normal_error(pred, target, m):
    """Mean 1 - cos of the angle between predicted and true surface normals of a depth
    map (crop units; a pixel is 1/S of the crop), over pixels whose 2×2 block is inside
    `m`: creases and flat faces, which L1 on depth barely sees."""
    S = pred.shape[-1]

    def normals(d):
        gx = (d[..., :-1, 1:] - d[..., :-1, :-1]) * S
        gy = (d[..., 1:, :-1] - d[..., :-1, :-1]) * S
        n = torch.cat([-gx, -gy, torch.ones_like(gx)], 1)
        return n / n.norm(dim=1, keepdim=True)

    mm = m[..., :-1, :-1] * m[..., :-1, 1:] * m[..., 1:, :-1] * m[..., 1:, 1:]
    cos = (normals(pred) * normals(target)).sum(1, keepdim=True)
    return ((1 - cos) * mm).sum() / mm.sum().clamp(min=1)


def losses(out, b, normal_weight: float = 0.0,
           front_albedo_weight: float = 0.0) -> dict[str, torch.Tensor]:
    """Loss terms and their weighted total. `normal` (surface-normal error of both
    layers) is always reported but joins the total only with `normal_weight` > 0, so
    validation totals stay comparable between runs; `front_albedo` (L1 of the delit
    front, when the net and the batch have it) likewise with `front_albedo_weight`."""
    mask_logit, front, back, color = out[:4]
    m = b["mask"]
    terms = {
        "mask": F.binary_cross_entropy_with_logits(mask_logit, m),
        "front": _masked_l1(front, b["front"], m),
        "back": _masked_l1(back, b["back"], m),
        "thick": _masked_l1(back - front, b["back"] - b["front"], m),
        "grad": _grad_l1(front, b["front"], m) + _grad_l1(back, b["back"], m),
        "color": _masked_l1(color, b["back_rgb"], m),
        "outside": ((front.abs() + back.abs()) * (1 - m)).mean(),
        "normal": _normal_error(front, b["front"], m) + _normal_error(back, b["back"], m),
    }
    weights = {"mask": 1.0, "front": 4.0, "back": 4.0, "thick": 2.0, "grad": 4.0,
               "color": 1.0, "outside": 0.1, "normal": normal_weight}
    if "front_rgb" in b and len(out) > 4 and out[4].shape[1] == 3:
        terms["front_albedo"] = _masked_l1(out[4], b["front_rgb"], m)
        weights["front_albedo"] = front_albedo_weight
    terms["total"] = sum(weights[k] * v for k, v in terms.items())
    return terms


@torch.no_grad()
def evaluate(model, data: ShardData, batch: int = 32, device: str = "cpu") -> dict[str, float]:
    """Validation metrics without augmentation (input matte = the rendered alpha)."""
    model.eval()
    sums: dict[str, float] = {}
    inter = union = 0.0
    n = 0
    for start in range(0, len(data), batch):
        idx = np.arange(start, min(start + batch, len(data)))
        b = data.batch(idx)
        out = model(plain_input(b).contiguous(memory_format=torch.channels_last))
        t = losses(out, b)
        for k, v in t.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
        pm = (out[0] > 0).float()
        inter += float((pm * b["mask"]).sum())
        union += float(((pm + b["mask"]) > 0).float().sum())
        n += len(idx)
    res = {f"val_{k}": v / n for k, v in sums.items()}
    res["val_mask_iou"] = inter / max(union, 1)
    return res


# --------------------------------------------------------------------------------------
# Curve plot (PIL)
# --------------------------------------------------------------------------------------


def plot_curve(rows: list[dict], png: Path, keys=("train_total", "val_total")) -> None:
    from PIL import Image, ImageDraw

    W, H, pad = 640, 400, 50
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    xs = [r["step"] for r in rows]
    vals = [float(r[k]) for r in rows for k in keys if r.get(k) not in (None, "")]
    if not xs or not vals:
        img.save(png)
        return
    lo, hi = min(vals), max(vals)
    lo_l, hi_l = math.log10(max(lo, 1e-6)), math.log10(max(hi, 1e-6))
    if hi_l - lo_l < 1e-6:
        hi_l = lo_l + 1
    x0, x1 = 0, max(xs)

    def px(x, y):
        return (pad + (x - x0) / max(x1 - x0, 1) * (W - 2 * pad),
                H - pad - (math.log10(max(y, 1e-6)) - lo_l) / (hi_l - lo_l) * (H - 2 * pad))

    d.rectangle([pad, pad, W - pad, H - pad], outline="black")
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for ci, k in enumerate(keys):
        pts = [px(r["step"], float(r[k])) for r in rows if r.get(k) not in (None, "")]
        if len(pts) > 1:
            d.line(pts, fill=colors[ci], width=2)
        for p in pts:
            d.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=colors[ci])
        d.text((pad + 10, pad + 10 + 14 * ci), k, fill=colors[ci])
    for frac in (0, 0.5, 1):
        yl = lo_l + frac * (hi_l - lo_l)
        y = H - pad - frac * (H - 2 * pad)
        d.text((5, y - 6), f"{10 ** yl:.3g}", fill="black")
    d.text((W // 2 - 30, H - pad + 15), f"step (0..{x1})", fill="black")
    d.text((W // 2 - 80, 15), "loss (log scale)", fill="black")
    img.save(png)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def training_mode(model: nn.Module, freeze_bn: bool = False) -> None:
    """model.train(); with `freeze_bn`, batch-norm layers stay in evaluation mode with
    fixed scale and shift (a fine-tune with small batches keeps the statistics the
    network was trained with)."""
    model.train()
    if freeze_bn:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
                for param in module.parameters():
                    param.requires_grad_(False)


def _device_name(device: str) -> str:
    if device == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return device


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--eval-every", type=int, default=300)
    p.add_argument("--widths", default="24,48,96,160")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="auto", help="auto (CUDA when present) | cpu | cuda")
    p.add_argument("--val-count", type=int, default=500, help="validation samples (shard 0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=0,
                   help="stop (and keep the checkpoint) after this long; 0 = no limit")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--normal-weight", type=float, default=0.0,
                   help="weight of the surface-normal error of both depth layers in the "
                        "training loss (creases; 0 = off, as v2 was trained)")
    p.add_argument("--freeze-bn", action="store_true",
                   help="keep batch-norm statistics and scales fixed (fine-tuning with small "
                        "batches)")
    p.add_argument("--init", type=Path,
                   help="start from this checkpoint's weights (fine-tuning: fresh optimiser "
                        "and schedule; --widths is taken from it)")
    p.add_argument("--back-target", choices=sorted(BACK_TARGETS), default="albedo",
                   help="what back_color learns: the back's unlit base colour (albedo, "
                        "v3) or the lit render from the mirrored eye (lit, v2)")
    p.add_argument("--front-albedo-weight", type=float, default=0.0,
                   help="> 0: add the front_albedo output (the front's base colour, the "
                        "input's shading removed) with this loss weight")
    p.add_argument("--light-gain", type=float, default=0.08,
                   help="per-channel gain on the input alone (a light's tint that albedo "
                        "targets do not have); 0 with --back-target lit")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="train the decoder, refinement and heads only (a CPU fine-tune: "
                        "less compute per step, the features v2 learnt stay)")
    p.add_argument("--depth-teacher", type=Path,
                   help="train front and back depth towards this frozen checkpoint's "
                        "prediction on the same input (colour fine-tunes that keep the "
                        "teacher's geometry)")
    p.add_argument("--wait-minutes", type=float, default=0,
                   help="wait this long for shard 0 and a training shard to appear")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device).manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    front_albedo = args.front_albedo_weight > 0
    val = ShardData(device, args.back_target, front_albedo)
    train = ShardData(device, args.back_target, front_albedo)
    light_gain = args.light_gain if args.back_target == "albedo" else 0.0

    def refresh():
        shards = [q for q in args.data.glob("shard_*.npz") if q.name != "shard_00000.npz"]
        return train.add(shards)

    deadline = time.time() + 60 * args.wait_minutes
    while True:  # the dataset tool may still be writing the first shards
        if not len(val):
            val.add([args.data / "shard_00000.npz"])
        refresh()
        if (len(val) and len(train)) or time.time() >= deadline:
            break
        time.sleep(5)
    if len(val) == 0 or len(train) == 0:
        raise SystemExit(f"{args.data}: need shard_00000.npz (validation) and at least one "
                         "more shard")
    val.truncate(args.val_count)
    widths = tuple(int(w) for w in args.widths.split(","))
    init = None
    if args.init:
        init = torch.load(args.init, weights_only=False, map_location="cpu")
        widths = tuple(init["config"]["widths"])
    model = LayeredDepthNet(widths, front_albedo=front_albedo)
    if init is not None:  # a view head, if any, is not trained here: drop it
        state = {k: v.float() for k, v in init["model"].items()
                 if not k.startswith("view_head.")}
        model.load_state_dict(widen_head(state, model.head.out_channels))
    model = model.to(device, memory_format=torch.channels_last)
    n_params = sum(q.numel() for q in model.parameters())
    if args.freeze_encoder:
        for q in model.enc.parameters():
            q.requires_grad_(False)
    teacher = None
    if args.depth_teacher:
        ck = torch.load(args.depth_teacher, weights_only=False, map_location="cpu")
        ck = dict(ck, model={k: v.float() for k, v in ck["model"].items()
                             if not k.startswith("view_head.")},
                  config={k: v for k, v in ck["config"].items() if k != "view_head_hidden"})
        teacher = load_net(ck).to(device, memory_format=torch.channels_last).eval()
        for q in teacher.parameters():
            q.requires_grad_(False)
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=args.lr,
                            weight_decay=1e-4)
    step0 = 0
    rows: list[dict] = []
    if args.resume and (args.out / "model.pt").exists():
        ck = torch.load(args.out / "model.pt", weights_only=False, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step0 = ck["step"]
        rows = ck.get("rows", [])
    print(f"params {n_params:,}; train {len(train)} val {len(val)} samples", flush=True)

    start = time.time()
    elapsed0 = rows[-1]["minutes"] if rows else 0.0

    def progress(s):
        """Fraction of training done: by steps, or by wall time when --max-minutes is set
        (whichever is further), so the cosine schedule ends when the time budget does."""
        t = s / args.steps
        if args.max_minutes:
            t = max(t, (elapsed0 + (time.time() - start) / 60) / args.max_minutes)
        return min(t, 1.0)

    def lr_at(s):
        warm = 100
        if s < warm:
            return args.lr * (s + 1) / warm
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress(s))))

    best = min((r["val_total"] for r in rows), default=float("inf"))
    acc: dict[str, float] = {}
    nacc = 0
    def set_mode():
        training_mode(model, args.freeze_bn)
        if args.freeze_encoder:  # its batch norm keeps v2's statistics too
            model.enc.eval()

    set_mode()
    config = {"widths": list(widths), "size": int(val.arrays["mask"].shape[-1]),
              "mean": MEAN, "std": STD, "seed": args.seed, "steps": args.steps,
              "batch": args.batch, "lr": args.lr, "device": _device_name(device),
              "init": str(args.init) if args.init else None,
              "normal_weight": args.normal_weight, "back_target": args.back_target,
              "front_albedo": front_albedo, "front_albedo_weight": args.front_albedo_weight,
              "light_gain": light_gain, "freeze_encoder": args.freeze_encoder,
              "depth_teacher": str(args.depth_teacher) if args.depth_teacher else None}
    if init is not None and not rows:  # the start point on this validation set
        row = {"step": 0, "samples_seen": 0, "train_size": len(train), "minutes": 0.0,
               "lr": 0.0, **evaluate(model, val, device=device)}
        set_mode()
        rows.append(row)
        print(f"step 0 (from {args.init.name}) val {row['val_total']:.4f} "
              f"color {row['val_color']:.4f} front {row['val_front']:.4f} "
              f"back {row['val_back']:.4f}", flush=True)
    for step in range(step0, args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        idx = rng.integers(0, len(train), size=args.batch)
        x, b = augment(train.batch(idx), gen, light_gain)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            out = model(x)
            if teacher is not None:
                with torch.no_grad():
                    taught = teacher(x)
                b = dict(b, front=taught[1].float(), back=taught[2].float())
        t = losses([o.float() for o in out], b, args.normal_weight, args.front_albedo_weight)
        opt.zero_grad(set_to_none=True)
        t["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        for k, v in t.items():
            acc[k] = acc.get(k, 0.0) + float(v.detach())
        nacc += 1
        last = step + 1 == args.steps
        over = bool(args.max_minutes) and progress(step + 1) >= 1.0
        if (step + 1) % args.eval_every == 0 or last or over:
            minutes = elapsed0 + (time.time() - start) / 60
            row = {"step": step + 1, "samples_seen": (step + 1) * args.batch,
                   "train_size": len(train), "minutes": round(minutes, 2), "lr": lr_at(step)}
            row.update({f"train_{k}": v / nacc for k, v in acc.items()})
            row.update(evaluate(model, val, device=device))
            set_mode()  # (evaluate leaves it in eval mode)
            rows.append(row)
            acc, nacc = {}, 0
            ck = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1,
                  "rows": rows, "config": config, "params": n_params}
            torch.save(ck, args.out / "model.pt")
            if row["val_total"] < best:
                best = row["val_total"]
                torch.save(ck, args.out / "best.pt")
                # the weights alone (no optimiser state): small enough to carry back
                torch.save({"model": model.state_dict(), "step": step + 1, "config": config,
                            "params": n_params, "rows": rows}, args.out / "best_weights.pt")
            keys = list(rows[-1].keys())
            with open(args.out / "log.csv", "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)
            (args.out / "log.json").write_text(json.dumps(rows, indent=1))
            plot_curve(rows, args.out / "curve.png")
            print(f"step {step + 1} {row['minutes']} min train {row['train_total']:.4f} "
                  f"val {row['val_total']:.4f} iou {row['val_mask_iou']:.4f} "
                  f"front {row['val_front']:.4f} back {row['val_back']:.4f} "
                  f"color {row['val_color']:.4f} n={len(train)}", flush=True)
            added = refresh()
            if added:
                print(f"  +{added} samples (train {len(train)})", flush=True)
            if over:
                print("time limit reached", flush=True)
                break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
