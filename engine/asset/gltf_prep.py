"""prep on a glTF asset's own document: every primitive cleaned and decimated on its
own, everything else kept (issue 14).

The source is read as :func:`engine.asset.formats.gltf_decode.packed_glb` gives it (one
self-contained GLB, compression decoded).  Each mesh primitive is cleaned and decimated
by :mod:`engine.asset.prep`'s own steps in the mesh's local frame, tracking which of the
source's vertices survive (every step keeps a subset of them: merging, cleanup and
meshoptimizer's edge collapses all do), so *every* vertex attribute of the primitive
(normals, tangents, both UV sets, vertex colours, joints and weights, morph targets,
custom attributes such as ``_SEEN``) is the source's own, row for row.  Materials,
textures, samplers, nodes, skins, animations, cameras, lights and extensions are left
as they are; prep's orientation, scale and pivot become one new root node's matrix (the
mesh data stays in its own frame, so skins and animations still fit).  --texture-size
resizes the embedded images.  Then only what is still referenced is written out.

Units and frames are glTF's: metres, +Y up; the root matrix is column-major in the file.
"""

from __future__ import annotations

import io

import numpy as np

from engine.asset.model import AssetError

__all__ = ["prepare_document"]

_DTYPE = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16,
          5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
ROOT_NAME = "maquette-prep"
MAX_LINES = 6  # cleanup lines shown (one per primitive that had any)


class _Document:
    """A plain GLB's JSON and BIN chunk, read accessor by accessor (raw dtype)."""

    def __init__(self, doc: dict, binary: bytes):
        self.doc, self.binary = doc, binary

    def accessor(self, index: int) -> np.ndarray:
        acc = self.doc["accessors"][index]
        dtype = np.dtype(_DTYPE[acc["componentType"]])
        width = _WIDTH[acc["type"]]
        shape = (int(acc["count"]), width)
        if "bufferView" not in acc:
            return np.zeros(shape, dtype)
        view = self.doc["bufferViews"][acc["bufferView"]]
        stride = view.get("byteStride") or dtype.itemsize * width
        start = int(view.get("byteOffset", 0)) + int(acc.get("byteOffset", 0))
        return np.ndarray(shape, dtype, buffer=self.binary, offset=start,
                          strides=(stride, dtype.itemsize)).copy()

    def view_bytes(self, index: int) -> bytes:
        view = self.doc["bufferViews"][index]
        start = int(view.get("byteOffset", 0))
        return self.binary[start:start + int(view["byteLength"])]


class _Writer:
    """The new BIN chunk, bufferViews and accessors, written tightly."""

    def __init__(self):
        self.blob = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, data: bytes, target: int | None = None) -> int:
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.blob.extend(data)
        self.views.append(view)
        return len(self.views) - 1

    def accessor(self, array: np.ndarray, template: dict, target: int | None = None,
                 bounds: bool = False) -> int:
        """A new accessor for `array` (count, width), keeping the template's type,
        normalization and name; min/max written when `bounds` or the template had them."""
        acc = {k: v for k, v in template.items()
               if k in ("componentType", "normalized", "type", "name", "extras")}
        array = np.ascontiguousarray(array, dtype=_DTYPE[acc["componentType"]])
        acc["count"] = int(len(array))
        if len(array):
            acc["bufferView"] = self.view(array.tobytes(), target)
        if (bounds or "min" in template) and len(array):
            cast = float if array.dtype.kind == "f" else int
            acc["min"] = [cast(x) for x in array.min(axis=0)]
            acc["max"] = [cast(x) for x in array.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def _primitive_mesh(positions: np.ndarray, faces: np.ndarray):
    import trimesh

    return trimesh.Trimesh(positions.astype(np.float64), faces, process=False)


def _faces(src: _Document, prim: dict, count: int) -> np.ndarray:
    if "indices" in prim:
        return src.accessor(prim["indices"])[:, 0].astype(np.int64).reshape(-1, 3)
    return np.arange(count - count % 3, dtype=np.int64).reshape(-1, 3)


def _uses(doc: dict) -> dict[int, int]:
    """How many nodes place each mesh (at least 1: a mesh no node places still counts)."""
    uses: dict[int, int] = {}
    for node in doc.get("nodes") or []:
        if isinstance(node.get("mesh"), int):
            uses[node["mesh"]] = uses.get(node["mesh"], 0) + 1
    return uses


def _prepare_primitive(src: _Document, prim: dict, options, target: int | None,
                       size: float):
    """(kept source vertex numbers, faces into them, computed normals or None, prep's
    step lines) of one TRIANGLES primitive after prep's cleanup and decimation."""
    from engine.asset import prep

    positions = src.accessor(prim["attributes"]["POSITION"]).astype(np.float64)
    faces = _faces(src, prim, len(positions))
    a = prep._Arrays(_primitive_mesh(positions, faces))
    a.index = np.arange(len(positions))
    p = prep._Prep(None, a, options, size)
    prep._drop_bad_faces(p)
    prep._remove_fragments(p)
    prep._winding_and_holes(p)
    if target is not None and target < len(a.f) and len(a.f):
        manifold_before = a.topology().non_manifold_edges == 0
        prep.decimate(a, target)
        dropped = prep._drop_collapse_artifacts(a, manifold_before)
        if dropped:
            p.say(f"{dropped} collapsed or folded faces dropped after decimation")
    a.drop_unused()
    normals = None
    if "NORMAL" not in prim["attributes"] and len(a.f):
        from engine.asset.topology import smooth_vertex_normals

        normals = smooth_vertex_normals(a.v, a.f).astype(np.float32)
    return a.index, a.f, normals, p.steps


def _resized_image(data: bytes, mime: str, side: int) -> tuple[bytes, tuple, tuple] | None:
    from PIL import Image

    from engine.asset.model import shrink_to

    image = Image.open(io.BytesIO(data))
    small = shrink_to(image, side)
    if small is None:
        return None
    out = io.BytesIO()
    if mime == "image/jpeg":
        small.convert("RGB").save(out, format="JPEG", quality=92)
    else:
        small.save(out, format="PNG", compress_level=6)
    return out.getvalue(), image.size, small.size


def _accessor_refs(doc: dict):
    """(container, key) of every accessor reference outside mesh primitives."""
    for skin in doc.get("skins") or []:
        if "inverseBindMatrices" in skin:
            yield skin, "inverseBindMatrices"
    for animation in doc.get("animations") or []:
        for sampler in animation.get("samplers") or []:
            yield sampler, "input"
            yield sampler, "output"
    for node in doc.get("nodes") or []:
        instancing = (node.get("extensions") or {}).get("EXT_mesh_gpu_instancing")
        if instancing:
            attributes = instancing.get("attributes") or {}
            for name in list(attributes):
                yield attributes, name


def prepare_document(glb: bytes, options, transform: np.ndarray, *, keep_record: bool,
                     where: str = "the asset") -> tuple[bytes, list[str]]:
    """The prepared GLB of a plain, self-contained source GLB (`glb`), and prep's step
    lines for what happened here (decimation, textures). `transform`: (4, 4) the
    orientation, scale and pivot prep chose on the whole asset (world frame);
    `keep_record`: keep a generated asset's orientation record (meshes' extras) as it is."""
    from engine.asset.formats.gltf import join_glb, split_glb

    doc, binary = split_glb(glb)
    src = _Document(doc, binary)
    out = _Writer()
    steps: list[str] = []
    meshes = doc.get("meshes") or []
    uses = _uses(doc)

    def triangles(prim: dict) -> int:
        if prim.get("mode", 4) != 4 or "POSITION" not in (prim.get("attributes") or {}):
            return 0
        if "indices" in prim:
            return int(doc["accessors"][prim["indices"]]["count"]) // 3
        return int(doc["accessors"][prim["attributes"]["POSITION"]]["count"]) // 3

    total = sum(triangles(p) * max(uses.get(m, 0), 1)
                for m, mesh in enumerate(meshes) for p in mesh.get("primitives") or [])
    ratio = None if options.faces is None or total <= options.faces else options.faces / total
    size = 1.0
    before = after = 0
    cleaned: list[str] = []
    for m, mesh in enumerate(meshes):
        for prim in mesh.get("primitives") or []:
            count = triangles(prim)
            attributes = prim.setdefault("attributes", {})
            if count == 0:  # points, lines or empty: copied as they are
                for name, index in list(attributes.items()):
                    attributes[name] = out.accessor(src.accessor(index),
                                                    doc["accessors"][index], 34962,
                                                    bounds=name == "POSITION")
                if "indices" in prim:
                    prim["indices"] = out.accessor(src.accessor(prim["indices"]),
                                                   doc["accessors"][prim["indices"]], 34963)
                continue
            positions = doc["accessors"][attributes["POSITION"]]
            lo, hi = (np.asarray(positions.get(k, [0, 0, 0]), float) for k in ("min", "max"))
            size = float(np.linalg.norm(hi - lo)) or 1.0
            target = None if ratio is None else max(1, int(round(count * ratio)))
            keep, faces, normals, said = _prepare_primitive(src, prim, options, target, size)
            cleaned.extend(f"meshes[{m}]: {line}" for line in said)
            if len(faces) == 0:
                raise AssetError(f"{where}: meshes[{m}]: nothing left of a primitive after "
                                 f"cleanup")
            before += count * max(uses.get(m, 0), 1)
            after += len(faces) * max(uses.get(m, 0), 1)
            for name, index in list(attributes.items()):
                attributes[name] = out.accessor(src.accessor(index)[keep],
                                                doc["accessors"][index], 34962,
                                                bounds=name == "POSITION")
            if normals is not None:
                attributes["NORMAL"] = out.accessor(normals, {"componentType": 5126,
                                                              "type": "VEC3"}, 34962)
            for target_attrs in prim.get("targets") or []:
                for name, index in list(target_attrs.items()):
                    target_attrs[name] = out.accessor(src.accessor(index)[keep],
                                                      doc["accessors"][index],
                                                      bounds=name == "POSITION")
            kind = 5123 if len(keep) < 65535 else 5125
            prim["indices"] = out.accessor(faces.reshape(-1, 1), {"componentType": kind,
                                                                  "type": "SCALAR"}, 34963)
            prim["mode"] = 4
        if not keep_record and isinstance(mesh.get("extras"), dict):
            from engine.asset.inspect import RECORD_KEY

            mesh["extras"].pop(RECORD_KEY, None)  # turned: the record no longer stands
    steps.extend(cleaned[:MAX_LINES])
    if len(cleaned) > MAX_LINES:
        steps.append(f"... and {len(cleaned) - MAX_LINES} more cleanup line(s)")
    if ratio is not None:
        prims = sum(len(x.get("primitives") or []) for x in meshes)
        steps.append(f"decimated {before:,} -> {after:,} triangles (target "
                     f"{options.faces:,}; {prims} primitive(s), each on its own with its "
                     f"material and every vertex attribute)")
    for container, key in list(_accessor_refs(doc)):
        index = container[key]
        container[key] = out.accessor(src.accessor(index), doc["accessors"][index])
    for i, image in enumerate(doc.get("images") or []):
        if "bufferView" not in image:
            continue
        data = src.view_bytes(image["bufferView"])
        if options.texture_size is not None:
            resized = _resized_image(data, image.get("mimeType", "image/png"),
                                     options.texture_size)
            if resized is not None:
                data, old, new = resized
                steps.append(f"images[{i}] {old[0]}x{old[1]} -> {new[0]}x{new[1]}")
        image["bufferView"] = out.view(data)
    doc["accessors"], doc["bufferViews"] = out.accessors, out.views
    doc["buffers"] = [{"byteLength": len(out.blob) + (-len(out.blob) % 4)}]
    if not out.accessors:
        del doc["accessors"]
    if not np.allclose(transform, np.eye(4)):
        _add_root(doc, transform)
    return join_glb(doc, bytes(out.blob)), steps


def _add_root(doc: dict, transform: np.ndarray) -> None:
    """One new root node per scene carrying `transform` (column-major matrix), parent
    of the scene's own roots; a skinned mesh's childless node stays a root (glTF
    ignores its transform: its joints, under the new root, move it)."""
    nodes = doc.setdefault("nodes", [])
    scenes = doc.get("scenes")
    if not scenes:  # meshes without nodes: one node per mesh, in a new scene
        first = len(nodes)
        nodes.extend({"mesh": m} for m in range(len(doc.get("meshes") or [])))
        doc["scenes"] = scenes = [{"nodes": list(range(first, len(nodes)))}]
        doc["scene"] = 0
    claimed: set[int] = set()
    for scene in scenes:
        roots = list(scene.get("nodes") or [])
        if not roots or claimed & set(roots):
            continue
        claimed |= set(roots)
        skinned = [r for r in roots if "skin" in nodes[r] and not nodes[r].get("children")]
        if len(skinned) == len(roots):
            continue
        nodes.append({"name": ROOT_NAME, "children": [r for r in roots if r not in skinned],
                      "matrix": [float(x) for x in np.asarray(transform).T.ravel()]})
        scene["nodes"] = [len(nodes) - 1] + skinned
