"""What every management client of the azure target shares: how it is built, and how its
errors become the ports' errors.

Every port builds its clients here: an SDK's management client with `build`, a bare REST
client (Graph, the subscription's record, a resumed operation) with `rest_client`. Clients
are built with the target's endpoints (`base_url`, the transport trusting the CA
bundle, the token scope of the cloud). Their own retry policy runs first: 429 with Retry-After,
503 and dropped connections are retried by azure-core, waiting what the service asks. What is
still failing after that reaches the port as `Transient` (with the Retry-After the service
last gave), so the engine's retry policy can pause and call the step again; a 404 is
`NotFound`; anything else is a `TargetError` of one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from labtui.targets.azure.credentials import first_line
from labtui.targets.azure.endpoints import Endpoints
from labtui.targets.errors import NotFound, TargetError, Transient

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

C = TypeVar("C")

BUSY = (408, 429, 500, 502, 503, 504)
"""Statuses that pass by themselves (throttled, busy, a gateway in between)."""

SDK_RETRIES = 4
"""How many times azure-core repeats a throttled or failed request before a port gives up."""


def loopback(endpoints: Endpoints) -> bool:
    """Whether ARM is on this machine (the tests' fakes): nothing to wait for between polls."""
    host = endpoints.arm.split("://", 1)[-1].split(":", 1)[0]
    return host in ("127.0.0.1", "localhost", "::1", "[::1]")


def client_kwargs(endpoints: Endpoints) -> dict[str, Any]:
    """The keyword arguments of a management client of this cloud."""
    near = loopback(endpoints)
    return {
        "base_url": endpoints.arm,
        "credential_scopes": [endpoints.arm_scope],
        "transport": endpoints.transport(),
        # ARM names its own pause in Retry-After, which wins over this; without one, a real
        # cloud is polled every few seconds, a loopback fake at once.
        "polling_interval": 0 if near else 5,
        "retry_total": SDK_RETRIES,
        "retry_backoff_factor": 0.05 if near else 0.8,
    }


def build(factory: Callable[..., C], credential: TokenCredential, subscription_id: str,
          endpoints: Endpoints, **overrides: Any) -> C:
    """A management client (`ResourceManagementClient` …) for the subscription: every port
    of the target builds its clients here. `overrides` replace a keyword of
    `client_kwargs` (a port's own pace of retries, say)."""
    return factory(credential, subscription_id, **{**client_kwargs(endpoints), **overrides})


def rest_client(credential: TokenCredential, endpoints: Endpoints, *,
                base_url: str | None = None, scope: str | None = None) -> Any:
    """An azure-core `PipelineClient` for a REST API no SDK client covers (a subscription's
    own record, Microsoft Graph, a long-running operation resumed from its token): Resource
    Manager's (or `base_url`'s, for `scope`) with the same transport, retries and token as
    `build`'s clients."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import (
        BearerTokenCredentialPolicy,
        HeadersPolicy,
        RequestIdPolicy,
        RetryPolicy,
        UserAgentPolicy,
    )

    kwargs = client_kwargs(endpoints)
    return PipelineClient(
        base_url or endpoints.arm, transport=kwargs["transport"],
        policies=[RequestIdPolicy(), HeadersPolicy(), UserAgentPolicy("labtui"),
                  RetryPolicy(retry_total=kwargs["retry_total"],
                              retry_backoff_factor=kwargs["retry_backoff_factor"]),
                  BearerTokenCredentialPolicy(credential, scope or endpoints.arm_scope)])


def retry_after(error: BaseException) -> float | None:
    """The pause a failed response asked for (Retry-After, in seconds), if any."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                return float(value) / 1000
            except ValueError:
                pass
    value = headers.get("retry-after")
    if value:
        try:
            return float(value)
        except ValueError:
            return None  # an HTTP date: the engine's own pause applies
    return None


def error_code(error: BaseException) -> str:
    """ARM's error code of a failed response ("ResourceGroupNotFound" …), or ""."""
    inner = getattr(error, "error", None)
    code = getattr(inner, "code", None)
    if code:
        return str(code)
    response = getattr(error, "response", None)
    try:
        body = response.json() if response is not None else None
    except (ValueError, AttributeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code") or "")
    return ""


def status_of(error: BaseException) -> int | None:
    code = getattr(error, "status_code", None)
    return int(code) if isinstance(code, int) else None


def message_of(error: BaseException) -> str:
    """ARM's message, on one line, without the SDK's "Code: … Message: …" framing."""
    inner = getattr(error, "error", None)
    message = getattr(inner, "message", None)
    text = str(message) if message else first_line(error)
    return " ".join(text.split())


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn the SDK's errors inside the block into the ports' errors, naming `what`
    ("deleting resource group rg1") in one line."""
    from azure.core.exceptions import (
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        yield
    except ResourceNotFoundError as exc:
        raise NotFound(f"{what}: {message_of(exc)}") from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        # A timeout or a dropped connection, still so after the SDK's retries.
        raise Transient(f"{what}: Azure did not answer ({first_line(exc)})") from None
    except HttpResponseError as exc:
        status = status_of(exc)
        if status in BUSY:
            raise Transient(f"{what}: Azure is busy (HTTP {status} {error_code(exc)})".rstrip()
                            + "; try again", retry_after=retry_after(exc)) from None
        code = error_code(exc)
        raise TargetError(f"{what}: {code + ': ' if code else ''}{message_of(exc)}") from None
