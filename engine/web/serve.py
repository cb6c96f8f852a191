"""`maquette serve`: a small static server for a `maquette web` folder.

Loopback (127.0.0.1) unless another interface is asked for; the MIME types a
model-viewer page needs (model/gltf-binary, model/vnd.usdz+zip, image/vnd.radiance);
single byte-range requests (206, 416); a request whose path has a `..` segment, or
that resolves (through a symbolic link) outside the folder, is refused with 403.
"""

from __future__ import annotations

import http.server
import os
import posixpath
import re
import sys
import threading
import urllib.parse
from functools import partial
from pathlib import Path

MIME_TYPES = {
    ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json",
    ".bin": "application/octet-stream",
    ".usdz": "model/vnd.usdz+zip",
    ".hdr": "image/vnd.radiance",
    ".webp": "image/webp",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".ktx2": "image/ktx2",
}
LOOPBACK = "127.0.0.1"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files of one folder; GET and HEAD only."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    server_version = "maquette-serve"
    quiet = False

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if not self.quiet:
            sys.stderr.write(f"serve: {self.address_string()} {format % args}\n")

    def _local_path(self) -> Path | None:
        """The file or folder under the root that the request names, or None (refused)."""
        raw = urllib.parse.urlsplit(self.path).path
        path = urllib.parse.unquote(raw, errors="strict")
        if "\x00" in path or "\\" in path:
            return None
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            return None
        root = Path(self.directory).resolve()
        target = root.joinpath(*parts) if parts else root
        try:
            resolved = target.resolve()
        except (OSError, RuntimeError):
            return None
        if resolved != root and root not in resolved.parents:
            return None
        return resolved

    def translate_path(self, path: str) -> str:
        local = self._local_path()
        return str(local) if local is not None else ""

    def send_head(self):
        try:
            local = self._local_path()
        except UnicodeDecodeError:
            local = None
        if local is None:
            self.send_error(403, "path outside the served folder")
            return None
        if local.is_dir():
            index = local / "index.html"
            if not index.is_file():
                self.send_error(404, "no index.html here")
                return None
            if not urllib.parse.urlsplit(self.path).path.endswith("/"):
                self.send_response(301)
                parts = urllib.parse.urlsplit(self.path)
                self.send_header("Location", urllib.parse.urlunsplit(
                    (parts[0], parts[1], parts[2] + "/", parts[3], parts[4])))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            local = index
        if not local.is_file():
            self.send_error(404, "file not found")
            return None
        ctype = self.guess_type(str(local))
        handle = open(local, "rb")
        size = os.fstat(handle.fileno()).st_size
        start, end = 0, size - 1
        header = self.headers.get("Range")
        status = 200
        if header:
            match = _RANGE.match(header.strip())
            if match is None or match.group(1) == match.group(2) == "":
                handle.close()
                self._unsatisfiable(size)
                return None
            first, last = match.groups()
            if first == "":  # the last N bytes
                start, end = max(0, size - int(last)), size - 1
            else:
                start = int(first)
                end = min(int(last), size - 1) if last else size - 1
            if start >= size or start > end:
                handle.close()
                self._unsatisfiable(size)
                return None
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        handle.seek(start)
        self._remaining = end - start + 1
        return handle

    def _unsatisfiable(self, size: int) -> None:
        self.send_response(416)
        self.send_header("Content-Range", f"bytes */{size}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        while remaining is None or remaining > 0:
            chunk = source.read(1 << 16 if remaining is None else min(1 << 16, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            if remaining is not None:
                remaining -= len(chunk)

    def guess_type(self, path):
        return MIME_TYPES.get(posixpath.splitext(path)[1].lower()) or super().guess_type(path)


def make_server(folder: Path, host: str = LOOPBACK, port: int = 8000,
                quiet: bool = False) -> http.server.ThreadingHTTPServer:
    """A server for `folder` bound to host:port (port 0: any free port); not started."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    handler = type("Handler", (SiteHandler,), {"quiet": quiet})
    server = http.server.ThreadingHTTPServer((host, port),
                                             partial(handler, directory=str(folder.resolve())))
    server.daemon_threads = True
    return server


def lan_address() -> str | None:
    """This machine's address on its local network (a UDP socket's source address for
    a private destination; no packet is sent), or None."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
    except OSError:
        return None


def url_of(server) -> str:
    """The URL to open: the bound address, or the LAN address for all interfaces."""
    host, port = server.server_address[:2]
    if host in ("0.0.0.0", "::"):
        host = lan_address() or host
    return f"http://{host}:{port}/"


def qr_text(url: str) -> str | None:
    """`url` as a QR code drawn with block characters (for a phone's camera), or None
    where the segno package is missing."""
    try:
        import segno
    except ImportError:
        return None
    import io

    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def serve_in_thread(folder: Path, host: str = LOOPBACK, port: int = 0, quiet: bool = True):
    """Start a server in a daemon thread (tests, previews). Returns (server, url);
    call server.shutdown() to stop it."""
    server = make_server(folder, host, port, quiet=quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url_of(server)
