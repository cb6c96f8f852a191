"""The renderer draws what glTF materials carry (issue 14, Render): alpha modes, normal and
occlusion maps (tangents generated when missing), unlit, emissive strength, vertex colours,
the second UV set, KHR_texture_transform, EXT_mesh_gpu_instancing, a plane lying on the
ground. Stills rendered offscreen (EGL), checked by a property of the picture and, for the
Khronos samples in ../shared/gltf-samples (licences there), against our reference images
in tests/data/gltf_render/ (looked at next to each sample's screenshot/; regenerate with
MAQUETTE_UPDATE_REFERENCES=1)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.asset.formats.gltf import join_glb, split_glb
from engine.render.stage import Stage
from engine.scene import scene_from_dict
from tests.test_gltf_render import needs_samples, sample_file, sample_scene

REFERENCES = Path(__file__).parent / "data" / "gltf_render"
SIZE = 128


def render(scene, size: int = SIZE) -> np.ndarray:
    with Stage(scene, size, size) as stage:
        return stage.capture(0.0)


def file_scene(path: Path, *, transparent: bool = True, ground: bool = False,
               lights: str = "studio"):
    return scene_from_dict({
        "asset": {"source": str(path)},
        "output": {"height": SIZE, "aspect": "1:1", "msaa": 0, "file": "out/frames/"},
        "camera": {"move": "static"},
        "stage": {"background": "transparent" if transparent else "#202020",
                  "ground": ground, "lights": lights},
    }, None)


# --- tiny glTF files ------------------------------------------------------------------


def png_uri(pixels) -> str:
    """A data URI of an RGBA PNG from a (h, w, 4) uint8 array."""
    out = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), "RGBA").save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def quads_gltf(path: Path, quads: list[dict], *, images=(), extensions=()) -> Path:
    """A glTF of unit quads facing +Z, one mesh node each. A quad: material (dict), z
    (metres), x (metres), uv0 / uv1 (4x2 corner UVs), colors (4x4 RGBA) optional."""
    blob = b""
    accessors, views, meshes, nodes, materials = [], [], [], [], []

    def add(values, kind, component=5126, target=34962):
        nonlocal blob
        data = np.asarray(values, dtype=np.float32 if component == 5126 else np.uint16)
        raw = data.tobytes()
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(raw),
                      "target": target})
        entry = {"bufferView": len(views) - 1, "componentType": component,
                 "count": len(data), "type": kind}
        if kind == "VEC3" and component == 5126:
            entry["min"] = data.min(axis=0).tolist()
            entry["max"] = data.max(axis=0).tolist()
        accessors.append(entry)
        blob += raw + b"\0" * (-len(raw) % 4)
        return len(accessors) - 1

    for quad in quads:
        half = quad.get("half", 0.5)
        z = quad.get("z", 0.0)
        x = quad.get("x", 0.0)
        positions = [[x - half, -half + 0.5, z], [x + half, -half + 0.5, z],
                     [x + half, half + 0.5, z], [x - half, half + 0.5, z]]
        attributes = {"POSITION": add(positions, "VEC3"),
                      "NORMAL": add([[0, 0, 1.0]] * 4, "VEC3")}
        uv0 = quad.get("uv0", [[0, 1.0], [1.0, 1.0], [1.0, 0], [0, 0]])
        attributes["TEXCOORD_0"] = add(uv0, "VEC2")
        if "uv1" in quad:
            attributes["TEXCOORD_1"] = add(quad["uv1"], "VEC2")
        if "colors" in quad:
            attributes["COLOR_0"] = add(quad["colors"], "VEC4")
        indices = add([0, 1, 2, 0, 2, 3], "SCALAR", 5123, 34963)
        materials.append(quad["material"])
        meshes.append({"primitives": [{"attributes": attributes, "indices": indices,
                                       "material": len(materials) - 1}]})
        nodes.append({"mesh": len(meshes) - 1})
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0, "scenes": [{"nodes": list(range(len(nodes)))}],
        "nodes": nodes, "meshes": meshes, "materials": materials,
        "accessors": accessors, "bufferViews": views,
        "buffers": [{"byteLength": len(blob), "uri": "data:application/octet-stream;base64,"
                     + base64.b64encode(blob).decode()}],
    }
    if images:
        doc["images"] = [{"uri": uri} for uri in images]
        doc["samplers"] = [{"magFilter": 9728, "minFilter": 9728}]
        doc["textures"] = [{"source": i, "sampler": 0} for i in range(len(images))]
    if extensions:
        doc["extensionsUsed"] = list(extensions)
    path.write_text(json.dumps(doc))
    return path


def plain(color, **more) -> dict:
    return {"pbrMetallicRoughness": {"baseColorFactor": list(color), "metallicFactor": 0.0,
                                     "roughnessFactor": 1.0}, **more}


def centre(frame: np.ndarray, r: int = 6) -> np.ndarray:
    """Mean RGBA of the middle of the picture (where the quads are)."""
    h, w = frame.shape[:2]
    return frame[h // 2 - r:h // 2 + r, w // 2 - r:w // 2 + r].reshape(-1, 4).mean(axis=0)


# --- alpha ----------------------------------------------------------------------------


@pytest.mark.parametrize("material, expected_alpha", [
    (plain((1, 0, 0, 0.3)), 255),                                    # OPAQUE ignores alpha
    (plain((1, 0, 0, 0.3), alphaMode="BLEND"), 0.3 * 255),           # drawn 30 % covering
    (plain((1, 0, 0, 0.3), alphaMode="MASK"), 0),                    # default cutoff 0.5
    (plain((1, 0, 0, 0.3), alphaMode="MASK", alphaCutoff=0.2), 255),  # above the cutoff
], ids=["opaque", "blend", "mask-below", "mask-above"])
def test_alpha_modes(tmp_path, material, expected_alpha):
    """Was: BLEND and MASK ignored (every quad fully opaque)."""
    frame = render(file_scene(quads_gltf(tmp_path / "quad.gltf", [{"material": material}])))
    assert abs(centre(frame)[3] - expected_alpha) <= 3


def test_mask_cuts_along_the_texture_alpha(tmp_path):
    """MASK with a texture: the left half (alpha 0.1) is gone, the right (0.9) drawn."""
    texture = np.zeros((1, 2, 4), np.uint8)
    texture[..., 0] = 255
    texture[0, 0, 3], texture[0, 1, 3] = 25, 230
    material = {"pbrMetallicRoughness": {"baseColorTexture": {"index": 0},
                                         "metallicFactor": 0.0}, "alphaMode": "MASK"}
    path = quads_gltf(tmp_path / "mask.gltf", [{"material": material, "half": 1.0}],
                      images=[png_uri(texture)])
    frame = render(file_scene(path))
    row = frame[SIZE // 2, :, 3]
    covered = np.nonzero(row > 128)[0]
    assert len(covered) > 10 and covered.min() > SIZE // 2 - 3  # only the right half


def test_blend_is_sorted_back_to_front(tmp_path):
    """Two half-transparent quads, the near (red) one first in the file: drawn far to
    near, the near red dominates (drawn in file order without depth sorting, the far
    blue would either vanish behind the depth of the red or cover it)."""
    quads = [{"material": plain((1, 0, 0, 0.5), alphaMode="BLEND"), "z": 0.3},
             {"material": plain((0, 0, 1, 0.5), alphaMode="BLEND"), "z": -0.3}]
    frame = render(file_scene(quads_gltf(tmp_path / "two.gltf", quads)))
    r, g, b, a = centre(frame)
    assert r > b > 20  # the blue shows through, under the red
    assert abs(a - 0.75 * 255) <= 4  # 1 - (1 - 0.5)(1 - 0.5)


def test_what_alpha_leaves_out_casts_no_shadow(tmp_path):
    """On the ground (transparent output: the shadow is in the alpha channel, outside the
    quad's own pixels), an opaque quad casts a shadow; masked out entirely it casts none;
    BLEND (drawn without depth writes, in the shadow map too) casts none yet."""
    def scene(material, ground):
        return file_scene(quads_gltf(tmp_path / "q.gltf", [{"material": material}]),
                          ground=ground)

    footprint = render(scene(plain((1, 1, 1, 1)), ground=False))[..., 3] > 0
    grown = footprint.copy()
    for axis in (0, 1):
        for shift in (-2, -1, 1, 2):
            grown |= np.roll(footprint, shift, axis=axis)

    def shadow(material):
        return render(scene(material, ground=True))[..., 3][~grown].astype(int).sum()

    assert shadow(plain((1, 1, 1, 0.3))) > 2000  # OPAQUE: its shadow
    assert shadow(plain((1, 1, 1, 0.3), alphaMode="MASK")) == 0
    assert shadow(plain((1, 1, 1, 0.9), alphaMode="BLEND")) > 2000  # covers >= half
    assert shadow(plain((1, 1, 1, 0.3), alphaMode="BLEND")) == 0


@needs_samples
def test_alpha_blend_mode_sample(tmp_path):
    """AlphaBlendModeTest: the opaque bar hides its black border, the BLEND bar shows the
    marble wall through, and each MASK bar is cut at its own height."""
    frame = render(sample_scene("AlphaBlendModeTest", height=256), 256)[..., :3]
    check_reference("AlphaBlendModeTest", frame)


# --- normal and occlusion maps --------------------------------------------------------


def _edited_glb(tmp_path: Path, name: str, edit) -> Path:
    doc, binary = split_glb(sample_file(name).read_bytes())
    edit(doc)
    out = tmp_path / f"{name}-edited.glb"
    out.write_bytes(join_glb(doc, binary))
    return out


@needs_samples
def test_normal_map_changes_shading_and_generated_tangents_match_the_files(tmp_path):
    """NormalTangentTest: with its normal map the spheres' shading differs from without
    (was: normal maps ignored); with TANGENT removed (tangents generated) the picture is
    the one drawn with the file's tangents."""
    def no_normal_map(doc):
        for material in doc["materials"]:
            material.pop("normalTexture", None)

    def no_tangents(doc):
        for mesh in doc["meshes"]:
            for primitive in mesh["primitives"]:
                primitive["attributes"].pop("TANGENT", None)

    with_map = render(sample_scene("NormalTangentTest", height=256), 256)[..., :3]
    check_reference("NormalTangentTest", with_map)
    flat = render(file_scene(_edited_glb(tmp_path, "NormalTangentTest", no_normal_map),
                             transparent=False, ground=True), 256)[..., :3]
    generated = render(file_scene(_edited_glb(tmp_path, "NormalTangentTest", no_tangents),
                                  transparent=False, ground=True), 256)[..., :3]
    files_tangents = render(file_scene(sample_file("NormalTangentTest"),
                                       transparent=False, ground=True), 256)[..., :3]
    differ = np.abs(flat.astype(int) - files_tangents).sum(axis=2) > 24
    assert differ.mean() > 0.02  # of the whole frame: most of the spheres
    close = np.abs(generated.astype(int) - files_tangents).sum(axis=2) > 24
    assert close.mean() < 0.25 * differ.mean()


def test_tangents_follow_u_and_v(tmp_path):
    """vertex_tangents: a quad in XY with U along +X and V (up) along +Y gets tangent +X,
    w = +1; with U mirrored, tangent -X and w = -1 (cross(n, t) * w stays +Y)."""
    from engine.render.gltf_material import vertex_tangents

    p = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    n = np.tile([0, 0, 1.0], (4, 1))
    tri = np.array([[0, 1, 2], [0, 2, 3]])
    t = vertex_tangents(p, n, np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]]), tri)
    assert np.allclose(t, [[1, 0, 0, 1]] * 4)
    mirrored = vertex_tangents(p, n, np.array([[1, 0], [0, 0], [0, 1], [1, 1.0]]), tri)
    assert np.allclose(mirrored, [[-1, 0, 0, -1]] * 4)


def test_tangents_come_from_the_normal_maps_uv_set(tmp_path):
    """A normal map read through TEXCOORD_1 (TEXCOORD_0 degenerate) shades as the same map
    through TEXCOORD_0: its tangents were generated from its own UV set."""
    tilted = np.zeros((1, 1, 4), np.uint8)
    tilted[0, 0] = (230, 128, 200, 255)  # a normal leaning along +U
    corners = [[0, 1.0], [1.0, 1.0], [1.0, 0], [0, 0]]

    def frame(name, quad):
        return centre(render(file_scene(quads_gltf(tmp_path / name, [quad],
                                                   images=[png_uri(tilted)]))))

    flat = frame("flat.gltf", {"material": plain((0.8, 0.8, 0.8, 1))})
    uv0 = frame("uv0.gltf", {"material": plain((0.8, 0.8, 0.8, 1),
                                               normalTexture={"index": 0})})
    uv1 = frame("uv1.gltf", {"material": plain((0.8, 0.8, 0.8, 1),
                                               normalTexture={"index": 0, "texCoord": 1}),
                             "uv0": [[0.5, 0.5]] * 4, "uv1": corners})
    assert np.abs(uv0[:3] - flat[:3]).max() > 5
    assert np.abs(uv1[:3] - uv0[:3]).max() <= 1


def test_occlusion_map_darkens_the_ambient(tmp_path):
    """occlusionTexture (r = 0, strength 1) darkens; strength 0 is as without."""
    black = np.zeros((1, 1, 4), np.uint8)
    black[..., 3] = 255

    def scene(strength):
        material = plain((0.8, 0.8, 0.8, 1))
        if strength is not None:
            material["occlusionTexture"] = {"index": 0, "strength": strength}
        return file_scene(quads_gltf(tmp_path / f"ao{strength}.gltf", [{"material": material}],
                                     images=[png_uri(black)]))

    without = centre(render(scene(None)))[:3].mean()
    occluded = centre(render(scene(1.0)))[:3].mean()
    none = centre(render(scene(0.0)))[:3].mean()
    assert occluded < 0.8 * without
    assert abs(none - without) < 1


# --- unlit, emissive strength ---------------------------------------------------------


def test_unlit_draws_the_base_colour_alone(tmp_path):
    """KHR_materials_unlit: the quad is its base colour, however lit (was: shaded)."""
    lit = plain((0.2, 0.4, 0.6, 1))
    unlit = plain((0.2, 0.4, 0.6, 1), extensions={"KHR_materials_unlit": {}})
    a = centre(render(file_scene(quads_gltf(tmp_path / "lit.gltf", [{"material": lit}]))))
    b = centre(render(file_scene(quads_gltf(tmp_path / "unlit.gltf", [{"material": unlit}],
                                            extensions=["KHR_materials_unlit"]))))
    assert np.abs(a[:3] - b[:3]).max() > 8
    # the base colour through exposure and tone mapping alone, the same in every light
    sunset = centre(render(file_scene(tmp_path / "unlit.gltf", lights="sunset")))
    assert np.abs(sunset[:3] - b[:3]).max() <= 1
    lit_sunset = centre(render(file_scene(tmp_path / "lit.gltf", lights="sunset")))
    assert np.abs(lit_sunset[:3] - a[:3]).max() > 8


@needs_samples
def test_unlit_sample_is_flat():
    """UnlitTest: each cube is one flat colour (was: lit faces, shadowed)."""
    frame = render(sample_scene("UnlitTest", height=256), 256)[..., :3]
    check_reference("UnlitTest", frame)
    orange = frame[(frame[..., 0] > 150) & (frame[..., 2] < 100)].astype(float)
    assert len(orange) > 2000 and orange.std(axis=0).max() < 3


def test_emissive_strength_multiplies_the_emission(tmp_path):
    def brightness(strength):
        material = plain((0, 0, 0, 1), emissiveFactor=[0.1, 0.1, 0.1])
        if strength is not None:
            material["extensions"] = {"KHR_materials_emissive_strength":
                                      {"emissiveStrength": strength}}
        path = quads_gltf(tmp_path / f"e{strength}.gltf", [{"material": material}],
                          extensions=["KHR_materials_emissive_strength"])
        return centre(render(file_scene(path)))[:3].mean()

    assert brightness(4.0) > 1.5 * brightness(None)
    assert abs(brightness(1.0) - brightness(None)) < 1


@needs_samples
def test_emissive_strength_sample():
    check_reference("EmissiveStrengthTest",
                    render(sample_scene("EmissiveStrengthTest", height=256), 256)[..., :3])


# --- vertex colours, UV sets, texture transform ---------------------------------------


def _two_colour_texture():
    texture = np.zeros((1, 2, 4), np.uint8)
    texture[0, 0] = (255, 0, 0, 255)  # u < 0.5: red
    texture[0, 1] = (0, 255, 0, 255)  # u > 0.5: green
    return png_uri(texture)


@pytest.mark.parametrize("texture_info, expected", [
    ({"index": 0}, "red"),
    ({"index": 0, "texCoord": 1}, "green"),
    ({"index": 0, "extensions": {"KHR_texture_transform": {"offset": [0.5, 0]}}}, "green"),
    ({"index": 0, "extensions": {"KHR_texture_transform": {"texCoord": 1,
                                                           "offset": [-0.5, 0]}}}, "red"),
], ids=["uv0", "uv1", "transform", "transform-texcoord"])
def test_texture_uv_set_and_transform(tmp_path, texture_info, expected):
    """Was: TEXCOORD_1 ignored (every texture read UV set 0)."""
    material = {"pbrMetallicRoughness": {"baseColorTexture": texture_info,
                                         "metallicFactor": 0.0},
                "extensions": {"KHR_materials_unlit": {}}}
    quad = {"material": material, "uv0": [[0.25, 0.5]] * 4, "uv1": [[0.75, 0.5]] * 4}
    path = quads_gltf(tmp_path / "uv.gltf", [quad], images=[_two_colour_texture()],
                      extensions=["KHR_materials_unlit", "KHR_texture_transform"])
    r, g, b, _ = centre(render(file_scene(path)))
    assert (r > 4 * g) if expected == "red" else (g > 4 * r)


def test_vertex_colours_multiply_the_base_colour(tmp_path):
    material = plain((1, 1, 1, 1), extensions={"KHR_materials_unlit": {}})
    quad = {"material": material, "colors": [[0, 0, 1.0, 1]] * 4}
    frame = render(file_scene(quads_gltf(tmp_path / "c.gltf", [quad],
                                         extensions=["KHR_materials_unlit"])))
    r, g, b, _ = centre(frame)
    assert b > 4 * max(r, g)  # (tone mapping desaturates pure blue a little)


@needs_samples
def test_multi_uv_sample_uses_the_second_set():
    """MultiUVTest: the emissive glTF logo is read through TEXCOORD_1 (through UV set 0
    the faces read 'Multiple UVs not supported in this viewer')."""
    check_reference("MultiUVTest", render(sample_scene("MultiUVTest", height=256), 256)[..., :3])


@needs_samples
def test_texture_transform_sample():
    check_reference("TextureTransformTest",
                    render(sample_scene("TextureTransformTest", height=256), 256)[..., :3])


# --- instancing, a plane on the ground --------------------------------------------------


@needs_samples
def test_gpu_instancing_draws_every_instance():
    """SimpleInstancing: EXT_mesh_gpu_instancing (was: one box drawn)."""
    from engine.render.asset_node import load_asset_node

    doc, _ = split_glb(sample_file("SimpleInstancing").read_bytes())
    count = sum(doc["accessors"][n["extensions"]["EXT_mesh_gpu_instancing"]["attributes"]
                                 ["TRANSLATION"]]["count"]
                for n in doc["nodes"] if "EXT_mesh_gpu_instancing" in n.get("extensions", {}))
    node, bounds = load_asset_node(sample_file("SimpleInstancing"))
    assert count > 1
    assert node.find_all_matches("**/+GeomNode").get_num_paths() >= count
    assert bounds.size.min() > 3  # the instances spread, the one box is 1 m
    check_reference("SimpleInstancing",
                    render(sample_scene("SimpleInstancing", height=256), 256)[..., :3])


@needs_samples
def test_two_sided_plane_on_the_ground_does_not_z_fight():
    """TwoSidedPlane lies at the ground's height: every pixel of its outline is the wood
    texture (was: the shadow catcher erased stripes of it)."""
    for size in (256, 384):  # (before, the stripes came and went with the size: 384 had)
        frame = render(sample_scene("TwoSidedPlane", height=size), size)[..., :3].astype(int)
        wood = (frame[..., 0] - frame[..., 2]) > 40
        rows = np.nonzero(wood.any(axis=1))[0]
        assert len(rows) > size // 10
        for y in rows[2:-2]:
            xs = np.nonzero(wood[y])[0]
            assert wood[y, xs.min():xs.max() + 1].mean() > 0.97, (size, y)
    check_reference("TwoSidedPlane", frame)


# --- reference pictures -----------------------------------------------------------------


def check_reference(name: str, frame: np.ndarray) -> None:
    """`frame` against tests/data/gltf_render/NAME.png: mean difference under 2 levels
    (of 255) and under 1 % of pixels off by more than 48 (summed over RGB), which holds
    across GL drivers' rounding but not for a missing feature (a lost normal map, alpha
    or instance changes far more). MAQUETTE_UPDATE_REFERENCES=1 writes the reference."""
    path = REFERENCES / f"{name}.png"
    if os.environ.get("MAQUETTE_UPDATE_REFERENCES"):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(frame, np.uint8)).save(path)
    reference = np.asarray(Image.open(path).convert("RGB"), dtype=int)
    assert reference.shape == frame.shape, (name, reference.shape, frame.shape)
    diff = np.abs(reference - np.asarray(frame, dtype=int))
    assert diff.mean() < 2.0, (name, diff.mean())
    assert (diff.sum(axis=2) > 48).mean() < 0.01, (name, (diff.sum(axis=2) > 48).mean())


def test_png_uri_round_trip():
    """(The helper the tests above build textures with.)"""
    pixels = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    data = base64.b64decode(png_uri(pixels).split(",", 1)[1])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)
    assert struct.unpack(">I", data[8:12])[0] == 13  # IHDR


# --- skins ------------------------------------------------------------------------------


@needs_samples
@pytest.mark.parametrize("animation, at", [("none", 0.0), (None, 0.0), (None, 1.0)])
def test_skinned_figure_stands(animation, at):
    """RiggedSimple (a cylinder under a Z_UP node, skinned): it stands, as in its
    screenshot (was: lying along the view axis, its bounds longest in depth, 0.3 of the
    frame tall). At rest and posed by its own animation (bending, as the screenshot)."""
    from engine.render.asset_node import load_asset_node

    _, bounds = load_asset_node(sample_file("RiggedSimple"))
    assert bounds.size[1] > 3 * max(bounds.size[0], bounds.size[2])
    scene = sample_scene("RiggedSimple", height=128,
                         **({"animation": animation} if animation else {}))
    with Stage(scene, 128, 128) as stage:
        frame = stage.capture(at)[..., :3].astype(int)
    green = (frame[..., 1] - frame[..., 0]) > 30
    ys, xs = np.nonzero(green)
    tall, wide = ys.max() - ys.min(), xs.max() - xs.min()
    assert tall > 0.6 * 128 and tall > 2 * wide, (tall, wide)  # (bent at 1 s: 2.7)


@needs_samples
def test_skinned_figure_follows_a_parent_added_above_it(tmp_path):
    """RiggedSimple under one more parent turning it 90 degrees about Z (glTF: the joints'
    world transforms include it, the inverse binds do not): it lies along X, as a rigid
    mesh under that parent would."""
    from engine.render.asset_node import load_asset_node

    def turned(doc):
        half = float(np.sqrt(0.5))
        doc["nodes"].append({"rotation": [0, 0, half, half],
                             "children": list(doc["scenes"][0]["nodes"])})
        doc["scenes"][0]["nodes"] = [len(doc["nodes"]) - 1]

    _, bounds = load_asset_node(_edited_glb(tmp_path, "RiggedSimple", turned))
    assert bounds.size[0] > 3 * max(bounds.size[1], bounds.size[2]), bounds.size


@pytest.mark.parametrize("field, value, named", [
    ("alphaCutoff", "high", "materials[0].alphaCutoff"),
    ("normalTexture", {"index": 0, "scale": "x"}, "materials[0].normalTexture.scale"),
    ("emissiveFactor", [1, 0], "materials[0].emissiveFactor"),
])
def test_a_material_number_that_is_not_one_is_named(tmp_path, field, value, named):
    """Was: 'cannot load glTF: must be real number, not str' (no material, no field)."""
    from engine.asset.model import AssetError
    from engine.render.asset_node import load_asset_node

    white = np.full((1, 1, 4), 255, np.uint8)
    path = quads_gltf(tmp_path / "bad.gltf", [{"material": plain((1, 0, 0, 1),
                                                                 **{field: value})}],
                      images=[png_uri(white)])
    with pytest.raises(AssetError, match=r"bad\.gltf.*" + re.escape(named)):
        load_asset_node(path)
