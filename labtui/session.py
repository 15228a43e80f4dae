"""Open an engine on a workspace: the one way every front end (headless, app, proctor) starts.

A `Session` owns the locked workspace, the value resolver, the masker and the engine; closing
it closes the target and releases the lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labtui.catalog import Catalog
from labtui.engine import Engine
from labtui.events import Listener
from labtui.masking import Masker
from labtui.state import Workspace
from labtui.values import Answers, Resolver, ValuesError, load_answers, parse_set_args


@dataclass
class SessionOptions:
    """Where and how to work: what `labtui` was given on its command line."""

    workspace: Path
    target: str = "local"
    values_file: Path | None = None
    set_values: Sequence[str] = ()
    environ: Mapping[str, str] | None = None
    command: str = "labtui"
    force_unlock: bool = False
    heartbeat_after: float = 30.0
    extra_answers: Mapping[str, str] = field(default_factory=dict)


class Session:
    """A locked workspace with its engine. Use as a context manager."""

    def __init__(self, options: SessionOptions, *, catalog: Catalog | None = None,
                 masker: Masker | None = None, listeners: Sequence[Listener] = ()) -> None:
        from labtui.targets import open_target

        self.options = options
        self.catalog = catalog or Catalog.discover()
        self.masker = masker or Masker()
        # What the command line gives is checked before the workspace is opened: a bad
        # answers file or --set leaves no trace (not even a new workspace folder).
        fields = self.catalog.fields()
        answers = (load_answers(options.values_file, fields) if options.values_file
                   else Answers())
        environments = sorted({unit.env for unit in self.catalog.units() if unit.env})
        unknown = [name for name in answers.per_env if name not in environments]
        if unknown:
            # A misspelt [env.…] table would otherwise be ignored without a word.
            raise ValuesError([f"answers file {answers.path}: [env.{name}] is not an "
                               f"environment (environments: {', '.join(environments)})"
                               for name in unknown])
        if options.extra_answers:
            answers = Answers(answers.path, {**answers.top, **options.extra_answers},
                              answers.per_env)
        set_args = parse_set_args(options.set_values, fields)
        given = Resolver(fields, set_args=set_args, environ=options.environ, answers=answers)
        problems = given.given_problems()
        if problems:
            raise ValuesError(problems)
        target = open_target(options.target, options.workspace)  # its options, checked
        try:
            self.workspace = Workspace.open(options.workspace, command=options.command,
                                            force_unlock=options.force_unlock)
        except BaseException:
            target.close()
            raise
        try:
            self.resolver = Resolver(fields, set_args=set_args,
                                     environ=options.environ, answers=answers,
                                     workspace=self.workspace)
            self.engine = Engine(
                self.catalog, self.workspace, target, self.resolver,
                masker=self.masker, heartbeat_after=options.heartbeat_after,
            )
            self.engine.claim_target()
        except BaseException:
            target.close()
            self.workspace.close()
            raise
        self.engine.listeners.extend(listeners)

    def close(self) -> None:
        self.engine.close()
        self.workspace.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
