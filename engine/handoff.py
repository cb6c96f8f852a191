"""Hand-off to image-to-video tools: a shot rendered with its passes into one folder.

`write_handoff(scene, folder, target)` renders the shot at the size, frame rate and frame
count the target accepts (engine.scene.handoff.plan; "generic": the shot's own), with its
passes from the renderer (engine.render.passes), frame-aligned, and writes, all through
one engine.fileio Transaction (nothing appears unless everything was written):

    beauty.mp4 (.webm when transparent)  the render itself, unless `beauty` names another
    first.png, last.png                  the first and last frame stills
    depth/frame_00000.png                16-bit inverse depth, normalised over the shot
                                         (65535 its nearest surface, 1 its farthest, 0
                                         nothing; engine.render.passes.depth_codes)
    depth/frame_00000.exr                metric depth "Z" (metres along the view axis, +inf
                                         where nothing) and coverage "A" (with the mask)
    depth.mp4                            the inverse depth as a grey control video
    normal/frame_00000.png, normal.mp4   camera-space normals, (n + 1) / 2, 16-bit RGB
    mask/frame_00000.png, mask.mp4       the asset's alpha (8-bit), and its control video
    manifest.json                        the plan, the depth range, camera intrinsics and
                                         pose per frame, the asset's provenance, the files,
                                         and an empty prompt for the user

A hand-off (any target but a plain `[output] passes`) always has depth and mask.
`render_shot(scene, output)` is what renders a shot as its scene asks (the clip alone, or
with its passes or hand-off folder beside it): `maquette render` and campaigns call it.

Camera conventions in the manifest: `K` is the OpenCV pinhole matrix in pixels (x right, y
down, origin at the top-left corner of the top-left pixel, so the image centre is (W/2,
H/2)); `camera_to_world` is 4x4 in the scene's world frame (Y up, metres, glTF) with the
camera looking along its own -z, y up (OpenGL/glTF). A world point P projects to
K @ (x, -y, -z) / -z where (x, y, z, 1) = inverse(camera_to_world) @ (P, 1).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.fileio import OutputPathError, Transaction, file_sha256, guard_inputs
from engine.scene.handoff import TARGETS, HandoffPlan, plan

MANIFEST_FORMAT = 1
HANDOFF_PASSES = ("depth", "mask")


@dataclass
class HandoffResult:
    folder: Path
    beauty: Path
    plan: HandoffPlan
    passes: tuple[str, ...]
    files: list[Path]
    manifest: dict
    seconds: float

    @property
    def fps(self) -> float:
        return self.plan.frames / self.seconds if self.seconds > 0 else float("inf")


def passes_for(scene, target: str | None) -> tuple[str, ...]:
    """The passes a shot gets: its `[output] passes`, plus depth and mask for a hand-off."""
    from engine.render.passes import PASS_NAMES

    wanted = set(scene.output.passes) | (set(HANDOFF_PASSES) if target else set())
    return tuple(p for p in PASS_NAMES if p in wanted)


def extras_folder(scene, output: Path) -> Path:
    """Where `maquette render` puts a shot's hand-off or passes, beside its clip:
    clip.mp4 → clip.handoff/ (with [output] handoff) or clip.passes/; frames/ →
    frames.handoff/ or frames.passes/."""
    output = Path(os.fspath(output).rstrip("/"))
    suffix = ".handoff" if scene.output.handoff else ".passes"
    return output.with_name((output.stem if output.suffix else output.name) + suffix)


def camera_record(stage, width: int, height: int) -> dict:
    """The camera as the Stage rendered it: K (OpenCV, pixels) and camera_to_world
    (Y-up world, camera looking along -z)."""
    from engine.render.stage import Y_UP_TO_PANDA

    vfov = stage.lens.get_vfov()
    hfov = stage.lens.get_hfov()
    fy = 0.5 * height / math.tan(math.radians(vfov) / 2)
    fx = 0.5 * width / math.tan(math.radians(hfov) / 2)
    m = stage.camera.get_mat(stage.root)  # Panda: row vectors, Z-up, camera looks along +y
    panda = np.array([[m[r][c] for c in range(4)] for r in range(4)]).T
    c2w = Y_UP_TO_PANDA.T @ panda @ Y_UP_TO_PANDA  # GL camera axes -> Panda camera axes
    return {"K": [[fx, 0.0, width / 2], [0.0, fy, height / 2], [0.0, 0.0, 1.0]],
            "fov_deg": {"vertical": vfov, "horizontal": hfov},
            "near_far_m": [stage.lens.get_near(), stage.lens.get_far()],
            "camera_to_world": c2w.tolist()}


def project(camera: dict, point) -> tuple[float, float, float]:
    """(u, v) pixel and depth (metres) of a world point, by a manifest's camera record."""
    c2w = np.array(camera["camera_to_world"])
    x, y, z, _ = np.linalg.inv(c2w) @ np.array([*point, 1.0])
    cv = np.array([x, -y, -z])
    uvw = np.array(camera["K"]) @ cv
    return float(uvw[0] / uvw[2]), float(uvw[1] / uvw[2]), float(-z)


def _check_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"{folder}: exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise OutputPathError(f"{folder}/: the folder already holds files; a hand-off goes "
                              "into a new or empty folder (nothing in it is replaced): "
                              "choose another folder or empty this one")


def _remove_empty(folder: Path, created: bool) -> None:
    """After a failed hand-off: the pass folders it made (empty once the Transaction
    aborted), and `folder` itself when this run created it."""
    for sub in ("depth", "normal", "mask"):
        try:
            (folder / sub).rmdir()
        except OSError:
            pass
    if created:
        try:
            folder.rmdir()
        except OSError:
            pass


def write_handoff(scene, folder: Path, target: str | None = "generic", *,
                  beauty: Path | None = None, inputs: Iterable[Path] = (),
                  progress: bool = False, log: Callable[[str], None] | None = None,
                  on_frame: Callable[[int, np.ndarray], None] | None = None,
                  txn: Transaction | None = None, frames: int | None = None,
                  warn: Callable[[str], None] | None = None) -> HandoffResult:
    """Render `scene` for `target` (a name in TARGETS, or None: only the scene's
    `[output] passes`, at its own size) into `folder` (new or empty). `beauty`: where
    the beauty clip goes (default folder/beauty.mp4); `txn`: stage everything into the
    caller's Transaction instead of committing here; `frames`: only the first frames
    (the shot's timing kept); `warn`: the framing guard's warning, as for render_clip.
    Returns what was written."""
    import time

    from engine.render.offline import progress_bar
    from engine.render.writers import FrameWriter
    from engine.scene.source import scene_inputs

    name = target or "generic"
    if name not in TARGETS:
        raise InputError(f"--for: unknown hand-off target {target!r}; expected one of "
                         f"{', '.join(TARGETS)}")
    folder = Path(os.path.abspath(folder))
    _check_folder(folder)
    existed = folder.is_dir()
    shot_plan = plan(scene.output, name)
    for note in shot_plan.notes:
        (log or (lambda m: None))(f"hand-off: {note}")
    shot = replace(scene, output=replace(scene.output, fps=shot_plan.fps,
                                         duration=shot_plan.duration,
                                         aspect=shot_plan.aspect))
    passes = passes_for(scene, target)
    transparent = scene.stage.background.transparent
    # (a beauty named without a suffix is a folder of PNG frames, as for FrameWriter)
    beauty = Path(os.path.abspath(beauty)) if beauty is not None else \
        folder / ("beauty.webm" if transparent else "beauty.mp4")
    files = scene_inputs(scene, *inputs)
    guard_inputs([beauty, folder], files)
    start = time.perf_counter()
    own = txn is None
    txn = txn or Transaction(files)
    txn.add_inputs(*files)
    try:
        count = shot_plan.frames if frames is None else max(1, min(int(frames),
                                                                    shot_plan.frames))
        result = _render(shot, shot_plan, folder, beauty, passes, txn, progress, on_frame,
                         FrameWriter, progress_bar, count, warn)
        if own:
            txn.commit()
    except BaseException:
        if own:
            txn.abort()
            _remove_empty(folder, created=not existed)
        raise
    result.seconds = time.perf_counter() - start
    return result


def _render(shot, shot_plan: HandoffPlan, folder: Path, beauty: Path, passes, txn,
            progress, on_frame, FrameWriter, progress_bar, n: int, warn) -> HandoffResult:
    from PIL import Image

    from engine.render.offline import _warn_framing
    from engine.render.passes import (
        PassBuffers,
        depth_codes,
        grey_rgba,
        inverse_depth,
        normal_rgb,
        read_exr,
        write_exr,
        write_png16,
    )
    from engine.render.stage import Stage
    from engine.render.writers import format_for_path

    w, h, fps = shot_plan.width, shot_plan.height, shot_plan.fps
    transparent = shot.stage.background.transparent
    out = shot.output

    def frame_path(kind: str, i: int, suffix: str) -> Path:
        return folder / kind / f"frame_{i:05d}{suffix}"

    def video(final: Path, alpha: bool = False, staged: bool = True):
        return FrameWriter(txn.stage(final) if staged else final, w, h, fps, alpha=alpha,
                           preset=out.quality)

    cameras, near, far = [], math.inf, 0.0
    # A folder of PNG frames moves into place by itself (FrameWriter), before the rest.
    frames_folder = format_for_path(beauty) == "png"
    writers = {"beauty": video(beauty, alpha=transparent, staged=not frames_folder)}
    if "mask" in passes:
        writers["mask"] = video(folder / "mask.mp4")
    if "normal" in passes:
        writers["normal"] = video(folder / "normal.mp4")
    first = last = None
    try:
        with Stage(shot, w, h) as stage, progress_bar(n, progress) as bar:
            _warn_framing(stage, [stage.timeline.frame_time(i) for i in range(n)], warn)
            buffers = PassBuffers(stage, passes)
            try:
                for i in range(n):
                    t = stage.timeline.frame_time(i)
                    stage.set_time(t)
                    stage.render()
                    frame = stage.read_frame()
                    frames = buffers.read()
                    writers["beauty"].write(frame)
                    first = frame if first is None else first
                    last = frame
                    cameras.append({"index": i, "time_s": t, **camera_record(stage, w, h)})
                    if "depth" in passes:
                        hit = np.isfinite(frames.depth)
                        if hit.any():
                            near = min(near, float(frames.depth[hit].min()))
                            far = max(far, float(frames.depth[hit].max()))
                        channels = {"Z": frames.depth}
                        if frames.mask is not None:
                            channels["A"] = frames.mask
                        write_exr(txn.stage(frame_path("depth", i, ".exr")), channels)
                    if "normal" in passes:
                        rgb = normal_rgb(frames.normal)
                        with txn.open(frame_path("normal", i, ".png")) as handle:
                            write_png16(handle, rgb)
                        writers["normal"].write(np.dstack(
                            [np.round(rgb * 255).astype(np.uint8),
                             np.full((h, w), 255, np.uint8)]))
                    if "mask" in passes:
                        alpha = np.round(frames.mask * 255.0).astype(np.uint8)
                        with txn.open(frame_path("mask", i, ".png")) as handle:
                            Image.fromarray(alpha, "L").save(handle, format="PNG")
                        writers["mask"].write(grey_rgba(frames.mask))
                    if on_frame is not None:
                        on_frame(i, frame)
                    bar.update(1)
            finally:
                buffers.close()
        if "depth" in passes:  # the range is the shot's: normalise once every frame is in
            if not math.isfinite(near):
                near = far = 1.0  # nothing on screen in any frame
            writers["depth"] = video(folder / "depth.mp4")
            for i in range(n):
                z = read_exr(txn.staged(frame_path("depth", i, ".exr")))["Z"]
                with txn.open(frame_path("depth", i, ".png")) as handle:
                    write_png16(handle, depth_codes(z, near, far) / 65535.0)
                writers["depth"].write(grey_rgba(inverse_depth(z, near, far)))
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    mode = "RGBA" if transparent else "RGB"
    for still, image in (("first.png", first), ("last.png", last)):
        with txn.open(folder / still) as handle:
            Image.fromarray(image if transparent else image[..., :3], mode).save(
                handle, format="PNG")
    manifest = _manifest(shot, shot_plan, folder, beauty, passes, cameras,
                         (near, far) if "depth" in passes else None, txn)
    with txn.open(folder / "manifest.json", "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    return HandoffResult(folder, beauty, shot_plan, passes, txn.finals, manifest, 0.0)


def _manifest(shot, shot_plan, folder, beauty, passes, cameras, depth_range, txn) -> dict:
    from engine.library.provenance import asset_record, scene_settings

    target = TARGETS[shot_plan.target]

    def rel(path: Path) -> str:
        return os.path.relpath(path, folder)

    files = {"beauty": rel(beauty), "first_frame": "first.png", "last_frame": "last.png"}
    if "depth" in passes:
        files.update(depth_frames="depth/frame_%05d.png", depth_metric="depth/frame_%05d.exr",
                     depth_video="depth.mp4")
    if "normal" in passes:
        files.update(normal_frames="normal/frame_%05d.png", normal_video="normal.mp4")
    if "mask" in passes:
        files.update(mask_frames="mask/frame_%05d.png", mask_video="mask.mp4")
    doc = {
        "handoff": MANIFEST_FORMAT,
        "target": {"name": target.name, "model": target.model, "last_frame": target.last_frame,
                   "sources": target.sources},
        "prompt": "",
        "negative_prompt": "",
        "plan": asdict(shot_plan),
        "passes": list(passes),
        "files": files,
        "conventions": {
            "K": "OpenCV pinhole, pixels: x right, y down, image centre (W/2, H/2)",
            "camera_to_world": "4x4, world Y up, metres (glTF); camera looks along -z, y up",
            "depth_png": "16-bit code 1 + round(65534 (1/z - 1/far) / (1/near - 1/far)), "
                         "near, far = depth_range_m (the shot's): 65535 at its nearest "
                         "surface, 1 at its farthest, 0 where nothing is",
            "depth_video": "8-bit grey (1/z - 1/far) / (1/near - 1/far): near bright, far "
                           "and nothing black",
            "depth_exr": "Z: metres along the view axis, +inf where nothing; A: coverage",
            "normal_png": "16-bit RGB (n + 1) / 2, camera space x right, y up, z toward the "
                          "camera; 0 where nothing",
            "mask_png": "8-bit coverage of the asset (the beauty's alpha without the ground's "
                        "shadow)"},
        "depth_range_m": list(depth_range) if depth_range else None,
        "frames": cameras,
        "asset": asset_record(shot.asset.source),
        "scene": ({"path": str(shot.path), "sha256": file_sha256(shot.path)}
                  if shot.path else None),
        "settings": scene_settings(shot),
    }
    return doc


def render_shot(scene, output: Path | str | None = None, *, progress: bool = True,
                inputs: Iterable[Path] = (), log: Callable[[str], None] | None = None,
                on_frame: Callable[[int, np.ndarray], None] | None = None,
                frames: int | None = None, warn: Callable[[str], None] | None = None,
                extras: Path | None = None):
    """Render a shot as its scene asks: the clip alone (engine.render.offline.render_clip),
    or, with `[output] passes` or `[output] handoff`, the clip and beside it its passes or
    hand-off folder (`extras_folder`), written together. `frames`, `warn`: as for
    render_clip (only the first frames; the framing guard's warning); `extras`: another
    (new or empty) folder for the passes or hand-off (a campaign renders a shot's new
    passes beside its old ones, then swaps). Returns (RenderStats, folder or None)."""
    from engine.render.offline import RenderStats, output_target, render_clip

    if not scene.output.passes and not scene.output.handoff:
        return render_clip(scene, output, progress=progress, on_frame=on_frame,
                           inputs=inputs, frames=frames, warn=warn), None
    path = output_target(scene, output)
    folder = Path(extras) if extras is not None else extras_folder(scene, Path(path))
    result = write_handoff(scene, folder, scene.output.handoff, beauty=path, inputs=inputs,
                           progress=progress, log=log, on_frame=on_frame, frames=frames,
                           warn=warn)
    p = result.plan
    count = len(result.manifest["frames"])
    stats = RenderStats(result.beauty, count, p.width, p.height, result.seconds)
    return stats, folder
