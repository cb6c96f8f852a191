"""Every file a command writes goes through here: atomic, together, never over an input.

Three rules, for every command:

1. **Complete or not at all.** A file is written under a hidden temporary name in its
   target folder and renamed into place only once it is complete (and checked). A crash,
   a full disk, Ctrl-C, SIGTERM or SIGHUP never leaves a half-written file under the
   final name; the final file gets ordinary permissions (0666 minus the umask).
2. **Together.** A :class:`Transaction` stages several files (GLB + JSON, OBJ + MTL + PNG,
   glTF + BIN) in one hidden staging folder per target folder, under their final names
   (so files that reference each other by name read back as written), runs the
   verification callbacks on the staged files, and only then moves them all into place.
   If a move fails, the ones already moved are put back as they were.
3. **Never over an input.** Each command collects the files it reads (the scene, the
   asset and its textures and buffers, the environment image, the source image of a
   generated asset and the cached GLB that stands for it, sidecars) and passes them as
   ``inputs``; an output that resolves to any of them (same real path, or the same file
   through a hard link) is refused with :class:`OutputPathError` (exit 2) naming both.

Temporary names start with ``.NAME.partial-<pid>-<hex>``; the ones alive in this process
are registered (:func:`register_partial`) so that the CLI's signal handling can remove
them even if a stop arrives at an awkward moment (:func:`remove_partials`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from engine.errors import InputError, WorkError

__all__ = ["IMAGE_OUTPUTS", "OutputPathError", "Transaction", "WriteError", "atomic_output",
           "check_output_path", "default_mode", "file_sha256", "guard_inputs", "image_format",
           "make_folder",
           "partial_name", "register_partial", "remove_partials", "same_file",
           "write_bytes_atomic", "write_error", "write_files_atomic", "write_image"]


class OutputPathError(InputError):
    """An output path that must not be written: an input of the command, a folder, a
    device or FIFO (exit 2)."""


class WriteError(WorkError):
    """Writing an output failed (disk full, permissions); the message names the file."""


# ---------------------------------------------------------------------- partial outputs

_partials: set[Path] = set()
_partials_lock = threading.Lock()


def partial_name(final: Path, suffix: str = "") -> Path:
    """A hidden, unique temporary sibling of `final`: ``.NAME.partial-<pid>-<hex>SUFFIX``."""
    final = Path(final)
    return final.parent / f".{final.name}.partial-{os.getpid()}-{secrets.token_hex(3)}{suffix}"


def register_partial(path: Path) -> None:
    """Note a temporary output that exists now (removed by :func:`remove_partials`)."""
    with _partials_lock:
        _partials.add(Path(path))


def forget_partial(path: Path) -> None:
    with _partials_lock:
        _partials.discard(Path(path))


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:  # pragma: no cover - best effort
        pass


def remove_partials() -> list[Path]:
    """Remove every registered temporary output still on disk (a safety net for signals).
    Returns what was removed."""
    with _partials_lock:
        paths = list(_partials)
        _partials.clear()
    removed = [p for p in paths if os.path.lexists(p)]
    for path in removed:
        _remove(path)
    return removed


# ---------------------------------------------------------------------- checks

def default_mode() -> int:
    """Permissions a new file gets from open(): 0666 minus the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` name the same file: same real path, or (both existing) the
    same inode, as through a hard link."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return False


def guard_inputs(outputs: Iterable[Path], inputs: Iterable[Path]) -> None:
    """Refuse (OutputPathError, exit 2) any output that is one of the command's inputs."""
    inputs = [Path(p) for p in inputs if p is not None]
    for out in outputs:
        for source in inputs:
            if same_file(out, source):
                raise OutputPathError(
                    f"{os.path.normpath(out)}: refusing to write over "
                    f"{os.path.normpath(source)}, an input of this command (no command "
                    f"writes over a file it reads); choose another output path")


def check_output_path(final: Path, *, folder: bool = False) -> None:
    """Refuse an output path that names a folder (for a file), a file (for a folder), or
    something that is not a regular file (a FIFO, a device)."""
    final = Path(final)
    try:
        st = os.stat(final)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputPathError(f"{final}: cannot use this output path: {exc.strerror}") from None
    if folder:
        if not stat.S_ISDIR(st.st_mode):
            raise OutputPathError(f"{final}: exists and is not a folder; cannot write a "
                                  "folder of frames there")
    elif stat.S_ISDIR(st.st_mode):
        raise OutputPathError(f"{final}: is a folder; give a file name")
    elif not stat.S_ISREG(st.st_mode):
        raise OutputPathError(f"{final}: is not a regular file (a FIFO, socket or device); "
                              "refusing to write there")


def write_error(exc: OSError, path: Path, what: str = "cannot write") -> WriteError:
    """A WriteError that names `path` (a full disk says so, with the file)."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = f"the disk is full (No space left on device) in {Path(path).parent}"
    elif exc.errno == errno.EDQUOT:
        reason = "the disk quota is exceeded"
    return WriteError(f"{path}: {what}: {reason}")


def make_folder(folder: Path, final: Path) -> None:
    """Create an output's folder; a file in the way is bad input (OutputPathError), other
    failures (permissions, a full disk) a WriteError, both naming `final`."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputPathError(f"{final}: cannot create its folder {folder}: a file is in the "
                              "way") from None
    except OSError as exc:
        raise write_error(exc, final, "cannot create its folder") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # some file systems can't
            raise
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- transactions

class Transaction:
    """Stage several output files and move them into place together.

        with Transaction(inputs=[scene_path, asset]) as txn:
            txn.write_bytes(out_glb, data)
            with txn.open(out_json, "w") as fh:
                json.dump(report, fh)
            txn.check(lambda: verify(txn.staged(out_glb)))
        # here both files are in place (or, on any error, neither was touched)

    ``stage(final)`` gives the staged path to write (for writers that want a file name).
    Callbacks passed to :meth:`check` run, in order, before anything is renamed.
    """

    def __init__(self, inputs: Iterable[Path] = ()):
        self.inputs: list[Path] = [Path(p) for p in inputs if p is not None]
        self._staged: dict[Path, Path] = {}  # final (absolute) -> staged path
        self._folders: dict[Path, Path] = {}  # target folder -> its staging folder
        self._checks: list[Callable[[], object]] = []
        self._done = False

    # -- staging
    def add_inputs(self, *paths: Path) -> None:
        self.inputs.extend(Path(p) for p in paths if p is not None)

    def stage(self, final: Path) -> Path:
        """The path to write `final`'s content to (created by the caller)."""
        if self._done:
            raise RuntimeError("transaction already committed or aborted")
        final = Path(os.path.abspath(final))
        if final in self._staged:
            return self._staged[final]
        guard_inputs([final], self.inputs)
        check_output_path(final)
        folder = final.parent
        if folder not in self._folders:
            make_folder(folder, final)
            try:
                staging = partial_name(folder / "maquette-output")
                staging.mkdir()
            except OSError as exc:
                raise write_error(exc, final, "cannot write in its folder") from None
            register_partial(staging)
            self._folders[folder] = staging
        self._staged[final] = self._folders[folder] / final.name
        return self._staged[final]

    def staged(self, final: Path) -> Path:
        return self._staged[Path(os.path.abspath(final))]

    @contextmanager
    def open(self, final: Path, mode: str = "wb") -> Iterator[IO]:
        target = self.stage(final)
        try:
            with open(target, mode) as handle:
                yield handle
        except OSError as exc:
            raise write_error(exc, final) from None

    def write_bytes(self, final: Path, data: bytes | Callable[[IO], object]) -> None:
        """Stage `data` (bytes, or a callable that writes to the open handle) as `final`."""
        with self.open(final, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data)

    def check(self, callback: Callable[[], object]) -> None:
        """Run `callback` on the staged files before they are moved into place."""
        self._checks.append(callback)

    @property
    def finals(self) -> list[Path]:
        return list(self._staged)

    # -- ending
    def _renamed(self, exc: BaseException) -> BaseException | None:
        """`exc` re-made to name the final files, not the staging folder (a check or a
        nested writer saw only the staged paths), or None when it names none."""
        if not isinstance(exc, InputError | WorkError):
            return None
        message = str(exc)
        for final, staged in self._staged.items():
            message = message.replace(str(staged), str(final))
        for folder, staging in self._folders.items():
            message = message.replace(str(staging), str(folder))
        return type(exc)(message) if message != str(exc) else None

    def _run_checks(self) -> None:
        for callback in self._checks:
            callback()

    def commit(self) -> list[Path]:
        """Run the checks, then move every staged file into place. Returns the finals."""
        if self._done:
            return self.finals
        try:
            self._run_checks()
            for final, staged in self._staged.items():
                if not staged.exists():
                    raise RuntimeError(f"{final}: staged but never written")
                try:
                    mode = os.stat(final).st_mode & 0o7777 if final.is_file() else default_mode()
                    os.chmod(staged, mode)
                    _fsync(staged)
                except OSError as exc:
                    raise write_error(exc, final) from None
            self._move_all()
        except BaseException:
            self.abort()
            raise
        self._done = True
        for staging in self._folders.values():
            _remove(staging)
            forget_partial(staging)
        return self.finals

    def _move_all(self) -> None:
        # Existing finals are moved aside into the staging folder first, so that a
        # failure halfway puts everything back as it was.
        moved: list[tuple[Path, Path, Path | None]] = []
        try:
            for final, staged in self._staged.items():
                check_output_path(final)  # (nothing became a folder meanwhile)
                guard_inputs([final], self.inputs)
                old = None
                if os.path.lexists(final):
                    old = staged.parent / f".old-{final.name}"
                    os.rename(final, old)
                try:
                    os.rename(staged, final)
                except BaseException:
                    if old is not None:
                        os.rename(old, final)
                    raise
                moved.append((final, staged, old))
        except BaseException as exc:
            for final, staged, old in reversed(moved):
                try:
                    os.rename(final, staged)
                    if old is not None:
                        os.rename(old, final)
                except OSError:  # pragma: no cover - nothing more can be done
                    pass
            if isinstance(exc, OSError):
                raise write_error(exc, final, "cannot move the finished file into place") \
                    from None
            raise
        for folder in self._folders:
            try:
                _fsync(folder)
            except OSError:  # pragma: no cover
                pass

    def abort(self) -> None:
        """Remove everything staged; the final paths are left as they were."""
        self._done = True
        for staging in self._folders.values():
            _remove(staging)
            forget_partial(staging)

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            try:
                self.commit()
            except (InputError, WorkError) as failure:
                renamed = self._renamed(failure)
                if renamed is None:
                    raise
                raise renamed from None
            return False
        self.abort()
        renamed = self._renamed(exc)
        if renamed is not None:
            raise renamed from None
        return False


def write_files_atomic(files: dict[Path, bytes | Callable[[IO], object]],
                       inputs: Iterable[Path] = (), txn: Transaction | None = None
                       ) -> list[Path]:
    """Write several files together (bytes, or callables writing to the open handle).
    With `txn`, stage them into it (the caller commits); else commit them now."""
    if txn is not None:
        txn.add_inputs(*inputs)
        for target, data in files.items():
            txn.write_bytes(target, data)
        return [Path(p) for p in files]
    with Transaction(inputs) as own:
        for target, data in files.items():
            own.write_bytes(target, data)
    return [Path(p) for p in files]


@contextmanager
def atomic_output(path: Path, mode: str = "wb", inputs: Iterable[Path] = ()) -> Iterator[IO]:
    """Open `path` for writing in a one-file :class:`Transaction`: it replaces `path` only
    when the block ends without an error. `inputs`: files never to write over."""
    with Transaction(inputs) as txn, txn.open(path, mode) as handle:
        yield handle


def write_bytes_atomic(path: Path, data: bytes, inputs: Iterable[Path] = ()) -> None:
    with Transaction(inputs) as txn:
        txn.write_bytes(path, data)


# ---------------------------------------------------------------------- images

IMAGE_OUTPUTS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def image_format(path: Path, *, alpha: bool = False, what: str = "an image") -> str:
    """The PIL format for an image output named `path` ("PNG" or "JPEG"), by its suffix;
    OutputPathError for another suffix, or for JPEG when the image is transparent."""
    path = Path(path)
    fmt = IMAGE_OUTPUTS.get(path.suffix.lower())
    if fmt is None:
        raise OutputPathError(f"{path}: {what} is written as PNG or JPEG: end the name with "
                              f"{', '.join(IMAGE_OUTPUTS)}")
    if fmt == "JPEG" and alpha:
        raise OutputPathError(f"{path}: JPEG has no transparency; use a .png name")
    return fmt


def write_image(image, path: Path, inputs: Iterable[Path] = (), *, what: str = "an image"
                ) -> Path:
    """Save a PIL image atomically as PNG or JPEG (quality 95), by `path`'s suffix."""
    fmt = image_format(path, alpha=image.mode in ("RGBA", "LA", "PA"), what=what)
    with atomic_output(path, inputs=inputs) as handle:
        if fmt == "JPEG":
            image.convert("RGB").save(handle, format="JPEG", quality=95)
        else:
            image.save(handle, format="PNG")
    return Path(path)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
