"""What a user could see of a local sandbox: every row of sandbox.db and every file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

INTERNAL_FILES = {"sandbox.db", "sandbox.db-wal", "sandbox.db-shm", "vault.key"}


def snapshot(workspace: Path) -> dict[str, Any]:
    """Rows of every sandbox table (empty when there is no sandbox yet) and the file tree."""
    root = workspace / "sandbox"
    tables: dict[str, list[tuple[Any, ...]]] = {}
    db = root / "sandbox.db"
    if db.exists():
        conn = sqlite3.connect(db)
        try:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'meta'")]
            for name in names:
                rows = sorted(conn.execute(f"SELECT * FROM {name}"), key=repr)
                if rows:
                    tables[name] = rows
        finally:
            conn.close()
    files = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*")
        if p.name not in INTERNAL_FILES
    ) if root.exists() else []
    return {"tables": tables, "files": files}
