"""The generator's onnxruntime session: one per process, created lazily, no network."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from engine.errors import WorkError
from engine.fileio import file_sha256
from engine.generate.card import ModelCard, ModelCardError, validate_against_graph

DEVICES = ("auto", "cpu", "cuda")
_sessions: dict[tuple[str, str], LayeredDepthModel] = {}
_lock = threading.Lock()


class DeviceError(WorkError):
    """The requested device cannot run the model."""


@dataclass
class Prediction:
    """Model outputs at S×S: mask in [0, 1]; depths in crop units; back colour sRGB [0, 1]."""

    mask: np.ndarray  # (S, S) float32
    front_depth: np.ndarray  # (S, S) float32
    back_depth: np.ndarray  # (S, S) float32
    back_color: np.ndarray  # (S, S, 3) float32
    view_elevation: float | None = None  # degrees above the horizon, when the model says
    front_albedo: np.ndarray | None = None  # (S, S, 3) float32 sRGB, when the model says


class LayeredDepthModel:
    def __init__(self, card: ModelCard, device: str):
        import onnxruntime as ort

        if not card.onnx_path.is_file():
            raise ModelCardError(f"{card.path}: ONNX file not found: {card.onnx_path}")
        self.sha256 = file_sha256(card.onnx_path)
        if card.sha256 and card.sha256 != self.sha256:
            raise ModelCardError(f"{card.path}: field 'sha256' does not match "
                                 f"{card.onnx_path.name} (file is {self.sha256[:12]}…)")
        # A missing CUDA library is expected on many machines: in auto mode we fall back to
        # the CPU and say so, with --device cuda we stop with our own message. Either way
        # onnxruntime's own (red, C++) report of the failed load would come first: mute it.
        ort.set_default_logger_severity(3 if device == "cpu" else 4)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        available = ort.get_available_providers()
        if device == "cpu":
            providers = ["CPUExecutionProvider"]
        elif "CUDAExecutionProvider" in available:
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        elif device == "cuda":
            raise DeviceError("--device cuda: this onnxruntime has no CUDA provider")
        else:
            providers = ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(card.onnx_path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelCardError(f"{card.onnx_path}: cannot load ONNX model: {exc}") from None
        used = self.session.get_providers()
        self.device = "cuda" if used and used[0] == "CUDAExecutionProvider" else "cpu"
        if device == "cuda" and self.device != "cuda":
            raise DeviceError("--device cuda: CUDA is not usable here (no GPU or CUDA "
                              "libraries); use --device auto or cpu")
        validate_against_graph(card, self.session.get_inputs(), self.session.get_outputs())
        self.card = card
        batch = self.session.get_inputs()[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) else None  # None: any batch

    def predict(self, image: np.ndarray, mask: np.ndarray, mirror_average: bool = True
                ) -> Prediction:
        """image (S, S, 3) sRGB [0, 1] on grey, mask (S, S) [0, 1] → Prediction.

        mirror_average: also run the left-right mirrored input (one batch of 2) and
        average each output with the mirror of its mirrored prediction. A mirrored
        object is an object (the model was trained with flips), so this only removes
        left-right bias; it lowered every 3D error in docs/GENERATOR.md."""
        card = self.card
        x = np.concatenate([image.transpose(2, 0, 1), mask[None]], axis=0)[None]
        x = (x - np.array(card.mean, np.float32)[None, :, None, None]) / np.array(
            card.std, np.float32)[None, :, None, None]
        if mirror_average:
            x = np.concatenate([x, x[..., ::-1]], axis=0)
        names = list(card.outputs.values())  # (contract order: load_card builds it so)
        x = x.astype(np.float32)
        if self.fixed_batch is not None and self.fixed_batch < len(x):  # e.g. a batch of 1
            runs = [self.session.run(names, {card.input_name: x[i:i + 1]})
                    for i in range(len(x))]
            out = [np.concatenate(parts) for parts in zip(*runs, strict=True)]
        else:
            out = self.session.run(names, {card.input_name: x})
        if mirror_average:  # (a mirror image is seen from the same elevation)
            out = [0.5 * (v[:1] + (v[1:, ..., ::-1] if v.ndim == 4 else v[1:])) for v in out]
        for name, value in zip(names, out, strict=True):
            expected = (1,) if value.ndim == 2 else (card.size, card.size)
            if value.shape[-len(expected):] != expected or not np.all(np.isfinite(value)):
                raise ModelCardError(f"{card.path}: output {name!r} has shape {value.shape} or "
                                     "non-finite values")
        by_role = dict(zip(card.outputs, out, strict=True))

        def colour(value):
            return np.clip(value[0].transpose(1, 2, 0), 0.0, 1.0).astype(np.float32)

        return Prediction(
            mask=(1.0 / (1.0 + np.exp(-by_role["mask"][0, 0]))).astype(np.float32),
            front_depth=by_role["front_depth"][0, 0].astype(np.float32),
            back_depth=by_role["back_depth"][0, 0].astype(np.float32),
            back_color=colour(by_role["back_color"]),
            view_elevation=(float(by_role["view_elevation"][0, 0])
                            if "view_elevation" in by_role else None),
            front_albedo=colour(by_role["front_albedo"]) if "front_albedo" in by_role else None,
        )


def get_model(card: ModelCard, device: str = "auto") -> LayeredDepthModel:
    """The process-wide session for this model and device (created on first use)."""
    if device not in DEVICES:
        raise DeviceError(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    key = (str(card.onnx_path), device)
    with _lock:
        if key not in _sessions:
            _sessions[key] = LayeredDepthModel(card, device)
        return _sessions[key]
