"""An image source's asset generated in a background thread while the window keeps
rendering (progress and errors go to the HUD)."""

from __future__ import annotations

import threading
import time
from pathlib import Path


class BackgroundGeneration:
    """`resolve_source(image)` (generate_cached) in a daemon thread: `log` collects its
    progress lines, `result` is the mesh path, `error` the message when it failed."""

    def __init__(self, image: Path, settings):
        self.image = image
        self.settings = settings
        self.log: list[str] = []
        self.result: Path | None = None
        self.error: str | None = None
        self.started = time.perf_counter()
        self.thread = threading.Thread(target=self._run, name="maquette-generate", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from engine.scene.source import resolve_source

        try:
            self.result = resolve_source(self.image, self.settings, self.log.append).mesh
        except Exception as exc:  # shown in the window
            self.error = f"{self.image.name}: generation failed: {exc}"

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    @property
    def elapsed(self) -> float:
        """Seconds since it started (wall clock)."""
        return time.perf_counter() - self.started
