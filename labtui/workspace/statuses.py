"""Each unit's recorded status and the checks of its last verify."""

from __future__ import annotations

import time

from labtui.workspace.records import StatusRecord, env_key, env_of
from labtui.workspace.store import StateStore


class StatusStore(StateStore):
    """Statuses and checks."""

    def set_status(self, step: str, env: str | None, status: str, message: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO status VALUES (?, ?, ?, ?, ?)",
                (step, env_key(env), status, message, time.time()),
            )

    def status(self, step: str, env: str | None) -> StatusRecord | None:
        rows = self._query(
            "SELECT status, message, updated FROM status WHERE step = ? AND env = ?",
            (step, env_key(env)),
        )
        return StatusRecord(*rows[0]) if rows else None

    def statuses(self) -> dict[tuple[str, str | None], StatusRecord]:
        rows = self._query("SELECT step, env, status, message, updated FROM status")
        return {(step, env_of(env)): StatusRecord(status, message, updated)
                for step, env, status, message, updated in rows}

    def save_checks(self, step: str, env: str | None,
                    checks: list[tuple[str, bool, str, str]]) -> None:
        """Keep the last verify's checks as (name, ok, message, hint)."""
        now = time.time()
        with self._tx() as db:
            db.execute("DELETE FROM checks WHERE step = ? AND env = ?", (step, env_key(env)))
            db.executemany(
                "INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(step, env_key(env), i, name, int(ok), message, hint, now)
                 for i, (name, ok, message, hint) in enumerate(checks)],
            )

    def checks(self, step: str, env: str | None) -> list[tuple[str, bool, str, str]]:
        rows = self._query(
            "SELECT name, ok, message, hint FROM checks WHERE step = ? AND env = ? "
            "ORDER BY position", (step, env_key(env)),
        )
        return [(name, bool(ok), message, hint) for name, ok, message, hint in rows]
