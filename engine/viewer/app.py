"""The live viewer: a window (or an offscreen buffer) showing a Stage, driven by
ViewState. Panda3D glue only; what input does lives in engine.viewer.state.

One frame (`step`): check the watched files (hot reload), collect a finished
background generation, apply queued input events, let time pass, apply the
state to the stage (lights, background, ground, mode, camera), update the HUD
and render. The stage draws straight into the viewer's output: nothing is read
back to RAM unless a screenshot is asked for.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.viewer.generation import BackgroundGeneration
from engine.viewer.live import DEFAULT_TARGET_FPS, LiveResolution, scaled_size
from engine.viewer.screenshots import FrameGrabber, ScreenshotNames
from engine.viewer.state import (
    BACKGROUNDS,
    Command,
    Drag,
    Event,
    Key,
    ViewContext,
    ViewState,
    camera_for,
    current_view_label,
    dimensions_text,
    handle,
    help_lines,
    initial_state,
    ortho_film_height,
)
from engine.viewer.watch import FileWatch
from engine.viewer.window import WindowInput

DEFAULT_HEIGHT = 720
POLL_SECONDS = 0.25
IDLE_POLL_S = 0.015  # the window loop's sleep between idle steps (input latency ≤ this)
STATS_WINDOW = 120
CHECKER_PX = 12  # the transparency checkerboard's squares, window pixels
ORTHO_STANDOFF_RADII = 4.0  # an orthographic camera stands this far out (nothing clipped)
# What a newly opened file (PageUp/PageDown) keeps of the view: the look-dev choices (the
# ground and tone mapping only where they override the old file's); the camera, time,
# light preset and environment start from the new file.
KEPT_ON_OPEN = ("background", "ground", "mode", "exposure", "environment_rotation",
                "tone_mapping", "orthographic", "guides", "dimensions", "safe_frame", "help",
                "stats")


class ViewerError(InputError):
    pass


def window_size(aspect: str, height: int = DEFAULT_HEIGHT) -> tuple[int, int]:
    from engine.scene.model import ASPECTS

    w, h = ASPECTS[aspect]
    return max(16, int(round(height * w / h / 2)) * 2), height


class Viewer:
    """`maquette view SOURCE`: SOURCE is a scene (.toml), an asset or an image."""

    def __init__(self, source: str | Path, *, size: tuple[int, int] | None = None,
                 offscreen: bool = True, model: str | None = None, msaa: int | None = None,
                 fixed_dt: float | None = None, poll_seconds: float = POLL_SECONDS,
                 screenshot: str | Path | None = None, title: str | None = None,
                 generate=None, target_fps: float = DEFAULT_TARGET_FPS,
                 light_moving_frames: bool = True):
        """generate: GenerateSettings for an image source (default: GenerateSettings(model)).
        light_moving_frames: reduced-size moving frames also draw without multisampling
        and a heavy asset's simplified copy (False: only the scale drops; a benchmark's
        baseline)."""
        from engine.render.engine_setup import (
            get_base,
            has_display,
            make_offscreen_buffer,
            open_window,
        )
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
        self._shot_names = ScreenshotNames(self.source, self.screenshot_path)
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
        self.events: deque[Event] = deque()
        self.input: WindowInput | None = None
        if self.offscreen:
            self.output = make_offscreen_buffer(width, height, "maquette-view")
        else:
            self.output = open_window(width, height,
                                      title or f"maquette view {self.source.name}")
            self.input = WindowInput(self.base, self.output, (width, height), self.events,
                                     self._on_resize, self._on_close)
        self.output.set_clear_color_active(True)
        self.output.set_clear_color((0.07, 0.075, 0.085, 1.0))
        self._grabber = FrameGrabber(self.output)
        self.hud = Hud(self.output, width, height)
        self.stage = None
        self.modes = None
        self.ctx: ViewContext | None = None
        self.state = ViewState()
        self.error: str | None = None
        self.generation: BackgroundGeneration | None = None
        self.frame_times: deque[float] = deque(maxlen=STATS_WINDOW)
        self.frames = 0
        self.quit_requested = False
        self.stats: dict = {}
        self._applied: dict = {}
        self._watch = FileWatch()
        self._last_poll = 0.0
        self._last_step = None
        self._stage_frames = 0
        self._state_started = False
        self._pending_scene = None
        self._pending_shots = 0
        self._stage_serial = 0
        self._frozen = False
        self._last_key = None
        self._backed_up = False  # K keeps SCENE.toml.bak: the version before the first K
        self.idle_frames = 0
        self.live = LiveResolution(target_fps=target_fps)
        self.light_moving_frames = light_moving_frames
        self._proxy = None  # the asset's lighter copy for moving frames, built on first use
        self._proxy_stage = None  # the Stage it was built for
        self.draws = 0  # frames actually drawn (3D or HUD); idle steps draw nothing
        self.render_sizes: list[tuple[int, int]] = []  # the 3D view's pixels, per 3D frame
        self._hud_key = None
        self.guides = None
        self._environments: list = [("scene", None)]  # (label, file or None), V's order
        self._environment_cache: dict = {}  # file -> load_environment(file)
        self._opened = False  # a new source (PageUp/PageDown): start a fresh view of it
        self._dropped_environments: list[Path] = []  # V offers them too, in drop order
        if loaded.needs_generation:
            self.generation = BackgroundGeneration(scene.asset.source, self.generate_settings)
            self._watch_files()
        else:
            try:
                self._build_stage(scene)  # raises on a bad asset: nothing to show yet
            except BaseException:
                self.close()
                raise

    # --- window events -----------------------------------------------------------------------

    def _on_resize(self, w: int, h: int) -> None:
        self.width, self.height = w, h
        self.hud.resize(w, h)
        if self.stage is not None:
            self.stage.resize(w, h)

    def _on_close(self) -> None:
        self.quit_requested = True

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
        from engine.viewer.files import environment_choices
        from engine.viewer.guides import Guides
        from engine.viewer.modes import ModeController, scene_statistics

        staged = replace(scene, stage=replace(scene.stage, ground=True))  # G can show it
        stage = Stage(staged, self.width, self.height, msaa=self.msaa, output=self.output)
        old, self.stage = self.stage, stage
        if old is not None:
            old.close()
        previous = self.scene if self.ctx is not None else None
        self.scene = scene
        self.modes = ModeController(stage)
        self.guides = Guides(stage)
        self._environments = environment_choices(scene.stage.environment, self.source)
        known = {path for _, path in self._environments}
        self._environments += [(p.name, p) for p in self._dropped_environments if p not in known]
        self._applied = {"environment": self._environments[0][1],  # the Stage's own
                         "tone_mapping": scene.stage.tone_mapping}
        self._stage_frames = 0
        self._stage_serial += 1
        self._frozen = False
        self._drawn_size = None
        self.stats.update(scene_statistics(stage))
        self._seen_mesh = _seen_mesh(scene.asset.source)
        if getattr(self, "_seen_pass", None) is not None:  # measured the previous asset
            self._seen_pass.close()
            self._seen_pass = None
        timeline = stage.timeline
        self.ctx = ViewContext(center=timeline.bounds.center, radius=timeline.bounds.radius,
                               duration=timeline.duration, fps=scene.output.fps,
                               scene_camera=timeline.camera, scene_lights=scene.stage.lights,
                               scene_ground=scene.stage.ground, can_save_keyframes=self.is_scene,
                               scene_tone_mapping=scene.stage.tone_mapping,
                               size=tuple(float(x) for x in timeline.bounds.size),
                               environments=tuple(label for label, _ in self._environments))
        if not self._state_started or self._opened:
            fresh = initial_state(self.ctx, playing=self.is_scene)
            if self._opened:
                kept = {k: getattr(self.state, k) for k in KEPT_ON_OPEN}
                for name in ("ground", "tone_mapping"):  # the new file's, unless overridden
                    if previous is not None and kept[name] == getattr(previous.stage, name):
                        del kept[name]
                fresh = replace(fresh, **kept)
            self.state = fresh
            self._state_started, self._opened = True, False
        else:  # keep the camera and the user's choices; follow scene edits the user didn't
            changes = {"time": min(self.state.time, timeline.duration)}
            if previous is not None and self.state.lights == previous.stage.lights:
                changes["lights"] = scene.stage.lights
            if previous is not None and self.state.ground == previous.stage.ground:
                changes["ground"] = scene.stage.ground
            if previous is not None and \
                    self.state.tone_mapping == previous.stage.tone_mapping:
                changes["tone_mapping"] = scene.stage.tone_mapping
            if self.state.environment >= len(self._environments):
                changes["environment"] = 0
            self.state = replace(self.state, **changes)
        self._watch_files()

    def _watch_files(self) -> None:
        self._watch.watch(dict.fromkeys([self.source, self.scene.asset.source]))

    def check_files(self) -> bool:
        """Reload if a watched file changed. Returns True if something was reloaded."""
        if not self._watch.changed():
            return False
        self._watch.take_in()
        self.reload()
        return True

    def open_file(self, path: str | Path) -> None:
        """Show another scene, asset or image (PageUp/PageDown) in this window: a fresh
        view of it that keeps the look-dev choices (KEPT_ON_OPEN); if it cannot be shown
        its error is, over the last good picture, until the file is fixed or left."""
        self.source = Path(path)
        self.is_scene = self.source.suffix.lower() == ".toml"
        self._shot_names.source = self.source
        self._backed_up = False
        self._opened = True
        self._pending_scene = None
        self.reload(opened=True)

    def drop(self, paths) -> None:
        """Files dropped on the window: an .hdr/.exr becomes the environment (and stays
        on V's list); the first scene, asset or image is opened (open_file)."""
        from engine.render.environment import HDR_SUFFIXES
        from engine.viewer.files import loadable_suffixes

        paths = [Path(p) for p in paths]
        environments = [p for p in paths if p.suffix.lower() in HDR_SUFFIXES and p.is_file()]
        sources = [p for p in paths if p.suffix.lower() in loadable_suffixes() and p.is_file()]
        if not environments and not sources:
            names = ", ".join(p.name for p in paths[:3])
            self._say(f"cannot show {names}: drop a scene, an asset, an image or an "
                      f".hdr/.exr environment")
            return
        for path in environments:
            if path not in self._dropped_environments:
                self._dropped_environments.append(path)
        if sources:
            self.open_file(sources[0])  # its stage offers the dropped environments too
        elif self.ctx is not None:
            labels = [p for _, p in self._environments]
            for path in environments:
                if path not in labels:
                    self._environments.append((path.name, path))
                    labels.append(path)
            self.ctx = replace(self.ctx, environments=tuple(
                label for label, _ in self._environments))
            index = labels.index(environments[-1])
            self.state = replace(self.state, environment=index, message=f"environment: "
                                 f"{environments[-1].name}", message_age=0.0)

    def reload(self, opened: bool = False) -> None:
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
                self.generation = BackgroundGeneration(scene.asset.source, self.generate_settings)
                self.error = None
                return
            self._build_stage(scene)
            self.error = None
            self._say(f"{'opened' if opened else 'reloaded'} {self.source.name}")
        except Exception as exc:
            self.error = (f"cannot open {self.source.name}, showing the last good file:\n{exc}"
                          if opened else f"reload failed, showing the last good version:\n{exc}")
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
            self._watch.add(gen.image)  # regenerate if the image changes
            self.error = None
            self._say(f"generated {gen.image.name} in {gen.elapsed:.1f} s")
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
        if applied.get("exposure") != state.exposure:
            stage.post_quad.set_shader_input(
                "exposure", 2.0 ** (self.scene.stage.exposure + state.exposure))
        if applied.get("tone_mapping") != state.tone_mapping:
            stage.set_tone_mapping(state.tone_mapping)
        stage.set_checkerboard(CHECKER_PX if background.transparent else 0)
        environment = self._environments[state.environment][1]
        if applied.get("environment", False) != environment:  # None: the preset's own
            self._set_environment(environment)
        stage.set_environment_rotation(
            self.scene.stage.environment_rotation + state.environment_rotation)
        self._applied = {"lights": state.lights, "background": background,
                         "ground": state.ground, "exposure": state.exposure,
                         "tone_mapping": state.tone_mapping, "environment": environment}
        pose = camera_for(state, self.ctx)
        if state.orthographic:
            stage.set_orthographic(ortho_film_height(pose))
            stage.camera_override = self._ortho_pose(pose)
        else:
            stage.set_orthographic(None)
            stage.camera_override = None if state.follow else pose
        stage.set_time(state.time)
        self.guides.show(state.guides, state.dimensions)

    def _set_environment(self, path) -> None:
        """Light the stage with the environment image `path` (None: the preset's own); a
        file that cannot be read leaves the lighting as it was and says why."""
        spec = self.scene.stage
        same = path is not None and spec.environment is not None and \
            Path(path).resolve() == Path(spec.environment).resolve()
        intensity = spec.environment_intensity if same else 1.0
        loaded = None
        if path is not None:
            from engine.render.environment import load_environment

            try:
                if path not in self._environment_cache:
                    self._environment_cache[path] = load_environment(path)
                loaded = self._environment_cache[path]
            except Exception as exc:
                self._say(f"environment not loaded: {exc}")
                return
        self.stage.set_environment(path, intensity, 0.0, loaded=loaded)

    def _ortho_pose(self, pose):
        """The pose an orthographic camera takes: the same view, stood back far enough
        that its near plane clips nothing of the asset (the picture does not depend on
        the distance; the frame's height comes from the pose's own distance)."""
        from engine.animation import CameraPose

        offset = pose.eye - pose.target
        distance = float(np.linalg.norm(offset))
        reach = float(np.linalg.norm(pose.target - self.ctx.center)) + \
            ORTHO_STANDOFF_RADII * self.ctx.radius
        if distance >= reach or distance <= 0.0:
            return pose
        return CameraPose(pose.target + offset * (reach / distance), pose.target, pose.up,
                          pose.fov)

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
            elif command.name in ("next-file", "previous-file"):
                from engine.viewer.files import neighbour_file

                path = neighbour_file(self.source, 1 if command.name == "next-file" else -1)
                if path is None:
                    self._say(f"no other scene, asset or image beside {self.source.name}")
                else:
                    self.open_file(path)

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
        if self.input is not None:
            self.input.poll_mouse()
            for paths in self.input.poll_drops():
                self.drop(paths)
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
        moving = self._scene_changed()
        if self.ctx is not None and moving:  # still: the stage already shows this state
            self._apply()
        elif self.ctx is None:
            self.state = replace(self.state, message_age=self.state.message_age + dt)
        hud_key = self._update_hud()
        hud_changed, self._hud_key = hud_key != self._hud_key, hud_key
        grabbing = capture or self._pending_shots
        scale = self.live.plan(moving, hud_changed or self.generation is not None)
        if grabbing:
            scale = 1.0  # screenshots are full resolution
        reduced = moving and scale is not None and scale < 1.0 and self.light_moving_frames
        self._choose_detail(reduced, exact=grabbing)
        full = self._freeze_if_unchanged(scale)
        image = None
        if grabbing:
            if self.stage is not None and self._stage_frames == 0:
                self._render()  # the first frame compiles shaders and fills the shadow map
            # Before the asset is on stage the overlay (progress, errors) is all there is.
            image = self._render_capture(hud=(capture and hud) or self.stage is None)
        elif scale is not None or self.stage is None:
            self._render()
        else:
            self._idle()  # nothing changed: input only, no drawing
            if self.light_moving_frames:
                self._ensure_proxy()  # (idle time: ready before the next move)
        elapsed = time.perf_counter() - now
        if full:
            self.frame_times.append(elapsed)
            if moving and not grabbing and scale is not None:
                self.live.measured(scale, elapsed)
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

    def _scene_changed(self) -> bool:
        """Whether what the 3D view shows changed since the last step."""
        if self.stage is None:
            return False
        s = self.state
        key = (self._stage_serial, s.time, s.follow, s.orbit, s.lights, s.ground, s.mode,
               s.background, s.exposure, s.environment, s.environment_rotation,
               s.tone_mapping, s.orthographic, s.guides, s.dimensions, self.width,
               self.height)
        changed = key != self._last_key or self._stage_frames < 2
        self._last_key = key
        return changed

    def _freeze_if_unchanged(self, scale: float | None) -> bool:
        """Render the 3D passes (shadow map, scene) only when they are drawn at a new
        picture (moving, or the refine frame); otherwise the tone-mapping pass and the
        HUD redraw from the last scene image. Returns True for a full frame."""
        if self.stage is None:
            return False
        size = None if scale is None else scaled_size(self.width, self.height, scale)
        full = size is not None and (size != self._drawn_size or self._last_moving())
        if full:
            self.stage.set_render_size(
                *size, multisample=scale >= 1.0 or not self.light_moving_frames)
            # the shadow map (2048² by default) costs as much as the view: scale it too
            full_map = self.stage._shadow_size
            self.stage.set_shadow_map_size(
                full_map if scale >= 1.0 else max(256, _pow2(full_map * scale)))
            self._drawn_size = size
            self.render_sizes.append(size)
        if self._frozen == full:  # changed: (de)activate the 3D buffers
            light = self.stage.key_light.get_name()  # its shadow buffer is made on first use
            buffers = [self.stage.scene_buffer] + [
                out for out in self.base.graphicsEngine.get_windows()
                if out != self.output and out.get_name() == light]
            for buffer in buffers:
                buffer.set_active(full)
            self._frozen = not full
        return full

    def _choose_detail(self, reduced: bool, exact: bool) -> None:
        """Moving frames drawn at a reduced scale also draw a heavy asset's lighter
        copy (engine.render.moving_proxy: its cost is per triangle, whatever the scale);
        once on, it stays on until the refine frame, so detail does not flicker while the
        scale settles. Screenshots (`exact`) and wireframe show the real mesh."""
        latched = self._proxy is not None and self._proxy.coarse and not self.live.refined
        coarse = (reduced or latched) and not exact and self.state.mode != "wireframe"
        if coarse:
            self._ensure_proxy()
        if self._proxy is not None and self._proxy_stage is self.stage:
            self._proxy.use(coarse)

    def _ensure_proxy(self) -> None:
        """Build the Stage's moving copy once (0.5 s for 500k triangles here): on the
        first idle step after the asset appears, or on the first moving frame."""
        if self.stage is not None and self._proxy_stage is not self.stage:
            from engine.render.moving_proxy import build_moving_proxy

            self._proxy, self._proxy_stage = build_moving_proxy(self.stage.asset), self.stage

    def _last_moving(self) -> bool:
        return not self.live.refined

    def _idle(self) -> None:
        """A step with nothing to draw: a window still takes its input events."""
        if not self.offscreen:
            self.output.set_active(False)
            try:
                self.base.taskMgr.step()
            finally:
                self.output.set_active(True)

    def _render(self) -> None:
        if self.offscreen:
            self.base.graphicsEngine.render_frame()
        else:
            self.base.taskMgr.step()  # input events + render
        self._stage_frames += 1
        self.draws += 1

    # --- HUD ---------------------------------------------------------------------------------

    def _update_hud(self) -> tuple:
        """Set the overlay's blocks; returns what they show (a change means a redraw)."""
        shown: list = []
        real, state = self.hud, self.state

        class _Recorder:  # records each block as it is set
            def __getattr__(self, name):
                method = getattr(real, name)

                def call(*args, **kwargs):
                    shown.append((name, args, tuple(sorted(kwargs.items()))))
                    return method(*args, **kwargs)
                return call

        self._fill_hud(_Recorder(), state)
        return tuple(shown)

    def _fill_hud(self, hud, state) -> None:
        if self.stage is not None:
            play = "playing" if state.playing else "paused"
            cam = current_view_label(state)
            if state.turntable:
                cam += ", turntable"
            status = (f"{self.source.name} | light: {state.lights} | {state.mode} | {cam} | "
                      f"t {state.time:5.2f}/{self.ctx.duration:.2f} s {play} | H: help")
            hud.text("status", status, "bottom-left", color=(0.85, 0.87, 0.9, 1.0))
        else:
            hud.text("status", None)
        message = state.message if state.message and state.message_age < 2.0 else None
        hud.text("message", message, "top-center")
        dims = dimensions_text(self.ctx.size) if self.stage is not None and state.dimensions \
            and not state.help else None  # the help covers the top left
        hud.text("dimensions", dims, "top-left", color=(1.0, 0.8, 0.4, 1.0))
        if state.help:
            sep = "\t" if self.width >= 700 else "  "  # narrow: no column, lines wrap
            text = "\n".join(f"{k}{sep}{v}" for k, v in help_lines())
            hud.text("help", "Keys\n" + text, "top-left", card=(0, 0, 0, 0.75))
        else:
            hud.text("help", None)
        # the help covers the top of the window: the stats come back when it closes
        hud.text("stats", self._stats_text() if state.stats and not state.help else None,
                 "top-right")
        if self.generation is not None:
            gen = self.generation
            elapsed = gen.elapsed
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
        proxy = self._proxy if self._proxy_stage is self.stage else None
        moving = f" ({proxy.proxy_triangles:,} moving)" if proxy is not None else ""
        text = (f"{fps:6.1f} fps (3D frames)\nframe {median * 1000:6.1f} ms (median)\n"
                f"p99 {np.percentile(times, 99) * 1000:6.1f} ms\n{tri:,} triangles{moving}\n"
                f"textures {tex:.1f} MiB\n{self.width}x{self.height}\n"
                f"{gl_renderer()}")
        inferred = self.view_inferred_share()
        if inferred is not None:
            text += f"\ninferred in view {inferred:.0%}"
        return text

    def view_inferred_share(self) -> float | None:
        """The share of the asset's visible pixels that the image did not see, from the
        current camera (the seen pass, engine.render.seen_pass), or None for an unmarked
        asset."""
        from engine.render.seen_pass import SeenPass

        if getattr(self, "_seen_mesh", None) is None or self.stage is None or \
                getattr(self.stage, "current", None) is None:
            return None
        aspect = self.width / self.height
        seen_pass = getattr(self, "_seen_pass", None)
        if seen_pass is None or seen_pass.width != SeenPass.width_for(aspect):
            if seen_pass is not None:
                seen_pass.close()
            seen_pass = self._seen_pass = SeenPass(self._seen_mesh, aspect)
        frame, stage = self.stage.current, self.stage
        cam = frame.camera if stage.camera_override is None else stage.camera_override
        return seen_pass.shares(frame.asset_matrix, cam)[0]

    # --- screenshots -------------------------------------------------------------------------

    def grab(self, hud: bool = False) -> np.ndarray:
        """Step one frame and return it (see `step`)."""
        return self.step(capture=True, hud=hud)

    def _render_capture(self, hud: bool) -> np.ndarray:
        """The next frame; without `hud` what the render shows: no overlay, and a
        transparent background as alpha (not over the window's checkerboard)."""
        self.hud.set_visible(hud)
        checker = self.stage is not None and not hud and \
            self._applied.get("background") is not None and self._applied["background"].transparent
        if checker:
            self.stage.set_checkerboard(0)
        try:
            return self._grabber.grab(self._render)
        finally:
            self.hud.set_visible(True)
            if checker:
                self.stage.set_checkerboard(CHECKER_PX)

    @property
    def screenshots_taken(self) -> int:
        """Screenshots written to --screenshot's name (and its -2, -3... siblings)."""
        return self._shot_names.taken

    def next_screenshot_path(self) -> Path:
        return self._shot_names.next()

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
                time.sleep(IDLE_POLL_S)  # nothing moves: poll input without spinning a core
        if self.screenshot_path is not None and self.screenshots_taken == 0:
            self.wait_ready()
            self.save_screenshot()
        return 1 if self.error else 0

    def close(self) -> None:
        from engine.render.engine_setup import close_output

        if self.stage is not None:
            self.stage.close()
            self.stage = None
        if getattr(self, "_seen_pass", None) is not None:
            self._seen_pass.close()
            self._seen_pass = None
        self.hud.close()
        if self.input is not None:
            self.input.close()
        close_output(self.output)
        self.output = None

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _pow2(x: float) -> int:
    """The power of two nearest x (shadow map sizes)."""
    return 1 << max(0, int(round(np.log2(max(x, 1.0)))))


_EMPTY_CONTEXT = ViewContext(center=np.zeros(3), radius=1.0, duration=1.0, fps=30.0,
                             scene_camera=lambda t: None, can_save_keyframes=False)


def _seen_mesh(source):
    """The trimesh mesh of an asset that carries seen marks, else None."""
    from engine.asset.io import load_asset
    from engine.asset.model import AssetError
    from engine.asset.seen import file_has_marks

    try:
        if not file_has_marks(source):
            return None
        return load_asset(source).mesh
    except (AssetError, OSError, ValueError):  # the stage loaded it; unreadable marks: none shown
        return None
