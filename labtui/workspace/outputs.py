"""What steps hand on to later steps (outputs), secret ones sealed."""

from __future__ import annotations

from labtui.workspace.records import env_key
from labtui.workspace.sealing import SealedStore


class OutputStore(SealedStore):
    """Each unit's outputs."""

    def set_output(self, step: str, env: str | None, name: str, value: str, *,
                   secret: bool) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?)",
                (step, env_key(env), name, self._seal(value, secret), int(secret)),
            )

    def get_output(self, step: str, env: str | None, name: str) -> str | None:
        rows = self._query(
            "SELECT value, secret FROM outputs WHERE step = ? AND env = ? AND name = ?",
            (step, env_key(env), name),
        )
        label = f"output {name} of {step}{f' [{env}]' if env else ''}"
        return self._open_sealed(rows[0][0], bool(rows[0][1]), label) if rows else None

    def outputs(self, step: str, env: str | None) -> dict[str, tuple[str, bool]]:
        """name -> (value, secret) for one unit."""
        rows = self._query(
            "SELECT name, value, secret FROM outputs WHERE step = ? AND env = ?",
            (step, env_key(env)),
        )
        return {name: (self._open_sealed(value, bool(secret),
                                         f"output {name} of {step}{f' [{env}]' if env else ''}"),
                       bool(secret))
                for name, value, secret in rows}

    def clear_outputs(self, step: str, env: str | None) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM outputs WHERE step = ? AND env = ?", (step, env_key(env)))

    def delete_output(self, step: str, env: str | None, name: str) -> None:
        """Forget one output of a unit (as if it had never been handed on)."""
        with self._tx() as db:
            db.execute("DELETE FROM outputs WHERE step = ? AND env = ? AND name = ?",
                       (step, env_key(env), name))
