"""Read an asset file safely: sniff what it is, check it, then load it with trimesh.

Every check runs on the file's headers and JSON *before* any mesh data is allocated
(:func:`check_file`, the one asset check: see :mod:`engine.asset.check`):

* the format comes from the content (magic bytes), not the extension;
* glTF/GLB: Draco, meshopt, quantized and sparse data, strips and fans are first
  rewritten as a plain GLB (:mod:`engine.asset.formats.gltf_decode`), and the checks
  run on that; URIs must
  stay inside the asset's folder (``../``, absolute paths and remote URLs are
  refused), every accessor must fit in its buffer view, every view in its buffer,
  every buffer in the bytes that really exist, the nodes must form trees;
  positions (placed by their nodes) must be finite, in range and have an area;
* PLY/STL/OBJ: declared element counts must fit in the file's size;
* every texture's width × height, from its header, is within
  :func:`engine.asset.model.max_texture_pixels`;
* more than :func:`engine.asset.model.max_triangles` triangles are refused.

After loading, :func:`engine.asset.check.check_geometry` checks the mesh itself.
Errors are :class:`AssetError` whose message names the file and the field
(``buffers[0].uri``, ``accessors[3].count``, ``images[0]``...).
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import tempfile
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from engine.asset.check import check_geometry
from engine.asset.formats import FORMATS, READ_FORMATS
from engine.asset.formats.gltf_decode import decoded_glb, plain_glb
from engine.asset.formats.stl import binary_count
from engine.asset.model import Asset, AssetError, Limits

__all__ = ["SUPPORTED", "check_file", "check_scene", "load_asset", "load_scene",
           "sniff_format"]

SUPPORTED = READ_FORMATS
_OTHER_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PK\x03\x04": "a ZIP archive (a USDZ or other package)",
    b"%PDF": "a PDF document",
    b"Kaydara FBX": "an FBX file (export only; import GLB/glTF/OBJ/PLY/STL)",
    b"PXR-USDC": "a USD file (export only)",
}


# ----------------------------------------------------------------------------------
# Sniffing and checking
# ----------------------------------------------------------------------------------


def _head(path: Path) -> tuple[int, bytes]:
    """(size, first KiB) of a regular file, or an AssetError saying why not."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):  # (opening a FIFO would wait for a writer)
            raise AssetError(f"{path}: not a regular file (a pipe, socket or device); "
                             f"refused")
        with open(path, "rb") as handle:
            return info.st_size, handle.read(1024)
    except FileNotFoundError:
        raise AssetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AssetError(f"{path}: is a folder, not an asset file") from None
    except OSError as exc:
        raise AssetError(f"{path}: cannot read: {exc.strerror or exc}") from None


def sniff_format(path: Path) -> str:
    """What the file's content is: one of :data:`SUPPORTED`; raises AssetError."""
    path = Path(path)
    size, head = _head(path)
    if size == 0:
        raise AssetError(f"{path}: the file is empty")
    if head.startswith(b"glTF"):
        return "glb"
    if head[:4] == b"ply\n" or head[:5] == b"ply\r\n":
        return "ply"
    for magic, what in _OTHER_MAGIC.items():
        if head.startswith(magic):
            raise AssetError(f"{path}: not a 3D asset this tool reads: it is {what}")
    if binary_count(head, size) is not None:
        return "stl"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "gltf"
    if text.lower().startswith(b"solid"):
        return "stl"
    sample = head.decode("utf-8", errors="ignore")
    if "\x00" not in sample and re.search(r"^\s*(v|vt|vn|f|o|g|mtllib|usemtl)\s", sample, re.M):
        return "obj"
    suffix = path.suffix.lower()
    if suffix == ".stl" and size >= 84:
        (count,) = struct.unpack("<I", head[80:84])
        raise AssetError(
            f"{path}: truncated or corrupt binary STL: the header says {count} triangles "
            f"({84 + 50 * count} bytes) but the file has {size} bytes"
        )
    raise AssetError(
        f"{path}: not a recognised 3D file (expected GLB, glTF, OBJ, PLY or STL content; "
        f"it starts with {head[:8]!r})"
    )


def check_file(path: Path, fmt: str | None = None, limit: int | None = None) -> int:
    """Run the pre-allocation checks for `path` (its format's, from
    :data:`engine.asset.formats.FORMATS`). Returns the (approximate) triangle count.
    `limit`: the triangle limit (default MAQUETTE_MAX_TRIANGLES)."""
    path = Path(path)
    fmt = fmt or sniff_format(path)
    entry = FORMATS.get(fmt)
    if entry is None or entry.check is None:
        raise AssetError(f"{path}: unsupported format {fmt!r}")
    decoded = decoded_glb(path) if fmt in ("glb", "gltf") else None
    if decoded is not None:  # the checks run on the decoded copy, errors name the file
        with tempfile.TemporaryDirectory(prefix="maquette-decoded-") as folder:
            copy = Path(folder) / "decoded.glb"
            copy.write_bytes(decoded)
            try:
                return FORMATS["glb"].check(copy, len(decoded), Limits.from_env(limit))
            except AssetError as exc:
                raise AssetError(str(exc).replace(str(copy), f"{path} (decoded)")) from None
    return entry.check(path, path.stat().st_size, Limits.from_env(limit))


# ----------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------


def _concatenate(loaded, pieces: list | None = None):
    """One mesh in file coordinates (node transforms applied). A single mesh whose
    node has no transform is returned as it is, without a copy. Returns (mesh or
    None, parts); `pieces`, when given, gets the placed meshes (several only)."""
    import trimesh

    if isinstance(loaded, trimesh.Trimesh):
        return loaded, 1
    if not isinstance(loaded, trimesh.Scene):
        return None, 0
    meshes = []
    for node in loaded.graph.nodes_geometry:
        transform, name = loaded.graph[node]
        geometry = loaded.geometry.get(name)
        if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
            continue
        meshes.append((np.asarray(transform, dtype=np.float64), geometry))
    if not meshes:
        return None, 0
    if len(meshes) == 1 and np.allclose(meshes[0][0], np.eye(4)):
        return meshes[0][1], 1
    moved = []
    for transform, geometry in meshes:
        # (include_cache: the file's own normals live in trimesh's cache; a plain copy
        # dropped them, and exports came out faceted. apply_transform turns them.)
        copy = geometry.copy(include_cache=True)
        copy.apply_transform(transform)
        moved.append(copy)
    if len(moved) == 1:
        return moved[0], 1
    if pieces is not None:
        pieces.extend(moved)
    return trimesh.util.concatenate(moved), len(moved)


def _extension_warnings(path: Path, fmt: str) -> list[str]:
    expected = path.suffix.lower().lstrip(".")
    if expected not in READ_FORMATS:
        return [f"the extension {path.suffix!r} is not a 3D format; read as "
                f"{fmt.upper()} from its content"]
    if expected != fmt and {expected, fmt} != {"glb", "gltf"}:
        return [f"the file is named {path.suffix} but holds {fmt.upper()} data; read "
                f"as {fmt.upper()}"]
    return []


def _resolver(path: Path):
    """trimesh's file resolver for the files next to `path`, reading glTF URIs as the
    percent-encoded URIs they are ("My%20Texture.png" names "My Texture.png": trimesh
    looked for the encoded name, and the texture was silently lost)."""
    import trimesh

    class Resolver(trimesh.resolvers.FilePathResolver):
        def get(self, name):
            decoded = unquote(name)
            if decoded != name and (Path(self.parent) / decoded).is_file():
                return super().get(decoded)
            return super().get(name)

    return Resolver(str(path.resolve()))


def load_scene(path: str | os.PathLike, fmt: str | None = None, *,
               limit: int | None = None, process: bool = False, checked: bool = False):
    """Check `path` (unless the caller has: `checked`), then load it with trimesh as a
    Scene (file coordinates; nothing merged unless `process`). Returns (scene, format).
    Raises AssetError."""
    import trimesh

    path = Path(path)
    fmt = fmt or sniff_format(path)
    if not checked:
        check_file(path, fmt, limit)
    decoded = decoded_glb(path, static=True) if fmt in ("glb", "gltf") else None
    try:
        with (io.BytesIO(decoded) if decoded is not None else open(path, "rb")) as handle:
            loaded = trimesh.load(
                handle, file_type="glb" if decoded is not None else fmt, force="scene",
                resolver=_resolver(path),
                process=process,
            )
    except AssetError:
        raise
    except MemoryError:
        raise AssetError(f"{path}: not enough memory to load it") from None
    except RecursionError:
        raise AssetError(f"{path}: corrupt {fmt.upper()} file: nested too deeply") from None
    except Exception as exc:  # trimesh raises many kinds for corrupt files
        raise AssetError(f"{path}: corrupt {fmt.upper()} file: {exc}") from None
    return loaded, fmt


def check_scene(path: Path, loaded, pieces: list | None = None) -> tuple:
    """The loaded scene as one mesh (see _concatenate), through the asset check.
    Returns (mesh, parts); `pieces` gets the placed meshes when there are several."""
    mesh, parts = _concatenate(loaded, pieces)
    if mesh is None or len(mesh.faces) == 0:
        raise AssetError(f"{path}: the file contains no triangles")
    check_geometry(path, np.asarray(mesh.vertices), np.asarray(mesh.faces))
    return mesh, parts


def load_asset(path: str | os.PathLike, *, limit: int | None = None) -> Asset:
    """Check, then load `path` into an :class:`Asset` and check its mesh. Raises
    AssetError."""
    path = Path(path)
    fmt = sniff_format(path)
    warnings = _extension_warnings(path, fmt)
    if fmt in ("glb", "gltf"):
        warnings += list(plain_glb(path, static=True)[1])
    loaded, fmt = load_scene(path, fmt, limit=limit)
    pieces: list = []
    mesh, parts = check_scene(path, loaded, pieces)
    limit = Limits.from_env(limit).triangles
    if len(mesh.faces) > limit:
        raise AssetError(f"{path}: {len(mesh.faces):,} triangles is over the limit of "
                         f"{limit:,} (MAQUETTE_MAX_TRIANGLES)")
    return Asset(mesh=mesh, source=path, format=fmt, warnings=warnings, parts=parts,
                 document=path if fmt in ("glb", "gltf") else None, pieces=pieces)
