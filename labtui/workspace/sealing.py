"""Secrets at rest: secret values and outputs are sealed with the workspace's own key
(secret.key, 0600), and a lost key is named, never papered over with a new one."""

from __future__ import annotations

import os
from typing import Any

from labtui.workspace.errors import SealedValueError, WorkspaceError
from labtui.workspace.store import StateStore


class SealedStore(StateStore):
    """Seals and opens the secret values a workspace keeps."""

    def _sealed_names(self) -> list[str]:
        """The stored values secret.key seals, as an attendee knows them."""
        names = [f"{name}{f' [{env}]' if env else ''}" for name, env in self._query(
            "SELECT name, env FROM input_values WHERE secret = 1 ORDER BY name, env")]
        names += [f"output {name} of {step}{f' [{env}]' if env else ''}"
                  for step, env, name in self._query(
                      "SELECT step, env, name FROM outputs WHERE secret = 1 "
                      "ORDER BY step, env, name")]
        return names

    def _missing_key_reason(self) -> str:
        return (f"cannot be decrypted: {self.path / 'secret.key'} is missing (put it back "
                "if you kept a copy; else give the value again)")

    def _cipher(self, *, for_sealing: bool = False) -> Any:
        """The workspace's key. A missing key is created only while no stored value needs the
        old one: a new key would open none of them, and later say the key had "changed"."""
        if self._fernet is None:
            from cryptography.fernet import Fernet

            key_path = self.path / "secret.key"
            if not key_path.exists():
                sealed = self._sealed_names()
                if sealed and not for_sealing:
                    raise SealedValueError(self.path, "secret", self._missing_key_reason())
                if sealed:
                    shown = ", ".join(sealed[:5]) + (" …" if len(sealed) > 5 else "")
                    raise WorkspaceError(
                        f"workspace {self.path}: {key_path} is missing, and it is the only key "
                        f"to {len(sealed)} stored secret value{'s' if len(sealed) != 1 else ''}"
                        f" ({shown}): put it back, or drop them with `labtui recover "
                        "--forget-secrets` and give them again")
                if self.read_only:
                    raise WorkspaceError(f"workspace {self.path} has no secret.key")
                fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(Fernet.generate_key())
                    handle.flush()
                    os.fsync(handle.fileno())
            try:
                self._fernet = Fernet(key_path.read_bytes())
            except ValueError:
                raise WorkspaceError(
                    f"workspace {self.path}: {key_path} is not a valid key (was it replaced? "
                    "restore it, or start a new workspace)") from None
        return self._fernet

    def _seal(self, value: str, secret: bool) -> str:
        return (self._cipher(for_sealing=True).encrypt(value.encode()).decode() if secret
                else value)

    def _open_sealed(self, value: str, secret: bool, name: str = "secret") -> str:
        """Decrypt a stored value.

        Raises:
            SealedValueError: naming `name`, when the key is missing or not the one that sealed it.
        """
        if not secret:
            return value
        from cryptography.fernet import InvalidToken

        if self._fernet is None and not (self.path / "secret.key").exists():
            raise SealedValueError(self.path, name, self._missing_key_reason())
        try:
            return str(self._cipher().decrypt(value.encode()).decode())
        except InvalidToken:
            raise SealedValueError(
                self.path, name, f"cannot be decrypted with {self.path / 'secret.key'} (it is "
                "not the key that sealed it; put the old key back, or give the value again)"
            ) from None

    def forget_unreadable_secrets(self) -> list[str]:
        """Drop every stored secret value and output the key cannot open (the key is lost for
        good); return their names. The inputs can then be given again, the outputs made again
        by running their step."""
        dropped = []
        for name, env, value in self._query(
                "SELECT name, env, value FROM input_values WHERE secret = 1"):
            label = f"{name}{f' [{env}]' if env else ''}"
            try:
                self._open_sealed(value, True, label)
            except SealedValueError:
                with self._tx() as db:
                    db.execute("DELETE FROM input_values WHERE name = ? AND env = ?",
                               (name, env))
                dropped.append(label)
        for step, env, name, value in self._query(
                "SELECT step, env, name, value FROM outputs WHERE secret = 1"):
            label = f"output {name} of {step}{f' [{env}]' if env else ''}"
            try:
                self._open_sealed(value, True, label)
            except SealedValueError:
                with self._tx() as db:
                    db.execute("DELETE FROM outputs WHERE step = ? AND env = ? AND name = ?",
                               (step, env, name))
                dropped.append(label)
        return dropped
