"""The shared core: one HTTPS server on 127.0.0.1 that routes requests to the service fakes.

TLS comes from a throw-away trustme CA; clients trust it explicitly (`ca_path`, handed to the
SDK's transport as `connection_verify`), never through the process environment. Each request is
first offered to the fault injector, then to the route whose method and path pattern match
(paths compare case-insensitively, as ARM's do). Every request is logged with the status it got.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trustme

from .faults import Fault, FaultInjector


@dataclass
class Request:
    """One parsed request, as a handler sees it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    base_url: str

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    """What a handler answers: a status, headers and a body (JSON when `body` is not bytes)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


Handler = Callable[[Request, "re.Match[str]"], Response]


def error(status: int, code: str, message: str, **headers: str) -> Response:
    """The ARM / Key Vault error envelope: {"error": {"code", "message"}}."""
    return Response(status, {"error": {"code": code, "message": message}}, dict(headers))


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    query: dict[str, str]
    status: int  # 0 when a fault dropped the connection


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class FakeAzure:
    """The loopback server. Services register routes; tests read `log` and script `faults`."""

    def __init__(self, tmp: Path, ca: trustme.CA | None = None) -> None:
        """A server with a new CA in `tmp`, or (another host of the same cloud) `ca`'s."""
        self.faults = FaultInjector()
        self.log: list[Logged] = []
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.ca = ca or trustme.CA()
        self.ca_path = tmp / "fake-azure-ca.pem"
        if ca is None:
            self.ca.cert_pem.write_to_path(str(self.ca_path))
        ca = self.ca
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._httpd = _TLSServer(("127.0.0.1", 0), _Handler, context, self)
        self.port = self._httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeAzure:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve `method` requests whose whole path matches `pattern` (case-insensitive)."""
        self._routes.append(_Route(method.upper(), re.compile(pattern, re.I), handler))

    def count(self, method: str, path: str, status: int | None = None) -> int:
        """How many logged requests had `method`, a path matching `path` (and `status`)."""
        rx = re.compile(path, re.I)
        with self._lock:
            return sum(
                1
                for e in self.log
                if e.method == method and rx.search(e.path) and status in (None, e.status)
            )

    # --- used by the request handler -------------------------------------------------------

    def _record(self, request: Request, status: int) -> None:
        with self._lock:
            self.log.append(Logged(request.method, request.path, request.query, status))

    def _dispatch(self, request: Request) -> Response:
        allowed = False
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            allowed = True
            if route.method == request.method:
                return route.handler(request, match)
        if allowed:
            return error(405, "MethodNotAllowed", f"{request.method} is not allowed here")
        return error(404, "NotFound", f"no fake serves {request.method} {request.path}")


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
        fake: FakeAzure,
    ) -> None:
        super().__init__(address, handler)
        self.context = context
        self.fake = fake

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The handshake runs in the request's own thread, so one slow client blocks no one.
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(tls, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    server: _TLSServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # the fake's own log is `FakeAzure.log`

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
            base_url=fake.url,
        )
        fault = fake.faults.take(request.method, request.path)
        if fault is not None and fault.gate is not None:
            fault.gate.wait(30)
        if fault is not None and fault.kind == "meanwhile":
            assert fault.action is not None
            fault.action(request)
            fault = None
        if fault is not None and fault.kind == "lost":
            fake._record(request, fake._dispatch(request).status)
            self._fail(fault, fake)
            return
        if fault is not None and fault.kind != "status":
            fake._record(request, 0)
            self._fail(fault, fake)
            return
        if fault is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            response = error(fault.status, fault.code, f"injected fault: {fault.code}", **headers)
            headers["x-ms-error-code"] = fault.code
            response.headers.update(headers)
        else:
            response = fake._dispatch(request)
        fake._record(request, response.status)
        self._write(request, response)

    def _fail(self, fault: Fault, fake: FakeAzure) -> None:
        if fault.kind == "stall":
            fake._stopping.wait(fault.seconds)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            return

    def _write(self, request: Request, response: Response) -> None:
        payload = response.encoded()
        self.send_response(response.status)
        headers = dict(response.headers)
        if response.body is not None and not isinstance(response.body, bytes):
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        headers.setdefault("Content-Length", str(len(payload)))
        headers.setdefault("x-ms-request-id", request.headers.get("x-ms-client-request-id", "fake"))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if request.method != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = _serve
