"""K: save the viewer's camera as a keyframe into the scene file, safely.

Camera keyframes in a scene are offsets added to the shot's camera move (see
`engine.animation.apply_camera_offsets`). The viewer owns one marked block of
`[[keyframes]]` tables at the end of the file (between the two MARK lines):
saving a key solves the offsets that put the shot's camera exactly where the
viewer's camera is at that time (on top of any camera keyframes the user wrote
outside the block), merges the key into the block's tracks and rewrites only
that block. Everything outside it stays byte for byte as it was.

The write is safe: the new text must parse and validate as a scene before it is
written; the file must not have changed since it was read; the version from
before the first K of a viewer session is kept as SCENE.toml.bak; the new one is
written through engine.fileio (same permissions, renamed into place). Key times
are snapped to the scene's frame grid (1/fps s).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import numpy as np

from engine.animation import CameraPose, apply_camera_offsets
from engine.animation.mixer import evaluate_tracks
from engine.errors import WorkError
from engine.fileio import Transaction
from engine.scene.loader import scene_from_dict
from engine.scene.timeline import Bounds, Timeline
from engine.viewer.state import orbit_from_pose

MARK_BEGIN = "# >>> camera keyframes saved by `maquette view` (K): this block is rewritten"
MARK_END = "# <<< end of the camera keyframes saved by `maquette view`"
PROPERTIES = ("distance", "rotation.y", "rotation.x", "position.x", "position.y", "position.z")
SAME_TIME_S = 1e-3
TOLERANCE_M = 1e-4


class KeyframeSaveError(WorkError):
    """The keyframe could not be saved; the scene file is untouched."""


def split_managed(text: str) -> tuple[str, str, str]:
    """(before, block, after): the viewer's marked block and the text around it."""
    start = text.find(MARK_BEGIN)
    if start < 0:
        return text, "", ""
    end = text.find(MARK_END, start)
    if end < 0:
        raise KeyframeSaveError(f"the block starting with {MARK_BEGIN!r} has no end line "
                                f"{MARK_END!r}")
    end += len(MARK_END)
    if end < len(text) and text[end] == "\n":
        end += 1
    return text[:start], text[start:end], text[end:]


def _managed_tracks(block: str) -> list[dict]:
    if not block:
        return []
    try:
        doc = tomllib.loads(block)
    except tomllib.TOMLDecodeError as exc:
        raise KeyframeSaveError(f"the viewer's keyframe block is not valid TOML: {exc}") from None
    return [t for t in doc.get("keyframes", []) if t.get("target") == "camera"]


def solve_offsets(base: CameraPose, user: dict[str, float], center: np.ndarray,
                  view: CameraPose, iterations: int = 60) -> dict[str, float]:
    """Offsets M (PROPERTIES) so that apply_camera_offsets(base, user + M) sees as `view`."""
    m = {p: 0.0 for p in PROPERTIES}
    want = orbit_from_pose(view)
    pose = base
    for _ in range(iterations):
        total = dict(user)
        for p, v in m.items():
            total[p] = total.get(p, 0.0) + v
        pose = apply_camera_offsets(base, total, center)
        have = orbit_from_pose(pose)
        d_az = (want.azimuth - have.azimuth + 180.0) % 360.0 - 180.0
        m["distance"] += want.distance - have.distance
        m["rotation.y"] += d_az
        m["rotation.x"] += want.elevation - have.elevation
        shift = np.array(want.target) - np.array(have.target)
        for axis, value in zip("xyz", shift, strict=True):
            m[f"position.{axis}"] += float(value)
        err = max(np.linalg.norm(pose.eye - view.eye), np.linalg.norm(pose.target - view.target))
        if err < 1e-9:
            break
    err = max(np.linalg.norm(pose.eye - view.eye), np.linalg.norm(pose.target - view.target))
    if err > TOLERANCE_M * max(1.0, float(np.linalg.norm(view.eye - view.target))):
        raise KeyframeSaveError(f"could not express this camera as keyframe offsets of the "
                                f"shot's camera move (off by {err:.4f} m)")
    return m


def _format_number(x: float) -> str:
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def render_block(tracks: dict[str, dict]) -> str:
    """The marked block for {property: {"keys": {time: value}, "interpolation", "ease"}}."""
    lines = [MARK_BEGIN]
    for prop in PROPERTIES:
        if prop not in tracks:
            continue
        track = tracks[prop]
        keys = ", ".join(f"[{_format_number(t)}, {_format_number(v)}]"
                         for t, v in sorted(track["keys"].items()))
        lines += ["[[keyframes]]", 'target = "camera"', f'property = "{prop}"',
                  f"keys = [{keys}]", f'interpolation = "{track["interpolation"]}"',
                  f'ease = "{track["ease"]}"', ""]
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


def add_camera_key(text: str, path: Path, file_bounds: Bounds, t: float,
                   view: CameraPose) -> str:
    """The scene file's new text with the viewer's camera `view` keyed at time `t` s.

    file_bounds: the asset's bounds in file coordinates (as the Stage measured them)."""
    before, block, after = split_managed(text)
    outside = before + after
    try:
        user_scene = scene_from_dict(tomllib.loads(outside), path)
        timeline = Timeline(user_scene, file_bounds)
    except Exception as exc:
        raise KeyframeSaveError(f"the scene file does not load: {exc}") from None
    user = evaluate_tracks(timeline.camera_tracks, t)
    timeline.camera_tracks = {}
    base = timeline.camera(t)  # the shot's camera move alone
    offsets = solve_offsets(base, user, timeline.bounds.center, view)

    tracks: dict[str, dict] = {}
    for table in _managed_tracks(block):
        prop = table.get("property")
        if prop in PROPERTIES:
            tracks[prop] = {"keys": {float(k[0]): float(k[1]) for k in table.get("keys", [])},
                            "interpolation": table.get("interpolation", "cubic"),
                            "ease": table.get("ease", "none")}
    times = sorted({k for tr in tracks.values() for k in tr["keys"]})
    for prop in PROPERTIES:
        track = tracks.setdefault(prop, {"keys": {k: 0.0 for k in times},
                                         "interpolation": "cubic", "ease": "none"})
        keys = track["keys"]
        for existing in [k for k in keys if abs(k - t) < SAME_TIME_S]:
            del keys[existing]
        value = offsets[prop]
        if prop == "rotation.y" and keys:  # turn the short way from the nearest key
            nearest = keys[min(keys, key=lambda k: abs(k - t))]
            value += 360.0 * round((nearest - value) / 360.0)
        keys[round(float(t), 6)] = value
    new_block = render_block(tracks)
    if block:
        new_text = before + new_block + after
    else:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else
                                                            "\n\n")
        new_text = text + sep + new_block
    try:  # never write a file that would not load, or would not show this view
        check = Timeline(scene_from_dict(tomllib.loads(new_text), path), file_bounds).camera(t)
    except Exception as exc:
        raise KeyframeSaveError(f"the edited scene would not load ({exc}); not saved") from None
    err = max(np.linalg.norm(check.eye - view.eye), np.linalg.norm(check.target - view.target))
    if err > TOLERANCE_M * max(1.0, float(np.linalg.norm(view.eye - view.target))):
        raise KeyframeSaveError(f"the saved keys would miss this view by {err:.4f} m; not saved")
    return new_text


def write_scene_safely(path: Path, original: bytes, new_text: str, backup: bool = True
                       ) -> Path:
    """Replace `path` with new_text if it still holds `original`; with `backup`, PATH.bak
    gets `original` (the two are moved into place together, the scene keeps its
    permissions). Returns the backup's path. The viewer backs up only on the first K of
    a session, so the .bak stays the version from before the viewer touched it."""
    path = Path(path).resolve()
    current = path.read_bytes()
    if current != original:
        raise KeyframeSaveError(f"{path} changed on disk while saving; not saved (press K again)")
    target = path.with_name(path.name + ".bak")
    with Transaction() as txn:  # (the one sanctioned write over an input: K asks for it)
        if backup:
            txn.write_bytes(target, original)
        txn.write_bytes(path, new_text.encode("utf-8"))
    if backup:
        os.chmod(target, os.stat(path).st_mode & 0o7777)
    return target


def snap_to_frame(t: float, fps: float) -> float:
    """The time of the frame nearest `t` (s): keys land on frames the renderer draws."""
    return round(round(float(t) * fps) / fps, 6)


def save_camera_key(path: Path, file_bounds: Bounds, t: float, view: CameraPose, *,
                    fps: float | None = None, backup: bool = True) -> str:
    """Key `view` at time t (snapped to the frame grid at `fps` when given) into the scene
    file at `path`; `backup`: keep the previous version as PATH.bak. Returns a message
    for the user."""
    path = Path(path)
    if fps:
        t = snap_to_frame(t, fps)
    original = path.read_bytes()
    try:
        text = original.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyframeSaveError(f"{path}: not UTF-8 text; not saved") from None
    new_text = add_camera_key(text, path.resolve(), file_bounds, t, view)
    bak = write_scene_safely(path, original, new_text, backup)
    kept = "backup" if backup else "backup from before the first K"
    return f"camera keyframe at t = {t:.2f} s saved to {path.name} ({kept}: {bak.name})"
