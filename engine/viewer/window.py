"""The on-screen window's input: Panda3D buttons, wheel, mouse drags and window events
translated to the pure state machine's events (engine.viewer.state: Key, Wheel, Drag).

Files dropped on the window arrive through engine.viewer.xdnd (X11 only).

Mouse positions are Panda's normalised window coordinates (-1..1, y up); drags are
sent in pixels (x right, y down). The window itself is opened by the one platform seam,
engine.render.engine_setup.open_window.
"""

from __future__ import annotations

from collections import deque

from engine.viewer.state import Drag, Event, Key, Wheel

BUTTON_NAMES = {
    "arrow_left": "left", "arrow_right": "right", "arrow_up": "up", "arrow_down": "down",
    "=": "+", "num_add": "+", "num_plus": "+", "num_subtract": "-", "num_minus": "-",
    "num_1": "1", "num_3": "3", "num_5": "5", "num_7": "7", "num_9": "9", "<": ",", ">": ".",
}
MOUSE_BUTTONS = {"mouse1": "left", "mouse2": "middle", "mouse3": "right"}
MODIFIER_BUTTONS = ("shift", "lshift", "rshift", "control", "lcontrol", "rcontrol", "alt",
                    "lalt", "ralt")


class WindowInput:
    """Listens to one window; queues events on `events`. on_resize(w, h) and on_close()
    are called from window events."""

    def __init__(self, base, window, size: tuple[int, int], events: deque[Event], on_resize,
                 on_close):
        from direct.showbase.DirectObject import DirectObject
        from panda3d.core import ModifierButtons

        self.base, self.window, self.events = base, window, events
        self.on_resize, self.on_close = on_resize, on_close
        self.size = size  # pixels, as asked when the window was opened
        self._drag: dict[str, tuple[float, float]] = {}
        base.setupMouse(window)
        thrower = base.buttonThrowers[0].node()
        thrower.set_modifier_buttons(ModifierButtons())
        thrower.set_button_down_event("maquette-down")
        thrower.set_button_repeat_event("maquette-repeat")
        thrower.set_button_up_event("maquette-up")
        self._listener = DirectObject()  # not ShowBase itself: it has its own window-event
        self._listener.accept("maquette-down", self._on_button)
        self._listener.accept("maquette-repeat", self._on_button)
        self._listener.accept("maquette-up", self._on_button_up)
        self._listener.accept("window-event", self._on_window_event)
        from engine.viewer.xdnd import XdndReceiver

        self.drops = XdndReceiver.open(window)  # None: no file drops here (not X11 ...)

    def poll_drops(self) -> list:
        """The lists of file paths dropped on the window since the last call."""
        return self.drops.poll() if self.drops is not None else []

    def modifiers(self) -> dict[str, bool]:
        from panda3d.core import KeyboardButton

        watcher = self.base.mouseWatcherNode

        def down(*buttons) -> bool:
            return any(watcher.is_button_down(b) for b in buttons)

        return {"shift": down(KeyboardButton.shift(), KeyboardButton.lshift(),
                              KeyboardButton.rshift()),
                "ctrl": down(KeyboardButton.control(), KeyboardButton.lcontrol(),
                             KeyboardButton.rcontrol()),
                "alt": down(KeyboardButton.alt(), KeyboardButton.lalt(), KeyboardButton.ralt())}

    @property
    def dragging(self) -> bool:
        return bool(self._drag)

    def _on_button(self, name: str) -> None:
        if name in MOUSE_BUTTONS:
            if self.base.mouseWatcherNode.has_mouse():
                m = self.base.mouseWatcherNode.get_mouse()
                self._drag[MOUSE_BUTTONS[name]] = (m.x, m.y)
            return
        if name in ("wheel_up", "wheel_down"):
            self.events.append(Wheel(1.0 if name == "wheel_up" else -1.0))
            return
        if name in MODIFIER_BUTTONS:
            return
        self.events.append(Key(BUTTON_NAMES.get(name, name), **self.modifiers()))

    def _on_button_up(self, name: str) -> None:
        if name in MOUSE_BUTTONS:
            self._drag.pop(MOUSE_BUTTONS[name], None)

    def poll_mouse(self) -> None:
        """Queue a Drag per held button that moved since the last poll."""
        if not self._drag:
            return
        watcher = self.base.mouseWatcherNode
        if not watcher.has_mouse():
            return
        m = watcher.get_mouse()
        shift = self.modifiers()["shift"]
        width, height = self.size
        for button, (x, y) in list(self._drag.items()):
            dx, dy = (m.x - x) * width / 2.0, -(m.y - y) * height / 2.0
            if dx or dy:
                self.events.append(Drag(button, dx, dy, float(height), shift))
            self._drag[button] = (m.x, m.y)

    def _on_window_event(self, window) -> None:
        if window != self.window:
            return
        props = window.get_properties()
        if not props.get_open():
            self.on_close()
            return
        w, h = props.get_x_size(), props.get_y_size()
        if (w, h) != self.size and w > 0 and h > 0:
            self.size = (w, h)
            self.on_resize(w, h)

    def close(self) -> None:
        self._listener.ignore_all()
        if self.drops is not None:
            self.drops.close()
