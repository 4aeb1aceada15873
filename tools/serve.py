"""The built book served on 127.0.0.1 as GitHub Pages serves it, for the Lighthouse audit and the browser tests.

:func:`serve` runs a static server from a thread, at a free port, with what GitHub Pages sends and
a browser notices: gzip ``Content-Encoding`` for text types, ``Cache-Control: max-age=600``, HTTP/1.1
keep-alive, and a ``301`` from a folder without its ``/`` to the folder. :func:`list_pages` names the
pages of a built site (``tools/audit.py`` scores them, the site tests visit them).
"""

from __future__ import annotations

import gzip
import http.server
import mimetypes
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

SKIPPED_DIRS = ("_static", "_sources", "_images")  # assets and copies of sources, not pages
CACHE_CONTROL = "max-age=600"  # what GitHub Pages sends
DESCRIPTION = (
    "Python's http.server on 127.0.0.1, as GitHub Pages serves the book: gzip `Content-Encoding` for "
    f"text types (HTML, CSS, JS, SVG, JSON), `Cache-Control: {CACHE_CONTROL}`, HTTP/1.1 keep-alive"
)
_COMPRESSIBLE = {"application/javascript", "application/json", "application/xml", "image/svg+xml"}
_TYPES = {  # where mimetypes' answer differs between systems, or is missing
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".map": "application/json",
    ".ipynb": "application/json",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


def list_pages(html: Path) -> list[str]:
    """Every page of the built site (``*.html`` outside ``_static/``, ``_sources/``, ``_images/``), sorted."""
    pages = []
    for path in html.rglob("*.html"):
        rel = path.relative_to(html)
        if rel.parts[0] not in SKIPPED_DIRS:
            pages.append(rel.as_posix())
    return sorted(pages)


def content_type(path: Path) -> str:
    """The ``Content-Type`` the server sends for ``path`` (text types with ``charset=utf-8``)."""
    kind = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


def compressible(kind: str) -> bool:
    """Whether GitHub Pages would gzip this type: text, scripts, JSON, XML and SVG (fonts and images are packed)."""
    kind = kind.split(";")[0].strip()
    return kind.startswith("text/") or kind in _COMPRESSIBLE


class _Bodies:
    """File bytes and their gzip form, read and compressed once per file (and again if it changes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[float, bytes, bytes | None]] = {}

    def get(self, path: Path, gzip_it: bool) -> tuple[bytes, bytes | None]:
        mtime = path.stat().st_mtime
        with self._lock:
            hit = self._cache.get(path)
        if hit is not None and hit[0] == mtime:
            return hit[1], hit[2]
        raw = path.read_bytes()
        packed = gzip.compress(raw, compresslevel=9, mtime=0) if gzip_it else None
        with self._lock:
            self._cache[path] = (mtime, raw, packed)
        return raw, packed


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD of static files under ``server.root``, gzip-encoded for text when the client accepts it."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real host
    server: _Server

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a run fetches thousands of files."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Record (path, status) of every answer where the server keeps a log (the browser tests do)."""
        if self.server.log is not None:
            self.server.log.append((self.path, int(code) if isinstance(code, int) else 0))

    def _resolve(self) -> Path | str | None:
        """The file a request names, or (a string) where a folder without its ``/`` moved to, or None."""
        root, url = self.server.root, urlsplit(self.path)
        path = (root / unquote(url.path).lstrip("/")).resolve()
        if not path.is_relative_to(root):
            return None
        if path.is_dir():
            if not url.path.endswith("/"):
                return url.path + "/" + (f"?{url.query}" if url.query else "")
            path = path / "index.html"
        return path if path.is_file() else None

    def _serve(self, body: bool) -> None:
        path = self._resolve()
        if isinstance(path, str):  # as GitHub Pages: /chapters/01 -> /chapters/01/, so relative links resolve
            self.send_response(301)
            self.send_header("Location", path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path is None:
            payload = b"404: not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)
            return
        kind = content_type(path)
        gzip_it = compressible(kind)
        raw, packed = self.server.bodies.get(path, gzip_it)
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        payload = packed if packed is not None and accepts else raw
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", CACHE_CONTROL)
        if gzip_it:
            self.send_header("Vary", "Accept-Encoding")
        if payload is packed:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if body:
            self.wfile.write(payload)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, log: list[tuple[str, int]] | None = None) -> None:
        self.root = root.resolve()
        self.bodies = _Bodies()
        self.log = log
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that drops a connection mid-response (closing a tab) is no error of the server."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(root: Path, log: list[tuple[str, int]] | None = None) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 at a free port from a thread; yields the base URL (ending in ``/``).

    With ``log``, every answer's (path, status) is appended to it.
    """
    server = _Server(root, log)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
