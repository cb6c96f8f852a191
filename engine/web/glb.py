"""The page's GLB: the asset file itself, placed in the stage's world frame.

The asset's own GLB (or the converted copy the stage loads, for OBJ/PLY/STL) keeps
its materials, textures and animations; a new root node carries the scene's rest
transform (up axis, height in metres, pivot) or, when the scene moves the asset,
the motion baked as a LINEAR glTF animation sampled at the scene's frame rate
(engine.asset.export.bake_animation). World frame: glTF's, Y-up, metres.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from engine.asset.formats.gltf import bake_animation, join_glb, split_glb

MOTION_ANIMATION = "maquette-motion"


def source_glb(source: Path) -> bytes:
    """GLB bytes with the asset's content: the file itself when it is a GLB, else the
    stage's converted copy (OBJ/PLY/STL) or a GLB written from the loaded mesh (.gltf
    with its .bin beside it)."""
    from engine.asset.io import sniff_format
    from engine.render.asset_node import as_gltf

    path = as_gltf(Path(source))
    if sniff_format(path) == "glb":
        return path.read_bytes()
    import tempfile

    from engine.asset.export import export_mesh
    from engine.asset.io import load_asset

    with tempfile.TemporaryDirectory(prefix="maquette-web-") as tmp:
        written = export_mesh(load_asset(path).mesh, Path(tmp) / "asset.glb")
        return written.path.read_bytes()


def wrap_root(glb: bytes, matrix: np.ndarray, name: str = "maquette-stage") -> bytes:
    """The GLB with a new root node, parent of the default scene's nodes, whose
    `matrix` (4, 4) takes file coordinates to the stage's world."""
    doc, binary = split_glb(glb)
    scene = doc["scenes"][doc.get("scene", 0)]
    m = np.asarray(matrix, dtype=float)
    doc.setdefault("nodes", []).append({
        "name": name, "children": list(scene.get("nodes", [])),
        "matrix": [float(x) for x in m.T.ravel()],  # glTF: column-major
    })
    scene["nodes"] = [len(doc["nodes"]) - 1]
    return join_glb(doc, binary)


def page_glb(source: Path, timeline, fps: float) -> tuple[bytes, bool]:
    """(GLB bytes, whether the scene's motion was baked) for the page.

    `timeline`: the scene's engine.scene.timeline.Timeline (its rest matrix and asset
    tracks); motion is sampled every 1/fps s over the scene's duration."""
    glb = source_glb(source)
    if not timeline.asset_tracks:
        return wrap_root(glb, timeline.rest), False
    count = max(2, int(round(timeline.duration * fps)) + 1)
    times = np.arange(count) / fps
    matrices = np.stack([timeline.asset_matrix(float(t)) for t in times])
    return bake_animation(glb, times, matrices, name=MOTION_ANIMATION), True


def glb_figures(glb: bytes) -> dict:
    """Triangles, images (name, mime, width x height, bytes) and animations of a GLB."""
    import io

    from PIL import Image

    doc, binary = split_glb(glb)
    triangles = 0
    for mesh in doc.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            if primitive.get("mode", 4) != 4:
                continue
            if "indices" in primitive:
                triangles += doc["accessors"][primitive["indices"]]["count"] // 3
            else:
                triangles += doc["accessors"][primitive["attributes"]["POSITION"]]["count"] // 3
    images = []
    for i, image in enumerate(doc.get("images", [])):
        entry = {"name": image.get("name", f"image {i}"), "mime": image.get("mimeType")}
        if "bufferView" in image:
            view = doc["bufferViews"][image["bufferView"]]
            start = view.get("byteOffset", 0)
            data = binary[start:start + view["byteLength"]]
            entry["bytes"] = len(data)
            try:
                with Image.open(io.BytesIO(data)) as decoded:
                    entry["size"] = list(decoded.size)
            except Exception:  # an image PIL cannot read: report its bytes only
                entry["size"] = None
        images.append(entry)
    return {"triangles": int(triangles), "images": images,
            "animations": [a.get("name", f"animation {i}")
                           for i, a in enumerate(doc.get("animations", []))],
            "version": struct.unpack("<I", glb[4:8])[0]}
