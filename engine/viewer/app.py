"""The live viewer: a window (or an offscreen buffer) showing a Stage, driven by
ViewState. Panda3D glue only; what input does lives in engine.viewer.state.

One frame (`step`): check the watched files (hot reload), collect a finished
background generation, apply queued input events, let time pass, apply the
state to the stage (lights, background, ground, mode, camera), update the HUD
and render. The stage draws straight into the viewer's output: nothing is read
back to RAM unless a screenshot is asked for.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.viewer.state import (
    BACKGROUNDS,
    Command,
    Drag,
    Event,
    Key,
    ViewContext,
    ViewState,
    Wheel,
    camera_for,
    handle,
    help_lines,
    initial_state,
)

DEFAULT_HEIGHT = 720
POLL_SECONDS = 0.25
STATS_WINDOW = 120
BUTTON_NAMES = {
    "arrow_left": "left", "arrow_right": "right", "arrow_up": "up", "arrow_down": "down",
    "=": "+", "num_add": "+", "num_plus": "+", "num_subtract": "-", "num_minus": "-",
    "num_1": "1", "num_3": "3", "num_7": "7", "num_9": "9", "<": ",", ">": ".",
}
MOUSE_BUTTONS = {"mouse1": "left", "mouse2": "middle", "mouse3": "right"}


class ViewerError(InputError):
    pass


def window_size(aspect: str, height: int = DEFAULT_HEIGHT) -> tuple[int, int]:
    from engine.scene.model import ASPECTS

    w, h = ASPECTS[aspect]
    return max(16, int(round(height * w / h / 2)) * 2), height


class _Generation:
    """generate_cached in a background thread; the window keeps rendering."""

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


class Viewer:
    """`maquette view SOURCE`: SOURCE is a scene (.toml), an asset or an image."""

    def __init__(self, source: str | Path, *, size: tuple[int, int] | None = None,
                 offscreen: bool = True, model: str | None = None, msaa: int | None = None,
                 fixed_dt: float | None = None, poll_seconds: float = POLL_SECONDS,
                 screenshot: str | Path | None = None, title: str | None = None,
                 generate=None):
        """generate: GenerateSettings for an image source (default: GenerateSettings(model))."""
        from engine.render.engine_setup import get_base, has_display, make_offscreen_buffer
        from engine.scene.source import load_source
        from engine.viewer.hud import Hud

        self.source = Path(source)
        self.is_scene = self.source.suffix.lower() == ".toml"
        if generate is None:
            from engine.generate import GenerateSettings

            generate = GenerateSettings(model=model)
        self.generate_settings = generate
        self.msaa = msaa
        self.poll_seconds = poll_seconds
        self.screenshot_path = Path(screenshot) if screenshot else None
        self._screenshots_taken = 0
        if not self.source.is_file():
            raise ViewerError(f"{self.source}: file not found")
        # First load errors are the caller's (the CLI exits with the message).
        loaded = load_source(self.source, generate=False)  # (an image: generated below)
        scene, self.inputs = loaded.scene, loaded.inputs  # inputs: never written over
        if self.screenshot_path is not None:
            from engine.fileio import guard_inputs

            guard_inputs([self.screenshot_path], self.inputs)  # refused before any work
        if not self.is_scene:
            scene.camera.move = "static"  # a bare asset holds still (front, 15° up); T turns it
        self.scene = scene
        self.offscreen = offscreen or not has_display()
        if not offscreen and not has_display():
            raise ViewerError("no display ($DISPLAY is not set): use --offscreen with --keys "
                              "and --screenshot")
        self.fixed_dt = fixed_dt if fixed_dt is not None else (
            1.0 / scene.output.fps if self.offscreen else None)
        width, height = size or window_size(scene.output.aspect)
        self.width, self.height = width, height
        self.base = get_base(offscreen=self.offscreen)
        if self.offscreen:
            self.output = make_offscreen_buffer(width, height, "maquette-view")
        else:
            self.output = self._open_window(width, height, title or f"maquette view "
                                            f"{self.source.name}")
        self.output.set_clear_color_active(True)
        self.output.set_clear_color((0.07, 0.075, 0.085, 1.0))
        self._shot_texture = None
        self.hud = Hud(self.output, width, height)
        self.stage = None
        self.modes = None
        self.ctx: ViewContext | None = None
        self.state = ViewState()
        self.error: str | None = None
        self.generation: _Generation | None = None
        self.events: deque[Event] = deque()
        self.frame_times: deque[float] = deque(maxlen=STATS_WINDOW)
        self.frames = 0
        self.quit_requested = False
        self.stats: dict = {}
        self._applied: dict = {}
        self._watch: dict[Path, tuple] = {}
        self._last_poll = 0.0
        self._last_step = None
        self._stage_frames = 0
        self._drag: dict[str, tuple[float, float]] = {}
        self._state_started = False
        self._pending_scene = None
        self._pending_shots = 0
        self._stage_serial = 0
        self._frozen = False
        self._last_key = None
        self._backed_up = False  # K keeps SCENE.toml.bak: the version before the first K
        self.idle_frames = 0
        if loaded.needs_generation:
            self.generation = _Generation(scene.asset.source, self.generate_settings)
            self._watch_files()
        else:
            try:
                self._build_stage(scene)  # raises on a bad asset: nothing to show yet
            except BaseException:
                self.close()
                raise

    # --- windows and input -------------------------------------------------------------------

    def _open_window(self, width: int, height: int, title: str):
        from panda3d.core import ModifierButtons, WindowProperties

        props = WindowProperties()
        props.set_size(width, height)
        props.set_title(title)
        win = self.base.openWindow(props=props, type="onscreen", makeCamera=False,
                                   keepCamera=False)
        if win is None:
            from engine.render.engine_setup import RenderUnavailable

            raise RenderUnavailable("could not open a window")  # (work failed: exit 1)
        self.base.setupMouse(win)
        thrower = self.base.buttonThrowers[0].node()
        thrower.set_modifier_buttons(ModifierButtons())
        thrower.set_button_down_event("maquette-down")
        thrower.set_button_repeat_event("maquette-repeat")
        thrower.set_button_up_event("maquette-up")
        from direct.showbase.DirectObject import DirectObject

        self._events_in = DirectObject()  # not ShowBase itself: it has its own window-event
        self._events_in.accept("maquette-down", self._on_button)
        self._events_in.accept("maquette-repeat", self._on_button)
        self._events_in.accept("maquette-up", self._on_button_up)
        self._events_in.accept("window-event", self._on_window_event)
        return win

    def _modifiers(self) -> dict[str, bool]:
        from panda3d.core import KeyboardButton

        watcher = self.base.mouseWatcherNode

        def down(*buttons) -> bool:
            return any(watcher.is_button_down(b) for b in buttons)

        return {"shift": down(KeyboardButton.shift(), KeyboardButton.lshift(),
                              KeyboardButton.rshift()),
                "ctrl": down(KeyboardButton.control(), KeyboardButton.lcontrol(),
                             KeyboardButton.rcontrol()),
                "alt": down(KeyboardButton.alt(), KeyboardButton.lalt(), KeyboardButton.ralt())}

    def _on_button(self, name: str) -> None:
        if name in MOUSE_BUTTONS:
            if self.base.mouseWatcherNode.has_mouse():
                m = self.base.mouseWatcherNode.get_mouse()
                self._drag[MOUSE_BUTTONS[name]] = (m.x, m.y)
            return
        if name in ("wheel_up", "wheel_down"):
            self.events.append(Wheel(1.0 if name == "wheel_up" else -1.0))
            return
        if name in ("shift", "lshift", "rshift", "control", "lcontrol", "rcontrol", "alt",
                    "lalt", "ralt"):
            return
        name = BUTTON_NAMES.get(name, name)
        self.events.append(Key(name, **self._modifiers()))

    def _on_button_up(self, name: str) -> None:
        if name in MOUSE_BUTTONS:
            self._drag.pop(MOUSE_BUTTONS[name], None)

    def _poll_mouse(self) -> None:
        if not self._drag or self.offscreen:
            return
        watcher = self.base.mouseWatcherNode
        if not watcher.has_mouse():
            return
        m = watcher.get_mouse()
        shift = self._modifiers()["shift"]
        for button, (x, y) in list(self._drag.items()):
            dx, dy = (m.x - x) * self.width / 2.0, -(m.y - y) * self.height / 2.0
            if dx or dy:
                self.events.append(Drag(button, dx, dy, float(self.height), shift))
            self._drag[button] = (m.x, m.y)

    def _on_window_event(self, window) -> None:
        if window != self.output:
            return
        props = window.get_properties()
        if not props.get_open():
            self.quit_requested = True
            return
        w, h = props.get_x_size(), props.get_y_size()
        if (w, h) != (self.width, self.height) and w > 0 and h > 0:
            self.width, self.height = w, h
            self.hud.resize(w, h)
            if self.stage is not None:
                self.stage.resize(w, h)

    def send(self, *events: Event) -> None:
        """Queue input events (as if typed); they apply at the next step."""
        for event in events:
            if isinstance(event, Drag):
                event = replace(event, viewport_height=float(self.height))
            self.events.append(event)

    # --- stage -------------------------------------------------------------------------------

    def _build_stage(self, scene) -> None:
        """Build a Stage for `scene` and swap it in; on failure the old one stays."""
        from engine.render.stage import Stage
        from engine.viewer.modes import ModeController, scene_statistics

        staged = replace(scene, stage=replace(scene.stage, ground=True))  # G can show it
        stage = Stage(staged, self.width, self.height, msaa=self.msaa, output=self.output)
        old, self.stage = self.stage, stage
        if old is not None:
            old.close()
        previous = self.scene if self.ctx is not None else None
        self.scene = scene
        self.modes = ModeController(stage)
        self._applied = {}
        self._stage_frames = 0
        self._stage_serial += 1
        self._frozen = False
        self.stats.update(scene_statistics(stage))
        timeline = stage.timeline
        self.ctx = ViewContext(center=timeline.bounds.center, radius=timeline.bounds.radius,
                               duration=timeline.duration, fps=scene.output.fps,
                               scene_camera=timeline.camera, scene_lights=scene.stage.lights,
                               scene_ground=scene.stage.ground, can_save_keyframes=self.is_scene)
        if not self._state_started:
            self.state = initial_state(self.ctx, playing=self.is_scene)
            self._state_started = True
        else:  # keep the camera and the user's choices; follow scene edits the user didn't
            changes = {"time": min(self.state.time, timeline.duration)}
            if previous is not None and self.state.lights == previous.stage.lights:
                changes["lights"] = scene.stage.lights
            if previous is not None and self.state.ground == previous.stage.ground:
                changes["ground"] = scene.stage.ground
            self.state = replace(self.state, **changes)
        self._watch_files()

    def _watch_files(self) -> None:
        paths = [self.source] if self.is_scene else []
        paths.append(self.scene.asset.source)
        self._watch = {p: _signature(p) for p in paths}

    def check_files(self) -> bool:
        """Reload if a watched file changed. Returns True if something was reloaded."""
        changed = [p for p, sig in self._watch.items() if _signature(p) != sig]
        if not changed:
            return False
        self._watch = {p: _signature(p) for p in self._watch}
        self.reload()
        return True

    def reload(self) -> None:
        """Re-read the scene (or asset) and rebuild the stage; errors keep the last good
        state and are shown in the window."""
        from engine.scene.source import load_source

        try:
            loaded = load_source(self.source, generate=False)
            scene, self.inputs = loaded.scene, loaded.inputs
            if not self.is_scene:
                scene.camera.move = "static"
            if loaded.needs_generation:
                if self.stage is None:
                    self.scene = scene
                self._pending_scene = scene
                self.generation = _Generation(scene.asset.source, self.generate_settings)
                self.error = None
                return
            self._build_stage(scene)
            self.error = None
            self._say(f"reloaded {self.source.name}")
        except Exception as exc:
            self.error = f"reload failed, showing the last good version:\n{exc}"
            self._watch_files()

    def _collect_generation(self) -> None:
        gen = self.generation
        if gen is None or not gen.done:
            return
        self.generation = None
        if gen.error:
            self.error = gen.error
            return
        scene = self._pending_scene or self.scene
        self._pending_scene = None
        scene = replace(scene, asset=replace(scene.asset, source=gen.result))
        try:
            self._build_stage(scene)
            self._watch[gen.image] = _signature(gen.image)  # regenerate if the image changes
            self.error = None
            self._say(f"generated {gen.image.name} in {time.perf_counter() - gen.started:.1f} s")
        except Exception as exc:
            self.error = f"{gen.image.name}: cannot show the generated asset: {exc}"

    @property
    def ready(self) -> bool:
        """The asset is on stage and nothing is being generated."""
        return self.stage is not None and self.generation is None

    # --- per frame ------------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        self.state = replace(self.state, message=message, message_age=0.0)

    def _apply(self) -> None:
        stage, state = self.stage, self.state
        applied = self._applied
        if applied.get("lights") != state.lights:
            stage.set_light_preset(state.lights)
        background = BACKGROUNDS[state.background][1] or self.scene.stage.background
        if applied.get("background") != background:
            stage.set_background(background)
        if applied.get("ground") != state.ground:
            stage.set_ground(state.ground)
        self.modes.set_mode(state.mode)
        self._applied = {"lights": state.lights, "background": background,
                         "ground": state.ground}
        stage.camera_override = None if state.follow else camera_for(state, self.ctx)
        stage.set_time(state.time)

    def _run_commands(self, commands: list[Command]) -> None:
        for command in commands:
            if command.name == "quit":
                self.quit_requested = True
            elif command.name == "screenshot":
                self._pending_shots += 1  # taken from this step's frame
            elif command.name == "save-keyframe":
                self._save_keyframe()
            elif command.name == "next-clip" and self.stage is not None:
                self._say(f"animation: {self.stage.asset_animation.cycle()}")

    def _save_keyframe(self) -> None:
        from engine.viewer.keyframes import KeyframeSaveError, save_camera_key

        if self.stage is None:
            return
        try:
            pose = camera_for(self.state, self.ctx)
            timeline = self.stage.timeline
            file_bounds = timeline.bounds.transformed(np.linalg.inv(timeline.rest))
            message = save_camera_key(self.source, file_bounds, self.state.time, pose,
                                      fps=self.ctx.fps, backup=not self._backed_up)
            self._backed_up = True
        except (KeyframeSaveError, OSError) as exc:
            self._say(f"keyframe not saved: {exc}")
            return
        except Exception as exc:  # never lose the session over a key press
            self._say(f"keyframe not saved (unexpected error): {exc}")
            return
        self.check_files()  # take the new keys in now (the camera stays where it is)
        self._say(message)

    def step(self, capture: bool = False, hud: bool = False) -> np.ndarray | None:
        """One frame. capture=True also returns it, (H, W, 4) uint8 RGBA, top row first,
        with the overlay only if `hud` (without it: what the render shows)."""
        now = time.perf_counter()
        dt = self.fixed_dt if self.fixed_dt is not None else (
            0.0 if self._last_step is None else min(now - self._last_step, 0.25))
        self._last_step = now
        if now - self._last_poll >= self.poll_seconds:
            self._last_poll = now
            self.check_files()
        self._collect_generation()
        self._poll_mouse()
        while self.events:
            event = self.events.popleft()
            if self.ctx is None:  # nothing on stage yet: only help/quit/stats matter
                if isinstance(event, Key) and event.name in ("h", "f1", "f", "f12", "escape",
                                                             "q"):
                    self.state, commands = handle(self.state, event, _EMPTY_CONTEXT)
                    self._run_commands(commands)
                continue
            self.state, commands = handle(self.state, event, self.ctx)
            self._run_commands(commands)
        if self.ctx is not None:
            from engine.viewer.state import advance

            self.state = advance(self.state, dt, self.ctx)
            self._apply()
        else:
            self.state = replace(self.state, message_age=self.state.message_age + dt)
        self._update_hud()
        full = self._freeze_if_unchanged()
        image = None
        if capture or self._pending_shots:
            if self.stage is not None and self._stage_frames == 0:
                self._render()  # the first frame compiles shaders and fills the shadow map
            # Before the asset is on stage the overlay (progress, errors) is all there is.
            image = self._render_capture(hud=(capture and hud) or self.stage is None)
        else:
            self._render()
        elapsed = time.perf_counter() - now
        if full:
            self.frame_times.append(elapsed)
        else:
            self.idle_frames += 1
        self.frames += 1
        while self._pending_shots:
            self._pending_shots -= 1
            try:
                path = self.save_screenshot(image=None if capture and hud else image)
                self._say(f"screenshot: {path}")
            except Exception as exc:
                self._say(f"screenshot failed: {exc}")
        return image if capture else None

    def _freeze_if_unchanged(self) -> bool:
        """Render the 3D passes (shadow map, scene) only when what they show changed;
        otherwise only the tone-mapping pass and the HUD redraw, from the last scene
        image. Returns True for a full frame."""
        if self.stage is None:
            return False
        s = self.state
        key = (self._stage_serial, s.time, s.follow, s.orbit, s.lights, s.ground, s.mode,
               self.width, self.height)
        full = key != self._last_key or self._stage_frames < 2
        self._last_key = key
        if self._frozen == full:  # changed: (de)activate the 3D buffers
            light = self.stage.key_light.get_name()  # its shadow buffer is made on first use
            buffers = [self.stage.hdr] + [
                out for out in self.base.graphicsEngine.get_windows()
                if out != self.output and out.get_name() == light]
            for buffer in buffers:
                buffer.set_active(full)
            self._frozen = not full
        return full

    def _render(self) -> None:
        if self.offscreen:
            self.base.graphicsEngine.render_frame()
        else:
            self.base.taskMgr.step()  # input events + render
        self._stage_frames += 1

    # --- HUD ---------------------------------------------------------------------------------

    def _update_hud(self) -> None:
        hud, state = self.hud, self.state
        if self.stage is not None:
            play = "playing" if state.playing else "paused"
            cam = "scene camera" if state.follow else "free camera"
            if state.turntable:
                cam += ", turntable"
            status = (f"{self.source.name} | {state.lights} | {state.mode} | {cam} | "
                      f"t {state.time:5.2f}/{self.ctx.duration:.2f} s {play} | H: help")
            hud.text("status", status, "bottom-left", color=(0.85, 0.87, 0.9, 1.0))
        else:
            hud.text("status", None)
        message = state.message if state.message and state.message_age < 2.0 else None
        hud.text("message", message, "top-center")
        if state.help:
            text = "\n".join(f"{k}\t{v}" for k, v in help_lines())
            hud.text("help", "Keys\n" + text, "top-left", card=(0, 0, 0, 0.75))
        else:
            hud.text("help", None)
        hud.text("stats", self._stats_text() if state.stats else None, "top-right")
        if self.generation is not None:
            gen = self.generation
            elapsed = time.perf_counter() - gen.started
            last = gen.log[-1].replace("maquette: ", "") if gen.log else "starting"
            hud.text("progress", f"Generating a 3D asset from {gen.image.name}\n{last}\n"
                     f"{elapsed:.1f} s", "center")
            hud.progress((elapsed / 1.6) % 1.0)
        else:
            hud.text("progress", None)
            hud.progress(None)
        hud.text("error", self.error, "center" if self.stage is None else "bottom-left",
                 color=(1.0, 0.45, 0.4, 1.0), card=(0.1, 0, 0, 0.8))
        if self.error and self.stage is not None:  # lift the status line above the error
            hud.text("status", None)
        hud.safe_frame(state.safe_frame)

    def _stats_text(self) -> str:
        from engine.render.engine_setup import gl_renderer

        times = np.array(self.frame_times) if self.frame_times else np.array([0.0])
        median = float(np.median(times))
        fps = 1.0 / float(np.mean(times)) if times.mean() > 0 else 0.0
        tri = self.stats.get("triangles", 0)
        tex = self.stats.get("texture_bytes", 0) / 2**20
        return (f"{fps:6.1f} fps (3D frames)\nframe {median * 1000:6.1f} ms (median)\n"
                f"p99 {np.percentile(times, 99) * 1000:6.1f} ms\n{tri:,} triangles\n"
                f"textures {tex:.1f} MiB\n{self.width}x{self.height}\n"
                f"{gl_renderer()[:40]}")

    # --- screenshots -------------------------------------------------------------------------

    def grab(self, hud: bool = False) -> np.ndarray:
        """Step one frame and return it (see `step`)."""
        return self.step(capture=True, hud=hud)

    def _render_capture(self, hud: bool) -> np.ndarray:
        from panda3d.core import GraphicsOutput, Texture

        if self._shot_texture is None:
            self._shot_texture = Texture("viewer-screenshot")
            self.output.add_render_texture(self._shot_texture,
                                           GraphicsOutput.RTM_triggered_copy_ram)
        self.hud.set_visible(hud)
        try:
            self.output.trigger_copy()
            self._render()
        finally:
            self.hud.set_visible(True)
        tex = self._shot_texture
        data = tex.get_ram_image_as("RGBA")
        image = np.frombuffer(data, dtype=np.uint8).reshape(tex.get_y_size(), tex.get_x_size(), 4)
        return image[::-1].copy()

    @property
    def screenshots_taken(self) -> int:
        """Screenshots written to --screenshot's name (and its -2, -3... siblings)."""
        return self._screenshots_taken

    def next_screenshot_path(self) -> Path:
        if self.screenshot_path is not None:
            self._screenshots_taken += 1
            if self._screenshots_taken == 1:
                return self.screenshot_path
            p = self.screenshot_path
            return p.with_name(f"{p.stem}-{self._screenshots_taken}{p.suffix or '.png'}")
        i = 1
        while True:
            path = Path(f"maquette-{self.source.stem}-{i:03d}.png")
            if not path.exists():
                return path
            i += 1

    def save_screenshot(self, path: str | Path | None = None,
                        image: np.ndarray | None = None) -> Path:
        """Write `image` (default: a new frame without the overlay) to a PNG."""
        from PIL import Image

        from engine.fileio import guard_inputs, image_format, write_image

        path = Path(path) if path else self.next_screenshot_path()
        background = BACKGROUNDS[self.state.background][1] or self.scene.stage.background
        image_format(path, alpha=background.transparent, what="a screenshot")
        guard_inputs([path], self.inputs)
        frame = self.grab() if image is None else image
        image = Image.fromarray(frame if background.transparent else frame[..., :3])
        return write_image(image, path, self.inputs, what="a screenshot")

    # --- running ---------------------------------------------------------------------------------

    def wait_ready(self, timeout: float = 300.0) -> None:
        start = time.perf_counter()
        while not self.ready and time.perf_counter() - start < timeout:
            if self.generation is None and self.stage is None:
                break  # generation failed
            self.step()

    def run_script(self, steps) -> None:
        """Replay a parsed --keys script (engine.viewer.script)."""
        from engine.viewer.script import Wait

        for item in steps:
            if self.quit_requested:
                return
            if isinstance(item, Wait):
                if item.seconds is None:
                    self.wait_ready()
                elif self.fixed_dt:
                    for _ in range(int(round(item.seconds / self.fixed_dt))):
                        self.step()
                else:
                    end = time.perf_counter() + item.seconds
                    while time.perf_counter() < end and not self.quit_requested:
                        self.step()
            else:
                self.send(item)
                self.step()

    def run(self, steps=(), frames: int | None = None) -> int:
        """Replay `steps`, then: offscreen, render up to `frames` and stop; in a window,
        stay interactive until closed (or `frames` frames)."""
        self.run_script(steps)
        while not self.quit_requested:
            if frames is not None and self.frames >= frames:
                break
            if self.offscreen and frames is None:
                break
            self.step()
            if self._frozen and not self.offscreen:
                time.sleep(0.008)  # nothing moves: poll input without spinning a core
        if self.screenshot_path is not None and self._screenshots_taken == 0:
            self.wait_ready()
            self.save_screenshot()
        return 1 if self.error else 0

    def close(self) -> None:
        if self.stage is not None:
            self.stage.close()
            self.stage = None
        self.hud.close()
        engine = self.base.graphicsEngine
        if self.offscreen:
            engine.remove_window(self.output)
        else:
            self._events_in.ignore_all()
            self.base.closeWindow(self.output)
        self.output = None

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _signature(path: Path) -> tuple:
    try:
        st = os.stat(path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        return ()


_EMPTY_CONTEXT = ViewContext(center=np.zeros(3), radius=1.0, duration=1.0, fps=30.0,
                             scene_camera=lambda t: None, can_save_keyframes=False)
