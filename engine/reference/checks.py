"""Plain-words warnings about a reference that will probably give a poor asset."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .isolate import Isolation, thin_border_strips

#: A subject touching an edge over at least this fraction of it is "cut off".
BORDER_TOUCH_FRACTION = 0.015
#: A component is a separate object when at least this fraction of the largest one...
OBJECT_RELATIVE_AREA = 0.1
#: ...and at least this fraction of the image.
OBJECT_MIN_AREA = 0.002
#: Subjects smaller than this fraction of the image are "too small".
SMALL_SUBJECT_FRACTION = 0.02
#: Median ΔE76 between the subject's edge and the background below which contrast is low.
LOW_CONTRAST_DE = 12.0
#: Fraction of the border that must fit the background model for it to count as plain.
PLAIN_BORDER_FRACTION = 0.6
#: A background whose own variation needs a threshold above this (ΔE76) is busy, not plain.
BUSY_T_LOW = 15.0


def border_contact(binary: np.ndarray) -> dict[str, float]:
    """Fraction of each edge ("top", "bottom", "left", "right") covered by the subject,
    not counting a strip along it a few pixels thin (`isolate.thin_border_strips`)."""
    binary = binary & ~thin_border_strips(binary)
    return {"top": float(binary[0].mean()), "bottom": float(binary[-1].mean()),
            "left": float(binary[:, 0].mean()), "right": float(binary[:, -1].mean())}


def object_areas(binary: np.ndarray) -> list[int]:
    """Pixel areas of the significant separate objects in (H, W) bool, largest first."""
    labels, n = ndimage.label(binary, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    areas = np.bincount(labels.ravel())[1:]
    big = areas.max()
    keep = areas[(areas >= OBJECT_RELATIVE_AREA * big) & (areas >= OBJECT_MIN_AREA * binary.size)]
    return sorted((int(a) for a in keep), reverse=True)


def edge_contrast(iso: Isolation) -> float:
    """Median ΔE76 from the background model over the subject's outer 2 px."""
    ring = iso.binary & (iso.mask < 0.999)  # the feathered edge, about 2 px
    if not ring.any():
        return 0.0
    return float(np.median(iso.distance[ring]))


def check_reference(mask: np.ndarray, iso: Isolation | None,
                    downscaled_from: tuple[int, int] | None,
                    size: tuple[int, int]) -> list[str]:
    """All warnings for a reference with soft (H, W) `mask`; `iso` None on the alpha path.

    size: (width, height) of the image as loaded (after any downscale).
    """
    out: list[str] = []
    binary = mask > 0.5
    if downscaled_from is not None:
        out.append(f"The image is very large ({downscaled_from[0]}x{downscaled_from[1]} px); "
                   f"it was downscaled to {size[0]}x{size[1]} px.")
    touching = [edge for edge, f in border_contact(binary).items() if f >= BORDER_TOUCH_FRACTION]
    if touching:
        edges = " and ".join(touching)
        out.append(f"The subject touches the {edges} edge{'s' if len(touching) > 1 else ''} "
                   "of the image, so it is probably cut off: the missing part will be invented. "
                   "Use an image with some margin all around the subject.")
    areas = object_areas(binary)
    if len(areas) >= 2:
        out.append(f"The image seems to show {len(areas)} separate objects; they will be made "
                   "into one asset. Crop the image to a single object for a cleaner result.")
    fraction = float(mask.mean())
    if fraction < SMALL_SUBJECT_FRACTION:
        out.append(f"The subject is very small ({fraction:.1%} of the image); the asset will "
                   "lack detail. Use a closer or larger image of it.")
    if iso is not None:
        out.extend(iso.notes)
        if iso.background.inlier_fraction < PLAIN_BORDER_FRACTION or iso.t_low > BUSY_T_LOW:
            out.append("The background is not plain (the image border varies a lot), so the "
                       "subject may be isolated wrongly. A plain or transparent background "
                       "works best.")
        contrast = edge_contrast(iso)
        if contrast < LOW_CONTRAST_DE:
            out.append(f"The subject has low contrast with the background (about {contrast:.0f} "
                       "ΔE at its edge), so parts of it may be lost or the outline may be wrong. "
                       "A background of a clearly different colour, or transparency, works best.")
    return out
