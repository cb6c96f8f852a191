"""`maquette generate`: image → isolated, framed reference → layered depth → textured GLB.

Stages (each timed): load, isolate, model, reconstruct, texture, write. Writes
OUT.glb and OUT.json (provenance: source sha256, model id and sha256, settings,
timings, warnings) atomically.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from engine.asset.inspect import RECORD_KEY
from engine.asset.model import HEIGHT_RANGE_M
from engine.asset.seen import ARC_KEY, mesh_seen, mesh_seen_shares, seen_arc
from engine.asset.topology import analyse
from engine.errors import InputError
from engine.fileio import Transaction, guard_inputs
from engine.generate.card import MAX_FOV_DEG
from engine.generate.classical import CLASSICAL_ID, inflate
from engine.generate.delight import delight, resize_grid
from engine.generate.glb import to_trimesh, write_glb
from engine.generate.reconstruct import (
    WALL_INSET_PX,
    CropLens,
    LayeredMesh,
    along_rays,
    crop_lens,
    grid_for_faces,
    layered_mesh,
    squaring_turn,
    stand_upright,
    to_asset_space,
    turn_about_vertical,
)
from engine.generate.runtime import Prediction, get_model
from engine.generate.texture import texture_atlas
from engine.resources import resource_path

MODELS_DIR = resource_path("models")
VIEW_ELEVATION_RANGE = (-15.0, 50.0)  # degrees: a little wider than the training views
DEFAULT_MODEL = MODELS_DIR / "maquette-ld-v3.json"
CLASSICAL = "classical"


@dataclass
class GenerateSettings:
    device: str = "auto"  # auto | cpu | cuda
    model: str | None = None  # card path, "classical", or None = shipped model if present
    faces: int = 20000  # target triangle count (about)
    texture_size: int = 1024  # pixels, square atlas
    height: float = 0.3  # metres
    mirror_average: bool = True  # also predict the mirrored image and average
    upright: bool = True  # undo the view's elevation when the model estimates it
    square: bool = True  # once upright, turn a rectangular footprint square to the axes
    back_texture: bool = True  # rebuild the back's texture from the front (backtex.py)
    fov: float | None = None  # degrees across the image's longer side; 0: orthographic;
    # None: the model card's camera.fov_deg (0 for orthographic models and the fallback)

    def validate(self) -> None:
        if not 500 <= self.faces <= 2_000_000:
            raise InputError(f"--faces must be from 500 to 2000000, got {self.faces}")
        if not 64 <= self.texture_size <= 8192:
            raise InputError(f"--texture-size must be from 64 to 8192, got {self.texture_size}")
        if not HEIGHT_RANGE_M[0] <= self.height <= HEIGHT_RANGE_M[1]:
            raise InputError(f"--height must be from {HEIGHT_RANGE_M[0]:g} to "
                             f"{HEIGHT_RANGE_M[1]:g} metres, got {self.height}")
        if self.fov is not None and not 0.0 <= self.fov <= MAX_FOV_DEG:
            raise InputError(f"--fov must be from 0 (orthographic) to {MAX_FOV_DEG:g} "
                             f"degrees, got {self.fov}")


@dataclass
class GenerateResult:
    glb: Path
    report_path: Path
    report: dict = field(default_factory=dict)


def resolve_model(settings: GenerateSettings) -> Path | None:
    """The model card to use, or None for the classical fallback."""
    if settings.model == CLASSICAL:
        return None
    if settings.model:
        return Path(settings.model)
    return DEFAULT_MODEL if DEFAULT_MODEL.is_file() else None


@dataclass
class Placement:
    """How the layered mesh was turned out of the camera's frame (degrees)."""

    view_elevation_deg: float | None = None  # the model's estimate, clipped
    stood_upright: bool = False  # turned about x by that elevation
    turned_deg: float = 0.0  # then about +y, to square the footprint (0: not turned)
    squaring: dict | None = None  # reconstruct.Squaring's measures (why it turned or not)


def build_mesh(prediction: Prediction, subject_mask: np.ndarray, settings: GenerateSettings,
               lens: CropLens | None = None) -> tuple[LayeredMesh, dict]:
    """Layered mesh in crop units (glTF axes) from a prediction at S×S, its points on
    the rays of `lens`, stood upright and squared as `settings` ask; also OUT.json's grid
    size and placement fields.
    subject_mask: (S, S) [0, 1], the isolated subject the refined mask must stay near."""
    allowed = ndimage.binary_dilation(subject_mask > 0.5, iterations=2)
    mask = (prediction.mask > 0.5) & allowed
    if mask.sum() < 16:
        mask = subject_mask > 0.5
    grid = grid_for_faces(mask, settings.faces)
    mask_g = resize_grid(mask.astype(np.float32), grid) > 0.5
    front_g = resize_grid(prediction.front_depth, grid)
    back_g = resize_grid(prediction.back_depth, grid)
    lens = lens or CropLens()
    mesh = along_rays(layered_mesh(mask_g, front_g, back_g), lens)
    placement = Placement()
    if prediction.view_elevation is not None:
        elevation = float(np.clip(prediction.view_elevation, *VIEW_ELEVATION_RANGE))
        placement.view_elevation_deg = round(elevation, 1)
        if settings.upright:
            mesh = stand_upright(mesh, elevation)
            placement.stood_upright = True
            if settings.square:  # a footprint only means something once upright
                check = squaring_turn(mesh)
                placement.turned_deg = round(check.turned_deg, 1)
                placement.squaring = {k: (round(v, 3) if isinstance(v, float) else v)
                                      for k, v in asdict(check).items() if k != "turned_deg"}
                mesh = turn_about_vertical(mesh, placement.turned_deg)
    return mesh, {"grid": grid, **asdict(placement)}


def orientation_record(model_id: str, mesh_info: dict) -> dict:
    """What the GLB records about how the asset stands: upright by construction (+Y is
    the image's up, stood upright by the view's elevation when the model estimates it;
    never to be laid on a side), the front (+Z) facing where the camera was, turned by
    `turned_deg` about +Y when squared."""
    return {"generated": True, "model": model_id, "upright": True, "up": "+Y",
            "front": "+Z", "stood_upright": bool(mesh_info["stood_upright"]),
            "view_elevation_deg": mesh_info["view_elevation_deg"],
            "turned_deg": float(mesh_info["turned_deg"])}


def generate_asset(image: Path, output: Path, settings: GenerateSettings | None = None,
                   log: Callable[[str], None] = print) -> GenerateResult:
    """Generate `output` (.glb) and `output`.json from `image`."""
    from engine.generate.card import load_card
    from engine.reference import frame_subject, load_reference

    settings = settings or GenerateSettings()
    settings.validate()
    image, output = Path(image), Path(output)
    if output.suffix.lower() != ".glb":
        raise InputError(f"{output}: the generated asset is written as .glb")
    report_path = output.with_suffix(".json")
    card_path = resolve_model(settings)
    inputs = [image] + ([card_path, Path(card_path).with_suffix(".onnx")] if card_path else [])
    guard_inputs([output, report_path], inputs)  # before any work
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 4)
        clock = now

    reference = load_reference(image, timings=timings)
    clock = time.perf_counter()

    if card_path is None:
        size, ratio, background, card_fov = 256, 0.85, 0.5, 0.0
        model_info = {"id": CLASSICAL_ID, "sha256": None, "device": "cpu",
                      "note": "classical fallback (silhouette inflation), no learned model"}
        log("maquette: using the classical fallback (silhouette inflation), not a learned "
            "model")
        framed = frame_subject(reference, size, ratio, background)
        prediction = inflate(framed.image, framed.mask)
    else:
        card = load_card(card_path)
        model = get_model(card, settings.device)
        size, ratio, background = card.size, card.foreground_ratio, card.background
        card_fov = card.fov_deg
        framed = frame_subject(reference, size, ratio, background)
        log(f"maquette: model {card.id} on {model.device.upper()}")
        prediction = model.predict(framed.image, framed.mask, settings.mirror_average)
        model_info = {"id": card.id, "sha256": model.sha256, "device": model.device,
                      "card": str(card.path)}
    lap("model")

    fov = card_fov if settings.fov is None else settings.fov
    lens = crop_lens(fov, reference.rgba.shape[1::-1], framed.crop_box)
    mesh, mesh_info = build_mesh(prediction, framed.mask, settings, lens)
    mesh_info["lens"] = {"fov_deg": fov, **{k: round(v, 5) for k, v in asdict(lens).items()}}
    mesh = to_asset_space(mesh, settings.height)
    lap("reconstruct")

    hi_res = frame_subject(reference, settings.texture_size // 2, ratio, background)
    front_rgb = hi_res.image
    if prediction.front_albedo is not None:  # the card's model delights the front
        front_rgb = delight(front_rgb, framed.image, framed.mask, prediction.front_albedo)
    mesh_info["front_texture"] = "delit" if prediction.front_albedo is not None else "image"
    atlas, _ = texture_atlas(front_rgb, hi_res.mask, prediction.back_color,
                             prediction.mask, settings.texture_size, settings.back_texture,
                             rim=(WALL_INSET_PX + 1.5) / mesh_info["grid"])
    asset = to_trimesh(mesh, atlas)
    orientation = orientation_record(model_info["id"], mesh_info)
    # where a camera at the image's elevation sees little inferred surface: [camera]
    # range = "seen" sweeps this arc (engine.asset.seen)
    view_elevation = mesh_info["view_elevation_deg"] if mesh_info["stood_upright"] else 0.0
    orientation[ARC_KEY] = list(seen_arc(asset.vertices, asset.faces, mesh_seen(asset),
                                         view_elevation or 0.0))
    asset.metadata[RECORD_KEY] = orientation  # the GLB's meshes[0].extras.maquette
    lap("texture")

    report = {
        "source": {"path": str(image), "sha256": reference.sha256,
                   "mask_source": reference.mask_source,
                   "size": list(reference.rgba.shape[1::-1])},
        "model": model_info,
        "settings": asdict(settings),
        "mesh": {"faces": int(len(asset.faces)), "vertices": int(len(asset.vertices)),
                 "watertight": analyse(asset.vertices, asset.faces).watertight,
                 "height_m": settings.height, **mesh_info,
                 **{k: orientation[k] for k in ("upright", "up", "front")},
                 "texture": [settings.texture_size, settings.texture_size]},
        "seen": {**mesh_seen_shares(asset), "arc_deg": orientation[ARC_KEY]},
        "warnings": list(reference.warnings),
        "timings_s": timings,
        "output": str(output),
    }
    # The GLB and its report appear together, or neither does.
    with Transaction(inputs) as txn:
        write_glb(asset, txn.stage(output))
        lap("write")
        report["timings_s"] = timings
        report["timings_s"]["total"] = round(sum(timings.values()), 4)
        txn.write_bytes(report_path, (json.dumps(report, indent=2) + "\n").encode())
    return GenerateResult(glb=output, report_path=report_path, report=report)


def cache_key(image: Path, settings: GenerateSettings) -> str:
    """Content hash of the image, the model file and the settings."""
    digest = hashlib.sha256(Path(image).read_bytes())
    card = resolve_model(settings)
    if card is not None:
        onnx = Path(card).with_suffix(".onnx")
        digest.update(onnx.read_bytes() if onnx.is_file() else str(card).encode())
    else:
        digest.update(CLASSICAL_ID.encode())
    fields = asdict(settings)
    fields.pop("device")  # results do not depend on where the model ran
    digest.update(json.dumps(fields, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def generate_cached(image: Path, cache: Path, settings: GenerateSettings | None = None,
                    log: Callable[[str], None] = print) -> Path:
    """The GLB for `image`, generated once per content hash under `cache`."""
    settings = settings or GenerateSettings()
    target = cache / "generated" / f"{cache_key(image, settings)}.glb"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    generate_asset(image, target, settings, log)
    return target
