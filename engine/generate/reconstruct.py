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

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass
class LayeredMesh:
    vertices: np.ndarray  # (n, 3) float64, glTF axes, crop units
    faces: np.ndarray  # (m, 3) int64, counter-clockwise seen from outside
    uv: np.ndarray  # (n, 2) float64 in [0, 1], glTF convention (v down)


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
    return LayeredMesh(vertices=vertices, faces=faces, uv=uv)


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
    return LayeredMesh(vertices=(v - centre) * scale, faces=mesh.faces, uv=mesh.uv)


def grid_for_faces(mask: np.ndarray, faces: int) -> int:
    """Grid size G so a layered mesh of `mask` resampled to G×G has about `faces` triangles.

    Front + back give 4 triangles per pixel; walls add about 4 per boundary pixel.
    """
    fraction = max(float(mask.mean()), 1e-4)
    g = int(np.sqrt(max(faces, 64) / (4.0 * fraction)))
    return int(np.clip(g, 16, 1024))


def footprint_turn(vertices: np.ndarray, min_variation: float = 0.2, step_deg: float = 0.5
                   ) -> float:
    """Turn about +y (degrees, within ±45°) that makes the footprint's bounding rectangle
    smallest, or 0 for a roundish footprint: one whose rectangle's area varies by less
    than `min_variation` over all turns (a circle: 0, a square: 1). vertices: (n, 3), y
    up."""
    from scipy.spatial import ConvexHull, QhullError

    xz = vertices[:, [0, 2]]
    try:
        xz = xz[ConvexHull(xz).vertices]
    except QhullError:  # flat or degenerate footprint
        return 0.0
    turns = np.radians(np.arange(-45.0, 45.0, step_deg))
    c, s = np.cos(turns), np.sin(turns)
    x = c[:, None] * xz[None, :, 0] + s[:, None] * xz[None, :, 1]
    z = -s[:, None] * xz[None, :, 0] + c[:, None] * xz[None, :, 1]
    area = np.ptp(x, axis=1) * np.ptp(z, axis=1)
    if area.max() < (1.0 + min_variation) * area.min():
        return 0.0
    return float(np.degrees(turns[np.argmin(area)]))


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
    return LayeredMesh(vertices=(v - centre) @ rotation.T + centre, faces=mesh.faces,
                       uv=mesh.uv)

