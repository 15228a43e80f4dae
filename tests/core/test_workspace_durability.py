"""The journal is durable: what a step records before creating a resource survives a crash."""

from __future__ import annotations

from pathlib import Path

from labtui_steps.infrastructure.records import KeyVault

from labtui.state import Workspace


def test_journal_writes_are_synchronous_full(tmp_path: Path) -> None:
    """WAL with synchronous=NORMAL may lose the last commits on power loss; FULL does not."""
    workspace = Workspace.open(tmp_path / "ws", command="test")
    try:
        workspace.journal_record("demo", None, KeyVault("contoso7-kv-dev"))
        (level,) = workspace._db.execute("PRAGMA synchronous").fetchone()
        assert level == 2  # FULL
    finally:
        workspace.close()
