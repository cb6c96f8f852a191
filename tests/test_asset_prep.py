"""prep: orientation, scale, pivot, cleanup, decimation that keeps UVs and seams; and
the inspect / prep / export commands end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image
from trimesh.visual import TextureVisuals
from trimesh.visual.material import PBRMaterial

from engine.asset.io import load_asset
from engine.asset.model import Asset, AssetError
from engine.asset.prep import PrepOptions, prepare
from engine.asset.topology import weld
from engine.cli import main


def textured_sphere(rows: int = 100) -> trimesh.Trimesh:
    """Latitude/longitude sphere (radius 0.1) with a real UV seam: the u = 0 and u = 1
    columns and the pole rows are split vertices. Closed once welded. A texture."""
    cols = rows
    theta = np.linspace(0, np.pi, rows + 1)  # from the north pole down
    phi = np.linspace(0, 2 * np.pi, cols + 1)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    vertices = 0.1 * np.stack([np.sin(t) * np.sin(p), np.cos(t), np.sin(t) * np.cos(p)],
                              axis=-1).reshape(-1, 3)
    vertices[np.abs(vertices) < 1e-12] = 0.0
    uv = np.stack([p / (2 * np.pi), 1 - t / np.pi], axis=-1).reshape(-1, 2)
    idx = np.arange((rows + 1) * (cols + 1)).reshape(rows + 1, cols + 1)
    a, b = idx[:-1, :-1], idx[:-1, 1:]
    c, d = idx[1:, :-1], idx[1:, 1:]
    upper = np.stack([a, c, d], axis=-1)[1:].reshape(-1, 3)  # skip the degenerate pole ones
    lower = np.stack([a, d, b], axis=-1)[:-1].reshape(-1, 3)
    faces = np.vstack([upper, lower, np.stack([a, c, d], -1)[0], np.stack([a, d, b], -1)[-1]])
    # poles: share one position per pole across the row (exact equality for welding)
    vertices[idx[0]] = [0, 0.1, 0]
    vertices[idx[-1]] = [0, -0.1, 0]
    image = Image.fromarray((np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8))
    mesh = trimesh.Trimesh(vertices, faces, process=False,
                           visual=TextureVisuals(uv=uv, material=PBRMaterial(
                               baseColorTexture=image)))
    return mesh


def _asset(mesh, name="x.glb") -> Asset:
    return Asset(mesh=mesh, source=Path(name), format="glb")


def _seam_vertices(mesh) -> int:
    """Welded positions that carry more than one UV."""
    _, _, inverse = weld(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    counts = np.bincount(inverse)
    return int(np.sum(counts > 1))


def test_decimation_lands_on_target_and_keeps_uvs_and_seams():
    sphere = textured_sphere()
    start = len(sphere.faces)
    assert start > 15000 and _seam_vertices(sphere) > 50
    result = prepare(_asset(sphere), PrepOptions(up="y", faces=2000))
    mesh = result.mesh
    assert abs(len(mesh.faces) - 2000) / 2000 <= 0.05
    # every output vertex is an input vertex: same position, same UV (no UV drift)
    pairs_in = {tuple(np.round(np.r_[p, t], 9)) for p, t in zip(sphere.vertices,
                                                                  sphere.visual.uv, strict=True)}
    pairs_out = {tuple(np.round(np.r_[p, t], 9)) for p, t in zip(mesh.vertices, mesh.visual.uv,
                                                                   strict=True)}
    assert pairs_out <= pairs_in
    assert _seam_vertices(mesh) > 10  # the seam survives as split vertices
    assert result.after["watertight"]  # seams did not tear open
    assert result.after["texture"] == [64, 64]
    assert any("decimated" in s for s in result.steps)


def test_orientation_height_and_pivot():
    # a cone (a "bottle") lying along +x, off-centre, in centimetre-ish units
    cone = trimesh.creation.cone(radius=5.0, height=30.0, sections=48)
    cone.apply_transform(trimesh.geometry.align_vectors([0, 0, 1], [1, 0, 0]))
    cone.apply_translation((7, 3, -2))
    result = prepare(_asset(cone), PrepOptions(up="auto", height=0.3, pivot="base"))
    lo, hi = result.mesh.bounds
    assert np.allclose(hi[1] - lo[1], 0.3)  # upright: its length is now its height
    assert np.isclose(lo[1], 0.0) and np.allclose(0.5 * (lo + hi)[[0, 2]], 0.0, atol=1e-9)
    assert result.mesh.volume > 0
    assert any("upright" in s for s in result.steps)


def test_face_turns_the_front_to_plus_z():
    box = trimesh.creation.box(extents=(1.0, 0.5, 0.2))
    marker = trimesh.creation.box(extents=(0.1, 0.1, 0.1)).apply_translation((0.6, 0, 0))
    mesh = trimesh.util.concatenate([box, marker])  # the "nose" is on +x
    result = prepare(_asset(mesh), PrepOptions(up="y", face="+x", pivot="center"))
    lo, hi = result.mesh.bounds
    z = result.mesh.vertices[:, 2]
    assert hi[2] == pytest.approx(0.575) and np.sum(z > 0.5) == 4  # the nose is on +z now
    assert np.ptp(result.mesh.vertices[:, 0]) == pytest.approx(0.2)
    with pytest.raises(AssetError, match="cannot be the up axis"):
        prepare(_asset(mesh), PrepOptions(up="y", face="+y"))


def test_cleanup_fragments_holes_degenerate_winding():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    faces = sphere.faces.copy()
    faces[::4] = faces[::4, ::-1]  # scrambled winding
    faces = faces[1:]  # a one-triangle hole
    crumbs = trimesh.creation.icosphere(subdivisions=1, radius=0.02).apply_translation((3, 0, 0))
    mesh = trimesh.util.concatenate([trimesh.Trimesh(sphere.vertices, faces, process=False),
                                     crumbs])
    mesh = trimesh.Trimesh(mesh.vertices, np.vstack([mesh.faces, [[1, 1, 2]], mesh.faces[:1]]),
                           process=False)
    result = prepare(_asset(mesh), PrepOptions(up="y", remove_fragments=True, fill_holes=True))
    assert result.before["parts"] == 2 and result.before["holes"] == 1
    after = result.after
    assert after["parts"] == 1 and after["holes"] == 0 and after["watertight"]
    assert after["degenerate_faces"] == 0 and after["triangles"] == 1280
    assert result.mesh.volume > 0  # outward


def test_face_colours_survive_decimation():
    sphere = trimesh.creation.icosphere(subdivisions=4)
    sphere.visual.face_colors = np.tile([200, 30, 30, 255], (len(sphere.faces), 1))
    result = prepare(_asset(sphere), PrepOptions(up="y", faces=500))
    assert len(result.mesh.faces) == 500
    assert np.all(result.mesh.visual.vertex_colors[:, :3] == [200, 30, 30])


def test_texture_resize():
    sphere = textured_sphere(20)
    result = prepare(_asset(sphere), PrepOptions(up="y", texture_size=16))
    assert result.after["texture"] == [16, 16]
    assert result.before["texture"] == [64, 64]


def test_prep_and_export_cli(tmp_path, capsys):
    source = tmp_path / "sphere.glb"
    source.write_bytes(textured_sphere().export(file_type="glb"))
    out = tmp_path / "small.glb"
    assert main(["prep", str(source), "-o", str(out), "--faces", "3000", "--height", "0.5",
                 "--pivot", "base", "--texture-size", "32"]) == 0
    text = capsys.readouterr().out
    assert "before" in text and "after" in text and "decimated" in text
    prepared = load_asset(out)
    assert abs(prepared.triangles - 3000) <= 150
    assert np.isclose(prepared.bounds[1][1] - prepared.bounds[0][1], 0.5, atol=1e-4)
    # never overwrites its input
    before = source.read_bytes()
    assert main(["prep", str(source), "-o", str(source)]) == 2
    assert source.read_bytes() == before
    assert "refusing to write over" in capsys.readouterr().err

    for fmt in ("fbx", "usdz", "obj"):
        assert main(["export", str(out), "-o", str(tmp_path / f"small.{fmt}")]) == 0
        assert "verified with" in capsys.readouterr().out
    assert main(["export", str(out), "-o", str(tmp_path / "print.stl"), "--units", "mm"]) == 0
    stl = load_asset(tmp_path / "print.stl")
    assert np.isclose(stl.bounds[1][1] - stl.bounds[0][1], 500, atol=0.1)


def test_export_cli_bakes_scene_motion(tmp_path, capsys):
    source = tmp_path / "sphere.glb"
    source.write_bytes(textured_sphere(20).export(file_type="glb"))
    scene = tmp_path / "spin.toml"
    scene.write_text(f'[asset]\nsource = "{source.name}"\nheight = 0.3\n'
                     '[output]\nfps = 10\nduration = 2.0\n'
                     '[[motion]]\ntype = "spin"\n')
    out = tmp_path / "spin.glb"
    assert main(["export", str(source), "-o", str(out), "--animation", str(scene)]) == 0
    assert "21 animation samples" in capsys.readouterr().out
    data = out.read_bytes()
    doc = json.loads(data[20:20 + int.from_bytes(data[12:16], "little")])
    assert len(doc["animations"][0]["channels"]) == 3


def test_inspect_cli_json(tmp_path, capsys):
    source = tmp_path / "sphere.glb"
    source.write_bytes(textured_sphere(20).export(file_type="glb"))
    report_path = tmp_path / "report.json"
    assert main(["inspect", str(source), "--json", str(report_path)]) == 0
    text = capsys.readouterr().out
    assert "watertight" in text and "->" not in text.split("watertight")[1].split("\n")[0]
    report = json.loads(report_path.read_text())
    assert report["topology"]["watertight"] and report["texture"]["has_uv"]
    assert main(["inspect", str(tmp_path / "missing.glb")]) == 2


def test_duplicate_faces_dropped_double_sided_sheet_kept():
    """Exact duplicates (same welded vertices, same winding, also rotated) are dropped;
    an opposite-winding copy (a double-sided sheet) is left alone; a clean mesh loses
    nothing."""
    clean = prepare(_asset(trimesh.creation.icosphere(2)), PrepOptions(up="y"))
    assert not any("duplicate" in step for step in clean.steps)
    assert clean.after["triangles"] == clean.before["triangles"]

    box = trimesh.creation.box()
    faces = np.asarray(box.faces)
    doubled = np.vstack([faces, faces[:2], np.roll(faces[2:3], 1, axis=1)])
    result = prepare(_asset(trimesh.Trimesh(box.vertices, doubled, process=False)),
                     PrepOptions(up="y"))
    assert "dropped 0 degenerate and 3 duplicate faces" in result.steps
    assert result.after["triangles"] == 12 and result.after["watertight"]

    sheet = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2], [0, 2, 1]],
                            process=False)
    result = prepare(_asset(sheet), PrepOptions(up="y"))
    assert result.after["triangles"] == 2


def test_display_copy_carries_tangents_and_a_smaller_texture(tmp_path):
    """The contact sheet's display copy: decimated, texture at most 1024 px, and its GLB
    has glTF tangents (unit, perpendicular to the normals, w = +-1) so panda3d-gltf
    need not compute them; the GLB passes the loader's checks and the read-back."""
    from engine.asset.export import expected_figures, export_mesh, verify_export
    from engine.asset.formats.gltf import split_glb
    from engine.asset.io import check_file
    from engine.asset.prep import display_copy

    mesh = textured_sphere(100)
    mesh.visual.material.baseColorTexture = Image.new("RGB", (2048, 1024), (200, 40, 40))
    assert display_copy(mesh, len(mesh.faces)) is None  # small enough already
    copy = display_copy(mesh, 5000)
    assert len(copy.faces) <= 5000
    assert copy.visual.material.baseColorTexture.size == (1024, 512)
    assert mesh.visual.material.baseColorTexture.size == (2048, 1024)  # input untouched
    path = export_mesh(copy, tmp_path / "display.glb").path
    check_file(path)
    verify_export(path, expected_figures(copy, "glb"))
    doc, binary = split_glb(path.read_bytes())
    attributes = doc["meshes"][0]["primitives"][0]["attributes"]

    def accessor(name):
        acc = doc["accessors"][attributes[name]]
        view = doc["bufferViews"][acc["bufferView"]]
        width = {"VEC3": 3, "VEC4": 4}[acc["type"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        return np.frombuffer(binary, np.float32, acc["count"] * width, start).reshape(-1, width)

    tangents, normals = accessor("TANGENT"), accessor("NORMAL")
    assert len(tangents) == len(normals) == len(copy.vertices)
    assert np.allclose(np.linalg.norm(tangents[:, :3], axis=1), 1.0, atol=1e-5)
    assert np.abs(np.einsum("ij,ij->i", tangents[:, :3], normals)).max() < 1e-3
    assert set(np.unique(tangents[:, 3])) <= {-1.0, 1.0}
    # an ordinary export has no tangents (files stay as they were)
    plain = export_mesh(mesh, tmp_path / "plain.glb").path
    doc, _ = split_glb(plain.read_bytes())
    assert "TANGENT" not in doc["meshes"][0]["primitives"][0]["attributes"]


def test_decimation_leaves_no_collapsed_faces(tmp_path):
    """A bumpy, seamed 100k-triangle sphere (the benchmark's mesh, smaller): meshoptimizer
    leaves faces whose corners collapsed onto seam twins; prep drops them and says so."""
    from tools.bench_asset import make_mesh

    make_mesh(tmp_path / "bumpy.glb", 100_000)
    asset = load_asset(tmp_path / "bumpy.glb")
    assert prepare(asset, PrepOptions()).after["degenerate_faces"] == 0  # clean input
    result = prepare(asset, PrepOptions(faces=5000))
    assert result.after["degenerate_faces"] == 0
    assert abs(result.after["triangles"] - 5000) / 5000 <= 0.05
    assert any("collapsed or folded faces dropped" in s for s in result.steps)
