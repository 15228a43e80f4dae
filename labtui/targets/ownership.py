"""A target's own record of what a workspace created in it, and which workspace that is.

The workspace's journal (in state.db) is what rollback works from. A target that can keep a
mirror of it does so here: every entry is written to the mirror right after the journal and
before the resource is made, and dropped after the journal drops it, so the mirror is the
journal again if state.db is lost. The mirror also names the state.db it belongs to (its
workspace id): a workspace whose state.db is new while the target still holds what an older
one recorded is refused, instead of adopting those resources unjournaled.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from labtui.targets.base import TargetError


@dataclass(frozen=True)
class MirroredEntry:
    """One journal entry as the target keeps it: `undo` is the journal's JSON text."""

    step: str
    env: str | None
    kind: str
    ref: str
    undo: str
    created: float


class NotOwner(TargetError):
    """The target holds entries recorded by another state.db (`owner`, `count` of them)."""

    def __init__(self, where: str, owner: str, count: int) -> None:
        self.owner = owner
        self.count = count
        super().__init__(
            f"{where} holds {count} resource{'s' if count != 1 else ''} recorded by another "
            f"state.db (workspace id {owner[:12]})")


class JournalMirror(ABC):
    """The target's copy of the journal, with its owner."""

    @abstractmethod
    def claim(self, owner: str) -> None:
        """Work for the workspace `owner` from now on. A target with no owner yet, or whose
        record is empty, becomes `owner`'s.

        Raises:
            NotOwner: it holds entries another workspace id recorded.
        """

    @abstractmethod
    def adopt(self, owner: str) -> None:
        """Make `owner` the owner of everything recorded (`labtui recover`)."""

    @abstractmethod
    def record(self, entry: MirroredEntry) -> None:
        """Keep `entry` (replacing the undo record of an entry with the same unit, kind and
        ref); durable when this returns."""

    @abstractmethod
    def forget(self, step: str, env: str | None, kind: str, ref: str) -> None:
        """Drop an entry (no error if it is not there)."""

    @abstractmethod
    def entries(self) -> list[MirroredEntry]:
        """Every entry, in the order they were first recorded."""
