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

__all__ = ["Topology", "analyse", "face_normals", "part_extents", "smooth_vertex_normals",
           "unique_rows", "vertex_normals", "weld"]


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact duplicate rows of a 2-D float array, fast: rows are hashed to one uint64
    each (sorting 8-byte keys instead of whole rows), and the grouping is checked for
    collisions (falling back to an exact byte-wise sort if there is one).

    Returns (first index of each unique row, inverse (len(rows),) int64)."""
    data = np.ascontiguousarray(rows, dtype=np.float64) + 0.0  # -0.0 == 0.0
    bits = data.view(np.uint64)
    h = np.full(len(data), np.uint64(0xCBF29CE484222325))
    for k in range(data.shape[1]):
        h ^= bits[:, k]
        h *= np.uint64(0x100000001B3)
        h ^= h >> np.uint64(29)
    order = np.argsort(h)
    ordered = h[order]
    new_group = np.r_[True, ordered[1:] != ordered[:-1]]
    inverse = np.empty(len(h), dtype=np.int64)
    inverse[order] = np.cumsum(new_group) - 1
    first = order[new_group]
    if not np.array_equal(data[first][inverse], data):
        keys = data.view(np.dtype((np.void, data.dtype.itemsize * data.shape[1]))).ravel()
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        inverse = inverse.ravel().astype(np.int64)
    return first, inverse


def weld(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge vertices with identical positions.

    Returns (welded (m, 3) float, welded faces (n, 3) int64, inverse (len(vertices),) int64
    mapping each original vertex to its welded index)."""
    v = np.asarray(vertices, dtype=np.float64)
    first, inverse = unique_rows(v)
    return v[first] + 0.0, inverse[np.asarray(faces, dtype=np.int64)], inverse


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
    v0 = wv[wf[:, 0]]
    e1 = wv[wf[:, 1]] - v0
    e2 = wv[wf[:, 2]] - v0
    cx = e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1]
    cy = e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2]
    cz = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    area2 = cx * cx + cy * cy + cz * cz
    if area_eps is None:
        diag = float(np.linalg.norm(wv.max(axis=0) - wv.min(axis=0))) if n_v else 0.0
        area_eps = (diag * 1e-7) ** 2
    degenerate = repeated | (area2 <= area_eps**2)

    # Edges: key = lo * n + hi, doubled, plus one bit "runs lo -> hi in its face".
    f = wf[~repeated]
    a = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    b = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    key2 = (np.minimum(a, b) * n_v + np.maximum(a, b)) * 2 + (a < b)
    key2.sort()
    key = key2 >> 1
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    counts = np.diff(np.r_[starts, len(key)])
    fwd_sum = np.add.reduceat(key2 & 1, starts) if len(starts) else np.zeros(0, np.int64)
    unique_keys = key[starts]
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

    # Connected parts through shared (welded) vertices, over the unique edges.
    if n_v:
        lo_v, hi_v = unique_keys // n_v, unique_keys % n_v
        graph = coo_matrix((np.ones(len(lo_v), dtype=np.int8), (lo_v, hi_v)),
                           shape=(n_v, n_v)).tocsr()
        count, vlabels = connected_components(graph, directed=False)
        face_labels = vlabels[wf[:, 0]]
        used = np.zeros(count, bool)
        used[face_labels] = True  # components of isolated vertices do not count
        face_part = (np.cumsum(used) - 1)[face_labels]
        parts = int(used.sum())
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
    if parts == 1:
        mask = np.zeros(len(vertices), bool)
        mask[faces.ravel()] = True
        used = vertices[mask] if len(faces) else vertices
        return (used.max(axis=0) - used.min(axis=0))[None], counts
    # label each vertex by its face's part (a vertex belongs to one part)
    vertex_part = np.full(len(vertices), -1, dtype=np.int64)
    vertex_part[faces.ravel()] = np.repeat(face_part, 3)
    used = np.flatnonzero(vertex_part >= 0)
    order = used[np.argsort(vertex_part[used], kind="stable")]
    labels = vertex_part[order]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    pts = vertices[order]
    lo = np.minimum.reduceat(pts, starts, axis=0)
    hi = np.maximum.reduceat(pts, starts, axis=0)
    size = np.zeros((parts, 3))
    size[labels[starts]] = hi - lo
    return size, counts


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(n, 3) unnormalised face normals (length = twice the area), component-wise
    (np.cross is about half as fast on (n, 3) arrays)."""
    v = np.asarray(vertices, dtype=np.float64)
    p0 = v[faces[:, 0]]
    e1 = v[faces[:, 1]] - p0
    e2 = v[faces[:, 2]] - p0
    out = np.empty_like(e1)
    out[:, 0] = e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1]
    out[:, 1] = e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2]
    out[:, 2] = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    return out


def _corner_sums(faces: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """(size, k): per vertex, the sum of `values` (n, k) of the faces using it (once per
    corner). One sparse product (faces x vertices incidence), ~3x faster than three
    bincounts over the 3n corners."""
    from scipy.sparse import csr_matrix

    n = len(faces)
    incidence = csr_matrix((np.ones(3 * n), np.asarray(faces).ravel(),
                            np.arange(0, 3 * n + 1, 3)), shape=(n, size))
    return np.asarray(incidence.T @ values)


def _unit(acc: np.ndarray) -> np.ndarray:
    length = np.sqrt(np.einsum("ij,ij->i", acc, acc))[:, None]
    return np.divide(acc, length, out=np.zeros_like(acc), where=length > 0)


def _group_sums(acc: np.ndarray, group: np.ndarray) -> np.ndarray:
    size = int(group.max()) + 1 if len(group) else 0
    out = np.zeros((size, acc.shape[1]))
    for axis in range(acc.shape[1]):
        out[:, axis] = np.bincount(group, weights=acc[:, axis], minlength=size)
    return out


def vertex_normals(vertices: np.ndarray, faces: np.ndarray,
                   group: np.ndarray | None = None) -> np.ndarray:
    """(n, 3) area-weighted unit normals per vertex; with `group` (n,) the sums are
    shared by all vertices of a group (e.g. one welded position)."""
    acc = _corner_sums(faces, face_normals(vertices, faces), len(vertices))
    return _unit(acc) if group is None else _unit(_group_sums(acc, group))[group]


def smooth_vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(n, 3) normals shared across UV seams (vertices at one position average
    together), while hard edges (where a split vertex's own normal differs from the
    shared one by more than 30°) keep their own normal."""
    _, inverse = unique_rows(vertices)
    acc = _corner_sums(faces, face_normals(vertices, faces), len(vertices))
    own = _unit(acc)  # one pass over the faces serves both
    smooth = _unit(_group_sums(acc, inverse))[inverse]
    hard = np.einsum("ij,ij->i", own, smooth) < np.cos(np.radians(30))
    smooth[hard] = own[hard]
    return smooth
