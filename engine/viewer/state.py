"""What the live viewer shows, and how input changes it: plain data, pure functions.

No Panda3D here. `ViewState` is a frozen dataclass; `handle(state, event, ctx)`
maps one input event to a new state plus a list of side effects for the window
glue to perform (screenshot, save keyframe, quit); `advance(state, dt, ctx)`
lets time pass (playback, auto-turntable). The camera the viewer shows is
`camera_for(state, ctx)`: either the scene's own camera at the current time
(`follow`, exactly what `maquette render` shows) or a free orbit camera the
user drives.

World space is the scene's: Y-up, metres, degrees (see engine.animation.camera).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from engine.animation import CameraPose
from engine.animation.camera import MAX_ELEVATION, VIEW_LABELS
from engine.scene.lighting import TONE_MAPPINGS
from engine.scene.model import LIGHT_PRESETS, Background

MODES = ("lit", "base-color", "normals", "wireframe", "uv-checker", "seen")
SAFE_FRAMES = (None, "16:9", "9:16", "1:1", "4:5")
# (name, background); None = the scene's own background.
BACKGROUNDS: tuple[tuple[str, Background | None], ...] = (
    ("scene", None),
    ("black", Background((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))),
    ("grey", Background((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))),
    ("white", Background((1.0, 1.0, 1.0), (1.0, 1.0, 1.0))),
    ("studio gradient", Background((0.957, 0.945, 0.925), (0.851, 0.827, 0.792))),
    ("night gradient", Background((0.227, 0.239, 0.271), (0.09, 0.094, 0.11))),
    ("transparent", Background(transparent=True)),  # shown over a checkerboard
)
TONE_LABELS = {"neutral": "Khronos PBR Neutral", "aces": "ACES (filmic fit)",
               "none": "none (clipped)"}
# Named views: (azimuth, elevation) degrees, as Blender's numpad and f3d.
VIEWS = {
    "front": (0.0, 0.0),
    "back": (180.0, 0.0),
    "right": (90.0, 0.0),
    "left": (-90.0, 0.0),
    "top": (0.0, MAX_ELEVATION),
    "bottom": (0.0, -MAX_ELEVATION),
    "three-quarter": (35.0, 25.0),
}

ORBIT_STEP_DEG = 15.0  # per arrow key press
DRAG_DEG_PER_VIEWPORT = 270.0  # a drag across the window's height turns this much
ZOOM_STEP = 1.2  # distance factor per +/- press or wheel notch
PAN_STEP = 0.08  # fraction of the distance per Shift+arrow press
TURNTABLE_DEG_PER_S = 45.0  # auto-turntable: one turn in 8 s
SCRUB_STEP_S = 1.0  # Shift+, and Shift+.
MIN_DISTANCE_RADII = 0.05
MAX_DISTANCE_RADII = 200.0


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A key press; `name` is lower case ('left', 'space', ',', 'f12', 'l', '1', '+')."""

    name: str
    shift: bool = False
    ctrl: bool = False
    alt: bool = False

    def __str__(self) -> str:
        mods = "".join(m for m, on in (("Ctrl+", self.ctrl), ("Shift+", self.shift),
                                       ("Alt+", self.alt)) if on)
        return mods + self.name


@dataclass(frozen=True)
class Drag:
    """Mouse moved by (dx, dy) pixels (y down) with `button` ('left' | 'middle' | 'right')
    held; `viewport_height` pixels scales it."""

    button: str
    dx: float
    dy: float
    viewport_height: float = 720.0
    shift: bool = False


@dataclass(frozen=True)
class Wheel:
    """Mouse wheel: positive steps zoom in."""

    steps: float


Event = Key | Drag | Wheel


# --- side effects the glue performs ----------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """'screenshot' | 'save-keyframe' | 'next-clip' | 'next-file' | 'previous-file' |
    'quit'."""

    name: str


# --- state -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Orbit:
    """A free camera orbiting `target` (3,) m: azimuth/elevation degrees, distance m."""

    target: tuple[float, float, float]
    azimuth: float
    elevation: float
    distance: float
    fov: float


@dataclass(frozen=True)
class ViewState:
    time: float = 0.0  # seconds on the scene's timeline
    playing: bool = True
    follow: bool = True  # camera = the scene's camera at `time`; False: `orbit`
    orbit: Orbit | None = None
    turntable: bool = False
    lights: str = "studio"
    background: int = 0  # index into BACKGROUNDS (0: the scene's own)
    ground: bool = True
    mode: str = "lit"
    exposure: float = 0.0  # EV added to the scene's [stage] exposure
    environment: int = 0  # index into ViewContext.environments (0: the scene's own)
    environment_rotation: float = 0.0  # degrees about +Y added to the scene's
    tone_mapping: str = "neutral"  # one of TONE_MAPPINGS
    orthographic: bool = False  # parallel projection, framed as the perspective camera
    guides: bool = False  # ground grid (metres) and XYZ axes at the origin
    dimensions: bool = False  # the asset's bounding box size in metres, and its box
    safe_frame: str | None = None
    help: bool = False
    stats: bool = False
    message: str = ""
    message_age: float = 0.0  # seconds since `message` was set


@dataclass(frozen=True)
class ViewContext:
    """What the handlers need to know about the scene on stage."""

    center: np.ndarray  # (3,) m, the asset's bounds centre at rest
    radius: float  # m, bounding sphere
    duration: float  # s
    fps: float
    scene_camera: Callable[[float], CameraPose]  # the shot's camera at time t
    scene_lights: str = "studio"
    scene_ground: bool = True
    scene_tone_mapping: str = "neutral"
    can_save_keyframes: bool = True
    size: tuple[float, float, float] = (0.0, 0.0, 0.0)  # m, the asset's box at rest (x, y, z)
    # V cycles these: labels of the environments on offer, the scene's own first
    # (engine.viewer.environments); the glue maps an index to its file.
    environments: tuple[str, ...] = ("scene",)


def initial_state(ctx: ViewContext, *, playing: bool = True) -> ViewState:
    return ViewState(lights=ctx.scene_lights, ground=ctx.scene_ground, playing=playing,
                     tone_mapping=ctx.scene_tone_mapping)


# --- camera --------------------------------------------------------------------------------


def orbit_pose(orbit: Orbit) -> CameraPose:
    """The CameraPose of a free orbit camera."""
    az, el = math.radians(orbit.azimuth), math.radians(orbit.elevation)
    target = np.array(orbit.target, dtype=np.float64)
    direction = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
    eye = target + orbit.distance * direction
    forward = -direction
    right = np.array([math.cos(az), 0.0, -math.sin(az)])
    up = np.cross(right, forward)
    return CameraPose(eye, target, up / np.linalg.norm(up), orbit.fov)


def orbit_from_pose(pose: CameraPose) -> Orbit:
    """The orbit camera that sees what `pose` sees (roll dropped)."""
    offset = pose.eye - pose.target
    distance = float(np.linalg.norm(offset))
    azimuth = math.degrees(math.atan2(offset[0], offset[2]))
    elevation = math.degrees(math.asin(float(np.clip(offset[1] / max(distance, 1e-12), -1, 1))))
    elevation = float(np.clip(elevation, -MAX_ELEVATION, MAX_ELEVATION))
    return Orbit(tuple(float(x) for x in pose.target), azimuth, elevation, distance, pose.fov)


def camera_for(state: ViewState, ctx: ViewContext) -> CameraPose:
    """The camera the viewer shows in `state`."""
    if state.follow or state.orbit is None:
        return ctx.scene_camera(state.time)
    return orbit_pose(state.orbit)


def _free(state: ViewState, ctx: ViewContext) -> ViewState:
    """Leave `follow` for a free orbit that starts exactly where the camera is."""
    if not state.follow and state.orbit is not None:
        return state
    return replace(state, follow=False, orbit=orbit_from_pose(ctx.scene_camera(state.time)))


def _with_orbit(state: ViewState, ctx: ViewContext, **changes) -> ViewState:
    state = _free(state, ctx)
    orbit = replace(state.orbit, **changes)
    lo, hi = MIN_DISTANCE_RADII * ctx.radius, MAX_DISTANCE_RADII * ctx.radius
    orbit = replace(orbit, elevation=float(np.clip(orbit.elevation, -MAX_ELEVATION,
                                                   MAX_ELEVATION)),
                    azimuth=_wrap_degrees(orbit.azimuth),
                    distance=float(np.clip(orbit.distance, lo, hi)))
    return replace(state, orbit=orbit)


def _wrap_degrees(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


def orbit_by(state: ViewState, ctx: ViewContext, d_azimuth: float,
             d_elevation: float) -> ViewState:
    s = _free(state, ctx)
    return _with_orbit(s, ctx, azimuth=s.orbit.azimuth + d_azimuth,
                       elevation=s.orbit.elevation + d_elevation)


def zoom_by(state: ViewState, ctx: ViewContext, factor: float) -> ViewState:
    """factor > 1 moves closer."""
    s = _free(state, ctx)
    return _with_orbit(s, ctx, distance=s.orbit.distance / factor)


def pan_by(state: ViewState, ctx: ViewContext, right: float, up: float) -> ViewState:
    """Move the target (and the camera with it) by fractions of the distance."""
    s = _free(state, ctx)
    pose = orbit_pose(s.orbit)
    side = np.cross(pose.forward, pose.up)
    target = (np.array(s.orbit.target) + s.orbit.distance * (right * side + up * pose.up))
    return _with_orbit(s, ctx, target=tuple(float(x) for x in target))


def view_named(state: ViewState, ctx: ViewContext, name: str) -> ViewState:
    """A named view aimed at the asset's centre, keeping the distance."""
    s = _free(state, ctx)
    az, el = VIEWS[name]
    return _with_orbit(s, ctx, azimuth=az, elevation=el,
                       target=tuple(float(x) for x in ctx.center))


def current_view_label(state: ViewState) -> str:
    """What the HUD calls the camera: 'scene camera', a named view's label while the
    free camera sits exactly on it (angles within 0.01°), else 'free camera'."""
    if state.follow or state.orbit is None:
        return "scene camera"
    for name, (az, el) in VIEWS.items():
        d_az = (state.orbit.azimuth - az + 180.0) % 360.0 - 180.0
        if abs(d_az) < 0.01 and abs(state.orbit.elevation - el) < 0.01:
            return f"{VIEW_LABELS[name]} view"
    return "free camera"


def ortho_film_height(pose: CameraPose) -> float:
    """Metres an orthographic frame is tall so that it frames the camera's target as the
    perspective camera does: 2 · distance · tan(fov / 2)."""
    distance = float(np.linalg.norm(pose.eye - pose.target))
    return 2.0 * distance * math.tan(math.radians(float(pose.fov)) / 2.0)


def reset_view(state: ViewState, ctx: ViewContext) -> ViewState:
    """Back to the scene's camera (the shot), turntable off."""
    return replace(state, follow=True, orbit=None, turntable=False)


# --- guides: grid, axes, dimensions ----------------------------------------------------------


def grid_step(size) -> float:
    """The grid's square side in metres for an asset `size` (3,) m: the largest of 1, 2, 5
    × 10^k metres at most half its largest side (0.3 m bottle: 0.1 m; 1.8 m figure: 0.5 m),
    so a few squares span it and lines fall on round metre values."""
    extent = max(float(max(size)), 1e-6) / 2.0
    k = math.floor(math.log10(extent))
    return max(m * 10.0 ** k for m in (1.0, 2.0, 5.0) if m * 10.0 ** k <= extent * (1 + 1e-9))


def format_metres(value: float) -> str:
    """'0.212 m', '1.80 m', '12.5 m': three significant figures, in metres."""
    value = float(value)
    digits = 3 if abs(value) < 1.0 else 2 if abs(value) < 10.0 else 1
    return f"{value:.{digits}f} m"


def dimensions_text(size) -> str:
    """The dimensions overlay: width (X) x height (Y) x depth (Z) in metres."""
    w, h, d = (float(x) for x in size)
    return (f"size W x H x D: {format_metres(w)[:-2]} x {format_metres(h)[:-2]} x "
            f"{format_metres(d)}")


# --- time ----------------------------------------------------------------------------------


def advance(state: ViewState, dt: float, ctx: ViewContext) -> ViewState:
    """Let dt seconds pass: playback (looping) and the auto-turntable."""
    changes: dict = {"message_age": state.message_age + dt}
    if state.playing:
        changes["time"] = (state.time + dt) % ctx.duration
    state = replace(state, **changes)
    if state.turntable:
        state = orbit_by(state, ctx, TURNTABLE_DEG_PER_S * dt, 0.0)
    return state


def step_time(state: ViewState, ctx: ViewContext, seconds: float) -> ViewState:
    """Pause and move the playhead, clamped to [0, duration]."""
    t = float(np.clip(state.time + seconds, 0.0, ctx.duration))
    return _say(replace(state, time=t, playing=False), f"t = {t:.3f} s")


# --- the bindings ------------------------------------------------------------------------------

Result = tuple[ViewState, list[Command]]
Action = Callable[[ViewState, ViewContext], Result]


def _say(state: ViewState, message: str) -> ViewState:
    return replace(state, message=message, message_age=0.0)


def _pure(fn: Callable[[ViewState, ViewContext], ViewState]) -> Action:
    return lambda s, c: (fn(s, c), [])


def _cycle(options, current, step: int = 1):
    options = list(options)
    i = options.index(current) if current in options else -1
    return options[(i + step) % len(options)]


EXPOSURE_STEP_EV = 0.5
EXPOSURE_LIMIT_EV = 6.0


def _exposure(step: float) -> Action:
    def act(s: ViewState, c: ViewContext) -> Result:
        ev = max(-EXPOSURE_LIMIT_EV, min(EXPOSURE_LIMIT_EV, s.exposure + step))
        return _say(replace(s, exposure=ev), f"exposure: {ev:+.1f} EV"), []
    return act


def _lights(step: int) -> Action:
    def act(s: ViewState, c: ViewContext) -> Result:
        name = _cycle(LIGHT_PRESETS, s.lights, step)
        return _say(replace(s, lights=name), f"lights: {name}"), []
    return act


ENV_ROTATION_STEP_DEG = 15.0


def _environment(step: int) -> Action:
    def act(s: ViewState, c: ViewContext) -> Result:
        i = (s.environment + step) % len(c.environments)
        return _say(replace(s, environment=i), f"environment: {c.environments[i]}"), []
    return act


def _environment_rotation(step: float) -> Action:
    def act(s: ViewState, c: ViewContext) -> Result:
        deg = _wrap_degrees(s.environment_rotation + step)
        if deg == -180.0:
            deg = 180.0
        return _say(replace(s, environment_rotation=deg),
                    f"environment rotation: {deg:+.0f}°"), []
    return act


def _tone_mapping(s: ViewState, c: ViewContext) -> Result:
    tone = _cycle(TONE_MAPPINGS, s.tone_mapping)
    return _say(replace(s, tone_mapping=tone), f"tone mapping: {TONE_LABELS[tone]}"), []


def _orthographic(s: ViewState, c: ViewContext) -> Result:
    on = not s.orthographic
    return _say(replace(s, orthographic=on),
                f"projection: {'orthographic' if on else 'perspective'}"), []


def _guides(s: ViewState, c: ViewContext) -> Result:
    on = not s.guides
    step = f" (squares of {format_metres(grid_step(c.size))})" if on else ""
    return _say(replace(s, guides=on), f"grid and axes: {'on' if on else 'off'}{step}"), []


def _dimensions(s: ViewState, c: ViewContext) -> Result:
    on = not s.dimensions
    return _say(replace(s, dimensions=on), f"dimensions: {'on' if on else 'off'}"), []


def _mode(step: int) -> Action:
    def act(s: ViewState, c: ViewContext) -> Result:
        mode = _cycle(MODES, s.mode, step)
        return _say(replace(s, mode=mode), f"mode: {mode}"), []
    return act


def _background(s: ViewState, c: ViewContext) -> Result:
    i = (s.background + 1) % len(BACKGROUNDS)
    return _say(replace(s, background=i), f"background: {BACKGROUNDS[i][0]}"), []


def _ground(s: ViewState, c: ViewContext) -> Result:
    on = not s.ground
    return _say(replace(s, ground=on), f"ground and shadow: {'on' if on else 'off'}"), []


def _safe_frame(s: ViewState, c: ViewContext) -> Result:
    frame = _cycle(SAFE_FRAMES, s.safe_frame)
    return _say(replace(s, safe_frame=frame), f"safe frame: {frame or 'off'}"), []


def _play(s: ViewState, c: ViewContext) -> Result:
    return _say(replace(s, playing=not s.playing), "play" if not s.playing else "pause"), []


def _turntable(s: ViewState, c: ViewContext) -> Result:
    if s.turntable:
        return _say(replace(s, turntable=False), "turntable: off"), []
    return _say(replace(_free(s, c), turntable=True), "turntable: on"), []


def _keyframe(s: ViewState, c: ViewContext) -> Result:
    if not c.can_save_keyframes:
        return _say(s, "K saves camera keyframes into a scene file: view a .toml scene"), []
    return s, [Command("save-keyframe")]


def _orbit(daz: float, del_: float) -> Action:
    return _pure(lambda s, c: orbit_by(s, c, daz, del_))


def _pan(right: float, up: float) -> Action:
    return _pure(lambda s, c: pan_by(s, c, right, up))


def _zoom(factor: float) -> Action:
    return _pure(lambda s, c: zoom_by(s, c, factor))


def _view(name: str) -> Action:
    return lambda s, c: (_say(view_named(s, c, name), f"view: {VIEW_LABELS[name]}"), [])


def _step(seconds_or_frames: float, frames: bool) -> Action:
    def act(s: ViewState, c: ViewContext) -> Result:
        return step_time(s, c, seconds_or_frames / c.fps if frames else seconds_or_frames), []
    return act


@dataclass(frozen=True)
class Binding:
    keys: tuple[str, ...]  # key specs: 'left', 'shift+left', 'ctrl+1', ','
    label: str  # as shown in the help overlay and README
    help: str
    action: Action


BINDINGS: tuple[Binding, ...] = (
    Binding(("left", "right", "up", "down"), "Arrows", "orbit (or drag with the left button)",
            _pure(lambda s, c: s)),  # the four arrows are dispatched below
    Binding(("+", "-"), "+  -", "zoom in / out (or the mouse wheel)", _pure(lambda s, c: s)),
    Binding(("shift+left", "shift+right", "shift+up", "shift+down"), "Shift+Arrows",
            "pan (or drag with the middle button)", _pure(lambda s, c: s)),
    Binding(("r",), "R", "reset: back to the scene's camera", lambda s, c: (
        _say(reset_view(s, c), "view: scene camera"), [])),
    Binding(("1",), "1", f"{VIEW_LABELS['front']} view", _view("front")),
    Binding(("3",), "3", f"{VIEW_LABELS['right']} view", _view("right")),
    Binding(("ctrl+1",), "Ctrl+1", f"{VIEW_LABELS['back']} view", _view("back")),
    Binding(("ctrl+3",), "Ctrl+3", f"{VIEW_LABELS['left']} view", _view("left")),
    Binding(("7",), "7", f"{VIEW_LABELS['top']} view", _view("top")),
    Binding(("ctrl+7",), "Ctrl+7", f"{VIEW_LABELS['bottom']} view", _view("bottom")),
    Binding(("9",), "9", f"{VIEW_LABELS['three-quarter']} view", _view("three-quarter")),
    Binding(("5",), "5", "orthographic / perspective (keeps the framing)", _orthographic),
    Binding(("t",), "T", "auto-turntable on/off", _turntable),
    Binding(("space",), "Space", "play / pause the scene's animation", _play),
    Binding((",", "."), ",  .", "step one frame back / forward (hold to scrub)",
            _pure(lambda s, c: s)),
    Binding(("shift+,", "shift+."), "Shift+,  Shift+.", "one second back / forward",
            _pure(lambda s, c: s)),
    Binding(("home",), "Home", "go to the start", lambda s, c: (step_time(s, c, -s.time), [])),
    Binding(("w",), "W", "next animation clip the asset carries (then none)",
            lambda s, c: (s, [Command("next-clip")])),
    Binding(("l",), "L", "next light preset (Shift+L: previous)", _lights(1)),
    Binding(("e",), "E", f"exposure +{EXPOSURE_STEP_EV} EV (Shift+E: -{EXPOSURE_STEP_EV} EV)",
            _exposure(EXPOSURE_STEP_EV)),
    Binding(("shift+e",), "Shift+E", "exposure down", _exposure(-EXPOSURE_STEP_EV)),
    Binding(("shift+l",), "Shift+L", "previous light preset", _lights(-1)),
    Binding(("v",), "V", "next environment (Shift+V: previous)", _environment(1)),
    Binding(("shift+v",), "Shift+V", "previous environment", _environment(-1)),
    Binding(("[", "]"), "[  ]", f"turn the environment {ENV_ROTATION_STEP_DEG:.0f}° left / "
            "right", _pure(lambda s, c: s)),
    Binding(("u",), "U", "tone mapping: neutral, ACES, none", _tone_mapping),
    Binding(("b",), "B", "next background", _background),
    Binding(("g",), "G", "ground and shadow on/off", _ground),
    Binding(("x",), "X", "grid (metres) and XYZ axes on/off", _guides),
    Binding(("d",), "D", "dimensions: the asset's size in metres and its box", _dimensions),
    Binding(("m",), "M", "inspection mode: lit, base colour, normals, wireframe, UV "
            "checker, seen (inferred surfaces magenta)",
            _mode(1)),
    Binding(("shift+m",), "Shift+M", "previous inspection mode", _mode(-1)),
    Binding(("a",), "A", "safe frame: 16:9, 9:16, 1:1, 4:5, off", _safe_frame),
    Binding(("page_up", "page_down"), "PageUp  PageDown",
            "previous / next file (scene, asset, image) in the folder",
            _pure(lambda s, c: s)),
    Binding(("f12",), "F12", "screenshot to PNG", lambda s, c: (s, [Command("screenshot")])),
    Binding(("k",), "K", "save the camera as a keyframe into the scene file", _keyframe),
    Binding(("h", "f1"), "H  F1", "help (this list)",
            lambda s, c: (replace(s, help=not s.help), [])),
    Binding(("f",), "F", "stats: fps, frame time, triangles, texture memory",
            lambda s, c: (replace(s, stats=not s.stats), [])),
    Binding(("escape", "q"), "Esc  Q", "quit", lambda s, c: (s, [Command("quit")])),
)

_ARROWS = {"left": (-1, 0), "right": (1, 0), "up": (0, 1), "down": (0, -1)}
_SPECIAL: dict[str, Action] = {}
for _name, (_x, _y) in _ARROWS.items():
    _SPECIAL[_name] = _orbit(-_x * ORBIT_STEP_DEG, -_y * ORBIT_STEP_DEG)
    _SPECIAL[f"shift+{_name}"] = _pan(_x * PAN_STEP, _y * PAN_STEP)
_SPECIAL["+"] = _zoom(ZOOM_STEP)
_SPECIAL["-"] = _zoom(1.0 / ZOOM_STEP)
_SPECIAL[","] = _step(-1, True)
_SPECIAL["."] = _step(1, True)
_SPECIAL["shift+,"] = _step(-SCRUB_STEP_S, False)
_SPECIAL["shift+."] = _step(SCRUB_STEP_S, False)
_SPECIAL["["] = _environment_rotation(-ENV_ROTATION_STEP_DEG)
_SPECIAL["]"] = _environment_rotation(ENV_ROTATION_STEP_DEG)
_SPECIAL["page_up"] = lambda s, c: (s, [Command("previous-file")])
_SPECIAL["page_down"] = lambda s, c: (s, [Command("next-file")])

KEYMAP: dict[str, Action] = {}
for _binding in BINDINGS:
    for _spec in _binding.keys:
        KEYMAP[_spec] = _SPECIAL.get(_spec, _binding.action)


def key_spec(key: Key) -> str:
    """'ctrl+shift+x' form of a Key, as used in KEYMAP."""
    mods = "".join(m for m, on in (("ctrl+", key.ctrl), ("shift+", key.shift),
                                   ("alt+", key.alt)) if on)
    return mods + key.name


def handle(state: ViewState, event: Event, ctx: ViewContext) -> Result:
    """One input event → (new state, side effects). Unbound keys change nothing."""
    if isinstance(event, Wheel):
        return zoom_by(state, ctx, ZOOM_STEP ** event.steps), []
    if isinstance(event, Drag):
        scale = DRAG_DEG_PER_VIEWPORT / max(event.viewport_height, 1.0)
        if event.button == "middle" or (event.button == "left" and event.shift):
            frac = 1.0 / max(event.viewport_height, 1.0)
            return pan_by(state, ctx, -event.dx * frac, event.dy * frac), []
        if event.button == "right":
            return zoom_by(state, ctx, ZOOM_STEP ** (-event.dy / 40.0)), []
        return orbit_by(state, ctx, -event.dx * scale, event.dy * scale), []
    action = KEYMAP.get(key_spec(event))
    if action is None and event.shift:  # e.g. Shift+T acts as T
        action = KEYMAP.get(key_spec(replace(event, shift=False)))
    if action is None:
        return state, []
    return action(state, ctx)


def help_lines() -> list[tuple[str, str]]:
    """(keys, what they do) for the help overlay and the README."""
    folded = ("Shift+L", "Shift+M", "Shift+E", "Shift+V")  # said in the unshifted row
    rows = [(b.label, b.help) for b in BINDINGS if b.label not in folded]
    rows.insert(3, ("Mouse", "left drag: orbit, middle drag: pan, wheel or right drag: zoom"))
    rows.append(("Drop", "a scene, asset or image on the window opens it; an .hdr/.exr "
                 "lights the stage (X11)"))
    return rows


# --- safe frames -----------------------------------------------------------------------------


def safe_frame_rect(width: int, height: int, aspect: str) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixels, y down: the largest centred box of `aspect` in the window."""
    from engine.scene.model import ASPECTS

    w, h = ASPECTS[aspect]
    target = w / h
    if width / height > target:
        box_w, box_h = height * target, float(height)
    else:
        box_w, box_h = float(width), width / target
    x0 = int(round((width - box_w) / 2.0))
    y0 = int(round((height - box_h) / 2.0))
    return (x0, y0, x0 + int(round(box_w)), y0 + int(round(box_h)))
