"""A lighter copy of the asset's triangles for the live viewer's moving frames.

On a CPU renderer (llvmpipe) a heavy mesh costs per triangle, twice per frame (the
key light's shadow pass and the view), whatever the render scale: a 100k-triangle
asset stays slow at the smallest scale. While the camera moves, each heavy Geom is
swapped in place for a simplified one (meshoptimizer on its own index buffer, so it
shares the Geom's vertex data: positions, normals, UVs and colours stay as they are,
UV seams and borders are kept); the refine frame swaps the full Geoms back, so the
still picture is exactly the full asset's. Same GeomNodes, same render states and
transforms: the shadow pass, the asset layer and node animation see the swap too.
Skinned and morphed Geoms (vertex data animated by a Character) are left alone.

Units: triangle counts; `target_error` is meshoptimizer's, relative to the Geom's
extent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The moving frames' triangle budget for the whole asset (a 100k sphere drew at 10.7 fps
# at 1280x720 on the 2-core CPU machine at the smallest render scale; 25k at ~2x that).
PROXY_TRIANGLES = 20_000
# Geoms below this many triangles are kept as they are (not worth a swap).
MIN_GEOM_TRIANGLES = 2_000
# Largest allowed geometric deviation of the simplified surface, relative to the Geom's
# extent: 1 % keeps silhouettes; where it stops short of the budget, so be it.
TARGET_ERROR = 0.01


@dataclass
class MovingProxy:
    """Full and simplified Geoms of an asset's GeomNodes, swapped by `use(coarse)`."""

    slots: list = field(default_factory=list)  # (GeomNode, index, full Geom, proxy Geom)
    full_triangles: int = 0
    proxy_triangles: int = 0
    coarse: bool = False

    def use(self, coarse: bool) -> None:
        """Draw the simplified Geoms (coarse) or the full ones."""
        if coarse == self.coarse:
            return
        for node, i, full, proxy in self.slots:
            node.set_geom(i, proxy if coarse else full)
        self.coarse = coarse


def simplify_indices(positions: np.ndarray, indices: np.ndarray, target: int,
                     target_error: float = TARGET_ERROR) -> np.ndarray:
    """(N, 3) float32 positions, (M,) triangle-list indices → a shorter index list of
    about `target` triangles over the same vertices (meshoptimizer's edge collapses;
    vertices that only look alike, such as the two sides of a UV seam, stay apart)."""
    import meshoptimizer

    indices = np.ascontiguousarray(indices, dtype=np.uint32)
    positions = np.ascontiguousarray(positions, dtype=np.float32)
    destination = np.zeros(indices.size, dtype=np.uint32)
    count = meshoptimizer.simplify(destination, indices, positions,
                                   target_index_count=3 * int(target),
                                   target_error=float(target_error))
    return destination[:count]


def build_moving_proxy(root, budget: int = PROXY_TRIANGLES) -> MovingProxy | None:
    """The proxy of every static Geom under `root` (a NodePath) when the asset has more
    than 1.5 × `budget` triangles; None when it is light enough to draw as it is or
    nothing could be simplified. Each Geom gets its share of the budget."""
    geoms = []
    for np_ in root.find_all_matches("**/+GeomNode"):
        node = np_.node()
        for i in range(node.get_num_geoms()):
            arrays = _triangles(node.get_geom(i))
            if arrays is not None:
                geoms.append((node, i, *arrays))
    total = sum(len(idx) // 3 for *_, idx in geoms)
    if total <= 1.5 * budget:
        return None
    proxy = MovingProxy(full_triangles=total)
    for node, i, positions, indices in geoms:
        count = len(indices) // 3
        if count < MIN_GEOM_TRIANGLES:
            proxy.proxy_triangles += count
            continue
        share = max(MIN_GEOM_TRIANGLES // 2, int(budget * count / total))
        smaller = simplify_indices(positions, indices, share)
        if len(smaller) == 0 or len(smaller) >= 0.9 * len(indices):
            proxy.proxy_triangles += count
            continue
        full = node.get_geom(i).make_copy()  # (a non-const handle, same arrays)
        node.set_geom(i, full)
        proxy.slots.append((node, i, full, _with_triangles(full, smaller)))
        proxy.proxy_triangles += len(smaller) // 3
    return proxy if proxy.slots else None


def _triangles(geom) -> tuple[np.ndarray, np.ndarray] | None:
    """(positions (N, 3) float32, triangle-list indices) of a static Geom made of
    triangles, or None (animated vertex data, other primitives, positions that are not
    three float32s)."""
    from panda3d.core import Geom, GeomPrimitive, InternalName

    vdata = geom.get_vertex_data()
    if vdata.get_transform_blend_table() is not None or vdata.get_slider_table() is not None:
        return None
    fmt = vdata.get_format()
    column = fmt.get_column(InternalName.get_vertex())
    if column is None or column.get_numeric_type() != Geom.NT_float32 \
            or column.get_num_components() < 3:
        return None
    array = fmt.get_array_with(InternalName.get_vertex())
    stride = fmt.get_array(array).get_stride()
    raw = np.frombuffer(memoryview(vdata.get_array(array)), dtype=np.uint8)
    rows = raw.reshape(-1, stride)[:, column.get_start():column.get_start() + 12]
    positions = np.ascontiguousarray(rows).view(np.float32).reshape(-1, 3)
    parts = []
    for k in range(geom.get_num_primitives()):
        prim = geom.get_primitive(k)
        if prim.get_primitive_type() != GeomPrimitive.PT_polygons:
            return None
        prim = prim.decompose()  # strips and fans → triangles
        if not prim.is_indexed():
            prim = prim.make_copy()
            prim.make_indexed()
        dtype = {Geom.NT_uint8: np.uint8, Geom.NT_uint16: np.uint16,
                 Geom.NT_uint32: np.uint32}[prim.get_index_type()]
        parts.append(np.frombuffer(memoryview(prim.get_vertices()), dtype=dtype))
    if not parts:
        return None
    return positions, _welded(vdata, np.concatenate(parts).astype(np.uint32))


def _welded(vdata, indices: np.ndarray) -> np.ndarray:
    """`indices` with each vertex replaced by the first one whose every attribute (all
    arrays' bytes) is the same: a triangle soup (glTF without indices) shares its
    corners, so edges can collapse; UV and normal seams stay apart."""
    rows = []
    for a in range(vdata.get_num_arrays()):
        stride = vdata.get_format().get_array(a).get_stride()
        rows.append(np.frombuffer(memoryview(vdata.get_array(a)), np.uint8).reshape(-1, stride))
    key = np.ascontiguousarray(np.concatenate(rows, axis=1))
    key = key.view(np.dtype((np.void, key.shape[1]))).ravel()
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first[inverse.ravel()].astype(np.uint32)[indices]


def _with_triangles(geom, indices: np.ndarray):
    """A copy of `geom` (sharing its vertex data) drawing `indices` as triangles."""
    from panda3d.core import Geom, GeomTriangles

    tris = GeomTriangles(Geom.UH_static)
    tris.set_index_type(Geom.NT_uint32)
    handle = tris.modify_vertices()
    handle.unclean_set_num_rows(len(indices))
    memoryview(handle).cast("B")[:] = np.ascontiguousarray(indices, np.uint32).tobytes()
    copy = geom.make_copy()
    copy.clear_primitives()
    copy.add_primitive(tris)
    return copy
