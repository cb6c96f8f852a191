"""The one asset check: every path that loads an asset (inspect, prep, export, render,
still, view) refuses the same bad files, from headers before decoding, naming the file
and the field."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from engine.asset.check import image_size
from engine.asset.export import export_mesh
from engine.asset.io import check_file, load_asset, sniff_format
from engine.asset.model import AssetError
from engine.render.asset_node import as_gltf

from .conftest import ROOT, SAMPLE_ASSETS
from .test_asset_io import _glb_bytes
from .test_cli import maquette

# a closed tetrahedron: 4 triangles, 12 corners (no indices)
TETRA = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1],
                  [0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]], float)


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width × height but holds one row: enough for any header
    reader, and nothing a test could spend gigabytes decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = zlib.compress(b"\0" + b"\x80" * 3 * min(width, 64))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", row)
            + chunk(b"IEND", b""))


def glb(positions=TETRA, *, image: bytes | None = None, node: dict | None = None,
        **doc_extra) -> bytes:
    """A GLB of one primitive (POSITION, and TEXCOORD_0 + an embedded image if given)."""
    pos = np.asarray(positions, np.float32)
    binary = pos.tobytes()
    doc = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
           "nodes": [{"mesh": 0, **(node or {})}],
           "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
           "buffers": [{"byteLength": 0}],
           "bufferViews": [{"buffer": 0, "byteLength": len(binary)}],
           "accessors": [{"bufferView": 0, "componentType": 5126, "count": len(pos),
                          "type": "VEC3"}]}
    if image is not None:
        uv = np.ascontiguousarray(pos[:, :2])
        doc["bufferViews"].append({"buffer": 0, "byteOffset": len(binary),
                                   "byteLength": uv.nbytes})
        binary += uv.tobytes()
        doc["accessors"].append({"bufferView": 1, "componentType": 5126,
                                 "count": len(pos), "type": "VEC2"})
        doc["bufferViews"].append({"buffer": 0, "byteOffset": len(binary),
                                   "byteLength": len(image)})
        binary += image + b"\0" * (-len(image) % 4)
        doc.update(images=[{"bufferView": 2, "mimeType": "image/png"}],
                   textures=[{"source": 0}],
                   materials=[{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}])
        primitive = doc["meshes"][0]["primitives"][0]
        primitive["attributes"]["TEXCOORD_0"] = 1
        primitive["material"] = 0
    doc["buffers"][0]["byteLength"] = len(binary)
    doc.update(doc_extra)
    return _glb_bytes(doc, binary)


def refused(path: Path, *words: str) -> None:
    """Every loading path refuses `path` with a message naming it and `words`."""
    for load in (check_file, load_asset, as_gltf):
        with pytest.raises(AssetError) as err:
            load(path)
        message = str(err.value)
        assert str(path) in message, (load.__name__, message)
        for word in words:
            assert word in message, (load.__name__, message)


# ----------------------------------------------------------------------------------
# Textures
# ----------------------------------------------------------------------------------


def test_texture_over_the_limit_is_refused_from_its_header(tmp_path):
    # the case: a 1.2 MB GLB whose 20000x20000 PNG rendered at 3.7 GB
    path = tmp_path / "big.glb"
    path.write_bytes(glb(image=png_header(20000, 20000)))
    refused(path, "images[0]", "20000×20000", "8192×8192", "MAQUETTE_MAX_TEXTURE_PIXELS")


def test_texture_limit_covers_gltf_files_data_uris_and_obj_materials(tmp_path):
    big = png_header(9000, 8000)  # 72 Mpx: over 8192² = 67 Mpx
    (tmp_path / "big.png").write_bytes(big)
    doc = json.loads(glb()[20:20 + struct.unpack("<I", glb()[12:16])[0]])
    doc["buffers"] = [{"uri": "tetra.bin", "byteLength": TETRA.astype(np.float32).nbytes}]
    (tmp_path / "tetra.bin").write_bytes(TETRA.astype(np.float32).tobytes())
    doc["images"] = [{"uri": "big.png"}]
    (tmp_path / "file.gltf").write_text(json.dumps(doc))
    refused(tmp_path / "file.gltf", "images[0]", "9000×8000")
    import base64

    doc["images"] = [{"uri": "data:image/png;base64," + base64.b64encode(big).decode()}]
    (tmp_path / "inline.gltf").write_text(json.dumps(doc))
    refused(tmp_path / "inline.gltf", "images[0]", "9000×8000")
    (tmp_path / "box.mtl").write_text("newmtl m\nmap_Kd big.png\n")
    (tmp_path / "box.obj").write_text("mtllib box.mtl\nusemtl m\nv 0 0 0\nv 1 0 0\n"
                                      "v 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\n")
    refused(tmp_path / "box.obj", "map_Kd", "big.png", "9000×8000")


def test_texture_limit_is_configurable_and_a_bad_limit_is_named(tmp_path, monkeypatch):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, format="PNG")
    path = tmp_path / "small.glb"
    path.write_bytes(glb(image=buf.getvalue()))
    assert load_asset(path).texture.size == (64, 64)
    monkeypatch.setenv("MAQUETTE_MAX_TEXTURE_PIXELS", "4000")
    refused(path, "images[0]", "64×64")
    for name in ("MAQUETTE_MAX_TEXTURE_PIXELS", "MAQUETTE_MAX_TRIANGLES"):
        monkeypatch.setenv(name, "abc")  # was silently ignored
        with pytest.raises(AssetError, match=f"{name}='abc'"):
            check_file(path)
        monkeypatch.delenv(name)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TGA", "TIFF"])
def test_image_size_reads_headers(fmt):
    buf = io.BytesIO()
    Image.new("RGB", (37, 23), (10, 200, 30)).save(buf, format=fmt)
    found = image_size(buf)
    if fmt in ("TGA", "TIFF"):  # no header reader of ours: Pillow's lazy open answers
        assert found is None
        from engine.asset.check import _pillow_size

        found = _pillow_size(buf)
    assert found[1:] == (37, 23)


def test_jpeg_size_behind_large_metadata_segments():
    buf = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buf, format="JPEG", exif=b"Exif\0\0" + b"\0" * 60000,
                                      icc_profile=b"\0" * 50000)
    assert image_size(buf) == ("JPEG", 300, 200)


# ----------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------


def _nan() -> np.ndarray:
    bad = TETRA.copy()
    bad[4] = np.nan
    return bad


@pytest.mark.parametrize("positions, node, words", [
    (_nan(), None, ["accessors[0]", "vertex 4", "NaN"]),
    (np.full_like(TETRA, 0.5), None, ["zero surface area"]),
    (TETRA * [1, 0, 0], None, ["zero surface area"]),  # all on a line
    (TETRA * 3e38, None, ["accessors[0]", "3e+38", "beyond the limit"]),
    (TETRA, {"scale": [1e30, 1e30, 1e30]}, ["placed by nodes[0]", "beyond the limit"]),
    (TETRA, {"translation": [0, float("nan"), 0]}, ["nodes[0].translation"]),
], ids=["nan", "zero-area", "collinear", "3e38", "node-scale", "node-nan"])
def test_bad_geometry_is_refused_on_every_path(tmp_path, positions, node, words):
    path = tmp_path / "bad.glb"
    data = glb(positions, node=node)
    if node and "translation" in node:  # json.dumps writes NaN as the bare word NaN
        assert b"NaN" in data
    path.write_bytes(data)
    refused(path, *words)


def test_indices_past_the_vertices_are_refused(tmp_path):
    pos = TETRA[:3].astype(np.float32).tobytes()
    idx = np.array([0, 1, 7], np.uint32).tobytes()
    doc = {"asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
           "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
           "buffers": [{"byteLength": 48}],
           "bufferViews": [{"buffer": 0, "byteLength": 36},
                           {"buffer": 0, "byteOffset": 36, "byteLength": 12}],
           "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"},
                         {"bufferView": 1, "componentType": 5125, "count": 3,
                          "type": "SCALAR"}]}
    path = tmp_path / "idx.glb"
    path.write_bytes(_glb_bytes(doc, pos + idx))
    with pytest.raises(AssetError, match=r"meshes\[0\].primitives\[0\].indices: face index 7"):
        check_file(path)


def test_sparse_strided_and_quantized_positions_are_read(tmp_path):
    """The check reads positions as loaders do: a sparse NaN substitute is found, and
    strided and normalized-integer positions pass."""
    interleaved = np.zeros((12, 4), np.float32)
    interleaved[:, :3] = TETRA
    nan = np.array([np.nan, 0, 0], np.float32).tobytes()
    binary = interleaved.tobytes() + np.array([5], np.uint32).tobytes() + nan
    doc = {"asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
           "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
           "buffers": [{"byteLength": len(binary)}],
           "bufferViews": [{"buffer": 0, "byteLength": 192, "byteStride": 16},
                           {"buffer": 0, "byteOffset": 192, "byteLength": 4},
                           {"buffer": 0, "byteOffset": 196, "byteLength": 12}],
           "accessors": [{"bufferView": 0, "componentType": 5126, "count": 12,
                          "type": "VEC3"}]}
    path = tmp_path / "strided.glb"
    path.write_bytes(_glb_bytes(doc, binary))
    assert check_file(path) == 4
    doc["accessors"][0]["sparse"] = {"count": 1, "indices": {"bufferView": 1,
                                                             "componentType": 5125},
                                     "values": {"bufferView": 2}}
    path.write_bytes(_glb_bytes(doc, binary))
    with pytest.raises(AssetError, match="vertex 5 is"):
        check_file(path)
    quantized = (TETRA * 32767).astype(np.int16)
    doc = {**doc, "bufferViews": [{"buffer": 0, "byteLength": quantized.nbytes}],
           "buffers": [{"byteLength": quantized.nbytes}],
           "accessors": [{"bufferView": 0, "componentType": 5122, "normalized": True,
                          "count": 12, "type": "VEC3"}],
           "extensionsUsed": ["KHR_mesh_quantization"]}
    path.write_bytes(_glb_bytes(doc, quantized.tobytes()))
    assert check_file(path) == 4


def test_undecodable_texture_extension_is_refused_by_name(tmp_path):
    # (Draco and meshopt geometry is decoded now: tests/test_gltf_samples.py)
    path = tmp_path / "basisu.glb"
    path.write_bytes(glb(extensionsRequired=["KHR_texture_basisu"]))
    with pytest.raises(AssetError, match="extensionsRequired.*KHR_texture_basisu"):
        check_file(path)


# ----------------------------------------------------------------------------------
# Structure: nesting, node trees, special files
# ----------------------------------------------------------------------------------


def test_deeply_nested_json_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "deep.glb"
    from engine.asset.formats.gltf import split_glb

    doc, binary = split_glb(glb())
    raw = json.dumps(doc)[:-1].encode() + b', "extras": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    raw += b" " * (-len(raw) % 4)
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 28 + len(raw) + len(binary))
                     + struct.pack("<II", len(raw), 0x4E4F534A) + raw
                     + struct.pack("<II", len(binary), 0x004E4942) + binary)
    with pytest.raises(AssetError, match="nested more than 128 levels"):
        check_file(path)
    gltf = tmp_path / "deep.gltf"
    gltf.write_text('{"asset": {"version": "2.0"}, "extras": ' + "[" * 200000
                    + "]" * 200000 + "}")
    with pytest.raises(AssetError, match=f"{gltf}: corrupt glTF: the JSON is nested"):
        check_file(gltf)


@pytest.mark.parametrize("nodes, words", [
    ([{"children": [i + 1]} for i in range(600)] + [{"mesh": 0}], "more than 512 levels"),
    ([{"children": [1]}, {"children": [0], "mesh": 0}], "cycle"),
    ([{"children": [2]}, {"children": [2]}, {"mesh": 0}], "child of both"),
    ([{"children": [5], "mesh": 0}], "5 does not exist"),
    ([{"mesh": 3}], r"nodes\[0\].mesh: 3 does not exist"),
], ids=["deep", "cycle", "two-parents", "missing-child", "missing-mesh"])
def test_node_trees_that_loaders_would_recurse_on_are_refused(tmp_path, nodes, words):
    path = tmp_path / "tree.glb"
    path.write_bytes(glb(nodes=nodes))
    with pytest.raises(AssetError, match=words):
        check_file(path)


def test_deep_but_allowed_node_chain_is_placed_by_every_transform(tmp_path):
    nodes = [{"children": [i + 1], "translation": [1.0, 0, 0]} for i in range(300)]
    path = tmp_path / "chain.glb"
    path.write_bytes(glb(nodes=nodes + [{"mesh": 0}]))
    assert check_file(path) == 4
    asset = load_asset(path)
    assert np.allclose(asset.bounds[0], [300, 0, 0])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_glb_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.glb"
    os.mkfifo(fifo)
    # in a child with a timeout: this hung (open() waits for a writer)
    result = subprocess.run([sys.executable, "-m", "engine.cli", "inspect", str(fifo)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "not a regular file" in result.stderr
    with pytest.raises(AssetError, match="not a regular file"):
        sniff_format(fifo)


# ----------------------------------------------------------------------------------
# The commands
# ----------------------------------------------------------------------------------


def test_still_refuses_what_inspect_refuses(tmp_path):
    """render/still/view skipped inspect's checks: NaN and zero-area meshes rendered with
    exit 0, 3e38 crashed Panda3D, a 20000² texture took 3.7 GB."""
    cases = {"nan.glb": (glb(_nan()), "NaN"),
             "flat.glb": (glb(np.full_like(TETRA, 0.5)), "zero surface area"),
             "huge.glb": (glb(TETRA * 3e38), "beyond the limit"),
             "texture.glb": (glb(image=png_header(20000, 20000)), "images[0]: 20000×20000")}
    for name, (data, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        out = tmp_path / f"{name}.png"
        result = maquette("still", str(path), "-o", str(out))
        assert result.returncode == 2, (name, result.stderr[-2000:])
        assert str(path) in result.stderr and words in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr and not out.exists()


def test_prep_with_a_non_finite_height_keeps_the_previous_output(tmp_path):
    out = tmp_path / "robot-prepped.glb"
    good = maquette("prep", str(SAMPLE_ASSETS / "robot.glb"), "-o", str(out), "--height", "0.3")
    assert good.returncode == 0, good.stderr
    before = out.read_bytes()
    for height in ("nan", "inf", "1e300", "-1"):
        result = maquette("prep", str(SAMPLE_ASSETS / "robot.glb"), "-o", str(out),
                          "--height", height)
        assert result.returncode == 2, result.stderr
        assert "--height:" in result.stderr and "0.001 to 1000 metres" in result.stderr
        assert out.read_bytes() == before  # the previous good output survives
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_export_refuses_a_broken_mesh_before_writing(tmp_path):
    out = tmp_path / "out.stl"
    out.write_bytes(b"previous")
    mesh = trimesh.Trimesh(_nan(), np.arange(12).reshape(4, 3), process=False)
    with pytest.raises(AssetError, match=f"{out}: the mesh to write: vertex 4"):
        export_mesh(mesh, out)
    assert out.read_bytes() == b"previous"


def test_cli_and_glb_render_leave_trimesh_scipy_onnxruntime_unimported(tmp_path):
    code = ("import sys; from engine.cli import main; "
            f"code = main(['still', {str(SAMPLE_ASSETS / 'robot.glb')!r}, '-o', "
            f"{str(tmp_path / 'robot.png')!r}]); "
            "print('LOADED', code, [m for m in ('trimesh', 'scipy', 'onnxruntime') "
            "if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    assert "LOADED 0 []" in result.stdout, result.stdout + result.stderr[-2000:]
    assert (tmp_path / "robot.png").is_file()
