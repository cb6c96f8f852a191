"""A technical report on an asset, each finding with a plain-words hint.

``inspect_asset(asset)`` returns a JSON-ready dict; ``format_report`` turns it into
text.  All measures are vectorised (numpy/scipy) and run in seconds on meshes of a
million triangles.  Units are the file's, taken as metres (glTF's convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from engine.asset.model import RECORD_KEY, Asset, mesh_uv, texture_image
from engine.asset.seen import ARC_KEY, mesh_seen, seen_shares
from engine.asset.topology import analyse, part_extents, triangle_areas

__all__ = ["AXES", "RECORD_KEY", "axis_vector", "format_report", "generated_record",
           "guess_up", "inspect_asset", "recorded_up", "surface_samples"]

AXES = {"+x": (0, 1.0), "-x": (0, -1.0), "+y": (1, 1.0), "-y": (1, -1.0),
        "+z": (2, 1.0), "-z": (2, -1.0)}
FRAGMENT_FRACTION = 0.05  # parts smaller than this share of the largest part's size
THIN_FRACTION = 0.01  # walls thinner than 1 % of the largest dimension



def generated_record(mesh: trimesh.Trimesh) -> dict | None:
    """The record `maquette generate` left in the file, or None."""
    record = getattr(mesh, "metadata", {}).get(RECORD_KEY)
    return record if isinstance(record, dict) and record.get("generated") else None


def recorded_up(mesh: trimesh.Trimesh) -> str | None:
    """The up axis ("+y"...) the file records it stands on (a generated asset is upright
    by construction), or None when it records nothing."""
    record = generated_record(mesh)
    up = str(record.get("up", "")).lower() if record and record.get("upright") else ""
    return up if up in AXES else None


def axis_vector(name: str) -> np.ndarray:
    """(3,) unit vector of a signed axis name ("+x" ... "-z")."""
    index, sign = AXES[name]
    v = np.zeros(3)
    v[index] = sign
    return v


def guess_up(mesh: trimesh.Trimesh, convention: str = "+y") -> tuple[str, dict]:
    """Which axis points up when the object rests on its base.

    For each of the six axis directions: how much of the object's footprint (its
    outline seen from above) it would stand on, i.e. the area of the convex hull's
    face lying flat on the ground divided by the footprint's area (a bottle standing
    scores about 1, lying on its side almost 0; four wheels count as the rectangle
    they span).  The file's convention is kept unless it scores under 35 % of the
    best (the object could not stand that way) or nothing scores 0.15 (no flat base).
    Returns (axis name, {axis: score})."""
    from scipy.spatial import ConvexHull

    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    try:
        hull = trimesh.convex.convex_hull(vertices[::max(1, len(vertices) // 200000)])
        normals, areas = hull.face_normals, hull.area_faces
        hull_points = np.asarray(hull.vertices)
    except Exception:  # flat or degenerate: no hull
        return convention, {}
    scores = {}
    for name, (index, _sign) in AXES.items():
        up = axis_vector(name)
        contact = float(areas[normals @ up < -0.999].sum())
        plane = hull_points[:, [i for i in range(3) if i != index]]
        try:
            footprint = float(ConvexHull(plane).volume)
        except Exception:
            footprint = 0.0
        scores[name] = contact / footprint if footprint > 0 else 0.0
    best = max(scores, key=scores.get)
    if scores.get(convention, 0.0) >= 0.35 * scores[best] or scores[best] < 0.15:
        best = convention
    return best, scores


def surface_samples(mesh: trimesh.Trimesh, count: int, seed: int = 0,
                    areas: np.ndarray | None = None):
    """(count, 3) points, (count,) face index and (count, 3) barycentric coordinates,
    area-weighted and deterministic. `areas`: the (n,) face areas if already known."""
    rng = np.random.default_rng(seed)
    if areas is None:
        areas = triangle_areas(np.asarray(mesh.vertices, dtype=np.float64),
                               np.asarray(mesh.faces, dtype=np.int64))
    cdf = np.cumsum(areas)
    if cdf[-1] <= 0:
        faces = rng.integers(0, len(areas), count)
    else:
        faces = np.searchsorted(cdf, rng.random(count) * cdf[-1]).clip(0, len(areas) - 1)
    r = rng.random((count, 2))
    flip = r.sum(axis=1) > 1
    r[flip] = 1 - r[flip]
    bary = np.column_stack([1 - r.sum(axis=1), r[:, 0], r[:, 1]])
    tri = np.asarray(mesh.vertices)[np.asarray(mesh.faces)[faces]]
    points = np.einsum("ij,ijk->ik", bary, tri)
    return points, faces, bary


def _thin_walls(points, normals, diag, extent, area) -> dict:
    tree = cKDTree(points)
    probes = min(len(points), 3000)
    k = min(48, len(points))
    dist, idx = tree.query(points[:probes], k=k)
    p = points[:probes, None, :]
    n = normals[:probes, None, :]
    q = points[idx]
    qn = normals[idx]
    delta = p - q
    depth = np.einsum("ijk,ijk->ij", delta, np.broadcast_to(n, delta.shape))
    lateral = np.linalg.norm(delta - depth[..., None] * n, axis=-1)
    opposite = np.einsum("ijk,ijk->ij", qn, np.broadcast_to(n, qn.shape)) < -0.5
    spacing = np.sqrt(area / max(len(points), 1))  # mean distance between samples
    valid = opposite & (depth > 1e-9 * diag) & (lateral < np.maximum(depth, 2.0 * spacing))
    thickness = np.where(valid, depth, np.inf).min(axis=1)
    found = np.isfinite(thickness)
    limit = THIN_FRACTION * extent
    thin = found & (thickness < limit)
    return {
        "thin_fraction": float(thin.mean()) if probes else 0.0,
        "min_thickness_m": float(thickness[found].min()) if found.any() else None,
        "threshold_m": float(limit),
    }


def _symmetry(points, center, diag) -> dict:
    tree = cKDTree(points)
    result = {}
    for axis, label in ((0, "x"), (2, "z"), (1, "y")):
        mirrored = points.copy()
        mirrored[:, axis] = 2 * center[axis] - mirrored[:, axis]
        d, _ = tree.query(mirrored, k=1)
        result[label] = float(np.median(d) / diag) if diag else 0.0
    return result


#: Baked lighting: neighbouring samples whose luminance differs by more than this are
#: across a material edge (a dark pole under a bright lamp), not shading, and left out.
BAKED_EDGE_STEP = 0.06


def _baked_lighting(mesh, faces, bary, normals, points) -> dict | None:
    """How much the base colour's luminance follows the surface normal, measured between
    neighbouring surface samples on the same side and of one material (luminance steps
    under BAKED_EDGE_STEP): painted-in light makes the side facing it brighter within
    each material, while different materials facing different ways (a dark base, a white
    top) do not count. strength: luminance change per unit of normal change, relative to
    the mean luminance; r2: the share of those neighbours' luminance differences it
    explains."""
    image = texture_image(mesh)
    uv = getattr(mesh.visual, "uv", None)
    colors = None
    if image is not None and uv is not None and len(uv) == len(mesh.vertices):
        small = image.convert("RGB")
        if max(small.size) > 1024:
            small = small.resize((min(small.size[0], 1024), min(small.size[1], 1024)))
        tex = np.asarray(small, dtype=np.float32) / 255.0
        h, w = tex.shape[:2]
        tri_uv = np.asarray(uv)[np.asarray(mesh.faces)[faces]]
        s = np.einsum("ij,ijk->ik", bary, tri_uv) % 1.0
        px = np.clip((s[:, 0] * w).astype(int), 0, w - 1)
        py = np.clip(((1.0 - s[:, 1]) * h).astype(int), 0, h - 1)
        colors = tex[py, px]
        source = "texture"
    elif getattr(mesh.visual, "kind", None) in ("vertex", "face"):
        vc = np.asarray(mesh.visual.vertex_colors, dtype=np.float32)[:, :3] / 255.0
        colors = np.einsum("ij,ijk->ik", bary, vc[np.asarray(mesh.faces)[faces]])
        source = "vertex colours"
    if colors is None:
        return None
    lum = (colors @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)).astype(np.float64)
    probes = min(len(points), 4000)
    k = min(9, len(points))
    _, idx = cKDTree(points).query(points[:probes], k=k)
    i = np.repeat(np.arange(probes), k - 1)
    j = np.asarray(idx)[:, 1:].ravel()
    d_lum = lum[j] - lum[i]
    d_normal = normals[j] - normals[i]
    pairs = ((np.einsum("ij,ij->i", normals[i], normals[j]) > 0.5)
             & (np.abs(d_lum) < BAKED_EDGE_STEP) & (np.linalg.norm(d_normal, axis=1) > 0.02))
    mean = float(lum.mean()) or 1e-6
    result = {"source": source, "strength": 0.0, "r2": 0.0, "light_direction": [0.0, 0.0, 0.0],
              "pairs": int(pairs.sum()), "likely": False,
              "measures": "luminance change per unit normal change between neighbouring "
                          "surface points of one material, relative to the mean luminance"}
    if pairs.sum() < 100:
        return result
    gradient, *_ = np.linalg.lstsq(d_normal[pairs], d_lum[pairs], rcond=None)
    total = float(np.var(d_lum[pairs]))
    r2 = 1.0 - float(np.var(d_lum[pairs] - d_normal[pairs] @ gradient)) / total \
        if total > 1e-12 else 0.0
    strength = float(np.linalg.norm(gradient) / mean)
    direction = gradient / (np.linalg.norm(gradient) or 1.0)
    result.update({"strength": strength, "r2": r2,
                   "light_direction": [float(x) for x in direction],
                   "likely": bool(strength > 0.25 and r2 > 0.15)})
    return result


def _describe_pivot(rel: np.ndarray, up_index: int) -> str:
    inside = np.all((rel >= -0.01) & (rel <= 1.01))
    if not inside:
        return "outside the bounding box"
    horiz = [i for i in range(3) if i != up_index]
    centred = all(abs(rel[i] - 0.5) < 0.05 for i in horiz)
    if centred and abs(rel[up_index]) < 0.05:
        return "at the base centre"
    if centred and abs(rel[up_index] - 0.5) < 0.05:
        return "at the centre"
    if centred:
        return f"on the vertical axis, {rel[up_index] * 100:.0f}% up"
    return "inside the bounds, off-centre"


@dataclass
class _Inspection:
    """One inspection: the measures every section shares, and the findings so far."""

    asset: Asset
    samples: int
    vertices: np.ndarray  # (n, 3) float
    faces: np.ndarray  # (m, 3) int
    lo: np.ndarray  # (3,) bounds
    hi: np.ndarray
    up_index: int  # the axis the object stands along (guess_up)
    up: str
    topo: object  # engine.asset.topology.Topology
    findings: list[dict] = field(default_factory=list)

    @property
    def size(self) -> np.ndarray:
        return self.hi - self.lo

    def add(self, check, level, text, hint=""):
        self.findings.append({"check": check, "level": level, "text": text, "hint": hint})


def _file(r: _Inspection) -> dict:
    for warning in r.asset.warnings:
        renamed = warning.startswith(("the extension", "the file is named"))
        r.add("file", "warn", warning, "rename the file to match its content" if renamed else "")
    return {"file": str(r.asset.source), "format": r.asset.format}


def _dimensions(r: _Inspection) -> dict:
    """Size and orientation."""
    size, up = r.size, r.up
    extent = float(size.max())
    recorded = recorded_up(r.asset.mesh)
    dims = {"size_m": [float(x) for x in size], "up_axis_file": "+y (glTF convention)",
            "up_axis_guess": up, "height_m": float(size[r.up_index])}
    text = f"{size[0]:.3g} x {size[1]:.3g} x {size[2]:.3g} m (x, y, z); rests with {up} up"
    if recorded:
        dims["up_axis_recorded"] = recorded
        r.add("orientation", "ok", text + " (generated upright by maquette generate, as the "
              "file records: prep --up auto keeps it)")
    elif up != "+y":
        r.add("orientation", "warn", text,
              f"the file is Y-up but the object seems to stand on {up}: run prep --up auto")
    else:
        r.add("orientation", "ok", text)
    if extent > 50 or extent < 0.005:
        r.add("scale", "warn", f"the largest side is {extent:.3g} m",
              "units look wrong (centimetres or millimetres?): run prep --height METRES")
    return {"dimensions": dims}


def _counts(r: _Inspection) -> dict:
    faces, vertices, topo = r.faces, r.vertices, r.topo
    counts = {"triangles": int(len(faces)), "vertices": int(len(vertices)),
              "welded_vertices": int(len(topo.vertices)), "meshes_in_file": r.asset.parts}
    level = "warn" if len(faces) > 500_000 else "ok"
    r.add("triangles", level, f"{len(faces):,} triangles, {len(vertices):,} vertices "
          f"({len(topo.vertices):,} unique positions)",
          "heavy for real-time and web use: run prep --faces 50000" if level == "warn" else "")
    return {"counts": counts}


def _topology(r: _Inspection) -> dict:
    topo = r.topo
    topology = {
        "watertight": topo.watertight, "boundary_edges": int(len(topo.boundary_edges)),
        "holes": topo.holes, "largest_hole_edges": int(topo.hole_sizes.max()) if topo.holes
        else 0, "non_manifold_edges": topo.non_manifold_edges,
        "inconsistent_winding_edges": topo.inconsistent_edges,
        "degenerate_faces": int(topo.degenerate.sum()),
    }
    if topo.watertight:
        r.add("watertight", "ok", "watertight (closed, every edge shared by two faces)")
    else:
        r.add("watertight", "warn",
              f"not watertight: {topology['boundary_edges']:,} open edges in {topo.holes} "
              f"hole(s), {topo.non_manifold_edges:,} non-manifold edges",
              "for printing or clean shadows: run prep --fill-holes (fills small holes); "
              "large openings need modelling" if topo.holes else
              "non-manifold edges join three or more faces: usually overlapping parts")
    if topo.inconsistent_edges:
        r.add("winding", "warn", f"{topo.inconsistent_edges:,} edges join faces of opposite "
              f"winding", "run prep (it makes winding and normals consistent)")
    if topology["degenerate_faces"]:
        r.add("degenerate", "warn", f"{topology['degenerate_faces']:,} degenerate (zero-area) "
              f"faces", "run prep (it drops them)")
    return {"topology": topology}


def _loose_parts(r: _Inspection) -> dict:
    topo = r.topo
    extents, part_faces = part_extents(topo.vertices, topo.faces, topo.face_part, topo.parts)
    part_size = np.linalg.norm(extents, axis=1)
    order = np.argsort(-part_size)
    largest = float(part_size[order[0]]) if len(order) else 0.0
    small = part_size < FRAGMENT_FRACTION * largest
    loose = {
        "count": topo.parts,
        "fragments": int(small.sum()),
        "parts": [{"triangles": int(part_faces[i]), "size_m": float(part_size[i]),
                   "relative_size": float(part_size[i] / largest) if largest else 0.0}
                  for i in order[:10]],
    }
    if small.any():
        r.add("loose parts", "warn",
              f"{topo.parts} connected parts; {int(small.sum())} fragment(s) under "
              f"{FRAGMENT_FRACTION:.0%} of the largest part's size "
              f"({int(part_faces[small].sum()):,} triangles)",
              "floating fragments are usually reconstruction noise: run prep "
              "--remove-fragments")
    else:
        r.add("loose parts", "ok" if topo.parts == 1 else "info",
              f"{topo.parts} connected part(s)", "" if topo.parts == 1 else
              "several parts of similar size: probably intended (wheels, handle...)")
    return {"loose_parts": loose}


def _pivot(r: _Inspection) -> dict:
    size = r.size
    rel = np.where(size > 0, (0.0 - r.lo) / np.where(size > 0, size, 1.0), 0.5)
    text = _describe_pivot(rel, r.up_index)
    centred = text in ("at the base centre", "at the centre")
    r.add("pivot", "ok" if centred else "info", f"pivot (origin) {text}",
          "" if centred else "run prep --pivot base (or center)")
    return {"pivot": {"relative": [float(x) for x in rel], "description": text}}


def _texture(r: _Inspection) -> dict:
    mesh = r.asset.mesh
    image = texture_image(mesh)
    uv = mesh_uv(mesh)
    texture = {"has_uv": uv is not None,
               "texture_size": list(image.size) if image is not None else None,
               "vertex_colors": getattr(mesh.visual, "kind", None) in ("vertex", "face")}
    if uv is not None:
        texture["uv_outside_0_1"] = float(np.mean((uv < -1e-3) | (uv > 1.001)))
    if image is not None:
        w, h = image.size
        level = "warn" if max(w, h) > 4096 else "ok"
        r.add("texture", level, f"base-colour texture {w}x{h}, UVs present"
              if uv is not None else f"texture {w}x{h} but no UVs",
              "large for web/AR: run prep --texture-size 2048" if level == "warn" else "")
    elif uv is not None:
        r.add("texture", "info", "UVs but no texture image")
    else:
        r.add("texture", "info", "no texture and no UVs" + (" (vertex colours)" if
              texture["vertex_colors"] else ""),
              "FBX/USDZ/OBJ exports will carry a plain material only")
    return {"texture": texture}


def _surface(r: _Inspection) -> dict:
    """Surface samples for thin walls, symmetry and baked lighting."""
    mesh, vertices, faces, topo = r.asset.mesh, r.vertices, r.faces, r.topo
    diag = float(np.linalg.norm(r.size))
    # face areas once, for the samples and the spacing (the welded faces' normals are
    # the faces' own: welding only merges equal positions)
    areas = 0.5 * np.sqrt(np.einsum("ij,ij->i", topo.face_normals, topo.face_normals))
    points, sface, bary = surface_samples(mesh, r.samples, areas=areas)
    tri = vertices[faces[sface]]  # normals of the sampled faces only
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    thin = _thin_walls(points, normals, diag, float(r.size.max()), float(areas.sum()))
    if thin["thin_fraction"] > 0.02:
        r.add("thin walls", "warn", f"{thin['thin_fraction']:.0%} of the surface is thinner "
              f"than {thin['threshold_m'] * 1000:.3g} mm (min "
              f"{thin['min_thickness_m'] * 1000:.3g} mm)",
              "thin shells may break when printed and flicker in shadows; thicken them in a "
              "modelling tool")
    else:
        r.add("thin walls", "ok", "no thin walls found")
    symmetry = _symmetry(points, 0.5 * (r.lo + r.hi), diag)
    sym_axes = [a for a in ("x", "z") if symmetry[a] < 0.01]
    r.add("symmetry", "info",
          "mirror-symmetric " + " and ".join({"x": "left/right", "z": "front/back"}[a]
                                             for a in sym_axes) if sym_axes else
          "not mirror-symmetric (left/right or front/back)",
          "a generated asset that should be symmetric but is not: the inferred side may be "
          "weak" if not sym_axes else "")
    baked = _baked_lighting(mesh, sface, bary, normals, points)
    if baked is None:
        r.add("baked lighting", "info", "no colour data to check for baked lighting")
    elif baked["likely"]:
        d = baked["light_direction"]
        r.add("baked lighting", "warn",
              f"shading looks painted into the base colour (within one material, "
              f"{baked['strength']:.0%} brighter towards ({d[0]:+.1f}, {d[1]:+.1f}, "
              f"{d[2]:+.1f}))",
              "baked light fights the stage's lights: the front of a generated asset is the "
              "input image with its light, so generate from a softly and evenly lit image"
              if generated_record(mesh) else
              "baked light fights the stage's lights: even out (or bake unlit) the base-colour "
              "texture in the tool that made it")
    else:
        r.add("baked lighting", "ok", "no strong lighting gradient in the base colour (within "
              "each material)")
    return {"thin_walls": thin, "symmetry": symmetry, "baked_lighting": baked}


def _seen(r: _Inspection) -> dict:
    """Shares of the surface the input image saw (engine.asset.seen); an asset without
    marks counts as seen."""
    shares = seen_shares(r.vertices, r.faces, mesh_seen(r.asset.mesh))
    arc = (generated_record(r.asset.mesh) or {}).get(ARC_KEY)
    if shares["marked"] and arc is not None:
        shares["arc_deg"] = arc
    if shares["marked"]:
        where = f" (seen arc {arc[0]:+.0f}° to {arc[1]:+.0f}° from the front)" if arc else ""
        r.add("seen", "info", f"{shares['seen']:.0%} of the surface seen by the input image, "
              f"{shares['inferred']:.0%} inferred, {shares['between']:.0%} in between{where}",
              "film it from where it was seen: maquette check SCENE.toml"
              if shares["inferred"] > 0.25 else "")
    else:
        r.add("seen", "info", "no seen marks (not generated by maquette): counted as seen")
    return {"seen": shares}


# the report's sections, in order: each adds its findings and returns its entries
SECTIONS = (_file, _dimensions, _counts, _topology, _loose_parts, _pivot, _texture, _surface,
            _seen)


def inspect_asset(asset: Asset, samples: int = 20000) -> dict:
    """The report as a JSON-ready dict (see module docstring)."""
    mesh = asset.mesh
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    up = recorded_up(mesh) or guess_up(mesh, "+y")[0]
    r = _Inspection(asset, samples, vertices, faces, vertices.min(axis=0),
                    vertices.max(axis=0), AXES[up][0], up, analyse(vertices, faces))
    report: dict = {}
    for section in SECTIONS:
        report.update(section(r))
    report["findings"] = r.findings
    return report


def format_report(report: dict) -> str:
    marks = {"ok": "ok  ", "info": "info", "warn": "WARN"}
    lines = [f"{report['file']} ({report['format'].upper()})"]
    for f in report["findings"]:
        lines.append(f"  [{marks[f['level']]}] {f['check']}: {f['text']}")
        if f["hint"]:
            lines.append(f"         -> {f['hint']}")
    return "\n".join(lines)
