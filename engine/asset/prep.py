"""Prepare an asset for use: orientation, facing, scale, pivot, cleanup, decimation,
texture size.  Pure geometry; writing is :mod:`engine.asset.export`'s job.

The mesh is handled as flat arrays (positions, faces, and per-vertex UVs, normals,
colours, seen marks), so every step keeps the attributes in step with the vertices
(decimation keeps a subset of the original vertices, so each keeps its own mark).  UV seams
(vertices split because their UVs differ) are kept through every step:

* duplicates are merged only where position *and* UV *and* normal agree;
* decimation uses meshoptimizer's simplifier, which collapses edges onto existing
  vertices (UVs stay exact) and moves seam vertices only along their seam.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from trimesh.visual import ColorVisuals, TextureVisuals

from engine.asset.inspect import (
    AXES,
    RECORD_KEY,
    axis_vector,
    generated_record,
    guess_up,
    recorded_up,
)
from engine.asset.model import (
    HEIGHT_RANGE_M,
    Asset,
    AssetError,
    max_triangles,
    mesh_uv,
    shrink_to,
    texture_image,
)
from engine.asset.seen import mesh_seen, set_seen
from engine.asset.topology import (
    analyse,
    face_normals,
    part_extents,
    smooth_vertex_normals,
    unique_rows,
    vertex_normals,
)

__all__ = ["PrepOptions", "PrepResult", "decimate", "display_copy", "figures", "prepare"]

FRAGMENT_FRACTION = 0.05  # parts under 5 % of the largest part's size are fragments
SMALL_HOLE_FRACTION = 0.1  # holes whose loop spans under 10 % of the size are "small"
SMALL_HOLE_MAX_EDGES = 200


PIVOTS = ("base", "center")
MAX_TEXTURE_SIDE = 16384


@dataclass
class PrepOptions:
    """What prep does; :meth:`validate` refuses bad values before anything is read or
    written, naming the option."""

    height: float | None = None  # metres, along the up axis after orientation
    pivot: str | None = None  # "base" | "center" | None (keep)
    up: str = "auto"  # auto | y | z | +x | -x | +y | -y | +z | -z
    face: str | None = None  # the file's axis the object's front looks along → +Z
    faces: int | None = None  # target triangle count
    texture_size: int | None = None  # longest texture side, pixels
    remove_fragments: bool = False
    fill_holes: bool = False

    def validate(self) -> None:
        lo, hi = HEIGHT_RANGE_M
        if self.height is not None and not (
                isinstance(self.height, int | float) and lo <= self.height <= hi):
            raise AssetError(f"--height: {self.height!r} is not a height from {lo:g} to "
                             f"{hi:g} metres")
        if self.pivot is not None and self.pivot not in PIVOTS:
            raise AssetError(f"--pivot: {self.pivot!r}: expected base or center")
        up = None if self.up == "auto" else _axis(self.up, "--up")
        if self.face is not None:
            front = _axis(self.face, "--face")
            if up is not None and abs(float(front @ up)) > 0.5:
                raise AssetError(f"--face {self.face}: the front cannot be the up axis "
                                 f"({self.up})")
        for name, value, low, high in (("--faces", self.faces, 4, max_triangles()),
                                       ("--texture-size", self.texture_size, 1,
                                        MAX_TEXTURE_SIDE)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not low <= value <= high):
                raise AssetError(f"{name}: {value!r} is not a whole number from {low} to "
                                 f"{high:,}")


@dataclass
class PrepResult:
    mesh: trimesh.Trimesh
    before: dict
    after: dict
    steps: list[str] = field(default_factory=list)
    # glTF sources: the prepared document (GLB bytes: every mesh, primitive, material,
    # attribute, animation and extension of the source kept; engine.asset.gltf_prep),
    # which a GLB/glTF export writes instead of `mesh`; None for other sources
    document: bytes | None = None
    transform: np.ndarray = field(default_factory=lambda: np.eye(4))  # orient+scale+pivot
    pieces: list = field(default_factory=list)  # the document's meshes (Asset.pieces)


class _Arrays:
    """Positions, faces and per-vertex attributes, edited together."""

    def __init__(self, mesh: trimesh.Trimesh):
        self.v = np.asarray(mesh.vertices, dtype=np.float64).copy()
        self.f = np.asarray(mesh.faces, dtype=np.int64).copy()
        uv = mesh_uv(mesh)
        self.uv = None if uv is None else uv.copy()
        self.colors = None
        if getattr(mesh.visual, "kind", None) in ("vertex", "face"):
            # face colours become vertex colours: they survive face edits and decimation
            self.colors = np.asarray(mesh.visual.vertex_colors).copy()
        self.normals = None  # computed when needed (merging), and again at the end
        self.seen = mesh_seen(mesh)  # seen marks (engine.asset.seen), or None
        self.index = None  # the source's vertex numbers, when a glTF document is kept
        self.material = getattr(mesh.visual, "material", None)
        self._topo = None  # (v, f, Topology) while v and f are unchanged

    def topology(self):
        """analyse() of the current arrays, cached until v or f is replaced (callers
        that edit them in place call invalidate())."""
        if self._topo is None or self._topo[0] is not self.v or self._topo[1] is not self.f:
            self._topo = (self.v, self.f, analyse(self.v, self.f))
        return self._topo[2]

    def invalidate(self) -> None:
        self._topo = None

    def attrs(self) -> list[str]:
        return [n for n in ("uv", "colors", "normals", "seen", "index")
                if getattr(self, n) is not None]

    def keep_vertices(self, keep: np.ndarray) -> None:
        """Keep vertices where `keep` (bool mask or index array), remapping faces."""
        index = np.flatnonzero(keep) if keep.dtype == bool else keep
        remap = np.full(len(self.v), -1, dtype=np.int64)
        remap[index] = np.arange(len(index))
        self.v = self.v[index]
        for name in self.attrs():
            setattr(self, name, getattr(self, name)[index])
        self.f = remap[self.f]

    def drop_unused(self) -> None:
        used = np.zeros(len(self.v), bool)
        used[self.f.ravel()] = True
        if not used.all():
            self.keep_vertices(used)

    def to_mesh(self) -> trimesh.Trimesh:
        mesh = trimesh.Trimesh(self.v, self.f, process=False,
                               vertex_normals=self.normals)
        if self.uv is not None:
            mesh.visual = TextureVisuals(uv=self.uv, material=self.material)
        elif self.colors is not None:
            mesh.visual = ColorVisuals(mesh, vertex_colors=self.colors)
        elif self.material is not None:
            mesh.visual = TextureVisuals(material=self.material)
        mesh._cache["vertex_normals"] = self.normals  # keep ours, not a recomputation
        set_seen(mesh, self.seen)
        return mesh


def _used_bounds(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the vertices the faces use: trimesh's mesh.bounds without its
    cache hashing (~4x faster at a million triangles)."""
    if not len(faces):
        return np.zeros(3), np.zeros(3)
    used = np.zeros(len(vertices), bool)
    used[faces.ravel()] = True
    points = vertices[used]
    return points.min(axis=0), points.max(axis=0)


def figures(mesh: trimesh.Trimesh, topo=None) -> dict:
    """The before/after numbers prep prints."""
    if topo is None:
        topo = analyse(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    extents, _ = part_extents(topo.vertices, topo.faces, topo.face_part, topo.parts)
    sizes = np.linalg.norm(extents, axis=1)
    image = texture_image(mesh)
    lo, hi = _used_bounds(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    return {
        "triangles": int(len(mesh.faces)), "vertices": int(len(mesh.vertices)),
        "size_m": [float(x) for x in hi - lo],
        "bounds_min": [float(x) for x in lo],
        "watertight": topo.watertight, "holes": topo.holes, "parts": topo.parts,
        "fragments": int(np.sum(sizes < FRAGMENT_FRACTION * sizes.max())) if len(sizes) else 0,
        "degenerate_faces": int(topo.degenerate.sum()),
        "texture": list(image.size) if image is not None else None,
    }


def _axis_rotation(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(3, 3) rotation taking unit axis `src` onto `dst` (both ± basis vectors)."""
    if np.allclose(src, dst):
        return np.eye(3)
    if np.allclose(src, -dst):
        # 180° about an axis perpendicular to both
        perp = np.array([1.0, 0.0, 0.0]) if abs(src[0]) < 0.5 else np.array([0.0, 1.0, 0.0])
        return 2.0 * np.outer(perp, perp) - np.eye(3)
    return trimesh.geometry.align_vectors(src, dst)[:3, :3]


def _axis(name: str, option: str = "axis") -> np.ndarray:
    """The unit vector of an axis name (x, +y, -z...)."""
    signed = name if isinstance(name, str) and name[:1] in ("+", "-") else f"+{name}"
    if signed not in AXES:
        raise AssetError(f"{option}: unknown axis {name!r}; expected one of x, y, z, +x, "
                         f"-x, ... -z")
    return axis_vector(signed)


def _merge_duplicates(a: _Arrays) -> int:
    """Merge vertices equal in position, UV, colour and (roughly) normal."""
    parts = [a.v] + [getattr(a, n).astype(np.float64).reshape(len(a.v), -1)
                     for n in a.attrs() if n != "normals"]
    first, _ = unique_rows(np.hstack(parts))
    if len(first) == len(a.v):
        return 0  # nothing shares position and UV: no need for normals
    if a.normals is None:
        a.normals = vertex_normals(a.v, a.f)
    # normals only roughly (bins of ~15°): split copies of a vertex on a smooth surface
    # merge, the two sides of a hard edge stay apart
    parts.append(np.round(a.normals * 4.0))
    first, inverse = unique_rows(np.hstack(parts))
    if len(first) == len(a.v):
        return 0
    merged = len(a.v) - len(first)
    a.f = inverse[a.f]
    a.v = a.v[first]
    for name in a.attrs():
        setattr(a, name, getattr(a, name)[first])
    return merged


def _fill_holes(a: _Arrays, topo, size: float) -> int:
    """Fan-fill holes whose loop is small. Returns how many were filled."""
    if not topo.holes:
        return 0
    # Directed boundary half-edges of the welded mesh (as they run in their face).
    wf = topo.faces
    half = np.concatenate([wf[:, [0, 1]], wf[:, [1, 2]], wf[:, [2, 0]]])
    n = len(topo.vertices)
    key = np.minimum(half[:, 0], half[:, 1]) * n + np.maximum(half[:, 0], half[:, 1])
    bkeys = topo.boundary_edges[:, 0] * n + topo.boundary_edges[:, 1]
    is_boundary = np.isin(key, bkeys)
    half_b = half[is_boundary]
    # one original vertex per welded vertex, to reuse its attributes
    representative = np.zeros(n, dtype=np.int64)
    representative[topo.inverse] = np.arange(len(topo.inverse))
    nxt = {}
    for s, e in half_b:
        nxt.setdefault(int(s), int(e))
    visited: set[int] = set()
    new_faces = []
    filled = 0
    for start in list(nxt):
        if start in visited:
            continue
        loop = [start]
        visited.add(start)
        cur = nxt[start]
        ok = True
        while cur != start:
            if cur in visited or cur not in nxt or len(loop) > SMALL_HOLE_MAX_EDGES:
                ok = False
                break
            loop.append(cur)
            visited.add(cur)
            cur = nxt[cur]
        if not ok or len(loop) < 3:
            continue
        pts = topo.vertices[loop]
        if np.linalg.norm(np.ptp(pts, axis=0)) > SMALL_HOLE_FRACTION * size:
            continue
        ids = representative[np.asarray(loop)]
        # the hole's faces run against the boundary's direction
        for i in range(1, len(ids) - 1):
            new_faces.append((ids[0], ids[i + 1], ids[i]))
        filled += 1
    if new_faces:
        a.f = np.vstack([a.f, np.asarray(new_faces, dtype=np.int64)])
    return filled


def _fix_winding(a: _Arrays) -> int:
    """Make winding consistent within each connected part, then outward (positive
    volume) for closed parts. Vectorised: faces and their flipped copies form a doubled
    graph (consistent neighbours link i-j and i'-j', inconsistent ones i-j' and i'-j);
    each part splits into two mirror components, and the faces in the higher-numbered
    one flip. Returns how many faces flipped."""
    topo = a.topology()
    wf = topo.faces
    n_f, n_v = len(wf), len(topo.vertices)
    flip = np.zeros(n_f, bool)
    if topo.inconsistent_edges:
        directed = np.concatenate([wf[:, [0, 1]], wf[:, [1, 2]], wf[:, [2, 0]]])
        owner = np.tile(np.arange(n_f), 3)
        key = np.minimum(directed[:, 0], directed[:, 1]) * n_v + directed.max(axis=1)
        forward = directed[:, 0] < directed[:, 1]
        order = np.argsort(key, kind="stable")
        skey = key[order]
        starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
        counts = np.diff(np.r_[starts, len(skey)])
        pairs = starts[counts == 2]
        i, j = owner[order[pairs]], owner[order[pairs + 1]]
        same_dir = forward[order[pairs]] == forward[order[pairs + 1]]  # inconsistent
        rows = np.concatenate([np.where(same_dir, i, i), np.where(same_dir, i + n_f, i + n_f)])
        cols = np.concatenate([np.where(same_dir, j + n_f, j), np.where(same_dir, j, j + n_f)])
        graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)),
                           shape=(2 * n_f, 2 * n_f))
        _, comp = connected_components(graph, directed=False)
        flip = comp[:n_f] > comp[n_f:]
        wf = np.where(flip[:, None], wf[:, ::-1], wf)
    if topo.non_manifold_edges == 0:
        # outward: signed volume of each part; per face p0 . (p1 x p2), written as
        # p0 . ((p1 - p0) x (p2 - p0)) (the same number) to reuse face_normals
        normals = topo.face_normals
        if normals is None:
            normals = face_normals(topo.vertices, topo.faces)
        if flip.any():  # (a reversed face's normal is the negated one)
            normals = np.where(flip[:, None], -normals, normals)
        signed = np.einsum("ij,ij->i", np.take(topo.vertices, wf[:, 0], axis=0), normals)
        volume = np.bincount(topo.face_part, weights=signed, minlength=topo.parts)
        boundary_parts = np.zeros(topo.parts, bool)
        if len(topo.boundary_edges):
            # parts with holes have no meaningful volume: leave them
            on_boundary = np.zeros(n_v, bool)
            on_boundary[topo.boundary_edges.ravel()] = True
            boundary_parts[np.unique(topo.face_part[on_boundary[wf].any(axis=1)])] = True
        inward = (volume < 0) & ~boundary_parts
        flip ^= inward[topo.face_part]
    if flip.any():
        a.f[flip] = a.f[flip][:, ::-1]
        a.invalidate()
    return int(flip.sum())


def _smooth_normals(a: _Arrays) -> None:
    a.normals = smooth_vertex_normals(a.v, a.f)


def decimate(a: _Arrays, target: int) -> tuple[int, float]:
    """Simplify to about `target` triangles with meshoptimizer. Returns (triangles,
    relative error)."""
    import meshoptimizer

    if target >= len(a.f):
        return len(a.f), 0.0
    if len(a.v) >= 2**32:
        raise AssetError("mesh too large to decimate (over 4G vertices)")
    indices = np.ascontiguousarray(a.f.ravel(), dtype=np.uint32)
    positions = np.ascontiguousarray(a.v, dtype=np.float32)
    destination = np.zeros(indices.size, dtype=np.uint32)
    error = np.zeros(1, dtype=np.float32)
    count = meshoptimizer.simplify(destination, indices, positions,
                                   target_index_count=3 * int(target), target_error=1.0,
                                   result_error=error)
    a.f = destination[:count].reshape(-1, 3).astype(np.int64)
    a.drop_unused()
    return len(a.f), float(error[0])


def _drop_collapse_artifacts(a: _Arrays, manifold_before: bool) -> int:
    """After simplification: drop faces whose corners collapsed onto one point (seam
    twins) and, when the mesh was manifold before, back-to-back face pairs (the same
    three welded corners twice: a fold the collapses made, which would leave four
    faces on each of its edges). Returns how many faces were dropped."""
    topo = a.topology()
    bad = topo.degenerate.copy()
    if manifold_before and topo.non_manifold_edges:
        canonical = np.sort(topo.faces, axis=1)
        _, inverse, counts = np.unique(canonical, axis=0, return_inverse=True,
                                       return_counts=True)
        bad |= counts[inverse.ravel()] > 1
    if bad.any():
        a.f = a.f[~bad]
    return int(bad.sum())


def _resize_texture(material, size: int):
    image = None
    for attr in ("baseColorTexture", "image"):
        image = getattr(material, attr, None)
        if image is not None:
            break
    new = None if image is None else shrink_to(image, size)
    if new is None:
        return None
    material = material.copy()
    for attr in ("baseColorTexture", "image"):
        if getattr(material, attr, None) is not None:
            setattr(material, attr, new)
    return material, image.size, new.size


DISPLAY_TEXTURE_SIZE = 1024  # contact-sheet tiles are 320 px: a 2048² texture is 8x over


def display_copy(mesh: trimesh.Trimesh, max_triangles: int) -> trimesh.Trimesh | None:
    """A decimated copy for display (contact sheets), or None if `mesh` is small
    enough. Same UVs and material, its texture reduced to DISPLAY_TEXTURE_SIZE;
    normals smoothed; flagged to be written with glTF tangents (a GLB of it loads in
    Panda3D without panda3d-gltf computing them)."""
    from engine.asset.export import GLTF_TANGENTS

    if len(mesh.faces) <= max_triangles:
        return None
    a = _Arrays(mesh)
    decimate(a, max_triangles)
    _smooth_normals(a)
    image = texture_image(mesh)
    if a.material is not None and image is not None and max(image.size) > DISPLAY_TEXTURE_SIZE:
        # a box filter by an integer factor (Image.reduce: ~0.005 s for 2048² against
        # LANCZOS's 0.05 s); for display the difference does not show
        smaller = image.reduce(-(-max(image.size) // DISPLAY_TEXTURE_SIZE))
        a.material = a.material.copy()
        for attr in ("baseColorTexture", "image"):
            if getattr(a.material, attr, None) is not None:
                setattr(a.material, attr, smaller)
    out = a.to_mesh()
    out.metadata[GLTF_TANGENTS] = True
    return out


@dataclass
class _Prep:
    """One prep run: the arrays being edited, the options, and what was done."""

    mesh: trimesh.Trimesh  # the input (read only)
    a: _Arrays
    options: PrepOptions
    size: float  # the input's bounding-box diagonal, m
    steps: list[str] = field(default_factory=list)
    lo: np.ndarray | None = None  # bounds after orientation (and scale)
    hi: np.ndarray | None = None
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # applied by _orient
    scale: float = 1.0  # applied by _scale, after the rotation
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))  # by _move_pivot, last

    def transform(self) -> np.ndarray:
        """(4, 4) what _orient, _scale and _move_pivot did to the positions."""
        out = np.eye(4)
        out[:3, :3] = self.scale * self.rotation
        out[:3, 3] = self.offset
        return out

    def say(self, text: str) -> None:
        self.steps.append(text)


def _drop_bad_faces(p: _Prep) -> None:
    """Merge duplicate vertices (UV seams kept), drop degenerate and duplicate faces."""
    a = p.a
    merged = _merge_duplicates(a)
    if merged:
        p.say(f"merged {merged:,} duplicate vertices (UV seams kept)")
    topo = a.topology()
    bad = topo.degenerate.copy()
    # exact duplicate faces (same three welded vertices)
    # (same winding; an opposite-winding pair is a double-sided sheet, left alone)
    duplicate = np.zeros(len(a.f), bool)
    if topo.non_manifold_edges or topo.inconsistent_edges:
        # (otherwise there are none: a duplicate's edges run the same way as its
        # twin's, so each is used twice one way, inconsistent, or more: non-manifold)
        roll = np.argmin(topo.faces, axis=1)
        canonical = np.take_along_axis(topo.faces, (roll[:, None] + np.arange(3)) % 3, axis=1)
        first, _ = unique_rows(canonical.astype(np.float64))
        duplicate[:] = True
        duplicate[first] = False
    bad |= duplicate
    if bad.any():
        a.f = a.f[~bad]
        p.say(f"dropped {int(topo.degenerate.sum()):,} degenerate and "
              f"{int((duplicate & ~topo.degenerate).sum()):,} duplicate faces")


def _remove_fragments(p: _Prep) -> None:
    if not p.options.remove_fragments:
        return
    a = p.a
    topo = a.topology()
    extents, _ = part_extents(topo.vertices, topo.faces, topo.face_part, topo.parts)
    sizes = np.linalg.norm(extents, axis=1)
    small = sizes < FRAGMENT_FRACTION * sizes.max()
    if small.any():
        drop = small[topo.face_part]
        a.f = a.f[~drop]
        p.say(f"removed {int(small.sum())} loose fragment(s) ({int(drop.sum()):,} triangles)")
    else:
        p.say("no loose fragments to remove")


def _winding_and_holes(p: _Prep) -> None:
    a = p.a
    flipped = _fix_winding(a)  # before filling: hole loops are walked along the winding
    if p.options.fill_holes:
        topo = a.topology()
        filled = _fill_holes(a, topo, p.size)
        p.say(f"filled {filled} of {topo.holes} hole(s)"
              + (" (the others are large openings)" if filled < topo.holes else ""))
        if filled:
            flipped += _fix_winding(a)  # now closed: make it outward
    if flipped:
        p.say(f"made winding consistent and outward ({flipped:,} faces flipped)")


def _orient(p: _Prep) -> None:
    """Turn the up axis to +Y and the front to +Z; a generated asset's recorded up axis
    is kept under --up auto (it is upright by construction: never laid on a side)."""
    a, options = p.a, p.options
    if options.up == "auto" and recorded_up(p.mesh):
        up_vec = _axis(recorded_up(p.mesh))
        p.say(f"kept {recorded_up(p.mesh)} up: the file records it was generated upright")
    elif options.up == "auto":
        guessed, _ = guess_up(p.mesh, "+y")
        up_vec = _axis(guessed)
        if guessed != "+y":
            p.say(f"turned upright: the file's {guessed} is now up (+Y)")
    else:
        up_vec = _axis(options.up, "--up")
        if not np.allclose(up_vec, [0, 1, 0]):
            up = options.up
            p.say(f"turned upright: the file's {up if up[0] in '+-' else '+' + up} "
                  f"is now up (+Y)")
    rotation = _axis_rotation(up_vec, np.array([0.0, 1.0, 0.0]))
    if options.face:
        front = rotation @ _axis(options.face, "--face")
        if abs(front[1]) > 0.5:
            raise AssetError(f"--face {options.face}: the front cannot be the up axis")
        turn = _axis_rotation(np.round(front), np.array([0.0, 0.0, 1.0]))
        rotation = turn @ rotation
        p.say(f"turned to face +Z (the file's {options.face} was the front)")
    p.rotation = rotation
    if not np.allclose(rotation, np.eye(3)):
        a.v = a.v @ rotation.T
        if a.normals is not None:
            a.normals = a.normals @ rotation.T
        if np.linalg.det(rotation) < 0:
            a.f = a.f[:, ::-1].copy()
    p.lo, p.hi = a.v.min(axis=0), a.v.max(axis=0)


def _scale(p: _Prep) -> None:
    height = p.options.height
    if height is None:
        return
    current = p.hi[1] - p.lo[1]
    if current <= 0:
        raise AssetError("the asset has no height to scale")
    scale = height / current
    p.a.v *= scale
    p.scale = scale
    p.lo, p.hi = p.lo * scale, p.hi * scale
    p.say(f"scaled by {scale:.4g} to {height:g} m tall")


def _move_pivot(p: _Prep) -> None:
    if not p.options.pivot:
        return
    pivot = 0.5 * (p.lo + p.hi)
    if p.options.pivot == "base":
        pivot[1] = p.lo[1]
    p.a.v -= pivot
    p.offset = -pivot
    p.say(f"pivot moved to the {'base centre' if p.options.pivot == 'base' else 'centre'}")


def _decimate(p: _Prep) -> None:
    target = p.options.faces
    if target is not None:
        a = p.a
        start = len(a.f)
        manifold_before = a.topology().non_manifold_edges == 0
        got, error = decimate(a, target)
        if got < start:
            dropped = _drop_collapse_artifacts(a, manifold_before)
            got = len(a.f)
            off = abs(got - target) / target
            p.say(f"decimated {start:,} -> {got:,} triangles (target {target:,}, "
                  f"{off:.1%} off; error {error:.2%} of the size"
                  + (f"; {dropped} collapsed or folded faces dropped" if dropped else "")
                  + ")")
    _smooth_normals(p.a)


def _texture(p: _Prep) -> None:
    a = p.a
    if p.options.texture_size is not None and a.material is not None:
        resized = _resize_texture(a.material, p.options.texture_size)
        if resized:
            a.material, old, new = resized
            p.say(f"texture {old[0]}x{old[1]} -> {new[0]}x{new[1]}")


# prep's steps, in order: cleanup, then orientation, scale and pivot, then decimation
# (and normals), then the texture
STEPS = (_drop_bad_faces, _remove_fragments, _winding_and_holes, _orient, _scale,
         _move_pivot, _decimate, _texture)


def prepare(asset: Asset, options: PrepOptions) -> PrepResult:
    """Apply `options` to a copy of the asset's mesh. The input is never modified.
    A glTF asset is prepared on its own document (engine.asset.gltf_prep): every
    primitive on its own, with its material and attributes; the result's `mesh` is
    that document read back (one mesh, for the figures and non-glTF exports)."""
    options.validate()
    if asset.document is not None:
        return _prepare_gltf(asset, options)
    a = _Arrays(asset.mesh)
    before = figures(asset.mesh, a.topology())
    # the size from the figures: mesh.extents without trimesh's caches
    p = _Prep(asset.mesh, a, options, float(np.linalg.norm(before["size_m"])) or 1.0)
    for step in STEPS:
        step(p)
    a.drop_unused()
    if len(a.f) == 0:
        raise AssetError(f"{asset.source}: nothing left after cleanup")
    out = a.to_mesh()
    if generated_record(asset.mesh) and np.allclose(p.rotation, np.eye(3)):
        out.metadata[RECORD_KEY] = dict(generated_record(asset.mesh))  # stands as recorded
    return PrepResult(mesh=out, before=before, after=figures(out), steps=p.steps,
                      transform=p.transform())


def _prepare_gltf(asset: Asset, options: PrepOptions) -> PrepResult:
    """prep of a glTF asset: orientation, scale and pivot chosen on the whole (as for
    any asset), then every primitive of the source's document cleaned and decimated on
    its own (engine.asset.gltf_prep), everything else of the document kept."""
    import tempfile
    from pathlib import Path

    from engine.asset.formats.gltf_decode import packed_glb
    from engine.asset.gltf_prep import prepare_document
    from engine.asset.io import load_asset

    a = _Arrays(asset.mesh)
    before = figures(asset.mesh, a.topology())
    p = _Prep(asset.mesh, a, options, float(np.linalg.norm(before["size_m"])) or 1.0)
    for step in (_orient, _scale, _move_pivot):  # on the whole; the rest per primitive
        step(p)
    document, steps = prepare_document(
        packed_glb(asset.document), options, p.transform(),
        keep_record=bool(np.allclose(p.rotation, np.eye(3))), where=str(asset.source))
    with tempfile.TemporaryDirectory(prefix="maquette-prep-") as folder:
        copy = Path(folder) / "prepared.glb"
        copy.write_bytes(document)
        loaded = load_asset(copy)
    mesh = loaded.mesh
    return PrepResult(mesh=mesh, before=before, after=figures(mesh), steps=p.steps + steps,
                      document=document, transform=p.transform(), pieces=loaded.pieces)
