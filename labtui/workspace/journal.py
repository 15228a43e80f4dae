"""Where the journal of created resources is kept: durable before a step goes on."""

from __future__ import annotations

import json
import time

from labtui.journal import JournalEntry, Record
from labtui.workspace.records import JournalRow, env_key, env_of, journal_record_of
from labtui.workspace.store import StateStore


class JournalStore(StateStore):
    """The journal's rows, oldest first."""

    def journal_record(self, step: str, env: str | None, record: Record) -> JournalEntry:
        """Journal a record; committed (durable) before this returns. Journaling the same
        kind and ref again keeps the entry's original position and replaces its payload."""
        kind, ref = record.kind, record.ref
        payload = json.dumps(record.payload(), sort_keys=True)
        with self._tx() as db:
            db.execute(
                "INSERT INTO journal (step, env, kind, ref, undo, created) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (step, env, kind, ref) "
                "DO UPDATE SET undo = excluded.undo",
                (step, env_key(env), kind, ref, payload, time.time()),
            )
            seq = db.execute(
                "SELECT seq FROM journal WHERE step = ? AND env = ? AND kind = ? AND ref = ?",
                (step, env_key(env), kind, ref),
            ).fetchone()[0]
        return JournalEntry(int(seq), record)

    def journal_entries(self, step: str, env: str | None) -> list[JournalEntry]:
        """One unit's entries, oldest first, each as its typed record.

        Raises:
            WorkspaceError: an entry does not fit its kind (its undo record is not JSON, lacks
                a field, …) or no installed plugin knows its kind; the message names the entry
                and the way out (`labtui journal forget ID`).
        """
        rows = self._query(
            "SELECT seq, kind, ref, undo FROM journal WHERE step = ? AND env = ? ORDER BY seq",
            (step, env_key(env)),
        )
        return [JournalEntry(seq, journal_record_of(seq, kind, ref, undo))
                for seq, kind, ref, undo in rows]

    def journal_rows(self) -> list[JournalRow]:
        """Every journal entry as stored (undo text unparsed), oldest first: what
        `labtui journal` lists, readable even where an entry is damaged."""
        rows = self._query(
            "SELECT seq, step, env, kind, ref, undo, created FROM journal ORDER BY seq")
        return [JournalRow(seq, step, env_of(env), kind, ref, undo, created)
                for seq, step, env, kind, ref, undo, created in rows]

    def journal_restore(self, row: JournalRow) -> bool:
        """Put back an entry (from a target's record of it) unless the unit already has it;
        True if it was added. Its original order among the others is kept by `created`."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO journal (step, env, kind, ref, undo, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row.step, env_key(row.env), row.kind, row.ref, row.undo, row.created))
            return cursor.rowcount > 0

    def journal_forget(self, seq: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM journal WHERE seq = ?", (seq,))

    def journal_size(self) -> int:
        return int(self._query("SELECT count(*) FROM journal")[0][0])
