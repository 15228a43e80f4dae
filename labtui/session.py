"""Open an engine on a workspace: the one way every front end (headless, app, proctor) starts.

A `Session` owns the locked workspace, the value resolver, the masker and the engine; closing
it closes the target and releases the lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labtui.catalog import Catalog
from labtui.engine import Engine
from labtui.events import Listener
from labtui.masking import Masker
from labtui.retry import RetryPolicy
from labtui.state import Workspace
from labtui.step import Field
from labtui.targets.base import Target, TargetError
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
    retry: RetryPolicy | None = None
    """How the engine retries a hook a target answered with `Transient` (default policy)."""
    parallel: int | None = None
    """Units the engine works on at once (by default `labtui.schedule.DEFAULT_PARALLEL` for
    runs and rollbacks, `DEFAULT_VERIFY_PARALLEL` for verifies)."""


class Session:
    """A locked workspace with its engine. Use as a context manager."""

    def __init__(self, options: SessionOptions, *, catalog: Catalog | None = None,
                 masker: Masker | None = None, listeners: Sequence[Listener] = ()) -> None:
        from labtui.targets import target_class

        self.options = options
        self.catalog = catalog or Catalog.discover()
        self.masker = masker or Masker()
        # The target's options are values like the steps' inputs: the same sources, rules
        # and masking. Its class is loaded (not opened) first, so its options are known.
        target_type = target_class(options.target)
        fields = with_target_options(self.catalog.fields(), target_type)
        # What the command line gives is checked before the workspace is opened: a bad
        # answers file or --set leaves no trace (not even a new workspace folder).
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
        # A target whose construction fails (a bad LABTUI_LOCAL_LATENCY) leaves no folder.
        target = target_type(options.workspace)
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
            configure_target(target, self.resolver, self.masker)
            self.engine = Engine(
                self.catalog, self.workspace, target, self.resolver,
                masker=self.masker, heartbeat_after=options.heartbeat_after,
                retry=options.retry,
                parallel=options.parallel,
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


def with_target_options(fields: Mapping[str, Field], target: type[Target]) -> dict[str, Field]:
    """The steps' inputs and the target's options, one set of values. An option may share
    its name with an input (the azure target's tenant-id is the steps' tenant-id) when both
    declare it alike.

    Raises:
        TargetError: an option and an input of the same name differ in kind or secrecy.
    """
    merged = dict(fields)
    for option in target.options:
        same = merged.get(option.name)
        if same is not None and (same.kind, same.is_secret) != (option.kind, option.is_secret):
            raise TargetError(
                f"target {target.name!r} option {option.name!r}: declared as {option.kind}"
                f"{' (secret)' if option.is_secret else ''}, but a step's input of that name "
                f"is {same.kind}{' (secret)' if same.is_secret else ''}")
        merged.setdefault(option.name, option)
    return merged


def with_targets_options(fields: Mapping[str, Field], names: Iterable[str]) -> dict[str, Field]:
    """`with_target_options` for each of the named targets.

    Raises:
        TargetError: a target is not installed, or an option clashes with an input.
    """
    from labtui.targets import target_class

    merged = dict(fields)
    for name in sorted(set(names)):
        merged = with_target_options(merged, target_class(name))
    return merged


def configure_target(target: Target, resolver: Resolver, masker: Masker) -> None:
    """Resolve the target's options (they are not per environment), register the secret
    ones with the masker and configure the target.

    Raises:
        ValuesError: an option is missing or breaks its rule (each named, with how to give it).
    """
    problems = resolver.problems(target.options, None)
    if problems:
        raise ValuesError([f"{problem} (an option of the {target.name} target)"
                           for problem in problems])
    resolver.mask_with(masker)  # the secret options are masked as the resolver hands them out
    values = resolver.hand_out(None)
    chosen = {option.name: values[option.name] for option in target.options
              if option.name in values}
    target.configure(chosen)


def open_configured_target(name: str, workspace: Workspace, *, values_file: Path | None = None,
                           set_values: Sequence[str] = (),
                           environ: Mapping[str, str] | None = None,
                           masker: Masker | None = None) -> Target:
    """The named target, configured from what its options resolve to (--set, LABTUI_*, the
    answers file, the workspace), for commands that reach the target without an engine
    (`labtui journal forget`, `labtui recover`).

    Raises:
        TargetError: the target is not installed or cannot be opened.
        ValuesError: an option is missing or breaks its rule.
    """
    from labtui.targets import target_class

    target_type = target_class(name)
    fields = with_target_options(Catalog.discover().fields(), target_type)
    answers = load_answers(values_file, fields) if values_file else Answers()
    resolver = Resolver(fields, set_args=parse_set_args(set_values, fields), environ=environ,
                        answers=answers, workspace=workspace)
    target = target_type(workspace.path)
    try:
        configure_target(target, resolver, masker or Masker())
    except BaseException:
        target.close()
        raise
    return target
