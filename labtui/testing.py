"""Test a step's hooks with the real context the engine gives them.

`StepLab` opens a real workspace (state.db, the journal, outputs, the masker, an artifacts folder
per unit) and a target (the local sandbox unless you give one), and builds each `StepContext`
through the engine, so a step under test sees exactly what it sees in a run: values resolved
from the answers you give and the fields' derived defaults, secrets registered with the masker,
every journal entry written to state.db (and to the target's own record) before it returns.
Log lines are masked and collected in `lab.log`.

A plugin's test, with pytest::

    from labtui.testing import StepLab

    @pytest.fixture
    def lab(tmp_path):
        with StepLab(tmp_path / "ws", answers={"prefix": "contoso7"}) as lab:
            yield lab

    def test_it_makes_the_group_and_rolls_it_back(lab):
        lab.run(MyStep, "dev")                  # run, then verify (AssertionError if it fails)
        assert lab.output("my-step", "dev", "group-id")
        lab.rollback(MyStep, "dev")
        assert lab.journal(MyStep, "dev") == []

Hooks are called directly (`MyStep().verify(lab.ctx(MyStep, "dev"))`): nothing here orders
steps, checks requirements or records statuses and run history; that is the engine's `run`,
which the headless runner (`labtui --step … --headless`) exercises.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

from labtui.catalog import Catalog, Unit
from labtui.engine import Engine
from labtui.masking import Masker
from labtui.plain_text import strip_escapes
from labtui.state import Workspace
from labtui.step import Field, JournalEntry, Step, StepContext
from labtui.targets.base import Target
from labtui.values import Answers, Resolver


class CollectedLog:
    """A step's log that keeps its lines (masked, as the engine's log writes them); a warning
    is kept as "warning: …"."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._lock = threading.Lock()
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self._keep(message, "")

    def warn(self, message: str) -> None:
        self._keep(message, "warning: ")

    def _keep(self, message: str, prefix: str) -> None:
        masked = self._masker.redact(strip_escapes(str(message)))
        with self._lock:
            self.lines.extend(prefix + line for line in masked.splitlines() or [""])


class StepLab:
    """A workspace and a target for calling step hooks with real contexts. Use it as a
    context manager (or call `close`): it holds the workspace's lock and the open target.

    Args:
        path: the workspace folder (created if missing); the local target keeps its sandbox
            there too.
        answers: input values, as an answers file would give them; `lab.answers` may be
            changed between contexts (each context resolves them afresh).
        target: the target the hooks talk to; by default the local one in `path`. It is closed
            with the lab either way.
        steps: extra step classes the hooks may belong to (a plugin's steps not installed in
            this environment); the installed ones (`labtui.steps` entry points) are known
            anyway. A class given here replaces an installed one with the same id.
    """

    def __init__(self, path: Path, *, answers: Mapping[str, str] | None = None,
                 target: Target | None = None, steps: Iterable[type[Step]] = ()) -> None:
        path.mkdir(parents=True, exist_ok=True)
        given = list(steps)
        replaced = {cls.id for cls in given}
        installed = [type(step) for step in Catalog.discover() if step.id not in replaced]
        self.catalog = Catalog([*installed, *given])
        self.answers: dict[str, str] = dict(answers or {})
        self.masker = Masker()
        self.log = CollectedLog(self.masker)
        if target is None:
            from labtui.targets import open_target

            target = open_target("local", path)
        self.target = target
        try:
            self.workspace = Workspace.open(path, command="labtui.testing")
        except BaseException:
            target.close()
            raise
        try:
            self._engine = Engine(self.catalog, self.workspace, target, self._resolver(),
                                  masker=self.masker)
            self._engine.claim_target()  # bind the target's record to this state.db, as a run
        except BaseException:
            self.close()
            raise

    @property
    def path(self) -> Path:
        """The workspace folder."""
        return self.workspace.path

    @property
    def lines(self) -> list[str]:
        """Every line the hooks logged so far, masked."""
        return self.log.lines

    def _resolver(self) -> Resolver:
        fields: dict[str, Field] = self.catalog.fields()
        # Only the answers given here: the tester's own LABTUI_* variables stay out of it.
        return Resolver(fields, environ={}, answers=Answers(None, dict(self.answers)),
                        workspace=self.workspace)

    def unit(self, step: type[Step], env: str | None) -> Unit:
        """The unit of work `step` in `env` (None for a step that runs once)."""
        return Unit(self.catalog.get(step.id), env)

    def ctx(self, step: type[Step], env: str | None) -> StepContext:
        """A fresh context for a hook of `step` in `env`, with the answers as they are now."""
        self._engine.resolver = self._resolver()
        return self._engine.context(self.unit(step, env), self.log)

    def run(self, step: type[Step], env: str | None) -> StepContext:
        """Run `step` in `env`, then verify it; return the context it ran with.

        Raises:
            AssertionError: the verify after the run fails; it names each failing check.
        """
        ctx = self.ctx(step, env)
        step().run(ctx)
        verdict = step().verify(ctx)
        if not verdict.ok:
            failed = "; ".join(f"{c.name}: {c.message}" for c in verdict.failed) or "no checks"
            raise AssertionError(f"{self.unit(step, env).label} does not verify after its "
                                 f"run: {failed}")
        return ctx

    def rollback(self, step: type[Step], env: str | None) -> StepContext:
        """Roll `step` back in `env`; return the context it rolled back with."""
        ctx = self.ctx(step, env)
        step().rollback(ctx)
        return ctx

    def output(self, step: str, env: str | None, name: str) -> str | None:
        """An output `step` handed on in `env` (secret ones decrypted), or None."""
        return self.workspace.get_output(step, env, name)

    def journal(self, step: type[Step], env: str | None) -> list[JournalEntry]:
        """What the journal holds for `step` in `env`, oldest first."""
        return self.workspace.journal_entries(step.id, env)

    def close(self) -> None:
        """Close the target and release the workspace."""
        try:
            self.target.close()
        finally:
            self.workspace.close()

    def __enter__(self) -> StepLab:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
