"""Local resource groups: rows in sandbox.db that own every resource created in them."""

from __future__ import annotations

from labtui.targets.base import Conflict, NotFound, ResourceGroup, ResourceGroups
from labtui.targets.local.sandbox import LocalPort, with_latency


@with_latency
class LocalResourceGroups(LocalPort, ResourceGroups):
    """Resource groups of the sandbox. Deleting one removes its rows (by cascade) and folders."""

    def create(self, name: str, location: str) -> ResourceGroup:
        with self._sandbox.transaction() as conn:
            row = conn.execute(
                "SELECT name, location FROM resource_groups WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO resource_groups (name, location) VALUES (?, ?)", (name, location)
                )
                return ResourceGroup(name, location, self._sandbox.group_id(name))
        if row["location"] != location:
            raise Conflict(
                f"resource group {row['name']} exists in {row['location']}, not in {location}"
            )
        return ResourceGroup(row["name"], row["location"], self._sandbox.group_id(row["name"]))

    def get(self, name: str) -> ResourceGroup:
        rows = self._sandbox.query(
            "SELECT name, location FROM resource_groups WHERE name = ?", (name,)
        )
        if not rows:
            raise NotFound(f"resource group {name} does not exist")
        found = rows[0]
        return ResourceGroup(found["name"], found["location"],
                             self._sandbox.group_id(found["name"]))

    def list(self) -> list[ResourceGroup]:
        rows = self._sandbox.query("SELECT name, location FROM resource_groups ORDER BY name")
        return [ResourceGroup(r["name"], r["location"], self._sandbox.group_id(r["name"]))
                for r in rows]

    def delete(self, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            row = conn.execute(
                "SELECT name FROM resource_groups WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                return False
            accounts = [
                r["name"]
                for r in conn.execute(
                    "SELECT name FROM storage_accounts WHERE resource_group = ?", (name,)
                )
            ]
            ml_workspaces = [
                r["name"]
                for r in conn.execute(
                    "SELECT name FROM ml_workspaces WHERE resource_group = ?", (name,)
                )
            ]
            databricks_workspaces = [
                r["name"]
                for r in conn.execute(
                    "SELECT name FROM databricks_workspaces WHERE resource_group = ?", (name,)
                )
            ]
            # Role assignments on resources of the group go with them, as in Azure.
            conn.execute(
                "DELETE FROM role_assignments WHERE scope = ? OR scope LIKE ?",
                (self._sandbox.group_id(row["name"]), self._sandbox.group_id(row["name"]) + "/%"),
            )
            conn.execute("DELETE FROM resource_groups WHERE name = ?", (name,))
        for account in accounts:
            self._sandbox.remove_folder("datalake", account.lower())
        for workspace in ml_workspaces:
            self._sandbox.remove_folder("ml", workspace.lower())
        for workspace in databricks_workspaces:
            self._sandbox.remove_folder("databricks", workspace.lower())
        return True
