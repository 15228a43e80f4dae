"""The sandbox's mirror of the journal and its owner record."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.base import TargetError
from labtui.targets.local import LocalTarget
from labtui.targets.ownership import MirroredEntry, NotOwner

ENTRY = MirroredEntry("resource-groups", "dev", "resource-group", "lab-db-dev",
                      '{"name": "lab-db-dev"}', 1.0)


def test_claiming_a_fresh_sandbox_creates_nothing(target: LocalTarget) -> None:
    target.journal_mirror().claim("a" * 32)
    assert not target.sandbox_path.exists()
    target.journal_mirror().record(ENTRY)
    assert target.sandbox.owner() == "a" * 32, "the first entry stamps the owner"


def test_another_state_db_is_refused_while_the_sandbox_holds_its_entries(
        target: LocalTarget) -> None:
    mirror = target.journal_mirror()
    mirror.claim("a" * 32)
    mirror.record(ENTRY)
    with pytest.raises(NotOwner) as refused:
        mirror.claim("b" * 32)
    assert refused.value.count == 1 and refused.value.owner == "a" * 32
    assert "holds 1 resource recorded by another state.db" in str(refused.value)
    mirror.adopt("b" * 32)
    mirror.claim("b" * 32)
    assert mirror.entries() == [ENTRY]


def test_an_emptied_record_is_taken_over(target: LocalTarget) -> None:
    mirror = target.journal_mirror()
    mirror.claim("a" * 32)
    mirror.record(ENTRY)
    mirror.forget(ENTRY.step, ENTRY.env, ENTRY.kind, ENTRY.ref)
    mirror.claim("b" * 32)
    assert target.sandbox.owner() == "b" * 32


def test_rerecording_keeps_the_order_and_updates_the_undo(target: LocalTarget) -> None:
    mirror = target.journal_mirror()
    second = MirroredEntry("key-vault", "dev", "key-vault", "lab-kv-dev", "{}", 2.0)
    mirror.record(ENTRY)
    mirror.record(second)
    mirror.record(MirroredEntry(*(ENTRY.step, ENTRY.env, ENTRY.kind, ENTRY.ref), '{"x": 1}', 3.0))
    assert [(e.ref, e.undo) for e in mirror.entries()] == [
        ("lab-db-dev", '{"x": 1}'), ("lab-kv-dev", "{}")]


@pytest.mark.parametrize("raw", ["-1", "nan", "inf", "soon"])
def test_a_bad_latency_says_what_it_got(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        raw: str) -> None:
    monkeypatch.setenv("LABTUI_LOCAL_LATENCY", raw)
    with pytest.raises(TargetError) as bad:
        LocalTarget(tmp_path / "ws")
    assert f"LABTUI_LOCAL_LATENCY={raw}" in str(bad.value).replace("'", "")
