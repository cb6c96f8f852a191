"""A glTF file's node animation as each placed mesh's motion, for writers that keep the
meshes apart but not the node tree (FBX: every clip as a take; USDZ: the first clip).

Units and frames: the file's (glTF Y-up, metres as stored); times in seconds from the
clip's start. A placed mesh (engine.asset.io: node transforms applied, so its vertices
are W_rest · p) moves at time t by M(t) = W(t) · W_rest⁻¹, where W is its glTF node's
world matrix with the clip's channels applied (parents included). No Panda3D, no
trimesh: pure numpy over engine.animation.clips and engine.asset.clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.animation.clips import Clip, node_matrices, trs_matrix

# samples per second of the written motion (AR Quick Look plays USD time codes)
MOTION_FPS = 30.0


@dataclass(frozen=True)
class PieceMotion:
    """One clip sampled for each placed mesh: `matrices[i]` is piece i's (k, 4, 4)
    motion at `times` (k,), or None for a piece the clip does not move."""

    name: str
    times: np.ndarray
    matrices: tuple


def frame_nodes(doc: dict) -> dict[str, int]:
    """The scene-graph frame names trimesh's glTF loader gives the file's nodes (a
    node's name, or its index, made unique in node order) -> node index."""
    from trimesh.util import unique_name

    names: dict[str, int] = {}
    counts: dict = {}
    for i, node in enumerate(doc.get("nodes", [])):
        names[unique_name(node.get("name", str(i)), names, counts=counts)] = i
    return names


def _world(node: int, locals_: dict[int, np.ndarray], parents: dict[int, int]) -> np.ndarray:
    chain = []
    seen = set()
    while node is not None and node not in seen:  # (a cycle is refused by the checks)
        seen.add(node)
        chain.append(node)
        node = parents.get(node)
    world = np.eye(4)
    for n in reversed(chain):
        world = world @ locals_[n]
    return world


def piece_motions(path: Path, frames: list, fps: float = MOTION_FPS) -> tuple[PieceMotion, ...]:
    """The motion of each placed mesh, given by its (frame, parent frame) names
    (engine.asset.model.Asset.frames), under each clip of the glTF file `path` that moves
    one of them, in file order; () when none does (no node animation, or no piece
    matched to its node)."""
    from engine.asset.clips import read_clips

    clips, rest, doc = read_clips(path)
    nodes = doc.get("nodes", [])
    parents = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    named = frame_nodes(doc)
    owners = [next((named[f] for f in pair if f in named), None) for pair in frames]
    rest_locals = {i: trs_matrix(*rest[i]) for i in range(len(nodes))}
    return tuple(m for m in (_clip_motion(c, owners, rest, rest_locals, parents, fps)
                             for c in clips if c.channels) if m is not None)


def piece_motion(path: Path, frames: list, fps: float = MOTION_FPS) -> PieceMotion | None:
    """The first moving clip's motion (piece_motions), or None."""
    motions = piece_motions(path, frames, fps)
    return motions[0] if motions else None


def _clip_motion(clip: Clip, owners: list, rest: dict, rest_locals: dict, parents: dict,
                 fps: float) -> PieceMotion | None:
    moved = set(clip.nodes)

    def affected(node):
        while node is not None:
            if node in moved:
                return True
            node = parents.get(node)
        return False

    if not any(o is not None and affected(o) for o in owners):
        return None
    count = max(2, int(round(clip.duration * fps)) + 1)
    times = np.arange(count) / fps
    worlds = []
    last = float(np.nextafter(clip.duration, 0.0))  # (the clip loops: t = duration is 0)
    for t in times:
        locals_ = dict(rest_locals)
        locals_.update(node_matrices(clip, min(float(t), last), rest))
        worlds.append(locals_)
    matrices = []
    for owner in owners:
        if owner is None or not affected(owner):
            matrices.append(None)
            continue
        inverse = np.linalg.inv(_world(owner, rest_locals, parents))
        matrices.append(np.stack([_world(owner, w, parents) @ inverse for w in worlds]))
    return PieceMotion(clip.name, times, tuple(matrices))
