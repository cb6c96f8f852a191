"""Files dropped on the viewer's window on X11, by the XDND protocol (version 5,
https://freedesktop.org/wiki/Specifications/XDND), through python-xlib.

Panda3D 1.10 has no file-drop event (panda3d/panda3d#861): its X connection receives
the drag's client messages and ignores them. XDND lets a window name a *proxy*
(`XdndProxy`): a drag source then sends every message to the proxy instead. So this
module opens its own connection to the same display, makes an unmapped proxy window,
and marks Panda's window as XdndAware with that proxy; the messages come to this
connection, which answers them (XdndStatus: copy accepted for `text/uri-list`), asks
for the dropped URIs (the XdndSelection), and says XdndFinished. Nothing of Panda's
window handling changes. `poll()` is called once a viewer step and never blocks.

Without python-xlib, a display or an X11 window (Windows, macOS, Wayland without
XWayland) there is no receiver: `XdndReceiver.open` returns None.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import unquote, urlparse

XDND_VERSION = 5
URI_LIST = "text/uri-list"
_ATOMS = ("XdndAware", "XdndProxy", "XdndEnter", "XdndPosition", "XdndStatus", "XdndLeave",
          "XdndDrop", "XdndFinished", "XdndSelection", "XdndActionCopy", "XdndTypeList",
          URI_LIST, "MAQUETTE_DROP")


def uri_list_paths(data: bytes | str) -> list[Path]:
    """Local file paths of a text/uri-list (RFC 2483: one URI a line, `#` comments):
    file: URIs on this host (no host, localhost or this machine's name); others dropped."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    hosts = {"", "localhost", socket.gethostname()}
    paths = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip().rstrip("\x00")
        if not line or line.startswith("#"):
            continue
        uri = urlparse(line)
        if uri.scheme == "file" and uri.netloc in hosts:
            paths.append(Path(unquote(uri.path)))
    return paths


class XdndReceiver:
    """Receives drops on one X11 window; `poll()` returns the lists of paths dropped since
    the last call."""

    def __init__(self, display, target_xid: int):
        from Xlib import X, Xatom

        self._X = X
        self.display = display
        self.atoms = {name: display.intern_atom(name) for name in _ATOMS}
        self.target = display.create_resource_object("window", target_xid)
        root = display.screen().root
        self.proxy = root.create_window(-16, -16, 1, 1, 0, X.CopyFromParent, X.InputOnly,
                                        X.CopyFromParent, override_redirect=True)
        for window in (self.proxy, self.target):  # sources read either (GTK, Qt)
            window.change_property(self.atoms["XdndAware"], Xatom.ATOM, 32, [XDND_VERSION])
            window.change_property(self.atoms["XdndProxy"], Xatom.WINDOW, 32, [self.proxy.id])
        display.flush()
        self._source = None  # the drag source's window id while a drag is over us
        self._accept = False
        self._dropping = None  # the source whose drop's selection we asked for

    @classmethod
    def open(cls, window) -> XdndReceiver | None:
        """A receiver for a Panda3D window on X11, or None where there cannot be one."""
        if not os.environ.get("DISPLAY"):
            return None
        try:
            from Xlib import display as xdisplay
        except ImportError:  # python-xlib is optional (the `drop` extra)
            return None
        try:
            handle = window.get_window_handle()
            xid = handle.get_int_handle() if handle is not None else 0
            if not xid:
                return None
            return cls(xdisplay.Display(os.environ["DISPLAY"]), int(xid))
        except Exception:  # no such display or window: no drops, the viewer still works
            return None

    def _send(self, window_id: int, message: str, data: list[int]) -> None:
        from Xlib.protocol import event

        window = self.display.create_resource_object("window", window_id)
        ev = event.ClientMessage(window=window, client_type=self.atoms[message],
                                 data=(32, (data + [0] * 5)[:5]))
        window.send_event(ev, event_mask=0)
        self.display.flush()

    def _types(self, data) -> list[int]:
        if data[1] & 1:  # more than three types: on the source's XdndTypeList
            source = self.display.create_resource_object("window", data[0])
            prop = source.get_full_property(self.atoms["XdndTypeList"], self._X.AnyPropertyType)
            return list(prop.value) if prop is not None else []
        return [t for t in data[2:5] if t]

    def poll(self) -> list[list[Path]]:
        """Handle the pending XDND messages; the lists of dropped paths, one per drop."""
        X, atoms = self._X, self.atoms
        drops = []
        while self.display.pending_events():
            ev = self.display.next_event()
            if ev.type == X.ClientMessage:
                kind, data = ev.client_type, list(ev.data[1])
                if kind == atoms["XdndEnter"]:
                    self._source = data[0]
                    self._accept = atoms[URI_LIST] in self._types(data)
                elif kind == atoms["XdndPosition"]:
                    self._source = data[0]
                    self._send(data[0], "XdndStatus", [
                        self.target.id, 1 if self._accept else 0, 0, 0,
                        atoms["XdndActionCopy"] if self._accept else 0])
                elif kind == atoms["XdndLeave"]:
                    self._source, self._accept = None, False
                elif kind == atoms["XdndDrop"]:
                    if not self._accept:
                        self._send(data[0], "XdndFinished", [self.target.id, 0, 0])
                        continue
                    self._dropping = data[0]
                    self.proxy.convert_selection(atoms["XdndSelection"], atoms[URI_LIST],
                                                 atoms["MAQUETTE_DROP"], data[2])
                    self.display.flush()
            elif ev.type == X.SelectionNotify and self._dropping is not None:
                source, self._dropping = self._dropping, None
                paths = []
                if ev.property != X.NONE:
                    prop = self.proxy.get_full_property(atoms["MAQUETTE_DROP"],
                                                        X.AnyPropertyType)
                    self.proxy.delete_property(atoms["MAQUETTE_DROP"])
                    if prop is not None:
                        raw = prop.value
                        paths = uri_list_paths(raw if isinstance(raw, bytes | str)
                                               else bytes(raw))
                ok = bool(paths)
                self._send(source, "XdndFinished", [
                    self.target.id, 1 if ok else 0, atoms["XdndActionCopy"] if ok else 0])
                if paths:
                    drops.append(paths)
                self._source, self._accept = None, False
        return drops

    def close(self) -> None:
        try:
            for window in (self.target,):
                window.delete_property(self.atoms["XdndAware"])
                window.delete_property(self.atoms["XdndProxy"])
            self.proxy.destroy()
            self.display.close()
        except Exception:  # the window or display is already gone
            pass
