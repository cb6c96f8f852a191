"""Shared bits of the benchmark scripts (machine description, timed child processes)."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_child(cmd: list[str], *, cwd: Path, env: dict | None = None) -> tuple[float, float]:
    """Run `cmd` in `cwd`: (CPU s user+sys of the child and its waited-for children, wall
    s). SystemExit with the tail of its stderr when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}):\n{stderr.decode()[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall
