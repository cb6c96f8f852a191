"""`--keys` scripts: replayed input for demos and tests (no Panda3D).

A script is a comma-separated list of steps:

- a key: `T`, `L`, `F12`, `Space`, `Left`, `Shift+Left`, `Ctrl+1`, `Plus`, `Minus`,
  `Comma`, `Period` (the separator is a comma, so `,` `.` `+` `-` have names), `[`, `]`,
  `PageUp`, `PageDown`;
- `wheel:N`: N wheel notches (positive zooms in);
- `drag:BUTTON:DX:DY`: a mouse drag of DX, DY pixels with left, middle or right;
- `wait:S`: let S seconds of viewer time pass (frames keep rendering);
- `wait:ready`: wait until the asset is on stage (an image is being generated).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InputError
from engine.viewer.state import KEYMAP, Drag, Event, Key, Wheel

ALIASES = {
    "comma": ",", "period": ".", "dot": ".", "plus": "+", "minus": "-", "equal": "+",
    "=": "+", "equals": "+", "arrow_left": "left", "arrow_right": "right", "arrow_up": "up",
    "arrow_down": "down", "esc": "escape", "spacebar": "space", "<": ",", ">": ".",
    "num_add": "+", "num_subtract": "-", "num_plus": "+", "num_minus": "-",
    "pageup": "page_up", "pagedown": "page_down", "pgup": "page_up", "pgdn": "page_down",
    "prior": "page_up", "next": "page_down", "bracketleft": "[", "bracketright": "]",
}
MODIFIERS = {"shift": "shift", "ctrl": "ctrl", "control": "ctrl", "alt": "alt"}


@dataclass(frozen=True)
class Wait:
    """Let `seconds` of viewer time pass; seconds=None waits for the asset to be ready."""

    seconds: float | None


Step = Event | Wait


def parse_key(token: str) -> Key:
    """'Shift+Left' → Key('left', shift=True). Raises ValueError for unknown keys."""
    parts = [p for p in token.strip().split("+")]
    if token.strip().endswith("+") and token.strip() != "+":  # 'Ctrl++'
        parts = parts[:-2] + ["+"]
    if token.strip() == "+":
        parts = ["+"]
    mods = {"shift": False, "ctrl": False, "alt": False}
    for mod in parts[:-1]:
        name = MODIFIERS.get(mod.strip().lower())
        if name is None:
            raise ValueError(f"unknown modifier {mod!r} in key {token!r} (shift, ctrl, alt)")
        mods[name] = True
    name = parts[-1].strip().lower()
    name = ALIASES.get(name, name)
    key = Key(name, **mods)
    from engine.viewer.state import key_spec

    if key_spec(key) not in KEYMAP and key_spec(Key(name)) not in KEYMAP:
        raise ValueError(f"unknown key {token!r}; keys: {', '.join(sorted(KEYMAP))}")
    return key


def parse_script(text: str) -> list[Step]:
    """Parse a --keys script into steps. Raises InputError (a ValueError) naming the bad
    step."""
    steps: list[Step] = []
    for i, raw in enumerate(t.strip() for t in text.split(",")):
        if not raw:
            continue
        low = raw.lower()
        try:
            if low.startswith("wait:"):
                arg = low[5:]
                if arg == "ready":
                    steps.append(Wait(None))
                else:
                    seconds = float(arg)
                    if not 0 <= seconds <= 3600:
                        raise ValueError("wait takes 0 to 3600 seconds")
                    steps.append(Wait(seconds))
            elif low.startswith("wheel:"):
                steps.append(Wheel(float(low[6:])))
            elif low.startswith("drag:"):
                _, button, dx, dy = low.split(":")
                if button not in ("left", "middle", "right"):
                    raise ValueError("drag button is left, middle or right")
                steps.append(Drag(button, float(dx), float(dy)))
            else:
                steps.append(parse_key(raw))
        except ValueError as exc:
            raise InputError(f"--keys step {i + 1} ({raw!r}): {exc}") from None
    return steps
