"""A real HTTP server on 127.0.0.1 for download tests, with per-path misbehaviour switches.

Use the ``http_server`` fixture (``pytest_plugins = ["http_server"]`` in a test module or the
root conftest), or ``with LocalHTTPServer() as server:`` anywhere::

    route = http_server.add("/m.onnx", data, drop_after=1000)   # drops once after 1000 bytes
    url = http_server.url("/m.onnx")
    ...
    assert http_server.requests_for("/m.onnx")[1].headers["range"] == "bytes=1000-"

Switches (keyword arguments of ``add``, attributes of the returned :class:`Route`, which may be
changed at any time):

- ``honor_range=False``: answer every Range request 200 with the whole body;
- ``honor_if_range=False``: resume with 206 even when If-Range names an old version;
- ``drop_after=N``: close the connection after N body bytes, ``drop_times`` times (None: always);
- ``serve="wrong" | "lfs" | "html"``: same-size corrupted bytes, a Git LFS pointer, an HTML page;
- ``status=404``: always answer that error; ``fail_first=[500, 500]``: those first, then serve;
- ``redirect="ftp://host/x"``: answer 302 with that ``Location``;
- ``delay=0.05``: sleep before every ``chunk_size`` bytes (a slow server);
- ``later_bodies=(new,)``: request n serves ``[body, *later_bodies][n]`` (the last one after
  that), each version with its own ETag and Last-Modified: a file that changes on the server;
- ``send_length``, ``send_etag``, ``send_last_modified``, ``content_type``.

PYTEST_DONT_REWRITE: the marker lets test modules both import this module and name it in
``pytest_plugins``, in any order, without pytest's "already imported" warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import pytest

logger = logging.getLogger(__name__)

HTML_PAGE = (b"\n  <!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
             b"<body>Please sign in to continue.</body></html>\n")


def lfs_pointer(data: bytes) -> bytes:
    """The Git LFS pointer file that a repository stores instead of ``data``."""
    return (b"version https://git-lfs.github.com/spec/v1\n"
            b"oid sha256:" + hashlib.sha256(data).hexdigest().encode() + b"\n"
            b"size " + str(len(data)).encode() + b"\n")


def corrupt(data: bytes) -> bytes:
    """Same length, different bytes."""
    return bytes(b ^ 0x5A for b in data)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    status: int = 0


@dataclass
class Route:
    body: bytes
    later_bodies: tuple[bytes, ...] = ()
    serve: str = "body"
    content_type: str | None = None
    honor_range: bool = True
    honor_if_range: bool = True
    send_length: bool = True
    send_etag: bool = True
    send_last_modified: bool = True
    status: int | None = None
    redirect: str | None = None
    fail_first: list[int] = field(default_factory=list)
    drop_after: int | None = None
    drop_times: int | None = 1
    delay: float = 0.0
    chunk_size: int = 16 * 1024
    hits: int = 0
    drops: int = 0

    def version(self, n: int) -> tuple[bytes, str, str]:
        """(body, etag, last_modified) served to request number ``n`` (0-based)."""
        versions = (self.body, *self.later_bodies)
        index = min(n, len(versions) - 1)
        data = versions[index]
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        return data, etag, formatdate(1_700_000_000 + 1000 * index, usegmt=True)

    def payload(self, data: bytes) -> tuple[bytes, str]:
        if self.serve == "wrong":
            return corrupt(data), self.content_type or "application/octet-stream"
        if self.serve == "lfs":
            return lfs_pointer(data), self.content_type or "text/plain; charset=utf-8"
        if self.serve == "html":
            return HTML_PAGE, self.content_type or "text/html; charset=utf-8"
        return data, self.content_type or "application/octet-stream"


_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def do_GET(self) -> None:
        self._respond(head=False)

    def _respond(self, *, head: bool) -> None:
        app = self.server.app
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = RecordedRequest(self.command, path, headers)
        with app.lock:
            app.requests.append(record)
            route = app.routes.get(path)
            if route is None:
                record.status = 404
            else:
                n = route.hits
                route.hits += 1
                if route.fail_first:
                    record.status = route.fail_first.pop(0)
                elif route.status is not None:
                    record.status = route.status
        if record.status:
            self._error(record.status)
            return
        assert route is not None
        if route.redirect is not None:
            record.status = 302
            self.send_response(302)
            self.send_header("Location", route.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data, etag, modified = route.version(n)
        data, content_type = route.payload(data)
        start, end, status = 0, len(data), 200
        match = _RANGE.match(self.headers.get("Range", ""))
        if_range = self.headers.get("If-Range")
        if match and route.honor_range and (
            if_range is None or if_range in (etag, modified) or not route.honor_if_range
        ):
            start = int(match.group(1))
            end = min(int(match.group(2)) + 1, len(data)) if match.group(2) else len(data)
            if start >= len(data):
                record.status = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        record.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Accept-Ranges", "bytes" if route.honor_range else "none")
        if route.send_length:
            self.send_header("Content-Length", str(end - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        if route.send_etag:
            self.send_header("ETag", etag)
        if route.send_last_modified:
            self.send_header("Last-Modified", modified)
        self.end_headers()
        if not head:
            self._body(route, data[start:end])

    def _error(self, code: int) -> None:
        body = f"error {code}\n".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self, route: Route, body: bytes) -> None:
        with self.server.app.lock:
            drop = route.drop_after is not None and (
                route.drop_times is None or route.drops < route.drop_times)
            if drop:
                route.drops += 1
        limit = min(route.drop_after, len(body)) if drop and route.drop_after is not None \
            else len(body)
        sent = 0
        try:
            while sent < limit:
                if route.delay and self.server.app.stopping.wait(route.delay):
                    break
                piece = body[sent:min(sent + route.chunk_size, limit)]
                self.wfile.write(piece)
                self.wfile.flush()
                sent += len(piece)
            if drop:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (a cancelled download)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    app: LocalHTTPServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("request from %s failed", client_address, exc_info=True)


class LocalHTTPServer:
    """A ThreadingHTTPServer on 127.0.0.1 (a free port) serving registered paths."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalHTTPServer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.app = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="test-http-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow responses in progress end at their next chunk."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, body: bytes, **behaviour: Any) -> Route:
        """Serve ``body`` at ``path`` (replacing any earlier route) with the given switches."""
        route = Route(body=body, **behaviour)
        with self.lock:
            self.routes[path] = route
        return route

    def route(self, path: str) -> Route:
        return self.routes[path]

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def hits(self, path: str) -> int:
        return len(self.requests_for(path))


@pytest.fixture
def http_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalHTTPServer]:
    """A started :class:`LocalHTTPServer`, stopped after the test.

    Proxy settings from the environment would send 127.0.0.1 requests to the proxy, so the
    fixture exempts local addresses through ``no_proxy``.
    """
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    with LocalHTTPServer() as server:
        yield server


__all__ = ["HTML_PAGE", "LocalHTTPServer", "RecordedRequest", "Route", "corrupt",
           "http_server", "lfs_pointer"]
