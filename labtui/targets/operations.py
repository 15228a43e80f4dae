"""Long-running operations a port call started: announced so a crash cannot lose them.

A cloud deletes a resource group (or creates a workspace) as a long-running operation: the
call is accepted, and the work goes on on the service's side while the client polls. If the
process dies while it polls, the operation goes on without it; to finish the job exactly, a
later run needs the operation's continuation token (azure-core's `poller.continuation_token()`).

So a port that starts such an operation announces it with `started(...)` before it waits, and
`ended(...)` once the wait is over (done or failed for good). Whoever listens — the engine,
around every hook — journals a `PendingOperation` entry on `started` and forgets it on
`ended`. An entry that outlives its hook therefore names an operation nobody saw finish; its
undo hands the token back to the target (`Target.resume_operation`), which waits for the
operation to end, so the entries journaled before it (the resource itself) are undone on a
settled resource: a rollback goes newest first.

Nothing is heard when no one listens (a port used outside the engine): `started` and `ended`
are then no-ops. The listener is a context variable, so it follows the hook's own thread;
calls a hook gathers on the engine's pool announce nothing (none of the lab's long-running
calls are gathered).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from labtui.journal import Record

if TYPE_CHECKING:
    from labtui.step import StepContext


@dataclass(frozen=True)
class StartedOperation:
    """An operation a port call started: on what, doing what, and how to find it again."""

    resource: str
    """The resource id (or name) the operation works on."""
    action: str
    """What it does: "delete", "create" …, as the target that started it names it."""
    token: str
    """The continuation token that resumes waiting for it, in another process too."""


class OperationListener(Protocol):
    """What hears of operations: the engine journals them."""

    def started(self, operation: StartedOperation) -> None: ...

    def ended(self, operation: StartedOperation) -> None: ...


_listener: ContextVar[OperationListener | None] = ContextVar("labtui_operations", default=None)


@contextmanager
def listening(listener: OperationListener) -> Iterator[None]:
    """Send the operations started inside the block (on this thread) to `listener`."""
    reset = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(reset)


def started(operation: StartedOperation) -> None:
    """Announce an operation before waiting for it (durable when this returns)."""
    listener = _listener.get()
    if listener is not None:
        listener.started(operation)


def ended(operation: StartedOperation) -> None:
    """Announce that the wait for an operation is over: it needs no resuming."""
    listener = _listener.get()
    if listener is not None:
        listener.ended(operation)


@dataclass(frozen=True)
class PendingOperation(Record):
    """A journal entry for an operation that was started and not seen to end."""

    kind: ClassVar[str] = "operation"
    ref_field: ClassVar[str | None] = None
    resource: str
    action: str
    token: str

    @property
    def ref(self) -> str:
        return f"{self.action} {self.resource}"

    @property
    def operation(self) -> StartedOperation:
        return StartedOperation(self.resource, self.action, self.token)

    def undo(self, ctx: StepContext) -> None:
        ctx.target.resume_operation(self.operation)
