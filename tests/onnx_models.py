"""Tiny ONNX models that honour the generator contract, built by the tests themselves.

`make_inflate_model` maps the input mask to a slab: mask logits from the mask
channel, front/back depth ±thickness inside it, back colour = front colour.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MEAN = [0.5, 0.5, 0.5, 0.5]
STD = [0.5, 0.5, 0.5, 0.5]


def make_inflate_model(directory: Path, size: int = 64, name: str = "tiny",
                       thickness: float = 0.15, output_names: dict | None = None,
                       card_size: int | None = None, static_size: bool = True,
                       view_elevation: float | None = None,
                       back_tint: tuple[tuple[float, float, float], tuple[float, float, float]]
                       | None = None, front_albedo: float | None = None) -> Path:
    """Write NAME.onnx and NAME.json into `directory`; returns the card path. With
    `view_elevation`, an output `view_elevation` [1, 1] holds that constant. With
    `back_tint` (gain, offset), the back colour is the front colour × gain + offset per
    channel: a ghost of the front (same pixel grid) with a colour cast. With
    `front_albedo`, an output `front_albedo` [1, 3, S, S] is the back colour times it
    (a model that says the image's shading scales its colours by 1 / front_albedo)."""
    import onnx
    from onnx import TensorProto, helper

    names = {"mask": "mask", "front_depth": "front_depth", "back_depth": "back_depth",
             "back_color": "back_color"}
    names.update(output_names or {})
    dim = size if static_size else "S"

    def const(tensor_name: str, values, dtype=TensorProto.FLOAT, dims=None):
        values = np.asarray(values)
        return helper.make_node("Constant", [], [tensor_name], value=helper.make_tensor(
            tensor_name + "_v", dtype, dims if dims is not None else list(values.shape),
            values.flatten().tolist()))

    nodes = [
        const("starts_rgb", [0], TensorProto.INT64), const("ends_rgb", [3], TensorProto.INT64),
        const("starts_m", [3], TensorProto.INT64), const("ends_m", [4], TensorProto.INT64),
        const("axis1", [1], TensorProto.INT64),
        const("half", [0.5], dims=[]), const("twenty", [20.0], dims=[]),
        const("thick", [thickness], dims=[]), const("neg_thick", [-thickness], dims=[]),
        helper.make_node("Slice", ["image", "starts_rgb", "ends_rgb", "axis1"], ["rgb_n"]),
        helper.make_node("Slice", ["image", "starts_m", "ends_m", "axis1"], ["m_n"]),
        # undo (x - 0.5) / 0.5
        helper.make_node("Mul", ["rgb_n", "half"], ["rgb_h"]),
        helper.make_node("Add", ["rgb_h", "half"],
                         ["rgb_t" if back_tint is not None else names["back_color"]]),
        helper.make_node("Mul", ["m_n", "half"], ["m_h"]),
        helper.make_node("Add", ["m_h", "half"], ["m"]),
        helper.make_node("Sub", ["m", "half"], ["m_c"]),
        helper.make_node("Mul", ["m_c", "twenty"], [names["mask"]]),
        helper.make_node("Mul", ["m", "neg_thick"], [names["front_depth"]]),
        helper.make_node("Mul", ["m", "thick"], [names["back_depth"]]),
    ]
    if back_tint is not None:
        gain, offset = back_tint
        nodes += [const("tint_gain", np.reshape(gain, (1, 3, 1, 1))),
                  const("tint_offset", np.reshape(offset, (1, 3, 1, 1))),
                  helper.make_node("Mul", ["rgb_t", "tint_gain"], ["rgb_g"]),
                  helper.make_node("Add", ["rgb_g", "tint_offset"], [names["back_color"]])]
    inputs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 4, dim, dim])]
    outputs = [helper.make_tensor_value_info(names[k], TensorProto.FLOAT, [1, c, dim, dim])
               for k, c in (("mask", 1), ("front_depth", 1), ("back_depth", 1),
                            ("back_color", 3))]
    if front_albedo is not None:
        nodes += [const("albedo_k", [front_albedo], dims=[]),
                  helper.make_node("Mul", [names["back_color"], "albedo_k"], ["front_albedo"])]
        outputs.append(helper.make_tensor_value_info("front_albedo", TensorProto.FLOAT,
                                                     [1, 3, dim, dim]))
    if view_elevation is not None:
        nodes.append(const("view_elevation", [[view_elevation]]))
        outputs.append(helper.make_tensor_value_info("view_elevation", TensorProto.FLOAT,
                                                     [1, 1]))
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    directory.mkdir(parents=True, exist_ok=True)
    onnx_path = directory / f"{name}.onnx"
    onnx.save(model, onnx_path)
    import hashlib

    card = {
        "id": f"test-{name}", "format": "maquette-layered-depth/1", "onnx": onnx_path.name,
        "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "input": {"name": "image", "size": card_size or size,
                  "channels": ["r", "g", "b", "mask"], "mean": MEAN, "std": STD,
                  "foreground_ratio": 0.85, "background": 0.5},
        "outputs": {"mask": "mask", "front_depth": "front_depth", "back_depth": "back_depth",
                    "back_color": "back_color",
                    **({"view_elevation": "view_elevation"} if view_elevation is not None
                       else {}),
                    **({"front_albedo": "front_albedo"} if front_albedo is not None else {})},
        "camera": {"type": "orthographic", "crop_extent": 1.0, "depth_origin": "bbox_center"},
    }
    card_path = directory / f"{name}.json"
    card_path.write_text(json.dumps(card, indent=2))
    return card_path
