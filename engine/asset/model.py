"""The asset in memory: one triangle mesh in file coordinates plus where it came from.

Geometry and files only: nothing here imports Panda3D or ``engine.render``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import InputError

if TYPE_CHECKING:
    import trimesh

__all__ = ["Asset", "AssetError", "DEFAULT_MAX_TEXTURE_PIXELS", "DEFAULT_MAX_TRIANGLES",
           "HEIGHT_RANGE_M", "Limits", "MAX_COORDINATE", "max_texture_pixels", "max_triangles",
           "mesh_uv", "texture_image"]

# Larger meshes are refused before their data is allocated.  10M triangles need about
# 1 GB of RAM in trimesh; raise with MAQUETTE_MAX_TRIANGLES if the machine has more.
DEFAULT_MAX_TRIANGLES = 10_000_000
# Larger textures are refused from their headers, before a pixel is decoded: an RGBA
# 8192² texture is 256 MiB decoded (a 20000² PNG of 1.2 MB took 3.7 GB to render).
DEFAULT_MAX_TEXTURE_PIXELS = 8192 * 8192
# Positions beyond this (in the file's units, metres by glTF's convention) are refused:
# the renderer's float32 maths overflows near 1e19 (Panda3D asserts on NaN matrices at
# 1e20; 3e38 fails its look-at) and nothing real is a million kilometres across.
MAX_COORDINATE = 1e9
#: A GLB written by `maquette generate` records how it stands in its mesh's glTF
#: `extras` under this key ({"generated": true, "upright": true, "up": "+Y", "front":
#: "+Z", "seen_arc_deg": [...], ...}); trimesh reads mesh extras back into `mesh.metadata`.
RECORD_KEY = "maquette"
HEIGHT_RANGE_M = (1e-3, 1e3)  # heights an asset may be given (generate, prep --height)


def _env_limit(name: str, default: int) -> int:
    """A positive whole number from the environment variable `name`, or `default` when it
    is unset or empty; anything else is refused, naming the variable."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value.replace("_", ""))
    except ValueError:
        number = 0
    if number < 1:
        raise AssetError(f"{name}={value!r}: expected a positive whole number (default "
                         f"{default})")
    return number


def max_triangles() -> int:
    """The triangle limit: MAQUETTE_MAX_TRIANGLES, default DEFAULT_MAX_TRIANGLES."""
    return _env_limit("MAQUETTE_MAX_TRIANGLES", DEFAULT_MAX_TRIANGLES)


def max_texture_pixels() -> int:
    """The limit on one texture's width × height: MAQUETTE_MAX_TEXTURE_PIXELS, default
    DEFAULT_MAX_TEXTURE_PIXELS (8192²)."""
    return _env_limit("MAQUETTE_MAX_TEXTURE_PIXELS", DEFAULT_MAX_TEXTURE_PIXELS)


@dataclass(frozen=True)
class Limits:
    """What one asset may hold: triangles (counted per instance) and pixels per texture."""

    triangles: int = DEFAULT_MAX_TRIANGLES
    texture_pixels: int = DEFAULT_MAX_TEXTURE_PIXELS

    @classmethod
    def from_env(cls, triangles: int | None = None) -> Limits:
        return cls(max_triangles() if triangles is None else triangles, max_texture_pixels())


class AssetError(InputError):
    """An asset file is unreadable, unsafe or unsuitable; the message names the file and
    the offending field."""


@dataclass
class Asset:
    """One asset: ``mesh`` is a single :class:`trimesh.Trimesh` (all parts concatenated,
    node transforms applied) in the file's own coordinates and units."""

    mesh: trimesh.Trimesh
    source: Path
    format: str  # glb | gltf | obj | ply | stl (what the content is, not the extension)
    warnings: list[str] = field(default_factory=list)
    parts: int = 1  # how many meshes the file held before concatenation
    # a glTF file read by load_asset: its own document, which prep edits primitive by
    # primitive and glTF exports keep (engine.asset.gltf_prep); None: only `mesh`
    document: Path | None = None
    # the file's meshes, each in file coordinates (node transforms applied) with its
    # own material, for writers that keep several (OBJ, USDZ, FBX); [] when it held one
    pieces: list = field(default_factory=list)

    @property
    def triangles(self) -> int:
        return int(len(self.mesh.faces))

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) float: min and max corners."""
        return np.asarray(self.mesh.bounds, dtype=float)

    @property
    def texture(self):
        return texture_image(self.mesh)

    @property
    def has_uv(self) -> bool:
        return mesh_uv(self.mesh) is not None


def mesh_uv(mesh: trimesh.Trimesh) -> np.ndarray | None:
    """(n, 2) float UVs, one per vertex (OpenGL-style: v up), or None."""
    uv = getattr(mesh.visual, "uv", None)
    if uv is None or len(uv) != len(mesh.vertices):
        return None
    return np.asarray(uv, dtype=np.float64)


def texture_image(mesh: trimesh.Trimesh):
    """The base-colour texture (PIL image) of a mesh, or None."""
    material = getattr(mesh.visual, "material", None)
    if material is None:
        return None
    image = getattr(material, "baseColorTexture", None)
    if image is None:
        image = getattr(material, "image", None)
    return image


def shrink_to(image, side: int):
    """A PIL image scaled (Lanczos) so its longer side is `side` pixels, or None when it
    is no larger already (prep --texture-size)."""
    from PIL import Image

    if max(image.size) <= side:
        return None
    w, h = image.size
    scale = side / max(w, h)
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                        Image.Resampling.LANCZOS)
