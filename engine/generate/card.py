"""Model cards (`models/NAME.json`) and their validation against the ONNX graph.

The contract is docs/GENERATOR_INTERFACE.md: input `image` [1, 4, S, S] (RGB on
grey + mask), outputs mask / front_depth / back_depth / back_color, and optionally
front_albedo [1, 3, S, S] (the front's base colour, sRGB [0, 1], the input's shading
removed) and view_elevation [1, 1] (the camera's elevation above the horizon, degrees).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError

FORMAT = "maquette-layered-depth/1"
OUTPUT_CHANNELS = {"mask": 1, "front_depth": 1, "back_depth": 1, "back_color": 3}
OPTIONAL_MAPS = {"front_albedo": 3}  # [1, C, S, S], like the required maps
OPTIONAL_OUTPUTS = ("front_albedo", "view_elevation")  # view_elevation: [1, 1] degrees
MAX_CARD_BYTES = 1 << 20
# Framing and backdrop of the model's input when a card does not say (the contract's
# defaults; training renders are framed the same way).
FOREGROUND_RATIO = 0.85  # the subject's longer side / the crop side
BACKGROUND = 0.5  # grey outside the subject, sRGB
CHANNELS = ("r", "g", "b", "mask")
CAMERA_TYPES = ("orthographic", "perspective")
MAX_FOV_DEG = 120.0  # field of view across an image's longer side, degrees


class ModelCardError(InputError):
    """The model card is invalid or does not match its ONNX graph."""


@dataclass(frozen=True)
class ModelCard:
    path: Path
    id: str
    onnx_path: Path
    sha256: str | None
    input_name: str
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    foreground_ratio: float
    background: float
    outputs: dict[str, str]  # role (mask, front_depth, …, view_elevation) → output name
    # the field of view (degrees, across the longer side) assumed for an input image
    # whose lens the user does not give: 0 for a model trained on orthographic views
    fov_deg: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def _get(doc: dict, dotted: str, kind: type | tuple, path: Path) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ModelCardError(f"{path}: missing field '{dotted}'")
        node = node[part]
    if not isinstance(node, kind) or isinstance(node, bool) and kind is not bool:
        raise ModelCardError(f"{path}: field '{dotted}' should be {kind}, got {node!r}")
    return node


def load_card(path: Path) -> ModelCard:
    """Read a model card; the ONNX file sits next to it (field `onnx`, default NAME.onnx)."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        path = path.with_suffix(".json")
    if not path.is_file():
        raise ModelCardError(f"{path}: model card not found (every model needs NAME.json "
                             "next to NAME.onnx)")
    if path.stat().st_size > MAX_CARD_BYTES:
        raise ModelCardError(f"{path}: model card is too large")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelCardError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelCardError(f"{path}: expected a JSON object")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise ModelCardError(f"{path}: field 'format' should be '{FORMAT}', got {fmt!r}")
    onnx_name = doc.get("onnx", path.with_suffix(".onnx").name)
    onnx_path = (path.parent / onnx_name).resolve()
    if onnx_path.parent != path.parent.resolve():
        raise ModelCardError(f"{path}: field 'onnx' must name a file beside the card")
    size = _get(doc, "input.size", int, path)
    if not 16 <= size <= 2048:
        raise ModelCardError(f"{path}: field 'input.size' should be 16..2048, got {size}")
    mean = _get(doc, "input.mean", list, path)
    std = _get(doc, "input.std", list, path)
    if len(mean) != 4 or len(std) != 4 or any(s == 0 for s in std):
        raise ModelCardError(f"{path}: fields 'input.mean' and 'input.std' need 4 values "
                             "(r, g, b, mask), std non-zero")
    outputs = _get(doc, "outputs", dict, path)
    for role in OUTPUT_CHANNELS:
        if not isinstance(outputs.get(role), str):
            raise ModelCardError(f"{path}: field 'outputs.{role}' is missing")
    for role in OPTIONAL_OUTPUTS:
        if role in outputs and not isinstance(outputs[role], str):
            raise ModelCardError(f"{path}: field 'outputs.{role}' must name a graph output")
    ratio = float(doc.get("input", {}).get("foreground_ratio", FOREGROUND_RATIO))
    fov = _camera_fov(doc, path)
    background = float(doc.get("input", {}).get("background", BACKGROUND))
    return ModelCard(
        path=path, id=_get(doc, "id", str, path), onnx_path=onnx_path,
        sha256=doc.get("sha256"), input_name=_get(doc, "input.name", str, path), size=size,
        mean=tuple(float(x) for x in mean), std=tuple(float(x) for x in std),
        foreground_ratio=ratio, background=background, fov_deg=fov,
        outputs={role: outputs[role] for role in (*OUTPUT_CHANNELS, *OPTIONAL_OUTPUTS)
                 if role in outputs}, raw=doc,
    )


def _camera_fov(doc: dict, path: Path) -> float:
    """The card's `camera`: orthographic (fov 0; the default) or perspective with the
    `fov_deg` to assume for images of unknown lens."""
    camera = doc.get("camera", {"type": "orthographic"})
    kind = camera.get("type") if isinstance(camera, dict) else None
    if kind not in CAMERA_TYPES:
        raise ModelCardError(f"{path}: field 'camera.type' should be one of "
                             f"{', '.join(CAMERA_TYPES)}, got {kind!r}")
    if kind == "orthographic":
        return 0.0
    fov = _get(doc, "camera.fov_deg", (int, float), path)
    if not 0 < fov <= MAX_FOV_DEG:
        raise ModelCardError(f"{path}: field 'camera.fov_deg' should be in (0, "
                             f"{MAX_FOV_DEG:g}] degrees, got {fov}")
    return float(fov)


def validate_against_graph(card: ModelCard, inputs: list, outputs: list) -> None:
    """Check the card against an onnxruntime session's inputs/outputs (NodeArg lists)."""
    by_name = {arg.name: arg for arg in inputs}
    if card.input_name not in by_name:
        raise ModelCardError(f"{card.path}: field 'input.name' is {card.input_name!r} but the "
                             f"graph's inputs are {sorted(by_name)}")
    shape = by_name[card.input_name].shape
    if len(shape) != 4:
        raise ModelCardError(f"{card.path}: input {card.input_name!r} has rank {len(shape)} in "
                             "the graph; the contract needs [1, 4, S, S]")
    if isinstance(shape[1], int) and shape[1] != 4:
        raise ModelCardError(f"{card.path}: input {card.input_name!r} has {shape[1]} channels "
                             "in the graph; the contract needs 4 (r, g, b, mask)")
    for axis in (2, 3):
        if isinstance(shape[axis], int) and shape[axis] != card.size:
            raise ModelCardError(f"{card.path}: field 'input.size' is {card.size} but the graph "
                                 f"expects {shape[axis]}")
    names = {arg.name: arg for arg in outputs}
    for role, name in card.outputs.items():
        if name not in names:
            raise ModelCardError(f"{card.path}: field 'outputs.{role}' names {name!r}, which "
                                 f"the graph does not produce (it has {sorted(names)})")
        out_shape = names[name].shape
        if role in OPTIONAL_OUTPUTS and role not in OPTIONAL_MAPS:
            if len(out_shape) != 2 or isinstance(out_shape[1], int) and out_shape[1] != 1:
                raise ModelCardError(f"{card.path}: output {name!r} ({role}) has shape "
                                     f"{out_shape}; expected [1, 1]")
            continue
        channels = out_shape[1] if len(out_shape) == 4 else None
        want = {**OUTPUT_CHANNELS, **OPTIONAL_MAPS}[role]
        if len(out_shape) != 4 or isinstance(channels, int) and channels != want:
            raise ModelCardError(f"{card.path}: output {name!r} ({role}) has shape {out_shape}; "
                                 f"expected [1, {want}, S, S]")
