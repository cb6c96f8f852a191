"""What several format modules share: a mesh's normals, base colour and texture PNG,
and a bounded token count over a file (for the pre-allocation checks)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from engine.asset.model import AssetError
from engine.asset.topology import smooth_vertex_normals

__all__ = ["base_color", "carried", "count_token", "mesh_normals", "png_bytes"]


def png_bytes(image) -> bytes:
    """A PIL image as PNG bytes (RGB, or RGBA when it has alpha), fast compression."""
    buf = io.BytesIO()
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB"
    image.convert(mode).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def base_color(mesh) -> tuple[float, float, float]:
    """The mesh's base colour as stored: material factor (white for a PBR material
    without one, as glTF reads it: a texture was drawn darkened by 0.8 in OBJ/FBX), else
    the mean vertex colour, else 0.8 grey; (3,) floats in [0, 1]."""
    material = getattr(mesh.visual, "material", None)
    if material is not None:
        factor = getattr(material, "baseColorFactor", None)
        if factor is None and hasattr(material, "baseColorFactor"):
            return (1.0, 1.0, 1.0)  # a PBR material without a factor: glTF's white
        if factor is None:
            factor = getattr(material, "diffuse", None)
        if factor is not None:
            f = np.asarray(factor, dtype=float)[:3]
            return tuple(f / 255.0 if f.max() > 1.0 else f)
    if getattr(mesh.visual, "kind", None) in ("vertex", "face"):
        colors = np.asarray(mesh.visual.vertex_colors, dtype=float)[:, :3].mean(axis=0)
        return tuple(colors / 255.0)
    return (0.8, 0.8, 0.8)


def mesh_normals(mesh) -> np.ndarray:
    """(n, 3) vertex normals: the mesh's own if it carries them, else computed (fast,
    smooth across UV seams, hard edges kept)."""
    cached = mesh._cache.cache.get("vertex_normals")
    if cached is not None and len(cached) == len(mesh.vertices):
        return np.asarray(cached, dtype=np.float64)
    normals = smooth_vertex_normals(np.asarray(mesh.vertices, dtype=np.float64),
                                    np.asarray(mesh.faces, dtype=np.int64))
    mesh._cache["vertex_normals"] = normals
    return normals


def joined_pieces(pieces) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """(vertices, faces, uv or None, normals) of several trimesh meshes in one vertex
    array, each piece's faces offset by the vertices before it; a piece without UVs gets
    (0, 0) when another has them. Each piece's faces stay together, in order."""
    from engine.asset.model import mesh_uv

    uvs = [mesh_uv(p) for p in pieces]
    vertices = np.vstack([np.asarray(p.vertices, np.float64) for p in pieces])
    offsets = np.cumsum([0] + [len(p.vertices) for p in pieces])
    faces = np.vstack([np.asarray(p.faces, np.int64) + o
                       for p, o in zip(pieces, offsets, strict=False)])
    uv = None if all(u is None for u in uvs) else np.vstack([
        u if u is not None else np.zeros((len(p.vertices), 2))
        for p, u in zip(pieces, uvs, strict=True)])
    return vertices, faces, uv, np.vstack([mesh_normals(p) for p in pieces])


def count_token(path: Path, token: bytes, start: bytes, limit: int, what: str) -> int:
    """Count `token` in the file in 4 MiB chunks (overlapping by len(token) - 1 bytes,
    `start` prepended to the first), refusing as soon as the count passes `limit`."""
    count = 0
    keep = len(token) - 1
    with open(path, "rb") as handle:
        tail = start
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            data = tail + chunk
            count += data.count(token)
            tail = data[-keep:] if keep else b""
            if count > limit:
                raise AssetError(f"{path}: {what} (MAQUETTE_MAX_TRIANGLES); refused")
    return count


def trimesh_figures(path: Path) -> dict:
    """Read-back figures of a file loaded (and checked) by :func:`engine.asset.io.load_asset`
    through trimesh, a reader that is not our writer."""
    from engine.asset.io import load_asset

    asset = load_asset(path)
    return {"triangles": asset.triangles, "bounds": asset.bounds,
            "textured": bool(asset.texture is not None and asset.has_uv),
            "reader": "trimesh", **carried(asset.mesh)}


def carried(mesh) -> dict:
    """Which per-vertex data a loaded mesh carries from its file: its own normals (in
    trimesh's cache when the file had them), UVs, vertex colours."""
    from engine.asset.model import mesh_uv

    normals = mesh._cache.cache.get("vertex_normals")
    return {"normals": normals is not None and len(normals) == len(mesh.vertices),
            "uv": mesh_uv(mesh) is not None,
            "colors": getattr(mesh.visual, "kind", None) == "vertex"}
