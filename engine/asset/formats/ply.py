"""PLY: binary writer (positions and faces, no attributes), the pre-allocation check of
the header's element counts and texture, and read-back through trimesh."""

from __future__ import annotations

from pathlib import Path

from engine.asset.check import check_texture, open_texture
from engine.asset.model import AssetError

from .common import trimesh_figures

__all__ = ["check_ply", "read_back", "write"]

_SIZES = {"char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2,
          "int16": 2, "uint16": 2, "int": 4, "uint": 4, "int32": 4, "uint32": 4,
          "float": 4, "float32": 4, "double": 8, "float64": 8}


def _header(path: Path) -> tuple[list[str], int]:
    """The header's lines (before end_header) and the body's offset."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    end = head.find(b"end_header")
    if end < 0:
        raise AssetError(f"{path}: corrupt PLY: no end_header in the first 64 KiB")
    return head[:end].decode("ascii", errors="replace").splitlines(), head.find(b"\n", end) + 1


def _element(path: Path, line: str, words: list[str]) -> list:
    """[name, count, minimum bytes per element] of an `element NAME COUNT` line."""
    try:
        count = int(words[2])
    except ValueError:
        count = -1
    if count < 0:
        raise AssetError(f"{path}: corrupt PLY header: {line!r}")
    return [words[1], count, 0]


def _property_bytes(words: list[str]) -> int:
    """The fewest bytes a `property ...` takes (a list: its length and three indices)."""
    if words[1] == "list" and len(words) >= 5:
        return _SIZES.get(words[2], 1) + 3 * _SIZES.get(words[3], 1)
    return _SIZES.get(words[1], 1)


def _parse(path: Path, lines: list[str]) -> tuple[str, list[list], list[str]]:
    """(format, elements [[name, count, min bytes]], texture file names) of a header."""
    fmt, elements, textures = "ascii", [], []
    for line in lines:
        words = line.split()
        if len(words) > 1 and words[0] == "format":
            fmt = words[1]
        elif len(words) == 3 and words[0] == "element":
            elements.append(_element(path, line, words))
        elif len(words) > 1 and words[0] == "property" and elements:
            elements[-1][2] += _property_bytes(words)
        elif words[:1] == ["comment"] and "texturefile" in line.lower():
            textures.append(line[line.lower().index("texturefile") + 11:].strip())
    return fmt, elements, textures


def check_ply(path: Path, size: int, limits) -> int:
    """Faces the header declares; refused over the limit, when the body is too short
    for the declared elements, or when its texture is over the texture limit."""
    lines, header_end = _header(path)
    fmt, elements, textures = _parse(path, lines)
    limit = limits.triangles
    faces = sum(c for name, c, _ in elements if name == "face")
    vertices = sum(c for name, c, _ in elements if name == "vertex")
    if faces > limit or vertices > 3 * limit:
        raise AssetError(
            f"{path}: header declares {vertices:,} vertices and {faces:,} faces, over the "
            f"limit of {limit:,} triangles (MAQUETTE_MAX_TRIANGLES); refused"
        )
    body = size - header_end
    per_element = (lambda b: b) if fmt.startswith("binary") else (lambda b: 2)  # "x\n"
    need = sum(c * per_element(b) for _, c, b in elements)
    if need > body:
        names = ", ".join(f"element {n} {c}" for n, c, _ in elements)
        raise AssetError(
            f"{path}: truncated or corrupt PLY: the header declares {names} (at least "
            f"{need:,} bytes) but only {body:,} bytes follow it; refused before allocating"
        )
    for name in textures:
        with open_texture(path, name, f"comment TextureFile {name!r}") as handle:
            if handle is not None:
                check_texture(path, f"TextureFile {name!r}", handle, limits.texture_pixels)
    return faces


def write(mesh, out: Path, options) -> dict[Path, bytes]:
    import trimesh

    return {out: trimesh.exchange.ply.export_ply(mesh, encoding="binary",
                                                 include_attributes=False)}


read_back = trimesh_figures
