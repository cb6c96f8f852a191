"""STL: binary writer (metres, or millimetres for printing), the pre-allocation check,
and a numpy read-back of binary files. Units as written: metres unless `units="mm"`."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from engine.asset.model import AssetError
from engine.asset.topology import face_normals

from .common import count_token, trimesh_figures

__all__ = ["check_stl", "read_back", "scan_stl", "stl_bytes", "write"]

STL_RECORD = np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])


def binary_count(head: bytes, size: int) -> int | None:
    """The triangle count of a binary STL whose header agrees with its size, or None."""
    if size < 84:
        return None
    (count,) = struct.unpack("<I", head[80:84])
    return count if 84 + 50 * count == size else None


def check_stl(path: Path, size: int, limits) -> int:
    """Triangles in the STL (from the header, or counted), refused over the limit."""
    limit = limits.triangles
    with open(path, "rb") as handle:
        head = handle.read(84)
    count = binary_count(head, size)
    if count is not None:
        if count > limit:
            raise AssetError(
                f"{path}: binary STL with {count:,} triangles, over the limit of "
                f"{limit:,} (MAQUETTE_MAX_TRIANGLES); refused before reading"
            )
        if count == 0:
            raise AssetError(f"{path}: the STL holds no triangles")
        return count
    # ASCII: count facets in chunks
    count = count_token(path, b"endfacet", b"", limit,
                        f"ASCII STL with more than {limit:,} triangles")
    if count == 0:
        raise AssetError(f"{path}: corrupt STL: no facets found")
    return count


def stl_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """Binary STL: 80-byte header, count, then (normal, 3 corners, 0) per triangle."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    normal = face_normals(vertices, faces)
    length = np.sqrt(np.einsum("ij,ij->i", normal, normal))[:, None]
    normal = np.divide(normal, length, out=np.zeros_like(normal), where=length > 0)
    record = np.empty(len(faces), dtype=STL_RECORD)
    record["n"] = normal
    record["v"] = np.take(vertices.astype(np.float32), faces, axis=0)  # (float32: half the bytes)
    record["a"] = 0
    header = b"Maquette binary STL".ljust(80, b" ")
    return header + struct.pack("<I", len(record)) + record.tobytes()


def write(mesh, out: Path, options) -> dict[Path, bytes]:
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    if options.units == "mm":  # (not mesh.copy(): that also copies and decodes the texture)
        vertices = vertices * 1000.0
    return {out: stl_bytes(vertices, mesh.faces)}


def scan_stl(path: Path) -> dict | None:
    """Figures of a binary STL read with numpy (the 50-byte records viewed in place:
    count from the header, checked against the file size, bounds of every corner), or
    None for an ASCII STL. The file passes the loader's checks first (size limit)."""
    from engine.asset.io import check_file, sniff_format

    path = Path(path)
    if sniff_format(path) != "stl":
        raise AssetError(f"{path}: not an STL file")
    count = check_file(path, "stl")
    data = path.read_bytes()
    if binary_count(data[:84], len(data)) != count:
        return None  # ASCII: the general loader reads it
    corners = np.frombuffer(data, dtype=STL_RECORD, count=count, offset=84)["v"]
    lo, hi = corners.min(axis=(0, 1)), corners.max(axis=(0, 1))
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise AssetError(f"{path}: vertex positions contain NaN or infinity")
    return {"triangles": int(count), "bounds": np.array([lo, hi], dtype=np.float64),
            "textured": False, "reader": "numpy STL"}


def read_back(path: Path) -> dict:
    return scan_stl(path) or trimesh_figures(path)
