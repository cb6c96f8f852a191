"""Which files an asset is made of: the file itself and every file it references.

glTF/GLB: external ``buffers[].uri`` (the ``.bin``) and ``images[].uri``; OBJ: each
``mtllib`` and the texture maps its materials name; plus a Maquette generation report
(``NAME.json`` beside ``NAME.glb``). Used by the never-overwrite-an-input guard
(:mod:`engine.fileio`): no command writes over any of them. Best effort and never
raising: a reference that is unsafe or missing is the loader's to report
(:mod:`engine.asset.io`), not this list's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from engine.asset.check import safe_local
from engine.asset.formats.gltf import read_glb_header
from engine.asset.io import sniff_format
from engine.asset.model import AssetError

__all__ = ["asset_files"]

_MTL_MAP = re.compile(r"^\s*(map_\w+|bump|disp|decal|refl)\s+(.+?)\s*$", re.M)
_MTLLIB = re.compile(r"^\s*mtllib\s+(.+?)\s*$", re.M)
_OBJ_HEAD_BYTES = 1 << 26


def _local(path: Path, uri, field: str) -> Path | None:
    if not isinstance(uri, str) or uri.startswith("data:"):
        return None
    try:
        return safe_local(path, uri, field)
    except AssetError:
        return None


def _gltf_refs(path: Path, doc: dict) -> list[Path]:
    refs = []
    for kind in ("buffers", "images"):
        items = doc.get(kind) or []
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    refs.append(_local(path, item.get("uri"), f"{kind}[{i}].uri"))
    return [r for r in refs if r is not None]


def _obj_refs(path: Path) -> list[Path]:
    refs = []
    with open(path, "rb") as handle:
        text = handle.read(_OBJ_HEAD_BYTES).decode("utf-8", errors="replace")
    for match in _MTLLIB.finditer(text):
        mtl = _local(path, match.group(1), "mtllib")
        if mtl is None:
            continue
        refs.append(mtl)
        if mtl.is_file():
            for m in _MTL_MAP.finditer(mtl.read_text(errors="replace")):
                ref = m.group(2)
                name = ref.split()[-1] if ref.startswith("-") else ref  # options first
                texture = _local(mtl, name, m.group(1))
                if texture is not None:
                    refs.append(texture)
    return refs


def generation_report(asset: Path) -> tuple[Path, dict] | None:
    """(path, contents) of NAME.json beside NAME.glb when it is the report `maquette
    generate` wrote (a JSON object with "source" and "model"; at most 1 MiB), else None."""
    sidecar = Path(asset).with_suffix(".json")
    if sidecar == Path(asset) or not sidecar.is_file() or sidecar.stat().st_size > 1 << 20:
        return None
    try:
        doc = json.loads(sidecar.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return (sidecar, doc) if isinstance(doc, dict) and {"source", "model"} <= doc.keys() \
        else None


def asset_files(path: Path) -> list[Path]:
    """`path` and the files it references (absolute, existing or not)."""
    path = Path(path).absolute()
    files = [path]
    try:
        fmt = sniff_format(path)
        if fmt == "glb":
            doc, _ = read_glb_header(path, path.stat().st_size)
            files += _gltf_refs(path, doc)
        elif fmt == "gltf":
            doc = json.loads(path.read_bytes().decode("utf-8-sig"))
            if isinstance(doc, dict):
                files += _gltf_refs(path, doc)
        elif fmt == "obj":
            files += _obj_refs(path)
    except (AssetError, OSError, ValueError, RecursionError):
        pass  # the loader reports what is wrong with the file
    report = generation_report(path)
    return files + ([report[0]] if report else [])
