"""The sandbox's Databricks REST API on loopback: a small threaded HTTP server bound to
127.0.0.1 only, with the workspace's personal access tokens as its bearer check.

One server answers for every workspace of a sandbox: the token says which workspace a call
is for, as each Azure Databricks workspace's own host would. It answers databricks-sdk's
`/.well-known/databricks-config` probe, so `WorkspaceClient(profile=…)` starts at once.

Tests inject faults through `faults` (429 with Retry-After, 503): the clients' retries are
then exercised against the real server, which is what the Azure target's tests reuse.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import socket
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from labtui.targets.base import TargetError
from labtui.targets.local.databricks import LocalDatabricks, api_url
from labtui.targets.local.databricks_api.errors import ApiError, unauthenticated
from labtui.targets.local.databricks_api.routes import Api, Request
from labtui.targets.resources import DatabricksHost

log = logging.getLogger("labtui.databricks_api")

IDENTITY_PATH = "/labtui/sandbox"
"""Answers which sandbox a server serves, so a second labtui can tell its own sandbox is
already served from a stranger holding the port."""

LOOPBACK_NAMES = ("127.0.0.1", "localhost")
"""Hosts whose absolute-form requests are answered: the legacy `databricks` CLI (0.17, 0.18)
drops the port of its host, so it reaches the server as its HTTP proxy
(`http_proxy=http://127.0.0.1:PORT`) and asks for `http://127.0.0.1/api/...`."""

PROBE_SECONDS = 2.0
MAX_BODY = 64 * 1024 * 1024
"""Notebooks are imported whole in one JSON body; Databricks' own limit is 10 MB of source."""


class AlreadyServed(TargetError):
    """Another process serves this sandbox's REST API already (fine: profiles work)."""


@dataclass
class Fault:
    status: int
    retry_after: float | None


class Faults:
    """Answers to give instead of the real ones, oldest first (a test hook)."""

    def __init__(self) -> None:
        self._queue: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.served = 0

    def inject(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `times` calls with `status` (429 and 503 carry Retry-After)."""
        with self._lock:
            self._queue.extend(Fault(status, retry_after) for _ in range(times))

    def next(self) -> Fault | None:
        with self._lock:
            if not self._queue:
                return None
            self.served += 1
            return self._queue.popleft()


def sandbox_identity(databricks: LocalDatabricks) -> str:
    """An id of the sandbox that names no path (the answer is readable by any local user)."""
    return hashlib.sha256(str(databricks.sandbox_root.resolve()).encode()).hexdigest()[:16]


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: DatabricksApiServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer
    server_version = "labtui-databricks"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, the client's delayed ACK
        # holds every answer back about 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_PATCH(self) -> None:
        self._answer("PATCH")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def log_message(self, format: str, *args: Any) -> None:
        # The request line holds no token (it travels in the Authorization header only);
        # requests are logged by _answer without their query.
        pass

    def _answer(self, method: str) -> None:
        owner = self.server.owner
        url = urlsplit(self.path)
        try:
            body = self._body()
            if url.scheme and url.hostname not in LOOPBACK_NAMES:
                raise ApiError(403, "PERMISSION_DENIED", f"{url.hostname} is not served here: "
                               "the local Databricks workspace is no proxy")
            fault = owner.faults.next()
            if fault is not None:
                self._fault(method, url.path, fault)
                return
            if method == "GET" and url.path == "/.well-known/databricks-config":
                self._json(200, {}, method, url.path)  # nothing to discover: a token host
                return
            if method == "GET" and url.path == IDENTITY_PATH:
                self._json(200, {"sandbox": owner.identity}, method, url.path)
                return
            authorization = self.headers.get("Authorization", "")
            workspace = owner.authenticate(authorization, dict(self.headers.items()))
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            answer = owner.api.call(Request(method, url.path, query, body, workspace,
                                            owner.is_user_token(authorization)))
        except ApiError as exc:
            self._json(exc.status, exc.body(), method, url.path)
            return
        except Exception as exc:  # one broken call must not take the server down
            log.error("%s %s failed: %s", method, url.path, type(exc).__name__)
            self._json(500, {"error_code": "INTERNAL_ERROR",
                             "message": f"the local workspace failed: {type(exc).__name__}"},
                       method, url.path)
            return
        self._json(200, answer, method, url.path)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(400, "MAX_NOTEBOOK_SIZE_EXCEEDED", "the request body is too large")
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            return _form(content_type, raw)
        if not raw.strip():
            return {}
        try:
            parsed = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "MALFORMED_REQUEST",
                           "Invalid JSON given in the body of the request") from None
        if not isinstance(parsed, dict):
            raise ApiError(400, "MALFORMED_REQUEST", "the request body must be a JSON object")
        return parsed

    def _fault(self, method: str, path: str, fault: Fault) -> None:
        code = {429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE"}.get(
            fault.status, "INTERNAL_ERROR")
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        self._json(fault.status, {"error_code": code, "message": "injected fault"},
                   method, path, headers)

    def _json(self, status: int, payload: dict[str, Any], method: str, path: str,
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        log.info("%s %s %d", method, path, status)


class DatabricksApiServer:
    """The REST API of one sandbox's Databricks workspaces on 127.0.0.1.

    Raises (on creation):
        AlreadyServed: another process serves this sandbox on its port already.
        TargetError: the port is taken by another program, or cannot be bound.
    """

    def __init__(self, databricks: LocalDatabricks, *, port: int | None = None) -> None:
        wanted = databricks.api_port if port is None else port
        self.identity = sandbox_identity(databricks)
        self.faults = Faults()
        try:
            self._httpd = _HttpServer(("127.0.0.1", wanted), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise _port_taken(wanted, self.identity) from None
            raise TargetError(f"cannot serve the Databricks REST API on 127.0.0.1:{wanted}: "
                              f"{exc.strerror or exc}") from None
        self.port = int(self._httpd.server_address[1])
        self.url = api_url(self.port)
        self.api = Api(databricks, self.url)
        self._databricks = databricks
        self._httpd.owner = self
        self._thread: threading.Thread | None = None
        self.other_tokens: Callable[[str, Mapping[str, str]], DatabricksHost | None] | None \
            = None
        """Who else may call: given a bearer token that is no personal access token of the
        sandbox and the request's headers, the host of the workspace it is for, or None (or an
        ApiError to answer). Serving this API as an Azure Databricks workspace's (the azure
        target's tests) it checks Entra tokens."""

        self.user_tokens: Callable[[str], bool] | None = None
        """Which bearer tokens are a Microsoft Entra user's (for Key Vault-backed scopes);
        None: none are (the sandbox's own callers hold personal access tokens)."""

    def is_user_token(self, header: str) -> bool:
        """Whether the call's bearer token is an Entra user's (see `user_tokens`)."""
        scheme, _, token = header.partition(" ")
        return (scheme.lower() == "bearer" and self.user_tokens is not None
                and self.user_tokens(token.strip()))

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def authenticate(self, header: str, headers: Mapping[str, str] | None = None
                     ) -> DatabricksHost:
        """The host of the workspace a bearer token belongs to (raises a 401 ApiError)."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("Credential was not sent or was of an unsupported type for "
                                  "this API: send a personal access token as Bearer")
        workspace = self._databricks.token_workspace(token.strip())
        if workspace is None and self.other_tokens is not None:
            workspace = self.other_tokens(token.strip(), headers or {})
        if workspace is None:
            raise unauthenticated("Invalid access token.")
        return workspace

    def start(self) -> DatabricksApiServer:
        """Serve in a background thread until `close()`."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"databricks-api-{self.port}")
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until `close()` from another one (or KeyboardInterrupt)."""
        self._httpd.serve_forever()

    def close(self) -> None:
        """Stop answering (the port refuses connections again) and cancel runs going."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self.api.close()

    def __enter__(self) -> DatabricksApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _form(content_type: str, raw: bytes) -> dict[str, Any]:
    """The fields of a multipart form (`workspace.upload` sends one): text fields as they
    are, the file part `content` base64-encoded as the JSON form of import carries it."""
    import base64
    import email
    import email.policy

    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + raw,
        policy=email.policy.HTTP)
    if not message.is_multipart():
        raise ApiError(400, "MALFORMED_REQUEST", "the multipart form cannot be read")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        fields[name] = (base64.b64encode(payload).decode("ascii") if name == "content"
                        else payload.decode("utf-8"))
    return fields


def _port_taken(port: int, identity: str) -> TargetError:
    url = api_url(port)
    try:
        with urllib.request.urlopen(url + IDENTITY_PATH, timeout=PROBE_SECONDS) as answer:
            served = json.loads(answer.read()).get("sandbox")
    except (OSError, ValueError, urllib.error.URLError):
        served = None
    if served == identity:
        return AlreadyServed(f"the Databricks REST API of this sandbox is already served at "
                             f"{url} (by another labtui)")
    return TargetError(f"cannot serve the Databricks REST API: port {port} on 127.0.0.1 is "
                       "taken by another program: stop it, then serve again")
