"""Layered depth → closed, textured triangle mesh.

The pixel grid inside the silhouette becomes two height fields, front and back,
joined by side walls along every boundary edge; diagonal pinches are removed
first, so the result, welded by position, is a closed 2-manifold (watertight)
with outward winding. Texture atlas: the left half of the texture is the front
view (the input image), the right half the predicted back colour; each wall is
split along its middle (a UV seam) so its front half runs into the front's colour
and its back half into the back's.

Coordinates follow docs/GENERATOR_INTERFACE.md (crop units, +z away from the
viewer); `to_asset_space` turns them into glTF's Y-up with the viewer on +Z.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from engine.asset.topology import vertex_normals


@dataclass
class LayeredMesh:
    vertices: np.ndarray  # (n, 3) float64, glTF axes, crop units
    faces: np.ndarray  # (m, 3) int64, counter-clockwise seen from outside
    uv: np.ndarray  # (n, 2) float64 in [0, 1], glTF convention (v down)
    front_faces: int = 0  # faces[:front_faces] are the front surface, the side the image shows
    seen: np.ndarray | None = None  # (n,) float in [0, 1]: how well the image saw each vertex


def seen_marks(vertices: np.ndarray, faces: np.ndarray, front_faces: int, front: int,
               ring: np.ndarray) -> np.ndarray:
    """(n,) float in [0, 1], per vertex of a layered mesh in the camera's frame (crop
    units, +z towards the orthographic camera), how well the input image saw it
    (docs/GENERATOR_INTERFACE.md, "Seen marks"): the first `front` vertices (the front
    height field, each visible by construction) get the facing term n·(0, 0, 1) of
    their area-weighted normal over the front faces, clamped to [0, 1]; the next
    `front` (the back) 0; the wall's middle rings (2 × len(ring), halfway from the
    front ring to the back) half their front ring vertex's mark."""
    normals = vertex_normals(vertices[:front], faces[:front_faces])
    facing = np.clip(normals[:, 2], 0.0, 1.0)
    middle = 0.5 * facing[ring]
    return np.concatenate([facing, np.zeros(front), middle, middle])


def clean_mask(mask: np.ndarray, min_fraction: float = 0.002) -> np.ndarray:
    """(S, S) bool: drop tiny specks and remove diagonal pinches (non-manifold corners)."""
    labels, count = ndimage.label(mask)
    if count > 1:
        sizes = ndimage.sum(mask, labels, range(1, count + 1))
        keep = np.isin(labels, 1 + np.nonzero(sizes >= max(sizes.max() * 0.05,
                                                            min_fraction * mask.size))[0])
        mask = keep
    mask = mask.copy()
    for _ in range(64):
        a, b = mask[:-1, :-1], mask[:-1, 1:]
        c, d = mask[1:, :-1], mask[1:, 1:]
        pinch1 = a & d & ~b & ~c
        pinch2 = b & c & ~a & ~d
        if not (pinch1.any() or pinch2.any()):
            break
        rows, cols = np.nonzero(pinch1 | pinch2)
        mask[rows, cols + 1] = True  # fill one of the empty pair: joins the diagonal
        mask[rows, cols] |= pinch2[rows, cols]
    return mask


def _smooth_inside(values: np.ndarray, inside: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing that only averages pixels inside the mask (normalised)."""
    if sigma <= 0:
        return values
    weight = ndimage.gaussian_filter(inside.astype(np.float64), sigma)
    blurred = ndimage.gaussian_filter(np.where(inside, values, 0.0), sigma)
    return np.where(weight > 1e-6, blurred / np.maximum(weight, 1e-6), 0.0)


def _corner_values(values: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """(S+1, S+1): each pixel corner gets the mean of its in-mask neighbour pixels."""
    s = values.shape[0]
    padded = np.zeros((s + 2, s + 2))
    weight = np.zeros((s + 2, s + 2))
    padded[1:-1, 1:-1] = np.where(inside, values, 0.0)
    weight[1:-1, 1:-1] = inside
    total = padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:]
    count = weight[:-1, :-1] + weight[1:, :-1] + weight[:-1, 1:] + weight[1:, 1:]
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _smooth_outline(col: np.ndarray, row: np.ndarray, a: np.ndarray, b: np.ndarray,
                    ring: np.ndarray, rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-corner coordinates (n,) with the silhouette corners `ring` moved towards
    their neighbours along the outline edges a→b (Laplacian smoothing, `rounds` passes
    of weight 1/2): a pixel staircase becomes a slope; corners move a fraction of a
    pixel."""
    from scipy.sparse import coo_matrix

    n = len(col)
    ones = np.ones(len(a))
    adjacency = coo_matrix((np.r_[ones, ones], (np.r_[a, b], np.r_[b, a])), shape=(n, n)
                           ).tocsr()
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    col, row = col.copy(), row.copy()
    for _ in range(rounds):
        mean_col = adjacency @ col / np.maximum(degree, 1)
        mean_row = adjacency @ row / np.maximum(degree, 1)
        col[ring] = 0.5 * (col[ring] + mean_col[ring])
        row[ring] = 0.5 * (row[ring] + mean_row[ring])
    return col, row


WALL_INSET_PX = 2  # grid pixels inside the silhouette where the side walls take colour


def _inset_uv(inside: np.ndarray, rows: np.ndarray, cols: np.ndarray,
              depth: int = WALL_INSET_PX) -> np.ndarray:
    """(k, 2) image-space (u, v) in [0, 1] of a point `depth` pixels inside the mask
    from each pixel corner (rows, cols), reached by walking up the smoothed distance
    field; a part too thin for that stops on its own middle (an antenna keeps its own
    colour, not the body's). The walk moves continuously with the corner, so the side
    walls' colours run smoothly along the outline (a nearest-pixel inset jumped from
    pixel to pixel and striped the walls)."""
    s = inside.shape[0]
    inner = ndimage.distance_transform_edt(inside)
    signed = inner - ndimage.distance_transform_edt(~inside)
    smooth = ndimage.gaussian_filter(signed, 1.0)
    grad_r, grad_c = np.gradient(smooth)
    # Pixel centres are at integers here; corner (r, c) of the mesh is at (r - ½, c - ½).
    pos = np.stack([rows - 0.5, cols - 0.5]).astype(np.float64)
    level = ndimage.map_coordinates(smooth, pos, order=1, mode="nearest")
    moving = np.ones(pos.shape[1], bool)
    step = 0.25
    for _ in range(int((depth + 1.5) / step)):
        g = np.stack([ndimage.map_coordinates(grad_r, pos, order=1, mode="nearest"),
                      ndimage.map_coordinates(grad_c, pos, order=1, mode="nearest")])
        g /= np.maximum(np.linalg.norm(g, axis=0), 1e-9)
        new = pos + step * g
        new_level = ndimage.map_coordinates(smooth, new, order=1, mode="nearest")
        reached = ndimage.map_coordinates(inner, np.round(pos), order=0, mode="nearest")
        moving &= (new_level > level) & (reached < depth + 1)  # not past a ridge, not there
        pos = np.where(moving, new, pos)
        level = np.where(moving, new_level, level)
        if not moving.any():
            break
    pos = np.clip(pos, 0, s - 1)
    return np.stack([(pos[1] + 0.5) / s, (pos[0] + 0.5) / s], axis=1)


def _atlas_uv(image_uv: np.ndarray, back: bool) -> np.ndarray:
    """(k, 2) image-space (u, v) in [0, 1] → atlas UVs: the front in the left half, the
    back (seen from behind, so mirrored) in the right half."""
    u, v = image_uv[:, 0], image_uv[:, 1]
    return np.stack([0.5 + 0.5 * (1 - u) if back else 0.5 * u, v], 1)


def layered_mesh(mask: np.ndarray, front: np.ndarray, back: np.ndarray,
                 min_thickness: float = 0.004, smooth_sigma: float = 0.8) -> LayeredMesh:
    """Build the closed mesh from (S, S) mask (bool) and depth maps (crop units, +z away)."""
    inside = clean_mask(mask.astype(bool))
    if not inside.any():
        raise ValueError("the silhouette is empty: nothing to reconstruct")
    s = inside.shape[0]
    front = _smooth_inside(front.astype(np.float64), inside, smooth_sigma)
    back = _smooth_inside(back.astype(np.float64), inside, smooth_sigma)
    back = np.maximum(back, front + min_thickness)
    front_c = _corner_values(front, inside)
    back_c = _corner_values(back, inside)

    used = np.zeros((s + 1, s + 1), bool)
    r, c = np.nonzero(inside)
    for dr in (0, 1):
        for dc in (0, 1):
            used[r + dr, c + dc] = True
    index = -np.ones((s + 1, s + 1), np.int64)
    cr, cc = np.nonzero(used)
    n = len(cr)
    index[cr, cc] = np.arange(n)
    tl, tr = index[r, c], index[r, c + 1]
    bl, br = index[r + 1, c], index[r + 1, c + 1]
    # Front faces look towards +z: counter-clockwise in (x, y) seen from +z.
    front_f = np.concatenate([np.stack([tl, bl, br], 1), np.stack([tl, br, tr], 1)])
    back_f = front_f[:, ::-1] + n

    edges = []
    for dr, dc, a_off, b_off in ((-1, 0, (0, 0), (0, 1)), (1, 0, (1, 1), (1, 0)),
                                 (0, -1, (1, 0), (0, 0)), (0, 1, (0, 1), (1, 1))):
        rr, cc2 = r + dr, c + dc
        outside = ~inside[np.clip(rr, 0, s - 1), np.clip(cc2, 0, s - 1)] | (rr < 0) | (
            rr >= s) | (cc2 < 0) | (cc2 >= s)
        pr, pc = r[outside], c[outside]
        # Edge a→b runs clockwise around the pixel seen from the front (the opposite of
        # the front faces' winding), so the wall's normal points away from the pixel.
        edges.append(np.stack([index[pr + a_off[0], pc + a_off[1]],
                               index[pr + b_off[0], pc + b_off[1]]], 1))
    a, b = np.concatenate(edges).T
    ring = np.unique(np.concatenate([a, b]))  # corners on the silhouette

    # The silhouette follows pixel edges; smooth its corners along the outline (the
    # inner corners stay) so the walls do not show the pixel staircase.
    col, row = _smooth_outline(cc.astype(np.float64), cr.astype(np.float64), a, b, ring)
    x, y = col / s - 0.5, 0.5 - row / s
    # glTF axes: x right, y up, +z towards the viewer (depth +z away → -z).
    front_v = np.stack([x, y, -front_c[cr, cc]], axis=1)
    back_v = np.stack([x, y, -back_c[cr, cc]], axis=1)
    image_uv = np.stack([col / s, row / s], 1)

    # Walls: front ring → middle → back ring. The middle ring is there twice, at the
    # same positions (a UV seam; welded by position the mesh is closed): the half
    # nearer the viewer runs into the front's colour, the other into the back's, both
    # sampled a little inside the silhouette (the subject's colour, not the matte's
    # fringe), so no wall samples the atlas between its two halves.
    k = len(ring)
    slot = np.full(n, -1, np.int64)
    slot[ring] = np.arange(k)
    inset = _inset_uv(inside, row[ring], col[ring])
    mid_v = 0.5 * (front_v[ring] + back_v[ring])
    fa, fb = 2 * n + slot[a], 2 * n + slot[b]  # middle ring, front colours
    ba, bb = fa + k, fb + k  # middle ring, back colours
    walls = [np.stack([a, b, fb], 1), np.stack([a, fb, fa], 1),
             np.stack([ba, bb, b + n], 1), np.stack([ba, b + n, a + n], 1)]
    vertices = np.concatenate([front_v, back_v, mid_v, mid_v])
    uv = np.concatenate([_atlas_uv(image_uv, back=False), _atlas_uv(image_uv, back=True),
                         _atlas_uv(inset, back=False), _atlas_uv(inset, back=True)])
    faces = np.concatenate([front_f, back_f, *walls])
    return LayeredMesh(vertices=vertices, faces=faces, uv=uv, front_faces=len(front_f),
                       seen=seen_marks(vertices, faces, len(front_f), n, ring))


@dataclass(frozen=True)
class CropLens:
    """A perspective camera in the crop's units (docs/GENERATOR_INTERFACE.md, "Camera
    model"): `k` is the crop side over the eye's distance to the plane z = 0 (the eye
    stands 1/k in front of it; 0: orthographic), and the optical axis meets that plane
    at (axis_x, axis_y) (crop units, x right, y up, 0 at the crop's centre)."""

    k: float = 0.0
    axis_x: float = 0.0
    axis_y: float = 0.0


def crop_lens(fov_deg: float, image_size: tuple[int, int], crop_box: tuple) -> CropLens:
    """The lens of a square crop `crop_box` (x0, y0, side, side in source pixels) of an
    image `image_size` (W, H) pixels whose longer side spans `fov_deg` degrees, the
    optical axis through the image's centre; fov 0 is orthographic."""
    if fov_deg <= 0:
        return CropLens()
    w, h = image_size
    x0, y0, side, _ = crop_box
    focal = 0.5 * max(w, h) / np.tan(np.radians(fov_deg) / 2)  # pixels
    return CropLens(k=float(side / focal), axis_x=float((w / 2 - (x0 + side / 2)) / side),
                    axis_y=float(((y0 + side / 2) - h / 2) / side))


MIN_RAY_SCALE = 0.1  # a point is never placed closer to the eye than this share of the plane


def along_rays(mesh: LayeredMesh, lens: CropLens) -> LayeredMesh:
    """Place every vertex of a layered mesh in the camera's frame (glTF axes, +z
    towards the viewer) on its pixel's ray through `lens`: a point at depth z (along the
    axis) lies at lateral position axis + (1 - k z) (p - axis), its pixel's position p
    on the plane z = 0. Orthographic lenses change nothing; faces and UVs stay."""
    if lens.k <= 0:
        return mesh
    v = mesh.vertices
    scale = np.maximum(1.0 - lens.k * v[:, 2], MIN_RAY_SCALE)
    axis = np.array([lens.axis_x, lens.axis_y])
    placed = v.copy()
    placed[:, :2] = axis + scale[:, None] * (v[:, :2] - axis)
    return replace(mesh, vertices=placed)


def stand_upright(mesh: LayeredMesh, elevation_deg: float) -> LayeredMesh:
    """Undo the view's tilt: a camera `elevation_deg` above the horizon sees the world's
    up as (0, cos e, sin e) in its frame (x right, y up, +z towards it); rotate about
    the x axis through the box centre so that direction becomes +y."""
    t = np.radians(elevation_deg)
    c, s = np.cos(t), np.sin(t)
    return _rotate_about_centre(mesh, np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]]))


def to_asset_space(mesh: LayeredMesh, height: float) -> LayeredMesh:
    """Scale crop units to metres so the asset is `height` tall, pivot at the base centre."""
    v = mesh.vertices
    lo, hi = v.min(axis=0), v.max(axis=0)
    scale = height / max(hi[1] - lo[1], 1e-9)
    centre = np.array([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2])
    return replace(mesh, vertices=(v - centre) * scale)


def grid_for_faces(mask: np.ndarray, faces: int) -> int:
    """Grid size G so a layered mesh of `mask` resampled to G×G has about `faces` triangles.

    Front + back give 4 triangles per pixel; walls add about 4 per boundary pixel.
    """
    fraction = max(float(mask.mean()), 1e-4)
    g = int(np.sqrt(max(faces, 64) / (4.0 * fraction)))
    return int(np.clip(g, 16, 1024))


#: Squaring (`squaring_turn`) turns an upright mesh only when its footprint's smallest
#: bounding rectangle is at least this much smaller than its largest over all turns
#: (largest / smallest - 1: a circle 0, a square 1) ...
MIN_AREA_VARIATION = 0.2
#: ... the visible front's faces are square to one frame (`visible_faces_turn`: a box's
#: two visible faces about 0.35-0.8; a cylinder's, a lantern's, a pot's, a lamp post's
#: fanning normals 0.05-0.29 as the shipped model builds them) ...
MIN_VISIBLE_CONCENTRATION = 0.3
#: ... that frame agrees with the footprint's rectangle within this many degrees ...
MAX_DISAGREEMENT_DEG = 12.0
#: ... and the turn is at most this many degrees, so the side the camera saw stays in
#: front (near 45° the two faces a camera sees are equally the front).
MAX_TURN_DEG = 40.0


@dataclass
class Footprint:
    """The footprint (outline seen from above) of an upright mesh, on its convex hull.

    turn_deg: the turn about +y (degrees, within ±45°, positive: x towards -z) that makes
        its bounding rectangle smallest; rectangularity: hull area / that rectangle's area
        (a rectangle 1, a circle 0.79: on generated meshes, whose inferred backs bulge, a
        box scores 0.80-0.91 and a cylinder 0.80-0.84, so it is reported, not used);
    aspect: the rectangle's shorter side / longer side; variation: largest rectangle
        over all turns / smallest - 1.
    """

    turn_deg: float
    rectangularity: float
    aspect: float
    variation: float


def footprint(vertices: np.ndarray, step_deg: float = 0.5) -> Footprint | None:
    """Measure the footprint of (n, 3) vertices (y up) on its convex hull; None when it
    is flat or degenerate."""
    from scipy.spatial import ConvexHull, QhullError

    xz = vertices[:, [0, 2]]
    try:
        hull = ConvexHull(xz)
    except QhullError:  # flat or degenerate footprint
        return None
    xz = xz[hull.vertices]
    turns = np.radians(np.arange(-45.0, 45.0, step_deg))
    c, s = np.cos(turns), np.sin(turns)
    x = c[:, None] * xz[None, :, 0] + s[:, None] * xz[None, :, 1]
    z = -s[:, None] * xz[None, :, 0] + c[:, None] * xz[None, :, 1]
    width, depth = np.ptp(x, axis=1), np.ptp(z, axis=1)
    area = width * depth
    best = int(np.argmin(area))
    if area[best] <= 0:
        return None
    return Footprint(turn_deg=float(np.degrees(turns[best])),
                     rectangularity=float(hull.volume / area[best]),
                     aspect=float(min(width[best], depth[best]) / max(width[best], depth[best])),
                     variation=float(area.max() / area[best] - 1.0))


def visible_faces_turn(mesh: LayeredMesh) -> tuple[float, float]:
    """(turn, concentration) from the front surface alone (what the image showed, not the
    inferred back): the horizontal directions φ of its faces' normals, weighted by area
    times their horizontal part, averaged as e^{4iφ} (so directions a quarter turn apart
    agree: the two visible faces of a box). turn (degrees, within ±45°) squares the
    dominant direction to the axes; concentration is 1 for faces all square to one frame
    (a box), about 0 for a round front (a cylinder's normals fan out evenly)."""
    if mesh.front_faces <= 0:
        return 0.0, 0.0
    tri = mesh.vertices[mesh.faces[:mesh.front_faces]]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length: 2 × area
    weight = np.hypot(normal[:, 0], normal[:, 2])
    total = float(weight.sum())
    if total <= 0:
        return 0.0, 0.0
    phi = np.arctan2(normal[:, 0], normal[:, 2])  # from +z towards +x
    mean = complex(np.sum(weight * np.exp(4j * phi))) / total
    # a normal at φ turned by t (x towards -z) points at φ + t: square when φ + t ≡ 0
    return float(-np.degrees(np.angle(mean)) / 4.0), float(abs(mean))


def footprint_turn(vertices: np.ndarray) -> float:
    """Turn about +y (degrees, within ±45°) that makes the footprint's bounding rectangle
    smallest, or 0 for a roundish footprint (variation under MIN_AREA_VARIATION), judged
    on the hull alone. vertices: (n, 3), y up."""
    shape = footprint(vertices)
    return 0.0 if shape is None or shape.variation < MIN_AREA_VARIATION else shape.turn_deg


@dataclass
class Squaring:
    """Why `squaring_turn` turned an upright layered mesh or not (degrees)."""

    turned_deg: float
    hull_turn_deg: float
    variation: float
    rectangularity: float
    visible_turn_deg: float
    concentration: float
    reason: str  # "squared" or what stopped it


def squaring_turn(mesh: LayeredMesh) -> Squaring:
    """The turn about +y that squares a clearly rectangular upright mesh to the axes, or
    0: the hull's smallest rectangle (`footprint`) must be clearly smaller than its
    largest, the visible front's faces must be square to one frame that agrees with it
    (`visible_faces_turn`: only the front is what the image showed; a round object's
    inferred back can make its hull a rhombus whose rectangle lies at 35-45°), and the
    turn must stay within MAX_TURN_DEG."""
    shape = footprint(mesh.vertices)
    seen_turn, concentration = visible_faces_turn(mesh)
    if shape is None:
        return Squaring(0.0, 0.0, 0.0, 0.0, seen_turn, concentration, "flat footprint")
    disagreement = abs((shape.turn_deg - seen_turn + 45.0) % 90.0 - 45.0)
    if shape.variation < MIN_AREA_VARIATION:
        reason = "round footprint"
    elif concentration < MIN_VISIBLE_CONCENTRATION:
        reason = "round front"
    elif disagreement > MAX_DISAGREEMENT_DEG:
        reason = "front and footprint disagree"
    elif abs(shape.turn_deg) > MAX_TURN_DEG:
        reason = "turn too large"
    else:
        reason = "squared"
    return Squaring(shape.turn_deg if reason == "squared" else 0.0, shape.turn_deg,
                    shape.variation, shape.rectangularity, seen_turn, concentration, reason)


def turn_about_vertical(mesh: LayeredMesh, degrees: float) -> LayeredMesh:
    """Rotate about +y through the box centre (positive: x towards -z, as footprint_turn)."""
    if degrees == 0.0:
        return mesh
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    return _rotate_about_centre(mesh, np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]))


def _rotate_about_centre(mesh: LayeredMesh, rotation: np.ndarray) -> LayeredMesh:
    """Apply the (3, 3) rotation about the centre of the mesh's bounding box."""
    v = mesh.vertices
    centre = 0.5 * (v.min(axis=0) + v.max(axis=0))
    return replace(mesh, vertices=(v - centre) @ rotation.T + centre)

