"""Classical fallback predictor: silhouette inflation (no learned model).

Produces the same Prediction as a model: depth grows with the distance to the
silhouette like a circular cross-section (a disc inflates into a sphere), the
back colour repeats the front colour. Named "classical-inflate" in outputs.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.generate.runtime import Prediction

CLASSICAL_ID = "classical-inflate"


def inflate(image: np.ndarray, mask: np.ndarray, thickness: float = 0.8) -> Prediction:
    """image (S, S, 3), mask (S, S) in [0, 1] → Prediction in crop units."""
    size = mask.shape[0]
    inside = mask > 0.5
    distance = ndimage.distance_transform_edt(inside) / size  # crop units
    radius = max(float(distance.max()), 1e-6)
    # Circular profile: half-thickness h = sqrt(d (2R - d)), reaching R at the medial axis.
    half = np.sqrt(np.clip(distance * (2 * radius - distance), 0, None)) * thickness
    half = ndimage.gaussian_filter(half, 1.0) * inside
    return Prediction(
        mask=mask.astype(np.float32),
        front_depth=(-half).astype(np.float32),
        back_depth=half.astype(np.float32),
        back_color=image.astype(np.float32),
    )
