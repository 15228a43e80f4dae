"""Local identity: service principals with generated app ids and passwords, role assignments.

Passwords are never stored: only a salted scrypt hash, enough to check a sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import uuid

from labtui.targets.base import Conflict, Identity, NotFound, RoleAssignment, ServicePrincipal
from labtui.targets.local.sandbox import LocalPort, with_latency


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1, dklen=32)


def generate_password() -> str:
    """A password shaped like the ones Entra ID generates (40 characters, with a '~')."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    head = "".join(secrets.choice(alphabet) for _ in range(3))
    tail = "".join(secrets.choice(alphabet + "_-.") for _ in range(34))
    return f"{head}8Q~{tail}"


def _principal(row: sqlite3.Row, password: str | None = None) -> ServicePrincipal:
    return ServicePrincipal(
        display_name=row["display_name"],
        app_id=row["app_id"],
        object_id=row["object_id"],
        tenant_id=row["tenant_id"],
        password=password,
    )


@with_latency
class LocalIdentity(LocalPort, Identity):
    """Service principals and role assignments of the sandbox."""

    def create_service_principal(self, display_name: str, tenant_id: str) -> ServicePrincipal:
        password = generate_password()
        salt = secrets.token_bytes(16)
        with self._sandbox.transaction() as conn:
            if conn.execute(
                "SELECT 1 FROM service_principals WHERE display_name = ?", (display_name,)
            ).fetchone():
                raise Conflict(f"a service principal named {display_name} exists already")
            conn.execute(
                "INSERT INTO service_principals VALUES (?, ?, ?, ?, ?, ?)",
                (str(uuid.uuid4()), str(uuid.uuid4()), display_name, tenant_id.lower(), salt,
                 _hash(password, salt)),
            )
            row = conn.execute(
                "SELECT * FROM service_principals WHERE display_name = ?", (display_name,)
            ).fetchone()
        return _principal(row, password)

    def find_service_principal(self, display_name: str) -> ServicePrincipal:
        rows = self._sandbox.query(
            "SELECT * FROM service_principals WHERE display_name = ?", (display_name,)
        )
        if not rows:
            raise NotFound(f"there is no service principal named {display_name}")
        return _principal(rows[0])

    def get_service_principal(self, app_id: str) -> ServicePrincipal:
        return _principal(self._row(app_id))

    def reset_password(self, app_id: str) -> str:
        password = generate_password()
        salt = secrets.token_bytes(16)
        with self._sandbox.transaction() as conn:
            changed = conn.execute(
                "UPDATE service_principals SET password_salt = ?, password_hash = ? "
                "WHERE app_id = ?",
                (salt, _hash(password, salt), app_id),
            ).rowcount
        if not changed:
            raise NotFound(f"there is no service principal with app id {app_id}")
        return password

    def check_password(self, app_id: str, password: str) -> bool:
        rows = self._sandbox.query(
            "SELECT password_salt, password_hash FROM service_principals WHERE app_id = ?",
            (app_id,),
        )
        if not rows:
            return False
        return hmac.compare_digest(
            _hash(password, rows[0]["password_salt"]), rows[0]["password_hash"]
        )

    def delete_service_principal(self, app_id: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(
                conn.execute("DELETE FROM service_principals WHERE app_id = ?", (app_id,)).rowcount
            )

    def assign_role(self, principal_id: str, role: str, scope: str) -> RoleAssignment:
        if not self._scope_exists(scope):
            raise NotFound(f"scope {scope} does not exist")
        with self._sandbox.transaction() as conn:
            if not conn.execute(
                "SELECT 1 FROM service_principals WHERE object_id = ?", (principal_id,)
            ).fetchone():
                raise NotFound(f"there is no principal with object id {principal_id}")
            conn.execute(
                "INSERT OR IGNORE INTO role_assignments VALUES (?, ?, ?, ?)",
                (str(uuid.uuid4()), principal_id, role, scope),
            )
            row = conn.execute(
                "SELECT * FROM role_assignments WHERE principal_id = ? AND role = ? AND scope = ?",
                (principal_id, role, scope),
            ).fetchone()
        return RoleAssignment(row["id"], row["principal_id"], row["role"], row["scope"])

    def role_assignments(self, scope: str) -> list[RoleAssignment]:
        rows = self._sandbox.query(
            "SELECT * FROM role_assignments WHERE scope = ? ORDER BY role, principal_id", (scope,)
        )
        return [RoleAssignment(r["id"], r["principal_id"], r["role"], r["scope"]) for r in rows]

    def remove_role_assignment(self, assignment_id: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(
                conn.execute(
                    "DELETE FROM role_assignments WHERE id = ?", (assignment_id,)
                ).rowcount
            )

    def _row(self, app_id: str) -> sqlite3.Row:
        rows = self._sandbox.query("SELECT * FROM service_principals WHERE app_id = ?", (app_id,))
        if not rows:
            raise NotFound(f"there is no service principal with app id {app_id}")
        return rows[0]

    def _scope_exists(self, scope: str) -> bool:
        """Whether a resource id names a group or a resource of the sandbox."""
        parts = scope.strip("/").split("/")
        if len(parts) < 4 or parts[2].lower() != "resourcegroups":
            return False
        group = parts[3]
        if len(parts) == 4:
            table, name = "resource_groups", group
        elif len(parts) == 8 and parts[4].lower() == "providers":
            tables = {
                "microsoft.storage/storageaccounts": "storage_accounts",
                "microsoft.keyvault/vaults": "vaults",
                "microsoft.databricks/workspaces": "databricks_workspaces",
                "microsoft.machinelearningservices/workspaces": "ml_workspaces",
            }
            found = tables.get(f"{parts[5]}/{parts[6]}".lower())
            if found is None:
                return False
            table, name = found, parts[7]
        else:
            return False
        column = "name" if table == "resource_groups" else "resource_group"
        if table == "resource_groups":
            sql = "SELECT 1 FROM resource_groups WHERE name = ?"
            params: tuple[str, ...] = (name,)
        else:
            sql = f"SELECT 1 FROM {table} WHERE name = ? AND {column} = ?"
            params = (name, group)
        return bool(self._sandbox.query(sql, params))
