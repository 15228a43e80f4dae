"""The history of runs, verifies and rollbacks, with their masked logs."""

from __future__ import annotations

import time

from labtui.workspace.records import RunRecord, env_key, env_of
from labtui.workspace.store import StateStore


class RunHistory(StateStore):
    """Every run and its log lines."""

    def start_run(self, step: str, env: str | None, action: str) -> int:
        self._ran = True
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO runs (step, env, action, started) VALUES (?, ?, ?, ?)",
                (step, env_key(env), action, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def add_log_lines(self, run_id: int, lines: list[tuple[float, str, str]]) -> None:
        """Append already-masked (at, level, line) rows to a run's log."""
        if not lines:
            return
        with self._tx() as db:
            start = db.execute(
                "SELECT coalesce(max(seq), -1) + 1 FROM run_logs WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            db.executemany(
                "INSERT INTO run_logs VALUES (?, ?, ?, ?, ?)",
                [(run_id, start + i, at, level, line) for i, (at, level, line) in enumerate(lines)],
            )

    def finish_run(self, run_id: int, outcome: str, message: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET finished = ?, outcome = ?, message = ? WHERE id = ?",
                       (time.time(), outcome, message, run_id))

    def last_run(self, step: str, env: str | None,
                 actions: tuple[str, ...] = ("run", "rollback", "verify")) -> RunRecord | None:
        marks = ",".join("?" for _ in actions)
        rows = self._query(
            f"SELECT id, step, env, action, started, finished, outcome, message FROM runs "
            f"WHERE step = ? AND env = ? AND action IN ({marks}) ORDER BY id DESC LIMIT 1",
            (step, env_key(env), *actions),
        )
        if not rows:
            return None
        run_id, step_id, stored_env, action, started, finished, outcome, message = rows[0]
        lines = self._query("SELECT line FROM run_logs WHERE run_id = ? ORDER BY seq", (run_id,))
        return RunRecord(run_id, step_id, env_of(stored_env), action, started, finished,
                         outcome, message, tuple(row[0] for row in lines))

    def run_log(self, run_id: int) -> list[tuple[float, str, str]]:
        """Every (at, level, line) of one run's log, in order; the lines were masked when
        they were written."""
        rows = self._query("SELECT at, level, line FROM run_logs WHERE run_id = ? ORDER BY seq",
                           (run_id,))
        return [(float(at), str(level), str(line)) for at, level, line in rows]

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first, without log lines."""
        rows = self._query(
            "SELECT id, step, env, action, started, finished, outcome, message FROM runs "
            "ORDER BY id"
        )
        return [RunRecord(r[0], r[1], env_of(r[2]), r[3], r[4], r[5], r[6], r[7], ())
                for r in rows]
