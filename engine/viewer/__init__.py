"""The live viewer: `maquette view ASSET|SCENE|IMAGE`.

`state` (ViewState and the pure input handlers) and `script` (--keys) import no
Panda3D; `app` (the window, HUD, hot reload, background generation) is the glue.
"""

from engine.viewer.state import (
    BINDINGS,
    MODES,
    Command,
    Drag,
    Key,
    ViewContext,
    ViewState,
    Wheel,
    camera_for,
    handle,
)

__all__ = ["BINDINGS", "MODES", "Command", "Drag", "Key", "ViewContext", "ViewState", "Wheel",
           "camera_for", "handle"]
