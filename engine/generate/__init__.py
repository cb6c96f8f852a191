"""Image → textured 3D asset: model card, ONNX session, reconstruction, texture, GLB."""

from engine.generate.card import ModelCard, ModelCardError, load_card
from engine.generate.pipeline import GenerateResult, GenerateSettings, generate_asset

__all__ = [
    "GenerateResult",
    "GenerateSettings",
    "ModelCard",
    "ModelCardError",
    "generate_asset",
    "load_card",
]
