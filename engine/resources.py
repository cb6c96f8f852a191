"""Where the files Maquette ships with live: the generator models, the example scenes, shaders.

One lookup for both ways of running Maquette:

* a source checkout (or an editable install of one): the repository's top-level ``models/``
  and ``scenes/`` folders, beside ``engine/`` and ``pyproject.toml``;
* an installed wheel (``pip install .``): pyproject.toml maps those folders into the package
  as ``engine/_data/models`` and ``engine/_data/scenes`` (the ONNX model and its card, not
  the training-only ``.pt`` weights; the scenes with their assets, sample image and
  environment).

The shaders always live inside the package (``engine/render/shaders``). Paths are real
files on disk, since onnxruntime and Panda3D open files by name: a zipped install is not
supported. No third-party imports, so anything may use this module.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
INSTALLED = PACKAGE / "_data"  # where the wheel puts models/ and scenes/
DISTRIBUTION = "maquette"  # the name pip knows the package by
KINDS = ("models", "scenes", "shaders")


def _checkout() -> Path | None:
    """The repository root when running from a source checkout, else None."""
    root = PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() else None


def resource_path(kind: str, *parts: str) -> Path:
    """Path of a shipped file or folder: ``resource_path("scenes", "from-image.toml")``.

    `kind` is "models", "scenes" or "shaders"; `parts` are names inside that folder.
    An installed copy wins over a checkout's; if neither folder exists the installed
    location is returned, so that the caller's "not found" names a sensible path.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown resource kind {kind!r} (one of {', '.join(KINDS)})")
    if kind == "shaders":
        return PACKAGE.joinpath("render", "shaders", *parts)
    folder = INSTALLED / kind
    root = _checkout()
    if not folder.is_dir() and root is not None and (root / kind).is_dir():
        folder = root / kind
    return folder.joinpath(*parts)


def version() -> str:
    """A checkout's (or editable install's) pyproject.toml's version, else the installed
    package's metadata (importlib.metadata costs ~0.05 s of a still's start)."""
    root = _checkout()
    if root is not None:
        import tomllib

        with open(root / "pyproject.toml", "rb") as f:
            return str(tomllib.load(f)["project"]["version"])
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
