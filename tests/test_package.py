"""A real package: the wheel carries the shipped model, the example scenes and the shaders,
and an installed copy runs from any folder without the source checkout.

The slow test (marker `install`, about 15 s here) builds the wheel from a copy of the
checkout, installs it with --no-deps into a fresh virtual environment that borrows this
interpreter's site-packages for the dependencies (a .pth file: nothing is downloaded
but the build backend pip's isolated build fetches from the package index), and runs
`maquette --version`, `generate` with the shipped model and a `still` of a sample scene
from a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.resources import resource_path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
MODEL_CARD = "maquette-ld-v3.json"
INSTALLED = "engine/_data"  # where pyproject.toml maps models/ and scenes/ in the wheel


def _visible_files(folder: Path) -> list[str]:
    """Files under `folder` (POSIX paths relative to it), leaving out hidden and cache ones."""
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") or part == "__pycache__"
                                   for part in p.relative_to(folder).parts)
    )


def test_every_engine_package_and_scenes_folder_is_listed_in_pyproject() -> None:
    """pyproject.toml lists packages by hand (to map models/ and scenes/ in): a new engine
    subpackage or scenes subfolder missing there would be left out of the wheel."""
    listed = set(SETUPTOOLS["packages"])
    code = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "engine").rglob(
        "__init__.py") if "__pycache__" not in p.parts}
    assert code - listed == set(), "add these to [tool.setuptools] packages"
    scene_dirs = {"engine._data.scenes." + ".".join(p.relative_to(ROOT / "scenes").parts)
                  for p in (ROOT / "scenes").rglob("*") if p.is_dir()
                  and not p.name.startswith((".", "__"))}
    assert scene_dirs - listed == set(), "add these to [tool.setuptools] packages"
    for package, folder in SETUPTOOLS["package-dir"].items():
        assert (ROOT / folder).is_dir() and package in listed


def test_resources_come_from_the_checkout_here() -> None:
    from engine.generate.pipeline import DEFAULT_MODEL

    assert resource_path("models") == ROOT / "models"
    assert DEFAULT_MODEL == ROOT / "models" / MODEL_CARD and DEFAULT_MODEL.is_file()
    assert resource_path("scenes", "from-image.toml").is_file()
    assert resource_path("shaders", "pbr.frag.glsl").is_file()
    with pytest.raises(ValueError, match="unknown resource kind 'fonts'"):
        resource_path("fonts")


def test_version_is_the_pyproject_version() -> None:
    import engine

    out = subprocess.run([sys.executable, "-m", "engine.cli", "--version"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out == f"maquette {PYPROJECT['project']['version']}\n"
    assert engine.__version__ == PYPROJECT["project"]["version"]


def _copy_checkout(dest: Path) -> Path:
    """What a clean checkout holds for the build (no build/, caches or egg-info)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", ".*")
    for name in ("engine", "models", "scenes", "tests", "tools"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


def _run(cmd: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.install
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path) -> None:
    src = _copy_checkout(tmp_path / "src")
    assert (src / "models" / "maquette-ld-v3.weights-fp16.pt").is_file()  # must stay out
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["MAQUETTE_CACHE"] = str(tmp_path / "cache")

    # the wheel and what it holds
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", src, "--no-deps", "-q", "-w", dist],
         tmp_path, env)
    (wheel,) = dist.glob("maquette-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"{INSTALLED}/models/{MODEL_CARD}", f"{INSTALLED}/models/maquette-ld-v3.onnx"} \
        <= names
    assert not [n for n in names if "maquette-ld-v2" in n]  # the baseline stays in the checkout
    assert not [n for n in names if n.endswith(".pt") or n.startswith(("tests/", "tools/"))]
    scenes = {f"{INSTALLED}/scenes/{n}" for n in _visible_files(src / "scenes")}
    assert scenes - names == set()
    code = {f"engine/{n}" for n in _visible_files(src / "engine")}
    assert code - names == set()  # every module and every shader
    assert any(n.endswith(".glsl") for n in code)

    # a fresh venv: the wheel alone, dependencies borrowed from this interpreter
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path, env)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp_path, env).stdout.strip())
    borrowed = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "_borrowed_dependencies.pth").write_text("".join(f"{p}\n" for p in borrowed))
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "-q", wheel], tmp_path, env)
    shutil.rmtree(src)  # nothing of the checkout copy may be needed any more

    work = tmp_path / "elsewhere"
    work.mkdir()
    maquette = venv / "bin" / "maquette"
    version = _run([maquette, "--version"], work, env).stdout
    assert version == f"maquette {PYPROJECT['project']['version']}\n"
    where = json.loads(_run([python, "-c", (
        "import json, engine.resources as r; print(json.dumps([str(r.PACKAGE), "
        "str(r.resource_path('models')), str(r.resource_path('scenes'))]))")], work, env).stdout)
    package = site / "engine"
    assert where == [str(package), str(package / "_data/models"), str(package / "_data/scenes")]

    # the shipped model, found in the installed package (not the classical fallback)
    scenes_dir = package / "_data" / "scenes"
    _run([maquette, "generate", scenes_dir / "samples" / "robot-concept.png", "-o", "robot.glb",
          "--faces", "2000", "--texture-size", "256"], work, env)
    report = json.loads((work / "robot.json").read_text())
    assert report["model"]["card"] == str(package / "_data" / "models" / MODEL_CARD)
    assert report["model"]["id"] == json.loads(
        (package / "_data" / "models" / MODEL_CARD).read_text())["id"]

    # a sample scene with its asset, environment and the shaders, from the installed copy
    _run([maquette, "still", scenes_dir / "hero-push-in.toml", "--at", "1", "-o", "still.png"],
         work, env)
    with Image.open(work / "still.png") as image:
        assert image.size == (1920, 1080)
        pixels = np.asarray(image.convert("RGB")).astype(int)
    centre = pixels[300:800, 860:1060].reshape(-1, 3)  # the bottle
    corner = pixels[:100, :100].reshape(-1, 3)  # the backdrop
    assert np.abs(centre.mean(0) - corner.mean(0)).max() > 30
    assert centre.std(0).max() > 20  # label, cap and glass, not one flat colour
