"""What a glTF asset carries besides its triangles, as plain comparable figures.

:func:`gltf_content` summarises a GLB (bytes): meshes and primitives, materials (base
colour factor, textures per slot, alpha mode and cutoff, double-sided, emissive,
extensions, texture transforms, UV set per texture), per-primitive attributes (normals,
UV sets, vertex colours, tangents, joints, morph targets), samplers' wrap modes,
animations and skins.  :func:`content_losses` names what one summary has that another
lacks; the export verifier (:func:`engine.asset.export.verify_export`) compares the
written file with the *source* asset through it, and ``tools/export_losses.py``
tabulates it for every sample.  Units: none (counts, factors in [0, 1]).
"""

from __future__ import annotations

__all__ = ["TEXTURE_SLOTS", "content_losses", "gltf_content"]

TEXTURE_SLOTS = ("baseColorTexture", "metallicRoughnessTexture", "normalTexture",
                 "occlusionTexture", "emissiveTexture")
_WRAP_DEFAULT = 10497  # REPEAT


def _texture_infos(material: dict):
    """(slot, textureInfo) for every texture a material uses."""
    pbr = material.get("pbrMetallicRoughness") or {}
    for slot in TEXTURE_SLOTS:
        info = pbr.get(slot) if slot in ("baseColorTexture", "metallicRoughnessTexture") \
            else material.get(slot)
        if isinstance(info, dict):
            yield slot, info


def gltf_content(doc: dict) -> dict:
    """Figures of a glTF document (its JSON; decoded or not)."""
    meshes = doc.get("meshes") or []
    prims = [p for m in meshes for p in (m.get("primitives") or [])]
    materials = doc.get("materials") or []
    used = sorted({p["material"] for p in prims if isinstance(p.get("material"), int)})

    def count(attr: str) -> int:
        return sum(1 for p in prims if attr in (p.get("attributes") or {}))

    mats = []
    for i in used:
        m = materials[i] if i < len(materials) else {}
        pbr = m.get("pbrMetallicRoughness") or {}
        infos = list(_texture_infos(m))
        mats.append({
            "base": [round(float(x), 3) for x in pbr.get("baseColorFactor", [1, 1, 1, 1])],
            "slots": sorted(slot for slot, _ in infos),
            "alpha": m.get("alphaMode", "OPAQUE") + (
                f"@{m.get('alphaCutoff', 0.5):g}" if m.get("alphaMode") == "MASK" else ""),
            "double": bool(m.get("doubleSided", False)),
            "emissive": [round(float(x), 3) for x in m.get("emissiveFactor", [0, 0, 0])],
            "extensions": sorted(m.get("extensions") or {}),
            "transforms": sum(1 for _, info in infos
                              if "KHR_texture_transform" in (info.get("extensions") or {})),
            "texcoord1": sum(1 for _, info in infos if info.get("texCoord", 0) == 1),
        })
    wraps = sorted({(s.get("wrapS", _WRAP_DEFAULT), s.get("wrapT", _WRAP_DEFAULT))
                    for s in doc.get("samplers") or []} - {(_WRAP_DEFAULT, _WRAP_DEFAULT)})
    return {
        "meshes": len(meshes), "primitives": len(prims), "materials": len(used),
        "untextured_prims_without_material": sum(1 for p in prims if "material" not in p),
        "material_list": mats,
        "normals": count("NORMAL"), "texcoord0": count("TEXCOORD_0"),
        "texcoord1": count("TEXCOORD_1"), "colors": count("COLOR_0"),
        "tangents": count("TANGENT"), "joints": count("JOINTS_0"),
        "morph_targets": sum(len(p.get("targets") or []) for p in prims),
        "textures": sum(len(m["slots"]) for m in mats),
        "alpha": sorted({m["alpha"] for m in mats} - {"OPAQUE"}),
        "double_sided": sum(m["double"] for m in mats),
        "emissive": sum(1 for m in mats if any(m["emissive"])),
        "texture_transforms": sum(m["transforms"] for m in mats),
        "wraps": [list(w) for w in wraps],
        "animations": len(doc.get("animations") or []),
        "skins": len(doc.get("skins") or []),
        "extensions": sorted(set(doc.get("extensionsUsed") or [])),
    }


# (key, words) compared by content_losses: a count the copy has fewer of, or a value
# that differs
_COUNTS = (("primitives", "primitives"), ("materials", "materials"), ("normals", "normals"),
           ("texcoord0", "UVs"), ("texcoord1", "second UV set"), ("colors", "vertex colours"),
           ("textures", "textures"), ("double_sided", "double-sided"),
           ("emissive", "emissive"), ("texture_transforms", "texture transforms"),
           ("animations", "animations"), ("skins", "skins"), ("morph_targets", "morph targets"),
           ("joints", "joints"))
_VALUES = (("alpha", "alpha modes"), ("wraps", "wrap modes"))


def content_losses(source: dict, copy: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """What `copy` (a :func:`gltf_content`) lost of `source`, in words; [] when nothing.
    Base colours are compared material by material when both have as many."""
    lost = []
    for key, words in _COUNTS:
        if key not in ignore and copy.get(key, 0) < source.get(key, 0):
            lost.append(f"{words} {copy.get(key, 0)}/{source[key]}")
    for key, words in _VALUES:
        if key not in ignore and source.get(key) and copy.get(key) != source[key]:
            lost.append(f"{words} {copy.get(key)} (source {source[key]})")
    if "base" not in ignore and len(source["material_list"]) == len(copy["material_list"]):
        # (as sets: other formats list their materials in another order)
        theirs, ours = (sorted(m["base"] for m in x["material_list"]) for x in (source, copy))
        wrong = sum(1 for a, b in zip(theirs, ours, strict=True)
                    if max(abs(x - y) for x, y in zip(a, b, strict=True)) > 0.02)
        if wrong:
            lost.append(f"base colour differs in {wrong} material(s)")
    if "extensions" not in ignore:
        gone = sorted(set(source["extensions"]) - set(copy["extensions"]))
        if gone:
            lost.append("extensions " + ", ".join(gone))
    return lost
