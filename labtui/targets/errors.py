"""The errors every port raises, and what the engine does with each."""

from __future__ import annotations


class TargetError(Exception):
    """A target could not do what was asked; the message is for the attendee."""


class NotFound(TargetError):
    """The named resource does not exist."""


class Conflict(TargetError):
    """The resource exists with other settings, or in a state that forbids the request
    (a Key Vault secret that is deleted but not purged, a name taken in another group)."""


class Transient(TargetError):
    """The request failed for a reason that passes by itself: the service throttled it (HTTP
    429), is busy or unavailable (503, a locked database), or has not yet seen what was just
    made elsewhere (a new principal not yet propagated). The same call is worth repeating
    after a pause; the engine's retry policy does that (`labtui.retry`).

    `retry_after` is the pause the service asked for (a Retry-After header) in seconds, or
    None when it named none.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BuildFailed(TargetError):
    """An image build failed. The message is one line naming the cause and the fix; `cause`
    says which kind it is, so a step can word the fix in its own terms:

    - "base-image": the image in FROM is not on the engine and cannot be pulled (`image`);
    - "certificate": a download in a RUN step failed TLS verification (an intercepting proxy);
    - "network": a download in a RUN step could not reach its server;
    - "step": a Dockerfile step failed for another reason (its last output is in the message).
    """

    def __init__(self, message: str, *, cause: str, image: str = "") -> None:
        super().__init__(message)
        self.cause = cause
        self.image = image
