"""USDZ from the glTF scene (engine.asset.formats.usd_scene), read back by usd-core:
skins and morph targets deform as glTF says (UsdSkel's own baking against the glTF
formulas evaluated here), every texture slot, UV set and texture transform arrives,
and every sample's package passes usd-core's validators."""

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


def _export(name: str, tmp_path: Path) -> tuple[Path, Path]:
    folder = SAMPLES / name
    source = next(p for v in ("glTF-Binary", "glTF-Embedded", "glTF")
                  for p in sorted((folder / v).glob("*.gl*")))
    asset = load_asset(source)
    out = tmp_path / f"{name}.usdz"
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


def _gltf_worlds(source: Path, t: float):
    """Every node's glTF world matrix at clip time t of the first clip (joints too)."""
    from engine.animation.clips import node_matrices, trs_matrix
    from engine.asset.clips import read_clips

    clips, rest, doc = read_clips(source, joints=True)
    nodes = doc["nodes"]
    parents = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    posed = node_matrices(clips[0], t, rest)

    def world(i):
        m = np.eye(4)
        while i is not None:
            m = posed.get(i, trs_matrix(*rest[i])) @ m
            i = parents.get(i)
        return m

    return world, doc


@pytest.mark.parametrize("name", ["SimpleSkin", "RiggedSimple"])
def test_usdz_skin_deforms_as_the_gltf_skin(name, tmp_path):
    """Was: skins and their animation were dropped (a rigid mesh). The Skeleton, its
    bind transforms and the SkelAnimation, baked by usd-core, put every vertex where
    glTF's Σ w · W(joint, t) · IBM puts it, at rest and while the clip plays."""
    from engine.asset.clips import open_gltf
    from engine.asset.formats.gltf import read_accessor

    source, out = _export(name, tmp_path)
    assert usd_errors(out) == []
    g = open_gltf(source)
    node = next(n for n in g.doc["nodes"] if "skin" in n)
    skin = g.doc["skins"][node["skin"]]
    attributes = g.doc["meshes"][node["mesh"]]["primitives"][0]["attributes"]
    points = read_accessor(g, attributes["POSITION"]).astype(float)
    joints = read_accessor(g, attributes["JOINTS_0"]).astype(int)
    weights = read_accessor(g, attributes["WEIGHTS_0"]).astype(float)
    ibm = read_accessor(g, skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    moved = []
    for code in (0, 15, 40, 60):  # (both clips last at least 2 s)
        world, _ = _gltf_worlds(source, code / 30.0)
        mats = np.stack([world(j) @ ibm[k] for k, j in enumerate(skin["joints"])])
        homo = np.c_[points, np.ones(len(points))]
        want = np.einsum("vk,vkij,vj->vi", weights, mats[joints], homo)[:, :3]
        got = _posed(out, code)
        assert np.allclose(got, want, atol=1e-4), (code, np.abs(got - want).max())
        moved.append(got)
    assert not np.allclose(moved[0], moved[2], atol=1e-3)  # the clip bends it


def test_usdz_morph_targets_follow_the_clips_weights(tmp_path):
    """Was: morph targets dropped. BlendShapes with the clip's weights, baked by
    usd-core: base + Σ wᵢ(t) · offsetᵢ, the glTF weights sampled at each time code."""
    from engine.animation.clips import Channel, sample
    from engine.asset.clips import open_gltf
    from engine.asset.formats.gltf import read_accessor

    source, out = _export("AnimatedMorphCube", tmp_path)
    assert usd_errors(out) == []
    g = open_gltf(source)
    primitive = g.doc["meshes"][0]["primitives"][0]
    base = read_accessor(g, primitive["attributes"]["POSITION"]).astype(float)
    offsets = [read_accessor(g, t["POSITION"]).astype(float) for t in primitive["targets"]]
    sampler = g.doc["animations"][0]["samplers"][g.doc["animations"][0]["channels"][0]
                                                  ["sampler"]]
    times = read_accessor(g, sampler["input"])[:, 0]
    values = read_accessor(g, sampler["output"]).reshape(len(times), len(offsets))
    channel = Channel(0, "weights", times, values, sampler.get("interpolation", "LINEAR"))
    node = g.doc["nodes"][g.doc["scenes"][0]["nodes"][0]]
    place = np.eye(4)
    if "rotation" in node or "translation" in node or "scale" in node:
        from engine.animation.clips import trs_matrix

        place = trs_matrix(node.get("translation", (0, 0, 0)),
                           node.get("rotation", (0, 0, 0, 1)), node.get("scale", (1, 1, 1)))
    spread = []
    for code in (0, 10, 30, 60, 100):  # (the clip lasts 4.2 s)
        w = sample(channel, code / 30.0)
        want = base + sum(wi * o for wi, o in zip(w, offsets, strict=True))
        want = want @ place[:3, :3].T + place[:3, 3]
        got = _posed(out, code)
        assert np.allclose(got, want, atol=1e-4), code
        spread.append(float(np.ptp(got[:, 2])))
    assert max(spread) - min(spread) > 0.1  # it changes shape


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
