"""The workspace: one folder per attendee holding everything labtui knows about their lab.

`state.db` (SQLite, WAL) keeps values, step outputs, the result files steps published, step
status, the last verify's checks, the journal of created resources and the history of runs with
their (masked) logs. Secret values and
outputs are encrypted with a key kept in the workspace (0600). The folder is 0700 and its files
0600 (`private_umask` makes everything written while it is open so, child processes too). A
lock file names the process that holds the workspace; a second process is refused.

Each state.db carries a workspace id (`Workspace.id`), which a target's record of what it
created names as its owner: a state.db that was emptied, deleted or replaced has a new id, so
its loss is noticed instead of silently adopting what the old journal recorded. After each
session that ran something, a copy of state.db is kept as `state.db.bak`.

One module per part: `store` (state.db, its lock and backup), `sealing` (secrets at rest),
`values`, `outputs`, `artifacts`, `statuses`, `journal`, `runs`; `lock`, `files`, `records`
and `errors` hold what they use.
"""

from __future__ import annotations

from labtui.workspace.artifacts import ArtifactStore
from labtui.workspace.errors import SealedValueError, WorkspaceError, WorkspaceLocked
from labtui.workspace.files import (
    BACKUP_NAME,
    PRIVATE_UMASK,
    default_workspace,
    private_umask,
    tighten_modes,
)
from labtui.workspace.journal import JournalStore
from labtui.workspace.lock import WorkspaceLock, describe_holder
from labtui.workspace.outputs import OutputStore
from labtui.workspace.records import (
    ArtifactRecord,
    JournalRow,
    RunRecord,
    StatusRecord,
    journal_record_of,
)
from labtui.workspace.runs import RunHistory
from labtui.workspace.statuses import StatusStore
from labtui.workspace.store import SCHEMA
from labtui.workspace.values import ValueStore

__all__ = [
    "BACKUP_NAME",
    "PRIVATE_UMASK",
    "SCHEMA",
    "ArtifactRecord",
    "JournalRow",
    "RunRecord",
    "SealedValueError",
    "StatusRecord",
    "Workspace",
    "WorkspaceError",
    "WorkspaceLock",
    "WorkspaceLocked",
    "default_workspace",
    "describe_holder",
    "journal_record_of",
    "private_umask",
    "tighten_modes",
]


class Workspace(ValueStore, OutputStore, ArtifactStore, StatusStore, JournalStore, RunHistory):
    """An attendee's workspace folder and its state.db, every part of it. Thread-safe."""
