"""The files the viewer offers besides its source (no Panda3D): the environments `V`
cycles through and the neighbouring files `PageUp` / `PageDown` open.

Environments are equirectangular HDR images (.hdr, .exr; engine.render.environment):
the ones Maquette ships (`scenes/environments/`) and any beside the viewed file. Files
are listed by name, alphabetically (case-insensitive), so the order is the same on every
machine.
"""

from __future__ import annotations

from pathlib import Path

SCENE_STUDIO = "preset studio"  # the light preset's own analytic environment (no image)


def _listed(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    try:
        entries = list(folder.iterdir())
    except OSError:  # unreadable or gone: nothing offered from it
        return []
    found = [p for p in entries if p.suffix.lower() in suffixes and p.is_file()
             and not p.name.startswith(".")]
    return sorted(found, key=lambda p: (p.name.lower(), p.name))


def environment_choices(scene_environment: Path | None,
                        source: Path) -> list[tuple[str, Path | None]]:
    """(label, file or None) for `V`: first the scene's own environment (its image, or
    the preset's analytic studio), then the other of the two, then the bundled HDR
    images and those in the source's folder; each file once."""
    from engine.render.environment import HDR_SUFFIXES
    from engine.resources import resource_path

    if scene_environment is None:
        choices: list[tuple[str, Path | None]] = [(f"scene ({SCENE_STUDIO})", None)]
    else:
        choices = [(f"scene ({Path(scene_environment).name})", Path(scene_environment)),
                   (SCENE_STUDIO, None)]
    seen = {Path(scene_environment).resolve()} if scene_environment is not None else set()
    for folder in (resource_path("scenes", "environments"), Path(source).parent):
        for path in _listed(folder, HDR_SUFFIXES):
            if path.resolve() not in seen:
                seen.add(path.resolve())
                choices.append((path.name, path))
    return choices


def loadable_suffixes() -> tuple[str, ...]:
    """What `maquette view` opens: scenes, assets and images (engine.scene.source)."""
    from engine.scene.loader import IMAGE_SUFFIXES
    from engine.scene.model import mesh_suffixes
    from engine.scene.source import SCENE_SUFFIX

    return (SCENE_SUFFIX, *mesh_suffixes(), *IMAGE_SUFFIXES)


def neighbour_file(current: Path, step: int) -> Path | None:
    """The loadable file `step` places after `current` (negative: before) in its folder,
    alphabetically, wrapping round; None if `current` is the only one."""
    current = Path(current)
    files = _listed(current.parent, loadable_suffixes())
    names = [p.name for p in files]
    if current.name not in names:  # deleted or renamed meanwhile: from where it would sort
        files.append(current)
        files.sort(key=lambda p: (p.name.lower(), p.name))
        names = [p.name for p in files]
    if len(files) < 2:
        return None
    i = names.index(current.name)
    return files[(i + step) % len(files)]
