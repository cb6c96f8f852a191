"""Safe asset loading: hostile and broken files are refused before allocating, with
messages that name the file and the field."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest
import trimesh

from engine.asset.io import check_file, load_asset, sniff_format
from engine.asset.model import AssetError
from tools.shared_assets import SHARED_ASSETS

ASSETS = SHARED_ASSETS


def _glb_bytes(doc: dict, binary: bytes) -> bytes:
    raw = json.dumps(doc).encode()
    raw += b" " * (-len(raw) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(raw) + 8 + len(binary)
    return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(raw), 0x4E4F534A)
            + raw + struct.pack("<II", len(binary), 0x004E4942) + binary)


def _triangle_doc(uri: str | None, byte_length: int = 36, count: int = 3) -> dict:
    buffer = {"byteLength": byte_length}
    if uri is not None:
        buffer["uri"] = uri
    return {
        "asset": {"version": "2.0"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [buffer],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": count, "type": "VEC3",
                       "min": [0, 0, 0], "max": [1, 1, 0]}],
    }


TRIANGLE = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32).tobytes()


def test_good_gltf_with_side_by_side_buffer_loads(tmp_path):
    (tmp_path / "tri.bin").write_bytes(TRIANGLE)
    path = tmp_path / "tri.gltf"
    path.write_text(json.dumps(_triangle_doc("tri.bin")))
    asset = load_asset(path)
    assert asset.triangles == 1 and asset.format == "gltf"


@pytest.mark.parametrize("uri, words", [
    ("../secret.bin", "outside the asset's folder"),
    ("sub/../../secret.bin", "outside the asset's folder"),
    ("%2E%2E/secret.bin", "outside the asset's folder"),
    ("/etc/passwd", "absolute path"),
    ("file:///etc/passwd", "file: URI"),
    ("https://example.com/tri.bin", "https: URI"),
    ("C:\\Windows\\tri.bin", "absolute path"),
])
def test_gltf_uri_escapes_are_refused(tmp_path, uri, words):
    (tmp_path / "secret.bin").write_bytes(TRIANGLE)
    folder = tmp_path / "asset"
    (folder / "sub").mkdir(parents=True)
    path = folder / "tri.gltf"
    path.write_text(json.dumps(_triangle_doc(uri)))
    with pytest.raises(AssetError) as err:
        load_asset(path)
    assert "buffers[0].uri" in str(err.value) and words in str(err.value)
    assert str(path) in str(err.value)


def test_gltf_image_uri_escape_is_refused(tmp_path):
    doc = _triangle_doc("data:application/octet-stream;base64,"
                        + base64.b64encode(TRIANGLE).decode())
    doc["images"] = [{"uri": "../../etc/passwd"}]
    path = tmp_path / "tri.gltf"
    path.write_text(json.dumps(doc))
    with pytest.raises(AssetError, match=r"images\[0\]\.uri.*outside"):
        load_asset(path)


def test_buffer_bytelength_larger_than_the_file_is_refused(tmp_path):
    path = tmp_path / "big.glb"
    path.write_bytes(_glb_bytes(_triangle_doc(None, byte_length=2**40), TRIANGLE))
    with pytest.raises(AssetError, match=r"buffers\[0\]\.byteLength.*before allocating"):
        load_asset(path)


def test_absurd_accessor_count_is_refused_before_allocating(tmp_path):
    path = tmp_path / "count.glb"
    path.write_bytes(_glb_bytes(_triangle_doc(None, count=4_000_000_000), TRIANGLE))
    with pytest.raises(AssetError, match=r"accessors\[0\]\.count"):
        load_asset(path)
    # a count that passes the limit but not the buffer view
    path.write_bytes(_glb_bytes(_triangle_doc(None, count=1000), TRIANGLE))
    with pytest.raises(AssetError, match=r"accessors\[0\]\.count: 1000 elements need"):
        load_asset(path)


def test_truncated_glb_is_refused(tmp_path):
    data = _glb_bytes(_triangle_doc(None), TRIANGLE)
    path = tmp_path / "cut.glb"
    path.write_bytes(data[:-20])
    with pytest.raises(AssetError, match="truncated GLB"):
        load_asset(path)
    path.write_bytes(data[:10])
    with pytest.raises(AssetError, match="truncated GLB"):
        load_asset(path)


def test_garbage_and_wrong_extensions(tmp_path):
    png = tmp_path / "photo.glb"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(AssetError, match="PNG image"):
        load_asset(png)
    noise = tmp_path / "noise.obj"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(AssetError, match="not a recognised 3D file"):
        load_asset(noise)
    empty = tmp_path / "empty.stl"
    empty.write_bytes(b"")
    with pytest.raises(AssetError, match="empty"):
        load_asset(empty)
    # a real PLY named .stl is read as PLY, with a warning
    box = trimesh.creation.box()
    misnamed = tmp_path / "box.stl"
    misnamed.write_bytes(box.export(file_type="ply"))
    assert sniff_format(misnamed) == "ply"
    asset = load_asset(misnamed)
    assert asset.triangles == 12 and "PLY" in asset.warnings[0]


def test_truncated_stl_and_ply(tmp_path):
    box = trimesh.creation.box()
    stl = box.export(file_type="stl")
    path = tmp_path / "cut.stl"
    path.write_bytes(stl[:-30])
    with pytest.raises(AssetError, match="truncated or corrupt binary STL"):
        load_asset(path)
    ply = box.export(file_type="ply")
    path = tmp_path / "cut.ply"
    path.write_bytes(ply[: len(ply) // 2])
    with pytest.raises(AssetError, match="truncated or corrupt PLY"):
        load_asset(path)
    header = b"ply\nformat binary_little_endian 1.0\nelement vertex 900000000\n" \
             b"property float x\nproperty float y\nproperty float z\nend_header\n"
    path.write_bytes(header + bytes(64))
    with pytest.raises(AssetError, match="900,000,000 vertices"):
        load_asset(path)


def test_corrupt_gltf_json(tmp_path):
    path = tmp_path / "bad.gltf"
    path.write_text('{"asset": {"version": "2.0"}, "buffers": [')
    with pytest.raises(AssetError, match="does not parse"):
        load_asset(path)


def test_obj_material_outside_folder_is_refused(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    (tmp_path / "evil.mtl").write_text("newmtl m\nmap_Kd tex.png\n")
    path = folder / "x.obj"
    path.write_text("mtllib ../evil.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(AssetError, match="mtllib.*outside"):
        load_asset(path)
    (folder / "m.mtl").write_text("newmtl m\nmap_Kd /etc/passwd\n")
    path.write_text("mtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(AssetError, match="map_Kd.*absolute"):
        load_asset(path)


def test_zero_area_mesh_is_refused(tmp_path):
    path = tmp_path / "flat.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\nf 1 3 2\n")
    with pytest.raises(AssetError, match="zero surface area"):
        load_asset(path)


def test_tens_of_millions_of_triangles_refused_without_reading(tmp_path):
    # A sparse 1.5 GB binary STL claiming 30M triangles: refused from its header alone.
    path = tmp_path / "huge.stl"
    count = 30_000_000
    with open(path, "wb") as handle:
        handle.write(bytes(80) + struct.pack("<I", count))
        handle.truncate(84 + 50 * count)
    with pytest.raises(AssetError, match="30,000,000 triangles, over the limit"):
        load_asset(path)


def test_triangle_limit_is_configurable(tmp_path, monkeypatch):
    path = tmp_path / "sphere.glb"
    path.write_bytes(trimesh.creation.icosphere(subdivisions=3).export(file_type="glb"))
    assert load_asset(path).triangles == 1280
    monkeypatch.setenv("MAQUETTE_MAX_TRIANGLES", "1000")
    with pytest.raises(AssetError, match="over the limit of (1,000|3000)"):
        load_asset(path)
    assert check_file(path, limit=2000) == 1280


@pytest.mark.skipif(not ASSETS.is_dir(), reason="shared/assets not present")
@pytest.mark.parametrize("name, triangles", [
    ("Duck.glb", 4212), ("fuze.obj", 1000), ("bunny.ply", 16301), ("BoxTextured.glb", 12),
])
def test_real_assets_load(name, triangles):
    asset = load_asset(ASSETS / name)
    assert asset.triangles == triangles
    assert not asset.warnings
