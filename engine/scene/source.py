"""The one way to turn what a user names into something to put on stage.

A *source* is what `render`, `still`, `view` and `demo` take (a scene file, an asset
file or a concept image) and what a scene's ``[asset] source`` names (an asset file or
an image). :func:`resolve_source` turns an asset source into the mesh file to load:
the file itself, or, for an image, the GLB generated from it (once per content hash,
in the cache folder, :func:`cache_dir`). Later sources (a library reference) resolve
here too.

Each resolution also says which files were read (:attr:`ResolvedSource.inputs`): the
mesh and its textures and buffers, the image and the cached GLB standing for it, and
their reports; :func:`scene_inputs` adds the scene file and its environment image.
Commands pass them to :mod:`engine.fileio`, which refuses to write over any of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.errors import InputError
from engine.scene.loader import IMAGE_SUFFIXES, load_scene, scene_for_asset
from engine.scene.model import Scene, mesh_suffixes

__all__ = ["SCENE_SUFFIX", "Loaded", "ResolvedSource", "cache_dir", "generated_path",
           "is_image", "load_source", "resolve_source", "scene_inputs", "source_kind"]

SCENE_SUFFIX = ".toml"
_EXPORT_ONLY = (".fbx", ".usdz", ".usd", ".usdc")


def cache_dir() -> Path:
    """Where generated and converted assets are kept: $MAQUETTE_CACHE, else
    $XDG_CACHE_HOME/maquette (~/.cache/maquette)."""
    root = os.environ.get("MAQUETTE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "maquette"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_image(path: Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def source_kind(path: Path, *, scenes: bool = True) -> str:
    """"scene", "asset" or "image" by the file's suffix; InputError (exit 2) naming the
    file and what is accepted for anything else."""
    suffix = Path(path).suffix.lower()
    if scenes and suffix == SCENE_SUFFIX:
        return "scene"
    if suffix in mesh_suffixes():
        return "asset"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    accepted = (f"a scene ({SCENE_SUFFIX}), " if scenes else "") + \
        f"an asset ({' '.join(mesh_suffixes())}) or an image ({' '.join(IMAGE_SUFFIXES)})"
    if suffix in _EXPORT_ONLY:
        why = f"{suffix} files are written by `maquette export`, not read"
    else:
        why = f"{suffix!r} is not a type this reads" if suffix else "the name has no suffix"
    raise InputError(f"{path}: expected {accepted}; {why}")


@dataclass(frozen=True)
class ResolvedSource:
    source: Path  # what was named (absolute)
    mesh: Path  # the mesh file to load: the source, or the GLB generated from it
    inputs: tuple[Path, ...] = ()  # every file read to get `mesh`
    generated: bool = False


def generated_path(image: Path, settings=None) -> Path:
    """Where the GLB generated from `image` (with `settings`) is cached; its report
    (the .json beside it) too."""
    from engine.generate.pipeline import GenerateSettings, cache_key

    return cache_dir() / "generated" / f"{cache_key(image, settings or GenerateSettings())}.glb"


def _asset_inputs(path: Path) -> tuple[Path, ...]:
    from engine.asset.files import asset_files

    return tuple(asset_files(path))


def resolve_source(source: Path, settings=None, log: Callable[[str], None] | None = None,
                   *, generate: bool = True) -> ResolvedSource:
    """Resolve an asset source (a mesh file or an image). An image is generated into a
    GLB first (cached by content hash: image, model, settings), unless `generate` is
    False: then `mesh` is the cache path, which may not exist yet."""
    source = Path(source).absolute()
    if not is_image(source):
        return ResolvedSource(source, source, _asset_inputs(source))
    from engine.generate.pipeline import GenerateSettings, generate_cached

    settings = settings or GenerateSettings()
    mesh = generated_path(source, settings)
    if generate:
        mesh = generate_cached(source, cache_dir(), settings,
                               log=log or (lambda message: None))
    return ResolvedSource(source, mesh, (source, mesh, mesh.with_suffix(".json")),
                          generated=True)


def scene_inputs(scene: Scene, *extra: Path) -> list[Path]:
    """Every file `scene` reads: the scene file, its asset (and the files the asset
    references), the environment image; plus `extra` (e.g. a resolved source's)."""
    files = [Path(scene.path)] if scene.path is not None else []
    files += _asset_inputs(scene.asset.source)
    if scene.stage.environment is not None:
        files.append(Path(scene.stage.environment))
    return files + [Path(p) for p in extra]


@dataclass
class Loaded:
    """A source opened for the stage: the scene (its asset resolved to a mesh file when
    `resolved` is set) and everything that was read."""

    scene: Scene
    resolved: ResolvedSource | None = None
    inputs: list[Path] = field(default_factory=list)

    @property
    def needs_generation(self) -> bool:
        return self.resolved is None


def load_source(value: str | Path, settings=None, log: Callable[[str], None] | None = None,
                *, generate: bool = True, outputs: Iterable[Path] = ()) -> Loaded:
    """A scene file (.toml) or a bare asset or image (on the default stage), its asset
    source resolved (an image generated, unless `generate` is False: then `resolved`
    is None and the scene still names the image). `outputs`: the paths the command will
    write, refused (engine.fileio.guard_inputs) before any generation if one of them is
    an input."""
    from engine.fileio import guard_inputs

    path = Path(value)
    kind = source_kind(path)
    if not path.is_file():
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not a file")
        if path.exists():
            raise InputError(f"{path}: not a regular file (a FIFO, socket or device)")
        raise InputError(f"{path}: file not found")
    scene = load_scene(path) if kind == "scene" else scene_for_asset(path)
    planned = resolve_source(scene.asset.source, settings, generate=False)
    guard_inputs(outputs, scene_inputs(scene, *planned.inputs))
    if planned.generated and not generate:
        return Loaded(scene, None, scene_inputs(scene, *planned.inputs))
    resolved = resolve_source(scene.asset.source, settings, log) if planned.generated \
        else planned
    inputs = scene_inputs(scene, *resolved.inputs)
    return Loaded(replace(scene, asset=replace(scene.asset, source=resolved.mesh)), resolved,
                  inputs)
