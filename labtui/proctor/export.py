"""A proctor's export: one bundle per attendee (state summary, journal, every run's log, the
workspace's log files), read through the workspace without locking it, every secret masked
before anything is written."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtui.catalog import Catalog
from labtui.proctor.roster import Attendee
from labtui.workspace import Workspace


@dataclass(frozen=True)
class Exported:
    """Where an attendee's bundle went, and how many run logs it holds."""

    destination: Path
    runs: int


def export_bundle(attendee: Attendee, workspace: Workspace, catalog: Catalog, out: Path, *,
                  archive: bool, redact: Callable[[str], str]) -> Exported:
    """Write the attendee's bundle under `out`: `<attendee>.tar.gz`, or a folder when
    `archive` is False. Every file passes through `redact` before a byte is written."""
    files = bundle(attendee, workspace, catalog)
    masked = {name: redact(text).encode() for name, text in files.items()}
    name = safe_name(attendee.id)
    if archive:
        destination = out / f"{name}.tar.gz"
        _write_tar(destination, name, masked)
    else:
        destination = out / name
        _write_folder(destination, masked)
    return Exported(destination, sum(1 for key in files if key.startswith("runs/")))


def safe_name(text: str) -> str:
    """`text` as a file name: letters, digits, '.', '_' and '-', never hidden."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".") or "attendee"


def _undo_of(text: str) -> Any:
    # A damaged entry is exported as it is stored: the bundle is for reading what went wrong.
    try:
        return json.loads(text)
    except ValueError:
        return text


def bundle(attendee: Attendee, workspace: Workspace, catalog: Catalog) -> dict[str, str]:
    """The files of an attendee's bundle, by relative name (not yet masked)."""
    files: dict[str, str] = {}
    runs = []
    journal = [{"step": row.step, "env": row.env, "kind": row.kind, "ref": row.ref,
                "undo": _undo_of(row.undo), "created": row.created}
               for row in workspace.journal_rows()]
    for record in workspace.runs():
        lines = [f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))} {level}: {line}"
                 for at, level, line in workspace.run_log(record.id)]
        label = f"{record.step}-{record.env}" if record.env else record.step
        name = f"runs/{record.id:05d}-{label}-{record.action}.log"
        files[name] = "\n".join(lines) + ("\n" if lines else "")
        runs.append({"id": record.id, "step": record.step, "env": record.env,
                     "action": record.action, "started": record.started,
                     "finished": record.finished, "outcome": record.outcome,
                     "message": record.message, "log": name})
    statuses = []
    for (step, env), state in sorted(workspace.statuses().items(),
                                     key=lambda item: (item[0][0], item[0][1] or "")):
        checks = [{"name": name, "ok": ok, "message": message, "hint": hint}
                  for name, ok, message, hint in workspace.checks(step, env)]
        statuses.append({"step": step, "env": env, "status": state.status,
                         "message": state.message, "updated": state.updated,
                         "checks": checks})
    summary = {
        "attendee": attendee.id, "prefix": attendee.prefix,
        "workspace": str(attendee.workspace), "exported": time.time(),
        "steps": [unit.label for unit in catalog.units()],
        "statuses": statuses, "journal": journal, "runs": runs,
    }
    files["summary.json"] = json.dumps(summary, indent=2, default=str) + "\n"
    logs = workspace.path / "logs"
    if logs.is_dir():
        for path in sorted(p for p in logs.rglob("*") if p.is_file()):
            files[f"logs/{path.relative_to(logs).as_posix()}"] = path.read_text(
                encoding="utf-8", errors="replace")
    return files


def _write_tar(destination: Path, root: str, files: Mapping[str, bytes]) -> None:
    partial = destination.with_name(destination.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as tar:
        now = time.time()
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o600, int(now)
            tar.addfile(info, io.BytesIO(data))
    os.replace(partial, destination)


def _write_folder(destination: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        path = destination / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
