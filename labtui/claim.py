"""The workspace's claim on what a target made: bind the target's record of it (its journal
mirror) to one state.db, make the two hold the same entries, and say the ways out when the
state.db that made them is gone."""

from __future__ import annotations

import time
from pathlib import Path

from labtui.state import Workspace, WorkspaceError
from labtui.targets.ownership import JournalMirror, MirroredEntry, NotOwner


def claim(workspace: Workspace, mirror: JournalMirror | None) -> None:
    """Bind `mirror` (the target's record, if it keeps one) to this state.db, before any work.

    Raises:
        WorkspaceError: the target holds what another state.db recorded (this one was
            emptied, deleted or replaced); the message gives the ways out.
    """
    owner = workspace.id
    if mirror is None or owner is None:
        return
    try:
        mirror.claim(owner)
    except NotOwner as exc:
        raise WorkspaceError(state_lost_message(workspace, exc)) from None
    sync_mirror(workspace, mirror)


def sync_mirror(workspace: Workspace, mirror: JournalMirror) -> None:
    """Make the journal and the target's record hold the same entries. The journal gets
    what only the target has (a state.db restored from a backup older than the last run);
    the target gets what only the journal has (recorded before it kept a record). Nothing
    is dropped: at worst a rollback finds a resource already gone, which is fine."""
    from labtui.state import JournalRow

    rows = {(r.step, r.env, r.kind, r.ref): r for r in workspace.journal_rows()}
    mirrored = {(e.step, e.env, e.kind, e.ref): e for e in mirror.entries()}
    for key, row in rows.items():
        if key not in mirrored:
            mirror.record(MirroredEntry(row.step, row.env, row.kind, row.ref, row.undo,
                                        row.created))
    for key, entry in mirrored.items():
        if key not in rows:
            workspace.journal_restore(JournalRow(
                0, entry.step, entry.env, entry.kind, entry.ref, entry.undo, entry.created))


def state_lost_message(workspace: Workspace, lost: NotOwner) -> str:
    """Why a workspace whose state.db is gone is refused, and the two ways out."""
    backup = workspace.backup_path
    ways = []
    when = backup_taken(backup, lost.owner)
    if when is not None:
        ways.append(f"restore the copy labtui kept after the last run ({when}): "
                    f"cp {backup} {backup.with_name('state.db')}")
    ways.append("rebuild the journal from what the target holds: labtui recover")
    return (f"workspace {workspace.path}: its state.db is new or was emptied, but {lost}; "
            f"nothing was done, so they are not adopted without a journal: "
            + ", or ".join(ways))


def backup_taken(backup: Path, owner: str) -> str | None:
    """When `backup` was taken, if it is a copy of the state.db `owner` names; else None."""
    import sqlite3

    if not backup.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT value FROM meta WHERE key = 'workspace-id'").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None  # a damaged copy is no way out
    if not rows or rows[0][0] != owner:
        return None
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(backup.stat().st_mtime))
