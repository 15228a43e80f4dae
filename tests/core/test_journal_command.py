"""A rollback that cannot finish has a way out: `labtui journal` lists what is recorded and
`labtui journal forget ID` (asked first, or --yes) drops an entry whose resource is gone."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from tests.conftest import LabtuiRunner


def _lab(labtui: LabtuiRunner, files: Path) -> None:
    ran = labtui("--step", "demo-files", "--headless", "--set", f"demo-dir={files}")
    assert ran.code == 0, ran.output


def _entries(labtui: LabtuiRunner) -> list[dict[str, object]]:
    ran = labtui("journal", "--json")
    assert ran.code == 0, ran.output
    return [json.loads(line) for line in ran.stdout.splitlines()]


def _stuck_rollback(labtui: LabtuiRunner, seq: int) -> None:
    ran = labtui("--step", "demo-files", "--headless", "--rollback")
    assert ran.code == 1
    assert "Traceback" not in ran.output
    assert f"`labtui journal forget {seq}`" in ran.output
    # Still stuck the second time: nothing changes by itself.
    assert labtui("--step", "demo-files", "--headless", "--rollback").code == 1


def test_a_damaged_undo_record_has_a_way_out(labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    _lab(labtui, files)
    with sqlite3.connect(labtui.workspace / "state.db") as db:
        db.execute("UPDATE journal SET undo = '{not json' WHERE seq = 2")

    _stuck_rollback(labtui, 2)
    entries = _entries(labtui)
    assert [(e["id"], e["undo_readable"]) for e in entries] == [(1, True), (2, False), (3, True)]
    table = labtui("journal")
    assert "undo record damaged" in table.stdout and "file-001.txt" in table.stdout

    refused = labtui("journal", "forget", "2")
    assert refused.code == 2 and "--yes" in refused.stderr
    assert len(_entries(labtui)) == 3, "nothing is forgotten without a yes"

    forgot = labtui("journal", "forget", "2", "--yes")
    assert forgot.code == 0, forgot.output
    assert "forgot journal entry 2 (demo-files: file" in forgot.stderr
    rolled = labtui("--step", "demo-files", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    assert sorted(p.name for p in files.iterdir()) == ["file-001.txt"], (
        "the others are removed; the forgotten one is left as it was")


def test_an_unknown_kind_has_a_way_out(labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    _lab(labtui, files)
    with sqlite3.connect(labtui.workspace / "state.db") as db:
        db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) "
                   "VALUES ('demo-files', '', 'gizmo', 'g-1', '{}', ?)", (time.time(),))

    _stuck_rollback(labtui, 4)
    assert labtui("journal", "forget", "4", "--yes").code == 0
    rolled = labtui("--step", "demo-files", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    assert list(files.iterdir()) == []
    assert _entries(labtui) == []


def test_forget_names_a_missing_entry(labtui: LabtuiRunner, tmp_path: Path) -> None:
    _lab(labtui, tmp_path / "files")
    for bad in ("99", "x"):
        ran = labtui("journal", "forget", bad, "--yes")
        assert ran.code == 2
        assert len(ran.stderr.strip().splitlines()) == 1
    assert len(_entries(labtui)) == 3


def test_forget_drops_the_sandbox_copy_too(labtui: LabtuiRunner, tmp_path: Path) -> None:
    _lab(labtui, tmp_path / "files")
    assert labtui("journal", "forget", "1", "--yes").code == 0
    (labtui.workspace / "state.db").unlink()
    assert labtui("recover").code == 0
    assert [e["ref"] for e in _entries(labtui)] == [
        str(tmp_path / "files" / "file-001.txt"), str(tmp_path / "files" / "file-002.txt")]


def test_the_listing_masks_secrets(labtui: LabtuiRunner, tmp_path: Path) -> None:
    secret = "canary-Jrnl-4411"
    assert labtui("--step", "demo-canary", "--headless",
                  extra_env={"LABTUI_DEMO_SECRET": secret}).code == 0
    with sqlite3.connect(labtui.workspace / "state.db") as db:
        db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) "
                   "VALUES ('demo-canary', '', 'token', ?, '{}', ?)",
                   (f"token {secret}", time.time()))
    for args in (("journal",), ("journal", "--json")):
        ran = labtui(*args)
        assert ran.code == 0 and "token ***" in ran.stdout and secret not in ran.output


def _answer_in_a_terminal(labtui: LabtuiRunner, answer: str, *args: str) -> tuple[int, str]:
    """Run `labtui ARGS` on a pseudo-terminal, type `answer` at its question."""
    import errno
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "labtui", *args, "--workspace", str(labtui.workspace)],
        stdin=follower, stdout=follower, stderr=follower, env=labtui.env, close_fds=True)
    os.close(follower)
    seen = b""
    while b"[y/N]" not in seen:
        seen += os.read(leader, 1024)
    os.write(leader, answer.encode() + b"\n")
    code = process.wait(timeout=60)
    try:
        while chunk := os.read(leader, 1024):
            seen += chunk
    except OSError as exc:
        if exc.errno != errno.EIO:  # EIO: the terminal closed with the process
            raise
    os.close(leader)
    return code, seen.decode(errors="replace")


def test_forget_asks_in_a_terminal(labtui: LabtuiRunner, tmp_path: Path) -> None:
    _lab(labtui, tmp_path / "files")
    code, shown = _answer_in_a_terminal(labtui, "n", "journal", "forget", "1")
    assert "Forget journal entry 1 (demo-files: file" in shown
    assert code == 2 and "kept journal entry 1" in shown
    assert len(_entries(labtui)) == 3
    code, shown = _answer_in_a_terminal(labtui, "y", "journal", "forget", "1")
    assert code == 0 and "forgot journal entry 1" in shown
    assert [e["id"] for e in _entries(labtui)] == [2, 3]
