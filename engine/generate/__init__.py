"""Image → textured 3D asset: model card, ONNX session, reconstruction, texture, GLB.

The names below are imported on first use (PEP 562): importing a submodule such as
``engine.generate.runtime`` does not pull in the pipeline's scipy and trimesh.
"""

from importlib import import_module

_EXPORTS = {
    "GenerateResult": "engine.generate.pipeline",
    "GenerateSettings": "engine.generate.pipeline",
    "generate_asset": "engine.generate.pipeline",
    "ModelCard": "engine.generate.card",
    "ModelCardError": "engine.generate.card",
    "load_card": "engine.generate.card",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
