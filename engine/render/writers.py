"""Stream rendered frames to a video file or a PNG sequence.

Frames arrive one by one from the renderer as ``(H, W, 4)`` ``uint8`` RGBA arrays, top row
first, or (``layout="bgra-bottom-up"``) as the bytes Panda3D reads back from the GPU: BGRA,
bottom row first, which go to ffmpeg as they are (``-pix_fmt bgra`` and a ``vflip`` filter,
which only moves pointers): one copy per frame instead of three.
:class:`FrameWriter` hands each frame to a background thread through a small bounded queue;
that thread feeds the ffmpeg subprocess's stdin (or, for PNG sequences, encodes the PNGs
with pillow), so encoding overlaps rendering and no temporary image files are written.
The render thread only waits when the encoder is a full queue behind.

The output format is chosen from the output path (see :func:`format_for_path`):

======== ============================================================================
``.mp4`` H.264 (libx264), yuv420p, BT.709, CRF ``crf`` (default 18), ``+faststart``.
         Plays everywhere.  Width and height must be even (ValueError otherwise).
``.webm`` VP9 (libvpx-vp9), yuva420p when ``alpha`` else yuv420p.
``.mov`` ProRes 4444 with alpha (yuva444p10le) when ``alpha``, else ProRes 422 HQ.
``.gif`` palette GIF (palettegen/paletteuse), loops forever, transparent when ``alpha``.
         ffmpeg holds every frame in memory until the palette is built at the end, and GIF
         delays are in 1/100 s (24 fps plays as 25): keep GIFs short and small.
dir/     PNG sequence ``frame_00000.png``... (RGBA when ``alpha`` else RGB).
======== ============================================================================

Nothing-lost rules: output goes to a hidden temporary sibling of the final path
(``.clip.mp4.partial-<pid>-<hex>.mp4``, or a ``.frames.partial-<pid>-<hex>`` directory,
named by :func:`engine.fileio.partial_name` and registered there for signal clean-up) and is
moved into place with ``os.replace``/``os.rename`` only after the encoder exited cleanly and
every frame was written.  On any failure (encoder killed or crashed, disk full, exception in
the ``with`` block, Ctrl-C) the temporary output is removed and the final path is left as it
was.
"""

from __future__ import annotations

import collections
import errno
import math
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.errors import WorkError
from engine.fileio import (
    OutputPathError,
    check_output_path,
    forget_partial,
    make_folder,
    partial_name,
    register_partial,
)

__all__ = [
    "FORMATS",
    "FrameWriter",
    "OutputError",
    "format_for_path",
    "probe_video",
    "read_frames",
]

FORMATS = ("mp4", "webm", "mov", "gif", "png")

_SUFFIXES = {".mp4": "mp4", ".webm": "webm", ".mov": "mov", ".gif": "gif"}

# Tag the stream as BT.709 limited range (what the scale filter converts to), so
# players show the intended colours. The scale filter's output frames carry the matrix
# and range but "unknown" primaries and transfer, and the encoder takes the frames'
# properties over the -color_* options: set them on the frames too (setparams).
_BT709_PARAMS = "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
_BT709_TAGS = ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
               "-color_range", "tv")

X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)

# libvpx-vp9 "-deadline good" speed (-cpu-used 0..5) for each x264-style preset name.
_VP9_CPU_USED = {
    "ultrafast": 5,
    "superfast": 5,
    "veryfast": 5,
    "faster": 4,
    "fast": 3,
    "medium": 2,
    "slow": 1,
    "slower": 1,
    "veryslow": 0,
    "placebo": 0,
}

LAYOUTS = ("rgba", "bgra-bottom-up")  # FrameWriter(layout=...): what write() takes
_QUEUE_SIZE = 8
_STDERR_LINES = 40
_STOP = object()  # queue sentinel


class OutputError(WorkError):
    """Writing the output failed; the message is meant for the user."""


def _ffmpeg_exe() -> str:
    import imageio_ffmpeg  # (here: a still, which imports this module, needs no ffmpeg)

    return imageio_ffmpeg.get_ffmpeg_exe()


def format_for_path(path: str | os.PathLike[str], *, slash_for_folders: bool = False) -> str:
    """Return the output format (one of :data:`FORMATS`) for an output path.

    A path that ends with ``/`` means a PNG sequence; otherwise the suffix
    (case-insensitive) picks the video format (an existing folder named ``d.mp4`` is
    refused by the writer, not filled with frames).  A path without a suffix is a PNG
    sequence for library callers (a Path cannot end with /), but with
    ``slash_for_folders`` (what the command line and scene files use) it is refused
    rather than guessed: ``renders/x`` may be a typo for ``renders/x.mp4``.  Raises
    OutputPathError (exit 2) naming the path and the supported suffixes otherwise.
    """
    text = os.fspath(path)
    p = Path(text)
    suffix = p.suffix.lower()
    if text.endswith(("/", os.sep)) or (not suffix and not slash_for_folders):
        return "png"
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    supported = ", ".join(_SUFFIXES)
    if not suffix:
        folder = " (it is a folder: name it" if p.is_dir() else " (or"
        raise OutputPathError(
            f"{text}: the output has no file type: end it with {supported}{folder} with a "
            f"trailing / for PNG frames, e.g. '{text}/')"
        )
    hint = ""
    if suffix == ".png":
        hint = f" (for a PNG sequence give a folder path ending in /, e.g. '{p.with_suffix('')}/')"
    raise OutputPathError(
        f"unsupported output path {text!r}: suffix {p.suffix!r} is not one of "
        f"{supported}, and it is not a folder path for a PNG sequence{hint}"
    )


def _fps_arg(fps: float | Fraction) -> str:
    """ffmpeg rate string: 24 -> '24/1', 29.97 -> '2997/100', 30000/1001 stays exact."""
    if isinstance(fps, Fraction):
        frac = fps
    else:
        frac = Fraction(float(fps)).limit_denominator(1001)
        if abs(float(frac) - float(fps)) > 1e-6:
            frac = Fraction(repr(float(fps)))
    return f"{frac.numerator}/{frac.denominator}"


def _describe_returncode(rc: int | None) -> str:
    if rc is None:
        return "ffmpeg is still running"
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"ffmpeg was killed by {name}"
    return f"ffmpeg exited with status {rc}"


class FrameWriter:
    """Stream RGBA frames to ``path`` (format picked by :func:`format_for_path`).

    Use as a context manager::

        with FrameWriter(Path("out/clip.mp4"), 1280, 720, 30) as w:
            for frame in frames:
                w.write(frame)          # (720, 1280, 4) uint8 RGBA
        # here out/clip.mp4 exists and is complete

    Leaving the block with an exception (KeyboardInterrupt included) aborts: the encoder is
    killed, the temporary output removed, the final path left untouched, and the exception
    propagates.  Without ``with``, call :meth:`close` (returns the final path) or :meth:`abort`.

    Parameters
    ----------
    alpha:
        Keep the alpha channel (webm: yuva420p; mov: ProRes 4444; gif: transparency;
        png: RGBA).  ``.mp4`` has no alpha; with ``alpha=False`` the alpha channel of the
        incoming frames is ignored.
    preset:
        x264 preset name for ``.mp4`` (also mapped onto libvpx-vp9 ``-cpu-used`` for
        ``.webm``).  Ignored by ProRes, GIF and PNG.
    crf:
        Constant rate factor: x264 scale (0-51) for ``.mp4``, libvpx-vp9 scale (0-63)
        for ``.webm``.  Lower is better; 18 is visually lossless for H.264.  Ignored by
        ProRes, GIF and PNG.
    layout:
        ``"rgba"`` (default): :meth:`write` takes ``(H, W, 4)`` uint8 RGBA arrays, top row
        first.  ``"bgra-bottom-up"``: it takes ``H * W * 4`` bytes (any buffer) of BGRA
        pixels, bottom row first, as Panda3D reads a frame back (``Stage.frame_bytes``).
    overwrite:
        What to do when the final path already exists.  For a file output the default
        (``None``) means True: the existing file is replaced, atomically, only once the new
        one is complete (until then it is untouched; if writing fails it is never touched).
        With ``overwrite=False`` an existing file is refused up front with OutputError.
        For a PNG sequence the default means False: an existing non-empty directory is
        refused up front with OutputError; with ``overwrite=True`` it is replaced as a whole
        by the new sequence at the successful end.  An existing empty directory is fine.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float,
        *,
        alpha: bool = False,
        preset: str = "medium",
        crf: int = 18,
        overwrite: bool | None = None,
        layout: str = "rgba",
    ) -> None:
        self.format = format_for_path(path)
        self.path = Path(path)
        if isinstance(width, bool) or not isinstance(width, int | np.integer) or width <= 0:
            raise ValueError(f"width must be a positive integer, got {width!r}")
        if isinstance(height, bool) or not isinstance(height, int | np.integer) or height <= 0:
            raise ValueError(f"height must be a positive integer, got {height!r}")
        self.width = int(width)
        self.height = int(height)
        try:
            fps_ok = float(fps) > 0 and math.isfinite(float(fps))
        except (TypeError, ValueError):
            fps_ok = False
        if not fps_ok:
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        self.fps = fps
        self.alpha = bool(alpha)
        if preset not in X264_PRESETS:
            raise ValueError(
                f"unknown preset {preset!r}; expected one of {', '.join(X264_PRESETS)}"
            )
        self.preset = preset
        crf_max = 63 if self.format == "webm" else 51
        if (
            isinstance(crf, bool)
            or not isinstance(crf, int | np.integer)
            or not 0 <= crf <= crf_max
        ):
            raise ValueError(f"crf must be an integer in 0..{crf_max}, got {crf!r}")
        self.crf = int(crf)
        if self.format == "mp4" and (self.width % 2 or self.height % 2):
            raise OutputPathError(
                f"{self.path}: H.264 (yuv420p) needs even dimensions, got "
                f"{self.width}x{self.height}; "
                f"render at an even size (e.g. {self.width + self.width % 2}x"
                f"{self.height + self.height % 2})"
            )
        if self.format == "mp4" and self.alpha:
            raise OutputPathError(
                f"{self.path}: .mp4 (H.264) cannot store transparency: render to .webm, "
                ".mov, .gif or a folder/ of PNG frames, or use an opaque background"
            )
        self.overwrite = (self.format != "png") if overwrite is None else bool(overwrite)
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
        self.layout = layout

        self.frames_written = 0  # frames accepted by write()
        self._frames_done = 0  # frames handed to the encoder by the worker thread
        self.process: subprocess.Popen[bytes] | None = None
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_SIZE)
        self._error: OutputError | None = None
        self._abort = threading.Event()
        self._closed = False
        self._finished = False  # close() succeeded: the output is in place
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        self._stderr_thread: threading.Thread | None = None
        self._channels = 4 if self.alpha else 3

        self._check_destination()
        if self.format == "png":
            self._tmp = partial_name(self.path)
            try:
                self._tmp.mkdir()
            except OSError as exc:
                raise OutputError(f"cannot create {self._tmp}: {exc}") from exc
            register_partial(self._tmp)
        else:
            self._tmp = partial_name(self.path, self.path.suffix)
            register_partial(self._tmp)
            self._start_ffmpeg()

        self._worker = threading.Thread(
            target=self._run_png if self.format == "png" else self._run_ffmpeg,
            name=f"FrameWriter({self.path.name})",
            daemon=True,
        )
        self._worker.start()

    # ------------------------------------------------------------------ setup

    def _check_destination(self) -> None:
        final = self.path
        make_folder(final.parent, final)
        check_output_path(final, folder=self.format == "png")
        if self.format == "png":
            if final.is_dir() and any(final.iterdir()) and not self.overwrite:
                raise OutputPathError(
                    f"{final}/: the folder already holds files; PNG frames go into a new or "
                    "empty folder (nothing in it is replaced): choose another folder or "
                    "empty this one"
                )
        elif final.exists() and not self.overwrite:
            raise OutputPathError(f"{final} already exists; choose another path")

    def _input_filter(self) -> str:
        """The filters that turn the incoming frames upright, each ending in ','."""
        if self.layout == "rgba":
            return ""
        # vflip only moves pointers; a GIF without alpha must not see the alpha channel
        return "vflip," + ("format=rgb24," if self.format == "gif" and not self.alpha else "")

    def _codec_args(self) -> list[str]:
        fmt = self.format
        upright = self._input_filter()
        if fmt == "mp4":
            return [
                "-vf", f"{upright}scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,"
                       f"{_BT709_PARAMS}",
                "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
                "-pix_fmt", "yuv420p",
                *_BT709_TAGS,
                "-movflags", "+faststart", "-f", "mp4",
            ]  # fmt: skip
        if fmt == "webm":
            return [
                "-vf", upright + "scale=out_color_matrix=bt709:out_range=tv," + _BT709_PARAMS,
                "-c:v", "libvpx-vp9", "-pix_fmt", "yuva420p" if self.alpha else "yuv420p",
                "-crf", str(self.crf), "-b:v", "0",
                "-deadline", "good", "-cpu-used", str(_VP9_CPU_USED[self.preset]),
                "-row-mt", "1",
                *_BT709_TAGS,
                "-f", "webm",
            ]  # fmt: skip
        if fmt == "mov":
            if self.alpha:
                codec = ["-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le",
                         "-alpha_bits", "16"]  # fmt: skip
            else:  # ProRes 422 HQ
                codec = ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"]
            return [
                "-vf", upright + "scale=out_color_matrix=bt709:out_range=tv," + _BT709_PARAMS,
                *codec, "-vendor", "apl0",
                *_BT709_TAGS,
                "-f", "mov",
            ]  # fmt: skip
        if fmt == "gif":
            reserve = 1 if self.alpha else 0
            graph = (
                f"{upright}split[a][b];[a]palettegen=reserve_transparent={reserve}:stats_mode=full[p];"
                "[b][p]paletteuse=dither=sierra2_4a:alpha_threshold=128"
            )
            return ["-filter_complex", graph, "-loop", "0", "-f", "gif"]
        raise AssertionError(fmt)

    def _input_pix_fmt(self) -> str:
        if self.layout == "bgra-bottom-up":
            return "bgra"
        return "rgba" if self.alpha else "rgb24"

    def _start_ffmpeg(self) -> None:
        cmd = [
            _ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", self._input_pix_fmt(),
            "-video_size", f"{self.width}x{self.height}", "-framerate", _fps_arg(self.fps),
            "-i", "pipe:0",
            "-an", *self._codec_args(), str(self._tmp),
        ]  # fmt: skip
        self.command = cmd
        try:
            # Own process group: Ctrl-C in the terminal reaches Python, which aborts and
            # kills ffmpeg itself, instead of ffmpeg finalising a half-written file.
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                bufsize=0,
                process_group=0,
            )
        except OSError as exc:
            raise OutputError(f"cannot start ffmpeg ({cmd[0]}): {exc}") from exc
        self._stderr_thread = threading.Thread(
            target=self._read_stderr, name="FrameWriter-stderr", daemon=True
        )
        self._stderr_thread.start()

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for raw in iter(self.process.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._stderr_tail.append(line)
        self.process.stderr.close()

    # ------------------------------------------------------------------ worker threads

    def _fail(self, message: str) -> None:
        if self._error is None:
            self._error = OutputError(message)

    def _ffmpeg_failure(self, what: str) -> str:
        """Build the user message once ffmpeg has gone; waits for it and its stderr."""
        proc = self.process
        assert proc is not None
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=5)
        tail = list(self._stderr_tail)
        msg = f"writing {self.path} failed: {what} ({_describe_returncode(proc.returncode)})"
        if any("No space left on device" in line for line in tail):
            msg += f"; the disk is full (No space left on device) in {self.path.parent}"
        if tail:
            msg += "\nlast lines of ffmpeg's output:\n  " + "\n  ".join(tail[-10:])
        return msg

    def _run_ffmpeg(self) -> None:
        proc = self.process
        assert proc is not None and proc.stdin is not None
        try:
            while True:
                item = self._queue.get()
                if item is _STOP or self._abort.is_set():
                    break
                view = memoryview(item).cast("B")  # type: ignore[arg-type]
                while view:  # raw pipe writes may be partial; each write releases the GIL
                    n = proc.stdin.write(view)
                    view = view[n:]
                self._frames_done += 1
        except (BrokenPipeError, ValueError, OSError) as exc:
            if not self._abort.is_set():
                detail = "ffmpeg stopped accepting frames"
                if isinstance(exc, OSError) and exc.errno not in (errno.EPIPE, None):
                    detail += f" ({exc})"
                self._fail(self._ffmpeg_failure(detail))
        except BaseException as exc:  # pragma: no cover - defensive
            self._fail(f"writing {self.path} failed: {exc!r}")
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

    def _png_pixels(self, item) -> np.ndarray:
        """A queued frame as (H, W, 3|4) uint8, top row first, for pillow."""
        if self.layout == "rgba":
            return np.frombuffer(item, np.uint8).reshape(self.height, self.width, self._channels)
        bgra = np.frombuffer(item, np.uint8).reshape(self.height, self.width, 4)[::-1]
        return np.ascontiguousarray(bgra[..., [2, 1, 0, 3] if self.alpha else [2, 1, 0]])

    def _run_png(self) -> None:
        from PIL import Image

        mode = "RGBA" if self.alpha else "RGB"
        try:
            while True:
                item = self._queue.get()
                if item is _STOP or self._abort.is_set():
                    break
                arr = self._png_pixels(item)
                target = self._tmp / f"frame_{self._frames_done:05d}.png"
                with open(target, "wb") as fh:
                    Image.fromarray(arr, mode).save(fh, format="PNG")
                    fh.flush()
                    os.fsync(fh.fileno())
                self._frames_done += 1
        except OSError as exc:
            if not self._abort.is_set():
                if exc.errno == errno.ENOSPC:
                    reason = f"the disk is full (No space left on device) in {self.path.parent}"
                else:
                    reason = str(exc)
                self._fail(f"writing PNG sequence {self.path} failed: {reason}")
        except BaseException as exc:  # pragma: no cover - defensive
            if not self._abort.is_set():
                self._fail(f"writing PNG sequence {self.path} failed: {exc!r}")

    # ------------------------------------------------------------------ public API

    def write(self, frame) -> None:
        """Queue one ``(H, W, 4)`` uint8 RGBA frame (top row first), or with
        ``layout="bgra-bottom-up"`` one frame's ``H * W * 4`` BGRA bytes (bottom row first).

        Returns as soon as the frame is queued (the data is copied, so the caller may reuse
        it).  Raises ValueError for a wrong shape/dtype/size and OutputError if the encoder
        failed (the temporary output is then already removed).
        """
        if self._closed:
            raise OutputError(f"{self.path}: write() after close()/abort()")
        self._raise_if_failed()
        if self.layout == "bgra-bottom-up":
            data = bytes(memoryview(frame).cast("B"))  # private copy, the only one
            if len(data) != self.width * self.height * 4:
                raise ValueError(f"frame must be {self.width}x{self.height}x4 BGRA bytes, "
                                 f"got {len(data)} bytes")
            self._put(data)
            return
        if not isinstance(frame, np.ndarray):
            raise ValueError(f"frame must be a numpy array, got {type(frame).__name__}")
        if frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8, got {frame.dtype}")
        expected = (self.height, self.width, 4)
        if frame.shape != expected:
            raise ValueError(f"frame must have shape {expected} (H, W, RGBA), got {frame.shape}")
        self._put((frame if self.alpha else frame[..., :3]).tobytes())  # private copy

    def _put(self, data: bytes) -> None:
        while True:
            try:
                self._queue.put(data, timeout=0.1)
                break
            except queue.Full:
                self._raise_if_failed()
                if not self._worker.is_alive():  # pragma: no cover - defensive
                    self._fail(f"writing {self.path} failed: the writer thread stopped")
                    self._raise_if_failed()
        self.frames_written += 1

    def close(self) -> Path:
        """Flush all frames, wait for the encoder and move the output into place.

        Returns the final path.  Raises OutputError (after removing the temporary output)
        if anything failed; the final path is then untouched.
        """
        if self._closed:
            if self._error is not None:
                raise self._error
            if self._abort.is_set():
                raise OutputError(f"{self.path}: writer was aborted")
            return self.path
        try:
            self._raise_if_failed()
            if self.frames_written == 0:
                self._fail(f"{self.path}: no frames were written; nothing to save")
                self._raise_if_failed()
            self._put_stop()
            self._worker.join()
            self._raise_if_failed()
            if self.process is not None:
                rc = self.process.wait()
                if self._stderr_thread is not None:
                    self._stderr_thread.join(timeout=5)
                if rc != 0:
                    self._fail(self._ffmpeg_failure("ffmpeg reported an error"))
                    self._raise_if_failed()
            if self._frames_done != self.frames_written:
                self._fail(
                    f"writing {self.path} failed: only {self._frames_done} of "
                    f"{self.frames_written} frames reached the encoder"
                )
                self._raise_if_failed()
            self._finalize()
        except BaseException:
            self.abort()
            raise
        self._closed = self._finished = True
        return self.path

    def abort(self) -> None:
        """Kill the encoder and remove the temporary output; the final path is untouched."""
        if self._finished or (self._closed and self._abort.is_set()):
            return  # already finalised (nothing to undo) or already aborted
        self._abort.set()
        self._closed = True
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()
        self._put_stop(force=True)
        self._worker.join(timeout=30)
        if proc is not None:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - defensive
                pass
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=5)
        self._remove_tmp()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self.abort()
            return False  # re-raise, KeyboardInterrupt included
        self.close()
        return False

    def __repr__(self) -> str:
        return (
            f"FrameWriter({str(self.path)!r}, {self.width}x{self.height}, fps={self.fps}, "
            f"format={self.format!r}, alpha={self.alpha}, frames_written={self.frames_written})"
        )

    # ------------------------------------------------------------------ helpers

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            if not self._abort.is_set():
                self.abort()
            raise self._error

    def _put_stop(self, force: bool = False) -> None:
        while True:
            try:
                self._queue.put(_STOP, timeout=0.1)
                return
            except queue.Full:
                if force or self._error is not None or not self._worker.is_alive():
                    # Drop queued frames so the sentinel fits (worker gone or aborting).
                    try:
                        while True:
                            self._queue.get_nowait()
                    except queue.Empty:
                        pass
                    if not self._worker.is_alive():
                        return

    def _remove_tmp(self) -> None:
        tmp = self._tmp
        try:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
        except OSError:  # pragma: no cover - best effort
            pass
        forget_partial(tmp)

    def _finalize(self) -> None:
        final, tmp = self.path, self._tmp
        try:
            if self.format == "png":
                _fsync_dir(tmp)
                if final.is_dir() and any(final.iterdir()):
                    if not self.overwrite:
                        raise OutputError(
                            f"output directory {final} is not empty (it was filled while "
                            "rendering); the new frames were discarded"
                        )
                    old = final.parent / f".{final.name}.old-{os.getpid()}-{secrets.token_hex(3)}"
                    os.rename(final, old)
                    try:
                        os.rename(tmp, final)
                    except OSError:
                        os.rename(old, final)
                        raise
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    os.replace(tmp, final)  # replaces a missing or empty directory
            else:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if not self.overwrite and final.exists():
                    raise OutputError(f"{final} appeared while rendering; not overwriting it")
                os.replace(tmp, final)
            forget_partial(tmp)
            _fsync_dir(final.parent)
        except OSError as exc:
            msg = f"cannot move the finished output into place at {final}: {exc}"
            if exc.errno == errno.ENOSPC:
                msg += "; the disk is full (No space left on device)"
            raise OutputError(msg) from exc


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # pragma: no cover - not supported everywhere
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- reading back

_VIDEO_RE = re.compile(r"Stream #\S+.*?: Video: (?P<codec>\w+)(?P<rest>.*)")


def _ffmpeg_info(path: Path) -> str:
    proc = subprocess.run(
        [_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return proc.stderr.decode("utf-8", "replace")


def _color_tags(stream: str, pix_fmt: str) -> dict:
    """Colour tags from ffmpeg's stream line: "yuv420p(tv, bt709, progressive)" (all three
    the same) or "yuv420p(tv, bt709/bt709/bt709)" (matrix/primaries/transfer)."""
    found = re.search(rf"\b{re.escape(pix_fmt)}\(([^)]*)\)", stream) if pix_fmt else None
    tags = {"range": None, "matrix": None, "primaries": None, "transfer": None}
    if found is None:
        return tags
    for part in (p.strip() for p in found.group(1).split(",")):
        if part in ("tv", "pc"):
            tags["range"] = part
        elif "/" in part:
            tags["matrix"], tags["primaries"], tags["transfer"] = part.split("/")[:3]
        elif part not in ("progressive", "top first", "bottom first", "unknown") and \
                not part.startswith(("top", "bottom", "left", "center")):
            tags["matrix"] = tags["primaries"] = tags["transfer"] = part
    return tags


def probe_video(path: str | os.PathLike[str]) -> dict:
    """Describe a video file: frames, width, height, fps, codec, pix_fmt, alpha, and the
    colour tags ("color": range, matrix, primaries, transfer; None where untagged).

    ``codec``/``pix_fmt`` are parsed from ``ffmpeg -i``; ``frames`` is counted by decoding.
    ``alpha`` is True when the stream has an alpha channel (alpha pixel format, VP8/VP9
    ``alpha_mode`` side data, or GIF).
    """
    import imageio_ffmpeg  # (here: see _ffmpeg_exe)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    info = _ffmpeg_info(path)
    match = _VIDEO_RE.search(info)
    if match is None:
        raise OutputError(f"{path}: no video stream found; ffmpeg said:\n{info.strip()}")
    codec = match.group("codec")
    rest = match.group("rest")
    # Split the remainder on top-level commas (pix_fmt may carry "(tv, bt709, progressive)").
    parts, depth, cur = [], 0, ""
    for ch in rest:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    pix_fmt = next(
        (re.match(r"[a-z0-9_]+", p).group(0) for p in parts[1:] if re.match(r"[a-z]\w*", p)),
        "",
    )
    size = re.search(r"(?<![\w.])(\d{1,5})x(\d{1,5})(?![\w.])", rest)
    if size is None:
        raise OutputError(f"{path}: cannot find the frame size in ffmpeg's output")
    fps_m = re.search(r"([\d.]+)(k?) fps", rest) or re.search(r"([\d.]+)(k?) tbr", rest)
    fps = float(fps_m.group(1)) * (1000 if fps_m.group(2) else 1) if fps_m else float("nan")
    alpha = (
        bool(re.match(r"(yuva|rgba|bgra|argb|abgr|gbrap|ya)", pix_fmt))
        or bool(re.search(r"alpha_mode\s*:\s*1", info, re.IGNORECASE))
        or codec == "gif"
    )
    frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    return {
        "color": _color_tags(rest, pix_fmt),
        "frames": int(frames),
        "width": int(size.group(1)),
        "height": int(size.group(2)),
        "fps": fps,
        "codec": codec,
        "pix_fmt": pix_fmt,
        "alpha": alpha,
    }


def read_frames(path: str | os.PathLike[str], alpha: bool | None = None) -> np.ndarray:
    """Decode a video (or a PNG-sequence directory) to an ``(n, H, W, 3|4)`` uint8 array.

    ``alpha=None`` returns RGBA when the file has an alpha channel, RGB otherwise.  VP8/VP9
    are decoded with libvpx, the only ffmpeg decoder that returns their alpha plane.
    """
    path = Path(path)
    if path.is_dir():
        from PIL import Image

        files = sorted(path.glob("frame_*.png"))
        if not files:
            raise OutputError(f"{path}: no frame_*.png files")
        imgs = []
        for f in files:
            with Image.open(f) as im:
                if alpha is None:
                    want = "RGBA" if im.mode in ("RGBA", "LA", "PA") else "RGB"
                else:
                    want = "RGBA" if alpha else "RGB"
                imgs.append(np.asarray(im.convert(want)))
        return np.stack(imgs)
    info = probe_video(path)
    use_alpha = info["alpha"] if alpha is None else bool(alpha)
    decoder = {"vp9": ["-c:v", "libvpx-vp9"], "vp8": ["-c:v", "libvpx"]}.get(info["codec"], [])
    channels = 4 if use_alpha else 3
    cmd = [
        _ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *decoder, "-i", str(path),
        "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgba" if use_alpha else "rgb24",
        "pipe:1",
    ]  # fmt: skip
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
    if proc.returncode != 0:
        raise OutputError(
            f"decoding {path} failed: {proc.stderr.decode('utf-8', 'replace').strip()}"
        )
    w, h = info["width"], info["height"]
    frame_bytes = w * h * channels
    n = len(proc.stdout) // frame_bytes
    return np.frombuffer(proc.stdout[: n * frame_bytes], np.uint8).reshape(n, h, w, channels)
