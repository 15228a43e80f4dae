"""What a workspace hands back: statuses, published artifacts, journal rows and runs, as
stored; and how an environment is keyed in state.db."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from labtui.journal import DamagedRecord, Record, RecordKindError, UnknownKind, decode
from labtui.workspace.errors import WorkspaceError


def env_key(env: str | None) -> str:
    """How state.db keys an environment ("" for a unit that runs once)."""
    return env or ""


def env_of(key: str) -> str | None:
    """The environment a state.db key stands for (None for "")."""
    return key or None


@dataclass(frozen=True)
class StatusRecord:
    """The recorded status of one unit: not-started, done, failed, drift, cancelled."""

    status: str
    message: str
    updated: float


@dataclass(frozen=True)
class ArtifactRecord:
    """A result file a unit published ("junit", "coverage", "metrics" …), and when."""

    name: str
    path: Path
    at: float


@dataclass(frozen=True)
class JournalRow:
    """A journal entry as stored: `undo` is its JSON text, which may be damaged."""

    seq: int
    step: str
    env: str | None
    kind: str
    ref: str
    undo: str
    created: float

    @property
    def unit(self) -> str:
        return f"{self.step} [{self.env}]" if self.env else self.step


def journal_record_of(seq: int, kind: str, ref: str, undo: str) -> Record:
    """The typed record of a stored entry.

    Raises:
        WorkspaceError: it is damaged or of an unknown kind, with the way out.
    """
    try:
        payload = json.loads(undo)
    except ValueError:
        payload = None
    try:
        return decode(kind, ref, payload)
    except RecordKindError as exc:  # a plugin's records module is broken
        raise WorkspaceError(f"journal entry {seq} ({kind} {ref}): {exc}") from None
    except UnknownKind as exc:
        raise WorkspaceError(
            f"journal entry {seq} ({kind} {ref}) cannot be removed: {exc} (install the plugin "
            f"that made it again, or remove it by hand and drop the entry with "
            f"`labtui journal forget {seq}`)") from None
    except DamagedRecord as exc:
        raise WorkspaceError(
            f"journal entry {seq} ({kind} {ref}) is damaged, so labtui cannot remove it: "
            f"{exc}; remove it by hand, then drop the entry with "
            f"`labtui journal forget {seq}`") from None


@dataclass(frozen=True)
class RunRecord:
    """One past run / verify / rollback of a unit, with its masked log."""

    id: int
    step: str
    env: str | None
    action: str
    started: float
    finished: float | None
    outcome: str | None
    message: str | None
    lines: tuple[str, ...]
