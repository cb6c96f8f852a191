"""Tests for engine.render.writers (real ffmpeg from imageio-ffmpeg, tiny frames)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.fileio import OutputPathError
from engine.render import writers

FrameWriter = writers.FrameWriter
OutputError = writers.OutputError
format_for_path = writers.format_for_path
probe_video = writers.probe_video
read_frames = writers.read_frames

W, H, N, FPS = 64, 48, 10, 25
BG = (40, 80, 160)
SQ = (220, 40, 30)


def make_frame(i: int, transparent_right: bool = False) -> np.ndarray:
    """Blue background, a red 16x16 square moving right 4 px per frame.

    With ``transparent_right`` the right half of the background is fully transparent
    (RGB 0), so the square crosses from an opaque into a transparent region.
    """
    f = np.zeros((H, W, 4), np.uint8)
    f[..., :3] = BG
    f[..., 3] = 255
    if transparent_right:
        f[:, W // 2 :] = 0
    x = 2 + 4 * i
    f[16:32, x : x + 16] = (*SQ, 255)
    return f


def frames(n: int = N, transparent_right: bool = False) -> list[np.ndarray]:
    return [make_frame(i, transparent_right) for i in range(n)]


def write_all(path, frame_list, **kw) -> Path:
    with FrameWriter(path, W, H, FPS, **kw) as w:
        for f in frame_list:
            w.write(f)
    assert w.frames_written == len(frame_list)
    return w.path


def leftovers(directory: Path, final_name: str | None = None) -> list[str]:
    """Names in ``directory`` other than ``final_name`` (partials, temp dirs...)."""
    return sorted(p.name for p in directory.iterdir() if p.name != final_name)


# ---------------------------------------------------------------------------- formats

VIDEO_CASES = [
    # name, alpha, codec, pix_fmt prefix, colour tolerance (mean abs error, 0..255)
    ("clip.mp4", False, "h264", "yuv420p", 6.0),
    ("clip.webm", False, "vp9", "yuv420p", 6.0),
    ("clip.webm", True, "vp9", "yuv420p", 6.0),  # alpha lives in side data
    ("clip.mov", False, "prores", "yuv422p10", 4.0),
    ("clip.mov", True, "prores", "yuva444p", 4.0),
    ("clip.gif", False, "gif", "bgra", 6.0),
    ("clip.gif", True, "gif", "bgra", 6.0),
]


@pytest.mark.parametrize(("name", "alpha", "codec", "pix_fmt", "tol"), VIDEO_CASES)
def test_video_roundtrip(tmp_path, name, alpha, codec, pix_fmt, tol):
    src = frames(transparent_right=alpha)
    out = write_all(tmp_path / name, src, alpha=alpha, preset="ultrafast")
    assert out == tmp_path / name
    assert leftovers(tmp_path, name) == []

    info = probe_video(out)
    assert info["frames"] == N
    assert (info["width"], info["height"]) == (W, H)
    assert info["codec"] == codec
    assert info["pix_fmt"].startswith(pix_fmt)
    assert info["fps"] == pytest.approx(FPS, abs=0.01)

    got = read_frames(out)
    ref = np.stack(src)
    assert got.shape[:3] == (N, H, W)
    opaque = ref[..., 3] == 255
    err = np.abs(got[..., :3].astype(np.int16) - ref[..., :3])[opaque]
    assert err.mean() < tol, f"colour error {err.mean():.2f}"
    # centre of the square and of the background, away from chroma-subsampled edges
    for i in (0, 4):
        assert np.abs(got[i, 24, 10 + 4 * i, :3].astype(int) - SQ).max() < 20
    assert np.abs(got[3, 4, 4, :3].astype(int) - BG).max() < 20

    if alpha:
        assert got.shape[-1] == 4
        assert got[0, 4, W - 4, 3] < 16  # always-transparent corner
        assert got[0, 4, 4, 3] > 240  # opaque background
        assert got[9, 24, 46, 3] > 240  # square inside the transparent half
        # where the square was in frames 5..8 is transparent again: no trails
        assert got[9, 24, 34, 3] < 16
        assert np.abs(got[..., 3].astype(int) - ref[..., 3]).mean() < 8
    elif codec != "gif":  # the gif decoder always returns bgra
        assert got.shape[-1] == 3


@pytest.mark.parametrize("alpha", [True, False])
def test_png_sequence(tmp_path, alpha):
    src = frames(transparent_right=alpha)
    target = str(tmp_path / "seq") + "/"
    out = write_all(target, src, alpha=alpha)
    assert out == tmp_path / "seq"
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"frame_{i:05d}.png" for i in range(N)]
    with Image.open(files[0]) as im:
        assert im.mode == ("RGBA" if alpha else "RGB")
        assert im.size == (W, H)
    got = read_frames(out)
    ref = np.stack(src)
    np.testing.assert_array_equal(got, ref if alpha else ref[..., :3])
    assert leftovers(tmp_path, "seq") == []


def test_png_sequence_refuses_non_empty_dir(tmp_path):
    seq = tmp_path / "seq"
    seq.mkdir()
    (seq / "keep.txt").write_text("precious")
    with pytest.raises(OutputPathError, match="already holds files") as info:
        FrameWriter(seq, W, H, FPS)
    # bad input (exit 2), and no advice about an option the command line does not have
    assert info.value.exit_code == 2 and "overwrite" not in str(info.value)
    assert (seq / "keep.txt").read_text() == "precious"
    assert leftovers(tmp_path, "seq") == []

    # an empty existing directory is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    write_all(empty, frames(3))
    assert len(list(empty.iterdir())) == 3

    # overwrite=True replaces the whole directory, only at the successful end
    w = FrameWriter(seq, W, H, FPS, overwrite=True)
    w.write(make_frame(0))
    assert (seq / "keep.txt").exists()
    w.close()
    assert sorted(p.name for p in seq.iterdir()) == ["frame_00000.png"]
    assert leftovers(tmp_path, "seq") == ["empty"]


def test_png_sequence_abort_keeps_existing(tmp_path):
    seq = tmp_path / "seq"
    seq.mkdir()
    (seq / "frame_00000.png").write_bytes(b"old")
    with pytest.raises(RuntimeError), FrameWriter(seq, W, H, FPS, overwrite=True) as w:
        w.write(make_frame(0))
        raise RuntimeError("boom")
    assert (seq / "frame_00000.png").read_bytes() == b"old"
    assert leftovers(tmp_path, "seq") == []


# ---------------------------------------------------------------------------- paths


def test_format_for_path(tmp_path):
    assert format_for_path(Path("a/b.mp4")) == "mp4"
    assert format_for_path("a/b.MP4") == "mp4"
    assert format_for_path("b.webm") == "webm"
    assert format_for_path("b.mov") == "mov"
    assert format_for_path("b.gif") == "gif"
    assert format_for_path("out/frames/") == "png"
    assert format_for_path("out/frames") == "png"
    assert set(writers.FORMATS) == {"mp4", "webm", "mov", "gif", "png"}


def test_a_path_without_suffix_is_refused_not_guessed(tmp_path):
    """`-o renders/x` used to render PNG frames into a folder `x`: now it asks for a suffix
    or a trailing / (an existing folder too, on the command line)."""
    with pytest.raises(OutputPathError, match="no file type.*trailing /") as info:
        format_for_path(str(tmp_path / "x"), slash_for_folders=True)
    assert str(tmp_path / "x") in str(info.value) and ".mp4" in str(info.value)
    folder = tmp_path / "frames"
    folder.mkdir()
    assert format_for_path(folder) == "png"  # the library: a Path cannot end with /
    with pytest.raises(OutputPathError, match="it is a folder"):
        format_for_path(str(folder), slash_for_folders=True)
    assert format_for_path(f"{folder}/", slash_for_folders=True) == "png"
    assert list(tmp_path.iterdir()) == [folder]


def test_an_existing_folder_named_like_a_video_gets_no_frames(tmp_path):
    folder = tmp_path / "d.mp4"
    folder.mkdir()
    assert format_for_path(folder) == "mp4"
    with pytest.raises(OutputPathError, match="is a folder"):
        FrameWriter(folder, W, H, FPS)
    assert list(folder.iterdir()) == [] and list(tmp_path.iterdir()) == [folder]


def test_h264_carries_the_colour_tags_of_what_is_encoded(tmp_path):
    """BT.709 primaries, transfer and matrix, limited range: read back from the stream
    (`ffmpeg -i` prints "yuv420p(tv, bt709, ...)" when all three are bt709; it printed
    "bt709/unknown/unknown" when only the matrix was tagged)."""
    out = write_all(tmp_path / "tagged.mp4", frames(2))
    info = probe_video(out)
    assert info["color"] == {"range": "tv", "matrix": "bt709", "primaries": "bt709",
                             "transfer": "bt709"}


@pytest.mark.parametrize("name", ["clip.avi", "clip.png", "clip.tar.gz"])
def test_bad_suffix(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(ValueError) as info:
        format_for_path(path)
    assert str(path) in str(info.value)
    assert ".mp4" in str(info.value) and ".webm" in str(info.value)
    with pytest.raises(ValueError):
        FrameWriter(path, W, H, FPS)
    assert list(tmp_path.iterdir()) == []


def test_odd_dimensions_mp4(tmp_path):
    with pytest.raises(ValueError, match="even"):
        FrameWriter(tmp_path / "odd.mp4", 63, 48, FPS)
    with pytest.raises(ValueError, match="even"):
        FrameWriter(tmp_path / "odd.mp4", 64, 47, FPS)
    assert list(tmp_path.iterdir()) == []


def test_odd_dimensions_webm_ok(tmp_path):
    with FrameWriter(tmp_path / "odd.webm", 63, 47, FPS, preset="ultrafast") as w:
        for _ in range(2):
            w.write(np.full((47, 63, 4), 128, np.uint8))
    info = probe_video(tmp_path / "odd.webm")
    assert (info["width"], info["height"], info["frames"]) == (63, 47, 2)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        FrameWriter(tmp_path / "a.mp4", 0, H, FPS)
    with pytest.raises(ValueError):
        FrameWriter(tmp_path / "a.mp4", W, H, 0)
    with pytest.raises(ValueError, match="preset"):
        FrameWriter(tmp_path / "a.mp4", W, H, FPS, preset="warp9")
    with pytest.raises(ValueError, match="transparency") as info:
        FrameWriter(tmp_path / "a.mp4", W, H, FPS, alpha=True)
    # what a user can do (a format, an opaque background), not a Python argument
    assert "alpha=False" not in str(info.value) and ".webm" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_creates_parent_directory(tmp_path):
    out = write_all(tmp_path / "a" / "b" / "clip.mp4", frames(3), preset="ultrafast")
    assert out.is_file()
    assert probe_video(out)["frames"] == 3


def test_frame_validation(tmp_path):
    with FrameWriter(tmp_path / "v.mp4", W, H, FPS, preset="ultrafast") as w:
        with pytest.raises(ValueError, match="shape"):
            w.write(np.zeros((H, W, 3), np.uint8))
        with pytest.raises(ValueError, match="shape"):
            w.write(np.zeros((W, H, 4), np.uint8))
        with pytest.raises(ValueError, match="uint8"):
            w.write(np.zeros((H, W, 4), np.float32))
        with pytest.raises(ValueError):
            w.write([[0]])  # type: ignore[arg-type]
        f = make_frame(0)
        w.write(f)
        f[:] = 0  # the writer copied the frame; reusing the buffer is safe
        w.write(np.asfortranarray(make_frame(1)))  # non-contiguous input is fine
        w.write(make_frame(2)[::1, ::1])
    assert w.frames_written == 3
    got = read_frames(tmp_path / "v.mp4")
    assert np.abs(got[0, 24, 10].astype(int) - SQ).max() < 20
    with pytest.raises(OutputError):
        w.write(make_frame(3))  # after close


# ---------------------------------------------------------------------------- failures


def test_ffmpeg_killed_mid_stream(tmp_path):
    out = tmp_path / "clip.mp4"
    w = FrameWriter(out, W, H, FPS, preset="ultrafast")
    assert w.process is not None
    for f in frames(3):
        w.write(f)
    w.process.kill()
    with pytest.raises(OutputError) as info:
        for i in range(200):
            w.write(make_frame(i % N))
        w.close()
    msg = str(info.value)
    assert "SIGKILL" in msg and str(out) in msg
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError):  # the failure sticks
        w.close()
    w.abort()  # harmless


def test_ffmpeg_killed_before_close(tmp_path):
    out = tmp_path / "clip.webm"
    (tmp_path / "clip.webm").write_bytes(b"previous render")
    w = FrameWriter(out, W, H, FPS, alpha=True, preset="ultrafast")
    for f in frames(5):
        w.write(f)
    w.process.kill()
    with pytest.raises(OutputError, match="killed"):
        w.close()
    assert out.read_bytes() == b"previous render"
    assert leftovers(tmp_path, "clip.webm") == []


def test_ffmpeg_error_reports_stderr(tmp_path, monkeypatch):
    # A bogus encoder option makes ffmpeg fail at start-up; its stderr must reach the user.
    def bad_args(self):
        return ["-c:v", "libx264", "-no-such-option", "1", "-f", "mp4"]

    monkeypatch.setattr(FrameWriter, "_codec_args", bad_args)
    out = tmp_path / "clip.mp4"
    with pytest.raises(OutputError) as info, FrameWriter(out, W, H, FPS) as w:
        for f in frames(50):
            w.write(f)
    assert "no-such-option" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("name", ["clip.mp4", "clip.gif", "seq/"])
def test_exception_in_with_block(tmp_path, name, exc_type):
    out = tmp_path / name
    with pytest.raises(exc_type), FrameWriter(out, W, H, FPS, preset="ultrafast") as w:
        for f in frames(4):
            w.write(f)
        raise exc_type()
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    if w.process is not None:
        assert w.process.poll() is not None  # encoder is gone


def test_existing_file_untouched_on_failure_replaced_on_success(tmp_path):
    out = tmp_path / "clip.mp4"
    out.write_bytes(b"old video")
    with pytest.raises(RuntimeError), FrameWriter(out, W, H, FPS, preset="ultrafast") as w:
        w.write(make_frame(0))
        raise RuntimeError
    assert out.read_bytes() == b"old video"

    # during a successful write the old file stays in place until close()
    w = FrameWriter(out, W, H, FPS, preset="ultrafast")
    for f in frames():
        w.write(f)
    assert out.read_bytes() == b"old video"
    w.close()
    assert probe_video(out)["frames"] == N
    assert leftovers(tmp_path, "clip.mp4") == []


def test_overwrite_false_refuses_existing_file(tmp_path):
    out = tmp_path / "clip.gif"
    out.write_bytes(b"keep")
    with pytest.raises(OutputPathError, match="exists"):
        FrameWriter(out, W, H, FPS, overwrite=False)
    assert out.read_bytes() == b"keep"
    assert leftovers(tmp_path, "clip.gif") == []


def test_no_frames(tmp_path):
    out = tmp_path / "clip.mp4"
    w = FrameWriter(out, W, H, FPS)
    with pytest.raises(OutputError, match="no frames"):
        w.close()
    assert list(tmp_path.iterdir()) == []


def test_explicit_abort(tmp_path):
    out = tmp_path / "clip.mov"
    w = FrameWriter(out, W, H, FPS, alpha=True)
    for f in frames(3):
        w.write(f)
    w.abort()
    w.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError):
        w.close()


def noise_frames(n: int, w: int, h: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 4), dtype=np.uint8) for _ in range(n)]


def test_disk_full_video(tiny_disk):
    out = tiny_disk / "clip.mov"  # ProRes of noise: ~60 KB a frame, no encoder delay
    w, h = 96, 96
    with pytest.raises(OutputError) as info, FrameWriter(out, w, h, FPS, alpha=True) as wr:
        for f in noise_frames(20, w, h):
            wr.write(f)
    assert "space" in str(info.value).lower()
    assert list(tiny_disk.iterdir()) == []


def test_disk_full_png(tiny_disk):
    out = tiny_disk / "seq"
    w, h = 96, 96
    with pytest.raises(OutputError) as info, FrameWriter(out, w, h, FPS, alpha=True) as wr:
        for f in noise_frames(20, w, h):
            wr.write(f)
    assert "space" in str(info.value).lower()
    assert list(tiny_disk.iterdir()) == []


def test_fractional_fps(tmp_path):
    out = tmp_path / "ntsc.mp4"
    with FrameWriter(out, W, H, 30000 / 1001, preset="ultrafast") as w:
        for f in frames(3):
            w.write(f)
    assert probe_video(out)["fps"] == pytest.approx(29.97, abs=0.01)
    assert writers._fps_arg(30000 / 1001) == "30000/1001"
    assert writers._fps_arg(24) == "24/1"
    assert writers._fps_arg(np.float32(12.5)) == "25/2"
