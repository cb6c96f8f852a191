"""The asset library and provenance end to end: real SQLite, real files, real CLI
subprocesses (`python -m engine.cli` from the worktree root), a real small render."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.library.db import SCHEMA_VERSION, LibraryError
from engine.library.reference import parse_reference, resolve_reference
from engine.library.store import Library, add_asset, version_sha256

from .conftest import ROOT, SAMPLE_ASSETS


def maquette(*args: str, library: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "MAQUETTE_LIBRARY": str(library)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd, env=env)


def approved_robot_library(tmp_path: Path) -> Path:
    """A library at tmp_path/lib: "robot" v1 (robot.glb, approved) and v2 (mug.glb)."""
    lib = tmp_path / "lib"
    assert maquette("library", "add", str(SAMPLE_ASSETS / "robot.glb"),
                    library=lib).returncode == 0
    assert maquette("library", "add", str(SAMPLE_ASSETS / "mug.glb"), "--name", "robot",
                    library=lib).returncode == 0
    assert maquette("library", "approve", "robot@v1", library=lib).returncode == 0
    return lib


def _gltf_with_sidecars(folder: Path) -> Path:
    """robot.obj + robot.mtl + its texture PNG, made from the sample GLB by our exporter."""
    from engine.asset.export import export_mesh
    from engine.asset.io import load_asset

    folder.mkdir(parents=True, exist_ok=True)
    return export_mesh(load_asset(SAMPLE_ASSETS / "robot.glb").mesh, folder / "robot.obj").path


def test_add_show_approve_history_list_by_cli(tmp_path):
    lib = tmp_path / "lib"
    r = maquette("library", "add", str(SAMPLE_ASSETS / "robot.glb"), "--note", "first",
                 library=lib)
    assert r.returncode == 0, r.stderr
    assert "added robot@v1" in r.stdout
    again = maquette("library", "add", str(SAMPLE_ASSETS / "robot.glb"), library=lib)
    assert again.returncode == 0 and "already robot@v1" in again.stdout
    mug = maquette("library", "add", str(SAMPLE_ASSETS / "mug.glb"), "--name", "robot",
                   library=lib)
    assert "added robot@v2" in mug.stdout, mug.stderr
    r = maquette("library", "approve", "robot@v1", "--note", "client ok", library=lib)
    assert r.returncode == 0, r.stderr
    listed = maquette("library", "list", library=lib).stdout
    assert "robot" in listed and "v2" in listed and "v1" in listed.split("\n")[1].split()[-2]
    history = maquette("library", "history", "robot", library=lib).stdout.splitlines()
    assert [line.split()[1] for line in history] == ["add", "add", "approve"]
    assert "client ok" in history[-1]
    shown = json.loads(maquette("library", "show", "robot@approved", "--json",
                                library=lib).stdout)
    assert shown["seq"] == 1 and shown["current_approved"]
    assert Path(shown["path"]).read_bytes() == (SAMPLE_ASSETS / "robot.glb").read_bytes()
    # the content address is the manifest of the files, recomputable by anyone
    assert shown["sha256"] == version_sha256([("robot.glb", shown["asset_sha256"])])
    # the database is real SQLite in WAL with a schema version
    con = sqlite3.connect(lib / "library.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("args, expected", [
    (("show", "robt@v1"), "no asset named 'robt'; did you mean robot?"),
    (("show", "robot@v7"), "no such version; did you mean robot@v1?"),
    (("approve", "robot"), "expected NAME@VERSION"),
    (("export", "robot@approved", "-o", "x.glb"), "robot has no approved version"),
    (("add", "missing.glb"), "missing.glb: file not found"),
    (("add", "README.md"), "README.md: expected an asset"),
])
def test_bad_input_exits_2_with_near_matches(tmp_path, args, expected):
    lib = tmp_path / "lib"
    assert maquette("library", "add", str(SAMPLE_ASSETS / "robot.glb"),
                    library=lib).returncode == 0
    r = maquette("library", *args, library=lib, cwd=ROOT)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert expected in r.stderr


def test_no_library_is_bad_input(tmp_path):
    r = maquette("library", "list", library=tmp_path / "none")
    assert r.returncode == 2 and "no asset library here" in r.stderr


def test_obj_version_holds_its_mtl_and_texture_and_exports(tmp_path):
    source = _gltf_with_sidecars(tmp_path / "src")
    with Library.open(tmp_path / "lib", create=True) as lib:
        version, new = add_asset(lib, source, log=lambda m: None)
        names = sorted(r["path"] for r in lib.files(version))
    assert new and "robot.obj" in names and "robot.mtl" in names
    assert any(n.endswith(".png") for n in names), names
    # a change in a sidecar file (the texture) is a new version
    texture = next(p for p in (tmp_path / "src").iterdir() if p.suffix == ".png")
    texture.write_bytes(texture.read_bytes() + b"\0")
    with Library.open(tmp_path / "lib") as lib:
        v2, new = add_asset(lib, source, log=lambda m: None)
    assert new and v2.seq == 2 and v2.asset_sha256 == version.asset_sha256
    out = tmp_path / "out" / "hero.obj"
    r = maquette("library", "export", "robot@v1", "-o", str(out), library=tmp_path / "lib")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        ["hero.obj", "hero.obj.json"] + [n for n in names if n != "robot.obj"])
    stl = tmp_path / "out" / "hero.stl"
    r = maquette("library", "export", "robot@latest", "-o", str(stl), library=tmp_path / "lib")
    assert r.returncode == 0, r.stderr
    record = json.loads((tmp_path / "out" / "hero.stl.json").read_text())
    assert record["asset"]["library"]["label"] == "robot@v2"


def test_two_processes_adding_at_once_both_land(tmp_path):
    """Two real processes add different assets to one new library at the same moment."""
    lib = tmp_path / "lib"
    env = {**os.environ, "MAQUETTE_LIBRARY": str(lib)}
    script = ("import sys, time\n"
              "from pathlib import Path\n"
              "from engine.library.store import Library, add_asset\n"
              "start = float(sys.argv[2])\n"
              "while time.time() < start: pass\n"
              "with Library.open(create=True) as lib:\n"
              "    for i in range(5):\n"
              "        src = Path(sys.argv[1]) / f'{i}.obj'\n"
              "        v, new = add_asset(lib, src, name=sys.argv[3], log=lambda m: None)\n"
              "        assert new, v\n")
    import time

    start = time.time() + 3.0
    procs = []
    for who in ("a", "b"):
        folder = tmp_path / who
        folder.mkdir()
        for i in range(5):  # five distinct small meshes each
            (folder / f"{i}.obj").write_text(
                f"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 {i + 1}{'.5' if who == 'b' else ''}\n"
                "f 1 3 2\nf 1 2 4\nf 2 3 4\nf 3 1 4\n")
        procs.append(subprocess.Popen([sys.executable, "-c", script, str(folder),
                                       str(start), f"shared-{who}"], cwd=ROOT, env=env,
                                      stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with Library.open(lib) as opened:
        assert [len(opened.versions(n)) for n in ("shared-a", "shared-b")] == [5, 5]
        assert [v.seq for v in opened.versions("shared-a")] == [1, 2, 3, 4, 5]


def test_two_processes_adding_to_one_name_get_distinct_numbers(tmp_path):
    lib = tmp_path / "lib"
    r = [subprocess.Popen([sys.executable, "-m", "engine.cli", "library", "add",
                           str(SAMPLE_ASSETS / asset), "--name", "prop"], cwd=ROOT,
                          env={**os.environ, "MAQUETTE_LIBRARY": str(lib)},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
         for asset in ("lamp.glb", "bottle.glb")]
    outs = [p.communicate(timeout=300) for p in r]
    assert [p.returncode for p in r] == [0, 0], outs
    with Library.open(lib) as opened:
        versions = opened.versions("prop")
    assert sorted(v.seq for v in versions) == [1, 2]
    assert len({v.asset_sha256 for v in versions}) == 2


def test_reference_forms_and_changed_copy_refused(tmp_path):
    assert parse_reference("library:robot@approved") == ("robot", "approved")
    for bad in ("library:robot", "library:robot@", "library:ro bot@v1", "library:x@v1.2"):
        with pytest.raises(LibraryError):
            parse_reference(bad)
    with Library.open(tmp_path / "lib", create=True) as lib:
        version, _ = add_asset(lib, SAMPLE_ASSETS / "robot.glb", log=lambda m: None)
    resolved = resolve_reference(f"library:robot@{version.sha256[:8]}", tmp_path / "lib")
    assert resolved.path.read_bytes() == (SAMPLE_ASSETS / "robot.glb").read_bytes()
    # someone edits the library's copy: the reference refuses it rather than render it
    os.chmod(resolved.path, 0o644)
    resolved.path.unlink()
    resolved.path.write_bytes(b"glTF" + b"\0" * 100)
    with pytest.raises(LibraryError, match="does not match robot@v1"):
        resolve_reference("library:robot@v1", tmp_path / "lib")
    # gone altogether: made again from the objects
    resolved.path.unlink()
    again = resolve_reference("library:robot@latest", tmp_path / "lib")
    assert again.path.read_bytes() == (SAMPLE_ASSETS / "robot.glb").read_bytes()


def test_scene_names_library_version_render_writes_provenance(tmp_path):
    """A real small render from library:robot@approved: its sidecar names the version and
    the settings; with the sidecar deleted, `provenance` finds it by the file's hash."""
    lib = approved_robot_library(tmp_path)
    scene = tmp_path / "scene.toml"
    scene.write_text('[asset]\nsource = "library:robot@approved"\n'
                     '[output]\nfile = "out/clip.mp4"\nheight = 64\nfps = 8\n'
                     'duration = 0.5\nmsaa = 0\n')
    r = maquette("render", str(scene), "-q", library=lib)
    assert r.returncode == 0, r.stderr
    clip = tmp_path / "out" / "clip.mp4"
    sidecar = tmp_path / "out" / "clip.mp4.json"
    record = json.loads(sidecar.read_text())
    assert record["kind"] == "render"
    assert record["asset"]["sha256"] == json.loads(maquette(
        "library", "show", "robot@v1", "--json", library=lib).stdout)["asset_sha256"]
    assert record["asset"]["library"]["label"] == "robot@v1"
    assert record["asset"]["library"]["reference"] == "library:robot@approved"
    assert record["asset"]["library"]["approved"] is True
    assert (record["settings"]["output"]["width"], record["settings"]["output"]["height"]) \
        == (114, 64)  # the derived width too (was None: not a dataclass field)
    assert record["scene"]["sha256"] and record["tool"]["version"]
    assert record["machine"]["host"] and record["created"].endswith("Z")
    assert record["deliverable"]["sha256"] == __import__("engine.fileio").fileio.file_sha256(
        clip)
    # a still too, with its own sidecar
    still = tmp_path / "out" / "clip.png"
    r = maquette("still", str(scene), "--at", "0.25", "-o", str(still), library=lib)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "out" / "clip.png.json").read_text())["settings"]["at"] \
        == 0.25
    # provenance from the sidecar, then by hash once the sidecar is gone (and the file moved)
    r = maquette("provenance", str(clip), library=lib)
    assert r.returncode == 0 and "robot@v1" in r.stdout and "sidecar" in r.stdout, r.stderr
    sidecar.unlink()
    moved = tmp_path / "elsewhere.mp4"
    shutil.move(clip, moved)
    r = maquette("provenance", str(moved), "--json", library=lib)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)
    assert found["found_in"] == "library"
    assert found["record"]["asset"]["library"]["label"] == "robot@v1"
    assert found["record"]["settings"]["output"]["fps"] == 8
    # a file nobody recorded: exit 1, saying where it looked
    stranger = tmp_path / "stranger.mp4"
    stranger.write_bytes(b"not a render")
    r = maquette("provenance", str(stranger), library=lib)
    assert r.returncode == 1 and "no provenance" in r.stderr


def test_scene_with_unknown_library_name_names_file_and_key(tmp_path):
    lib = tmp_path / "lib"
    assert maquette("library", "add", str(SAMPLE_ASSETS / "robot.glb"),
                    library=lib).returncode == 0
    scene = tmp_path / "scene.toml"
    scene.write_text('[asset]\nsource = "library:robott@approved"\n')
    r = maquette("still", str(scene), "-o", str(tmp_path / "x.png"), library=lib)
    assert r.returncode == 2
    assert f"{scene}: [asset] source" in r.stderr and "did you mean robot?" in r.stderr


def test_image_added_is_generated_once_and_both_kept(tmp_path):
    lib = tmp_path / "lib"
    image = ROOT / "scenes" / "samples" / "robot-concept.png"
    r = maquette("library", "add", str(image), "--name", "hero", library=lib)
    assert r.returncode == 0, r.stderr
    with Library.open(lib) as opened:
        version = opened.versions("hero")[0]
        files = sorted(row["path"] for row in opened.files(version))
    assert files == ["robot-concept.glb", "robot-concept.json", "robot-concept.png"]
    assert version.generator_model and version.source_image == "robot-concept.png"
    again = maquette("library", "add", str(image), "--name", "hero", library=lib)
    assert "not generated again" in again.stderr and "already hero@v1" in again.stdout
    out = tmp_path / "hero.glb"
    assert maquette("library", "export", "hero@v1", "-o", str(out),
                    library=lib).returncode == 0
    record = json.loads((tmp_path / "hero.glb.json").read_text())
    assert record["asset"]["generator"]["model"] == version.generator_model
