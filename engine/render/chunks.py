"""Chunks: a shot's frames rendered in runs of consecutive frames, encoded apart, joined losslessly.

Units and frames: a shot's frames are the indices ``0 .. frame_count - 1`` of its timeline,
frame ``i`` rendered at time ``i / fps`` seconds (engine.scene.timeline: never wall time), so
any frame range renders exactly the frames a full render gives. A chunk is the half-open range
``[start, stop)`` of one shot. Times measured here are wall-clock seconds.

Each chunk is encoded on its own, with the same encoder settings for every chunk of a render
(:class:`ChunkWriter`): its stream starts on a keyframe and its GOPs are closed (x264
``-g G -keyint_min G -sc_threshold 0 open-gop=0``, VP9 ``-g G``, ProRes is intra-only; G is
the chunk length, at most 250 frames), the
encoder's thread count is pinned (``ENCODER_THREADS``: x264's output depends on it), so a
chunk's bytes depend only on its frames, never on which worker or machine made it. The chunks
are then joined with ffmpeg's concat demuxer and ``-c copy`` (:func:`join_chunks`): nothing
is re-encoded, so the decoded frames of the joined file are those of the chunks, and a render
on N workers is bit-identical to the same render on one (``--workers 1``). PNG chunks are
folders of frames, joined by hard links (or copies) under the output's frame numbers.

The work folder (:class:`WorkFolder`, default ``.NAME.work`` beside the output) keeps the
finished chunks with their sha256 in ``manifest.json``, keyed by everything that decides the
bytes (the scene's settings, its input files' hashes, format and encoder settings, the chunk
plan): a re-run renders only the chunks that are missing or whose bytes no longer match.
It is removed once the final output is in place.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.errors import InputError, WorkError
from engine.fileio import (
    check_output_path,
    file_sha256,
    forget_partial,
    guard_inputs,
    make_folder,
    partial_name,
    register_partial,
    write_bytes_atomic,
)
from engine.render.writers import FrameWriter, OutputError, format_for_path
from engine.scene.model import Scene
from engine.scene.source import scene_inputs

__all__ = ["CHUNK_FORMATS", "ENCODER_THREADS", "Chunk", "ChunkDone", "ChunkWriter", "Job",
           "WorkFolder", "chunk_frames_for", "frames_for_overhead", "join_chunks",
           "plan_chunks", "render_chunk"]

CHUNK_FORMATS = ("mp4", "webm", "mov", "png")  # GIF: one palette for the whole clip
ENCODER_THREADS = 2  # pinned: x264's bitstream depends on its thread count
MANIFEST_FORMAT = 1
MIN_TAIL = 3  # x264's B-frame decode delay (at most 2 frames) + 1: see plan_chunks
MAX_GOP = 250  # x264's own default keyint: long chunks still get a keyframe every 250 frames
OVERHEAD_LIMIT = 0.05  # per-chunk overhead as a share of the chunk's time

# Measured on this project's 2-core llvmpipe machine (tools/bench_scale.py, docs/SCALING.md):
# a chunk's fixed cost in a running worker (Stage set-up: asset load, buffers, shadow map,
# encoder start and flush; fitted 0.2-0.8 s, noisy) and the steady cost per frame at msaa 4
# (0.125 s at 360p, 0.257 s at 720p), as seconds + seconds per pixel. A GPU renders a frame
# far faster, so there chunks must be longer (--chunk-frames; docs/SCALING.md).
CHUNK_OVERHEAD_S = 0.75
FRAME_S = 0.08
FRAME_S_PER_PIXEL = 1.9e-7


def frames_for_overhead(overhead_s: float, frame_s: float,
                        limit: float = OVERHEAD_LIMIT) -> int:
    """The fewest frames per chunk that keep `overhead_s` under `limit` of the chunk's time
    (overhead + frames × `frame_s`): overhead / (overhead + n·frame_s) < limit."""
    if frame_s <= 0:
        return 1
    return max(1, math.floor(overhead_s * (1 - limit) / (limit * frame_s)) + 1)


def chunk_frames_for(scene: Scene) -> int:
    """Default chunk length (frames) for a scene, from the measured costs above; a function
    of the scene alone (never of the worker count), so any N gives the same chunks."""
    out = scene.output
    frame_s = FRAME_S + FRAME_S_PER_PIXEL * out.width * out.height
    return min(out.frame_count, frames_for_overhead(CHUNK_OVERHEAD_S, frame_s))


def plan_chunks(start: int, stop: int, chunk_frames: int) -> list[tuple[int, int]]:
    """[start, stop) cut into runs of `chunk_frames` consecutive frames. A remainder shorter
    than MIN_TAIL frames joins the chunk before it: x264 sets its stream's decode delay
    (B-frame reordering: 2 frames for every preset with B-frames) only once it has seen
    delay + 1 frames, so a 1- or 2-frame chunk's timestamps would not line up with the
    others' and the joined MP4 would claim 2 frames too many (a player or decoder at a
    constant rate then repeats frames)."""
    if chunk_frames < 1:
        raise InputError(f"--chunk-frames: expected 1 or more frames, got {chunk_frames}")
    plan = [(a, min(a + chunk_frames, stop)) for a in range(start, stop, chunk_frames)]
    if len(plan) > 1 and plan[-1][1] - plan[-1][0] < MIN_TAIL:
        plan[-2:] = [(plan[-2][0], stop)]
    return plan


@dataclass(frozen=True)
class Job:
    """One shot's frame range to one output: what the scheduler takes (a campaign makes one
    per deliverable). `stop` None: to the shot's last frame. `name` labels it in messages."""

    scene: Scene
    output: str
    start: int = 0
    stop: int | None = None
    name: str = ""
    inputs: tuple[Path, ...] = ()

    @property
    def frames(self) -> range:
        count = self.scene.output.frame_count
        stop = count if self.stop is None else self.stop
        if not 0 <= self.start < stop <= count:
            raise InputError(f"{self.label}: frames {self.start}..{stop} are not within the "
                             f"shot's 0..{count}")
        return range(self.start, stop)

    @property
    def label(self) -> str:
        return self.name or Path(self.output.rstrip("/")).name


@dataclass(frozen=True)
class Chunk:
    """Frames [start, stop) of a job, rendered into `folder` (pickled to workers)."""

    job: str  # the job's label
    scene: Scene
    start: int
    stop: int
    fmt: str
    alpha: bool
    quality: str
    gop: int
    folder: Path
    claims: Path | None = None  # where a worker notes "pid is rendering me" (local runs)
    egl_device: int | None = None  # GPU to render on (Panda3D egl-device-index)
    framing: tuple[int, int] | None = None  # the job's frames, for the framing guard

    @property
    def name(self) -> str:
        return f"chunk_{self.start:06d}-{self.stop - 1:06d}"

    @property
    def label(self) -> str:
        return f"{self.job} frames {self.start}-{self.stop - 1}"

    @property
    def target(self) -> Path:
        suffix = "" if self.fmt == "png" else f".{self.fmt}"
        return self.folder / f"{self.name}{suffix}"


@dataclass
class ChunkDone:
    """What a worker reports for a finished chunk: its hash, frames and timings (s)."""

    name: str
    sha256: str
    frames: int
    setup_s: float  # Stage set-up (asset load, buffers, shader compile) and encoder start
    total_s: float
    pid: int
    host: str
    files: dict[str, bytes] = field(default_factory=dict)  # when shipped back (Ray)
    warning: str | None = None  # the framing guard's, for the job's frames (first chunk)
    poster: bytes | None = None  # the job's first frame as PNG (its first chunk only)


class ChunkWriter(FrameWriter):
    """A FrameWriter whose stream can be joined with `-c copy`: keyframe first, closed GOPs
    of `gop` frames, pinned encoder threads; otherwise the writer's own settings."""

    def __init__(self, *args, gop: int, **kwargs):
        self.gop = int(gop)
        super().__init__(*args, **kwargs)

    def _codec_args(self) -> list[str]:
        args = super()._codec_args()
        extra = ["-threads", str(ENCODER_THREADS)]
        if self.format == "mp4":
            extra += ["-g", str(self.gop), "-keyint_min", str(self.gop), "-sc_threshold", "0",
                      "-x264-params", "open-gop=0"]
        elif self.format == "webm":
            extra += ["-g", str(self.gop), "-keyint_min", str(self.gop)]
        at = len(args) - 1 - args[::-1].index("-f")  # before the muxer: "-f", FORMAT
        return args[:at] + extra + args[at:]


def chunk_hash(path: Path) -> str:
    """sha256 of a chunk file, or of a PNG chunk folder's (name, sha256) list."""
    path = Path(path)
    if path.is_dir():
        lines = "".join(f"{p.name} {file_sha256(p)}\n" for p in sorted(path.glob("*.png")))
        return hashlib.sha256(lines.encode()).hexdigest()
    return file_sha256(path)


def _claim(chunk: Chunk) -> Path | None:
    """Note "this process is rendering `chunk`" (removed when the chunk is done)."""
    if chunk.claims is None:
        return None
    chunk.claims.mkdir(parents=True, exist_ok=True)
    claim = chunk.claims / f"{chunk.name}.{os.getpid()}"
    claim.write_text(str(os.getpid()))
    return claim


def render_chunk(chunk: Chunk) -> ChunkDone:
    """Render and encode one chunk into its folder (atomically: the writer's own rule).
    Runs in a worker; while it runs, the chunk's claim file names the process (from its
    first frame in the encoder to the chunk's end: a test, or an operator, sees who is
    mid-chunk)."""
    import platform

    from engine.render.engine_setup import RenderUnavailable
    from engine.render.stage import Stage

    if chunk.egl_device is None and WORKER_EGL_DEVICE is not None:
        chunk = replace(chunk, egl_device=WORKER_EGL_DEVICE)  # this worker's own GPU
    if chunk.egl_device is not None:
        pin_egl_device(chunk.egl_device)
    begin = time.perf_counter()
    out = chunk.scene.output
    target = chunk.target
    if target.exists():  # a corrupt leftover: the writer would refuse a non-empty folder
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    try:
        stage = Stage(chunk.scene, out.width, out.height)
    except RenderUnavailable as exc:
        if chunk.egl_device is None:
            raise
        raise RenderUnavailable(f"chunk {chunk.label}: cannot render on EGL device "
                                f"{chunk.egl_device} (Panda3D egl-device-index): {exc}") from exc
    warning = None
    if chunk.framing is not None:  # engine.scene.framing, as render_clip's warn= does
        from engine.scene.framing import framing_report, framing_warning

        times = [stage.timeline.frame_time(i) for i in range(*chunk.framing)]
        warning = framing_warning(chunk.scene, framing_report(stage.timeline, times))
    with stage:
        with ChunkWriter(os.fspath(target) + ("/" if chunk.fmt == "png" else ""), out.width,
                         out.height, out.fps, alpha=chunk.alpha, preset=chunk.quality,
                         gop=chunk.gop) as writer:
            setup = time.perf_counter() - begin
            claim = poster = None
            for index in range(chunk.start, chunk.stop):
                frame = stage.capture(stage.timeline.frame_time(index))
                writer.write(frame)
                if index == chunk.start:
                    claim = _claim(chunk)
                    if chunk.framing is not None:
                        poster = png_bytes(frame)
    if claim is not None:
        claim.unlink(missing_ok=True)
    return ChunkDone(chunk.name, chunk_hash(target), chunk.stop - chunk.start, setup,
                     time.perf_counter() - begin, os.getpid(), platform.node(),
                     warning=warning, poster=poster)


def png_bytes(frame) -> bytes:
    """A frame (H x W x 3|4 uint8) as PNG bytes: a job's poster, made by its first chunk's
    worker from the frame it rendered (not decoded back from the lossy clip)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return buffer.getvalue()


# GPU pinning: one worker per GPU. A local worker takes its GPU when it starts
# (engine.render.workers sets this from CUDA_VISIBLE_DEVICES), a Ray task from
# ray.get_gpu_ids(); a chunk's own egl_device wins.
WORKER_EGL_DEVICE: int | None = None


def visible_gpus(env=None) -> list[str]:
    """The GPU ids CUDA_VISIBLE_DEVICES lists (CUDA's rules: unset or empty means none we
    know of; the list ends at the first entry that is not an id, so "-1" hides them all)."""
    value = (os.environ if env is None else env).get("CUDA_VISIBLE_DEVICES")
    ids = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item or item.startswith("-"):
            break
        ids.append(item)
    return ids


def egl_device_for(gpu_id) -> int | None:
    """The egl-device-index for a GPU id (an ordinal, from CUDA_VISIBLE_DEVICES or
    ray.get_gpu_ids()); None for an id that is not an ordinal (a UUID such as "GPU-5e1c..."):
    that worker renders on EGL's default device. Assumes EGL lists the GPUs in the same
    order as the driver's ordinals (docs/SCALING.md: GPU nodes)."""
    text = str(gpu_id).strip()
    return int(text) if text.isdigit() else None


def worker_gpu(slot: int, gpus: list[str]) -> str | None:
    """The GPU id local worker number `slot` (0, 1, ...) is pinned to: worker k gets the
    k-th visible GPU (round robin past the last); None when no GPU is visible."""
    return gpus[slot % len(gpus)] if gpus else None


def pin_egl_device(index: int) -> None:
    """Render this process on GPU `index` (Panda3D's egl-device-index), before the first
    Stage; a GPU node runs one worker per GPU, each pinned to its own."""
    from panda3d.core import loadPrcFileData

    loadPrcFileData("maquette-gpu", f"egl-device-index {int(index)}\n")


def job_format(job: Job) -> tuple[str, bool]:
    """(format, alpha) of a job's output; refuses formats that cannot be chunked."""
    fmt = format_for_path(job.output)
    if fmt not in CHUNK_FORMATS:
        raise InputError(f"{job.output}: a {fmt.upper()} cannot be rendered in chunks (one "
                         "palette for the whole clip); render it without --workers/--ray, or "
                         f"choose one of {', '.join('.' + f for f in CHUNK_FORMATS[:-1])} "
                         "or a folder/ of PNG frames")
    return fmt, job.scene.stage.background.transparent


def _ffmpeg_version() -> str:
    """The encoder's version: another x264 makes other bytes, so chunks made by it are not
    reused (and a cluster's nodes should all have the same imageio-ffmpeg)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_version()


class WorkFolder:
    """Finished chunks of one job and their hashes (``manifest.json``), kept between runs.

    The manifest's key is a hash of everything that decides the chunks' bytes; a folder left
    by a render with another key is emptied first (its chunks are of something else)."""

    def __init__(self, job: Job, chunk_frames: int, folder: Path | None = None):
        self.job = job
        self.fmt, self.alpha = job_format(job)
        final = Path(job.output.rstrip("/"))
        self.folder = Path(folder) if folder is not None else \
            final.parent / f".{final.name}.work"
        self.plan = plan_chunks(job.frames.start, job.frames.stop, chunk_frames)
        self.gop = min(chunk_frames, MAX_GOP)
        self.key = self._key(chunk_frames)
        self.manifest_path = self.folder / "manifest.json"

    def _key(self, chunk_frames: int) -> str:
        from engine.library.provenance import jsonable

        scene = self.job.scene
        inputs = sorted({os.fspath(p) for p in scene_inputs(scene, *self.job.inputs)})
        doc = {"format": MANIFEST_FORMAT, "scene": jsonable(scene),
               "inputs": {p: file_sha256(Path(p)) for p in inputs if Path(p).is_file()},
               "output": [self.fmt, self.alpha, scene.output.quality, ENCODER_THREADS,
                          _ffmpeg_version()],
               "plan": self.plan, "gop": self.gop}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def chunks(self, *, claims: bool = False, egl_device: int | None = None) -> list[Chunk]:
        scene = self.job.scene
        frames = self.job.frames
        return [Chunk(self.job.label, scene, a, b, self.fmt, self.alpha, scene.output.quality,
                      self.gop, self.folder, self.folder / ".claims" if claims else None,
                      egl_device, (frames.start, frames.stop) if i == 0 else None)
                for i, (a, b) in enumerate(self.plan)]

    def open(self) -> dict[str, dict]:
        """Create or reopen the folder; returns the finished chunks whose bytes still match
        their recorded hash (name -> record); removes leftovers of killed writers."""
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.folder / ".lock", "w")  # held until close()
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.close()
            raise InputError(f"{self.folder}: another render of {self.job.output} is using "
                             "this work folder; wait for it or stop it") from None
        for leftover in self.folder.glob(".*.partial-*"):
            shutil.rmtree(leftover, True) if leftover.is_dir() else leftover.unlink(True)
        shutil.rmtree(self.folder / ".claims", ignore_errors=True)
        manifest = self._read()
        if manifest.get("key") != self.key:
            for path in self.folder.iterdir():
                if path.name.startswith("chunk_"):
                    shutil.rmtree(path, True) if path.is_dir() else path.unlink()
            manifest = {"key": self.key, "job": self.job.label, "chunks": {}}
            self._write(manifest)
        self.manifest = manifest
        valid = {}
        for chunk in self.chunks():
            record = manifest["chunks"].get(chunk.name)
            if record and chunk.target.exists() and chunk_hash(chunk.target) == record["sha256"]:
                valid[chunk.name] = record
            else:
                manifest["chunks"].pop(chunk.name, None)
        return valid

    def _read(self) -> dict:
        try:
            doc = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) and isinstance(doc.get("chunks"), dict) else {}

    def _write(self, manifest: dict) -> None:
        write_bytes_atomic(self.manifest_path, json.dumps(manifest, indent=1).encode())

    def store(self, chunk: Chunk, done: ChunkDone) -> None:
        """Record a finished chunk (writing its files first when they came back as bytes);
        a chunk whose bytes do not match the worker's hash is refused."""
        if done.files:
            target = chunk.target
            if self.fmt == "png":
                tmp = partial_name(target)
                tmp.mkdir()
                register_partial(tmp)
                for name, data in done.files.items():
                    (tmp / name).write_bytes(data)
                if target.exists():
                    shutil.rmtree(target)
                os.replace(tmp, target)
                forget_partial(tmp)
            else:
                write_bytes_atomic(target, done.files[target.name])
        actual = chunk_hash(chunk.target)
        if actual != done.sha256:
            raise WorkError(f"chunk {chunk.label}: {chunk.target} does not match the hash its "
                            f"worker reported ({actual[:12]} != {done.sha256[:12]})")
        if done.poster is not None:
            write_bytes_atomic(self.poster_path, done.poster)
        self.manifest["chunks"][chunk.name] = {
            "sha256": done.sha256, "frames": done.frames, "setup_s": round(done.setup_s, 4),
            "total_s": round(done.total_s, 4), "host": done.host, "pid": done.pid}
        self._write(self.manifest)

    @property
    def poster_path(self) -> Path:
        """The job's first frame (PNG), kept with its first chunk (and removed with it)."""
        return self.folder / f"{self.chunks()[0].name}.poster.png"

    def poster(self) -> bytes | None:
        """The poster's bytes, when its first chunk's worker made one (this run or an earlier
        one whose chunk is reused)."""
        try:
            return self.poster_path.read_bytes()
        except OSError:
            return None

    def close(self) -> None:
        """Let go of the folder's lock (the chunks stay for the next run)."""
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()
            self._lock = None

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def check_destination(job: Job) -> None:
    """Refuse up front what the join would refuse at the end (the writer's own rules)."""
    fmt, _ = job_format(job)
    final = Path(job.output.rstrip("/"))
    guard_inputs([final], scene_inputs(job.scene, *job.inputs))
    make_folder(final.parent, final)
    check_output_path(final, folder=fmt == "png")
    if fmt == "png" and final.is_dir() and any(final.iterdir()):
        raise OutputError(f"{final}/: the folder already holds files; PNG frames go into a new "
                          "or empty folder: choose another folder or empty this one")


def video_packets(path: Path) -> int:
    """Frames (packets) of a video's first stream, counted by ffmpeg without decoding
    (about 30 000 packets per second here: the join's check stays cheap at any length)."""
    import re

    from engine.render.writers import _ffmpeg_exe

    proc = subprocess.run([_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path),
                           "-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
                          stdin=subprocess.DEVNULL, capture_output=True)
    found = re.findall(r"frame=\s*(\d+)", proc.stderr.decode("utf-8", "replace"))
    if proc.returncode != 0 or not found:
        raise OutputError(f"{path}: cannot count its frames: "
                          f"{proc.stderr.decode('utf-8', 'replace').strip()[-500:]}")
    return int(found[-1])


def concat_listing(chunks: list[Chunk], fps: float) -> str:
    """The concat demuxer's list: each chunk with its exact duration (frames / fps, s).
    Without it the demuxer takes each file's own duration, which an MP4 with B-frames (its
    edit list) gives a few ticks short: the next chunk's timestamps then start early and a
    decoder at a constant rate duplicates frames (a 4 + 1 frame join decoded as 7)."""
    from fractions import Fraction

    rate = Fraction(fps).limit_denominator(1001)
    lines = []
    for chunk in chunks:
        seconds = Fraction(chunk.stop - chunk.start) / rate
        lines.append(f"file '{os.fspath(chunk.target.resolve())}'\n"
                     f"duration {float(seconds):.12f}\n")
    return "".join(lines)


def join_chunks(work: WorkFolder) -> Path:
    """Join a job's finished chunks into its output, atomically (hidden partial, renamed
    into place when complete and its frame count checked); returns the output's path."""
    from engine.render.writers import _ffmpeg_exe

    check_destination(work.job)
    final = Path(work.job.output.rstrip("/"))
    chunks = work.chunks()
    expected = sum(c.stop - c.start for c in chunks)
    if work.fmt == "png":
        tmp = partial_name(final)
        tmp.mkdir()
        register_partial(tmp)
        try:
            index = 0
            for chunk in chunks:
                for frame in sorted(chunk.target.glob("frame_*.png")):
                    dest = tmp / f"frame_{index:05d}.png"
                    try:
                        os.link(frame, dest)
                    except OSError:
                        shutil.copyfile(frame, dest)
                    index += 1
            if index != expected:
                raise WorkError(f"joining {final}: {index} frames in the chunks, "
                                f"expected {expected}")
            check_destination(work.job)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            forget_partial(tmp)
        return final
    tmp = partial_name(final, final.suffix)
    listing = partial_name(final, ".txt")
    register_partial(tmp)
    register_partial(listing)
    try:
        listing.write_text(concat_listing(chunks, work.job.scene.output.fps))
        flags = ["-movflags", "+faststart"] if work.fmt in ("mp4", "mov") else []
        cmd = [_ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", "-y",
               "-f", "concat", "-safe", "0", "-i", os.fspath(listing), "-map", "0:v",
               "-c", "copy", *flags, "-f", {"mp4": "mp4", "mov": "mov", "webm": "webm"}[
                   work.fmt], os.fspath(tmp)]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
        if proc.returncode != 0:
            raise OutputError(f"joining the chunks of {final} failed: "
                              f"{proc.stderr.decode('utf-8', 'replace').strip()}")
        frames = video_packets(tmp)
        if frames != expected:
            raise OutputError(f"joining the chunks of {final}: the joined file has {frames} "
                              f"frames, expected {expected}")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    finally:
        for path in (tmp, listing):
            path.unlink(missing_ok=True)
            forget_partial(path)
    return final
