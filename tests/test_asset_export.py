"""Every export format written and read back: by our verifier (trimesh, ufbx, usd-core)
and, where installed, by an independent reader (Debian's assimp)."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image
from trimesh.visual import TextureVisuals
from trimesh.visual.material import PBRMaterial

from engine.asset.export import (
    EXPORT_FORMATS,
    bake_animation,
    expected_figures,
    export_mesh,
    read_back,
    verify_export,
)
from engine.asset.formats.fbx import read_fbx
from engine.asset.io import load_asset
from engine.asset.model import AssetError
from engine.errors import InputError

ASSIMP = shutil.which("assimp")
ASSIMP_READS = {"glb", "gltf", "obj", "fbx", "stl", "ply"}


def textured_box() -> trimesh.Trimesh:
    """A 0.2 x 0.3 x 0.1 m box standing on y = 0, one UV island per face, a texture."""
    box = trimesh.creation.box(extents=(0.2, 0.3, 0.1))
    box.apply_translation((0, 0.15, 0))
    vertices = box.vertices[box.faces].reshape(-1, 3)
    faces = np.arange(len(vertices)).reshape(-1, 3)
    uv = np.tile([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]], (len(faces), 1))
    pixels = np.zeros((32, 32, 3), np.uint8)
    pixels[..., 0] = np.arange(32)[:, None] * 8
    pixels[..., 2] = 200
    material = PBRMaterial(baseColorTexture=Image.fromarray(pixels), roughnessFactor=0.6)
    return trimesh.Trimesh(vertices, faces, visual=TextureVisuals(uv=uv, material=material),
                           process=False)


def assimp_info(path: Path) -> dict:
    result = subprocess.run([ASSIMP, "info", str(path)], capture_output=True, text=True,
                            timeout=60)
    out = result.stdout
    assert result.returncode == 0, result.stdout + result.stderr

    def number(label):
        match = re.search(rf"^{label}:\s+(\d+)", out, re.M)
        return int(match.group(1)) if match else 0

    def point(label):
        match = re.search(rf"^{label} point\s+\(([-\d.e+]+) ([-\d.e+]+) ([-\d.e+]+)\)", out, re.M)
        return np.array([float(x) for x in match.groups()])

    return {"faces": number("Faces"), "embedded": number(r"Textures \(embed\.\)"),
            "animations": number("Animations"),
            "texture_refs": "Texture Refs" in out,
            "bounds": np.array([point("Minimum"), point("Maximum")])}


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_every_format_reads_back(tmp_path, fmt):
    mesh = textured_box()
    result = export_mesh(mesh, tmp_path / f"box.{fmt}")
    assert result.path.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial left
    got = verify_export(result.path, expected_figures(mesh, fmt))
    assert got["triangles"] == 12
    assert np.allclose(got["bounds"], [[-0.1, 0, -0.05], [0.1, 0.3, 0.05]], atol=1e-5)
    assert got["textured"] == (fmt in ("glb", "gltf", "obj", "fbx", "usdz"))
    if fmt == "gltf":
        assert (tmp_path / "box.bin").is_file()
        doc = json.loads(result.path.read_text())
        assert doc["buffers"][0]["uri"] == "box.bin"
    if fmt == "fbx":
        assert (tmp_path / "box_basecolor.png").is_file()  # referenced as well as embedded
    if fmt == "obj":
        assert (tmp_path / "box.mtl").is_file() and (tmp_path / "box_basecolor.png").is_file()


@pytest.mark.skipif(ASSIMP is None, reason="assimp (Debian assimp-utils) not installed")
@pytest.mark.parametrize("fmt", sorted(ASSIMP_READS))
def test_assimp_reads_every_export(tmp_path, fmt):
    mesh = textured_box()
    result = export_mesh(mesh, tmp_path / f"box.{fmt}")
    info = assimp_info(result.path)
    assert info["faces"] == 12
    expected = np.array([[-0.1, 0, -0.05], [0.1, 0.3, 0.05]])
    if fmt == "fbx":
        # assimp applies the file's UnitScaleFactor (100 = metres) as a x100 root scale
        # on the node, not on the mesh, so compare extents of the raw mesh.
        assert np.allclose(np.ptp(info["bounds"], axis=0), np.ptp(expected, axis=0), atol=1e-4)
    else:
        assert np.allclose(info["bounds"], expected, atol=1e-4)
    if fmt in ("glb", "fbx"):
        assert info["embedded"] == 1
    if fmt in ("obj", "gltf"):
        assert info["texture_refs"] or info["embedded"]


def test_fbx_structure_and_embedded_texture(tmp_path):
    import io

    mesh = textured_box()
    path = export_mesh(mesh, tmp_path / "box.fbx").path
    data = path.read_bytes()
    assert data.startswith(b"Kaydara FBX Binary  \x00\x1a\x00")
    assert struct.unpack("<I", data[23:27])[0] == 7400
    got = read_fbx(path)
    assert got["triangles"] == 12 and got["uv"] and got["normals"]
    assert got["materials"] == 1 and got["unit_meters"] == pytest.approx(1.0)
    assert got["warnings"] == [] and got["version"] == 7400  # ufbx found nothing odd
    assert data[-16:] == bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")  # footer magic
    (png,) = got["diffuse_textures"]
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).size == (32, 32)


def test_stl_in_millimetres(tmp_path):
    mesh = textured_box()
    path = export_mesh(mesh, tmp_path / "box.stl", units="mm").path
    got = verify_export(path, expected_figures(mesh, "stl", "mm"))
    assert np.allclose(got["bounds"][1], [100, 300, 50], atol=1e-3)
    assert path.stat().st_size == 84 + 50 * 12  # binary STL
    with pytest.raises(AssetError, match="STL"):
        export_mesh(mesh, tmp_path / "box.glb", units="mm")


def test_usdz_package(tmp_path):
    import zipfile

    path = export_mesh(textured_box(), tmp_path / "box.usdz").path
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert names[0].endswith(".usdc")  # the root layer comes first (AR Quick Look)
        assert any(n.endswith(".png") for n in names)
        assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
    assert read_back(path)["up"] == "Y"


def test_animation_is_baked_into_gltf_channels(tmp_path):
    mesh = textured_box()
    times = np.linspace(0, 2, 9)
    matrices = np.stack([trimesh.transformations.rotation_matrix(t * np.pi / 2, [0, 1, 0])
                         @ trimesh.transformations.translation_matrix([0, 0.1 * t, 0])
                         for t in times])
    path = export_mesh(mesh, tmp_path / "spin.glb", animation=(times, matrices)).path
    verify_export(path, expected_figures(mesh, "glb", first_matrix=matrices[0]))
    data = path.read_bytes()
    json_len = struct.unpack("<I", data[12:16])[0]
    doc = json.loads(data[20:20 + json_len])
    animation = doc["animations"][0]
    assert {c["target"]["path"] for c in animation["channels"]} == {
        "translation", "rotation", "scale"}
    times_acc = doc["accessors"][animation["samplers"][0]["input"]]
    assert times_acc["count"] == 9 and times_acc["max"] == [2.0]
    # rotation samples are unit quaternions, the last a quarter... of four turns: 180°
    gltf_path = export_mesh(mesh, tmp_path / "spin.gltf", animation=(times, matrices)).path
    assert json.loads(gltf_path.read_text())["animations"]
    if ASSIMP:
        assert assimp_info(path)["animations"] == 1
    with pytest.raises(AssetError, match="glTF"):
        export_mesh(mesh, tmp_path / "spin.fbx", animation=(times, matrices))
    with pytest.raises(ValueError, match="increasing"):
        bake_animation(b"", np.array([0.0]), matrices[:1])


def test_export_never_overwrites_its_input_and_is_atomic(tmp_path, monkeypatch):
    source = tmp_path / "box.glb"
    export_mesh(textured_box(), source)
    asset = load_asset(source)
    before = source.read_bytes()
    with pytest.raises(InputError, match="refusing to write over"):
        export_mesh(asset.mesh, tmp_path / "." / "box.glb", protect=[source])
    assert source.read_bytes() == before

    # a writer that dies half-way leaves no file under the final name
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("engine.asset.formats.stl.stl_bytes", boom)
    with pytest.raises(OSError):
        export_mesh(asset.mesh, tmp_path / "out.stl")
    assert not (tmp_path / "out.stl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box.glb"]  # no partial left


def test_large_obj_scan_agrees_with_trimesh(tmp_path, monkeypatch):
    mesh = textured_box()
    path = export_mesh(mesh, tmp_path / "box.obj").path
    by_trimesh = read_back(path)
    monkeypatch.setattr("engine.asset.formats.obj.OBJ_SCAN_BYTES", 0)
    by_scan = read_back(path)
    assert by_scan["reader"] == "numpy OBJ scan" and by_trimesh["reader"] == "trimesh"
    assert by_scan["triangles"] == by_trimesh["triangles"] == 12
    assert np.allclose(by_scan["bounds"], by_trimesh["bounds"])
    assert by_scan["textured"] and by_trimesh["textured"]


def test_large_obj_scan_layouts_and_broken_files(tmp_path, monkeypatch):
    """The scan's fast path (contiguous v and f blocks, bytes counts) and its line-by-line
    fallback (any other layout) agree, and a damaged file fails the check."""
    from engine.asset.formats import obj as export

    mesh = textured_box()
    path = export_mesh(mesh, tmp_path / "box.obj").path
    expected = expected_figures(mesh, "obj")
    monkeypatch.setattr("engine.asset.formats.obj.OBJ_SCAN_BYTES", 0)
    text = path.read_bytes()
    fast = export._scan_obj_fast(text)
    assert fast is not None and fast[0] == 12
    slow = export._scan_obj_lines(text)
    assert slow[0] == 12 and np.array_equal(fast[1], slow[1])
    verify_export(path, expected)

    lines = text.split(b"\n")
    first_face = next(i for i, line in enumerate(lines) if line.startswith(b"f "))
    # a group line inside the face block, a quad, CRLF endings: the fallback handles them
    mixed = lines[:first_face + 2] + [b"g side"] + lines[first_face + 2:]
    path.write_bytes(b"\n".join(mixed))
    assert export._scan_obj_fast(path.read_bytes()) is None
    assert read_back(path)["triangles"] == 12
    path.write_bytes(b"\r\n".join(lines))
    assert export._scan_obj_fast(path.read_bytes()) is None
    verify_export(path, expected)
    spaced = lines[:first_face] + [lines[first_face].replace(b" ", b"  ", 1)] + \
        lines[first_face + 1:]
    assert export._scan_obj_fast(b"\n".join(spaced)) is None  # not one space per corner
    quad = lines[:first_face] + [lines[first_face] + b" 1/1/1"] + lines[first_face + 1:]
    path.write_bytes(b"\n".join(quad))
    assert read_back(path)["triangles"] == 13  # a quad is two triangles

    # damage: a face missing, a vertex moved, a stray token in the vertex block
    path.write_bytes(b"\n".join(lines[:first_face] + lines[first_face + 1:]))
    with pytest.raises(AssetError, match="11 triangles read back"):
        verify_export(path, expected)
    first_v = next(i for i, line in enumerate(lines) if line.startswith(b"v "))
    moved = lines[:first_v] + [b"v 5.0 0.0 0.0"] + lines[first_v + 1:]
    path.write_bytes(b"\n".join(moved))
    with pytest.raises(AssetError, match="bounds"):
        verify_export(path, expected)
    stray = lines[:first_v] + [b"v 0.1 x 0.0"] + lines[first_v + 1:]
    path.write_bytes(b"\n".join(stray))
    with pytest.raises(AssetError, match="does not read back"):
        verify_export(path, expected)


def test_stl_scan_agrees_with_trimesh_and_catches_damage(tmp_path):
    from engine.asset.formats.stl import scan_stl

    mesh = textured_box()
    path = export_mesh(mesh, tmp_path / "box.stl", units="mm").path
    expected = expected_figures(mesh, "stl", "mm")
    got = verify_export(path, expected)
    assert got["reader"] == "numpy STL"
    by_trimesh = load_asset(path)
    assert got["triangles"] == by_trimesh.triangles == 12
    assert np.allclose(got["bounds"], by_trimesh.bounds)

    data = bytearray(path.read_bytes())
    moved = bytearray(data)
    moved[84 + 12:84 + 16] = struct.pack("<f", 5000.0)  # first corner's x
    path.write_bytes(bytes(moved))
    with pytest.raises(AssetError, match="bounds"):
        verify_export(path, expected)
    nan = bytearray(data)
    nan[84 + 16:84 + 20] = struct.pack("<f", float("nan"))
    path.write_bytes(bytes(nan))
    with pytest.raises(AssetError, match="NaN"):
        verify_export(path, expected)
    path.write_bytes(bytes(data[:-50]))  # a record short of the header's count
    with pytest.raises(AssetError):
        verify_export(path, expected)
    fewer = bytearray(data[:-50])
    fewer[80:84] = struct.pack("<I", 11)  # consistent, but a triangle missing
    path.write_bytes(bytes(fewer))
    with pytest.raises(AssetError, match="11 triangles read back"):
        verify_export(path, expected)
    ascii_stl = tmp_path / "ascii.stl"
    ascii_stl.write_text(trimesh.exchange.stl.export_stl_ascii(mesh))
    assert scan_stl(ascii_stl) is None  # the general loader reads ASCII
    assert read_back(ascii_stl)["triangles"] == 12


def test_obj_numbers_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    vertices = rng.normal(scale=[0.001, 3.0, 250.0], size=(300, 3))
    vertices[:3] = [[0.0, -0.0, 1e-9], [-1234.5, 0.5, -0.0000004], [99999.0, -7.0, 10.0]]
    faces = rng.integers(0, len(vertices), size=(200, 3))
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    path = export_mesh(mesh, tmp_path / "numbers.obj").path
    back = trimesh.load(path, process=False)  # (trimesh re-indexes: compare corners)
    assert len(back.faces) == len(faces)
    assert np.abs(back.vertices[back.faces] - vertices[faces]).max() <= 0.6e-7
    assert b"//" in path.read_bytes()  # no UVs: "f v//vn"


def test_unknown_format(tmp_path):
    with pytest.raises(AssetError, match="unknown export format"):
        export_mesh(textured_box(), tmp_path / "box.dae")
