"""Scene files: schema (dataclasses whose fields declare their settings), loading with
clear errors, light presets and the timeline that evaluates a scene at a time."""

from engine.scene.loader import (
    SceneError,
    check_output_file,
    load_scene,
    scene_for_asset,
    scene_from_dict,
)
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
    "OutputSpec", "Scene", "SceneError", "StageSpec", "check_output_file", "load_scene",
    "scene_for_asset",
    "scene_from_dict",
]
