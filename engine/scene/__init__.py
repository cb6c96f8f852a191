"""Scene files: schema (dataclasses) and loading with clear errors."""

from engine.scene.loader import SceneError, load_scene, scene_for_asset, scene_from_dict
from engine.scene.model import (
    ASPECTS,
    LIGHT_PRESETS,
    AssetSpec,
    Background,
    CameraSpec,
    KeyframeSpec,
    OutputSpec,
    Scene,
    StageSpec,
)

__all__ = [
    "ASPECTS", "LIGHT_PRESETS", "AssetSpec", "Background", "CameraSpec", "KeyframeSpec",
    "OutputSpec", "Scene", "SceneError", "StageSpec", "load_scene", "scene_for_asset",
    "scene_from_dict",
]
