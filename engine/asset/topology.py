"""Mesh topology in plain numpy/scipy: welding, edges, holes, connected parts.

Everything works on the *welded* mesh (vertices that share a position are one
vertex), so UV seams and hard-edge splits do not count as holes or loose parts.
Vectorised for meshes of millions of triangles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["Topology", "analyse", "weld"]


def weld(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge vertices with identical positions.

    Returns (welded (m, 3) float, welded faces (n, 3) int64, inverse (len(vertices),) int64
    mapping each original vertex to its welded index)."""
    v = np.ascontiguousarray(vertices, dtype=np.float64)
    v = v + 0.0  # turn -0.0 into 0.0 so that they compare equal as bytes
    keys = v.view(np.dtype((np.void, 24))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.ravel().astype(np.int64)
    return v[first], inverse[np.asarray(faces, dtype=np.int64)], inverse


@dataclass
class Topology:
    """Counts and per-element labels of a welded mesh."""

    vertices: np.ndarray  # (m, 3) welded positions
    faces: np.ndarray  # (n, 3) welded faces
    inverse: np.ndarray  # original vertex -> welded vertex
    boundary_edges: np.ndarray  # (b, 2) edges used by one face
    non_manifold_edges: int  # edges used by three or more faces
    inconsistent_edges: int  # edges whose two faces disagree on winding
    holes: int  # closed loops of boundary edges
    hole_sizes: np.ndarray  # (holes,) edges per loop
    hole_labels: np.ndarray  # (b,) loop index of each boundary edge
    degenerate: np.ndarray  # (n,) bool: zero area or repeated vertex
    face_part: np.ndarray  # (n,) connected part of each face
    parts: int

    @property
    def watertight(self) -> bool:
        return len(self.boundary_edges) == 0 and self.non_manifold_edges == 0


def analyse(vertices: np.ndarray, faces: np.ndarray, area_eps: float | None = None) -> Topology:
    wv, wf, inverse = weld(vertices, faces)
    n_v = len(wv)
    # Degenerate faces: repeated welded index or (near) zero area.
    repeated = (wf[:, 0] == wf[:, 1]) | (wf[:, 1] == wf[:, 2]) | (wf[:, 0] == wf[:, 2])
    tri = wv[wf]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area2 = np.einsum("ij,ij->i", cross, cross)
    if area_eps is None:
        diag = float(np.linalg.norm(np.ptp(wv, axis=0))) if n_v else 0.0
        area_eps = (diag * 1e-7) ** 2
    degenerate = repeated | (area2 <= area_eps**2)

    good = ~repeated
    f = wf[good]
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    lo = directed.min(axis=1)
    hi = directed.max(axis=1)
    key = lo * n_v + hi
    forward = (directed[:, 0] < directed[:, 1]).astype(np.int64)
    order = np.argsort(key, kind="stable")
    skey = key[order]
    starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
    counts = np.diff(np.r_[starts, len(skey)])
    fwd_sum = np.add.reduceat(forward[order], starts) if len(starts) else np.zeros(0, np.int64)
    unique_keys = skey[starts]
    boundary_keys = unique_keys[counts == 1]
    boundary = np.stack([boundary_keys // n_v, boundary_keys % n_v], axis=1) if n_v else \
        np.zeros((0, 2), np.int64)
    non_manifold = int(np.count_nonzero(counts > 2))
    pair = counts == 2
    inconsistent = int(np.count_nonzero(fwd_sum[pair] != 1))

    # Holes: connected loops of boundary edges.
    if len(boundary):
        ids, local = np.unique(boundary.ravel(), return_inverse=True)
        local = local.reshape(-1, 2)
        graph = coo_matrix((np.ones(len(local)), (local[:, 0], local[:, 1])),
                           shape=(len(ids), len(ids)))
        holes, labels = connected_components(graph, directed=False)
        hole_labels = labels[local[:, 0]]
        hole_sizes = np.bincount(hole_labels, minlength=holes)
    else:
        holes, hole_labels, hole_sizes = 0, np.zeros(0, np.int64), np.zeros(0, np.int64)

    # Connected parts through shared (welded) vertices.
    if n_v:
        edges = np.concatenate([wf[:, [0, 1]], wf[:, [1, 2]]])
        graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])),
                           shape=(n_v, n_v))
        parts, vlabels = connected_components(graph, directed=False)
        used = np.zeros(n_v, bool)
        used[wf.ravel()] = True
        # relabel so that only parts with faces count
        face_part_raw = vlabels[wf[:, 0]]
        uniq, face_part = np.unique(face_part_raw, return_inverse=True)
        parts = len(uniq)
    else:
        parts, face_part = 0, np.zeros(0, np.int64)
    return Topology(
        vertices=wv, faces=wf, inverse=inverse, boundary_edges=boundary,
        non_manifold_edges=non_manifold, inconsistent_edges=inconsistent, holes=int(holes),
        hole_sizes=hole_sizes, hole_labels=hole_labels, degenerate=degenerate,
        face_part=face_part.ravel(), parts=int(parts),
    )


def part_extents(vertices: np.ndarray, faces: np.ndarray, face_part: np.ndarray,
                 parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Per part: (parts, 3) bounding-box size and (parts,) face count."""
    counts = np.bincount(face_part, minlength=parts)
    order = np.argsort(face_part, kind="stable")
    pts = vertices[faces[order]].reshape(-1, 3, 3)
    lo_f = pts.min(axis=1)
    hi_f = pts.max(axis=1)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    lo = np.minimum.reduceat(lo_f, starts, axis=0)
    hi = np.maximum.reduceat(hi_f, starts, axis=0)
    return hi - lo, counts
