"""Procedurally generated sample assets shipped with the project.

Every asset here is built from code (numpy geometry, PIL-painted textures), so the
example scenes work for anyone who clones the repository without third-party art.

Conventions (the same as glTF, so ``trimesh``'s GLB export needs no conversion):

* Y-up, metres; the base of every asset sits on ``y = 0`` and its bounding box is
  centred on ``x = z = 0``; the "front" (logo, face, label) faces ``+Z``.
* Every part is a closed surface (after welding the UV seams and sharp-edge
  duplicates) with outward winding, explicit vertex normals (smooth on surfaces of
  revolution and rounded boxes, split along sharp edges), UV coordinates and a
  :class:`trimesh.visual.material.PBRMaterial` with a PIL ``baseColorTexture``.
* UVs use trimesh's convention (``v = 0`` at the bottom row of the image); the
  glTF exporter flips them.  On surfaces of revolution ``u`` is the angle (``u =
  0.5`` at the front, the seam at the back) and ``v`` the normalised arc length
  along the profile, which on side walls runs with the height.

Only numpy, trimesh and pillow are used (and engine.fileio to write atomically);
nothing from Panda3D. A tools-side library: the runtime never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import trimesh
from PIL import Image, ImageDraw
from trimesh.visual import TextureVisuals
from trimesh.visual.material import PBRMaterial

from engine.fileio import write_bytes_atomic

__all__ = [
    "SAMPLE_ASSETS",
    "export_glb",
    "make_bottle",
    "make_lamp",
    "make_mug",
    "make_robot_toy",
]

TAU = 2.0 * np.pi
_SEGMENTS = 96  # angular segments of the large surfaces of revolution
_SUPERSAMPLE = 2  # textures are painted this much larger, then downsampled (anti-aliasing)

RGB = tuple[int, int, int]


# ----------------------------------------------------------------------------
# Geometry building blocks
# ----------------------------------------------------------------------------


@dataclass
class _Part:
    """Raw geometry of one mesh part, kept as plain arrays until the very end."""

    vertices: np.ndarray  # (n, 3) float64
    faces: np.ndarray  # (m, 3) int64
    normals: np.ndarray  # (n, 3) unit vertex normals
    uv: np.ndarray  # (n, 2) in [0, 1], trimesh convention (v up)

    def transformed(self, matrix: np.ndarray) -> _Part:
        """Apply a rigid 4x4 transform (rotation + translation)."""
        rot = matrix[:3, :3]
        return _Part(
            vertices=self.vertices @ rot.T + matrix[:3, 3],
            faces=self.faces.copy(),
            normals=self.normals @ rot.T,
            uv=self.uv.copy(),
        )

    def translated(self, offset: Sequence[float]) -> _Part:
        matrix = np.eye(4)
        matrix[:3, 3] = offset
        return self.transformed(matrix)

    def with_uv(self, uv: np.ndarray) -> _Part:
        return _Part(self.vertices, self.faces, self.normals, np.asarray(uv, dtype=float))


def _concat(parts: Sequence[_Part]) -> _Part:
    """Join parts that share one material into a single vertex/face set."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    return _Part(
        vertices=np.vstack([p.vertices for p in parts]),
        faces=np.vstack([p.faces + o for p, o in zip(parts, offsets, strict=True)]),
        normals=np.vstack([p.normals for p in parts]),
        uv=np.vstack([p.uv for p in parts]),
    )


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n == 0.0, 1.0, n)


class _Profile:
    """A 2D profile ``(r, y)`` for a surface of revolution around +Y.

    The profile is a chain of *runs*; inside a run the surface is smooth-shaded,
    between runs (:meth:`crease`) the vertices are split so the edge stays sharp.
    A closed solid starts and ends on the axis (``r = 0``) and must run
    counter-clockwise in the (r, y) plane (outward normal = tangent turned
    clockwise); :func:`_revolve` checks this.
    """

    def __init__(self, r: float, y: float) -> None:
        self.runs: list[list[tuple[float, float]]] = [[(float(r), float(y))]]
        self.length = 0.0
        self.marks: dict[str, float] = {}

    @property
    def point(self) -> tuple[float, float]:
        return self.runs[-1][-1]

    def _add(self, r: float, y: float) -> None:
        r0, y0 = self.point
        self.length += float(np.hypot(r - r0, y - y0))
        self.runs[-1].append((float(r), float(y)))

    def line(self, r: float, y: float, n: int = 1) -> _Profile:
        r0, y0 = self.point
        for t in np.linspace(0.0, 1.0, n + 1)[1:]:
            self._add(r0 + (r - r0) * t, y0 + (y - y0) * t)
        return self

    def arc(self, cr: float, cy: float, radius: float, a0: float, a1: float, n: int) -> _Profile:
        """Circular arc around ``(cr, cy)`` from angle ``a0`` to ``a1`` (degrees).

        The arc must start at the current point."""
        for a in np.radians(np.linspace(a0, a1, n + 1)[1:]):
            self._add(cr + radius * np.cos(a), cy + radius * np.sin(a))
        return self

    def curve(self, fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], n: int) -> _Profile:
        """Parametric curve ``fn(t) -> (r, y)`` for ``t`` in (0, 1]; fn(0) = current point."""
        r, y = fn(np.linspace(0.0, 1.0, n + 1)[1:])
        for ri, yi in zip(r, y, strict=True):
            self._add(ri, yi)
        return self

    def crease(self) -> _Profile:
        self.runs.append([self.point])
        return self

    def mark(self, name: str) -> _Profile:
        self.marks[name] = self.length
        return self

    def v(self, name: str) -> float:
        """Normalised arc length (the texture ``v``) of a named mark."""
        return self.marks[name] / self.length

    def signed_area(self) -> float:
        pts = np.array([p for run in self.runs for p in run])
        r, y = pts[:, 0], pts[:, 1]
        return 0.5 * float(np.sum(r * np.roll(y, -1) - np.roll(r, -1) * y))


def _revolve(profile: _Profile, segments: int = _SEGMENTS) -> _Part:
    """Revolve a profile around +Y.

    ``u`` is the angle with the seam at the back (-Z) and ``u = 0.5`` facing +Z;
    ``u`` grows towards +X when seen from the front, so textures are not mirrored.
    ``v`` is the normalised arc length along the profile.
    """
    if profile.signed_area() <= 0.0:
        raise ValueError("profile must run counter-clockwise in the (r, y) plane")
    u = np.arange(segments + 1) / segments
    theta = TAU * u + np.pi
    sin, cos = np.sin(theta), np.cos(theta)
    # exact seam closure so welded vertices coincide bit for bit
    sin[-1], cos[-1] = sin[0], cos[0]

    verts, norms, uvs, faces = [], [], [], []
    count = 0
    arc = 0.0
    for run in profile.runs:
        pts = np.asarray(run, dtype=float)
        if len(pts) < 2:
            continue
        seg = np.diff(pts, axis=0)
        seg_len = np.linalg.norm(seg, axis=1)
        s = arc + np.concatenate([[0.0], np.cumsum(seg_len)])
        arc = s[-1]
        # smooth tangent per point (average of neighbouring segment directions)
        seg_dir = _unit(seg)
        tangent = np.vstack([seg_dir[:1], seg_dir[:-1] + seg_dir[1:], seg_dir[-1:]])
        tangent = _unit(tangent)
        n2 = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)  # outward (r, y) normal
        n_rows = len(pts)
        for i in range(n_rows):
            r, y = pts[i]
            nr, ny = n2[i]
            pole = abs(r) < 1e-12
            uu = u.copy()
            if pole:  # centre the pole's texel column between its two neighbours
                uu = np.minimum((np.arange(segments + 1) + 0.5) / segments, 1.0)
                nr, ny = 0.0, float(np.sign(ny)) or 1.0
            verts.append(np.stack([r * sin, np.full_like(sin, y), r * cos], axis=1))
            norms.append(np.stack([nr * sin, np.full_like(sin, ny), nr * cos], axis=1))
            uvs.append(np.stack([uu, np.full_like(uu, s[i] / profile.length)], axis=1))
        cols = segments + 1
        for i in range(n_rows - 1):
            a = count + i * cols + np.arange(segments)  # (i, j)
            b = a + 1  # (i, j+1)
            c = a + cols + 1  # (i+1, j+1)
            d = a + cols  # (i+1, j)
            if abs(pts[i, 0]) > 1e-12:
                faces.append(np.stack([a, b, c], axis=1))
            if abs(pts[i + 1, 0]) > 1e-12:
                faces.append(np.stack([a, c, d], axis=1))
        count += n_rows * cols
    return _Part(
        vertices=np.vstack(verts),
        faces=np.vstack(faces).astype(np.int64),
        normals=_unit(np.vstack(norms)),
        uv=np.clip(np.vstack(uvs), 0.0, 1.0),
    )


def _align_y(direction: Sequence[float], origin: Sequence[float]) -> np.ndarray:
    """Transform that maps local +Y onto ``direction`` and the local origin onto ``origin``."""
    d = np.asarray(direction, dtype=float)
    matrix = trimesh.geometry.align_vectors([0.0, 1.0, 0.0], d / np.linalg.norm(d))
    matrix = np.array(matrix, dtype=float)
    matrix[:3, 3] = origin
    return matrix


def _sphere(radius: float, rings: int = 16, segments: int = 32) -> _Part:
    p = _Profile(0.0, -radius).arc(0.0, 0.0, radius, -90.0, 90.0, rings)
    return _revolve(p, segments)


def _capsule(a: Sequence[float], b: Sequence[float], radius: float, segments: int = 32) -> _Part:
    a, b = np.asarray(a, float), np.asarray(b, float)
    length = float(np.linalg.norm(b - a))
    p = _Profile(0.0, -radius).arc(0.0, 0.0, radius, -90.0, 0.0, 8)
    p.line(radius, length, 4).arc(0.0, length, radius, 0.0, 90.0, 8)
    return _revolve(p, segments).transformed(_align_y(b - a, a))


def _cylinder(
    a: Sequence[float], b: Sequence[float], radius: float, segments: int = 32, bevel: float = 0.0
) -> _Part:
    """Closed cylinder from ``a`` to ``b``; sharp or (``bevel`` > 0) rounded rims."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    length = float(np.linalg.norm(b - a))
    p = _Profile(0.0, 0.0)
    if bevel > 0.0:
        p.line(radius - bevel, 0.0, 2).arc(radius - bevel, bevel, bevel, -90.0, 0.0, 4)
        p.line(radius, length - bevel, 4).arc(radius - bevel, length - bevel, bevel, 0.0, 90.0, 4)
        p.line(0.0, length, 2)
    else:
        p.line(radius, 0.0, 2).crease().line(radius, length, 4).crease().line(0.0, length, 2)
    return _revolve(p, segments).transformed(_align_y(b - a, a))


# Rounded boxes: the six faces of a subdivided cube, each pushed onto the rounded
# surface. Per face: (normal, right, up) with right x up = normal (outward, CCW).
_BOX_FACES: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {
    "+z": ((0, 0, 1), (1, 0, 0), (0, 1, 0)),
    "+x": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    "-z": ((0, 0, -1), (-1, 0, 0), (0, 1, 0)),
    "-x": ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    "+y": ((0, 1, 0), (1, 0, 0), (0, 0, -1)),
    "-y": ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
}
# texture layout of a rounded box: a 3 x 2 grid of cells (column, row from the top)
_BOX_CELLS = {"+z": (0, 0), "+x": (1, 0), "-z": (2, 0), "-x": (0, 1), "+y": (1, 1), "-y": (2, 1)}


def _box_axis_coords(half: float, radius: float, flat: int, corner: int) -> np.ndarray:
    """Cube-grid coordinates along one axis: uniform over the flat part, uniform in
    angle over the rounded part (``radius * tan``), so the fillet is evenly tessellated."""
    inner = half - radius
    flat_c = np.linspace(-inner, inner, flat + 1)
    bend = inner + radius * np.tan(np.linspace(0.0, np.pi / 4.0, corner + 1)[1:])
    return np.concatenate([-bend[::-1], flat_c, bend])


def _rounded_box(
    half: Sequence[float], radius: float, flat: int = 6, corner: int = 4
) -> tuple[_Part, dict[str, tuple[float, float, float, float]]]:
    """Rounded box centred on the origin with half extents ``half`` (including the fillet).

    Returns the part and, per face, the UV rectangle of its *flat* region
    ``(u0, v0, u1, v1)`` so that textures can be painted where the face is flat."""
    half = np.asarray(half, dtype=float)
    inner = half - radius
    if np.any(inner < 0):
        raise ValueError("fillet radius larger than the box")
    coords = [_box_axis_coords(h, radius, flat, corner) for h in half]
    verts, norms, uvs, faces, flat_rects = [], [], [], [], {}
    count = 0
    for name, (n, right, up) in _BOX_FACES.items():
        n, right, up = (np.array(x, dtype=float) for x in (n, right, up))
        ax_r, ax_u, ax_n = (
            int(np.argmax(abs(right))),
            int(np.argmax(abs(up))),
            int(np.argmax(abs(n))),
        )
        ca, cb = coords[ax_r], coords[ax_u]
        a, b = np.meshgrid(ca, cb, indexing="xy")  # rows = up, cols = right
        p = (
            n[None, None, :] * (inner[ax_n] + radius)
            + a[..., None] * right[None, None, :]
            + b[..., None] * up[None, None, :]
        ).reshape(-1, 3)
        clamped = np.clip(p, -inner, inner)
        normal = _unit(p - clamped)
        verts.append(clamped + radius * normal)
        norms.append(normal)
        col, row = _BOX_CELLS[name]
        pad = 0.01
        fu = (a - ca[0]) / (ca[-1] - ca[0])
        fv = (b - cb[0]) / (cb[-1] - cb[0])
        u = (col + pad + (1 - 2 * pad) * fu) / 3.0
        v = 1.0 - (row + 1 - pad - (1 - 2 * pad) * fv) / 2.0
        uvs.append(np.stack([u.ravel(), v.ravel()], axis=1))
        f0 = radius / (ca[-1] - ca[0])  # where the flat region starts, as a fraction
        g0 = radius / (cb[-1] - cb[0])
        flat_rects[name] = (
            (col + pad + (1 - 2 * pad) * f0) / 3.0,
            1.0 - (row + 1 - pad - (1 - 2 * pad) * g0) / 2.0,
            (col + pad + (1 - 2 * pad) * (1 - f0)) / 3.0,
            1.0 - (row + 1 - pad - (1 - 2 * pad) * (1 - g0)) / 2.0,
        )
        nc, nr = len(ca), len(cb)
        i, j = np.meshgrid(np.arange(nc - 1), np.arange(nr - 1), indexing="xy")
        q00 = count + (j * nc + i).ravel()
        q10, q11, q01 = q00 + 1, q00 + nc + 1, q00 + nc
        faces.append(np.stack([q00, q10, q11], axis=1))
        faces.append(np.stack([q00, q11, q01], axis=1))
        count += nc * nr
    part = _Part(
        vertices=np.vstack(verts),
        faces=np.vstack(faces).astype(np.int64),
        normals=np.vstack(norms),
        uv=np.vstack(uvs),
    )
    return part, flat_rects


def _sweep_tube(path: np.ndarray, half_in: float, half_out: float, ring: int = 24) -> _Part:
    """Closed tube with an elliptical section swept along a planar path in the XY plane.

    ``half_in`` is the half thickness in the path's plane, ``half_out`` along Z.
    Both ends are closed with flat caps (sharp rims)."""
    path = np.asarray(path, dtype=float)
    seg = np.diff(path, axis=0)
    tangent = _unit(np.vstack([seg[:1], seg[:-1] + seg[1:], seg[-1:]]))
    binormal = np.array([0.0, 0.0, 1.0])
    normal = np.cross(binormal, tangent)
    alpha = TAU * np.arange(ring + 1) / ring
    ca, sa = np.cos(alpha), np.sin(alpha)
    ca[-1], sa[-1] = ca[0], sa[0]
    pts = (
        path[:, None, :]
        + half_in * ca[None, :, None] * normal[:, None, :]
        + half_out * sa[None, :, None] * binormal[None, None, :]
    )
    nrm = _unit(
        ca[None, :, None] / half_in * normal[:, None, :]
        + sa[None, :, None] / half_out * binormal[None, None, :]
    )
    n_path, cols = len(path), ring + 1
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(seg, axis=1))])
    uv = np.stack(np.broadcast_arrays((s / s[-1])[:, None], (np.arange(cols) / ring)[None, :]), -1)
    verts, norms, uvs = [pts.reshape(-1, 3)], [nrm.reshape(-1, 3)], [uv.reshape(-1, 2)]
    i, j = np.meshgrid(np.arange(n_path - 1), np.arange(ring), indexing="ij")
    a = (i * cols + j).ravel()
    b, c, d = a + 1, a + cols + 1, a + cols
    faces = [np.stack([a, b, c], axis=1), np.stack([a, c, d], axis=1)]
    count = n_path * cols
    for end, sign in ((0, -1.0), (n_path - 1, 1.0)):
        rim = pts[end, :ring]
        verts.append(np.vstack([rim, path[end][None]]))
        norms.append(np.tile(sign * tangent[end], (ring + 1, 1)))
        uvs.append(np.tile(uv[end, 0], (ring + 1, 1)))
        k = np.arange(ring)
        centre = np.full(ring, count + ring)
        cap = np.stack([count + k, count + (k + 1) % ring, centre], axis=1)
        faces.append(cap if sign > 0 else cap[:, ::-1])
        count += ring + 1
    part = _Part(
        np.vstack(verts), np.vstack(faces).astype(np.int64), np.vstack(norms), np.vstack(uvs)
    )
    return _orient_outward(part)


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    tri = vertices[faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


def _orient_outward(part: _Part) -> _Part:
    """Flip the winding when a closed part came out inside-out (normals are analytic)."""
    if _signed_volume(part.vertices, part.faces) < 0.0:
        part = _Part(part.vertices, part.faces[:, ::-1].copy(), part.normals, part.uv)
    return part


# ----------------------------------------------------------------------------
# Textures and materials
# ----------------------------------------------------------------------------


class _Canvas:
    """PIL canvas painted in UV space at ``_SUPERSAMPLE`` x resolution."""

    def __init__(self, width: int, height: int, fill: RGB) -> None:
        self.size = (width, height)
        self.s = _SUPERSAMPLE
        self.image = Image.new("RGB", (width * self.s, height * self.s), fill)
        self.draw = ImageDraw.Draw(self.image)

    def px(self, u: float, v: float) -> tuple[float, float]:
        """UV (trimesh convention, v up) -> supersampled pixel coordinates."""
        w, h = self.image.size
        return u * w, (1.0 - v) * h

    def rect(
        self, u0: float, v0: float, u1: float, v1: float, fill: RGB, radius: float = 0
    ) -> None:
        x0, y1 = self.px(u0, v0)
        x1, y0 = self.px(u1, v1)
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        if radius > 0:
            self.draw.rounded_rectangle(box, radius=radius * self.s, fill=fill)
        else:
            self.draw.rectangle(box, fill=fill)

    def ellipse(self, u: float, v: float, ru: float, rv: float, fill: RGB, outline=None, width=0):
        x, y = self.px(u, v)
        w, h = self.image.size
        box = (x - ru * w, y - rv * h, x + ru * w, y + rv * h)
        self.draw.ellipse(box, fill=fill, outline=outline, width=int(width * self.s))

    def polygon(self, pts_uv: Sequence[tuple[float, float]], fill: RGB) -> None:
        self.draw.polygon([self.px(u, v) for u, v in pts_uv], fill=fill)

    def arc_line(self, u: float, v: float, ru: float, rv: float, a0: float, a1: float, fill, width):
        x, y = self.px(u, v)
        w, h = self.image.size
        box = (x - ru * w, y - rv * h, x + ru * w, y + rv * h)
        self.draw.arc(box, a0, a1, fill=fill, width=int(width * self.s))

    def finish(self) -> Image.Image:
        img = self.image.resize(self.size, Image.Resampling.LANCZOS)
        img.format = "PNG"  # trimesh's glTF exporter only embeds images with a format set
        return img


def _solid_texture(color: RGB, size: int = 8) -> Image.Image:
    img = Image.new("RGB", (size, size), color)
    img.format = "PNG"
    return img


def _material(
    name: str,
    texture: Image.Image,
    metallic: float,
    roughness: float,
    emissive: Sequence[float] | None = None,
) -> PBRMaterial:
    kwargs = {}
    if emissive is not None:
        kwargs["emissiveFactor"] = list(emissive)
    return PBRMaterial(
        name=name,
        baseColorTexture=texture,
        baseColorFactor=[255, 255, 255, 255],
        metallicFactor=float(metallic),
        roughnessFactor=float(roughness),
        doubleSided=False,
        **kwargs,
    )


def _shade(color: RGB, k: float) -> RGB:
    """Lighten (k > 0) or darken (k < 0) a colour."""
    c = np.asarray(color, dtype=float)
    c = c + (255.0 - c) * k if k > 0 else c * (1.0 + k)
    return tuple(int(round(x)) for x in np.clip(c, 0, 255))  # type: ignore[return-value]


# ----------------------------------------------------------------------------
# Assembling a scene
# ----------------------------------------------------------------------------


def _assemble(parts: Sequence[tuple[str, _Part, PBRMaterial]]) -> trimesh.Scene:
    """Put the base on y = 0, centre the bounds on x/z and build a trimesh Scene."""
    lo = np.min([p.vertices.min(axis=0) for _, p, _ in parts], axis=0)
    hi = np.max([p.vertices.max(axis=0) for _, p, _ in parts], axis=0)
    offset = np.array([-(lo[0] + hi[0]) / 2.0, -lo[1], -(lo[2] + hi[2]) / 2.0])
    scene = trimesh.Scene()
    for name, part, material in parts:
        part = _orient_outward(part.translated(offset))
        mesh = trimesh.Trimesh(
            vertices=part.vertices,
            faces=part.faces,
            vertex_normals=part.normals,
            visual=TextureVisuals(uv=part.uv, material=material),
            process=False,
        )
        mesh.metadata["name"] = name
        scene.add_geometry(mesh, geom_name=name, node_name=name)
    return scene


# ----------------------------------------------------------------------------
# Palettes
# ----------------------------------------------------------------------------


def _palettes(keys: tuple[str, ...], *rows: tuple[RGB, ...]) -> list[dict[str, RGB]]:
    """Palettes as {part: colour} dicts, from one row of colours per palette."""
    return [dict(zip(keys, row, strict=True)) for row in rows]


_BOTTLE_PALETTES: list[dict[str, RGB]] = _palettes(
    ("glass", "label", "ink", "accent"),
    ((22, 110, 120), (244, 238, 224), (24, 52, 72), (232, 120, 60)),
    ((150, 30, 70), (250, 244, 236), (70, 20, 40), (230, 180, 60)),
    ((40, 70, 150), (236, 242, 248), (20, 30, 70), (90, 200, 160)),
    ((60, 120, 50), (246, 240, 220), (30, 50, 25), (220, 90, 80)),
)
_METALS: list[RGB] = [(212, 175, 95), (200, 202, 206), (196, 130, 100)]  # gold, silver, copper
_MUG_PALETTES: list[dict[str, RGB]] = _palettes(
    ("glaze", "inner", "band", "band2"),
    ((46, 84, 132), (240, 236, 226), (236, 176, 60), (226, 232, 236)),
    ((196, 78, 58), (244, 238, 228), (250, 226, 180), (70, 40, 36)),
    ((92, 140, 110), (238, 240, 232), (240, 232, 200), (40, 70, 60)),
)
_ROBOT_PALETTES: list[dict[str, RGB]] = _palettes(
    ("body", "head", "limb", "accent"),
    ((242, 120, 40), (250, 205, 60), (70, 150, 220), (230, 50, 70)),
    ((60, 170, 220), (240, 240, 236), (250, 180, 40), (240, 70, 120)),
    ((120, 200, 90), (250, 235, 200), (150, 90, 200), (250, 110, 60)),
)
_LAMP_PALETTES: list[RGB] = [(220, 60, 50), (30, 120, 110), (245, 190, 40), (50, 80, 160)]


def _pick(rng: np.random.Generator, items: Sequence):
    return items[int(rng.integers(len(items)))] if len(items) > 1 else items[0]


# ----------------------------------------------------------------------------
# Bottle
# ----------------------------------------------------------------------------


def make_bottle(seed: int = 0) -> trimesh.Scene:
    """A ~0.30 m cosmetic/drink bottle: glossy body with a printed label, metallic cap.

    Scene parts: ``body`` (roughness 0.25, dielectric) and ``cap`` (metallic 1.0,
    roughness 0.3)."""
    rng = np.random.default_rng(seed)
    pal = _pick(rng, _BOTTLE_PALETTES) if seed else _BOTTLE_PALETTES[0]
    metal = _pick(rng, _METALS) if seed else _METALS[0]
    radius = 0.040 if not seed else float(rng.uniform(0.036, 0.043))
    neck_r, shoulder_y, neck_y = 0.0135, 0.175, 0.228

    # body: flat base, rounded heel, straight wall, S-shaped shoulder, neck, flat top
    p = _Profile(0.0, 0.0).line(radius - 0.006, 0.0, 6).crease()
    p.arc(radius - 0.006, 0.006, 0.006, -90.0, 0.0, 6)
    p.line(radius, 0.040, 4).mark("label_lo").line(radius, 0.150, 22).mark("label_hi")
    p.line(radius, shoulder_y, 5).mark("shoulder")

    def shoulder(t: np.ndarray):
        smooth = t * t * (3.0 - 2.0 * t)
        return radius - (radius - neck_r) * smooth, shoulder_y + (neck_y - shoulder_y) * t

    p.curve(shoulder, 28).mark("neck").line(neck_r, 0.262, 6).crease().line(0.0, 0.262, 4)
    body = _revolve(p)

    # body texture: tinted glossy plastic, wrap-around label with stripes and a logo
    size = 1024
    cv = _Canvas(size, size, pal["glass"])
    v_lo, v_hi = p.v("label_lo"), p.v("label_hi")
    cv.rect(0.0, p.v("shoulder"), 1.0, p.v("neck"), _shade(pal["glass"], 0.12))
    u0, u1 = 0.17, 0.83  # label wraps two thirds of the way round, centred at the front
    cv.rect(u0, v_lo, u1, v_hi, pal["label"])
    band = (v_hi - v_lo) * 0.06
    for v in (v_lo + band, v_hi - 2 * band):
        cv.rect(u0, v, u1, v + band, pal["ink"])
        cv.rect(u0, v + band * 1.4, u1, v + band * 1.7, pal["accent"])
    # logo: a roundel with a leaf/drop, metres -> UV so it is round on the bottle
    m_per_u, m_per_v = TAU * radius, p.length
    centre_v = v_lo + (v_hi - v_lo) * 0.60
    ring = 0.018
    cv.ellipse(0.5, centre_v, ring / m_per_u, ring / m_per_v, pal["ink"])
    cv.ellipse(0.5, centre_v, 0.8 * ring / m_per_u, 0.8 * ring / m_per_v, pal["label"])
    leaf = [
        (
            0.5 + ring * 0.55 * np.sin(a) * np.abs(np.sin(a / 2)) ** 0.3 / m_per_u,
            centre_v + ring * 0.6 * np.cos(a) / m_per_v,
        )
        for a in np.linspace(0.0, TAU, 40, endpoint=False)
    ]
    cv.polygon(leaf, pal["accent"])
    cv.rect(
        0.5 - 0.0012 * 0.9 / m_per_u * 2,
        centre_v - ring * 0.7 / m_per_v,
        0.5 + 0.0012 * 0.9 / m_per_u * 2,
        centre_v + ring * 0.2 / m_per_v,
        pal["ink"],
    )
    # "text": a bold name bar and a few lines of small print (bars of varying width)
    top_text = centre_v - ring * 1.5 / m_per_v
    cv.rect(
        0.5 - 0.030 / m_per_u,
        top_text - 0.007 / m_per_v,
        0.5 + 0.030 / m_per_u,
        top_text,
        pal["ink"],
        radius=3,
    )
    line_v = top_text - 0.012 / m_per_v
    for k in range(3):
        half = float(rng.uniform(0.014, 0.024)) if seed else (0.022, 0.018, 0.012)[k]
        cv.rect(
            0.5 - half / m_per_u,
            line_v - 0.0022 / m_per_v,
            0.5 + half / m_per_u,
            line_v,
            _shade(pal["ink"], 0.35),
            radius=2,
        )
        line_v -= 0.005 / m_per_v
    # thin vertical barcode-ish bars on the back of the label edge
    for k in range(14):
        uu = u1 - 0.06 + k * 0.0035
        cv.rect(
            uu, v_lo + 3 * band, uu + (0.0012 if k % 3 else 0.0022), v_lo + 7 * band, pal["ink"]
        )
    body_mat = _material("bottle_body", cv.finish(), metallic=0.0, roughness=0.25)

    # cap: brushed metal with knurled ridges and a darker band
    c = _Profile(0.0, 0.245).line(neck_r + 0.004, 0.245, 3).crease()
    c.line(neck_r + 0.004, 0.252, 2).mark("band_lo").line(neck_r + 0.004, 0.296, 16)
    c.arc(neck_r, 0.296, 0.004, 0.0, 90.0, 6).line(0.0, 0.300, 4)
    cap = _revolve(c, 64)
    cap_cv = _Canvas(512, 512, metal)
    for k in range(96):  # knurl: vertical ridges of alternating tone
        uu = k / 96.0
        cap_cv.rect(uu, c.v("band_lo"), uu + 0.5 / 96.0, 0.93, _shade(metal, -0.18))
    cap_cv.rect(0.0, c.v("band_lo"), 1.0, c.v("band_lo") + 0.08, _shade(metal, -0.35))
    cap_mat = _material("bottle_cap", cap_cv.finish(), metallic=1.0, roughness=0.3)

    return _assemble([("body", body, body_mat), ("cap", cap, cap_mat)])


# ----------------------------------------------------------------------------
# Mug
# ----------------------------------------------------------------------------


def make_mug(seed: int = 0) -> trimesh.Scene:
    """A ~0.10 m ceramic mug with a handle on its right (+X), matte glaze, coloured bands.

    Scene parts: ``body`` (a closed thick-walled cup) and ``handle`` (a swept tube
    whose capped ends sit inside the wall); both share the glaze material."""
    rng = np.random.default_rng(seed)
    pal = _pick(rng, _MUG_PALETTES) if seed else _MUG_PALETTES[0]
    R, H, wall, floor = 0.042, 0.100, 0.005, 0.008
    fillet = 0.006
    p = (
        _Profile(0.0, 0.0)
        .line(R - fillet, 0.0, 6)
        .arc(R - fillet, fillet, fillet, -90.0, 0.0, 6)
        .mark("heel")
    )
    p.line(R, 0.022, 3).mark("band_lo").line(R, 0.078, 14).mark("band_hi")
    rim_r = wall / 2.0
    p.line(R, H - rim_r, 4).mark("rim").arc(R - rim_r, H - rim_r, rim_r, 0.0, 180.0, 10)
    p.mark("inner_top").line(R - wall, floor + fillet, 22)
    p.arc(R - wall - fillet, floor + fillet, fillet, 0.0, -90.0, 6).line(0.0, floor, 5)
    body = _revolve(p)

    size = 1024
    cv = _Canvas(size, size, pal["glaze"])
    cv.rect(0.0, p.v("inner_top") - 0.004, 1.0, 1.0, pal["inner"])  # glazed inside, rim lip
    v_lo, v_hi = p.v("band_lo"), p.v("band_hi")
    h = v_hi - v_lo
    cv.rect(0.0, v_lo, 1.0, v_lo + 0.10 * h, pal["band"])
    cv.rect(0.0, v_hi - 0.10 * h, 1.0, v_hi, pal["band"])
    cv.rect(0.0, v_lo + 0.16 * h, 1.0, v_hi - 0.16 * h, pal["band2"])
    # a zig-zag frieze and dots inside the light band
    n_zig = 24
    zig = [(0.0, v_lo + 0.30 * h)]
    for k in range(n_zig + 1):
        zig.append((k / n_zig, v_lo + (0.62 if k % 2 else 0.38) * h))
    zig += [(1.0, v_lo + 0.30 * h)]
    cv.polygon(zig, pal["glaze"])
    for k in range(n_zig):
        cv.ellipse((k + 0.5) / n_zig, v_lo + 0.74 * h, 0.006, 0.006 * 0.9, pal["band"])
    # sparse glaze speckles (kept few so the PNG stays small)
    spk = np.random.default_rng(seed + 1000).random((400, 2))
    for uu, vv in spk:
        cv.ellipse(
            float(uu), float(vv) * p.v("inner_top"), 0.0012, 0.0012, _shade(pal["glaze"], -0.3)
        )
    mat = _material("mug_glaze", cv.finish(), metallic=0.0, roughness=0.6)

    # handle: a "D" loop in the XY plane on the +X side, ends buried in the wall
    cx, cy, ax, ay = 0.047, 0.051, 0.022, 0.027
    x_in = R - wall + 0.0015
    phi = np.radians(np.linspace(90.0, -90.0, 41))
    loop = np.stack([cx + ax * np.cos(phi), cy + ay * np.sin(phi), np.zeros_like(phi)], axis=1)
    lead_in = np.stack([np.linspace(x_in, cx, 5)[:-1], np.full(4, cy + ay), np.zeros(4)], axis=1)
    lead_out = np.stack([np.linspace(cx, x_in, 5)[1:], np.full(4, cy - ay), np.zeros(4)], axis=1)
    handle = _sweep_tube(np.vstack([lead_in, loop, lead_out]), 0.0055, 0.0075, ring=28)
    # map the whole handle onto a plain glaze strip of the body texture
    v_plain = 0.5 * (p.v("heel") + p.v("band_lo"))
    handle = handle.with_uv(np.stack([handle.uv[:, 0], np.full(len(handle.uv), v_plain)], 1))
    return _assemble([("body", body, mat), ("handle", handle, mat)])


# ----------------------------------------------------------------------------
# Robot toy
# ----------------------------------------------------------------------------


def make_robot_toy(seed: int = 0) -> trimesh.Scene:
    """A ~0.25 m toy robot: boxy body and head, big eyes, antenna, one arm waving.

    Each part has its own bright material; the face (mouth, cheeks) and the chest
    panel are painted on the +Z faces of the head and body textures."""
    rng = np.random.default_rng(seed)
    pal = _pick(rng, _ROBOT_PALETTES) if seed else _ROBOT_PALETTES[0]
    dark, white, grey = (40, 42, 52), (250, 250, 246), (150, 156, 166)

    def box_texture(base: RGB, rect, paint) -> Image.Image:
        cv = _Canvas(768, 512, base)
        for k, (u0, v0, u1, v1) in enumerate(rect.values()):
            if k:  # rivets in the corners of the side panels
                for uu in (u0 + 0.02, u1 - 0.02):
                    for vv in (v0 + 0.03, v1 - 0.03):
                        cv.ellipse(uu, vv, 0.006, 0.009, _shade(base, -0.25))
        paint(cv, rect["+z"])
        return cv.finish()

    # torso
    body, body_rect = _rounded_box((0.055, 0.050, 0.040), 0.014)
    body = body.translated((0.0, 0.100, 0.0))

    def chest(cv: _Canvas, r) -> None:
        u0, v0, u1, v1 = r
        w, h = u1 - u0, v1 - v0
        cv.rect(
            u0 + 0.12 * w, v0 + 0.14 * h, u1 - 0.12 * w, v1 - 0.12 * h, (236, 240, 244), radius=16
        )
        cv.rect(u0 + 0.18 * w, v0 + 0.52 * h, u1 - 0.18 * w, v1 - 0.20 * h, dark, radius=10)
        for k, col in enumerate([(80, 230, 120), (250, 200, 40), pal["accent"]]):  # "screen" bars
            cv.rect(
                u0 + (0.24 + 0.2 * k) * w,
                v0 + 0.58 * h,
                u0 + (0.36 + 0.2 * k) * w,
                v0 + (0.66 + 0.04 * k) * h,
                col,
            )
        for k, col in enumerate([pal["accent"], (250, 200, 40), (70, 170, 240)]):  # buttons
            cv.ellipse(
                u0 + (0.30 + 0.2 * k) * w,
                v0 + 0.32 * h,
                0.055 * w,
                0.055 * w * 1.5,
                col,
                outline=dark,
                width=2,
            )

    body_mat = _material("robot_body", box_texture(pal["body"], body_rect, chest), 0.0, 0.35)

    # head
    head, head_rect = _rounded_box((0.052, 0.038, 0.042), 0.016)
    head_y = 0.192
    head = head.translated((0.0, head_y, 0.0))

    def face(cv: _Canvas, r) -> None:
        u0, v0, u1, v1 = r
        w, h = u1 - u0, v1 - v0
        # smile and rosy cheeks below the (geometric) eyes
        cv.arc_line(u0 + 0.5 * w, v0 + 0.42 * h, 0.16 * w, 0.16 * w * 1.5, 20, 160, dark, 7)
        for uu in (0.16, 0.84):
            cv.ellipse(u0 + uu * w, v0 + 0.30 * h, 0.08 * w, 0.06 * w * 1.5, (250, 140, 150))

    head_mat = _material("robot_head", box_texture(pal["head"], head_rect, face), 0.0, 0.35)

    # eyes (white, glossy) and pupils (dark, glossy), protruding from the face
    eye_y, eye_x, eye_z = head_y + 0.009, 0.021, 0.036
    eyes = _concat([_sphere(0.0135).translated((s * eye_x, eye_y, eye_z)) for s in (-1, 1)])
    pupils = _concat(
        [
            _sphere(0.0065, 10, 20).translated((s * eye_x + 0.002, eye_y + 0.001, eye_z + 0.0105))
            for s in (-1, 1)
        ]
    )
    eye_mat = _material("robot_eye", _solid_texture(white), 0.0, 0.15)
    pupil_mat = _material("robot_pupil", _solid_texture(dark), 0.0, 0.1)

    # limbs: legs, arms (left one waving), neck
    shoulder_y = 0.132
    limbs = _concat(
        [
            _cylinder((-0.028, 0.016, 0.004), (-0.028, 0.056, 0.004), 0.010, bevel=0.002),
            _cylinder((0.028, 0.016, 0.004), (0.028, 0.056, 0.004), 0.010, bevel=0.002),
            _cylinder((0.0, 0.146, 0.0), (0.0, 0.160, 0.0), 0.017, bevel=0.002),
            _capsule((-0.058, shoulder_y, 0.0), (-0.080, 0.082, 0.010), 0.0095),
            _capsule((0.058, shoulder_y, 0.0), (0.084, 0.176, 0.010), 0.0095),
        ]
    )
    limb_mat = _material("robot_limb", _solid_texture(pal["limb"]), 0.3, 0.4)
    hands = _concat(
        [
            _sphere(0.0145).translated((-0.082, 0.076, 0.011)),
            _sphere(0.0145).translated((0.087, 0.181, 0.011)),
        ]
    )
    hand_mat = _material("robot_hand", _solid_texture(_shade(pal["limb"], -0.35)), 0.2, 0.45)

    # feet: rounded blocks pushed forward
    feet = _concat(
        [
            _rounded_box((0.021, 0.011, 0.029), 0.008, flat=3, corner=3)[0].translated(
                (s * 0.028, 0.011, 0.009)
            )
            for s in (-1, 1)
        ]
    )
    foot_mat = _material("robot_foot", _solid_texture(dark), 0.0, 0.5)

    # ears and antenna (metal stalk, glowing ball)
    ears = _concat(
        [
            _cylinder((s * 0.050, head_y, 0.0), (s * 0.060, head_y, 0.0), 0.012, bevel=0.003)
            for s in (-1, 1)
        ]
    )
    stalk = _cylinder((0.0, head_y + 0.036, 0.0), (0.0, head_y + 0.062, 0.0), 0.0028)
    metal_mat = _material("robot_metal", _solid_texture(grey), 1.0, 0.25)
    ball = _sphere(0.0095).translated((0.0, head_y + 0.066, 0.0))
    ball_mat = _material(
        "robot_antenna_ball",
        _solid_texture(pal["accent"]),
        0.0,
        0.3,
        emissive=[c / 255.0 * 0.6 for c in pal["accent"]],
    )
    ear_mat = _material("robot_ear", _solid_texture(pal["accent"]), 0.0, 0.35)

    return _assemble(
        [
            ("body", body, body_mat),
            ("head", head, head_mat),
            ("eyes", eyes, eye_mat),
            ("pupils", pupils, pupil_mat),
            ("limbs", limbs, limb_mat),
            ("hands", hands, hand_mat),
            ("feet", feet, foot_mat),
            ("ears", ears, ear_mat),
            ("antenna", stalk, metal_mat),
            ("antenna_ball", ball, ball_mat),
        ]
    )


# ----------------------------------------------------------------------------
# Lamp
# ----------------------------------------------------------------------------


def make_lamp(seed: int = 0) -> trimesh.Scene:
    """A ~0.35 m desk lamp: weighted metal base, chrome stem and arm, enamel cone shade
    tilted towards the front (+Z), warm emissive bulb inside."""
    rng = np.random.default_rng(seed)
    enamel = _pick(rng, _LAMP_PALETTES) if seed else _LAMP_PALETTES[0]

    # base: a bevelled disc with a shallow dome
    b = _Profile(0.0, 0.0).line(0.070, 0.0, 8).crease()
    b.arc(0.070, 0.004, 0.004, -90.0, 0.0, 4).line(0.074, 0.012, 2)
    b.arc(0.068, 0.012, 0.006, 0.0, 90.0, 6).mark("top_edge")
    b.curve(lambda t: (0.068 - 0.056 * t, 0.018 + 0.008 * np.sin(t * np.pi / 2)), 12)
    b.crease().line(0.0, 0.026, 3)
    base = _revolve(b)
    bcv = _Canvas(256, 512, (58, 60, 66))
    # concentric "brushed" rings: rows of slightly different grey (compress well as PNG)
    tones = np.random.default_rng(seed + 7).integers(-9, 10, 160)
    for k, dt in enumerate(tones):
        v0 = k / len(tones)
        tone = (58 + int(dt), 60 + int(dt), 66 + int(dt))
        bcv.rect(0.0, v0, 1.0, v0 + 1.0 / len(tones), tone)
    bcv.rect(0.0, b.v("top_edge") - 0.004, 1.0, b.v("top_edge") + 0.004, (120, 124, 130))
    base_mat = _material("lamp_base", bcv.finish(), metallic=1.0, roughness=0.4)

    # stem, arm and joints (chrome)
    stem_bottom, joint1 = (0.0, 0.024, -0.035), np.array([0.0, 0.285, -0.035])
    joint2 = np.array([0.0, 0.335, 0.045])
    chrome = _concat(
        [
            _cylinder(stem_bottom, joint1, 0.0065, bevel=0.001),
            _cylinder(joint1, joint2, 0.0050, bevel=0.001),
            _cylinder((0.0, 0.020, -0.035), (0.0, 0.034, -0.035), 0.014, bevel=0.003),  # collar
            _sphere(0.010).translated(joint1),
            _sphere(0.009).translated(joint2),
        ]
    )
    chrome_mat = _material("lamp_chrome", _solid_texture((214, 218, 224)), 1.0, 0.15)

    # shade: a thick-walled cone (outer enamel, inner white), opening at local y = 0
    L, r_top, r_open, t = 0.105, 0.016, 0.062, 0.0025
    s = _Profile(0.0, L - t).line(r_top - t, L - t, 3).mark("inner_top")
    s.line(r_open - t, 0.0, 30).mark("inner_rim").crease().line(r_open, 0.0, 2).crease()
    s.mark("outer_lo").curve(lambda q: (r_open + (r_top - r_open) * q, L * q), 30)
    s.mark("outer_top").crease().line(0.0, L, 3)
    shade = _revolve(s)
    scv = _Canvas(512, 512, enamel)
    scv.rect(0.0, 0.0, 1.0, s.v("inner_rim"), (246, 242, 232))  # inside: warm white
    scv.rect(0.0, s.v("outer_lo"), 1.0, s.v("outer_lo") + 0.02, _shade(enamel, -0.3))
    scv.rect(0.0, s.v("outer_top") - 0.015, 1.0, 1.0, _shade(enamel, -0.3))
    shade_mat = _material("lamp_shade", scv.finish(), metallic=0.0, roughness=0.35)
    tilt = np.radians(35.0 if not seed else float(rng.uniform(28.0, 42.0)))
    axis_down = np.array([0.0, -np.cos(tilt), np.sin(tilt)])  # shade opening direction
    # local +Y (towards the closed top) -> -axis_down; top centre sits just below joint 2
    top_centre = joint2 + axis_down * 0.006
    to_world = _align_y(-axis_down, top_centre - (-axis_down) * L)
    shade = shade.transformed(to_world)
    bulb = _sphere(0.020).transformed(_align_y(-axis_down, top_centre + axis_down * 0.045))
    bulb_mat = _material(
        "lamp_bulb", _solid_texture((255, 244, 214)), 0.0, 0.2, emissive=[1.0, 0.86, 0.62]
    )

    return _assemble(
        [
            ("base", base, base_mat),
            ("chrome", chrome, chrome_mat),
            ("shade", shade, shade_mat),
            ("bulb", bulb, bulb_mat),
        ]
    )


# ----------------------------------------------------------------------------
# Registry and export
# ----------------------------------------------------------------------------

SAMPLE_ASSETS: dict[str, Callable[..., trimesh.Scene]] = {
    "bottle": make_bottle,
    "mug": make_mug,
    "robot": make_robot_toy,
    "lamp": make_lamp,
}


def export_glb(obj: trimesh.Scene | trimesh.Trimesh, path: str | os.PathLike) -> str:
    """Write ``obj`` as a binary glTF (textures embedded, PBR factors kept), atomically.

    The bytes go to a temporary file in the destination directory which then
    replaces ``path``; readers never see a half-written file. Returns the path."""
    from engine.asset.formats.gltf import glb_bytes

    path = os.fspath(path)
    write_bytes_atomic(path, glb_bytes(obj, include_normals=True))
    return path
