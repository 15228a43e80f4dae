"""A DevOps project's library of variable groups, in `sandbox.db`.

A plain group keeps its variables; a secret one is sealed with the sandbox's vault key, as the
vault's own secrets are, and never comes back out of `get`. A group linked to a Key Vault keeps
only the names of the vault's secrets it exposes: their values are read from the local vault
when someone asks (`values`, what a pipeline run does at its start), so a secret changed in the
vault is the new value at once.

The local sandbox has no Azure Resource Manager service connections: the one a linked group
reads the vault through is the service principal of that name (an ARM service connection is
one).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from labtui.targets.errors import Conflict, NotFound
from labtui.targets.local.pull_requests import create_tables
from labtui.targets.local.sandbox import LocalPort, Sandbox, with_latency
from labtui.targets.local.vault import vault_uri
from labtui.targets.ports.azure import Identity, Vault
from labtui.targets.ports.devops import DevOps
from labtui.targets.ports.pipelines import Variable, VariableGroup, VariableGroups

TABLES = (
    """CREATE TABLE IF NOT EXISTS variable_groups (
        organization TEXT NOT NULL COLLATE NOCASE,
        project TEXT NOT NULL COLLATE NOCASE,
        name TEXT NOT NULL COLLATE NOCASE,
        description TEXT NOT NULL,
        vault TEXT NOT NULL,               -- '' for a plain group
        service_connection TEXT NOT NULL,
        PRIMARY KEY (organization, project, name)
    )""",
    """CREATE TABLE IF NOT EXISTS group_variables (
        organization TEXT NOT NULL COLLATE NOCASE,
        project TEXT NOT NULL COLLATE NOCASE,
        grp TEXT NOT NULL COLLATE NOCASE,
        name TEXT NOT NULL COLLATE NOCASE,
        value BLOB NOT NULL,               -- sealed when secret; '' for a vault's secret
        secret INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (organization, project, grp, name),
        FOREIGN KEY (organization, project, grp)
            REFERENCES variable_groups(organization, project, name) ON DELETE CASCADE
    )""",
)


@with_latency
class LocalVariableGroups(LocalPort, VariableGroups):
    """Variable groups of the sandbox's DevOps projects."""

    def __init__(self, sandbox: Sandbox, devops: Callable[[], DevOps],
                 vault: Callable[[], Vault], identity: Callable[[], Identity]) -> None:
        super().__init__(sandbox)
        self._devops, self._vault, self._identity = devops, vault, identity
        create_tables(sandbox, TABLES)

    def _project(self, organization: str, project: str) -> None:
        self._devops().get_project(organization, project)  # raises NotFound

    def _group_row(self, conn: sqlite3.Connection, organization: str, project: str,
                   name: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM variable_groups WHERE organization = ? AND project = ? AND name = ?",
            (organization, project, name)).fetchone()
        if row is None:
            raise NotFound(f"variable group {name!r} does not exist in project "
                           f"{organization}/{project}")
        return row

    def _group(self, conn: sqlite3.Connection, row: sqlite3.Row) -> VariableGroup:
        rows = conn.execute(
            "SELECT name, value, secret FROM group_variables WHERE organization = ? AND "
            "project = ? AND grp = ? ORDER BY seq",
            (row["organization"], row["project"], row["name"])).fetchall()
        variables = tuple(
            Variable(r["name"], "" if r["secret"] else bytes(r["value"]).decode("utf-8"),
                     bool(r["secret"])) for r in rows)
        return VariableGroup(row["organization"], row["project"], row["name"], variables,
                             row["vault"], row["description"])

    def _insert(self, conn: sqlite3.Connection, organization: str, project: str, group: str,
                variable: Variable, seq: int) -> None:
        value = (self._sandbox.encrypt(variable.value) if variable.secret
                 else variable.value.encode("utf-8"))
        conn.execute("INSERT OR REPLACE INTO group_variables VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (organization, project, group, variable.name, value,
                      int(variable.secret), seq))

    # --- the port --------------------------------------------------------------------------

    def create(self, organization: str, project: str, name: str,
               variables: Sequence[Variable] = (), *, description: str = "") -> VariableGroup:
        self._project(organization, project)
        with self._sandbox.transaction() as conn:
            try:
                row = self._group_row(conn, organization, project, name)
            except NotFound:
                conn.execute("INSERT INTO variable_groups VALUES (?, ?, ?, ?, '', '')",
                             (organization, project, name, description))
                for seq, variable in enumerate(variables):
                    self._insert(conn, organization, project, name, variable, seq)
                return self._group(conn, self._group_row(conn, organization, project, name))
            existing = self._group(conn, row)
            if existing.vault:
                raise Conflict(f"variable group {name!r} exists linked to key vault "
                               f"{existing.vault}, not with plain variables")
            differ = _differences(existing.variables, variables)
            if differ:
                raise Conflict(f"variable group {name!r} exists with other variables: "
                               + ", ".join(differ))
            for seq, variable in enumerate(variables):
                if variable.secret:  # cannot be compared: set again, as the port promises
                    self._insert(conn, organization, project, name, variable, seq)
            return existing

    def create_linked(self, organization: str, project: str, name: str, vault: str,
                      secrets: Sequence[str], *, service_connection: str) -> VariableGroup:
        self._project(organization, project)
        self._identity().find_service_principal(service_connection)  # NotFound: no connection
        available = {secret.lower() for secret in self._vault().list_secrets(vault_uri(vault))}
        absent = [secret for secret in secrets if secret.lower() not in available]
        if absent:
            raise NotFound(f"key vault {vault} has no secret{'s' if len(absent) != 1 else ''} "
                           + ", ".join(absent))
        with self._sandbox.transaction() as conn:
            try:
                row = self._group_row(conn, organization, project, name)
            except NotFound:
                conn.execute("INSERT INTO variable_groups VALUES (?, ?, ?, '', ?, ?)",
                             (organization, project, name, vault, service_connection))
                for seq, secret in enumerate(dict.fromkeys(secrets)):
                    self._insert(conn, organization, project, name, Variable(secret, "", True),
                                 seq)
                return self._group(conn, self._group_row(conn, organization, project, name))
            existing = self._group(conn, row)
            if not existing.vault:
                raise Conflict(f"variable group {name!r} exists with plain variables, not "
                               f"linked to key vault {vault}")
            if existing.vault.lower() != vault.lower():
                raise Conflict(f"variable group {name!r} is linked to key vault "
                               f"{existing.vault}, not {vault}")
            have = {v.name.lower() for v in existing.variables}
            want = {s.lower() for s in secrets}
            if have != want:
                extra, missing = sorted(have - want), sorted(want - have)
                parts = ([f"it also has {', '.join(extra)}"] if extra else []) + (
                    [f"it lacks {', '.join(missing)}"] if missing else [])
                raise Conflict(f"variable group {name!r} links other secrets of {vault}: "
                               + "; ".join(parts))
            return existing

    def get(self, organization: str, project: str, name: str) -> VariableGroup:
        with self._sandbox.transaction() as conn:
            return self._group(conn, self._group_row(conn, organization, project, name))

    def groups(self, organization: str, project: str) -> list[VariableGroup]:
        self._project(organization, project)
        with self._sandbox.transaction() as conn:
            rows = conn.execute("SELECT * FROM variable_groups WHERE organization = ? AND "
                                "project = ? ORDER BY name", (organization, project)).fetchall()
            return [self._group(conn, row) for row in rows]

    def set_variable(self, organization: str, project: str, group: str,
                     variable: Variable) -> None:
        with self._sandbox.transaction() as conn:
            row = self._group_row(conn, organization, project, group)
            if row["vault"]:
                raise Conflict(f"variable group {group!r} is linked to key vault {row['vault']}:"
                               " its variables are the vault's secrets (set the secret there)")
            old = conn.execute("SELECT seq FROM group_variables WHERE organization = ? AND "
                               "project = ? AND grp = ? AND name = ?",
                               (organization, project, group, variable.name)).fetchone()
            seq = old["seq"] if old is not None else conn.execute(
                "SELECT coalesce(max(seq) + 1, 0) FROM group_variables WHERE organization = ? "
                "AND project = ? AND grp = ?", (organization, project, group)).fetchone()[0]
            self._insert(conn, organization, project, group, variable, seq)

    def delete_variable(self, organization: str, project: str, group: str, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            row = self._group_row(conn, organization, project, group)
            if row["vault"]:
                raise Conflict(f"variable group {group!r} is linked to key vault {row['vault']}:"
                               " its variables are the vault's secrets")
            return bool(conn.execute(
                "DELETE FROM group_variables WHERE organization = ? AND project = ? AND "
                "grp = ? AND name = ?", (organization, project, group, name)).rowcount)

    def delete(self, organization: str, project: str, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(conn.execute(
                "DELETE FROM variable_groups WHERE organization = ? AND project = ? AND "
                "name = ?", (organization, project, name)).rowcount)

    # --- local only: what a pipeline run reads ---------------------------------------------

    def forget(self, organization: str, project: str, repository: str | None = None) -> None:
        """Drop the groups of a deleted project, as Azure DevOps deletes them with it (a
        deleted repository leaves them)."""
        if repository is None:
            with self._sandbox.transaction() as conn:
                conn.execute("DELETE FROM variable_groups WHERE organization = ? AND "
                             "project = ?", (organization, project))

    def values(self, organization: str, project: str, name: str) -> dict[str, Variable]:
        """Every variable of the group with its value, as a pipeline run gets them at its
        start: a linked group's are read from the vault now. Callers must mask the secret ones.

        Raises:
            NotFound: the group does not exist, or a secret it links is gone from the vault
                (named in the message).
        """
        with self._sandbox.transaction() as conn:
            row = self._group_row(conn, organization, project, name)
            rows = conn.execute(
                "SELECT name, value, secret FROM group_variables WHERE organization = ? AND "
                "project = ? AND grp = ? ORDER BY seq",
                (row["organization"], row["project"], row["name"])).fetchall()
        vault = row["vault"]
        found: dict[str, Variable] = {}
        for r in rows:
            if vault:
                try:
                    value = self._vault().get_secret(vault_uri(vault), r["name"])
                except NotFound:
                    raise NotFound(f"variable group {name!r} links secret {r['name']} of key "
                                   f"vault {vault}, which no longer has it") from None
            elif r["secret"]:
                value = self._sandbox.decrypt(bytes(r["value"]))
            else:
                value = bytes(r["value"]).decode("utf-8")
            found[r["name"]] = Variable(r["name"], value, bool(r["secret"]))
        return found


def _differences(existing: Sequence[Variable], wanted: Sequence[Variable]) -> list[str]:
    """What differs between a group's variables and the wanted ones, naming variables (and
    plain values) but never a secret's value."""
    have = {v.name.lower(): v for v in existing}
    want = {v.name.lower(): v for v in wanted}
    differ = [f"{have[key].name} is not wanted" for key in have if key not in want]
    differ += [f"{want[key].name} is missing" for key in want if key not in have]
    for key in have.keys() & want.keys():
        old, new = have[key], want[key]
        if old.secret != new.secret:
            differ.append(f"{new.name} is {'secret' if old.secret else 'plain'} there")
        elif not old.secret and old.value != new.value:
            differ.append(f"{new.name} is {old.value!r}, not {new.value!r}")
    return differ
