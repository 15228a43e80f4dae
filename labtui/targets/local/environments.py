"""Deployment environments of the sandbox's DevOps projects, their approval checks, and the
approvals a run's stage waits on, in `sandbox.db`.

A run that reaches a stage deploying to an environment with an approval check asks for an
approval (`request`, local only: the runner's side of the port) and waits on it (`wait`). The
approval is pending until one of the check's approvers approves or rejects it, or until its
deadline passes: then it is timed out, as Azure DevOps times it out. The deadline is the check's
`timeout_minutes`, or the seconds the run gives (tests and demos do not wait two days).

The local sandbox has no user directory: an approver is any person's name (`ada`,
`ada@contoso.com`), compared case-insensitively.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable

from labtui.targets.errors import Conflict, NotFound, Transient
from labtui.targets.local.pull_requests import create_tables
from labtui.targets.local.sandbox import LocalPort, Sandbox, with_latency
from labtui.targets.ports.devops import DevOps
from labtui.targets.ports.pipelines import (
    Approval,
    ApprovalCheck,
    ApprovalStatus,
    Environment,
    Environments,
)
from labtui.validation import naming_rule

PERSON = naming_rule("person")

TABLES = (
    """CREATE TABLE IF NOT EXISTS environments (
        organization TEXT NOT NULL COLLATE NOCASE,
        project TEXT NOT NULL COLLATE NOCASE,
        name TEXT NOT NULL COLLATE NOCASE,
        description TEXT NOT NULL,
        PRIMARY KEY (organization, project, name)
    )""",
    """CREATE TABLE IF NOT EXISTS environment_checks (
        organization TEXT NOT NULL COLLATE NOCASE,
        project TEXT NOT NULL COLLATE NOCASE,
        environment TEXT NOT NULL COLLATE NOCASE,
        approvers TEXT NOT NULL,           -- JSON list
        timeout_minutes REAL NOT NULL,  -- minutes; a fraction for seconds
        instructions TEXT NOT NULL,
        PRIMARY KEY (organization, project, environment),
        FOREIGN KEY (organization, project, environment)
            REFERENCES environments(organization, project, name) ON DELETE CASCADE
    )""",
    """CREATE TABLE IF NOT EXISTS approvals (
        id TEXT PRIMARY KEY,
        organization TEXT NOT NULL COLLATE NOCASE,
        project TEXT NOT NULL COLLATE NOCASE,
        environment TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        stage TEXT NOT NULL,
        status TEXT NOT NULL,
        approvers TEXT NOT NULL,           -- JSON list
        approved_by TEXT NOT NULL,
        comment TEXT NOT NULL,
        created REAL NOT NULL,
        deadline REAL NOT NULL
    )""",
)

POLL_SECONDS = 0.1


@with_latency
class LocalEnvironments(LocalPort, Environments):
    """Environments, checks and approvals of the sandbox's DevOps projects."""

    def __init__(self, sandbox: Sandbox, devops: Callable[[], DevOps], *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(sandbox)
        self._devops = devops
        self._clock = clock
        self._decided = threading.Condition()
        create_tables(sandbox, TABLES)

    # --- environments and checks -----------------------------------------------------------

    def _env_row(self, conn: sqlite3.Connection, organization: str, project: str,
                 name: str) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM environments WHERE organization = ? AND project = ? AND name = ?",
            (organization, project, name)).fetchone()
        if row is None:
            raise NotFound(f"environment {name!r} does not exist in project "
                           f"{organization}/{project}")
        return row

    def _environment(self, conn: sqlite3.Connection, row: sqlite3.Row) -> Environment:
        checks = tuple(
            ApprovalCheck(tuple(json.loads(c["approvers"])), c["timeout_minutes"],
                          c["instructions"])
            for c in conn.execute(
                "SELECT * FROM environment_checks WHERE organization = ? AND project = ? AND "
                "environment = ?", (row["organization"], row["project"], row["name"])))
        return Environment(row["organization"], row["project"], row["name"], checks)

    def create(self, organization: str, project: str, name: str, *,
               description: str = "") -> Environment:
        self._devops().get_project(organization, project)
        with self._sandbox.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO environments VALUES (?, ?, ?, ?)",
                         (organization, project, name, description))
            return self._environment(conn, self._env_row(conn, organization, project, name))

    def get(self, organization: str, project: str, name: str) -> Environment:
        with self._sandbox.transaction() as conn:
            return self._environment(conn, self._env_row(conn, organization, project, name))

    def delete(self, organization: str, project: str, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(conn.execute(
                "DELETE FROM environments WHERE organization = ? AND project = ? AND name = ?",
                (organization, project, name)).rowcount)

    def add_approval_check(self, environment: Environment,
                           check: ApprovalCheck) -> Environment:
        if not check.approvers:
            raise Conflict(f"an approval check on {environment.name} needs at least one "
                           "approver")
        for approver in check.approvers:
            problem = PERSON(approver)
            if problem:
                raise NotFound(f"approver {approver!r} does not exist: {problem}")
        if check.timeout_minutes <= 0:
            raise Conflict(f"an approval check's timeout is minutes above 0, not "
                           f"{check.timeout_minutes}")
        with self._sandbox.transaction() as conn:
            row = self._env_row(conn, environment.organization, environment.project,
                                environment.name)
            current = self._environment(conn, row)
            if current.checks:
                old = current.checks[0]
                differ = []
                if {a.lower() for a in old.approvers} != {a.lower() for a in check.approvers}:
                    differ.append(f"approvers {', '.join(old.approvers)}, not "
                                  f"{', '.join(check.approvers)}")
                if old.timeout_minutes != check.timeout_minutes:
                    differ.append(f"timeout {old.timeout_minutes} minutes, not "
                                  f"{check.timeout_minutes}")
                if differ:
                    raise Conflict(f"environment {environment.name} has an approval check with "
                                   + " and ".join(differ))
                return current
            conn.execute("INSERT INTO environment_checks VALUES (?, ?, ?, ?, ?, ?)",
                         (row["organization"], row["project"], row["name"],
                          json.dumps(list(check.approvers)), check.timeout_minutes,
                          check.instructions))
            return self._environment(conn, row)

    def remove_checks(self, environment: Environment) -> bool:
        with self._sandbox.transaction() as conn:
            row = self._env_row(conn, environment.organization, environment.project,
                                environment.name)
            return bool(conn.execute(
                "DELETE FROM environment_checks WHERE organization = ? AND project = ? AND "
                "environment = ?", (row["organization"], row["project"], row["name"])).rowcount)

    # --- approvals -------------------------------------------------------------------------

    def _expire(self, conn: sqlite3.Connection) -> None:
        """Time out every pending approval past its deadline (read anywhere: the status a
        person sees is the one a waiting run acts on)."""
        expired = conn.execute(
            "UPDATE approvals SET status = 'timed out' WHERE status = 'pending' AND "
            "deadline <= ?", (self._clock(),)).rowcount
        if expired:
            self._notify()

    def _approval(self, row: sqlite3.Row) -> Approval:
        return Approval(row["id"], row["environment"], row["run_id"], row["stage"],
                        row["status"], tuple(json.loads(row["approvers"])), row["approved_by"],
                        row["comment"])

    def _approval_row(self, conn: sqlite3.Connection, approval_id: str) -> sqlite3.Row:
        self._expire(conn)
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        if row is None:
            raise NotFound(f"approval {approval_id} does not exist")
        return row

    def approvals(self, organization: str, project: str, *,
                  status: ApprovalStatus | None = "pending") -> list[Approval]:
        self._devops().get_project(organization, project)
        with self._sandbox.transaction() as conn:
            self._expire(conn)
            rows = conn.execute(
                "SELECT * FROM approvals WHERE organization = ? AND project = ? AND "
                "(? IS NULL OR status = ?) ORDER BY created, rowid",
                (organization, project, status, status)).fetchall()
            return [self._approval(row) for row in rows]

    def approve(self, approval: Approval, approver: str, comment: str = "") -> Approval:
        return self._decide(approval, approver, comment, "approved")

    def reject(self, approval: Approval, approver: str, comment: str = "") -> Approval:
        return self._decide(approval, approver, comment, "rejected")

    def _decide(self, approval: Approval, approver: str, comment: str,
                decision: ApprovalStatus) -> Approval:
        with self._sandbox.transaction() as conn:
            row = self._approval_row(conn, approval.id)
            current = self._approval(row)
            if current.status == decision:
                return current
            if current.status != "pending":
                raise Conflict(f"the approval of stage {current.stage} on "
                               f"{current.environment} is {current.status}: it cannot be "
                               f"{decision} any more")
            if approver.lower() not in {a.lower() for a in current.approvers}:
                raise Conflict(f"{approver} is not an approver of {current.environment} "
                               f"(its approvers: {', '.join(current.approvers)})")
            conn.execute("UPDATE approvals SET status = ?, approved_by = ?, comment = ? "
                         "WHERE id = ?", (decision, approver, comment, approval.id))
            decided = self._approval(self._approval_row(conn, approval.id))
        self._notify()
        return decided

    def _notify(self) -> None:
        with self._decided:
            self._decided.notify_all()

    # --- local only: the runner's side -----------------------------------------------------

    def forget(self, organization: str, project: str, repository: str | None = None) -> None:
        """Drop the environments and approvals of a deleted project, as Azure DevOps deletes
        them with it (a deleted repository leaves them)."""
        if repository is None:
            with self._sandbox.transaction() as conn:
                for table in ("environments", "approvals"):
                    conn.execute(f"DELETE FROM {table} WHERE organization = ? AND project = ?",
                                 (organization, project))

    def request(self, environment: Environment, run_id: int, stage: str, *,
                timeout_seconds: float | None = None) -> Approval | None:
        """A stage of run `run_id` is about to deploy to `environment`: the pending approval
        its check asks for (the same one when asked again for that run and stage), or None
        when the environment has no approval check.

        Args:
            environment: where the stage deploys.
            run_id: the run.
            stage: the stage's name.
            timeout_seconds: how long the approval waits; default the check's
                `timeout_minutes`.

        Raises:
            NotFound: the environment does not exist.
        """
        with self._sandbox.transaction() as conn:
            row = self._env_row(conn, environment.organization, environment.project,
                                environment.name)
            current = self._environment(conn, row)
            if not current.checks:
                return None
            check = current.checks[0]
            existing = conn.execute(
                "SELECT id FROM approvals WHERE organization = ? AND project = ? AND "
                "environment = ? AND run_id = ? AND stage = ?",
                (row["organization"], row["project"], row["name"], run_id, stage)).fetchone()
            if existing is not None:
                return self._approval(self._approval_row(conn, existing["id"]))
            seconds = (check.timeout_minutes * 60.0 if timeout_seconds is None
                       else timeout_seconds)
            now = self._clock()
            approval_id = secrets.token_hex(8)
            conn.execute("INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, '', '',"
                         " ?, ?)",
                         (approval_id, row["organization"], row["project"], row["name"],
                          run_id, stage, json.dumps(list(check.approvers)), now, now + seconds))
            return self._approval(self._approval_row(conn, approval_id))

    def wait(self, approval: Approval, timeout: float) -> Approval:
        """Wait until the approval is decided or times out, at most `timeout` seconds.

        Returns:
            The approval approved, rejected or timed out.

        Raises:
            NotFound: it does not exist.
            Transient: it is still pending after `timeout` (waiting again is sound).
        """
        until = time.monotonic() + timeout
        while True:
            with self._sandbox.transaction() as conn:
                current = self._approval(self._approval_row(conn, approval.id))
            if current.status != "pending":
                return current
            left = until - time.monotonic()
            if left <= 0:
                raise Transient(f"the approval of stage {current.stage} on "
                                f"{current.environment} is still pending: waiting for "
                                f"{' or '.join(current.approvers)}")
            # Another process may decide it: poll the database, but wake at once on our own.
            with self._decided:
                self._decided.wait(min(left, POLL_SECONDS))
