"""Seen marks: per vertex, how well the input image saw the surface (1: it faced the
camera and was visible; 0: hidden, inferred by the generator). Defined in
docs/GENERATOR_INTERFACE.md ("Seen marks").

The mark lives on a trimesh mesh as ``mesh.vertex_attributes["_SEEN"]`` ((n,) float),
which trimesh's glTF exporter writes as the custom vertex attribute ``_SEEN`` (a float
SCALAR accessor; other tools ignore attributes whose names start with an underscore)
and its importer reads back. An asset without it counts as seen everywhere.
Shares are of surface area (m² in the file's units cancel out): a face's mark is the
mean of its three vertices'.
"""

from __future__ import annotations

import numpy as np

from engine.asset.topology import triangle_areas

SEEN_KEY = "_SEEN"
SEEN_MIN = 0.7  # a face whose mark is at least this counts as seen ...
INFERRED_MAX = 0.3  # ... at most this as inferred; between the two, in between


def mesh_seen(mesh) -> np.ndarray | None:
    """(n,) float64 marks in [0, 1] per vertex, or None when the mesh carries none."""
    attributes = getattr(mesh, "vertex_attributes", None) or {}
    values = attributes.get(SEEN_KEY)
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)[:, 0]
    if len(values) != len(mesh.vertices):
        return None
    return np.clip(np.nan_to_num(values, nan=1.0), 0.0, 1.0)


def set_seen(mesh, values: np.ndarray | None) -> None:
    """Attach (or, with None, drop) the marks as the mesh's ``_SEEN`` attribute."""
    if values is None:
        mesh.vertex_attributes.pop(SEEN_KEY, None)
        return
    mesh.vertex_attributes[SEEN_KEY] = np.clip(np.asarray(values, np.float32), 0.0, 1.0)


def face_seen(faces: np.ndarray, seen: np.ndarray | None) -> np.ndarray:
    """(m,) the mean mark of each face's vertices (1 everywhere without marks)."""
    if seen is None:
        return np.ones(len(faces))
    return np.asarray(seen, np.float64)[np.asarray(faces)].mean(axis=1)


def seen_shares(vertices: np.ndarray, faces: np.ndarray, seen: np.ndarray | None) -> dict:
    """Shares of surface area seen (mark ≥ SEEN_MIN), inferred (≤ INFERRED_MAX) and in
    between, each rounded to 0.001; `marked` says whether the mesh carried marks."""
    per_face = face_seen(faces, seen)
    area = triangle_areas(vertices, np.asarray(faces))
    total = max(float(area.sum()), 1e-30)
    seen_share = float(area[per_face >= SEEN_MIN].sum()) / total
    inferred = float(area[per_face <= INFERRED_MAX].sum()) / total
    return {"marked": seen is not None, "seen": round(seen_share, 3),
            "inferred": round(inferred, 3),
            "between": round(max(0.0, 1.0 - seen_share - inferred), 3)}


def mesh_seen_shares(mesh) -> dict:
    """:func:`seen_shares` of a trimesh mesh."""
    return seen_shares(np.asarray(mesh.vertices), np.asarray(mesh.faces), mesh_seen(mesh))
