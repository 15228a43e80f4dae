"""A proctor's export: a masked bundle per attendee, read through each workspace."""

from __future__ import annotations

import base64
import json
import sqlite3
import tarfile
from collections.abc import Callable

from labtui.proctor.results import AttendeeOutcome
from tests.proctor.conftest import Room

MakeRoom = Callable[..., Room]


def read_bundle(path: object) -> dict[str, str]:
    with tarfile.open(path) as tar:  # type: ignore[call-overload]
        return {m.name: tar.extractfile(m).read().decode()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def test_export_bundles_every_run_with_secrets_masked(make_room: MakeRoom) -> None:
    room = make_room(2)
    fleet = room.fleet()
    fleet.provision("demo-canary")
    secret = room.environ["A1_SECRET"]
    log = room.workspace("a1") / "logs" / "labtui.log"
    log.write_text(f"a crash report quoting {secret}\n")
    summary = room.fleet().export(room.root / "out")
    assert {r.outcome for r in summary.attendees} == {AttendeeOutcome.DONE}
    with tarfile.open(room.root / "out" / "a1.tar.gz") as tar:
        names = tar.getnames()
        texts = {name: tar.extractfile(name).read().decode()  # type: ignore[union-attr]
                 for name in names if tar.getmember(name).isfile()}
    assert "a1/summary.json" in names and "a1/logs/labtui.log" in names
    assert any(name.startswith("a1/runs/") and name.endswith("demo-canary-run.log")
               for name in names)
    everything = "\n".join(texts.values())
    for form in (secret, base64.b64encode(secret.encode()).decode(), f"gen-{secret[::-1]}"):
        assert form not in everything
    assert "raw: ***" in everything and "quoting ***" in everything
    summary_json = json.loads(texts["a1/summary.json"])
    assert summary_json["attendee"] == "a1"
    # provisioning "through" a step does its section in the lab's order up to that step
    assert {s["step"] for s in summary_json["statuses"]} == {
        "demo-files", "demo-per-env", "demo-canary"}
    assert room.environ["A2_SECRET"] not in everything

    folders = room.fleet().export(room.root / "dirs", archive=False)
    assert folders.exit_code == 0
    assert (room.root / "dirs" / "a2" / "summary.json").stat().st_mode & 0o077 == 0


def test_a_damaged_journal_entry_is_exported_as_it_is_stored(make_room: MakeRoom) -> None:
    room = make_room(1)
    room.fleet().provision("demo-files")
    db = sqlite3.connect(room.workspace("a1") / "state.db")
    with db:
        db.execute("UPDATE journal SET undo = ?", ("{not json " + room.environ["A1_SECRET"],))
    db.close()
    summary = room.fleet().export(room.root / "out")
    assert summary.attendees[0].outcome is AttendeeOutcome.DONE, summary.attendees[0].message
    texts = read_bundle(room.root / "out" / "a1.tar.gz")
    journal = json.loads(texts["a1/summary.json"])["journal"]
    assert journal and all(entry["undo"] == "{not json ***" for entry in journal)
    assert {entry["step"] for entry in journal} == {"demo-files"}
