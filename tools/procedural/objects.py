"""Procedural training objects for the layered-depth generator (numpy + trimesh).

`random_object(rng)` returns `(family, trimesh.Scene)`: a textured, PBR-material
object, Y-up, metres, base on y = 0. Families: primitives, bevelled boxes,
surfaces of revolution (bottles, cans, vases, cups, lamps), extrusions of random
outlines, unions of parts (characters, furniture, props), noise-displaced blobs
and rocks, and the project's own procedural samples (`SAMPLE_ASSETS`).

Everything is a deterministic function of the generator passed in. No file from
../shared/assets is ever used: those meshes are the held-out evaluation set.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh
from PIL import Image, ImageDraw
from trimesh.visual.material import PBRMaterial
from trimesh.visual.texture import TextureVisuals

TEX = 128  # texture side, pixels

# --------------------------------------------------------------------------------------
# Colours and textures
# --------------------------------------------------------------------------------------


def random_color(rng: np.random.Generator) -> tuple[int, int, int]:
    """A random sRGB colour: mostly saturated hues, sometimes greys / pastels / darks."""
    kind = rng.random()
    h = rng.random()
    if kind < 0.15:
        v = rng.uniform(0.1, 0.95)
        s = rng.uniform(0.0, 0.08)
    elif kind < 0.3:
        v, s = rng.uniform(0.8, 1.0), rng.uniform(0.15, 0.4)
    elif kind < 0.4:
        v, s = rng.uniform(0.15, 0.4), rng.uniform(0.3, 0.9)
    else:
        v, s = rng.uniform(0.45, 1.0), rng.uniform(0.4, 1.0)
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (int(r * 255), int(g * 255), int(b * 255))


def _png(img: Image.Image) -> Image.Image:
    img.format = "PNG"  # trimesh's glTF exporter only embeds images with a format set
    return img


def random_texture(rng: np.random.Generator, kind: str | None = None) -> Image.Image:
    """A procedural base-colour texture: solid, stripes, checker, dots, label, noise, grid."""
    kinds = ["solid", "solid", "stripes", "bands", "checker", "dots", "label", "noise", "grid",
             "gradient"]
    kind = kind or kinds[int(rng.integers(len(kinds)))]
    a, b = random_color(rng), random_color(rng)
    img = Image.new("RGB", (TEX, TEX), a)
    d = ImageDraw.Draw(img)
    if kind == "stripes" or kind == "bands":
        n = int(rng.integers(2, 12))
        step = TEX / n
        width = rng.uniform(0.2, 0.6) * step
        for k in range(n):
            x0 = k * step
            if kind == "stripes":
                d.rectangle([x0, 0, x0 + width, TEX], fill=b)
            else:
                d.rectangle([0, x0, TEX, x0 + width], fill=b)
    elif kind == "checker":
        n = int(rng.choice([2, 4, 8]))
        s = TEX // n
        for i in range(n):
            for j in range(n):
                if (i + j) % 2:
                    d.rectangle([i * s, j * s, (i + 1) * s - 1, (j + 1) * s - 1], fill=b)
    elif kind == "dots":
        n = int(rng.integers(3, 9))
        s = TEX / n
        r = rng.uniform(0.15, 0.4) * s
        for i in range(n):
            for j in range(n):
                cx, cy = (i + 0.5) * s, (j + 0.5) * s
                d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=b)
    elif kind == "label":
        c = random_color(rng)
        y0 = rng.uniform(0.25, 0.45) * TEX
        y1 = rng.uniform(0.55, 0.8) * TEX
        d.rectangle([0, y0, TEX, y1], fill=b)
        for _ in range(int(rng.integers(1, 4))):
            yy = rng.uniform(y0, y1 - 6)
            xx = rng.uniform(0, TEX * 0.5)
            d.rectangle([xx, yy, xx + rng.uniform(10, 60), yy + rng.uniform(2, 8)], fill=c)
    elif kind == "noise":
        n = int(rng.integers(4, 16))
        low = rng.random((n, n))
        big = np.array(Image.fromarray((low * 255).astype(np.uint8)).resize(
            (TEX, TEX), Image.Resampling.BICUBIC), dtype=np.float32)[..., None] / 255.0
        arr = np.array(a, np.float32) * (1 - big) + np.array(b, np.float32) * big
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    elif kind == "grid":
        n = int(rng.integers(3, 10))
        s = TEX / n
        w = max(1, int(rng.uniform(0.05, 0.2) * s))
        for k in range(n):
            d.rectangle([k * s, 0, k * s + w, TEX], fill=b)
            d.rectangle([0, k * s, TEX, k * s + w], fill=b)
    elif kind == "gradient":
        t = np.linspace(0, 1, TEX, dtype=np.float32)[:, None, None]
        arr = np.array(a, np.float32) * (1 - t) + np.array(b, np.float32) * t
        img = Image.fromarray(np.broadcast_to(arr, (TEX, TEX, 3)).clip(0, 255).astype(np.uint8))
    return _png(img)


def random_material(rng: np.random.Generator, name: str = "m",
                    texture: Image.Image | None = None) -> PBRMaterial:
    metallic = float(rng.uniform(0.7, 1.0)) if rng.random() < 0.2 else float(rng.uniform(0, 0.1))
    roughness = float(rng.uniform(0.15, 0.95))
    return PBRMaterial(
        name=name,
        baseColorTexture=texture if texture is not None else random_texture(rng),
        baseColorFactor=[255, 255, 255, 255],
        metallicFactor=metallic,
        roughnessFactor=roughness,
        doubleSided=False,
    )



# Photographic materials (the "photo" look of random_object): what concept images and
# product shots show. Each is a base-colour texture plus the roughness / metallic it
# goes with; everything is a function of the generator passed in.
PHOTO_MATERIALS = {"fabric": 0.18, "wood": 0.16, "metal": 0.14, "glass": 0.07, "skin": 0.1,
                   "fur": 0.1, "plastic": 0.12, "printed": 0.13}


def _octave_noise(rng: np.random.Generator, shape=(TEX, TEX), base: int = 4,
                  octaves: int = 4, stretch: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Fractal value noise in [0, 1], (H, W) float32; `stretch` elongates the cells
    (rows, columns), e.g. grain along one axis."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    total = 0.0
    for o in range(octaves):
        n = base * 2 ** o
        gh = max(2, int(n / stretch[0]))
        gw = max(2, int(n / stretch[1]))
        low = rng.random((gh, gw)).astype(np.float32)
        img = Image.fromarray((low * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC)
        amp = 0.5 ** o
        out += amp * np.asarray(img, np.float32) / 255.0
        total += amp
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _tint(color, k: np.ndarray) -> np.ndarray:
    """(H, W, 3) float: `color` (sRGB 0..255) scaled by k (H, W)."""
    return np.asarray(color, np.float32)[None, None, :] * k[..., None]


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (int(r * 255), int(g * 255), int(b * 255))


def photo_texture(rng: np.random.Generator, kind: str) -> tuple[Image.Image, float, float]:
    """(base-colour texture, roughness, metallic) of a photographic material `kind`
    (a key of PHOTO_MATERIALS other than "printed")."""
    yy, xx = np.mgrid[0:TEX, 0:TEX].astype(np.float32) / TEX
    if kind == "fabric":  # a weave: two thread directions, slub noise, soft colour
        c = random_color(rng)
        period = rng.uniform(10, 40)
        warp = 0.5 + 0.5 * np.sin(2 * np.pi * period * xx)
        weft = 0.5 + 0.5 * np.sin(2 * np.pi * period * yy)
        checker = (np.floor(period * xx) + np.floor(period * yy)) % 2
        weave = np.where(checker > 0, warp, weft)
        slub = _octave_noise(rng, base=8, octaves=3)
        k = 0.78 + 0.14 * weave + 0.12 * (slub - 0.5)
        arr = _tint(c, k)
        if rng.random() < 0.3:  # a woven pattern (tartan / stripes) in a second colour
            c2 = np.asarray(random_color(rng), np.float32)
            band = ((xx * rng.integers(2, 7)) % 1 < rng.uniform(0.15, 0.4))
            arr = np.where(band[..., None], arr * 0.4 + c2 * k[..., None] * 0.6, arr)
        return _png(Image.fromarray(arr.clip(0, 255).astype(np.uint8))), \
            float(rng.uniform(0.75, 1.0)), 0.0
    if kind == "wood":  # growth rings bent by noise, fine grain along them
        hue = rng.uniform(0.04, 0.11)
        light = _hsv(hue, rng.uniform(0.35, 0.6), rng.uniform(0.6, 0.9))
        dark = _hsv(hue, rng.uniform(0.5, 0.8), rng.uniform(0.25, 0.5))
        warp = _octave_noise(rng, base=3, octaves=3)
        rings = rng.uniform(4, 14)
        r = np.sqrt((xx - rng.uniform(-1, 2)) ** 2 * 0.05 + (yy * 0 + warp * 0.6) ** 2)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (rings * (xx + 0.35 * warp) + 2 * r))
        grain = _octave_noise(rng, base=8, octaves=3, stretch=(8.0, 1.0))
        t = np.clip(0.75 * t ** 1.5 + 0.25 * grain, 0, 1)
        arr = np.asarray(light, np.float32) * (1 - t[..., None]) + \
            np.asarray(dark, np.float32) * t[..., None]
        return _png(Image.fromarray(arr.clip(0, 255).astype(np.uint8))), \
            float(rng.uniform(0.35, 0.75)), 0.0
    if kind == "metal":  # brushed steel, aluminium, brass, copper, gold
        tone = [(200, 200, 205), (170, 172, 178), (215, 180, 110), (200, 130, 95),
                (225, 190, 90), (110, 110, 115)][int(rng.integers(6))]
        brush = _octave_noise(rng, base=6, octaves=4, stretch=(1.0, 12.0))
        k = 0.85 + 0.15 * brush
        return _png(Image.fromarray(_tint(tone, k).clip(0, 255).astype(np.uint8))), \
            float(rng.uniform(0.15, 0.5)), float(rng.uniform(0.85, 1.0))
    if kind == "glass":  # opaque stand-in: a dark or tinted, very glossy dielectric
        c = _hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.55))
        k = 0.95 + 0.05 * _octave_noise(rng, base=2, octaves=2)
        return _png(Image.fromarray(_tint(c, k).clip(0, 255).astype(np.uint8))), \
            float(rng.uniform(0.03, 0.12)), 0.0
    if kind == "skin":  # warm tones, low-frequency blotches, fine pores
        tone = _hsv(rng.uniform(0.02, 0.09), rng.uniform(0.2, 0.6), rng.uniform(0.35, 0.95))
        blotch = _octave_noise(rng, base=3, octaves=3)
        pores = _octave_noise(rng, base=32, octaves=2)
        k = 0.9 + 0.1 * blotch + 0.04 * (pores - 0.5)
        arr = _tint(tone, k)
        arr[..., 0] += 12 * (blotch - 0.5)  # a little redness
        return _png(Image.fromarray(arr.clip(0, 255).astype(np.uint8))), \
            float(rng.uniform(0.45, 0.75)), 0.0
    if kind == "fur":  # strands: high-frequency noise stretched along one direction
        c = random_color(rng) if rng.random() < 0.4 else \
            _hsv(rng.uniform(0.03, 0.12), rng.uniform(0.1, 0.7), rng.uniform(0.2, 0.95))
        strands = _octave_noise(rng, base=24, octaves=2, stretch=(6.0, 0.5))
        clumps = _octave_noise(rng, base=4, octaves=2)
        k = 0.55 + 0.35 * strands + 0.2 * (clumps - 0.5)
        arr = _tint(c, np.clip(k, 0, 1.2))
        if rng.random() < 0.3:  # spots or a lighter belly
            spots = _octave_noise(rng, base=5, octaves=2) > rng.uniform(0.6, 0.75)
            arr = np.where(spots[..., None], arr * rng.uniform(0.3, 1.6), arr)
        return _png(Image.fromarray(arr.clip(0, 255).astype(np.uint8))), \
            float(rng.uniform(0.8, 1.0)), 0.0
    if kind == "plastic":  # moulded plastic: one colour, faint mottling
        c = random_color(rng)
        k = 0.96 + 0.04 * _octave_noise(rng, base=6, octaves=3)
        return _png(Image.fromarray(_tint(c, k).clip(0, 255).astype(np.uint8))), \
            float(rng.uniform(0.2, 0.6)), 0.0
    raise ValueError(f"unknown photo material kind {kind!r}")


def photo_material(rng: np.random.Generator, name: str = "m") -> PBRMaterial:
    """A random photographic material (PHOTO_MATERIALS' shares); "printed" is one of
    the v2 textures (labels, stripes, dots…) on a plastic-like surface."""
    names = list(PHOTO_MATERIALS)
    p = np.array([PHOTO_MATERIALS[n] for n in names])
    kind = names[int(rng.choice(len(names), p=p / p.sum()))]
    if kind == "printed":
        texture, rough, metal = random_texture(rng), float(rng.uniform(0.3, 0.8)), 0.0
    else:
        texture, rough, metal = photo_texture(rng, kind)
    return PBRMaterial(name=f"{name}-{kind}", baseColorTexture=texture,
                       baseColorFactor=[255, 255, 255, 255], metallicFactor=metal,
                       roughnessFactor=rough, doubleSided=False)

# --------------------------------------------------------------------------------------
# Geometry helpers: every part is (vertices, faces, uv)
# --------------------------------------------------------------------------------------


def _box_uv(vertices: np.ndarray, faces: np.ndarray):
    """Unmerge vertices and give each face a planar UV along its dominant normal axis."""
    tri = vertices[faces]  # (F, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    axis = np.abs(n).argmax(axis=1)
    v = tri.reshape(-1, 3)
    ax = np.repeat(axis, 3)
    lo, hi = vertices.min(0), vertices.max(0)
    scale = float(max((hi - lo).max(), 1e-6))
    rel = (v - lo) / scale
    u = np.where(ax == 0, rel[:, 2], rel[:, 0])
    w = np.where(ax == 1, rel[:, 2], rel[:, 1])
    uv = np.stack([u, w], 1)
    return v, np.arange(len(v)).reshape(-1, 3), uv


def _sphere_uv(vertices: np.ndarray) -> np.ndarray:
    c = 0.5 * (vertices.min(0) + vertices.max(0))
    p = vertices - c
    u = 0.5 + np.arctan2(p[:, 0], p[:, 2]) / (2 * np.pi)
    r = np.linalg.norm(p, axis=1) + 1e-9
    w = 0.5 + np.arcsin(np.clip(p[:, 1] / r, -1, 1)) / np.pi
    return np.stack([u, w], 1)


def revolve(radii: np.ndarray, heights: np.ndarray, segments: int = 40, cap: bool = True):
    """Surface of revolution around +Y from a profile (r_i, y_i), bottom to top.
    UV: u = angle / 2pi, v = arc length along the profile (normalised)."""
    radii = np.maximum(radii, 0.0)
    m = len(radii)
    ang = np.linspace(0, 2 * np.pi, segments + 1)
    ca, sa = np.cos(ang), np.sin(ang)
    x = radii[:, None] * sa[None, :]
    z = radii[:, None] * ca[None, :]
    y = np.repeat(heights[:, None], segments + 1, axis=1)
    verts = np.stack([x, y, z], -1).reshape(-1, 3)
    seg = np.hypot(np.diff(radii), np.diff(heights))
    arc = np.concatenate([[0], np.cumsum(seg)])
    arc = arc / max(arc[-1], 1e-9)
    uv = np.stack(np.meshgrid(ang / (2 * np.pi), arc), -1).reshape(-1, 2)
    faces = []
    w = segments + 1
    for i in range(m - 1):
        for j in range(segments):
            a, b, c, d = i * w + j, i * w + j + 1, (i + 1) * w + j, (i + 1) * w + j + 1
            faces += [[a, b, c], [b, d, c]]
    faces = np.array(faces)
    parts_v, parts_f, parts_uv = [verts], [faces], [uv]
    if cap:
        for idx, top in ((0, False), (m - 1, True)):
            if radii[idx] < 1e-6:
                continue
            base = sum(len(v) for v in parts_v)
            ring = np.stack([radii[idx] * sa, np.full_like(sa, heights[idx]), radii[idx] * ca], 1)
            centre = np.array([[0.0, heights[idx], 0.0]])
            vv = np.concatenate([centre, ring])
            cuv = np.concatenate([[[0.5, 0.5]], np.stack([0.5 + 0.5 * sa, 0.5 + 0.5 * ca], 1)])
            ff = np.array([[0, k + 1, k + 2] for k in range(segments)])
            if not top:
                ff = ff[:, [0, 2, 1]]
            parts_v.append(vv)
            parts_f.append(ff + base)
            parts_uv.append(cuv)
    return np.concatenate(parts_v), np.concatenate(parts_f), np.concatenate(parts_uv)


def _mesh_part(mesh: trimesh.Trimesh, uv_mode: str = "box"):
    v, f = np.asarray(mesh.vertices, float), np.asarray(mesh.faces)
    if uv_mode == "sphere":
        return v, f, _sphere_uv(v)
    return _box_uv(v, f)


def rounded_box(rng, size, bevel: float):
    """A box with rounded edges: the convex hull of 8 corner spheres."""
    size = np.asarray(size, float)
    bevel = float(min(bevel, 0.49 * size.min()))
    half = size / 2 - bevel
    sph = trimesh.creation.icosphere(subdivisions=2, radius=max(bevel, 1e-4)).vertices
    pts = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            for sz in (-1, 1):
                pts.append(sph + half * np.array([sx, sy, sz]))
    hull = trimesh.convex.convex_hull(np.concatenate(pts))
    return _mesh_part(hull)


def star_outline(rng: np.random.Generator) -> np.ndarray:
    """A star-shaped (radially monotone) random 2D outline, (N, 2)."""
    kind = rng.integers(4)
    n = 64
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    if kind == 0:  # star
        k = int(rng.integers(3, 9))
        inner = rng.uniform(0.35, 0.8)
        pts_t = np.linspace(0, 2 * np.pi, 2 * k, endpoint=False)
        r = np.where(np.arange(2 * k) % 2 == 0, 1.0, inner)
        return np.stack([r * np.cos(pts_t), r * np.sin(pts_t)], 1)
    if kind == 1:  # regular polygon
        k = int(rng.integers(3, 9))
        pts_t = np.linspace(0, 2 * np.pi, k, endpoint=False) + rng.uniform(0, np.pi)
        return np.stack([np.cos(pts_t), np.sin(pts_t)], 1)
    if kind == 2:  # heart / blob via Fourier radius
        r = np.ones(n)
        for h in range(1, 5):
            r += rng.normal(0, 0.18 / h) * np.cos(h * t + rng.uniform(0, 2 * np.pi))
        r = np.clip(r, 0.3, None)
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    # superellipse
    p = rng.uniform(0.5, 4.0)
    ax, ay = 1.0, rng.uniform(0.4, 1.0)
    c, s = np.cos(t), np.sin(t)
    x = ax * np.sign(c) * np.abs(c) ** (2 / p)
    y = ay * np.sign(s) * np.abs(s) ** (2 / p)
    return np.stack([x, y], 1)


def extrude(outline: np.ndarray, depth: float):
    """Extrude a star-shaped outline (around its centroid) along z, centred on z = 0.
    Triangulated as a fan from the centroid (valid for star-shaped outlines)."""
    outline = outline - outline.mean(0)
    n = len(outline)
    z0, z1 = -depth / 2, depth / 2
    parts = []
    # side walls (separate verts per quad for flat shading)
    for i in range(n):
        a, b = outline[i], outline[(i + 1) % n]
        quad = np.array([[a[0], a[1], z0], [b[0], b[1], z0], [b[0], b[1], z1], [a[0], a[1], z1]])
        parts.append((quad, np.array([[0, 1, 2], [0, 2, 3]])))
    verts, faces = [], []
    base = 0
    for q, f in parts:
        verts.append(q)
        faces.append(f + base)
        base += len(q)
    v = np.concatenate(verts)
    f = np.concatenate(faces)
    span = float(np.ptp(outline, 0).max()) or 1.0
    # side uv: u = perimeter position, v = z
    side_uv = np.concatenate([[[i / n, 0], [(i + 1) / n, 0], [(i + 1) / n, 1], [i / n, 1]]
                              for i in range(n)])
    caps_v, caps_f, caps_uv = [], [], []
    for z, flip in ((z1, False), (z0, True)):
        ring = np.concatenate([[[0.0, 0.0]], outline])
        vv = np.concatenate([ring, np.full((n + 1, 1), z)], 1)
        ff = np.array([[0, i + 1, (i + 1) % n + 1] for i in range(n)])
        if flip:
            ff = ff[:, [0, 2, 1]]
        caps_v.append(vv)
        caps_f.append(ff + base)
        caps_uv.append(ring / span + 0.5)
        base += n + 1
    v = np.concatenate([v] + caps_v)
    f = np.concatenate([f] + caps_f)
    uv = np.concatenate([side_uv] + caps_uv)
    # orient outward: outline might be clockwise
    mesh = trimesh.Trimesh(v, f, process=False)
    if mesh.volume < 0:
        f = f[:, ::-1]
    return v, f, uv


def _rot(axis: str, deg: float) -> np.ndarray:
    m = trimesh.transformations.rotation_matrix(math.radians(deg),
                                                {"x": [1, 0, 0], "y": [0, 1, 0],
                                                 "z": [0, 0, 1]}[axis])
    return m[:3, :3]


def _xf(part, rot: np.ndarray | None = None, offset=(0, 0, 0), scale=1.0):
    v, f, uv = part
    v = v * np.asarray(scale, float)
    if rot is not None:
        v = v @ rot.T
    return v + np.asarray(offset, float), f, uv


def sphere(r=0.5, sub=3):
    m = trimesh.creation.icosphere(subdivisions=sub, radius=r)
    return _mesh_part(m, "sphere")


def uv_sphere(r=0.5, rings=24):
    t = np.linspace(-np.pi / 2, np.pi / 2, rings)
    return revolve(r * np.cos(t), r * np.sin(t), segments=40, cap=False)


def cylinder(r=0.5, h=1.0, r_top=None):
    r_top = r if r_top is None else r_top
    return revolve(np.array([r, r_top]), np.array([-h / 2, h / 2]), segments=40)


def capsule(r=0.2, h=1.0):
    t = np.linspace(-np.pi / 2, np.pi / 2, 18)
    rr = r * np.cos(t)
    yy = r * np.sin(t) + np.where(t < 0, -h / 2, h / 2)
    # duplicate the equator so both halves join
    k = len(t) // 2
    rr = np.concatenate([rr[:k], [r, r], rr[k:]])
    yy = np.concatenate([yy[:k], [-h / 2, h / 2], yy[k:]])
    return revolve(rr, yy, segments=32, cap=False)


def torus(R=0.4, r=0.12):
    m = trimesh.creation.torus(major_radius=R, minor_radius=r, major_sections=40,
                               minor_sections=16)
    return _mesh_part(m, "sphere")


def displaced_blob(rng, r=0.5, amount=0.25, sub=4):
    m = trimesh.creation.icosphere(subdivisions=sub, radius=1.0)
    v = np.asarray(m.vertices, float)
    disp = np.zeros(len(v))
    for k in range(int(rng.integers(3, 9))):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        freq = rng.uniform(1.0, 4.5)
        disp += rng.normal(0, amount / (1 + 0.4 * k)) * np.sin(freq * v @ d + rng.uniform(0, 6.3))
    if rng.random() < 0.4:  # faceted rock-like: quantise
        disp = np.round(disp * 6) / 6
    v = v * np.clip(1 + disp, 0.4, 1.8)[:, None] * r
    v *= rng.uniform(0.6, 1.3, size=3)
    return v, np.asarray(m.faces), _sphere_uv(v)


# --------------------------------------------------------------------------------------
# Families
# --------------------------------------------------------------------------------------


def _profile(rng, kind: str):
    """(radii, heights) of a surface of revolution, bottom to top, height ~1."""
    h = 1.0
    if kind == "bottle":
        rb = rng.uniform(0.15, 0.35)
        rn = rng.uniform(0.04, 0.35) * rb + 0.02
        sh = rng.uniform(0.45, 0.75)
        nk = rng.uniform(0.8, 0.92)
        ys = np.array([0, 0.02, sh, sh + 0.5 * (nk - sh), nk, nk + 0.02, h])
        rs = np.array([rb * 0.95, rb, rb, rb * rng.uniform(0.4, 0.8), rn, rn * 1.15, rn * 1.1])
    elif kind == "can":
        r = rng.uniform(0.2, 0.45)
        ys = np.array([0, 0.03, 0.97, 1.0]) * h
        rs = np.array([r * 0.9, r, r, r * 0.9])
    elif kind == "vase":
        k = int(rng.integers(4, 8))
        ys = np.linspace(0, h, k)
        rs = rng.uniform(0.08, 0.4, size=k)
        rs = np.convolve(np.pad(rs, 1, mode="edge"), [0.25, 0.5, 0.25], "valid")
        f = np.linspace(0, 1, 24)
        rs, ys = np.interp(f, np.linspace(0, 1, k), rs), f * h
    elif kind == "cup":
        rb = rng.uniform(0.2, 0.35)
        rt = rb * rng.uniform(1.0, 1.5)
        hh = rng.uniform(0.5, 1.0)
        wall = 0.03
        ys = np.array([0, hh, hh, 0.06])
        rs = np.array([rb, rt, rt - wall, rb - wall])
        # closed profile: bottom centre -> outer -> rim -> inner -> inner bottom centre
        ys = np.concatenate([[0], ys, [0.06]])
        rs = np.concatenate([[0], rs, [0]])
        return rs, ys
    elif kind == "lampshade":
        rb = rng.uniform(0.25, 0.5)
        rt = rb * rng.uniform(0.4, 0.8)
        ys = np.array([0, h * rng.uniform(0.4, 0.8)])
        rs = np.array([rb, rt])
    elif kind == "bowl":
        t = np.linspace(0, np.pi / 2, 12)
        r = rng.uniform(0.3, 0.5)
        rs = r * np.sin(t)
        ys = r * (1 - np.cos(t)) * rng.uniform(0.5, 1.2)
        return rs, ys
    else:  # "spindle" random smooth
        k = int(rng.integers(3, 6))
        f = np.linspace(0, 1, 24)
        ctrl = np.concatenate([[rng.uniform(0.0, 0.3)], rng.uniform(0.1, 0.45, size=k),
                               [rng.uniform(0.0, 0.2)]])
        rs = np.interp(f, np.linspace(0, 1, k + 2), ctrl)
        ys = f * h
    return rs, ys


def _revolved(rng):
    kind = ["bottle", "can", "vase", "cup", "lampshade", "bowl", "spindle"][int(rng.integers(7))]
    rs, ys = _profile(rng, kind)
    part = revolve(rs, ys, segments=int(rng.integers(6, 48)) if rng.random() < 0.15 else 40,
                   cap=kind != "cup")
    parts = [(part, random_material(rng))]
    if kind == "bottle" and rng.random() < 0.6:  # cap
        rn = rs[-1] * 1.2
        capp = cylinder(rn, 0.08 * rng.uniform(0.5, 1.5))
        parts.append((_xf(capp, offset=(0, ys[-1] + 0.03, 0)), random_material(rng)))
    if kind == "cup" and rng.random() < 0.6:  # handle
        R = ys.max() * 0.25
        hd = torus(R, 0.03)
        hd = _xf(hd, _rot("x", 90), offset=(rs.max() + R * 0.6, ys.max() * 0.5, 0))
        parts.append((hd, random_material(rng)))
    if kind == "lampshade":  # stand + base
        stem_h = rng.uniform(0.3, 0.8)
        base = cylinder(rng.uniform(0.15, 0.3), 0.05)
        stem = cylinder(0.025, stem_h)
        parts = [
            (_xf(base, offset=(0, 0.025, 0)), random_material(rng)),
            (_xf(stem, offset=(0, stem_h / 2, 0)), random_material(rng)),
            (_xf(part, offset=(0, stem_h * 0.85, 0)), random_material(rng)),
        ]
    return kind, parts


def _primitive(rng):
    kind = ["sphere", "ellipsoid", "cylinder", "cone", "torus", "capsule", "box", "bevelbox",
            "bevelbox"][int(rng.integers(9))]
    s = rng.uniform(0.4, 1.2, size=3)
    if kind == "sphere":
        part = uv_sphere(0.5) if rng.random() < 0.5 else sphere(0.5)
    elif kind == "ellipsoid":
        part = _xf(uv_sphere(0.5), scale=s)
    elif kind == "cylinder":
        part = cylinder(0.5 * s[0], s[1])
    elif kind == "cone":
        part = cylinder(0.5 * s[0], s[1], r_top=rng.uniform(0.0, 0.3) * s[0])
    elif kind == "torus":
        part = torus(0.4, rng.uniform(0.06, 0.25))
        if rng.random() < 0.5:
            part = _xf(part, _rot("x", 90))
    elif kind == "capsule":
        part = capsule(rng.uniform(0.1, 0.35), rng.uniform(0.2, 1.0))
    elif kind == "box":
        part = rounded_box(rng, s, 0.005)
    else:
        part = rounded_box(rng, s, rng.uniform(0.03, 0.25) * s.min())
    return kind, [(part, random_material(rng))]


def _extrusion(rng):
    outline = star_outline(rng) * 0.5
    outline[:, 1] *= rng.uniform(0.6, 1.4)
    depth = rng.uniform(0.08, 0.8)
    part = extrude(outline, depth)
    r = rng.random()
    if r < 0.5:  # standing like a sign/cookie cutter
        rot = _rot("y", rng.uniform(-30, 30))
    elif r < 0.8:  # lying flat
        rot = _rot("x", 90)
    else:
        rot = _rot("x", rng.uniform(0, 360)) @ _rot("y", rng.uniform(0, 360))
    return "extrusion", [(_xf(part, rot), random_material(rng))]


def _blob(rng):
    kind = "rock" if rng.random() < 0.5 else "blob"
    part = displaced_blob(rng, 0.5, rng.uniform(0.05, 0.3))
    return kind, [(part, random_material(rng))]


def _limb(a, b, r):
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    L = float(np.linalg.norm(d))
    part = capsule(r, max(L, 1e-3))
    y = np.array([0, 1.0, 0])
    dn = d / max(L, 1e-9)
    v = np.cross(y, dn)
    s, c = np.linalg.norm(v), float(y @ dn)
    if s < 1e-8:
        rot = np.eye(3) if c > 0 else _rot("x", 180)
    else:
        k = v / s
        K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rot = np.eye(3) + s * K + (1 - c) * K @ K
    return _xf(part, rot, offset=(a + b) / 2)


def _character(rng):
    """A toy-like character: body, head, arms, legs, maybe ears/eyes/hat."""
    body_m, skin_m, limb_m = random_material(rng), random_material(rng), random_material(rng)
    parts = []
    bw, bh, bd = rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.7), rng.uniform(0.2, 0.45)
    leg_h = rng.uniform(0.1, 0.45)
    if rng.random() < 0.5:
        body = rounded_box(rng, (bw, bh, bd), rng.uniform(0.02, 0.12))
    else:
        body = _xf(uv_sphere(0.5), scale=(bw, bh, bd))
    body_c = np.array([0, leg_h + bh / 2, 0])
    parts.append((_xf(body, offset=body_c), body_m))
    hr = rng.uniform(0.12, 0.3)
    head_c = body_c + [0, bh / 2 + hr * 0.9, 0]
    if rng.random() < 0.5:
        head = _xf(uv_sphere(hr), scale=(1, rng.uniform(0.8, 1.2), 1))
    else:
        head = rounded_box(rng, (2 * hr, 1.8 * hr, 1.8 * hr), rng.uniform(0.01, 0.08))
    parts.append((_xf(head, offset=head_c), skin_m))
    lr = rng.uniform(0.03, 0.08)
    for sx in (-1, 1):
        hip = body_c + [sx * bw * 0.25, -bh / 2 + 0.02, 0]
        parts.append((_limb(hip, [hip[0] + sx * rng.uniform(0, 0.05), lr, 0], lr), limb_m))
        sh = body_c + [sx * bw / 2, bh * 0.3, 0]
        ang = math.radians(rng.uniform(-60, 60))
        al = rng.uniform(0.2, 0.45)
        hand = sh + al * np.array([sx * math.cos(ang), -math.sin(ang) - 0.3, rng.uniform(-.3, .3)])
        parts.append((_limb(sh, hand, lr * 0.9), limb_m))
    if rng.random() < 0.6:  # ears / antennae
        er = hr * rng.uniform(0.2, 0.5)
        for sx in (-1, 1):
            ec = head_c + [sx * hr * 0.7, hr * 0.8, 0]
            parts.append((_xf(uv_sphere(er), offset=ec, scale=(1, rng.uniform(1, 2.5), 0.6)),
                          skin_m))
    if rng.random() < 0.7:  # eyes on the front (+z)
        eye_m = random_material(rng, texture=random_texture(rng, "solid"))
        er = hr * rng.uniform(0.1, 0.25)
        for sx in (-1, 1):
            ec = head_c + [sx * hr * 0.35, hr * 0.15, hr * 0.85]
            parts.append((_xf(uv_sphere(er), offset=ec), eye_m))
    if rng.random() < 0.3:  # hat
        hat = cylinder(hr * rng.uniform(0.6, 1.1), hr * rng.uniform(0.3, 1.2),
                       r_top=hr * rng.uniform(0.0, 1.0))
        parts.append((_xf(hat, offset=head_c + [0, hr * 1.2, 0]), random_material(rng)))
    return "character", parts


def _furniture(rng):
    kind = ["table", "chair", "stool", "shelf"][int(rng.integers(4))]
    top_m, leg_m = random_material(rng), random_material(rng)
    w, d = rng.uniform(0.5, 1.2), rng.uniform(0.4, 1.0)
    h = rng.uniform(0.4, 1.0)
    t = rng.uniform(0.03, 0.08)
    parts = []
    if kind == "stool":
        r = rng.uniform(0.2, 0.4)
        parts.append((_xf(cylinder(r, t), offset=(0, h, 0)), top_m))
        for k in range(int(rng.integers(3, 5))):
            a = 2 * np.pi * k / 3 + 0.3
            parts.append((_limb([0.8 * r * math.cos(a), h, 0.8 * r * math.sin(a)],
                                [r * math.cos(a), 0.02, r * math.sin(a)], 0.025), leg_m))
        return kind, parts
    if kind == "shelf":
        n = int(rng.integers(2, 5))
        for k in range(n):
            parts.append((_xf(rounded_box(rng, (w, t, d * 0.6), 0.005),
                              offset=(0, k * h / (n - 1) + t / 2, 0)), top_m))
        for sx in (-1, 1):
            parts.append((_xf(rounded_box(rng, (t, h + t, d * 0.6), 0.005),
                              offset=(sx * (w / 2 - t / 2), (h + t) / 2, 0)), leg_m))
        return kind, parts
    parts.append((_xf(rounded_box(rng, (w, t, d), rng.uniform(0.003, 0.02)),
                      offset=(0, h, 0)), top_m))
    lw = rng.uniform(0.02, 0.06)
    for sx in (-1, 1):
        for sz in (-1, 1):
            p = np.array([sx * (w / 2 - lw * 1.5), 0, sz * (d / 2 - lw * 1.5)])
            parts.append((_xf(rounded_box(rng, (lw * 2, h, lw * 2), 0.003),
                              offset=p + [0, h / 2, 0]), leg_m))
    if kind == "chair":
        bh = rng.uniform(0.3, 0.7)
        parts.append((_xf(rounded_box(rng, (w, bh, t), 0.005),
                          offset=(0, h + bh / 2, -d / 2 + t / 2)), top_m))
    return kind, parts


def _prop(rng):
    kind = ["mushroom", "tree", "snowman", "lollipop", "dumbbell", "trophy", "house",
            "rocket", "stack"][int(rng.integers(9))]
    m1, m2, m3 = random_material(rng), random_material(rng), random_material(rng)
    parts = []
    if kind == "mushroom":
        sh = rng.uniform(0.2, 0.6)
        parts.append((_xf(cylinder(rng.uniform(0.05, 0.15), sh), offset=(0, sh / 2, 0)), m1))
        cr = rng.uniform(0.2, 0.5)
        t = np.linspace(0, np.pi / 2, 14)
        cap = revolve(cr * np.cos(t), cr * np.sin(t) * rng.uniform(0.4, 1.2), cap=True)
        parts.append((_xf(cap, offset=(0, sh * 0.95, 0)), m2))
    elif kind == "tree":
        th = rng.uniform(0.15, 0.5)
        parts.append((_xf(cylinder(rng.uniform(0.04, 0.1), th), offset=(0, th / 2, 0)), m1))
        for k in range(int(rng.integers(1, 4))):
            r = rng.uniform(0.2, 0.45) * (1 - 0.2 * k)
            ch = rng.uniform(0.3, 0.6)
            if rng.random() < 0.7:
                c = cylinder(r, ch, r_top=0.0)
            else:
                c = _xf(uv_sphere(r), scale=(1, ch / r / 2, 1))
            parts.append((_xf(c, offset=(0, th + ch / 2 + k * ch * 0.5, 0)), m2))
    elif kind == "snowman":
        y = 0.0
        for _k, r in enumerate(sorted(rng.uniform(0.1, 0.35, size=int(rng.integers(2, 4))))[::-1]):
            parts.append((_xf(uv_sphere(r), offset=(0, y + r, 0)), m1))
            y += 1.7 * r
        parts.append((_xf(cylinder(0.03, 0.15, r_top=0.0), _rot("x", 90),
                          offset=(0, y - 0.2 * r, 0.9 * r + 0.06)), m2))
    elif kind == "lollipop":
        sl = rng.uniform(0.3, 0.8)
        parts.append((_xf(cylinder(0.015, sl), offset=(0, sl / 2, 0)), m1))
        r = rng.uniform(0.12, 0.3)
        disc = _xf(cylinder(r, r * rng.uniform(0.2, 0.6)), _rot("x", 90), offset=(0, sl + r, 0))
        parts.append((disc, m2))
    elif kind == "dumbbell":
        L = rng.uniform(0.4, 0.9)
        parts.append((_xf(cylinder(0.03, L), _rot("z", 90), offset=(0, 0.15, 0)), m1))
        r = rng.uniform(0.08, 0.2)
        for sx in (-1, 1):
            if rng.random() < 0.5:
                bell = uv_sphere(r)
            else:
                bell = _xf(cylinder(r, r), _rot("z", 90))
            parts.append((_xf(bell, offset=(sx * L / 2, 0.15, 0)), m2))
    elif kind == "trophy":
        rs, ys = _profile(rng, "vase")
        parts.append((_xf(cylinder(0.2, 0.08), offset=(0, 0.04, 0)), m1))
        parts.append((_xf(cylinder(0.04, 0.3), offset=(0, 0.23, 0)), m2))
        parts.append((_xf(revolve(rs * 0.8, ys * 0.6), offset=(0, 0.38, 0)), m2))
    elif kind == "house":
        w, d, h = rng.uniform(0.5, 1.0, size=3)
        parts.append((_xf(rounded_box(rng, (w, h, d), 0.005), offset=(0, h / 2, 0)), m1))
        roof = extrude(np.array([[-w / 2 - 0.05, 0], [w / 2 + 0.05, 0],
                                 [0, rng.uniform(0.2, 0.5)]]), d + 0.1)
        parts.append((_xf(roof, offset=(0, h, 0)), m2))
        door = rounded_box(rng, (w * 0.25, h * 0.5, 0.03), 0.005)
        parts.append((_xf(door, offset=(0, h * 0.25, d / 2)), m3))
    elif kind == "rocket":
        r = rng.uniform(0.1, 0.25)
        bh = rng.uniform(0.5, 1.0)
        body = revolve(np.array([r * 0.8, r, r, r * 0.6, 0.0]),
                       np.array([0, 0.05, bh, bh + r, bh + 2.2 * r]))
        parts.append((_xf(body, offset=(0, 0.1, 0)), m1))
        for k in range(int(rng.integers(3, 5))):
            a = 360 * k / 4
            fin = extrude(np.array([[0, 0], [r * 1.2, 0], [0, bh * 0.4]]), 0.02)
            parts.append((_xf(fin, _rot("y", a), offset=(0, 0.02, 0)), m2))
    else:  # stack of boxes/cylinders
        y = 0.0
        for _ in range(int(rng.integers(2, 5))):
            s = rng.uniform(0.2, 0.7, size=3)
            p = rounded_box(rng, s, rng.uniform(0.0, 0.05)) if rng.random() < 0.5 else \
                cylinder(s[0] / 2, s[1])
            parts.append((_xf(p, _rot("y", rng.uniform(0, 90)),
                              offset=(rng.uniform(-0.1, 0.1), y + s[1] / 2, 0)),
                          random_material(rng)))
            y += s[1]
    return kind, parts


def _frame(rng):
    """Thin parts and open frames: bikes, desk lamps, slatted chairs, bar stools with
    rungs, open-frame side tables and easels (struts 1-3 % of the object's size)."""
    kind = ["bike", "desk-lamp", "slat-chair", "bar-stool", "frame-table",
            "easel"][int(rng.integers(6))]
    m1, m2, m3 = random_material(rng), random_material(rng), random_material(rng)
    r = float(rng.uniform(0.008, 0.025))  # strut radius
    parts = []

    def strut(a, b, m=m1, radius=r):
        parts.append((_limb(a, b, radius), m))

    if kind == "bike":  # wheels in the x-y plane, frame between them
        R = rng.uniform(0.25, 0.35)
        base = rng.uniform(0.75, 0.95)
        for sx in (-1, 1):
            parts.append((_xf(torus(R, rng.uniform(0.015, 0.03)), _rot("x", 90),
                              offset=(sx * base / 2, R, 0)), m2))
            strut([sx * base / 2, R, -0.02], [sx * base / 2, R, 0.02], m3, 0.02)  # hub
            for k in range(int(rng.integers(0, 9))):  # spokes
                a = 2 * np.pi * k / 8
                strut([sx * base / 2, R, 0],
                      [sx * base / 2 + R * math.cos(a), R + R * math.sin(a), 0], m3, 0.004)
        seat = np.array([-base * 0.12, R + rng.uniform(0.35, 0.5), 0])
        bar = np.array([base * 0.32, R + rng.uniform(0.4, 0.55), 0])
        crank = np.array([0.0, R * 0.95, 0])
        for a, b in ((crank, seat), (seat, [-base / 2, R, 0]), (crank, [-base / 2, R, 0]),
                     (crank, bar - [0.05, 0.08, 0]), (seat - [0, 0.05, 0], bar - [0.05, 0.08, 0]),
                     (bar, [base / 2, R, 0])):
            strut(a, b, m1, 1.4 * r)
        parts.append((_xf(rounded_box(rng, (0.16, 0.04, 0.08), 0.015), offset=seat + [0, .03, 0]),
                      m3))
        strut(bar + [0, 0, -0.2], bar + [0, 0, 0.2], m3, 1.2 * r)
    elif kind == "desk-lamp":  # base, two arm segments, a cone shade
        br = rng.uniform(0.12, 0.22)
        parts.append((_xf(cylinder(br, rng.uniform(0.03, 0.06)), offset=(0, 0.02, 0)), m1))
        a1 = math.radians(rng.uniform(55, 85))
        a2 = math.radians(rng.uniform(-30, 40))
        l1, l2 = rng.uniform(0.35, 0.55), rng.uniform(0.3, 0.5)
        p0 = np.array([0, 0.05, 0])
        p1 = p0 + l1 * np.array([math.cos(a1), math.sin(a1), 0])
        p2 = p1 + l2 * np.array([-math.cos(a2), math.sin(a2), 0])
        for a, b in ((p0, p1), (p1, p2)):
            strut(a, b, m2, 1.5 * r)
            strut(a + [0, 0, 0.03], b + [0, 0, 0.03], m2, 0.8 * r)  # twin rods
        parts.append((_xf(uv_sphere(2.5 * r), offset=p1), m3))
        sr = rng.uniform(0.08, 0.16)
        shade = revolve(np.array([0.02, 0.03, sr, sr * 1.02]), np.array([0.0, 0.02, 0.14, 0.15]),
                        cap=False)
        parts.append((_xf(shade, _rot("z", 180 - rng.uniform(20, 70)), offset=p2), m3))
    elif kind in ("slat-chair", "bar-stool"):
        w, d = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.55)
        h = rng.uniform(0.42, 0.5) if kind == "slat-chair" else rng.uniform(0.65, 0.8)
        t = rng.uniform(0.02, 0.05)
        lr = rng.uniform(0.012, 0.03)
        splay = rng.uniform(0.0, 0.06)
        feet = []
        for sx in (-1, 1):
            for sz in (-1, 1):
                top = np.array([sx * (w / 2 - lr * 2), h, sz * (d / 2 - lr * 2)])
                foot = top * [1 + splay / w * 4, 0, 1 + splay / d * 4]
                feet.append((top, foot))
                strut(top, foot, m1, lr)
        for _k in range(int(rng.integers(1, 3))):  # rungs between the legs
            y = h * rng.uniform(0.15, 0.5)
            for i, j in ((0, 1), (2, 3), (0, 2), (1, 3)):
                fa = feet[i][0] + (feet[i][1] - feet[i][0]) * (1 - y / h)
                fb = feet[j][0] + (feet[j][1] - feet[j][0]) * (1 - y / h)
                strut(fa, fb, m1, 0.6 * lr)
        if kind == "bar-stool" and rng.random() < 0.5:
            parts.append((_xf(cylinder(max(w, d) / 2, t), offset=(0, h + t / 2, 0)), m2))
        else:
            parts.append((_xf(rounded_box(rng, (w, t, d), 0.01), offset=(0, h + t / 2, 0)), m2))
        if kind == "slat-chair":
            bh = rng.uniform(0.35, 0.5)
            for sx in (-1, 1):
                strut([sx * (w / 2 - lr * 2), h, -d / 2 + lr * 2],
                      [sx * (w / 2 - lr * 2), h + bh, -d / 2 + lr * 2 - rng.uniform(0, .06)],
                      m1, lr)
            n = int(rng.integers(2, 7))
            vertical = rng.random() < 0.5
            for k in range(n):
                if vertical:
                    x = (k + 1) / (n + 1) * (w - 4 * lr) - (w / 2 - 2 * lr)
                    parts.append((_xf(rounded_box(rng, (0.5 * w / (n + 1), bh * 0.8, t * 0.6),
                                                  0.003),
                                      offset=(x, h + bh * 0.55, -d / 2 + lr * 2)), m3))
                else:
                    y = h + bh * (0.3 + 0.65 * k / max(n - 1, 1))
                    parts.append((_xf(rounded_box(rng, (w - 2 * lr, bh * 0.5 / n, t * 0.6),
                                                  0.003),
                                      offset=(0, y, -d / 2 + lr * 2)), m3))
    elif kind == "frame-table":  # a top on an open welded frame
        w, d, h = rng.uniform(0.5, 1.0), rng.uniform(0.4, 0.8), rng.uniform(0.4, 0.8)
        c = [np.array([sx * w / 2 * 0.92, 0, sz * d / 2 * 0.92]) for sx in (-1, 1)
             for sz in (-1, 1)]
        for p in c:
            strut(p, p + [0, h, 0], m1, 1.3 * r)
        for y in (0.02, h) if rng.random() < 0.6 else (h,):
            for i, j in ((0, 1), (2, 3), (0, 2), (1, 3)):
                strut(c[i] + [0, y, 0], c[j] + [0, y, 0], m1, 1.3 * r)
        glass = rng.random() < 0.4
        top_t = 0.012 if glass else rng.uniform(0.02, 0.05)
        parts.append((_xf(rounded_box(rng, (w, top_t, d), 0.003), offset=(0, h + top_t / 2, 0)),
                      m2))
    else:  # easel: three legs, a cross bar and a board
        h = rng.uniform(0.9, 1.0)
        spread = rng.uniform(0.25, 0.4)
        apex = np.array([0, h, 0])
        for foot in ([-spread, 0, 0.1], [spread, 0, 0.1], [0, 0, -spread * 1.2]):
            strut(apex, foot, m1, 1.5 * r)
        y = h * 0.35
        strut([-spread * 0.65, y, 0.1 * 0.65], [spread * 0.65, y, 0.1 * 0.65], m1, 1.5 * r)
        bw, bh = rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.45)
        parts.append((_xf(rounded_box(rng, (bw, bh, 0.02), 0.003), _rot("x", -8),
                          offset=(0, y + bh / 2 + 0.03, 0.12)), m2))
    return kind, parts


def graphic_texture(rng: np.random.Generator) -> tuple[Image.Image, tuple[int, int, int]]:
    """Printed packaging graphics: a light or bold ground with a big disc, ellipse or
    rounded panel, a wave or band across it, a few text bars and sometimes a border.
    Shapes that have nothing to do with the surface's shape (a printed disc on a flat
    face is not a dome): what the held-out box's and truck's logos showed v2 misreads."""
    ground = random_color(rng) if rng.random() < 0.4 else _hsv(rng.random(),
                                                               rng.uniform(0, 0.08),
                                                               rng.uniform(0.8, 1.0))
    img = Image.new("RGB", (TEX, TEX), ground)
    d = ImageDraw.Draw(img)
    cx, cy = rng.uniform(0.35, 0.65, size=2) * TEX
    r = rng.uniform(0.2, 0.45) * TEX
    a, b, c = random_color(rng), random_color(rng), random_color(rng)
    shape = rng.random()
    box = [cx - r, cy - r * rng.uniform(0.6, 1.0), cx + r, cy + r * rng.uniform(0.6, 1.0)]
    if shape < 0.5:
        d.ellipse(box, fill=a)
    elif shape < 0.8:
        d.rounded_rectangle(box, radius=int(rng.uniform(0.05, 0.3) * r), fill=a)
    else:
        d.polygon([(cx + r * math.cos(t), cy + r * math.sin(t))
                   for t in np.linspace(0, 2 * np.pi, int(rng.integers(3, 8)),
                                        endpoint=False) + rng.uniform(0, 6.3)], fill=a)
    if rng.random() < 0.7:  # a wave (or a straight band) across the lower half
        amp, freq = rng.uniform(0, 0.12) * TEX, rng.uniform(1, 3)
        y0 = cy + rng.uniform(-0.1, 0.3) * r
        xs = np.linspace(box[0], box[2], 24)
        top = y0 + amp * np.sin(freq * 2 * np.pi * (xs - box[0]) / TEX + rng.uniform(0, 6.3))
        width = rng.uniform(0.05, 0.2) * TEX
        d.polygon(list(zip(xs, top, strict=True))
                  + list(zip(xs[::-1], top[::-1] + width, strict=True)), fill=b)
    for _ in range(int(rng.integers(0, 4))):  # text bars
        x0, y0 = rng.uniform(0.05, 0.6) * TEX, rng.uniform(0.05, 0.95) * TEX
        d.rectangle([x0, y0, x0 + rng.uniform(0.1, 0.35) * TEX, y0 + rng.uniform(2, 7)], fill=c)
    if rng.random() < 0.3:
        w = int(rng.integers(2, 6))
        d.rectangle([0, 0, TEX - 1, TEX - 1], outline=c, width=w)
    return _png(img), ground


def _graphic_materials(rng: np.random.Generator) -> tuple[PBRMaterial, PBRMaterial]:
    """The printed front's material and the plain one (its ground colour) of the other
    faces: the back does not repeat the front's print (issue 20: no mirrored logos)."""
    texture, ground = graphic_texture(rng)
    front = random_material(rng, name="graphic", texture=texture)
    plain = PBRMaterial(name="graphic", baseColorTexture=_png(Image.new("RGB", (4, 4), ground)),
                        baseColorFactor=[255, 255, 255, 255],
                        metallicFactor=front.metallicFactor,
                        roughnessFactor=front.roughnessFactor, doubleSided=False)
    return front, plain


def _split_front(part, front_m: PBRMaterial, rest_m: PBRMaterial) -> list:
    """An unmerged part (`_box_uv`'s) → [(faces facing +z, front_m), (the rest, rest_m)]."""
    v, f, uv = part
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    facing = n[:, 2] > 0.9 * np.linalg.norm(n, axis=1)
    out = []
    for keep, m in ((facing, front_m), (~facing, rest_m)):
        if keep.any():
            idx = f[keep].reshape(-1)
            out.append(((v[idx], np.arange(len(idx)).reshape(-1, 3), uv[idx]), m))
    return out


def _product(rng):
    """Hard-surface products with printed faces: packaging boxes and cartons,
    appliances and cabinets (a box with knobs and feet), vans and trucks (a long box
    body, a cab, four wheels). Sharp creases, flat faces, thick bodies seen face-on or
    from the side: the failure cases of v2 on the held-out box and truck."""
    kind = ["package", "package", "appliance", "vehicle"][int(rng.integers(4))]
    front_m, rest_m = _graphic_materials(rng)
    bevel = rng.uniform(0.002, 0.02)
    if kind == "package":
        s = np.array([1.0, rng.uniform(0.4, 1.6), rng.uniform(0.3, 1.2)])
        return kind, _split_front(rounded_box(rng, s, bevel * s.min()), front_m, rest_m)
    if kind == "appliance":
        s = np.array([1.0, rng.uniform(0.6, 1.8), rng.uniform(0.5, 1.1)])
        feet = rng.uniform(0.0, 0.08)
        parts = _split_front(_xf(rounded_box(rng, s, bevel * s.min()),
                                 offset=(0, s[1] / 2 + feet, 0)), front_m, rest_m)
        trim = random_material(rng)
        for _ in range(int(rng.integers(0, 4))):  # knobs on the front
            r = rng.uniform(0.03, 0.07)
            x = rng.uniform(-0.4, 0.4)
            y = feet + s[1] * rng.uniform(0.7, 0.95)
            parts.append((_xf(cylinder(r, 0.04), _rot("x", 90), (x, y, s[2] / 2 + 0.02)), trim))
        if feet > 0.02:
            for sx in (-1, 1):
                for sz in (-1, 1):
                    parts.append((_xf(rounded_box(rng, (0.06, feet, 0.06), 0.003),
                                      offset=(sx * 0.42, feet / 2, sz * 0.42 * s[2])), trim))
        return kind, parts
    length, height, width = 1.0, rng.uniform(0.3, 0.55), rng.uniform(0.3, 0.55)
    wheel_r = rng.uniform(0.07, 0.12)
    lift = wheel_r * rng.uniform(0.8, 1.2)
    cab = rng.uniform(0.18, 0.3)
    cab_h = height * rng.uniform(0.6, 1.0)
    parts = _split_front(_xf(rounded_box(rng, (length - cab, height, width), bevel * width),
                             offset=(-cab / 2, lift + height / 2, 0)), front_m, rest_m)
    parts += [(_xf(rounded_box(rng, (cab, cab_h, width * 0.95), 0.02 * width),
                  offset=((length - cab) / 2, lift + cab_h / 2, 0)), random_material(rng))]
    tyre = random_material(rng, texture=_png(Image.new("RGB", (4, 4),
                                                       (int(rng.integers(15, 60)),) * 3)))
    for x in (-0.33 * length, 0.33 * length):
        for z in (-1, 1):
            parts.append((_xf(cylinder(wheel_r, 0.08), _rot("x", 90),
                              (x, wheel_r, z * (width / 2 - 0.03))), tyre))
    return kind, parts


def _sample_asset(rng):
    from tools.procedural.samples import SAMPLE_ASSETS

    name = sorted(SAMPLE_ASSETS)[int(rng.integers(len(SAMPLE_ASSETS)))]
    return f"sample-{name}", SAMPLE_ASSETS[name](seed=int(rng.integers(0, 10_000)))


FAMILIES = {
    "revolved": (_revolved, 0.22),
    "primitive": (_primitive, 0.14),
    "extrusion": (_extrusion, 0.10),
    "blob": (_blob, 0.10),
    "character": (_character, 0.16),
    "furniture": (_furniture, 0.08),
    "prop": (_prop, 0.14),
    "sample": (_sample_asset, 0.06),
}
# Families outside FAMILIES: frame is in the photo look's table, product is only drawn
# on request (`random_object(..., family=...)`, make_dataset.py --family): adding it to
# a look's table would change every seed's objects.
EXTRA_FAMILIES = {"frame": _frame, "product": _product}


def _assemble(parts, rng) -> trimesh.Scene:
    """Parts → Scene, with a random global non-uniform scale; base on y = 0, x/z centred."""
    scale = rng.uniform(0.7, 1.3, size=3) if rng.random() < 0.5 else np.ones(3)
    allv = np.concatenate([p[0] for p, _ in parts]) * scale
    lo, hi = allv.min(0), allv.max(0)
    offset = np.array([-(lo[0] + hi[0]) / 2, -lo[1], -(lo[2] + hi[2]) / 2])
    size = float((hi - lo).max())
    scene = trimesh.Scene()
    for i, ((v, f, uv), material) in enumerate(parts):
        v = (v * scale + offset) / size  # longest side 1 m
        mesh = trimesh.Trimesh(vertices=v, faces=f, process=False,
                               visual=TextureVisuals(uv=uv, material=material))
        # fix winding so normals point outward (signed volume about the part's centre)
        tri = v[f] - v.mean(0)
        if np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() < 0:
            mesh.invert()
        scene.add_geometry(mesh, geom_name=f"p{i}", node_name=f"p{i}")
    return scene


# The "photo" look: creators' images (issue 20) show chairs, stools, bikes and lamps
# more often, and photographic materials (photo_material) instead of printed patterns.
FAMILIES_PHOTO = {
    "revolved": 0.18, "primitive": 0.08, "extrusion": 0.05, "blob": 0.08, "character": 0.17,
    "furniture": 0.1, "prop": 0.12, "frame": 0.16, "sample": 0.06,
}
LOOKS = ("v2", "photo")


def _rematerial(scene_or_parts, rng):
    """Swap every distinct material for a photographic one (same geometry); printed
    graphics (`_graphic_materials`) stay: they are what such a product looks like."""
    swapped: dict[int, PBRMaterial] = {}

    def swap(m):
        if m.name == "graphic":
            return m
        if id(m) not in swapped:
            swapped[id(m)] = photo_material(rng, name=f"m{len(swapped)}")
        return swapped[id(m)]

    if isinstance(scene_or_parts, trimesh.Scene):
        for geom in scene_or_parts.geometry.values():
            vis = geom.visual
            if isinstance(vis, TextureVisuals) and vis.uv is not None:
                geom.visual = TextureVisuals(uv=vis.uv, material=swap(vis.material))
        return scene_or_parts
    return [(part, swap(m)) for part, m in scene_or_parts]


def random_object(rng: np.random.Generator, look: str = "v2", family: str | None = None
                  ) -> tuple[str, trimesh.Scene]:
    """A random textured object: (family/kind, Y-up trimesh.Scene, longest side 1 m).

    look "v2": the families and printed textures v2 was trained on (and the held-out
    procedural evaluation objects are drawn from: keep it unchanged). "photo": more thin
    parts and open frames (FAMILIES_PHOTO) and photographic materials; the geometry is
    drawn first, then the materials, from the same generator. `family` (a FAMILIES or
    EXTRA_FAMILIES name) draws only that family, with the look's materials."""
    if look not in LOOKS:
        raise ValueError(f"look should be one of {LOOKS}, got {look!r}")
    builders = {**{n: b for n, (b, _) in FAMILIES.items()}, **EXTRA_FAMILIES}
    if family is not None:
        if family not in builders:
            raise ValueError(f"family should be one of {sorted(builders)}, got {family!r}")
        name = family
    else:
        table = {n: w for n, (_, w) in FAMILIES.items()} if look == "v2" else FAMILIES_PHOTO
        names = list(table)
        weights = np.array([table[n] for n in names])
        name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    builder = builders[name]
    kind, parts = builder(rng)
    if name == "sample":
        return kind, (_rematerial(parts, rng) if look == "photo" else parts)  # a Scene
    if look == "photo":
        parts = _rematerial(parts, rng)
    return f"{name}-{kind}", _assemble(parts, rng)
