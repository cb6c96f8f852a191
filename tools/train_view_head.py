"""Train the view-elevation head of a trained layered-depth generator (CPU, minutes).

The generator's weights stay frozen: its bottleneck features (mean and max over
space) are computed once for every render, and a small MLP learns the camera's
elevation (`meta.elevation` of each sample, degrees) from them. The result is the
input checkpoint plus the head; `tools/export_onnx.py` then exports a graph with a
fifth output, `view_elevation`, which `maquette generate` uses to stand the asset
upright.

    python tools/train_view_head.py --checkpoint run/best.pt --out run/with_view.pt \\
        --train /data/ld128/shard_0000[1-7].npz /data/more/shard_*.npz \\
        --val /data/ld128/shard_00000.npz

Deterministic from --seed. Keep the validation objects out of the training shards
(shard 0 of a dataset holds objects no other shard of that dataset has).

`--from-onnx GRAPH` takes the head from an exported graph instead of training one: for
a checkpoint fine-tuned from that graph's network with `train_generator.py
--freeze-encoder`, whose bottleneck features are the graph's (up to the float16 warm
start's rounding). The validation error is measured either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.train_generator import (  # noqa: E402
    ShardData,
    ViewHead,
    bottleneck_features,
    load_net,
    plain_input,
)


def features(net, shards: list[Path], batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2C) bottleneck features of every render of `shards` and (N,) elevations."""
    captured = {}
    hook = net.enc[-1].register_forward_hook(lambda _m, _i, out: captured.update(h=out))
    xs, ys = [], []
    try:
        for shard in shards:
            data = ShardData()
            data.add([shard])
            ys += [json.loads(str(m))["elevation"] for m in np.load(shard)["meta"]]
            for start in range(0, len(data), batch):
                with torch.no_grad():
                    net(plain_input(data.batch(np.arange(start, min(start + batch,
                                                                    len(data))))))
                xs.append(bottleneck_features(captured["h"]).numpy())
    finally:
        hook.remove()
    return np.concatenate(xs), np.asarray(ys, dtype=np.float32)


def train_head(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, seed: int) -> ViewHead:
    torch.manual_seed(seed)
    head = ViewHead(x.shape[1], hidden)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    head.mean.copy_(xt.mean(0))
    head.std.copy_(xt.std(0) + 1e-6)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-2)
    generator = torch.Generator().manual_seed(seed)
    head.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(xt), 128):
            idx = order[start:start + 128]
            loss = (head(xt[idx])[:, 0] - yt[idx]).abs().mean() / 15.0
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def head_from_onnx(graph: Path, features: int) -> ViewHead:
    """The view head stored in an exported graph (its `net.view_head.*` initializers)."""
    import onnx
    from onnx import numpy_helper

    prefix = "net.view_head."
    tensors = {i.name[len(prefix):]: torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in onnx.load(str(graph)).graph.initializer if i.name.startswith(prefix)}
    if "mlp.1.weight" not in tensors:
        raise SystemExit(f"{graph}: no view head in this graph (no '{prefix}mlp.1.weight')")
    head = ViewHead(features, int(tensors["mlp.1.weight"].shape[0]))
    head.load_state_dict(tensors)
    return head.eval()


def shard_summary(shards: list[Path]) -> dict[str, int]:
    """{dataset folder name: number of shards} (the card stays short)."""
    out: dict[str, int] = {}
    for shard in shards:
        out[shard.parent.name] = out.get(shard.parent.name, 0) + 1
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--train", nargs="+", type=Path, default=[], help="training shards")
    p.add_argument("--from-onnx", type=Path, metavar="GRAPH",
                   help="take the head from this exported graph instead of training one")
    p.add_argument("--val", required=True, type=Path, help="validation shard")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if not args.train and not args.from_onnx:
        p.error("--train shards are needed (or --from-onnx)")

    torch.set_num_threads(args.threads)
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    net = load_net(ck).eval()
    x_val, y_val = features(net, [args.val])
    if args.from_onnx:
        head = head_from_onnx(args.from_onnx, x_val.shape[1])
        x_train, prior_mean = x_val[:0], 15.0  # (the head's own centre)
        args.hidden = head.mlp[1].out_features
    else:
        x_train, y_train = features(net, args.train)
        head = train_head(x_train, y_train, args.hidden, args.epochs, args.seed)
        prior_mean = float(y_train.mean())
    print(f"features: {len(x_train)} training, {len(x_val)} validation renders", flush=True)
    with torch.no_grad():
        pred = head(torch.from_numpy(x_val))[:, 0].numpy()
    mae = float(np.abs(pred - y_val).mean())
    prior = float(np.abs(prior_mean - y_val).mean())
    print(f"validation MAE {mae:.2f} deg (always the training mean: {prior:.2f} deg)")

    net.view_head = head
    ck = dict(ck)
    ck.pop("opt", None)  # for export: the optimiser's state would triple the file
    ck["model"] = net.state_dict()
    ck["config"] = {**ck["config"], "view_head_hidden": args.hidden}
    ck["view_head"] = {"train_renders": int(len(x_train)), "val_renders": int(len(x_val)),
                       "val_mae_deg": round(mae, 2), "val_prior_mae_deg": round(prior, 2),
                       "epochs": args.epochs, "seed": args.seed,
                       "train_shards": shard_summary(args.train),
                       "from_onnx": str(args.from_onnx) if args.from_onnx else None,
                       "val_shard": f"{args.val.parent.name}/{args.val.name}"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ck, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
