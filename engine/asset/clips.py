"""Read a glTF/GLB file's animation clips into engine.animation.clips (no Panda3D).

Units and frames: as stored in the file (seconds; glTF Y-up, each node's parent frame).
Node channels (translation/rotation/scale) become Channels; clips that drive skin joints
or morph weights are marked `deforms` (Panda3D's Actor plays those). Each node's file
transform is returned as (translation, rotation, scale) for the paths a clip leaves alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.animation.clips import INTERPOLATIONS, PATHS, Channel, Clip, trs_decompose
from engine.asset.formats.gltf import (
    GltfFile,
    check_accessors,
    check_buffers,
    check_views,
    parse_json,
    read_glb_header,
)
from engine.asset.model import AssetError, Limits


def open_gltf(path: Path) -> GltfFile:
    """A glTF/GLB file with its buffers, views and accessors checked (read_accessor
    reads from it)."""
    path = Path(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"glTF":
        doc, bin_chunk = read_glb_header(path, path.stat().st_size)
    else:
        doc, bin_chunk = parse_json(path.read_bytes(), path, "glTF"), None
    g = GltfFile(path, doc, bin_chunk, Limits.from_env(None))
    for check in (check_buffers, check_views, check_accessors):
        check(g)
    return g


def node_rest(node: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if "matrix" in node:  # glTF: animated nodes never carry a matrix; decompose anyway
        return trs_decompose(np.asarray(node["matrix"], float).reshape(4, 4).T)
    return (np.asarray(node.get("translation", [0, 0, 0]), float),
            np.asarray(node.get("rotation", [0, 0, 0, 1]), float),
            np.asarray(node.get("scale", [1, 1, 1]), float))


def read_clips(path: Path, joints: bool = False, opened: GltfFile | None = None
               ) -> tuple[list[Clip], dict[int, tuple], dict]:
    """(clips in file order, node -> rest (translation, rotation, scale), the glTF JSON)
    of a glTF/GLB. `joints`: keep the channels of skin joints too (a writer that carries
    skins); by default they are left to Panda3D's Actor. `opened`: the file already
    opened (open_gltf), not read again.
    A clip without a name is called "anim<index>" (as panda3d-gltf names its bundle).
    AssetError naming the field for a malformed channel."""
    from engine.asset.formats.gltf import read_accessor

    g = opened if opened is not None else open_gltf(path)
    nodes = g.items("nodes")
    skinned = {j for skin in g.items("skins") for j in skin.get("joints", [])}
    rest = {i: node_rest(n) for i, n in enumerate(nodes)}
    clips = []
    for a, where, anim in g.objects("animations"):
        samplers = anim.get("samplers", [])
        channels, deforms, duration = [], False, 0.0
        for c, ch in enumerate(anim.get("channels", [])):
            here = f"{where}.channels[{c}]"
            target = ch.get("target", {})
            node, kind = target.get("node"), target.get("path")
            if not isinstance(node, int) or not 0 <= node < len(nodes):
                continue  # no node: an extension's target (KHR_animation_pointer)
            s = ch.get("sampler")
            if not isinstance(s, int) or not 0 <= s < len(samplers):
                raise AssetError(f"{path}: {here}.sampler: {s!r} does not exist")
            sampler = samplers[s]
            interpolation = sampler.get("interpolation", "LINEAR")
            if interpolation not in INTERPOLATIONS:
                raise AssetError(f"{path}: {where}.samplers[{s}].interpolation: "
                                 f"{interpolation!r} is not one of {INTERPOLATIONS}")
            times = read_accessor(g, sampler["input"])[:, 0].astype(np.float64)
            if len(times):
                duration = max(duration, float(times[-1]))
            if kind == "weights" or node in skinned:
                deforms = True
                if kind == "weights" or not joints:
                    continue
            if kind not in PATHS or not len(times):
                continue
            values = read_accessor(g, sampler["output"]).astype(np.float64)
            if interpolation == "CUBICSPLINE":
                values = values.reshape(len(times), 3, values.shape[-1])
            if len(values) != len(times):
                raise AssetError(f"{path}: {where}.samplers[{s}].output: {len(values)} "
                                 f"values for {len(times)} key times")
            channels.append(Channel(node, kind, times, values, interpolation))
        clips.append(Clip(anim.get("name") or f"anim{a}", tuple(channels),
                          duration, deforms))
    return clips, rest, g.doc
