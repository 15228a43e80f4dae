"""The workspace, under its first name: `labtui.workspace` holds it now, one module per part;
this module keeps every existing import working."""

from __future__ import annotations

from labtui.workspace import (
    BACKUP_NAME,
    PRIVATE_UMASK,
    SCHEMA,
    ArtifactRecord,
    JournalRow,
    RunRecord,
    SealedValueError,
    StatusRecord,
    Workspace,
    WorkspaceError,
    WorkspaceLock,
    WorkspaceLocked,
    default_workspace,
    describe_holder,
    journal_record_of,
    private_umask,
    tighten_modes,
)

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
