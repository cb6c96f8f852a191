"""USDZ and FBX from the glTF scene (engine.asset.gltf_scene; usd_scene, fbx), read back
by their own readers: skins, morph targets and node animation move as glTF says (usd-core's
UsdSkel and ufbx's evaluation against the glTF formulas evaluated here), every texture
slot, UV set and texture transform arrives, and every sample's USDZ passes usd-core's
validators and every FBX reads in ufbx and assimp without warnings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from engine.asset.export import export_verified
from engine.asset.io import load_asset

from .test_web import usd_errors

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "gltf-samples"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/gltf-samples absent")


def _export(name: str, tmp_path: Path, fmt: str = "usdz") -> tuple[Path, Path]:
    folder = SAMPLES / name
    source = next(p for v in ("glTF-Binary", "glTF-Embedded", "glTF")
                  for p in sorted((folder / v).glob("*.gl*")))
    asset = load_asset(source)
    out = tmp_path / f"{name}.{fmt}"
    export_verified(asset.mesh, out, [source], source=asset)
    return source, out


def _posed(out: Path, code: int) -> np.ndarray:
    """World points of the package's one deformed mesh at time code `code`, as usd-core's
    UsdSkel evaluates them: blend shapes, then joints (or the rigid binding), from
    skeleton space to the world."""
    from pxr import Usd, UsdGeom, UsdSkel, Vt

    stage = Usd.Stage.Open(str(out))
    time = Usd.TimeCode(code)
    cache = UsdSkel.Cache()
    found = []
    for prim in stage.Traverse():
        if not prim.IsA(UsdSkel.Root):
            continue
        root = UsdSkel.Root(prim)
        cache.Populate(root, Usd.PrimDefaultPredicate)
        for binding in cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate):
            skel = cache.GetSkelQuery(binding.GetSkeleton())
            skel_world = np.array(UsdGeom.Xformable(binding.GetSkeleton().GetPrim())
                                  .ComputeLocalToWorldTransform(time))
            xforms = skel.ComputeSkinningTransforms(time)
            for query in binding.GetSkinningTargets():
                mesh = query.GetPrim()
                points = Vt.Vec3fArray(UsdGeom.Mesh(mesh).GetPointsAttr().Get(time))
                if query.HasBlendShapes():
                    weights = query.GetBlendShapeMapper().Remap(
                        skel.GetAnimQuery().ComputeBlendShapeWeights(time), Vt.FloatArray())
                    shapes = UsdSkel.BlendShapeQuery(UsdSkel.BindingAPI(mesh))
                    sub, shape_index, sub_index = shapes.ComputeSubShapeWeights(weights)
                    shapes.ComputeDeformedPoints(sub, shape_index, sub_index,
                                                 shapes.ComputeBlendShapePointIndices(),
                                                 shapes.ComputeSubShapePointOffsets(), points)
                if query.IsRigidlyDeformed():
                    m = np.array(query.ComputeSkinnedTransform(xforms, time))
                    p = np.asarray(points, float) @ m[:3, :3] + m[3, :3]
                else:
                    query.ComputeSkinnedPoints(xforms, points, time)
                    p = np.asarray(points, float)
                found.append(p @ skel_world[:3, :3] + skel_world[3, :3])
    assert len(found) == 1
    return found[0]


def _gltf_worlds(source: Path, t: float, clip: int = 0):
    """Every node's glTF world matrix at time t of clip `clip` (joints too)."""
    from engine.animation.clips import node_matrices, trs_matrix
    from engine.asset.clips import read_clips

    clips, rest, doc = read_clips(source, joints=True)
    nodes = doc["nodes"]
    parents = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    posed = node_matrices(clips[clip], min(t, float(np.nextafter(clips[clip].duration, 0))),
                          rest)

    def world(i):
        m = np.eye(4)
        while i is not None:
            m = posed.get(i, trs_matrix(*rest[i])) @ m
            i = parents.get(i)
        return m

    return world, doc


_UFBX_POSED = r"""
import gc, json, sys, os
gc.disable()  # (ufbx's bindings and the cycle collector: see engine.asset.formats.fbx)
import numpy as np
import ufbx
scene = ufbx.load_file(sys.argv[1])
stacks = list(scene.anim_stacks)
stack = stacks[0] if stacks else None
out = {"stacks": [st.name for st in stacks],
       "warnings": [str(w.description) for w in scene.metadata.warnings], "frames": []}
keep = []  # (every evaluated scene held: the bindings crash on freed ones)
for t in json.loads(sys.argv[2]):
    anim = stack.anim if stack is not None else scene.anim
    ev = ufbx.evaluate_scene(scene, anim, t, evaluate_skinning=True)
    keep.append(ev)
    frame = {}
    for node in list(ev.nodes):
        mesh = node.mesh
        if mesh is None:
            continue
        sk = mesh.skinned_position  # (held, with its indices read: reading only the
        pts = np.array(sk.values, dtype=float).reshape(-1, 3)  # values crashed)
        idx = np.array(sk.indices, dtype=np.int64)
        local = mesh.skinned_is_local
        if local:
            m = node.geometry_to_world
            c0, c1, c2, c3 = m.c0, m.c1, m.c2, m.c3
            cols = np.array([[c0.x, c0.y, c0.z], [c1.x, c1.y, c1.z], [c2.x, c2.y, c2.z],
                             [c3.x, c3.y, c3.z]])
            pts = pts @ cols[:3] + cols[3]
        frame[node.name] = {"points": pts.tolist(), "corners": len(idx)}
    out["frames"].append(frame)
sys.stdout.write(json.dumps(out)); sys.stdout.flush(); os._exit(0)
"""


def _fbx_posed(out: Path, codes) -> tuple[list[dict], dict]:
    """World points of every mesh model, by name, at each time code (30 a second) of
    the first take, as ufbx evaluates the FBX (skinning and blend shapes included)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _UFBX_POSED, str(out),
                          json.dumps([c / 30.0 for c in codes])], capture_output=True,
                         text=True, timeout=120)
    got = json.loads(run.stdout)
    assert got["warnings"] == []
    return [{k: np.array(v["points"]) for k, v in frame.items()}
            for frame in got["frames"]], got


def _posed_points(out: Path, fmt: str, codes) -> list[np.ndarray]:
    """The one deformed (or moving) mesh's world points at each time code."""
    if fmt == "usdz":
        return [_posed(out, code) for code in codes]
    frames, _ = _fbx_posed(out, codes)
    assert all(len(f) == 1 for f in frames)
    return [next(iter(f.values())) for f in frames]


def _gltf_skinned(source: Path, code: int) -> np.ndarray:
    """glTF's Σ w · W(joint, t) · IBM · v for the file's skinned mesh at time code."""
    from engine.asset.clips import open_gltf
    from engine.asset.formats.gltf import read_accessor

    g = open_gltf(source)
    node = next(n for n in g.doc["nodes"] if "skin" in n)
    skin = g.doc["skins"][node["skin"]]
    attributes = g.doc["meshes"][node["mesh"]]["primitives"][0]["attributes"]
    points = read_accessor(g, attributes["POSITION"]).astype(float)
    joints = read_accessor(g, attributes["JOINTS_0"]).astype(int)
    weights = read_accessor(g, attributes["WEIGHTS_0"]).astype(float)
    ibm = read_accessor(g, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    world, _ = _gltf_worlds(source, code / 30.0)
    mats = np.stack([world(j) @ ibm[k] for k, j in enumerate(skin["joints"])])
    homo = np.c_[points, np.ones(len(points))]
    return np.einsum("vk,vkij,vj->vi", weights, mats[joints], homo)[:, :3]


def _gltf_morphed(source: Path, code: int) -> np.ndarray:
    """glTF's base + Σ wᵢ(t) · offsetᵢ of the file's first mesh, placed by its node."""
    from engine.animation.clips import Channel, sample
    from engine.asset.clips import open_gltf
    from engine.asset.formats.gltf import read_accessor

    g = open_gltf(source)
    primitive = g.doc["meshes"][0]["primitives"][0]
    base = read_accessor(g, primitive["attributes"]["POSITION"]).astype(float)
    offsets = [read_accessor(g, t["POSITION"]).astype(float) for t in primitive["targets"]]
    animation = g.doc["animations"][0]
    sampler = animation["samplers"][animation["channels"][0]["sampler"]]
    times = read_accessor(g, sampler["input"])[:, 0]
    values = read_accessor(g, sampler["output"]).reshape(len(times), len(offsets))
    channel = Channel(0, "weights", times, values, sampler.get("interpolation", "LINEAR"))
    w = sample(channel, code / 30.0)
    world, doc = _gltf_worlds(source, code / 30.0)
    place = world(next(i for i, n in enumerate(doc["nodes"]) if n.get("mesh") == 0))
    want = base + sum(wi * o for wi, o in zip(w, offsets, strict=True))
    return want @ place[:3, :3].T + place[:3, 3]


@pytest.mark.parametrize("fmt", ["usdz", "fbx"])
@pytest.mark.parametrize("name", ["SimpleSkin", "RiggedSimple"])
def test_skin_deforms_as_the_gltf_skin(name, fmt, tmp_path):
    """Was: skins and their animation were dropped (a rigid mesh). USDZ: the Skeleton,
    its bind transforms and the SkelAnimation, evaluated by usd-core's UsdSkel; FBX: the
    Skin and Cluster deformers and the take, evaluated by ufbx: every vertex where glTF's
    Σ w · W(joint, t) · IBM puts it, at rest and while the clip plays."""
    source, out = _export(name, tmp_path, fmt)
    if fmt == "usdz":
        assert usd_errors(out) == []
    codes = (0, 15, 40, 60)  # (both clips last at least 2 s)
    got = _posed_points(out, fmt, codes)
    for code, points in zip(codes, got, strict=True):
        want = _gltf_skinned(source, code)
        assert np.allclose(points, want, atol=1e-4), (code, np.abs(points - want).max())
    assert not np.allclose(got[0], got[2], atol=1e-3)  # the clip bends it


@pytest.mark.parametrize("fmt", ["usdz", "fbx"])
def test_morph_targets_follow_the_clips_weights(fmt, tmp_path):
    """Was: morph targets dropped. USDZ: BlendShapes and the SkelAnimation's weights
    (usd-core); FBX: a BlendShape deformer, a channel per target and DeformPercent
    curves (ufbx): base + Σ wᵢ(t) · offsetᵢ, the glTF weights sampled at each time."""
    source, out = _export("AnimatedMorphCube", tmp_path, fmt)
    if fmt == "usdz":
        assert usd_errors(out) == []
    codes = (0, 10, 30, 60, 100)  # (the clip lasts 4.2 s)
    got = _posed_points(out, fmt, codes)
    for code, points in zip(codes, got, strict=True):
        assert np.allclose(points, _gltf_morphed(source, code), atol=1e-4), code
    spread = [float(np.ptp(p[:, 2])) for p in got]
    assert max(spread) - min(spread) > 0.1  # it changes shape


def test_fbx_keeps_the_node_tree_and_its_animation(tmp_path):
    """Was: one flat model per mesh with the motion baked per mesh. BoxAnimated's inner
    box hangs under two nodes, the outer one stands still: ufbx, evaluating the take,
    puts each where the glTF nodes' world matrices put it at each time."""
    from engine.asset.clips import open_gltf
    from engine.asset.formats.gltf import read_accessor

    source, out = _export("BoxAnimated", tmp_path, "fbx")
    codes = (0, 20, 45, 80)
    frames, got = _fbx_posed(out, codes)
    assert len(got["stacks"]) == 1
    g = open_gltf(source)
    moving = []
    for code, frame in zip(codes, frames, strict=True):
        world, doc = _gltf_worlds(source, code / 30.0)
        for i, node in enumerate(doc["nodes"]):
            if "mesh" not in node:
                continue
            prim = doc["meshes"][node["mesh"]]["primitives"][0]
            local = read_accessor(g, prim["attributes"]["POSITION"]).astype(float)
            m = world(i)
            want = local @ m[:3, :3].T + m[:3, 3]
            name = node.get("name") or f"node{i}"
            assert np.allclose(frame[name], want, atol=1e-4), (code, name)
        moving.append(frame["node2"])
    assert not np.allclose(moving[0], moving[2], atol=1e-3)


def test_usdz_material_carries_every_slot_uv_set_and_transform(tmp_path):
    """Was: base colour only, UV set 0 only, no texture transform. NormalTangentTest's
    normal, occlusion and metal/rough maps and MultiUVTest's second UV set arrive
    wired into the UsdPreviewSurface; TextureTransformTest's UsdTransform2d maps st
    where the renderer's KHR_texture_transform matrix maps it."""
    from pxr import Usd, UsdShade

    from engine.render.gltf_material import uv_set_and_transform

    _, out = _export("NormalTangentTest", tmp_path)
    stage = Usd.Stage.Open(str(out))
    surface = next(UsdShade.Shader(p) for p in stage.Traverse()
                   if p.IsA(UsdShade.Shader)
                   and UsdShade.Shader(p).GetIdAttr().Get() == "UsdPreviewSurface")
    wired = {name for name in ("diffuseColor", "normal", "occlusion", "roughness",
                               "metallic") if surface.GetInput(name)
             and surface.GetInput(name).HasConnectedSource()}
    assert wired == {"diffuseColor", "normal", "occlusion", "roughness", "metallic"}
    assert usd_errors(out) == []

    source, out = _export("MultiUVTest", tmp_path)
    stage = Usd.Stage.Open(str(out))
    readers = {UsdShade.Shader(p).GetInput("varname").GetValueProducingAttributes()[0].Get()
               for p in stage.Traverse() if p.IsA(UsdShade.Shader)
               and UsdShade.Shader(p).GetIdAttr().Get() == "UsdPrimvarReader_float2"}
    assert readers == {"st", "st1"}
    assert usd_errors(out) == []

    source, out = _export("TextureTransformTest", tmp_path)
    assert usd_errors(out) == []
    doc = json.loads(source.read_text())
    stage = Usd.Stage.Open(str(out))
    transforms = [UsdShade.Shader(p) for p in stage.Traverse() if p.IsA(UsdShade.Shader)
                  and UsdShade.Shader(p).GetIdAttr().Get() == "UsdTransform2d"]
    infos = [m["pbrMetallicRoughness"]["baseColorTexture"] for m in doc["materials"]
             if "KHR_texture_transform" in (m["pbrMetallicRoughness"].get(
                 "baseColorTexture", {}).get("extensions") or {})]
    assert len(transforms) == len(infos) > 0
    st = np.array([[0.0, 0.0], [1.0, 0.0], [0.3, 0.8], [0.9, 0.6]])
    got_all, want_all = [], []
    for shader in transforms:
        s = np.array(shader.GetInput("scale").Get(), float)
        r = math.radians(shader.GetInput("rotation").Get())
        t = np.array(shader.GetInput("translation").Get(), float)
        rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
        got_all.append(sorted(map(tuple, np.round((st * s) @ rot.T + t, 4))))
    for info in infos:
        _, m = uv_set_and_transform(info)  # Panda row vectors: uv' = uv · M
        m = np.array([[m.get_cell(i, j) for j in range(3)] for i in range(3)])
        want_all.append(sorted(map(tuple, np.round((np.c_[st, np.ones(4)] @ m)[:, :2], 4))))
    assert sorted(got_all) == sorted(want_all)


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir()
                                        if p.is_dir() and not p.name.startswith("_"))
                         if SAMPLES.is_dir() else [])
def test_every_sample_usdz_validates_and_reads_back(name, tmp_path):
    """Every sample converts (skins, morphs, points, cameras, instancing...), passes
    usd-core's validators and reads back with the source's triangles and bounds."""
    source, out = _export(name, tmp_path)
    assert usd_errors(out) == [], name


_UFBX_UV = r"""
import gc, json, os, sys
gc.disable()  # (ufbx's bindings and the cycle collector: see engine.asset.formats.fbx)
import ufbx
scene = ufbx.load_file(sys.argv[1])
meshes = list(scene.meshes)
sets = []
for mesh in meshes:
    uv_sets = mesh.uv_sets  # (held: temporaries crashed the bindings)
    sets.append([str(uv_sets[k].name) for k in range(len(uv_sets))])
maps = []
for material in list(scene.materials):
    fbx = material.fbx
    for slot in ("diffuse_color", "emission_color", "normal_map"):
        texture = getattr(fbx, slot).texture
        if texture is not None:
            maps.append([slot, str(texture.uv_set), int(texture.wrap_u), int(texture.wrap_v)])
sys.stdout.write(json.dumps({"sets": sets, "maps": maps}))
sys.stdout.flush()
os._exit(0)
"""


def test_fbx_carries_both_uv_sets_and_each_maps_set_and_wrap(tmp_path):
    """Was: UV set 0 only, every map on it, wraps dropped. MultiUVTest's emissive map
    reads its second UV set (UVMap1) and the base colour its first; TextureCoordinateTest
    keeps its clamped samplers (ufbx: wrap 1)."""
    import subprocess
    import sys

    def read(out):
        run = subprocess.run([sys.executable, "-c", _UFBX_UV, str(out)], capture_output=True,
                             text=True, timeout=120)
        return json.loads(run.stdout)

    _, out = _export("MultiUVTest", tmp_path, "fbx")
    got = read(out)
    assert got["sets"] == [["UVMap", "UVMap1"]]
    assert sorted(m[:2] for m in got["maps"]) == [["diffuse_color", "UVMap"],
                                                   ["emission_color", "UVMap1"]]
    source, out = _export("TextureTransformTest", tmp_path, "fbx")
    doc = json.loads(source.read_text())
    clamped = sum(1 for s in doc["samplers"] if s.get("wrapS") == 33071)
    got = read(out)
    assert clamped and sum(1 for m in got["maps"] if m[2] == 1) >= 1


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir()
                                        if p.is_dir() and not p.name.startswith("_"))
                         if SAMPLES.is_dir() else [])
def test_every_sample_fbx_reads_in_ufbx_and_assimp_without_warnings(name, tmp_path):
    """Every sample converts (skins, morphs, cameras, instancing...), reads back in ufbx
    with the source's triangles and bounds (export_verified) and in assimp without a
    warning."""
    import shutil
    import subprocess

    _, out = _export(name, tmp_path, "fbx")
    if shutil.which("assimp") is None:
        pytest.skip("assimp (Debian assimp-utils) not installed")
    run = subprocess.run(["assimp", "info", str(out), "-vds", "-l"], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stdout[-2000:]
    assert [line for line in (run.stdout + run.stderr).splitlines()
            if line.startswith(("Warn", "Error"))] == []


def _chain_glb(path: Path, bones: int = 12) -> Path:
    """A skinned column of `bones` joints, each turning with the clip, listed in the skin
    children first, with a plain node between two joints and the mesh node moved away
    (glTF ignores a skinned mesh's own transform): what the samples do not exercise."""
    import struct

    rng = np.random.default_rng(5)
    count = 600
    pos = rng.uniform(-0.2, 0.2, (count, 3)).astype(np.float32)
    pos[:, 1] = np.linspace(0, bones * 0.1, count)
    band = np.clip((pos[:, 1] / 0.1).astype(int), 0, bones - 1)
    joints = np.stack([band, np.minimum(band + 1, bones - 1), band, band], 1).astype(np.uint16)
    weights = np.tile(np.float32([0.6, 0.4, 0, 0]), (count, 1))
    chain = [1 + k for k in range(bones)]  # joint k is node 1 + k; node 1 + bones: plain
    spacer = 1 + bones
    ibm = np.stack([np.linalg.inv(np.array([[1, 0, 0, 0], [0, 1, 0, 0.1 * k], [0, 0, 1, 0],
                                            [0, 0, 0, 1]])) for k in range(bones)])
    times = np.linspace(0, 2, 31).astype(np.float32)
    angle = np.sin(times * 3) * 0.3
    rot = np.zeros((len(times), 4), np.float32)
    rot[:, 0], rot[:, 3] = np.sin(angle / 2), np.cos(angle / 2)
    order = list(reversed(range(bones)))  # the skin lists children first
    blobs = [pos, np.arange(count // 3 * 3, dtype=np.uint32), joints.copy(), weights,
             ibm[order].transpose(0, 2, 1).astype(np.float32), times, rot]
    remap = {k: i for i, k in enumerate(order)}
    blobs[2] = np.vectorize(remap.get)(joints).astype(np.uint16)
    binary, views = b"", []
    for blob in blobs:
        data = np.ascontiguousarray(blob).tobytes()
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(data)})
        binary += data + b"\0" * ((-len(data)) % 4)
    kinds = [(5126, "VEC3"), (5125, "SCALAR"), (5123, "VEC4"), (5126, "VEC4"), (5126, "MAT4"),
             (5126, "SCALAR"), (5126, "VEC4")]
    accessors = [{"bufferView": i, "componentType": c, "count": len(blobs[i]), "type": t}
                 for i, (c, t) in enumerate(kinds)]
    accessors[0].update(min=pos.min(0).tolist(), max=pos.max(0).tolist())
    accessors[5].update(min=[0.0], max=[2.0])
    nodes = [{"name": "body", "mesh": 0, "skin": 0, "translation": [5, 0, 0]}]
    for k in range(bones):
        node = {"name": f"bone {k}", "translation": [0, 0.1 if k else 0, 0]}
        if k == bones // 2 - 1:
            node["children"] = [spacer]
        elif k < bones - 1:
            node["children"] = [chain[k + 1]]
        nodes.append(node)
    nodes.append({"name": "spacer", "children": [chain[bones // 2]], "translation": [0, 0, 0]})
    nodes[chain[bones // 2]]["translation"] = [0, 0.1, 0]
    doc = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0, 1]}],
           "nodes": nodes, "accessors": accessors, "bufferViews": views,
           "buffers": [{"byteLength": len(binary)}],
           "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "JOINTS_0": 2,
                                                      "WEIGHTS_0": 3}, "indices": 1}]}],
           "skins": [{"joints": [chain[k] for k in order], "inverseBindMatrices": 4}],
           "animations": [{"samplers": [{"input": 5, "output": 6}] * 1,
                           "channels": [{"sampler": 0, "target": {"node": c,
                                                                  "path": "rotation"}}
                                        for c in chain]}]}
    text = json.dumps(doc).encode()
    text += b" " * ((-len(text)) % 4)
    path.write_bytes(b"glTF" + struct.pack("<II", 2, 28 + len(text) + len(binary))
                     + struct.pack("<I", len(text)) + b"JSON" + text
                     + struct.pack("<I", len(binary)) + b"BIN\0" + binary)
    return path


@pytest.mark.parametrize("fmt", ["usdz", "fbx"])
def test_a_skin_listed_children_first_with_a_plain_node_between_joints(fmt, tmp_path):
    """USDZ and FBX of a 12-joint skin whose joints are listed children first (USD wants
    parents first), with a non-joint node inside the chain and the mesh node moved away
    (glTF ignores it): every vertex where glTF's skinning puts it while the clip plays."""
    source = _chain_glb(tmp_path / "chain.glb")
    asset = load_asset(source)
    out = tmp_path / f"chain.{fmt}"
    export_verified(asset.mesh, out, [source], source=asset)
    if fmt == "usdz":
        assert usd_errors(out) == []
    codes = (0, 12, 25, 45)
    got = _posed_points(out, fmt, codes)
    for code, points in zip(codes, got, strict=True):
        want = _gltf_skinned(source, code)
        assert np.allclose(points, want, atol=1e-4), (code, np.abs(points - want).max())
    assert not np.allclose(got[0], got[1], atol=1e-3)


@pytest.mark.parametrize("fmt", ["usdz", "fbx"])
def test_gpu_instances_are_written_one_node_each(fmt, tmp_path):
    """Was: EXT_mesh_gpu_instancing drew one instance in USDZ and FBX. Every instance is
    a node of its own; read back (usd-core, ufbx) with every instance's triangles, and the
    export's check counts them from the written scene, not from the one-instance mesh."""
    from engine.asset.clips import open_gltf
    from engine.asset.export import read_back

    source, out = _export("SimpleInstancing", tmp_path, fmt)
    g = open_gltf(source)
    node = next(n for n in g.doc["nodes"] if "EXT_mesh_gpu_instancing" in
                (n.get("extensions") or {}))
    count = g.doc["accessors"][node["extensions"]["EXT_mesh_gpu_instancing"]["attributes"]
                               ["TRANSLATION"]]["count"]
    one = load_asset(source).triangles
    assert count > 1 and read_back(out)["triangles"] == count * one
    if fmt == "usdz":
        assert usd_errors(out) == []


_UFBX_UV_TO_TEXTURE = r"""
import gc, json, os, sys
gc.disable()  # (ufbx's bindings and the cycle collector: see engine.asset.formats.fbx)
import ufbx
scene = ufbx.load_file(sys.argv[1])
out = []
for texture in list(scene.textures):
    m = texture.uv_to_texture  # (each column held: temporaries crashed the bindings)
    c0, c1, c3 = m.c0, m.c1, m.c3
    out.append([str(texture.relative_filename), [[c0.x, c0.y], [c1.x, c1.y], [c3.x, c3.y]]])
sys.stdout.write(json.dumps(out))
sys.stdout.flush()
os._exit(0)
"""


def test_fbx_texture_transforms_sample_where_the_renderer_does(tmp_path):
    """Was: KHR_texture_transform dropped in FBX. The textures' Translation, Rotation and
    Scaling, read by ufbx (uv_to_texture, the FBX SDK's reading), map UVs where the
    renderer's KHR_texture_transform matrix maps them (in v-up UVs)."""
    import subprocess
    import sys

    from engine.render.gltf_material import uv_set_and_transform

    source, out = _export("TextureTransformTest", tmp_path, "fbx")
    run = subprocess.run([sys.executable, "-c", _UFBX_UV_TO_TEXTURE, str(out)],
                         capture_output=True, text=True, timeout=120)
    got = json.loads(run.stdout)
    doc = json.loads(source.read_text())
    st = np.array([[0.0, 0.0], [1.0, 0.0], [0.3, 0.8], [0.9, 0.6]])
    want = []
    for m in doc["materials"]:
        info = m["pbrMetallicRoughness"]["baseColorTexture"]
        _, matrix = uv_set_and_transform(info)  # Panda row vectors: uv' = uv · M
        matrix = np.array([[matrix.get_cell(i, j) for j in range(3)] for i in range(3)])
        want.append(sorted(map(tuple, np.round((np.c_[st, np.ones(4)] @ matrix)[:, :2], 4))))
    mapped = [sorted(map(tuple, np.round(st @ np.array(cols[:2]) + cols[2], 4)))
              for _, cols in got]
    transformed = sum(1 for m in doc["materials"] if "KHR_texture_transform" in
                      (m["pbrMetallicRoughness"]["baseColorTexture"].get("extensions") or {}))
    assert transformed >= 3
    assert sorted(mapped) == sorted(want)


def test_usdz_keeps_every_clip_as_a_variant(tmp_path):
    """Was: the first clip only (USD has one timeline). InterpolationTest's nine clips
    are the nine variants of an "animation" variant set, the first selected; with each
    selected, usd-core puts every cube where that clip's glTF nodes put it."""
    from pxr import Tf, Usd, UsdGeom

    from engine.asset.clips import open_gltf, read_clips
    from engine.asset.formats.gltf import read_accessor

    source, out = _export("InterpolationTest", tmp_path)
    assert usd_errors(out) == []
    clips = read_clips(source)[0]
    stage = Usd.Stage.Open(str(out))
    variants = stage.GetDefaultPrim().GetVariantSets().GetVariantSet("animation")
    listed = stage.GetRootLayer().customLayerData["maquette"]["clips"]
    names = sorted(listed, key=lambda v: listed[v]["order"])
    assert [listed[v]["name"] for v in names] == [c.name for c in clips]
    assert variants.GetVariantSelection() == names[0]
    g = open_gltf(source)
    doc = g.doc
    for k, variant in enumerate(names):
        session = Usd.Stage.Open(str(out))
        session.SetEditTarget(session.GetSessionLayer())
        session.GetDefaultPrim().GetVariantSets().SetSelection("animation", variant)
        assert listed[variant]["endTimeCode"] == round(clips[k].duration * 30)
        for code in (0, 17, listed[variant]["endTimeCode"]):
            world, _ = _gltf_worlds(source, code / 30.0, k)
            for prim in session.Traverse():
                if not prim.IsA(UsdGeom.Mesh):
                    continue
                node = next(i for i, n in enumerate(doc["nodes"])
                            if Tf.MakeValidIdentifier(n.get("name") or f"node{i}")
                            == prim.GetParent().GetName())
                m = world(node)
                mesh = doc["meshes"][doc["nodes"][node]["mesh"]]
                local = read_accessor(g, mesh["primitives"][0]["attributes"]["POSITION"])
                want = local @ m[:3, :3].T + m[:3, 3]
                got = _world(prim, code)
                assert np.allclose(got, want, atol=1e-4), (variant, code, prim.GetName())


def _world(prim, code: int) -> np.ndarray:
    from pxr import Usd, UsdGeom

    points = np.asarray(UsdGeom.Mesh(prim).GetPointsAttr().Get(), float)
    m = np.array(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(Usd.TimeCode(code)))
    return points @ m[:3, :3] + m[3, :3]


@pytest.mark.parametrize("fmt", ["usdz", "fbx"])
def test_the_export_check_counts_skins_morphs_clips_from_the_source_scene(fmt, tmp_path):
    """The check of a USDZ or FBX export reads back how many meshes are skinned, morph
    targets, second UV sets, vertex colours and clips, and compares them with the source
    scene (GltfScene.content): a file written from the flattened mesh alone (no skin, no
    clip) fails it, naming what did not come back."""
    from engine.asset.export import expected_figures, export_mesh, verify_export
    from engine.asset.formats.gltf_decode import packed_glb
    from engine.asset.gltf_scene import document_content
    from engine.asset.model import AssetError

    source = SAMPLES / "SimpleSkin" / "glTF-Embedded" / "SimpleSkin.gltf"
    asset = load_asset(source)
    expected = expected_figures(asset.mesh, fmt)
    expected.update(document_content(packed_glb(source)))
    assert expected["skinned"] == 1 and expected["clips"] == 1
    good = export_mesh(asset.mesh, tmp_path / f"good.{fmt}", document=packed_glb(source))
    got = verify_export(good.path, expected, fmt)
    assert got["skinned"] == 1 and got["clips"] == 1
    flat = export_mesh(asset.mesh, tmp_path / f"flat.{fmt}")  # (the mesh as a GLB: rigid)
    with pytest.raises(AssetError, match="0 of 1 skinned meshes came back.*0 of 1 animation"):
        verify_export(flat.path, expected, fmt)


@pytest.mark.parametrize("fmt", ["usdz", "fbx"])
def test_same_named_targets_and_meshes_stay_apart(fmt, tmp_path):
    """Two morph targets with one name, and the morphing mesh placed twice by nodes of
    one name: every target comes back (USD named each prim and each weight apart)."""
    from engine.asset.export import read_back
    from engine.asset.formats.gltf import join_glb, split_glb

    doc, binary = split_glb((SAMPLES / "AnimatedMorphCube" / "glTF-Binary" /
                             "AnimatedMorphCube.glb").read_bytes())
    doc["meshes"][0]["extras"] = {"targetNames": ["smile", "smile"]}
    node = doc["scenes"][0]["nodes"][0]
    twin = dict(doc["nodes"][node], translation=[3.0, 0.0, 0.0])
    doc["nodes"].append(twin)
    doc["scenes"][0]["nodes"].append(len(doc["nodes"]) - 1)
    source = tmp_path / "twins.glb"
    source.write_bytes(join_glb(doc, binary))
    asset = load_asset(source)
    out = tmp_path / f"twins.{fmt}"
    export_verified(asset.mesh, out, [source], source=asset)
    got = read_back(out)
    assert got["morph_targets"] == 4 and got["triangles"] == asset.triangles
    if fmt == "usdz":
        assert usd_errors(out) == []
        from pxr import Usd, UsdSkel

        stage = Usd.Stage.Open(str(out))
        names = [list(UsdSkel.Animation(p).GetBlendShapesAttr().Get() or [])
                 for p in stage.Traverse() if p.IsA(UsdSkel.Animation)]
        assert sum(map(len, names)) == 4  # (each animation's names apart)
        assert all(len(n) == len(set(n)) for n in names)


@pytest.mark.parametrize("fmt", ["usdz", "fbx"])
def test_a_malformed_weights_track_is_refused_naming_file_and_field(fmt, tmp_path):
    """A morph-weights sampler with fewer values than its key times × targets: the export
    is refused naming the source file and the sampler's output, and nothing is written."""
    from engine.asset.formats.gltf import join_glb, split_glb
    from engine.asset.model import AssetError

    doc, binary = split_glb((SAMPLES / "AnimatedMorphCube" / "glTF-Binary" /
                             "AnimatedMorphCube.glb").read_bytes())
    animation = doc["animations"][0]
    sampler = animation["channels"][0]["sampler"]
    doc["accessors"][animation["samplers"][sampler]["output"]]["count"] -= 3
    source = tmp_path / "bad.glb"
    source.write_bytes(join_glb(doc, binary))
    asset = load_asset(source)
    out = tmp_path / f"bad.{fmt}"
    with pytest.raises(AssetError, match=rf"bad\.glb: animations\[0\]\.samplers\[{sampler}\]"
                                         r"\.output: 251 weights for 127 key times"):
        export_verified(asset.mesh, out, [source], source=asset)
    assert not out.exists()


def test_export_says_what_the_check_counted(tmp_path):
    """`maquette export` prints the skins, morphs and clips that the check read back."""
    import subprocess
    import sys

    source = SAMPLES / "RiggedSimple" / "glTF-Binary" / "RiggedSimple.glb"
    run = subprocess.run([sys.executable, "-m", "engine.cli", "export", str(source), "-o",
                          str(tmp_path / "out.fbx")], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "verified with ufbx: 188 triangles, bounds match, texture no, 1 skinned mesh, " \
           "1 clip" in run.stdout


@pytest.mark.parametrize("fmt", ["usdz", "fbx"])
def test_a_prepped_skin_keeps_its_precision(fmt, tmp_path):
    """`prep --height 2 --pivot base` puts a scaling root above RiggedSimple's joints. The
    USDZ's skeleton hangs from the joints' parent node, so that scale stays in a matrix
    op and not in SkelAnimation's half-float scales (they were off by 0.46 mm on 2 m):
    both formats skin to within 1e-5 of glTF's formula on the prepped GLB."""
    from engine.cli import main

    source = SAMPLES / "RiggedSimple" / "glTF-Binary" / "RiggedSimple.glb"
    prepped, out = tmp_path / "prepped.glb", tmp_path / f"prepped.{fmt}"
    for target in (prepped, out):
        assert main(["prep", str(source), "--height", "2", "--pivot", "base", "-o",
                     str(target)]) == 0
    codes = (0, 30, 55)
    for code, points in zip(codes, _posed_points(out, fmt, codes), strict=True):
        want = _gltf_skinned(prepped, code)
        assert np.abs(points - want).max() < 1e-5, code
        assert points[:, 1].min() == pytest.approx(0.0, abs=1e-4)  # (stands on its base)
