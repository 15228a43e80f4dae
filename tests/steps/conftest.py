"""Run step hooks without the engine: a StepContext over in-memory journal and outputs and a
LocalTarget in tmp_path, with values resolved from the steps' own fields."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from labtui_steps import infrastructure

from labtui.journal import Journal, JournalEntry, Record
from labtui.step import Step, StepContext
from labtui.targets.local import LocalTarget
from tests.conftest import LAB_DATA, require_lab_data

SECTION: tuple[type[Step], ...] = (
    infrastructure.ResourceGroups, infrastructure.MlWorkspace, infrastructure.DataLake,
    infrastructure.KeyVault, infrastructure.Databricks, infrastructure.UploadData,
    infrastructure.CliProfiles, infrastructure.ServicePrincipal, infrastructure.SecretScope,
    infrastructure.Secrets,
)

ANSWERS = {
    "prefix": "contoso7",
    "tenant-id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    "subscription-id": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "databricks-token": "dapi0123456789abcdef0123456789abcdef",
    "data-file": str(LAB_DATA),
}


class MemoryJournal(Journal):
    """A unit's journal in memory, kept as state.db keeps it: one entry per kind and ref."""

    def __init__(self, store: dict[tuple[str, str | None], list[JournalEntry]],
                 key: tuple[str, str | None], seq: Iterator[int]) -> None:
        self._store, self._key, self._seq = store, key, seq

    def record(self, record: Record) -> JournalEntry:
        entries = self._store.setdefault(self._key, [])
        for i, entry in enumerate(entries):
            if (entry.kind, entry.ref) == (record.kind, record.ref):
                entries[i] = JournalEntry(entry.seq, record)
                return entries[i]
        entries.append(JournalEntry(next(self._seq), record))
        return entries[-1]

    def entries(self) -> list[JournalEntry]:
        return list(self._store.get(self._key, []))

    def forget(self, entry: JournalEntry) -> None:
        self._store[self._key].remove(entry)


class MemoryOutputs:
    def __init__(self, store: dict[tuple[str, str | None, str], str], step: str,
                 env: str | None, secrets: list[str]) -> None:
        self._store, self._step, self._env, self._secrets = store, step, env, secrets

    def set(self, name: str, value: str, *, secret: bool = False) -> None:
        if secret:
            self._secrets.append(value)
        self._store[(self._step, self._env, name)] = value

    def get(self, name: str, *, step: str | None = None, env: str | None = None) -> str | None:
        return self._store.get((step or self._step, env or self._env, name))


class Log:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def __call__(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append("warning: " + message)


def resolve(step: type[Step], answers: Mapping[str, str], env: str | None) -> dict[str, str]:
    """Values as the engine resolves them: given ones, then defaults and derived ones."""
    values = {k: v for k, v in answers.items() if k in {f.name for f in step.inputs}}
    for _ in range(3):
        for fld in step.inputs:
            if fld.name not in values:
                derived = fld.derive(values, env) if fld.derive else None
                value = derived if derived is not None else fld.default
                if value is not None:
                    values[fld.name] = value
    return values


@dataclass
class Lab:
    """The lab's state without the engine: one target, journals, outputs, logs."""

    workspace: Path
    target: LocalTarget
    answers: dict[str, str]
    journals: dict[tuple[str, str | None], list[JournalEntry]] = field(default_factory=dict)
    outputs: dict[tuple[str, str | None, str], str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def ctx(self, step: type[Step], env: str | None) -> StepContext:
        artifacts = self.workspace / "artifacts" / f"{step.id}-{env}"
        artifacts.mkdir(parents=True, exist_ok=True)
        return StepContext(
            step_id=step.id, env=env, values=resolve(step, self.answers, env),
            target=self.target, log=Log(self.log),
            journal=MemoryJournal(self.journals, (step.id, env), self._seq),
            outputs=MemoryOutputs(self.outputs, step.id, env, self.secrets),
            artifacts=artifacts, register_secret=self.secrets.append,
        )

    def run(self, step: type[Step], env: str | None) -> StepContext:
        ctx = self.ctx(step, env)
        step().run(ctx)
        verdict = step().verify(ctx)
        assert verdict.ok, [(c.name, c.message) for c in verdict.failed]
        return ctx

    def run_section(self, envs: tuple[str, ...] = ("dev", "pipeline")) -> None:
        for step in SECTION:
            for env in step.environments():
                if env in envs or (step is infrastructure.ResourceGroups and env == "prod"):
                    self.run(step, env)

    def rollback_section(self) -> None:
        for step in reversed(SECTION):
            for env in reversed(step.environments()):
                step().rollback(self.ctx(step, env))


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    require_lab_data()
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "home" / ".databrickscfg"))
    workspace = tmp_path / "ws"
    workspace.mkdir()
    target = LocalTarget(workspace)
    yield Lab(workspace, target, dict(ANSWERS))
    target.close()
