"""The data that the reference stage hands on: a loaded, isolated reference image."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Reference:
    """One reference image with its subject isolated.

    source: the file it came from (None for an in-memory array).
    rgba: (H, W, 4) uint8, the loaded image after EXIF orientation and any downscale.
    mask: (H, W) float32 in [0, 1], subject = 1, soft (1-2 px) edges.
    mask_source: "alpha" (the image's own alpha channel) or "background-removal".
    warnings: plain-words warnings about the reference, for the user.
    sha256: hex digest of the source file's bytes (of the array's bytes for an array).
    downscaled_from: (width, height) of the original when it was downscaled, else None.
    """

    source: Path | None
    rgba: np.ndarray
    mask: np.ndarray
    mask_source: str
    warnings: list[str] = field(default_factory=list)
    sha256: str = ""
    downscaled_from: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.rgba.shape[1]), int(self.rgba.shape[0])

    @property
    def name(self) -> str:
        """How messages name this reference: the file name, or "<array>"."""
        return str(self.source) if self.source is not None else "<array>"
