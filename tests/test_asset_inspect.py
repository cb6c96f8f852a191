"""Inspection report: each measure on meshes built to have (or lack) the defect."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image
from trimesh.visual import TextureVisuals
from trimesh.visual.material import PBRMaterial

from engine.asset.inspect import format_report, guess_up, inspect_asset
from engine.asset.model import Asset


def _asset(mesh: trimesh.Trimesh, fmt: str = "glb") -> Asset:
    return Asset(mesh=mesh, source="test." + fmt, format=fmt)


def _find(report, check):
    return next(f for f in report["findings"] if f["check"] == check)


def test_clean_box_reports_ok():
    box = trimesh.creation.box(extents=(0.2, 0.3, 0.1))
    box.apply_translation((0, 0.15, 0))
    report = inspect_asset(_asset(box), samples=4000)
    assert report["topology"]["watertight"]
    assert report["topology"]["holes"] == 0
    assert report["counts"]["triangles"] == 12
    assert report["loose_parts"]["count"] == 1
    assert report["pivot"]["description"] == "at the base centre"
    assert np.allclose(report["dimensions"]["size_m"], (0.2, 0.3, 0.1))
    assert report["symmetry"]["x"] < 0.01 and report["symmetry"]["z"] < 0.01
    assert _find(report, "watertight")["level"] == "ok"
    assert "[ok  ] watertight" in format_report(report)


def test_holes_fragments_degenerate_and_hints():
    sphere = trimesh.creation.icosphere(subdivisions=3)
    faces = sphere.faces[5:]  # open a hole
    crumbs = [trimesh.creation.icosphere(subdivisions=1, radius=0.01).apply_translation(
        (2.0 + 0.1 * i, 0, 0)) for i in range(3)]
    mesh = trimesh.util.concatenate(
        [trimesh.Trimesh(sphere.vertices, faces, process=False)] + crumbs)
    # a degenerate face (repeated vertex)
    mesh = trimesh.Trimesh(mesh.vertices, np.vstack([mesh.faces, [[0, 0, 1]]]), process=False)
    report = inspect_asset(_asset(mesh), samples=4000)
    topo = report["topology"]
    assert not topo["watertight"] and topo["holes"] == 1 and topo["degenerate_faces"] == 1
    assert report["loose_parts"]["count"] == 4 and report["loose_parts"]["fragments"] == 3
    hint = _find(report, "loose parts")["hint"]
    assert "--remove-fragments" in hint
    assert "--fill-holes" in _find(report, "watertight")["hint"]


def test_non_manifold_and_winding():
    # three triangles sharing one edge: non-manifold
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], float)
    f = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])
    report = inspect_asset(_asset(trimesh.Trimesh(v, f, process=False)), samples=500)
    assert report["topology"]["non_manifold_edges"] == 1
    box = trimesh.creation.box()
    faces = box.faces.copy()
    faces[0] = faces[0][::-1]
    report = inspect_asset(_asset(trimesh.Trimesh(box.vertices, faces, process=False)), 500)
    assert report["topology"]["inconsistent_winding_edges"] == 3


def test_uv_seams_are_not_holes():
    # A textured sphere whose UV seam splits vertices is still watertight.
    sphere = trimesh.creation.uv_sphere(count=(16, 16))
    assert sphere.is_watertight
    vertices = sphere.vertices[sphere.faces].reshape(-1, 3)  # fully split
    faces = np.arange(len(vertices)).reshape(-1, 3)
    report = inspect_asset(_asset(trimesh.Trimesh(vertices, faces, process=False)), 2000)
    assert report["topology"]["watertight"]
    assert report["loose_parts"]["count"] == 1


def test_thin_wall_is_found():
    sheet = trimesh.creation.box(extents=(1.0, 1.0, 0.002))
    report = inspect_asset(_asset(sheet), samples=6000)
    assert report["thin_walls"]["thin_fraction"] > 0.5
    assert _find(report, "thin walls")["level"] == "warn"
    cube = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    assert inspect_asset(_asset(cube), samples=6000)["thin_walls"]["thin_fraction"] == 0.0


def _textured_sphere(bright_top: bool) -> trimesh.Trimesh:
    sphere = trimesh.creation.uv_sphere(count=(32, 32))
    # UV: u from x, v from height; paint the texture by height (baked top light)
    v = sphere.vertices
    uv = np.column_stack([0.5 + 0.5 * np.arctan2(v[:, 0], v[:, 2]) / np.pi, 0.5 + 0.5 * v[:, 1]])
    ramp = np.linspace(1.0, 0.15, 64) if bright_top else np.full(64, 0.6)
    pixels = np.repeat((ramp[:, None] * 255).astype(np.uint8), 64, axis=1)
    image = Image.fromarray(np.stack([pixels] * 3, axis=-1))
    sphere.visual = TextureVisuals(uv=uv, material=PBRMaterial(baseColorTexture=image))
    return sphere


def test_baked_lighting_indicator():
    lit = inspect_asset(_asset(_textured_sphere(True)), samples=5000)["baked_lighting"]
    assert lit["likely"] and lit["light_direction"][1] > 0.9
    flat = inspect_asset(_asset(_textured_sphere(False)), samples=5000)["baked_lighting"]
    assert not flat["likely"]
    report = inspect_asset(_asset(_textured_sphere(True)), samples=2000)
    assert report["texture"]["has_uv"] and report["texture"]["texture_size"] == [64, 64]


@pytest.mark.parametrize("axis", ["+y", "+z", "-x"])
def test_guess_up_finds_a_bottle_lying_down(axis):
    bottle = trimesh.creation.cone(radius=0.05, height=0.3, sections=48)  # base at z=0
    target = {"+y": [0, 1, 0], "+z": [0, 0, 1], "-x": [-1, 0, 0]}[axis]
    rotation = trimesh.geometry.align_vectors([0, 0, 1], target)
    bottle.apply_transform(rotation)
    assert guess_up(bottle)[0] == axis


def test_guess_up_keeps_the_convention_without_a_clear_base():
    assert guess_up(trimesh.creation.icosphere())[0] == "+y"
    assert guess_up(trimesh.creation.box())[0] == "+y"


def test_two_materials_facing_different_ways_are_not_baked_lighting():
    """A lamp-post-like part: a dark pole whose top cap is white. Brightness follows the
    normal across the whole object (the top is bright) but not within either material:
    no baked light (the whole-object fit called it 'likely', as it did for 31 of 40
    generated assets)."""
    post = trimesh.creation.cylinder(0.05, 1.0, sections=48)
    post.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    post = post.subdivide().subdivide()
    top = post.vertices[:, 1] > 0.3
    colours = np.where(top[:, None], [240, 235, 220, 255], [35, 40, 38, 255]).astype(np.uint8)
    post.visual = trimesh.visual.ColorVisuals(post, vertex_colors=colours)
    baked = inspect_asset(_asset(post), samples=8000)["baked_lighting"]
    assert not baked["likely"], baked
    assert "one material" in baked["measures"]


def test_every_option_inspect_advises_exists(tmp_path):
    """Hints name only options the CLI has (one once advised `regenerate with
    delighting`, which `maquette generate` does not offer)."""
    import re

    from engine.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    options = {name: {o for a in sub._actions for o in a.option_strings}
               for name, sub in commands.items()}
    lit = _textured_sphere(True)
    broken = trimesh.creation.icosphere(subdivisions=2)
    broken.faces = broken.faces[5:]
    lying = trimesh.creation.cone(radius=0.05, height=0.3, sections=48)
    hints = []
    for mesh in (lit, broken, lying):
        hints += [f["hint"] for f in inspect_asset(_asset(mesh), samples=3000)["findings"]]
    lit.metadata["maquette"] = {"generated": True, "upright": True, "up": "+Y"}
    hints += [f["hint"] for f in inspect_asset(_asset(lit), samples=3000)["findings"]]
    assert any("baked light" in h for h in hints)
    for hint in hints:
        assert "delight" not in hint, hint
        for command, flag in re.findall(r"\b(prep|generate|export|inspect) (--[a-z-]+)", hint):
            assert flag in options[command], (hint, flag)
