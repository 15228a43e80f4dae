"""The result files units published (reports, metrics), and the folder they write them in."""

from __future__ import annotations

import time
from pathlib import Path

from labtui.workspace.records import ArtifactRecord, env_key
from labtui.workspace.store import StateStore


class ArtifactStore(StateStore):
    """Each unit's published artifacts."""

    def artifacts_folder(self, step: str, env: str | None) -> Path:
        """The folder a unit's hooks write their result files in (`ctx.artifacts`)."""
        return self.path / "artifacts" / (f"{step}-{env}" if env else step)

    def record_artifact(self, step: str, env: str | None, name: str, path: Path) -> None:
        """Remember that a unit published `path` as `name` (a newer one replaces it). A path
        inside the workspace is kept relative to it, so a moved workspace still finds it."""
        try:
            kept = str(Path(path).resolve().relative_to(self.path.resolve()))
        except ValueError:
            kept = str(Path(path).resolve())
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?)",
                       (step, env_key(env), name, kept, time.time()))

    def artifacts(self, step: str, env: str | None) -> dict[str, ArtifactRecord]:
        """name -> what one unit published, in the order it published them."""
        if self.read_only and not self._query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'artifacts'"):
            return {}  # held by an older labtui, which did not remember them
        rows = self._query(
            "SELECT name, path, at FROM artifacts WHERE step = ? AND env = ? ORDER BY at, name",
            (step, env_key(env)),
        )
        root = self.path.resolve()
        return {name: ArtifactRecord(name, root / path, at) for name, path, at in rows}

    def clear_artifacts(self, step: str, env: str | None) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM artifacts WHERE step = ? AND env = ?",
                       (step, env_key(env)))
