"""Write a training checkpoint's weights as a small float16 warm start.

    python tools/make_warm_start.py RUN/best_view.pt models/maquette-ld-v3.weights-fp16.pt

The file holds the network's weights in float16 (no optimiser state, no view head: the
view head is retrained on frozen features by tools/train_view_head.py), its config and
step: what `tools/train_generator.py --init` starts from. Written atomically.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.fileio import atomic_output  # noqa: E402


def warm_start(checkpoint: dict) -> dict:
    """The fp16 warm-start dict of a train_generator / train_view_head checkpoint."""
    state = {k: (v.half() if v.is_floating_point() else v)
             for k, v in checkpoint["model"].items() if not k.startswith("view_head.")}
    config = {k: v for k, v in checkpoint["config"].items() if k != "view_head_hidden"}
    return {"model": state, "config": config, "step": checkpoint.get("step"),
            "params": checkpoint.get("params"),
            "note": "float16 weights for tools/train_generator.py --init (no view head)"}


def main(argv=None) -> int:
    import torch

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    source, target = Path(argv[0]), Path(argv[1])
    small = warm_start(torch.load(source, weights_only=False, map_location="cpu"))
    with atomic_output(target, "wb") as handle:
        torch.save(small, handle)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
