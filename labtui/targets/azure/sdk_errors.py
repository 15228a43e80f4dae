"""What an Azure SDK error means for a port: `NotFound`, `Conflict`, `Transient` or a plain
`TargetError`, always in one line that names the resource.

The SDKs retry throttling (429), unavailability (503) and dropped connections themselves; an
error that reaches here has outlived those retries, so it is `Transient` for the engine's own,
slower retry policy, with the pause the service asked for (Retry-After) when it named one.
"""

from __future__ import annotations

import time
from typing import Any

from labtui.targets.errors import Conflict, NotFound, TargetError, Transient

PASSING_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
PROPAGATION_CODES = frozenset({"AuthorizationPermissionMismatch", "AuthorizationFailure"})
PROPAGATION_WINDOW = 600.0
"""How long after a role assignment a 403 is taken for the role still propagating (Azure
documents up to ten minutes)."""


def error_code(exc: BaseException) -> str:
    """The service's error code (x-ms-error-code, or the JSON body's `error.code`)."""
    code = getattr(exc, "error_code", None)
    if code:
        return str(code)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    if code:
        return str(code)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    return str(headers.get("x-ms-error-code", ""))


def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return int(status) if isinstance(status, int) else None


def retry_after(exc: BaseException) -> float | None:
    """Retry-After of the failed response, in seconds, when it named one."""
    response = getattr(exc, "response", None)
    headers: Any = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def first_line(exc: BaseException) -> str:
    """The service's message, first line only (the SDKs append codes, ids and bodies)."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    for line in str(message).splitlines():
        line = line.strip()
        if line and not line.startswith(("RequestId:", "Time:", "ErrorCode:", "Code:")):
            return line.removeprefix("(" + error_code(exc) + ") ").strip()
    return type(exc).__name__


class Propagation:
    """When this target last assigned a role: a 403 soon after is the role propagating."""

    def __init__(self, window: float = PROPAGATION_WINDOW) -> None:
        self.window = window
        self.assigned_at: float | None = None

    def note_assignment(self) -> None:
        self.assigned_at = time.monotonic()

    def propagating(self) -> bool:
        return (self.assigned_at is not None
                and time.monotonic() - self.assigned_at < self.window)


def translate(exc: BaseException, what: str, *, propagation: Propagation | None = None
              ) -> TargetError:
    """The port error for an SDK exception met while working on `what` (e.g. "storage
    account lab1dl")."""
    from azure.core.exceptions import (
        ResourceExistsError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, TargetError):
        return exc
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return Transient(f"{what}: Azure did not answer in time or dropped the connection "
                         f"({first_line(exc)[:160]}); try again")
    status, code = status_of(exc), error_code(exc)
    message = first_line(exc)
    suffix = f" ({code})" if code and code not in message else ""
    if status == 403 and code in PROPAGATION_CODES and propagation is not None \
            and propagation.propagating():
        return Transient(f"{what}: access was refused while a new role assignment propagates "
                         f"(it can take a few minutes): {message}{suffix}", retry_after=30.0)
    if status in PASSING_STATUSES:
        return Transient(f"{what}: Azure is busy (HTTP {status}), still after the SDK's "
                         f"retries: {message}{suffix}", retry_after=retry_after(exc))
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return NotFound(f"{what} was not found: {message}{suffix}")
    if isinstance(exc, ResourceExistsError) or status == 409:
        return Conflict(f"{what}: {message}{suffix}")
    if status == 403:
        return TargetError(f"{what}: access refused (HTTP 403): {message}{suffix}")
    shown = f"HTTP {status}: " if status else ""
    return TargetError(f"{what}: {shown}{message}{suffix}")
