"""The values an attendee gave (inputs), kept per environment or shared."""

from __future__ import annotations

import contextlib

from labtui.workspace.errors import SealedValueError
from labtui.workspace.records import env_key
from labtui.workspace.sealing import SealedStore


class ValueStore(SealedStore):
    """Input values, secret ones sealed."""

    def set_value(self, name: str, env: str | None, value: str, *, secret: bool) -> None:
        if secret and self._fernet is None and not (self.path / "secret.key").exists():
            label = f"{name}{f' [{env}]' if env else ''}"
            if self._sealed_names() == [label]:
                # The value given again is the only one the lost key sealed: it replaces it,
                # so a new key seals no value it cannot open.
                self.delete_value(name, env)
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO input_values VALUES (?, ?, ?, ?)",
                (name, env_key(env), self._seal(value, secret), int(secret)),
            )

    def get_value(self, name: str, env: str | None) -> str | None:
        rows = self._query(
            "SELECT value, secret FROM input_values WHERE name = ? AND env = ?",
            (name, env_key(env)),
        )
        label = f"{name}{f' [{env}]' if env else ''}"
        return self._open_sealed(rows[0][0], bool(rows[0][1]), label) if rows else None

    def delete_value(self, name: str, env: str | None) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM input_values WHERE name = ? AND env = ?",
                       (name, env_key(env)))

    def secret_values(self) -> list[str]:
        """Every secret value and secret output held here that can be decrypted (for the
        masker). One that cannot is left out: nobody can read it, so nothing can leak it, and
        the command that needs it says so by name."""
        rows = self._query("SELECT value FROM input_values WHERE secret = 1")
        rows += self._query("SELECT value FROM outputs WHERE secret = 1")
        values = []
        for (value,) in rows:
            with contextlib.suppress(SealedValueError):
                values.append(self._open_sealed(value, True))
        return values
