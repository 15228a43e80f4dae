"""ARM's asynchronous operations: the status monitor a 201/202 points at, polled to an end.

An operation stays `InProgress` for `polls` status reads, then runs its effect once and ends
`Succeeded` (or `Failed` with an error). The same operation answers both ARM patterns:
- `Azure-AsyncOperation`: `GET …/operationStatuses/{id}` → `{"status": "InProgress"}` …
  `{"status": "Succeeded"}`; the SDK then reads the resource (PUT) or stops (DELETE/POST);
- `Location`: `GET …/operationResults/{id}` → 202 while running, then 200 with the result (or
  204 with none); a failed operation answers its error status.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .server import FakeAzure, Request, Response, error


@dataclass
class Operation:
    id: str
    polls: int
    effect: Callable[[], Any] | None
    failure: tuple[int, str, str] | None  # status, code, message
    status: str = "InProgress"
    result: Any = None
    reads: int = 0


@dataclass
class Operations:
    fake: FakeAzure
    retry_after: int = 0
    """Real ARM says 10 to 60 s; the fake says 0 so tests don't wait (raise it to watch the SDK
    honour Retry-After)."""
    held: bool = False
    """While true, every operation stays `InProgress` however often it is read (a test kills
    the client mid-wait, then lets the operations go on)."""
    _ops: dict[str, Operation] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        prefix = r"/subscriptions/(?P<sub>[^/]+)(?:/providers/(?P<ns>[^/]+)/locations/[^/]+)?"
        self.fake.route("GET", prefix + r"/operationStatuses/(?P<id>[^/]+)", self._status)
        self.fake.route("GET", prefix + r"/operationResults/(?P<id>[^/]+)", self._result)

    def start(
        self,
        polls: int,
        effect: Callable[[], Any] | None = None,
        failure: tuple[int, str, str] | None = None,
    ) -> Operation:
        """A new operation: `polls` reads in progress, then `effect()` (its value is the
        result) or the `failure`."""
        op = Operation(uuid.uuid4().hex, polls, effect, failure)
        with self._lock:
            self._ops[op.id] = op
        if polls <= 0:
            self._advance(op, read=False)
        return op

    def headers(
        self, op: Operation, sub: str, namespace: str, *, async_operation: bool, location: bool
    ) -> dict[str, str]:
        """The headers a 201/202 carries to point the client at `op`."""
        base = f"{self.fake.url}/subscriptions/{sub}/providers/{namespace}/locations/fake"
        out = {"Retry-After": str(self.retry_after)}
        if async_operation:
            out["Azure-AsyncOperation"] = f"{base}/operationStatuses/{op.id}?api-version=2023-07-01"
        if location:
            out["Location"] = f"{base}/operationResults/{op.id}?api-version=2023-07-01"
        return out

    def _advance(self, op: Operation, read: bool = True) -> None:
        with self._lock:
            if op.status != "InProgress":
                return
            if read and self.held:
                return
            if read:
                op.reads += 1
            if op.reads < op.polls:
                return
            if op.failure is not None:
                op.status = "Failed"
                return
            op.status = "Succeeded"
            effect = op.effect
        op.result = effect() if effect is not None else None

    def _find(self, match: re.Match[str]) -> Operation | None:
        with self._lock:
            return self._ops.get(match["id"])

    def _status(self, request: Request, match: re.Match[str]) -> Response:
        op = self._find(match)
        if op is None:
            return error(404, "OperationNotFound", f"operation {match['id']} was not found")
        self._advance(op)
        body: dict[str, Any] = {"id": request.path, "name": op.id, "status": op.status}
        if op.status == "Failed" and op.failure is not None:
            body["error"] = {"code": op.failure[1], "message": op.failure[2]}
        headers = {"Retry-After": str(self.retry_after)} if op.status == "InProgress" else {}
        return Response(200, body, headers)

    def _result(self, request: Request, match: re.Match[str]) -> Response:
        op = self._find(match)
        if op is None:
            return error(404, "OperationNotFound", f"operation {match['id']} was not found")
        self._advance(op)
        if op.status == "InProgress":
            url = f"{request.base_url}{request.path}?api-version={request.query.get('api-version')}"
            return Response(202, None, {"Location": url, "Retry-After": str(self.retry_after)})
        if op.status == "Failed" and op.failure is not None:
            status, code, message = op.failure
            return error(status, code, message)
        return Response(200, op.result) if op.result is not None else Response(204)
