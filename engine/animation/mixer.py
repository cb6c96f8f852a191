"""Combine several offset tracks per property into one value per property."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .tracks import KeyframeTrack

MULTIPLICATIVE = frozenset({"scale"})


def group_tracks(*track_dicts: Mapping[str, KeyframeTrack]) -> dict[str, list[KeyframeTrack]]:
    """Merge several property -> track dicts (e.g. from motion_tracks) into property -> list."""
    grouped: dict[str, list[KeyframeTrack]] = {}
    for tracks in track_dicts:
        for prop, track in tracks.items():
            grouped.setdefault(prop, []).append(track)
    return grouped


def evaluate_tracks(tracks: Mapping[str, Iterable[KeyframeTrack]], t: float) -> dict[str, float]:
    """Value of every property at time `t` seconds.

    Offsets of the same property are summed, except "scale", whose factors
    multiply. Properties with no tracks are absent from the result. Tracks must
    be scalar-valued.
    """
    out: dict[str, float] = {}
    for prop, track_list in tracks.items():
        items = list(track_list)
        if not items:
            continue
        multiply = prop in MULTIPLICATIVE
        acc = 1.0 if multiply else 0.0
        for track in items:
            v = track.evaluate(float(t))
            if isinstance(v, np.ndarray):
                raise ValueError(f"track for {prop!r} must be scalar-valued, got shape {v.shape}")
            acc = acc * v if multiply else acc + v
        out[prop] = float(acc)
    return out
