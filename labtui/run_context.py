"""What a hook's `StepContext` is made of in a recorded run: the unit's journal (mirrored into
the target's own record), the long-running operations it starts, its outputs, and its log."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from labtui.catalog import Unit
from labtui.events import LogLine
from labtui.journal import Journal, JournalEntry, Record
from labtui.plain_text import strip_escapes
from labtui.state import Workspace
from labtui.targets.operations import PendingOperation, StartedOperation
from labtui.targets.ownership import JournalMirror, MirroredEntry

if TYPE_CHECKING:
    from labtui.engine import Engine


class RunJournal(Journal):
    """A unit's journal in state.db, mirrored into the target's own record when it keeps one
    (written after state.db and before the resource is made; dropped after state.db)."""

    def __init__(self, workspace: Workspace, unit: Unit,
                 mirror: JournalMirror | None = None) -> None:
        self._workspace, self._unit, self._mirror = workspace, unit, mirror

    def record(self, record: Record) -> JournalEntry:
        entry = self._workspace.journal_record(self._unit.id, self._unit.env, record)
        if self._mirror is not None:
            self._mirror.record(MirroredEntry(
                self._unit.id, self._unit.env, record.kind, record.ref,
                json.dumps(record.payload(), sort_keys=True), time.time()))
        return entry

    def entries(self) -> list[JournalEntry]:
        return self._workspace.journal_entries(self._unit.id, self._unit.env)

    def forget(self, entry: JournalEntry) -> None:
        self._workspace.journal_forget(entry.seq)
        if self._mirror is not None:
            self._mirror.forget(self._unit.id, self._unit.env, entry.kind, entry.ref)


class JournaledOperations:
    """Journals each long-running operation a port call starts (`labtui.targets.operations`)
    and forgets it once the call has seen it end: an entry left names one to resume."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def started(self, operation: StartedOperation) -> None:
        self._journal.record(PendingOperation(operation.resource, operation.action,
                                              operation.token))

    def ended(self, operation: StartedOperation) -> None:
        pending = PendingOperation(operation.resource, operation.action, operation.token)
        for entry in self._journal.entries():
            if entry.kind == pending.kind and entry.ref == pending.ref:
                self._journal.forget(entry)


class UnitOutputs:
    """A unit's outputs in the workspace; a secret one is registered with the masker."""

    def __init__(self, workspace: Workspace, unit: Unit,
                 register_secret: Callable[[str], None]) -> None:
        self._workspace, self._unit, self._register = workspace, unit, register_secret

    def set(self, name: str, value: str, *, secret: bool = False) -> None:
        if secret:  # a secret the step learnt at run time, as `ctx.register_secret` takes
            self._register(value)
        self._workspace.set_output(self._unit.id, self._unit.env, name, value, secret=secret)

    def get(self, name: str, *, step: str | None = None, env: str | None = None) -> str | None:
        return self._workspace.get_output(step or self._unit.id, env or self._unit.env, name)


class RunLog:
    """The log of one hook call: masks, emits LogLine events and keeps the lines in the run
    history, flushed in batches so a chatty step does not write the database per line."""

    FLUSH_LINES = 200
    FLUSH_SECONDS = 0.5

    def __init__(self, engine: Engine, unit: Unit, run_id: int) -> None:
        self._engine, self._unit, self._run_id = engine, unit, run_id
        self._pending: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self._flushed = time.monotonic()
        self.last_activity = time.monotonic()

    def __call__(self, message: str) -> None:
        self._write(message, "info")

    def warn(self, message: str) -> None:
        self._write(message, "warning")

    def record(self, message: str, level: str = "warning") -> None:
        """Keep `message` in the run history only (the front ends show it another way)."""
        self._write(message, level, emit=False)

    def _write(self, message: str, level: str, *, emit: bool = True) -> None:
        # Escapes go first: a colour code inside a secret would otherwise hide it from the masker.
        masked = self._engine.masker.redact(strip_escapes(str(message)))
        now = time.time()
        lines = masked.splitlines() or [""]
        with self._lock:
            self.last_activity = time.monotonic()
            self._pending.extend((now, level, line) for line in lines)
            due = (len(self._pending) >= self.FLUSH_LINES
                   or time.monotonic() - self._flushed >= self.FLUSH_SECONDS)
        if emit:
            for line in lines:
                self._engine.emit(LogLine(self._unit.id, self._unit.env, line, level))
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._flushed = time.monotonic()
        self._engine.workspace.add_log_lines(self._run_id, pending)
