"""Seen marks: per vertex, how well the input image saw the surface (1: it faced the
camera and was visible; 0: hidden, inferred by the generator). Defined in
docs/GENERATOR_INTERFACE.md ("Seen marks").

The mark lives on a trimesh mesh as ``mesh.vertex_attributes["_SEEN"]`` ((n,) float),
which trimesh's glTF exporter writes as the custom vertex attribute ``_SEEN`` (a float
SCALAR accessor; other tools ignore attributes whose names start with an underscore)
and its importer reads back. An asset without it counts as seen everywhere.
Shares are of surface area (m² in the file's units cancel out): a face's mark is the
mean of its three vertices'.

The seen arc: the azimuths (degrees about +Y from the front, +Z, positive towards +X, as
engine/animation/camera.py counts them) from which a camera sees at most
DEFAULT_THRESHOLD of inferred surface. `maquette generate` records it in the GLB's
record (meshes[0].extras.maquette.seen_arc_deg) and OUT.json; `[camera] range =
"seen"` sweeps it.
"""

from __future__ import annotations

import numpy as np

from engine.asset.topology import triangle_areas

SEEN_KEY = "_SEEN"
SEEN_MIN = 0.7  # a face whose mark is at least this counts as seen ...
INFERRED_MAX = 0.3  # ... at most this as inferred; between the two, in between
DEFAULT_THRESHOLD = 0.25  # a view is weak when more than this share of it is inferred
ARC_STEP_DEG = 5.0  # the seen arc grows from the front in steps of this
ARC_MIN_DEG = 15.0  # ... and reaches at least this far each way (a camera needs room)
ARC_MAX_DEG = 90.0  # ... and at most this far (beyond the side lies the inferred back)
ARC_KEY = "seen_arc_deg"  # the arc in the asset's record (engine.asset.inspect.RECORD_KEY)


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


def view_share(vertices: np.ndarray, faces: np.ndarray, seen: np.ndarray,
               direction: np.ndarray) -> float:
    """The share of the projected area seen from far away along `direction` (3,) (from
    the asset towards the camera) that faces marked at most INFERRED_MAX cover: each
    face facing the camera counts by its area projected towards it (orthographic, back
    faces culled; parts hiding others are not resolved, so this is an estimate)."""
    faces = np.asarray(faces)
    tri = np.asarray(vertices, np.float64)[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # 2 × area × normal
    weight = np.maximum(cross @ np.asarray(direction, np.float64), 0.0)
    total = float(weight.sum())
    if total <= 0:
        return 0.0
    return float(weight[face_seen(faces, seen) <= INFERRED_MAX].sum()) / total


def seen_arc(vertices: np.ndarray, faces: np.ndarray, seen: np.ndarray | None,
             elevation_deg: float = 0.0, threshold: float = DEFAULT_THRESHOLD
             ) -> tuple[float, float]:
    """[from, to] degrees of azimuth (see the module docstring) at `elevation_deg` over
    which view_share stays at most `threshold`: grown from the front in ARC_STEP_DEG
    steps on each side, at least ARC_MIN_DEG and at most ARC_MAX_DEG each way."""
    if seen is None:
        return -ARC_MAX_DEG, ARC_MAX_DEG
    el = np.radians(elevation_deg)

    def share(az_deg: float) -> float:
        az = np.radians(az_deg)
        direction = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
        return view_share(vertices, faces, seen, direction)

    def reach(sign: float) -> float:
        offset = 0.0
        while offset < ARC_MAX_DEG and share(sign * (offset + ARC_STEP_DEG)) <= threshold:
            offset += ARC_STEP_DEG
        return max(offset, ARC_MIN_DEG)

    return -reach(-1.0), reach(1.0)


def _gltf_json(path) -> dict:
    """The JSON of a GLB or glTF file (no mesh data decoded); {} for other formats."""
    import json
    from pathlib import Path

    from engine.asset.formats.gltf import read_glb_header
    from engine.asset.io import sniff_format

    path = Path(path)
    fmt = sniff_format(path)
    if fmt == "glb":
        return read_glb_header(path, path.stat().st_size)[0]
    if fmt == "gltf":
        return json.loads(path.read_bytes())
    return {}


def file_has_marks(path) -> bool:
    """Whether a mesh file carries seen marks, from a GLB/glTF's JSON only; other
    formats never do."""
    return any(SEEN_KEY in (p.get("attributes") or {})
               for m in _gltf_json(path).get("meshes", []) for p in m.get("primitives", []))


def file_seen_arc(path) -> tuple[float, float] | None:
    """The seen arc a generated GLB records (see the module docstring), or None when it
    records none (not generated by maquette, or generated before the arc was recorded)."""
    from engine.asset.model import RECORD_KEY

    meshes = _gltf_json(path).get("meshes") or [{}]
    record = (meshes[0].get("extras") or {}).get(RECORD_KEY) or {}
    arc = record.get(ARC_KEY) if isinstance(record, dict) else None
    if not (isinstance(arc, list) and len(arc) == 2 and
            all(isinstance(x, int | float) and not isinstance(x, bool) for x in arc)):
        return None
    lo, hi = float(arc[0]), float(arc[1])
    return (lo, hi) if -180.0 <= lo < hi <= 180.0 else None
