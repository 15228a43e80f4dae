"""Local Databricks personal access tokens.

Tokens are kept as SHA-256 hashes only (enough to accept one, never enough to show it): a
token is 128 random bits, so a plain hash is as safe as a slow one would be.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from labtui.targets.base import AccessToken
from labtui.targets.local.databricks.plane import LocalDatabricksPlane
from labtui.targets.local.sandbox import with_latency
from labtui.targets.resources import DatabricksHost


def new_token_value() -> str:
    """A token shaped like a Databricks personal access token: "dapi" and 32 hex digits."""
    return "dapi" + secrets.token_hex(16)


def _token_hash(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


@with_latency
class LocalTokens(LocalDatabricksPlane):
    """Issue, list, check and revoke the workspaces' tokens."""

    def create_token(self, host: DatabricksHost, comment: str, *,
                     lifetime_seconds: int | None = None) -> AccessToken:
        value = new_token_value()
        token_id = secrets.token_hex(32)
        created = time.time()
        expires = created + lifetime_seconds if lifetime_seconds else None
        with self._sandbox.transaction() as conn:
            workspace = self._name(host, conn)
            conn.execute("INSERT INTO databricks_tokens VALUES (?, ?, ?, ?, ?, ?)",
                         (token_id, workspace, comment, created, expires, _token_hash(value)))
        return AccessToken(token_id, comment, created, expires, value)

    def tokens(self, host: DatabricksHost) -> list[AccessToken]:
        rows = self._sandbox.query(
            "SELECT token_id, comment, created, expires FROM databricks_tokens "
            "WHERE workspace = ? ORDER BY created, token_id",
            (self._name(host),),
        )
        return [AccessToken(r["token_id"], r["comment"], r["created"], r["expires"])
                for r in rows]

    def check_token(self, host: DatabricksHost, value: str) -> bool:
        rows = self._sandbox.query(
            "SELECT expires FROM databricks_tokens WHERE workspace = ? AND value_hash = ?",
            (self._name(host), _token_hash(value)),
        )
        return bool(rows) and (rows[0]["expires"] is None or rows[0]["expires"] > time.time())

    def delete_token(self, host: DatabricksHost, token_id: str) -> bool:
        with self._sandbox.transaction() as conn:
            workspace = self._name(host, conn)
            return bool(conn.execute(
                "DELETE FROM databricks_tokens WHERE workspace = ? AND token_id = ?",
                (workspace, token_id)).rowcount)

    def token_workspace(self, value: str) -> DatabricksHost | None:
        """The host of the workspace that accepts `value` as a token now, or None (the REST
        API's bearer check: one server answers for every workspace of the sandbox)."""
        rows = self._sandbox.query(
            "SELECT w.workspace_id, t.expires FROM databricks_tokens t "
            "JOIN databricks_workspaces w ON w.name = t.workspace WHERE t.value_hash = ?",
            (_token_hash(value),),
        )
        if not rows or (rows[0]["expires"] is not None and rows[0]["expires"] <= time.time()):
            return None
        return self.host_of(str(rows[0]["workspace_id"]))
