"""Pull requests over the sandbox's bare git repositories.

A request, its reviewers and their votes and its discussion are rows in `sandbox.db`; the
branches are the bare repository's own. Completing one really merges: a throwaway clone under
`<sandbox>/merges/` checks out the target branch, merges the source with a merge commit
(`--no-ff`, as Azure DevOps' default "merge (no fast-forward)" does) and pushes the target back
into the bare repository.

The reviewers named when the request is opened are required, as a branch policy "required
reviewers" makes them: completing waits until each has approved (5 or 10), and any rejection
(-10) blocks it.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from labtui.targets.errors import Conflict, NotFound, TargetError
from labtui.targets.local.sandbox import LocalPort, Sandbox, with_latency
from labtui.targets.ports.pipelines import (
    VOTES,
    Comment,
    PullRequest,
    PullRequests,
    PullRequestStatus,
    Reviewer,
    Vote,
)
from labtui.targets.resources import GitRepository
from labtui.targets.shared.git import AUTHOR_EMAIL, AUTHOR_NAME

TABLES = (
    """CREATE TABLE IF NOT EXISTS pull_requests (
        id INTEGER PRIMARY KEY,
        repository TEXT NOT NULL,      -- the bare repository's path
        organization TEXT NOT NULL COLLATE NOCASE,
        project TEXT NOT NULL COLLATE NOCASE,
        repository_name TEXT NOT NULL COLLATE NOCASE,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        merge_commit TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS pull_request_reviewers (
        pull_request INTEGER NOT NULL REFERENCES pull_requests(id) ON DELETE CASCADE,
        name TEXT NOT NULL COLLATE NOCASE,
        vote INTEGER NOT NULL,
        required INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (pull_request, name)
    )""",
    """CREATE TABLE IF NOT EXISTS pull_request_comments (
        seq INTEGER PRIMARY KEY,
        pull_request INTEGER NOT NULL REFERENCES pull_requests(id) ON DELETE CASCADE,
        author TEXT NOT NULL,
        text TEXT NOT NULL,
        created REAL NOT NULL
    )""",
)


def create_tables(sandbox: Sandbox, tables: Sequence[str]) -> None:
    """Create a port's own tables in the sandbox database (kept beside the port, so each
    port owns its schema)."""
    with sandbox.transaction() as conn:
        for table in tables:
            conn.execute(table)


@with_latency
class LocalPullRequests(LocalPort, PullRequests):
    """Pull requests of the sandbox's DevOps repositories."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        create_tables(sandbox, TABLES)
        self.on_merge: list[Callable[[GitRepository, str, str], object]] = []
        """Called with (repository, target branch, merge commit) after a completion pushed
        the merge: the pipelines whose CI trigger includes the branch queue a run."""

    # --- reading ---------------------------------------------------------------------------

    def _row(self, conn: sqlite3.Connection, repository: GitRepository,
             pull_request_id: int) -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM pull_requests WHERE id = ? AND repository = ?",
            (pull_request_id, repository.clone_url)).fetchone()
        if row is None:
            raise NotFound(f"pull request {pull_request_id} does not exist in repository "
                           f"{repository.name}")
        return row

    def _request(self, conn: sqlite3.Connection, repository: GitRepository,
                 row: sqlite3.Row) -> PullRequest:
        reviewers = tuple(
            Reviewer(r["name"], r["vote"], bool(r["required"])) for r in conn.execute(
                "SELECT * FROM pull_request_reviewers WHERE pull_request = ? ORDER BY seq",
                (row["id"],)))
        return PullRequest(repository, row["id"], row["title"], row["source"], row["target"],
                           row["status"], reviewers, row["merge_commit"],
                           f"{repository.web_url}/pullrequest/{row['id']}")

    def get(self, repository: GitRepository, pull_request_id: int) -> PullRequest:
        with self._sandbox.transaction() as conn:
            return self._request(conn, repository, self._row(conn, repository, pull_request_id))

    def requests(self, repository: GitRepository, *,
                 status: PullRequestStatus | None = "active") -> list[PullRequest]:
        _bare(repository)
        with self._sandbox.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM pull_requests WHERE repository = ? AND (? IS NULL OR status = ?)"
                " ORDER BY id DESC", (repository.clone_url, status, status)).fetchall()
            return [self._request(conn, repository, row) for row in rows]

    def comments(self, repository: GitRepository, pull_request_id: int) -> list[Comment]:
        with self._sandbox.transaction() as conn:
            self._row(conn, repository, pull_request_id)
            rows = conn.execute("SELECT author, text FROM pull_request_comments "
                                "WHERE pull_request = ? ORDER BY seq", (pull_request_id,))
            return [Comment(r["author"], r["text"]) for r in rows]

    # --- changing --------------------------------------------------------------------------

    def create(self, repository: GitRepository, source: str, target: str, title: str, *,
               description: str = "", reviewers: Sequence[str] = ()) -> PullRequest:
        branches = _branches(repository)
        for branch in (source, target):
            if branch not in branches:
                raise NotFound(f"branch {branch} does not exist in repository {repository.name}")
        if source == target:
            raise Conflict(f"a pull request needs two branches: source and target are both "
                           f"{source}")
        with self._sandbox.transaction() as conn:
            active = conn.execute(
                "SELECT * FROM pull_requests WHERE repository = ? AND source = ? AND target = ?"
                " AND status = 'active'", (repository.clone_url, source, target)).fetchone()
            if active is not None:
                if active["title"] != title:
                    raise Conflict(f"pull request {active['id']} from {source} into {target} "
                                   f"is open with the title {active['title']!r}, not {title!r}")
                return self._request(conn, repository, active)
            cursor = conn.execute(
                "INSERT INTO pull_requests (repository, organization, project, "
                "repository_name, title, description, source, target, status, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)",
                (repository.clone_url, repository.organization, repository.project,
                 repository.name, title, description, source, target, time.time()))
            pull_request_id = int(cursor.lastrowid or 0)
            for seq, name in enumerate(dict.fromkeys(reviewers)):
                conn.execute("INSERT OR IGNORE INTO pull_request_reviewers VALUES "
                             "(?, ?, 0, 1, ?)", (pull_request_id, name, seq))
            return self._request(conn, repository,
                                 self._row(conn, repository, pull_request_id))

    def vote(self, repository: GitRepository, pull_request_id: int, reviewer: str,
             vote: Vote) -> PullRequest:
        with self._sandbox.transaction() as conn:
            row = self._row(conn, repository, pull_request_id)
            if vote not in VOTES:
                raise Conflict(f"{vote} is not a vote: one of "
                               + ", ".join(f"{v} ({m})" for v, m in VOTES.items()))
            if row["status"] != "active":
                raise Conflict(f"pull request {pull_request_id} is {row['status']}: it takes "
                               "no more votes")
            updated = conn.execute(
                "UPDATE pull_request_reviewers SET vote = ? WHERE pull_request = ? AND name = ?",
                (vote, pull_request_id, reviewer)).rowcount
            if not updated:
                seq = conn.execute("SELECT count(*) FROM pull_request_reviewers WHERE "
                                   "pull_request = ?", (pull_request_id,)).fetchone()[0]
                conn.execute("INSERT INTO pull_request_reviewers VALUES (?, ?, ?, 0, ?)",
                             (pull_request_id, reviewer, vote, seq))
            return self._request(conn, repository, row)

    def comment(self, repository: GitRepository, pull_request_id: int, author: str,
                text: str) -> Comment:
        with self._sandbox.transaction() as conn:
            self._row(conn, repository, pull_request_id)
            conn.execute("INSERT INTO pull_request_comments (pull_request, author, text, "
                         "created) VALUES (?, ?, ?, ?)",
                         (pull_request_id, author, text, time.time()))
        return Comment(author, text)

    def complete(self, repository: GitRepository, pull_request_id: int, *,
                 delete_source_branch: bool = False) -> PullRequest:
        request = self.get(repository, pull_request_id)
        if request.status == "completed":
            return request
        if request.status == "abandoned":
            raise Conflict(f"pull request {pull_request_id} is abandoned: it cannot be completed")
        blocker = completion_blocker(request)
        if blocker:
            raise Conflict(f"pull request {pull_request_id} cannot be completed: {blocker}")
        commit = self._merge(request)
        with self._sandbox.transaction() as conn:
            conn.execute("UPDATE pull_requests SET status = 'completed', merge_commit = ? "
                         "WHERE id = ?", (commit, pull_request_id))
        if delete_source_branch:
            _delete_branch(repository, request.source)
        for hook in self.on_merge:
            hook(repository, request.target, commit)
        return self.get(repository, pull_request_id)

    def _merge(self, request: PullRequest) -> str:
        """Merge source into target in a throwaway clone and push the target; the merge
        commit's id."""
        import git

        folder = self._sandbox.folder("merges") / f"pr-{request.id}-{time.monotonic_ns()}"
        try:
            clone = git.Repo.clone_from(_bare(request.repository), folder,
                                        branch=request.target)
            with clone.config_writer() as config:
                config.set_value("user", "name", AUTHOR_NAME)
                config.set_value("user", "email", AUTHOR_EMAIL)
            message = f"Merged PR {request.id}: {request.title}"
            try:
                clone.git.merge("--no-ff", "-m", message, f"origin/{request.source}")
            except git.GitCommandError:
                conflicted = clone.git.diff("--name-only", "--diff-filter=U").split()
                raise Conflict(
                    f"pull request {request.id} cannot be completed: {request.source} and "
                    f"{request.target} do not merge cleanly (conflicts in "
                    f"{', '.join(conflicted) or 'the history'}); merge {request.target} into "
                    f"{request.source}, resolve and push") from None
            clone.git.push("origin", f"{request.target}:{request.target}")
            return str(clone.head.commit.hexsha)
        except git.GitCommandError as exc:
            raise TargetError(f"merging pull request {request.id} failed: "
                              f"{_last_line(exc)}") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            self._sandbox.remove_folder("merges")

    def abandon(self, repository: GitRepository, pull_request_id: int) -> bool:
        with self._sandbox.transaction() as conn:
            try:
                row = self._row(conn, repository, pull_request_id)
            except NotFound:
                return False
            if row["status"] == "completed":
                raise Conflict(f"pull request {pull_request_id} is completed: a merge cannot be "
                               "abandoned (revert its merge commit instead)")
            if row["status"] == "abandoned":
                return False
            conn.execute("UPDATE pull_requests SET status = 'abandoned' WHERE id = ?",
                         (pull_request_id,))
            return True


    def forget(self, organization: str, project: str, repository: str | None = None) -> None:
        """Drop the requests of a deleted project (or of one deleted repository), as Azure
        DevOps deletes them with it."""
        with self._sandbox.transaction() as conn:
            conn.execute("DELETE FROM pull_requests WHERE organization = ? AND project = ? AND "
                         "(? IS NULL OR repository_name = ?)",
                         (organization, project, repository, repository))


def completion_blocker(request: PullRequest) -> str:
    """Why an active request cannot be completed yet, in one line; "" when it can."""
    rejected = [r.name for r in request.reviewers if r.vote == -10]
    if rejected:
        return f"rejected by {', '.join(rejected)}"
    waiting = [r for r in request.reviewers if r.required and r.vote < 5]
    if waiting:
        return "waiting for " + ", ".join(
            f"{r.name} ({VOTES.get(r.vote, str(r.vote))})" for r in waiting)
    return ""


def _bare(repository: GitRepository) -> Path:
    path = Path(repository.clone_url)
    if not (path / "HEAD").exists():
        raise NotFound(f"repository {repository.name} does not exist")
    return path


def _branches(repository: GitRepository) -> set[str]:
    import git

    return {head.name for head in git.Repo(_bare(repository)).heads}


def _delete_branch(repository: GitRepository, branch: str) -> None:
    import git

    git.Repo(_bare(repository)).git.update_ref("-d", f"refs/heads/{branch}")


def _last_line(exc: Exception) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip().strip("'\n")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
