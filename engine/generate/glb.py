"""The generated mesh as a trimesh mesh (UV-mapped base-colour texture, metal/rough
material), written with the one GLB writer (:func:`engine.asset.formats.gltf.glb_bytes`).
Units: metres; glTF axes (+Y up)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.asset.formats.gltf import glb_bytes
from engine.asset.seen import set_seen
from engine.fileio import write_bytes_atomic
from engine.generate.reconstruct import LayeredMesh


def to_trimesh(mesh: LayeredMesh, texture: Image.Image, roughness: float = 0.6):
    """A trimesh.Trimesh of the layered mesh with its texture atlas (and its seen
    marks, engine.asset.seen)."""
    import trimesh

    material = trimesh.visual.material.PBRMaterial(
        name="generated", baseColorTexture=texture, metallicFactor=0.0,
        roughnessFactor=roughness,
    )
    # trimesh's UVs are OpenGL-style (v up); ours are image-style (v down).
    uv = np.column_stack([mesh.uv[:, 0], 1.0 - mesh.uv[:, 1]])
    visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    # The winding is outward by construction (layered_mesh); trimesh's fix_normals
    # would judge it by index connectivity, which the walls' UV seam splits.
    asset = trimesh.Trimesh(mesh.vertices, mesh.faces, visual=visual, process=False)
    set_seen(asset, mesh.seen)  # written as the GLB's _SEEN vertex attribute
    return asset


def write_glb(mesh, path: Path) -> None:
    """Write atomically: a temporary sibling, then os.replace."""
    write_bytes_atomic(path, glb_bytes(mesh))
