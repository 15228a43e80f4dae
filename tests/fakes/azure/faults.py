"""Scripted faults: what the next N matching requests get instead of the service's answer.

A fault matches a method and a regular expression searched in the request's path; each fires
`times` times, then the request reaches the service again. Every firing is recorded, so a test
can assert that the SDK's retry policy really met the fault.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fault:
    """What a faulted request meets: a status (with Retry-After), a stall, a dropped line,
    or a lost answer."""

    kind: str  # "status" | "stall" | "drop" | "lost" | "meanwhile"
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0
    code: str = ""
    action: Callable[[Any], None] | None = field(default=None, compare=False)
    """For "meanwhile": what someone else does just before the request is served."""
    gate: threading.Event | None = field(default=None, compare=False)
    """The request is held until this is set (at most 30 s), then meets the fault."""

    @classmethod
    def throttle(cls, retry_after: float = 1) -> Fault:
        """429 Too Many Requests with Retry-After, as ARM and Key Vault throttle."""
        return cls("status", status=429, retry_after=retry_after, code="TooManyRequests")

    @classmethod
    def unavailable(cls, retry_after: float | None = None) -> Fault:
        """503 Service Unavailable (optionally with Retry-After)."""
        return cls("status", status=503, retry_after=retry_after, code="ServiceUnavailable")

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        """Read the request, answer nothing for `seconds`, then close: a client read timeout."""
        return cls("stall", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Read the request and close the connection without a response (nothing done)."""
        return cls("drop")

    @classmethod
    def lose_answer(cls) -> Fault:
        """Serve the request (its effect happens), then close without sending the answer: the
        case where a client's retry can make a duplicate."""
        return cls("lost")

    @classmethod
    def refuse(cls, status: int, code: str, gate: threading.Event | None = None) -> Fault:
        """Any other error status, e.g. 403 AuthorizationPermissionMismatch while a role
        assignment propagates (held, with `gate`, until the assignment has been made)."""
        return cls("status", status=status, code=code, gate=gate)

    @classmethod
    def meanwhile(cls, action: Callable[[Any], None]) -> Fault:
        """`action(request)` runs just before the request is served as usual: someone else
        acting in between (the same role assigned under another name, say)."""
        return cls("meanwhile", action=action)


@dataclass
class _Script:
    method: str
    path: re.Pattern[str]
    fault: Fault
    remaining: int


@dataclass(frozen=True)
class Fired:
    """One fault that met one request."""

    method: str
    path: str
    fault: Fault


@dataclass
class FaultInjector:
    """Thread-safe list of scripted faults, consulted before every request is served."""

    _scripts: list[_Script] = field(default_factory=list)
    fired: list[Fired] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, fault: Fault, times: int = 1) -> None:
        """The next `times` requests with `method` whose path matches `path` meet `fault`."""
        with self._lock:
            self._scripts.append(_Script(method.upper(), re.compile(path, re.I), fault, times))

    def take(self, method: str, path: str) -> Fault | None:
        """The fault this request meets, if one is scripted (and count it as fired)."""
        with self._lock:
            for script in self._scripts:
                if script.remaining > 0 and script.method == method and script.path.search(path):
                    script.remaining -= 1
                    self.fired.append(Fired(method, path, script.fault))
                    return script.fault
        return None

    def pending(self) -> int:
        """How many scripted firings have not met a request yet."""
        with self._lock:
            return sum(s.remaining for s in self._scripts)

    def clear(self) -> None:
        with self._lock:
            self._scripts.clear()
            self.fired.clear()
