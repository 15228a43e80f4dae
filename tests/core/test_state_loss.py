"""An emptied, deleted or replaced state.db is never silent loss: the sandbox knows which
state.db it works for, refuses another, and gives the journal back (`labtui recover`, or the
backup labtui keeps after each run)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import LabtuiRunner


def _journal(labtui: LabtuiRunner) -> list[tuple[str, str | None, str, str]]:
    ran = labtui("journal", "--json")
    assert ran.code == 0, ran.output
    return [(e["step"], e["env"], e["kind"], e["ref"])
            for e in map(json.loads, ran.stdout.splitlines())]


def _lab(labtui: LabtuiRunner, files: Path) -> list[tuple[str, str | None, str, str]]:
    for args in (("--step", "demo-files"), ("--step", "demo-per-env", "--env", "dev")):
        ran = labtui(*args, "--headless", "--set", f"demo-dir={files}")
        assert ran.code == 0, ran.output
    journal = _journal(labtui)
    assert len(journal) == 4
    return journal


def _lose(state: Path, how: str) -> None:
    if how == "emptied":
        state.write_bytes(b"")
    else:
        state.unlink()


@pytest.mark.parametrize("how", ["emptied", "deleted"])
def test_a_lost_state_db_is_refused_with_the_ways_out(
        labtui: LabtuiRunner, tmp_path: Path, how: str) -> None:
    files = tmp_path / "files"
    _lab(labtui, files)
    _lose(labtui.workspace / "state.db", how)

    for args in (("--all", "--headless", "--rollback", "--yes"),
                 ("--step", "demo-files", "--headless", "--set", f"demo-dir={files}")):
        ran = labtui(*args)
        assert ran.code == 2, ran.output
        lines = ran.stderr.strip().splitlines()
        assert len(lines) == 1, ran.stderr
        assert "state.db is new or was emptied" in lines[0]
        assert "holds 4 resources" in lines[0]
        assert "labtui recover" in lines[0]
        assert f"cp {labtui.workspace / 'state.db.bak'} {labtui.workspace / 'state.db'}" in lines[0]
        assert "nothing to remove" not in ran.output
    assert len(list(files.iterdir())) == 4, "nothing was removed, nor adopted"
    assert _journal(labtui) == [], "a refused run journals nothing"


def test_recover_rebuilds_the_journal_exactly(labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    before = _lab(labtui, files)
    _lose(labtui.workspace / "state.db", "emptied")

    ran = labtui("recover")
    assert ran.code == 0, ran.output
    assert "recovered 4 of 4 journal entries (demo-files, demo-per-env [dev])" in ran.stderr
    assert _journal(labtui) == before

    rolled = labtui("--all", "--headless", "--rollback", "--yes")
    assert rolled.code == 0, rolled.output
    assert list(files.iterdir()) == []
    again = labtui("recover")
    assert "holds nothing" in again.stderr, "rollback emptied the sandbox's record too"


def test_the_backup_restores_values_and_journal(labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    before = _lab(labtui, files)
    state, backup = labtui.workspace / "state.db", labtui.workspace / "state.db.bak"
    assert backup.stat().st_mode & 0o777 == 0o600
    _lose(state, "deleted")
    shutil.copy(backup, state)

    assert _journal(labtui) == before
    ran = labtui("--step", "demo-files", "--headless", "--verify")
    assert ran.code == 0, "the values came back with it: " + ran.output
    rolled = labtui("--all", "--headless", "--rollback", "--yes")
    assert rolled.code == 0, rolled.output
    assert list(files.iterdir()) == []


def test_a_workspace_whose_sandbox_is_empty_starts_afresh(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    _lab(labtui, files)
    assert labtui("--all", "--headless", "--rollback", "--yes").code == 0
    (labtui.workspace / "state.db").unlink()

    ran = labtui("--step", "demo-files", "--headless", "--set", f"demo-dir={files}")
    assert ran.code == 0, ran.output


def test_the_sandbox_names_the_state_db_it_works_for(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    _lab(labtui, tmp_path / "files")
    with sqlite3.connect(labtui.workspace / "state.db") as db:
        (workspace_id,) = db.execute(
            "SELECT value FROM meta WHERE key = 'workspace-id'").fetchone()
    with sqlite3.connect(labtui.workspace / "sandbox" / "sandbox.db") as db:
        (owner,) = db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()
        mirrored = db.execute("SELECT count(*) FROM ledger").fetchone()[0]
    assert owner == workspace_id
    assert mirrored == 4


def test_recover_names_a_path_that_holds_no_workspace(labtui: LabtuiRunner) -> None:
    ran = labtui("recover")
    assert ran.code == 2
    assert f"there is no workspace at {labtui.workspace}" in ran.stderr
    assert not labtui.workspace.exists()


def test_a_journal_older_than_the_mirror_is_mirrored_when_next_opened(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    """A workspace an older labtui made has a journal but no mirror: the next command that
    opens it copies the journal over, so a later loss is still recoverable."""
    files = tmp_path / "files"
    before = _lab(labtui, files)
    with sqlite3.connect(labtui.workspace / "sandbox" / "sandbox.db") as db:
        db.execute("DELETE FROM ledger")
        db.execute("DELETE FROM meta WHERE key = 'owner'")
    assert labtui("--step", "demo-files", "--headless", "--verify").code == 0
    (labtui.workspace / "state.db").unlink()
    (labtui.workspace / "state.db.bak").unlink()

    ran = labtui("--step", "demo-files", "--headless", "--verify")
    assert ran.code == 2 and "holds 4 resources" in ran.stderr
    assert labtui("recover").code == 0
    assert _journal(labtui) == before


def test_a_backup_older_than_the_last_run_gets_the_newer_entries_back(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    """The backup is from before a run that was killed (no backup at its end): restoring it
    loses no entry, because the sandbox's record has the newer ones."""
    files = tmp_path / "files"
    ran = labtui("--step", "demo-files", "--headless", "--set", f"demo-dir={files}")
    assert ran.code == 0, ran.output
    backup = labtui.workspace / "state.db.bak"
    older = backup.read_bytes()
    ran = labtui("--step", "demo-per-env", "--env", "dev", "--headless")
    assert ran.code == 0, ran.output
    after = _journal(labtui)
    (labtui.workspace / "state.db").unlink()
    (labtui.workspace / "state.db").write_bytes(older)

    assert labtui("--step", "demo-files", "--headless", "--verify").code == 0
    assert sorted(_journal(labtui)) == sorted(after)
    assert labtui("--all", "--headless", "--rollback", "--yes").code == 0
    assert list(files.iterdir()) == []
