"""Image-to-video hand-off targets: the one table of what each tool accepts, and the plan
(size, frame rate, frame count) a shot takes for it. Pure data and arithmetic.

`TARGETS` holds every constraint with its source; docs/HANDOFF.md carries the same table,
generated from this one (`python tools/handoff_doc.py --write`; a test fails while it is
stale). `plan(scene_output, name)` picks, for a shot, a size and frame count the target
accepts: the target's aspect nearest the shot's, the size nearest the shot's pixel count,
the target's frame rate, and the frame count (or clip length) nearest the shot's duration.
Sizes are pixels (width, height); rates frames per second; durations seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["TARGETS", "HandoffPlan", "Target", "plan", "targets_markdown"]


@dataclass(frozen=True)
class Target:
    """What one image-to-video tool accepts. Sizes: either a fixed list (`sizes`), or free
    sizes whose sides are multiples of `multiple` within `max_pixels`, or a fixed short
    side (`short_side`) with the long side a multiple of `multiple` up to `long_max`.
    Frames: `step * n + 1` within [min_frames, max_frames], or whole clips of one of
    `durations` seconds at `fps`."""

    name: str
    model: str
    fps: float
    sizes: tuple[tuple[int, int], ...] = ()
    multiple: int = 2
    max_pixels: int = 0
    short_side: int = 0
    long_max: int = 0
    frame_step: int = 0
    min_frames: int = 1
    max_frames: int = 0
    durations: tuple[float, ...] = ()
    last_frame: bool = False
    controls: str = ""
    sources: dict[str, str] = field(default_factory=dict)

    # -- what it accepts (the tests check every plan against these) --------------------
    def accepts_size(self, width: int, height: int) -> bool:
        if self.sizes:
            return (width, height) in self.sizes
        if width % self.multiple or height % self.multiple:
            return False
        if self.short_side:
            long = max(width, height)
            return min(width, height) == self.short_side and self.short_side <= long \
                <= self.long_max
        return not self.max_pixels or width * height <= self.max_pixels

    def accepts_frames(self, frames: int) -> bool:
        if self.durations:
            return any(frames == round(d * self.fps) for d in self.durations)
        if self.frame_step and (frames - 1) % self.frame_step:
            return False
        return self.min_frames <= frames <= (self.max_frames or frames)

    # -- words for the table ------------------------------------------------------------
    def size_text(self) -> str:
        if self.sizes:
            return ", ".join(f"{w}×{h}" for w, h in self.sizes)
        if self.short_side:
            return (f"short side {self.short_side}, long side {self.short_side}–"
                    f"{self.long_max}, multiple of {self.multiple}")
        text = f"width and height multiples of {self.multiple}"
        if self.max_pixels:
            text += f", at most {self.max_pixels:,} pixels"
        return text

    def frames_text(self) -> str:
        if self.durations:
            return " or ".join(f"{d:g} s" for d in self.durations) + \
                f" ({', '.join(str(round(d * self.fps)) for d in self.durations)} frames)"
        if not self.frame_step:
            return "any (the shot's own)"
        top = f"≤ {self.max_frames}" if self.max_frames else "any"
        return f"{self.frame_step}n+1, {self.min_frames}–{self.max_frames}" \
            if self.max_frames else f"{self.frame_step}n+1, {top}"


# Sizes whose shape is within this (log ratio, ~5 %) of the nearest count as that shape;
# among them the one nearest the shot's pixel count wins (832x480 and 1280x720 are both
# Wan's 16:9).
ASPECT_SLACK = 0.05
LTX_SOURCE = ("Lightricks/LTX-Video README and model card, 'General tips': \"resolutions "
              "that are divisible by 32 and number of frames that are divisible by 8 + 1 "
              "(e.g. 257)\", \"works best on resolutions under 720 x 1280 and number of "
              "frames below 257\"")
TARGETS: dict[str, Target] = {t.name: t for t in (
    Target(
        name="wan", model="Wan 2.1 I2V-14B (480P / 720P; FLF2V-14B for first + last frame)",
        fps=16.0, sizes=((1280, 720), (720, 1280), (832, 480), (480, 832)),
        frame_step=4, min_frames=5, max_frames=81, last_frame=True,
        controls="depth and mask videos for Wan VACE",
        sources={"sizes": "Wan-Video/Wan2.1 wan/configs/__init__.py, SUPPORTED_SIZES "
                          "['i2v-14B'] = 720*1280, 1280*720, 480*832, 832*480",
                 "frames": "Wan-Video/Wan2.1 generate.py: \"frame_num should be 4n+1\", "
                           "default 81",
                 "fps": "Wan-Video/Wan2.1 wan/configs/shared_config.py: sample_fps = 16"}),
    Target(
        name="ltx", model="LTX-Video (Lightricks)", fps=24.0, multiple=32,
        max_pixels=720 * 1280, frame_step=8, min_frames=9, max_frames=257,
        last_frame=True, controls="depth control (IC-LoRA) takes the depth video",
        sources={"sizes": LTX_SOURCE, "frames": LTX_SOURCE,
                 "fps": "Lightricks/LTX-Video diffusers example: export_to_video(..., "
                        "fps=24)"}),
    Target(
        name="cogvideox", model="CogVideoX1.5-5B-I2V (THUDM)", fps=16.0, multiple=16,
        short_side=768, long_max=1360, frame_step=16, min_frames=17, max_frames=161,
        controls="depth video for CogVideoX ControlNets",
        sources={"sizes": "THUDM/CogVideo README model table: \"Min(W, H) = 768, 768 ≤ "
                          "Max(W, H) ≤ 1360, Max(W, H) % 16 = 0\"",
                 "frames": "THUDM/CogVideo README: \"16N + 1 where N <= 10 (default 81)\" "
                           "(CogVideoX-5B-I2V: 8N + 1, N <= 6, 720×480, 8 fps; every "
                           "16N + 1 count up to 49 suits both)",
                 "fps": "THUDM/CogVideo README: 16 frames per second (CogVideoX1.5)"}),
    Target(
        name="runway", model="Runway Gen-4 Turbo (API: image_to_video, gen4_turbo)",
        fps=24.0, sizes=((1280, 720), (720, 1280), (1104, 832), (832, 1104), (960, 960),
                         (1584, 672)),
        durations=(5.0, 10.0), last_frame=False,
        controls="none (first frame only); the control videos are for your own tools",
        sources={"sizes": "runwayml/sdk-python src/runwayml/types/"
                          "image_to_video_create_params.py, Gen4Turbo.ratio",
                 "frames": "docs.dev.runwayml.com API reference, POST /v1/image_to_video: "
                           "duration 5 or 10",
                 "last frame": "runwayml/sdk-python: gen4_turbo promptImage position "
                               "\"first\" only",
                 "fps": "help.runwayml.com, Creating with Gen-4, Gen-4 Spec Details: "
                        "frame rate 24 fps (Gen-4 and Gen-4 Turbo)"}),
    Target(
        name="kling", model="Kling 2.x image-to-video (std 720p, pro 1080p)", fps=24.0,
        sizes=((1920, 1080), (1080, 1920), (1440, 1440), (1280, 720), (720, 1280)),
        durations=(5.0, 10.0), last_frame=True,
        controls="none (first and last frame); the control videos are for your own tools",
        sources={"sizes": "docs.leonardo.ai, Kling 2.1 Pro: 16:9 at 1920x1080, 9:16 at "
                          "1080x1920, 1:1 at 1440x1440; std mode 720P (docs.apimart.ai, "
                          "Kling v2.6); input image >= 300 px, aspect 1:2.5 to 2.5:1 "
                          "(novita.ai Kling i2v reference)",
                 "frames": "Kling image2video API: duration \"5\" or \"10\" (docs.leonardo.ai,"
                           " docs.apimart.ai)",
                 "last frame": "image_tail / end frame (pro mode)",
                 "fps": "24 assumed: no first-party source found (a third-party API example "
                        "passes 30)"}),
    Target(
        name="veo", model="Google Veo 3 / 3.1 (veo-3.0-generate-001)", fps=24.0,
        sizes=((1280, 720), (720, 1280), (1920, 1080), (1080, 1920)),
        durations=(4.0, 6.0, 8.0), last_frame=True,
        controls="none (first and last frame with Veo 3.1); the control videos are for "
                 "your own tools",
        sources={"sizes": "cloud.google.com/vertex-ai/generative-ai/docs/models/veo/"
                          "3-0-generate-001: aspect ratios 16:9, 9:16; resolutions 720, 1080",
                 "frames": "same page: video length 4, 6 or 8 seconds",
                 "fps": "same page: 24 FPS",
                 "last frame": "runwayml/sdk-python Veo3_1 promptImage position \"first\", "
                               "\"last\""}),
    Target(
        name="generic", model="any tool: the shot's own size, rate and length", fps=0.0,
        controls="depth, normal and mask videos",
        sources={"sizes": "the scene's [output] (even sides, for H.264)"}, last_frame=True),
)}


@dataclass(frozen=True)
class HandoffPlan:
    """A shot as a target takes it: `width` × `height` pixels, `frames` at `fps`,
    `duration` = frames / fps seconds (the shot is re-timed to it), `aspect` the scene
    aspect nearest the size (for framing), `notes` what changed and why."""

    target: str
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    aspect: str
    notes: tuple[str, ...] = ()


def _nearest_aspect(ratio: float) -> str:
    from engine.scene.model import ASPECTS

    return min(ASPECTS, key=lambda k: abs(math.log(ratio * ASPECTS[k][1] / ASPECTS[k][0])))


def _free_size(target: Target, ratio: float, height: int) -> tuple[int, int]:
    m = target.multiple
    if target.short_side:
        short, long_max = target.short_side, target.long_max
        long = min(long_max, max(short, int(round(short * max(ratio, 1 / ratio) / m)) * m))
        return (long, short) if ratio >= 1 else (short, long)
    h = max(m, int(round(height / m)) * m)
    while True:
        w = max(m, int(round(h * ratio / m)) * m)
        if not target.max_pixels or w * h <= target.max_pixels or h <= m:
            return w, h
        h -= m


def plan(output, name: str) -> HandoffPlan:
    """The size and frames `output` (an OutputSpec) takes for target `name`."""
    from engine.scene.model import ASPECTS

    target = TARGETS[name]
    aw, ah = ASPECTS[output.aspect]
    ratio = aw / ah
    notes: list[str] = []
    if name == "generic":
        w, h = output.width, output.height + output.height % 2
        fps, frames = output.fps, output.frame_count
        return HandoffPlan(name, w, h, fps, frames, frames / fps, output.aspect)
    if target.sizes:
        def off(size):
            return abs(math.log(size[0] / size[1] / ratio))

        best = min(off(s) for s in target.sizes)
        shaped = [s for s in target.sizes if off(s) <= best + ASPECT_SLACK]
        want = output.width * output.height
        w, h = min(shaped, key=lambda s: (abs(math.log(s[0] * s[1] / want)), -s[0] * s[1]))
    else:
        w, h = _free_size(target, ratio, output.height)
    if abs(math.log(w / h / ratio)) > ASPECT_SLACK:
        notes.append(f"{name} has no {output.aspect} size: {w}x{h} is the nearest it takes "
                     f"(the shot is framed for it)")
    fps = target.fps
    wanted = output.duration * fps
    if target.durations:
        duration = min(target.durations, key=lambda d: (abs(d - output.duration), d))
        frames = int(round(duration * fps))
    else:
        n = max(0, int(round((wanted - 1) / target.frame_step)))
        frames = target.frame_step * n + 1
        frames = min(max(frames, target.min_frames), target.max_frames)
        duration = frames / fps
    if abs(duration - output.duration) > 0.5 / fps:
        notes.append(f"the shot is re-timed from {output.duration:g} s to {duration:g} s "
                     f"({frames} frames at {fps:g} fps): {name} takes "
                     f"{target.frames_text()}")
    return HandoffPlan(name, w, h, fps, frames, duration, _nearest_aspect(w / h),
                       tuple(notes))


def targets_markdown() -> str:
    """The targets table as Markdown (docs/HANDOFF.md holds exactly this)."""
    lines = ["| target | model | sizes (pixels) | frames | fps | last frame | controls |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for t in TARGETS.values():
        fps = f"{t.fps:g}" if t.fps else "the shot's"
        lines.append(f"| `{t.name}` | {t.model} | {t.size_text()} | {t.frames_text()} | {fps} "
                     f"| {'yes' if t.last_frame else 'no'} | {t.controls} |")
    lines += ["", "Sources, constraint by constraint:", ""]
    for t in TARGETS.values():
        for what, source in t.sources.items():
            lines.append(f"- `{t.name}` {what}: {source}")
    return "\n".join(lines) + "\n"
