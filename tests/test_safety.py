"""Nothing a user gives us is ever lost: no command writes over a file it reads, outputs
appear complete (and together) or not at all, every way of stopping cleans up, and errors
carry their exit code (bad input 2, failed work 1, stopped by signal N 128 + N)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import InputError, Interrupted, WorkError
from engine.fileio import OutputPathError, Transaction, WriteError, guard_inputs

from .conftest import ROOT, SAMPLE_ASSETS
from .test_cli import small_scene

CONCEPT = ROOT / "scenes" / "samples" / "robot-concept.png"


def maquette(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The CLI of this checkout (PYTHONPATH: from another folder `-m engine.cli` would
    find whichever engine is installed)."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd, env=environ)


class _Run:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys, monkeypatch):
    """`maquette ARGS` in this process (fast; the refusals need no subprocess): returns
    returncode, stdout, stderr. cwd: run from that folder."""
    from engine.cli import main

    def run(*args: str, cwd: Path | None = None) -> _Run:
        capsys.readouterr()
        with monkeypatch.context() as patch:
            if cwd is not None:
                patch.chdir(cwd)
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
        out, err = capsys.readouterr()
        return _Run(code, out, err)

    return run


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*")]


# ------------------------------------------------------------------------- fileio


def test_transaction_moves_all_files_together_and_checks_before(tmp_path):
    (tmp_path / "a.glb").write_bytes(b"old a")
    with Transaction() as txn:
        txn.write_bytes(tmp_path / "a.glb", b"new a")
        with txn.open(tmp_path / "sub" / "b.json", "w") as handle:
            handle.write("{}")
        assert (tmp_path / "a.glb").read_bytes() == b"old a", "nothing moves before the end"
        seen = []
        txn.check(lambda: seen.append(txn.staged(tmp_path / "a.glb").read_bytes()))
    assert seen == [b"new a"]  # the check read the staged file
    assert (tmp_path / "a.glb").read_bytes() == b"new a"
    assert (tmp_path / "sub" / "b.json").read_text() == "{}"
    assert _hidden(tmp_path) == []

    # a failed check: nothing moves, the previous files stay as they were
    def fail():
        raise InputError(f"{txn.staged(tmp_path / 'a.glb')}: does not read back")

    with pytest.raises(InputError) as info, Transaction() as txn:
        txn.write_bytes(tmp_path / "a.glb", b"bad a")
        txn.write_bytes(tmp_path / "c.bin", b"bad c")
        txn.check(fail)
    assert str(info.value) == f"{tmp_path / 'a.glb'}: does not read back"  # the final name
    assert (tmp_path / "a.glb").read_bytes() == b"new a"
    assert not (tmp_path / "c.bin").exists() and _hidden(tmp_path) == []


def test_a_failed_move_puts_back_what_was_moved(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    with pytest.raises(OutputPathError), Transaction() as txn:
        txn.write_bytes(tmp_path / "a.txt", b"new a")
        txn.write_bytes(tmp_path / "b.txt", b"new b")
        (tmp_path / "b.txt").mkdir()  # b.txt becomes a folder before the end
    assert (tmp_path / "a.txt").read_text() == "old a"
    assert (tmp_path / "b.txt").is_dir() and _hidden(tmp_path) == []


def test_guard_sees_through_paths_symlinks_and_hard_links(tmp_path):
    source = tmp_path / "scene.toml"
    source.write_text("x")
    (tmp_path / "link.toml").symlink_to(source)
    os.link(source, tmp_path / "hard.toml")
    for out in (tmp_path / "sub" / ".." / "scene.toml", tmp_path / "link.toml",
                tmp_path / "hard.toml"):
        with pytest.raises(OutputPathError) as info:
            guard_inputs([out], [source])
        assert str(source) in str(info.value) and info.value.exit_code == 2
    guard_inputs([tmp_path / "other.toml"], [source])


def test_a_fifo_or_a_folder_is_never_an_output(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "dir.png").mkdir()
    for name in ("pipe.png", "dir.png"):
        with pytest.raises(OutputPathError, match=name), Transaction() as txn:
            txn.write_bytes(tmp_path / name, b"data")


def test_a_full_disk_names_the_file(tiny_disk):
    (tiny_disk / "report.json").write_text("previous")
    with pytest.raises(WriteError) as info, Transaction() as txn:
        txn.write_bytes(tiny_disk / "report.json", b"{}")
        txn.write_bytes(tiny_disk / "asset.glb", os.urandom(300_000))
    message = str(info.value)
    assert str(tiny_disk / "asset.glb") in message and "disk is full" in message
    assert "[Errno" not in message and info.value.exit_code == 1
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["report.json"]
    assert (tiny_disk / "report.json").read_text() == "previous"
    # a writer that writes atomically itself, into a staged path (as generate's GLB
    # writer does): the message still names the final file, not the staging folder
    from engine.fileio import write_bytes_atomic

    with pytest.raises(WriteError) as info, Transaction() as txn:
        write_bytes_atomic(txn.stage(tiny_disk / "asset.glb"), os.urandom(300_000))
    assert f"{tiny_disk / 'asset.glb'}:" in str(info.value) and "partial" not in str(info.value)
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["report.json"]


# ------------------------------------------------------------------------- errors


def test_errors_carry_their_exit_codes():
    from engine.asset.model import AssetError
    from engine.generate.card import ModelCardError
    from engine.reference import ReferenceImageError
    from engine.render.engine_setup import RenderUnavailable
    from engine.render.writers import OutputError
    from engine.scene import SceneError

    for bad_input in (AssetError, SceneError, ReferenceImageError, ModelCardError,
                      OutputPathError):
        assert issubclass(bad_input, InputError) and bad_input("x").exit_code == 2
    for failed in (OutputError, RenderUnavailable, WriteError):
        assert issubclass(failed, WorkError) and failed("x").exit_code == 1
    assert Interrupted(signal.SIGTERM).exit_code == 143
    assert Interrupted(signal.SIGHUP).exit_code == 129
    assert not issubclass(Interrupted, Exception), "except Exception must not swallow it"
    import engine.reference.errors as errors

    assert not hasattr(errors, "ReferenceError"), "shadowed the builtin"


def test_a_bug_shows_as_a_bug_not_as_bad_input(monkeypatch):
    """The CLI no longer turns any ValueError into "error: ..." and exit 2."""
    from engine import cli

    def buggy(args):
        return int("not a number")  # a ValueError from a bug

    monkeypatch.setattr(cli, "cmd_inspect", buggy)
    with pytest.raises(ValueError, match="invalid literal"):
        cli.main(["inspect", "x.glb"])


# ------------------------------------------------------------------------- no input lost


def _image_scene(tmp_path: Path, environment: str | None = None) -> Path:
    shutil.copy(CONCEPT, tmp_path / "concept.png")
    env = f'[stage]\nenvironment = "{environment}"\n' if environment else ""
    scene = tmp_path / "shot.toml"
    scene.write_text(f'[asset]\nsource = "concept.png"\n{env}'
                     '[output]\nheight = 32\nfps = 4\nduration = 0.5\nmsaa = 0\n')
    return scene


def test_still_never_writes_over_the_source_image_or_the_environment(tmp_path, cli):
    env = tmp_path / "sky.png"
    Image.new("RGB", (64, 32), (90, 120, 200)).save(env)
    scene = _image_scene(tmp_path, "sky.png")
    before = _snapshot(tmp_path)
    for target in (tmp_path / "concept.png", env, scene):
        result = cli("still", str(scene), "-o", str(target))
        assert result.returncode == 2, result.stderr
        assert "refusing to write over" in result.stderr or "PNG or JPEG" in result.stderr
        assert str(target) in result.stderr and "Traceback" not in result.stderr
        assert "generating" not in result.stderr.lower(), "refused before any work"
    assert _snapshot(tmp_path) == before


def test_inspect_never_writes_over_the_asset_or_its_buffer(tmp_path, cli):
    from engine.asset.export import export_mesh
    from engine.asset.io import load_asset

    shutil.copy(SAMPLE_ASSETS / "robot.glb", tmp_path / "x.glb")
    export_mesh(load_asset(tmp_path / "x.glb").mesh, tmp_path / "g.gltf")
    assert (tmp_path / "g.bin").is_file()
    before = _snapshot(tmp_path)
    for args in (("x.glb", "--sheet", "x.glb"), ("g.gltf", "--json", "g.bin"),
                 ("g.gltf", "--json", "g.gltf"), ("x.glb", "--sheet", "./x.glb")):
        result = cli("inspect", *args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
    assert _snapshot(tmp_path) == before


def test_prep_never_writes_over_the_obj_texture(tmp_path, cli):
    """`prep robot.obj -o robot.fbx` writes robot_basecolor.png beside the FBX: that is the
    OBJ's own texture (its .mtl names it)."""
    from engine.asset.export import export_mesh
    from engine.asset.io import load_asset

    export_mesh(load_asset(SAMPLE_ASSETS / "robot.glb").mesh, tmp_path / "robot.obj")
    assert (tmp_path / "robot_basecolor.png").is_file()
    before = _snapshot(tmp_path)
    result = cli("prep", "robot.obj", "--texture-size", "64", "-o", "robot.fbx",
                      cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "robot_basecolor.png" in result.stderr and "refusing" in result.stderr
    assert _snapshot(tmp_path) == before and _hidden(tmp_path) == []


def test_prep_checks_before_the_rename(tmp_path, cli):
    """`--height nan` made NaN vertices: the read-back check failed only after the previous
    good output had been replaced."""
    shutil.copy(SAMPLE_ASSETS / "mug.glb", tmp_path / "mug.glb")
    (tmp_path / "out.glb").write_bytes(b"the previous good output")
    result = cli("prep", "mug.glb", "--height", "nan", "-o", "out.glb", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert str(Path("out.glb")) in result.stderr or "height" in result.stderr
    assert (tmp_path / "out.glb").read_bytes() == b"the previous good output"
    assert _hidden(tmp_path) == []


def test_generate_never_replaces_its_input_with_the_report(tmp_path, cli):
    """A PNG named concept.json: `-o concept.glb` would write the report over it."""
    shutil.copy(CONCEPT, tmp_path / "concept.json")
    result = cli("generate", "concept.json", "-o", "concept.glb", "--model", "classical",
                      cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("concept.json") >= 2, "names the output and the input"
    assert (tmp_path / "concept.json").read_bytes() == CONCEPT.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["concept.json"]


def test_generate_writes_the_glb_and_its_report_together(tmp_path):
    """The report cannot be written (a folder is in its way): the GLB must not appear
    alone (it did: it was moved into place before the report was written)."""
    from engine.generate import GenerateSettings, generate_asset

    (tmp_path / "asset.json").mkdir()
    settings = GenerateSettings(model="classical", faces=500, texture_size=64)
    with pytest.raises(OutputPathError, match="asset.json"):
        generate_asset(CONCEPT, tmp_path / "asset.glb", settings, log=lambda m: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["asset.json"]
    result = generate_asset(CONCEPT, tmp_path / "ok.glb", settings, log=lambda m: None)
    assert result.glb.is_file() and json.loads(result.report_path.read_text())["mesh"]


# ------------------------------------------------------------------------- signals


def _wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("signum,target", [(signal.SIGTERM, "clip.mp4"),
                                           (signal.SIGHUP, "frames/")])
def test_sigterm_and_sighup_during_render_leave_nothing(tmp_path, signum, target):
    scene = small_scene(tmp_path, file="clip.mp4").read_text().replace(
        "duration = 0.5", "duration = 60")
    (tmp_path / "scene.toml").write_text(scene)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "render",
                             str(tmp_path / "scene.toml"), "-o", f"{out}/{target}", "-q"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        # the hidden partial output exists once frames are being written
        assert _wait_for(lambda: any(p.name.startswith(".") for p in out.iterdir()), 120), \
            "the render never started"
        time.sleep(0.5)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, stderr
    assert signal.Signals(signum).name in stderr and "Traceback" not in stderr
    assert list(out.iterdir()) == [], "no partial file or folder is left"


# ------------------------------------------------------------------------- outputs


def test_render_output_paths_are_never_guessed(tmp_path, cli):
    scene = small_scene(tmp_path)
    result = cli("render", str(scene), "-o", str(tmp_path / "renders" / "x"), "-q")
    assert result.returncode == 2 and "no file type" in result.stderr
    assert "trailing /" in result.stderr
    (tmp_path / "d.mp4").mkdir()
    result = cli("render", str(scene), "-o", str(tmp_path / "d.mp4"), "-q")
    assert result.returncode == 2 and "is a folder" in result.stderr
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    result = cli("render", str(scene), "-o", f"{full}/", "-q")
    assert result.returncode == 2, result.stderr  # bad input: it exited 1
    assert "overwrite=True" not in result.stderr and "already holds files" in result.stderr
    (tmp_path / "taken.png").mkdir()
    result = cli("still", str(scene), "-o", str(tmp_path / "taken.png"))
    assert result.returncode == 2, result.stderr  # an existing folder: it exited 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.mp4", "full", "scene.toml",
                                                           "taken.png"]
    assert list((tmp_path / "d.mp4").iterdir()) == [] and _snapshot(full) == {
        "keep.txt": b"mine"}
    # a scene's [output] file follows the same rule
    bad = small_scene(tmp_path, file="renders/x")
    result = cli("render", str(bad), "-q")
    assert result.returncode == 2 and "[output] file" in result.stderr


def test_render_names_what_it_takes_not_a_key_never_written(tmp_path, cli):
    (tmp_path / "robot.fbx").write_bytes(b"Kaydara FBX Binary  \x00")
    (tmp_path / "shot.txt").write_text("[asset]\n")
    for name, hint in (("robot.fbx", "maquette export"), ("shot.txt", ".txt")):
        result = cli("render", str(tmp_path / name), "-q")
        assert result.returncode == 2, result.stderr
        assert "[asset] source" not in result.stderr and hint in result.stderr
        assert str(tmp_path / name) in result.stderr and ".toml" in result.stderr


def test_printed_output_paths_are_normalised(tmp_path, cli):
    scene = small_scene(tmp_path, file="../out/clip.gif")
    (tmp_path / "sub").mkdir()
    moved = tmp_path / "sub" / "scene.toml"
    scene.rename(moved)
    result = cli("render", str(moved), "-q")
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path / 'out' / 'clip.gif'} (" in result.stdout
    assert ".." not in result.stdout


def test_bad_values_name_what_is_wrong(tmp_path, cli):
    scene = small_scene(tmp_path)
    result = cli("still", str(scene), "--at", "nan", "-o", str(tmp_path / "a.png"))
    assert result.returncode == 2 and "--at" in result.stderr
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    result = cli("generate", str(tmp_path / "dot.png"), "-o", str(tmp_path / "dot.glb"),
                      "--model", "classical")
    assert result.returncode == 2, result.stderr
    assert "1x1" in result.stderr and "gradient" not in result.stderr
    os.environ["MAQUETTE_MAX_TRIANGLES"] = "abc"
    try:
        result = cli("inspect", str(SAMPLE_ASSETS / "mug.glb"))
    finally:
        del os.environ["MAQUETTE_MAX_TRIANGLES"]
    assert result.returncode == 2 and "MAQUETTE_MAX_TRIANGLES" in result.stderr
    assert "abc" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dot.png", "scene.toml"]


def test_inspect_refuses_a_fifo_instead_of_hanging(tmp_path, cli):
    os.mkfifo(tmp_path / "pipe.glb")
    result = maquette("inspect", str(tmp_path / "pipe.glb"))  # (hung for ever)
    assert result.returncode == 2 and "not a regular file" in result.stderr
    result = cli("still", str(tmp_path / "pipe.glb"), "-o", str(tmp_path / "x.png"))
    assert result.returncode == 2 and "not a regular file" in result.stderr


def test_the_model_has_one_name(tmp_path, cli):
    """README, the card's id, the file and the console all say maquette-ld-v3."""
    card = json.loads((ROOT / "models" / "maquette-ld-v3.json").read_text())
    assert card["id"] == "maquette-ld-v3"
    assert f"`models/{card['id']}`" in (ROOT / "README.md").read_text()
    result = cli("generate", str(CONCEPT), "-o", str(tmp_path / "a.glb"), "--faces",
                      "1000", "--texture-size", "64", "--no-mirror-average", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert f"model {card['id']} on CPU" in result.stdout + result.stderr
    assert json.loads((tmp_path / "a.json").read_text())["model"]["id"] == card["id"]


def test_generate_on_cuda_without_one_says_only_our_message(tmp_path):
    result = maquette("generate", str(CONCEPT), "-o", str(tmp_path / "a.glb"), "--device",
                      "cuda", "--faces", "1000", "--texture-size", "64")
    if result.returncode == 0:
        pytest.skip("this machine runs the model on CUDA")
    assert result.returncode == 1 and "--device cuda" in result.stderr
    assert "onnxruntime" not in result.stderr.split("maquette: error")[0], result.stderr
    assert "[E:" not in result.stderr and "\x1b[" not in result.stderr


def test_contact_sheet_as_real_jpeg(tmp_path):
    from engine.render.contact_sheet import render_contact_sheet

    out = render_contact_sheet(SAMPLE_ASSETS / "mug.glb", tmp_path / "sheet.jpg", tile=48,
                               msaa=0)
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.size[0] == 4 * 48
        assert np.asarray(image).std() > 5
    with pytest.raises(OutputPathError, match="PNG or JPEG"):
        render_contact_sheet(SAMPLE_ASSETS / "mug.glb", tmp_path / "sheet.gif", tile=48)
    with pytest.raises(OutputPathError, match="refusing"):
        render_contact_sheet(SAMPLE_ASSETS / "mug.glb", SAMPLE_ASSETS / "mug.glb.png",
                             tile=48, inputs=[SAMPLE_ASSETS / "mug.glb.png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.jpg"]


def test_an_environment_that_is_not_exr_is_bad_input_not_a_crash(tmp_path):
    """Panda's OpenEXR reader aborted the whole process (exit 134) on a `.exr` holding
    something else."""
    (tmp_path / "sky.exr").write_text("not an EXR")
    scene = small_scene(tmp_path, '[stage]\nenvironment = "sky.exr"\n')
    result = maquette("still", str(scene), "-o", str(tmp_path / "x.png"))
    assert result.returncode == 2, result.stderr
    assert "sky.exr" in result.stderr and "OpenEXR" in result.stderr
