"""The one exception hierarchy: every error meant for the user carries its exit code.

Below every room (it imports nothing): each room's own error type subclasses one of
these, and the CLI turns them into a message and an exit code. Anything else that
escapes a command (a bare ``ValueError``, ``KeyError``...) is a bug and shows as one,
with its traceback.

===================== ====  =========================================================
:class:`InputError`     2   bad input: a file, a field, an option the user gave
:class:`WorkError`      1   the input was fine, the work failed (disk full, encoder died,
                            no GPU, no display)
:class:`Interrupted`  128+n stopped by signal n: Ctrl-C (SIGINT) 130, SIGHUP 129,
                            SIGTERM 143; nothing partial is left behind
===================== ====  =========================================================

Messages name the file and the field (``scene.toml: [camera] fov: ...``).
"""

from __future__ import annotations

import signal

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_USAGE", "InputError", "Interrupted",
           "MaquetteError", "WorkError"]

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130


class MaquetteError(Exception):
    """An error whose message is for the user; `exit_code` is what the CLI exits with."""

    exit_code = EXIT_FAILED


class InputError(MaquetteError, ValueError):
    """Bad input (exit 2): the message names the file and the field or option."""

    exit_code = EXIT_USAGE


class WorkError(MaquetteError, RuntimeError):
    """The work failed although the input was fine (exit 1)."""

    exit_code = EXIT_FAILED


class Interrupted(BaseException):
    """A stop signal arrived (SIGINT, SIGTERM, SIGHUP): raised in the main thread so every
    ``with`` block and ``finally`` cleans up. A BaseException, like KeyboardInterrupt, so
    that ``except Exception`` never swallows it. Exit code 128 + the signal's number."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
