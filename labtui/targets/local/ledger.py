"""The local target's mirror of the journal, in sandbox.db next to the resources it lists.

It lives in sandbox.db because that is what survives when state.db does not: it is written in
the same transactions as the sandbox's resources are, in the same folder. (The sandbox runs
SQLite with synchronous=NORMAL: a power cut may lose its last entries, but never those and
state.db's journal, which is FULL, at once.) Opening it on a workspace with no sandbox yet
creates nothing: the owner is written with the first entry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from labtui.targets.local.sandbox import Sandbox
from labtui.targets.ownership import JournalMirror, MirroredEntry, NotOwner


class LocalLedger(JournalMirror):
    """The sandbox's record of what a workspace created, and whose workspace it is."""

    def __init__(self, database: Path, open_sandbox: Callable[[], Sandbox]) -> None:
        self._database = database
        self._open = open_sandbox
        self._owner: str | None = None
        self._lock = threading.Lock()

    def _sandbox(self) -> Sandbox:
        sandbox = self._open()
        with self._lock:
            if self._owner is not None and sandbox.owner() is None:
                sandbox.set_owner(self._owner)
        return sandbox

    def claim(self, owner: str) -> None:
        with self._lock:
            self._owner = owner
        if not self._database.exists():
            return  # a fresh sandbox: it is stamped when it is first written
        sandbox = self._open()
        current = sandbox.owner()
        if current == owner:
            return
        count = int(sandbox.query("SELECT count(*) AS n FROM ledger")[0]["n"])
        if current is not None and count:
            raise NotOwner(f"the sandbox {sandbox.root}", current, count)
        # Unclaimed (made before sandboxes named their owner) or empty: nothing to lose.
        sandbox.set_owner(owner)

    def adopt(self, owner: str) -> None:
        with self._lock:
            self._owner = owner
        self._open().set_owner(owner)

    def record(self, entry: MirroredEntry) -> None:
        sandbox = self._sandbox()
        with sandbox.transaction() as db:
            db.execute(
                "INSERT INTO ledger (step, env, kind, ref, undo, created) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (step, env, kind, ref) "
                "DO UPDATE SET undo = excluded.undo",
                (entry.step, entry.env or "", entry.kind, entry.ref, entry.undo, entry.created))

    def forget(self, step: str, env: str | None, kind: str, ref: str) -> None:
        if not self._database.exists():
            return
        with self._sandbox().transaction() as db:
            db.execute("DELETE FROM ledger WHERE step = ? AND env = ? AND kind = ? AND ref = ?",
                       (step, env or "", kind, ref))

    def entries(self) -> list[MirroredEntry]:
        if not self._database.exists():
            return []
        rows = self._open().query(
            "SELECT step, env, kind, ref, undo, created FROM ledger ORDER BY seq")
        return [MirroredEntry(row["step"], row["env"] or None, row["kind"], row["ref"],
                              row["undo"], row["created"]) for row in rows]
