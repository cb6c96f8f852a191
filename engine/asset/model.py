"""The asset in memory: one triangle mesh in file coordinates plus where it came from.

Geometry and files only: nothing here imports Panda3D or ``engine.render``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from engine.errors import InputError

__all__ = ["Asset", "AssetError", "DEFAULT_MAX_TRIANGLES", "max_triangles", "texture_image"]

# Larger meshes are refused before their data is allocated.  10M triangles need about
# 1 GB of RAM in trimesh; raise with MAQUETTE_MAX_TRIANGLES if the machine has more.
DEFAULT_MAX_TRIANGLES = 10_000_000


def max_triangles() -> int:
    """$MAQUETTE_MAX_TRIANGLES (a whole number, 1 or more), else DEFAULT_MAX_TRIANGLES;
    anything else set there is an InputError naming the variable, never ignored."""
    value = os.environ.get("MAQUETTE_MAX_TRIANGLES", "").strip()
    if not value:
        return DEFAULT_MAX_TRIANGLES
    try:
        limit = int(value.replace("_", ""))
    except ValueError:
        limit = 0
    if limit < 1:
        raise InputError(f"MAQUETTE_MAX_TRIANGLES={value!r}: expected a whole number of "
                         f"triangles, 1 or more (default {DEFAULT_MAX_TRIANGLES})")
    return limit


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
        uv = getattr(self.mesh.visual, "uv", None)
        return uv is not None and len(uv) == len(self.mesh.vertices)


def texture_image(mesh: trimesh.Trimesh):
    """The base-colour texture (PIL image) of a mesh, or None."""
    material = getattr(mesh.visual, "material", None)
    if material is None:
        return None
    image = getattr(material, "baseColorTexture", None)
    if image is None:
        image = getattr(material, "image", None)
    return image
