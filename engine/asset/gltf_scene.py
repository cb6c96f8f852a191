"""A decoded glTF document as a scene that writers convert (USDZ, FBX): nodes, each
mesh's primitives as arrays, images, skins with their joints ordered parents first, and
each clip sampled at a fixed rate (node poses and morph weights).

Units and frames: glTF's (Y-up, metres as stored, seconds; UVs with v down, as stored;
matrices column-vector, p' = M · p). Pure numpy over engine.asset.clips and the glTF
accessor reader; no Panda3D, no USD, no trimesh.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from engine.animation.clips import Channel, Clip, clip_time, node_poses, sample, trs_matrix

__all__ = ["MOTION_FPS", "GltfScene", "Primitive", "Sampled", "Skin", "document_content",
           "expand_instancing", "scene_of", "st_transform", "texture_mapping"]

#: samples per second of a written clip (AR Quick Look plays USD time codes)
MOTION_FPS = 30.0
_IMAGE_SUFFIX = {"image/png": "png", "image/jpeg": "jpg"}


def st_transform(transform: dict) -> tuple[tuple, float, tuple]:
    """(scale, rotation in degrees, counter-clockwise, translation) of the map st' =
    R · S · st + t in v-up UVs (st = (u, 1 − v): USD's st, FBX's UVs) that does what the
    glTF KHR_texture_transform `transform` does to glTF UVs (the renderer's
    engine.render.gltf_material matrix, in the same V-flipped space)."""
    sx, sy = (float(v) for v in transform.get("scale", (1.0, 1.0)))
    ox, oy = (float(v) for v in transform.get("offset", (0.0, 0.0)))
    r = float(transform.get("rotation", 0.0))
    # st' = R·S·(st − p) + p + (ox, −oy) with p = (0, 1): R·S·st + translation
    translation = (ox + sy * math.sin(r), 1.0 - oy - sy * math.cos(r))
    return (sx, sy), math.degrees(r), translation


def texture_mapping(info: dict) -> tuple[int, dict | None]:
    """(UV set, KHR_texture_transform or None) of a glTF textureInfo (the transform's
    texCoord overrides the textureInfo's)."""
    transform = (info.get("extensions") or {}).get("KHR_texture_transform")
    transform = transform if isinstance(transform, dict) else None
    uv_set = int(info.get("texCoord", 0) or 0)
    if transform is not None and "texCoord" in transform:
        uv_set = int(transform["texCoord"])
    return uv_set, transform


def expand_instancing(data: dict, read_accessor) -> None:
    """Replace each node's EXT_mesh_gpu_instancing by one child node per instance (the
    node's mesh on each, with the instance's TRS; glTF: the instance transform applies
    before the node's). `read_accessor(index)` returns the accessor's float rows."""
    nodes = data.get("nodes") or []
    for node in list(nodes):
        ext = (node.get("extensions") or {}).get("EXT_mesh_gpu_instancing")
        if not isinstance(ext, dict) or "mesh" not in node:
            continue
        attributes = ext.get("attributes") or {}
        columns = {key: read_accessor(attributes[key])
                   for key in ("TRANSLATION", "ROTATION", "SCALE") if key in attributes}
        if not columns:
            continue
        count = min(len(v) for v in columns.values())
        children = list(node.get("children") or [])
        for i in range(count):
            child = {"name": f"{node.get('name', 'node')}-instance{i}", "mesh": node["mesh"]}
            if "TRANSLATION" in columns:
                child["translation"] = [float(x) for x in columns["TRANSLATION"][i][:3]]
            if "ROTATION" in columns:
                child["rotation"] = [float(x) for x in columns["ROTATION"][i][:4]]
            if "SCALE" in columns:
                child["scale"] = [float(x) for x in columns["SCALE"][i][:3]]
            children.append(len(nodes))
            nodes.append(child)
        del node["mesh"]
        node["children"] = children
        node["extensions"].pop("EXT_mesh_gpu_instancing")


@dataclass
class Primitive:
    """One primitive's vertex data (float32 / int32), `mode` as glTF numbers it (0
    points, 1-3 lines, 4 triangles: strips and fans are decoded to 4)."""

    mode: int
    points: np.ndarray
    indices: np.ndarray  # (m,) corner indices (0..n-1 when the primitive has none)
    material: int | None = None
    normals: np.ndarray | None = None
    uvs: dict[int, np.ndarray] = field(default_factory=dict)  # set -> (n, 2)
    colors: np.ndarray | None = None  # (n, 3 or 4)
    joints: np.ndarray | None = None  # (n, 4k) int
    weights: np.ndarray | None = None  # (n, 4k), rows summing to 1
    targets: list[tuple[np.ndarray, np.ndarray | None]] = field(default_factory=list)


@dataclass
class Skin:
    """A glTF skin: `joints` in the file's order (the JOINTS_n attributes index them),
    `order` the same nodes parents first, `parent[j]` the nearest joint above j (None
    for a root joint), `inverse_binds[k]` joint k's inverse bind matrix, `origin` the
    node all root joints hang from (None: the scene root), whose frame root joints are
    given in (joint_local)."""

    joints: list[int]
    order: list[int]
    parent: dict[int, int | None]
    inverse_binds: np.ndarray
    origin: int | None = None  # the node the root joints hang from, when they share one


@dataclass
class Sampled:
    """One clip at MOTION_FPS: `times` (k,) from 0 to its duration, `poses[k]` the
    [translation, rotation (x, y, z, w), scale] of every node it moves, `weights[node]`
    (k, targets) the morph weights it gives a node."""

    name: str
    times: np.ndarray
    poses: list[dict]
    weights: dict[int, np.ndarray]
    moved: set[int]


class GltfScene:
    """A decoded glTF/GLB file (engine.asset.formats.gltf_decode) read for conversion."""

    def __init__(self, path: Path, label: str | None = None):
        """`label`: what errors call the file (a writer's temporary copy: "the asset")."""
        from engine.asset.clips import node_rest, open_gltf, read_clips

        self.path = Path(path)
        self.label = label or str(self.path)
        self.g = open_gltf(self.path)
        self.clips, self.rest, _ = read_clips(self.path, joints=True, opened=self.g)
        self.doc = self.g.doc
        # GPU instances become one node each (appended after the file's own)
        expand_instancing(self.doc, lambda i: self.accessor(i).astype(np.float64))
        self.nodes = self.doc.get("nodes") or []
        self.rest.update({i: node_rest(self.nodes[i]) for i in range(len(self.nodes))
                          if i not in self.rest})
        self.parents = {c: i for i, n in enumerate(self.nodes) for c in n.get("children", [])}
        self.rest_locals = [trs_matrix(*self.rest[i]) for i in range(len(self.nodes))]
        self._worlds: dict = {}  # id(poses) -> (poses, {node: world}), the last few
        self._images: dict[int, tuple[bytes, str]] = {}
        self._skins: dict[int, Skin] = {}

    # -- structure ---------------------------------------------------------------------

    def roots(self) -> list[int]:
        scenes = self.doc.get("scenes") or []
        scene = self.doc.get("scene", 0)
        if scenes and isinstance(scene, int) and 0 <= scene < len(scenes):
            return list(scenes[scene].get("nodes") or [])
        return [i for i in range(len(self.nodes)) if i not in self.parents]

    def world(self, node: int, poses: dict | None = None) -> np.ndarray:
        """A node's world matrix at rest, or with `poses` (a Sampled.poses entry); every
        node's is worked out once per pose (a skin asks for each joint's)."""
        key = id(poses)
        cached = self._worlds.get(key)
        if cached is None or cached[0] is not poses:
            cached = (poses, {})
            self._worlds = {key: cached, **dict(list(self._worlds.items())[-7:])}
        worlds = cached[1]
        chain = []
        seen = set()
        while node is not None and node not in worlds and node not in seen:
            seen.add(node)
            chain.append(node)
            node = self.parents.get(node)
        out = worlds.get(node, np.eye(4)) if node is not None else np.eye(4)
        for n in reversed(chain):
            out = out @ self.local(n, poses)
            worlds[n] = out
        return worlds[chain[0]] if chain else out

    def local(self, node: int, poses: dict | None = None) -> np.ndarray:
        pose = None if poses is None else poses.get(node)
        return trs_matrix(*pose) if pose is not None else self.rest_locals[node]

    def accessor(self, index) -> np.ndarray:
        from engine.asset.formats.gltf import read_accessor

        return np.array(read_accessor(self.g, int(index)))

    def skin_of(self, node: int) -> int | None:
        skin = self.nodes[node].get("skin")
        return skin if isinstance(skin, int) and skin < len(self.doc.get("skins") or []) \
            else None

    def material(self, index: int | None) -> dict:
        mats = self.doc.get("materials") or []
        return mats[index] if isinstance(index, int) and 0 <= index < len(mats) else {}

    def primitives(self, mesh: int) -> list[Primitive]:
        return self._primitives[mesh] if 0 <= mesh < len(self._primitives) else []

    @cached_property
    def _primitives(self) -> list[list[Primitive]]:
        return [[self._primitive(p) for p in m.get("primitives") or []
                 if "POSITION" in (p.get("attributes") or {})]
                for m in self.doc.get("meshes") or []]

    def _primitive(self, prim: dict) -> Primitive:
        a = prim["attributes"]
        points = self.accessor(a["POSITION"]).astype(np.float32)
        indices = self.accessor(prim["indices"]).ravel().astype(np.int32) \
            if "indices" in prim else np.arange(len(points), dtype=np.int32)
        mode = int(prim.get("mode", 4))
        if mode == 4:
            indices = indices[:len(indices) // 3 * 3]
        out = Primitive(mode, points, indices,
                        prim["material"] if isinstance(prim.get("material"), int) else None)
        if "NORMAL" in a:
            out.normals = self.accessor(a["NORMAL"]).astype(np.float32)
        for n in range(4):
            if f"TEXCOORD_{n}" in a:
                out.uvs[n] = self.accessor(a[f"TEXCOORD_{n}"]).astype(np.float32)
        if "COLOR_0" in a:
            out.colors = self.accessor(a["COLOR_0"]).astype(np.float32)
        sets = [k for k in range(4) if f"JOINTS_{k}" in a and f"WEIGHTS_{k}" in a]
        if sets:
            out.joints = np.hstack([self.accessor(a[f"JOINTS_{k}"]) for k in sets]) \
                .astype(np.int32)
            w = np.hstack([self.accessor(a[f"WEIGHTS_{k}"]) for k in sets]).astype(np.float32)
            total = w.sum(axis=1, keepdims=True)
            out.weights = np.where(total > 0, w / np.where(total > 0, total, 1), w)
        for target in prim.get("targets") or []:
            if "POSITION" in target:
                out.targets.append((self.accessor(target["POSITION"]).astype(np.float32),
                                    self.accessor(target["NORMAL"]).astype(np.float32)
                                    if "NORMAL" in target else None))
        return out

    def target_names(self, mesh: int, count: int) -> list[str]:
        names = ((self.doc.get("meshes") or [])[mesh].get("extras") or {}).get("targetNames")
        names = names if isinstance(names, list) else []
        return [names[t] if t < len(names) and isinstance(names[t], str) else f"target{t}"
                for t in range(count)]

    def default_weights(self, node: int, count: int) -> np.ndarray:
        """A morphing node's weights at rest (the node's, else its mesh's, else 0)."""
        n = self.nodes[node]
        mesh = (self.doc.get("meshes") or [])[n["mesh"]]
        given = n.get("weights", mesh.get("weights")) or []
        out = np.zeros(count)
        out[:min(len(given), count)] = given[:count]
        return out

    def placements(self):
        """(node, world matrix at rest, Primitive) of every triangle primitive the scene
        places (each GPU instance its own node)."""
        for i in sorted(self.placed):
            mesh = self.nodes[i].get("mesh")
            if isinstance(mesh, int):
                for prim in self.primitives(mesh):
                    if prim.mode == 4:
                        yield i, self.world(i), prim

    def content(self) -> dict:
        """What a reader that applies node transforms (and not skins) should find of the
        placed triangle primitives at rest: triangles, (2, 3) bounds, and how many are
        skinned, carry morph targets (counted per target), a second UV set and vertex
        colours; and the clips that play (playing_clips)."""
        triangles, lo, hi = 0, np.full(3, np.inf), np.full(3, -np.inf)
        skinned = targets = second_uv = colored = 0
        for node, world, prim in self.placements():
            triangles += len(prim.indices) // 3
            if len(prim.points):
                placed = prim.points.astype(np.float64) @ world[:3, :3].T + world[:3, 3]
                lo, hi = np.minimum(lo, placed.min(axis=0)), np.maximum(hi, placed.max(axis=0))
            skinned += int(self.skin_of(node) is not None and prim.joints is not None)
            targets += len(prim.targets)
            second_uv += int(1 in prim.uvs)
            colored += int(prim.colors is not None)
        return {"triangles": triangles, "bounds": np.array([lo, hi]), "skinned": skinned,
                "morph_targets": targets, "second_uv": second_uv, "colored": colored,
                "clips": len(self.playing_clips())}

    @cached_property
    def placed(self) -> set[int]:
        """The nodes the scene places (its roots and everything below them)."""
        seen, stack = set(), list(self.roots())
        while stack:
            i = stack.pop()
            if i not in seen:
                seen.add(i)
                stack.extend(self.nodes[i].get("children", []))
        return seen

    def playing_clips(self) -> list[int]:
        """The clips a writer keeps: those with a length that move a placed node (or one
        above it, or a joint) or animate a placed node's morph weights."""
        reachable = self.placed | {j for skin in self.doc.get("skins") or []
                                   for j in skin.get("joints") or [] if isinstance(j, int)}
        out = []
        for k, clip in enumerate(self.clips):
            animation = (self.doc.get("animations") or [])[k]
            weighted = {(ch.get("target") or {}).get("node") for ch in
                        animation.get("channels") or []
                        if (ch.get("target") or {}).get("path") == "weights"}
            if clip.duration > 0 and (set(clip.nodes) | weighted) & reachable:
                out.append(k)
        return out

    # -- images ------------------------------------------------------------------------

    def texture_source(self, texture: int) -> int | None:
        """The image a texture shows (its source, or an extension's: webp, basisu)."""
        textures = self.doc.get("textures") or []
        if not isinstance(texture, int) or not 0 <= texture < len(textures):
            return None
        tex = textures[texture]
        source = tex.get("source")
        if source is None:
            for ext in (tex.get("extensions") or {}).values():
                if isinstance(ext, dict) and isinstance(ext.get("source"), int):
                    source = ext["source"]
        images = self.doc.get("images") or []
        return source if isinstance(source, int) and 0 <= source < len(images) else None

    def sampler(self, texture: int) -> dict:
        tex = (self.doc.get("textures") or [])[texture]
        samplers = self.doc.get("samplers") or []
        s = tex.get("sampler")
        return samplers[s] if isinstance(s, int) and 0 <= s < len(samplers) else {}

    def image(self, i: int) -> tuple[bytes, str]:
        """(bytes, "png" | "jpg") of images[i]; other formats converted to PNG (once:
        a writer asks for an image's name, its file and its embedded copy)."""
        if i not in self._images:
            self._images[i] = self._image(i)
        return self._images[i]

    def _image(self, i: int) -> tuple[bytes, str]:
        image = (self.doc.get("images") or [])[i]
        if "bufferView" in image:
            b, off, length, _ = self.g.views[image["bufferView"]]
            data = bytes(self.g.buffer(b)[off:off + length])
        else:
            import base64
            from urllib.parse import unquote

            uri = image.get("uri", "")
            if uri.startswith("data:"):
                head, _, payload = uri.partition(",")
                data = base64.b64decode(payload) if head.endswith(";base64") else \
                    unquote(payload).encode("latin-1")
            else:
                from engine.asset.formats.gltf import safe_local

                data = safe_local(self.g.path, uri, f"images[{i}].uri").read_bytes()
        mime = image.get("mimeType") or ("image/png" if data[:4] == b"\x89PNG" else
                                         "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "")
        suffix = _IMAGE_SUFFIX.get(mime)
        if suffix is None:
            from PIL import Image

            from engine.asset.formats.common import png_bytes

            data, suffix = png_bytes(Image.open(io.BytesIO(data))), "png"
        return data, suffix

    # -- skins -------------------------------------------------------------------------

    def skin(self, s: int) -> Skin:
        """Skin s (read once)."""
        if s not in self._skins:
            self._skins[s] = self._skin(s)
        return self._skins[s]

    def _skin(self, s: int) -> Skin:
        skin = (self.doc.get("skins") or [])[s]
        joints = [int(j) for j in skin.get("joints") or []]
        members = set(joints)

        def joint_parent(j):
            p = self.parents.get(j)
            while p is not None and p not in members:
                p = self.parents.get(p)
            return p

        parent = {j: joint_parent(j) for j in joints}
        children: dict = {}
        for j in joints:
            children.setdefault(parent[j], []).append(j)
        order, stack = [], list(reversed(children.get(None, [])))
        while stack:  # depth first, in glTF child order
            j = stack.pop()
            order.append(j)
            stack.extend(reversed(children.get(j, [])))
        ibm = self.accessor(skin["inverseBindMatrices"]).reshape(-1, 4, 4) \
            .transpose(0, 2, 1) if "inverseBindMatrices" in skin \
            else np.tile(np.eye(4), (len(joints), 1, 1))
        above = {self.parents.get(j) for j in joints if parent[j] is None}
        origin = above.pop() if len(above) == 1 else None
        if origin not in self.placed:  # (an unplaced node: the root joints in world)
            origin = None
        return Skin(joints, order, parent, ibm.astype(np.float64), origin)

    def joint_local(self, skin: Skin, j: int, poses: dict | None = None) -> np.ndarray:
        """Joint j relative to its parent joint (a root joint: to the skin's origin
        node, or the world)."""
        world = self.world(j, poses)
        p = skin.parent[j] if skin.parent[j] is not None else skin.origin
        return world if p is None else np.linalg.inv(self.world(p, poses)) @ world

    # -- clips -------------------------------------------------------------------------

    def sampled(self, index: int, fps: float = MOTION_FPS) -> Sampled:
        """Clip `index` sampled at `fps` from 0 to its duration (the last sample just
        before it: a clip loops, and t = duration is its start again)."""
        clip: Clip = self.clips[index]
        count = max(2, int(round(clip.duration * fps)) + 1)
        times = np.arange(count) / fps
        last = float(np.nextafter(clip.duration, 0.0))
        at = [min(float(t), last) for t in times]
        poses = [node_poses(clip, t, self.rest) for t in at]
        weights = {}
        animation = (self.doc.get("animations") or [])[index]
        samplers = animation.get("samplers") or []
        for ch in animation.get("channels") or []:
            target = ch.get("target") or {}
            node = target.get("node")
            if target.get("path") != "weights" or not isinstance(node, int) \
                    or not isinstance(self.nodes[node].get("mesh"), int):
                continue
            count_t = max((len(p.targets) for p in self.primitives(self.nodes[node]["mesh"])),
                          default=0)
            if not count_t:
                continue
            sampler = samplers[ch["sampler"]]
            key_times = self.accessor(sampler["input"])[:, 0].astype(np.float64)
            values = self.accessor(sampler["output"]).astype(np.float64).ravel()
            interpolation = sampler.get("interpolation", "LINEAR")
            shape = (len(key_times), 3, count_t) if interpolation == "CUBICSPLINE" \
                else (len(key_times), count_t)
            if values.size != int(np.prod(shape)) or not len(key_times):
                from engine.asset.model import AssetError

                raise AssetError(f"{self.label}: animations[{index}].samplers"
                                 f"[{ch['sampler']}].output: {values.size} weights for "
                                 f"{len(key_times)} key times of {count_t} morph targets")
            channel = Channel(node, "weights", key_times, values.reshape(shape),
                              interpolation)
            weights[node] = np.stack([sample(channel, clip_time(clip, t)) for t in at])
        return Sampled(clip.name, times, poses, weights, set(clip.nodes))


_LAST: list = []  # [(GLB bytes, its GltfScene)]: the writer's and its check's


def scene_of(glb: bytes, label: str = "the asset") -> GltfScene:
    """The GltfScene of a decoded GLB given as bytes (its buffer read from `glb` itself,
    no file kept); the same object for the same bytes object, so an export's writer and
    its check read the document once. `label`: what its errors call the file (the first
    call's stays)."""
    import tempfile

    if _LAST and _LAST[0][0] is glb:
        return _LAST[0][1]
    with tempfile.TemporaryDirectory(prefix="maquette-scene-") as tmp:
        path = Path(tmp) / "scene.glb"
        path.write_bytes(glb)
        scene = GltfScene(path, label)
        if scene.g.bin_chunk is not None:  # (the BIN chunk from memory, not the file)
            offset, length = scene.g.bin_chunk
            scene.g._data[0] = np.frombuffer(glb, dtype=np.uint8, count=length,
                                             offset=offset)
    _LAST[:] = [(glb, scene)]
    return scene


def document_content(glb: bytes) -> dict:
    """GltfScene.content of a decoded GLB given as bytes."""
    return scene_of(glb).content()
