"""`labtui --headless`: one action (run, verify, rollback, plan, solve, a step's action) on
the chosen steps through a `Session`, told on the console, with its exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

# Only light modules here: `labtui --help` must not pay for the engine, targets or plugins.
from labtui.catalog import Catalog, did_you_mean
from labtui.command_line import ExitCode, UsageError, say_error
from labtui.command_line import cancel_on_interrupt as _cancel_on_interrupt
from labtui.command_line import command_line as _command_line
from labtui.command_line import workspace_path as _workspace_path
from labtui.masking import Masker
from labtui.state import Workspace

if TYPE_CHECKING:
    from labtui.catalog import Unit
    from labtui.console import Console
    from labtui.engine import Engine, Outcome, Result
    from labtui.events import Listener
    from labtui.session import SessionOptions


def session_options(args: argparse.Namespace, argv: Sequence[str]) -> SessionOptions:
    from labtui.session import SessionOptions

    return SessionOptions(
        workspace=_workspace_path(args), target=args.target, values_file=args.values,
        set_values=args.set_values, command=_command_line(argv),
        force_unlock=args.force_unlock, heartbeat_after=getattr(args, "heartbeat", 30.0),
        parallel=getattr(args, "jobs", None),
    )


def headless(args: argparse.Namespace, argv: Sequence[str], masker: Masker) -> int:
    from labtui.console import Console, JsonLines, LogFile
    from labtui.engine import NotManual, RequirementsError
    from labtui.session import Session

    if sum(map(bool, (args.step, args.all, args.section))) != 1:
        raise UsageError("--headless needs one of --step ID, --section NAME or --all")
    catalog = Catalog.discover()
    _check_env(catalog, args.env)
    step_ids = args.step or (_section_steps(catalog, args.section) if args.section else None)
    units = catalog.units(step_ids, args.env)
    if not units:
        if args.step:
            envs = ", ".join(sorted({str(env) for step_id in args.step
                                     for env in catalog.get(step_id).environments()}))
            raise UsageError(f"{' '.join(args.step)} does not run in {args.env}: only in {envs}")
        raise UsageError(f"no step of {args.section} runs in {args.env}")
    console = Console(masker, live=False if args.json else None)
    listeners: list[Listener] = [JsonLines(masker)] if args.json else [console]
    if args.log_file:
        try:
            listeners.append(LogFile(args.log_file, masker))
        except OSError as exc:
            raise UsageError(f"--log-file {args.log_file}: cannot write it "
                             f"({exc.strerror or exc})") from None
    if args.act:
        return _act(args, argv, catalog, units, masker)
    if args.act_as or args.act_comment:
        raise UsageError("--as and --comment go with --approve or --reject")
    confirm = args.rollback and args.all and not args.yes
    if confirm and not sys.stdin.isatty():
        raise UsageError("--all --rollback removes everything the lab created: add --yes to "
                         "confirm (stdin is not a terminal, so labtui cannot ask)")
    planned: list[Unit] = list(units)
    results: list[Result] = []
    try:
        with Session(session_options(args, argv), catalog=catalog, masker=masker,
                     listeners=listeners) as session:
            engine = session.engine
            _say_where(engine, console)
            _say_broken_lock(session.workspace, console)
            if args.rollback and args.all:  # and what steps no longer installed made
                units = engine.reset_scope(args.env)
                planned = list(units)
            if args.rollback and not _confirm_rollback(engine, units, confirm, console):
                say_error("nothing was rolled back")
                return ExitCode.FAILED
            with _cancel_on_interrupt(engine.cancel, lambda m: console.print(m, "yellow")):
                try:
                    if args.verify:
                        results = engine.verify(units)
                    elif args.rollback:
                        planned = engine.rollback_order(units)
                        results = engine.rollback(units)
                    elif args.plan:
                        results = engine.plan(units, force=args.force)
                    elif args.solve:
                        try:
                            scope = engine.solve_scope(units, with_requires=args.with_requires,
                                                       broad=not args.step)
                        except NotManual as exc:
                            raise UsageError(str(exc)) from None
                        planned = list(scope.units)
                        results = engine.solve_request(scope, force=args.force)
                    else:
                        planned = engine.run_scope(units, with_requires=args.with_requires)
                        results = engine.run(units, force=args.force,
                                             with_requires=args.with_requires)
                except RequirementsError as exc:
                    raise UsageError(str(exc)) from None
    finally:
        console.close()
        for listener in listeners:
            close = getattr(listener, "close", None)
            if close is not None:
                close()
    code = _exit_code({r.outcome for r in results})
    performed = {(r.unit.id, r.unit.env) for r in results}
    not_reached = [unit for unit in planned if (unit.id, unit.env) not in performed]
    if len(planned) > 1:
        _summarize(console, results, not_reached, code, as_json=args.json)
    return code


def _act(args: argparse.Namespace, argv: Sequence[str], catalog: Catalog,
         units: Sequence[Unit], masker: Masker) -> int:
    """--approve / --reject: one step's action as a person (`labtui.actions`)."""
    from labtui.actions import ActionError
    from labtui.console import Console, JsonLines
    from labtui.session import Session

    if len(args.step) != 1 or len(units) != 1:
        raise UsageError(f"--{args.act} acts on one step in one environment: give one --step "
                         "(and --env for a step that runs in several)")
    unit = units[0]
    inputs = {"as": args.act_as, "comment": args.act_comment}
    offered = {action.name: action for action in unit.step.actions}
    if args.act not in offered:
        names = ", ".join(f"--{name}" for name in offered) or "no actions"
        raise UsageError(f"{unit.id} offers no --{args.act} (it offers {names})")
    problems = offered[args.act].problems(inputs)
    if problems:
        raise UsageError("; ".join(problems))
    console = Console(masker, live=False if args.json else None)
    listeners: list[Listener] = [JsonLines(masker)] if args.json else [console]
    try:
        with Session(session_options(args, argv), catalog=catalog, masker=masker,
                     listeners=listeners) as session:
            _say_broken_lock(session.workspace, console)
            with _cancel_on_interrupt(session.engine.cancel,
                                      lambda m: console.print(m, "yellow")):
                try:
                    result = session.engine.act(unit, args.act, inputs)
                except ActionError as exc:
                    raise UsageError("; ".join(exc.problems)) from None
    finally:
        console.close()
    return _exit_code({result.outcome})


def _confirm_rollback(engine: Engine, units: Sequence[Unit], ask: bool,
                      console: Console) -> bool:
    """Name the done steps a rollback of `units` leaves broken; with `ask` (--all without
    --yes, in a terminal), list what it removes and ask. False: the user said no."""
    chosen = {(unit.id, unit.env) for unit in units}
    broken: list[Unit] = []
    for unit in units:
        for dependent in engine.done_dependents(unit):
            if (dependent.id, dependent.env) not in chosen and dependent not in broken:
                broken.append(dependent)
    if broken:
        names = ", ".join(unit.label for unit in broken)
        these = ("these done steps", "they need", "show") if len(broken) != 1 else (
            "this done step", "it needs", "shows")
        console.print(f"rolling back leaves {these[0]} broken ({these[1]} what is removed, and "
                      f"{these[2]} drift until run again): {names}", "yellow")
    if not ask:
        return True
    removing = [(unit, len(engine.rollback_plan(unit))) for unit in engine.rollback_order(units)]
    removing = [(unit, count) for unit, count in removing if count]
    total = sum(count for _, count in removing)
    if removing:
        console.print(f"--all --rollback removes {total} resource{'s' if total != 1 else ''} "
                      f"of {len(removing)} step{'s' if len(removing) != 1 else ''}, newest first: "
                      + ", ".join(f"{unit.label} ({count})" for unit, count in removing))
    else:
        console.print("--all --rollback: the journal is empty, nothing to remove; every step "
                      "is set back to not done")
    console.stream.write("Roll back every step? [y/N] ")
    console.stream.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _noteworthy(result: Result) -> bool:
    """Whether a unit's result gets its own line in the summary: what needs the attendee's
    attention (a failure, drift, not done, a plan that changes something). What ended well is
    counted only: its own finished line said it already, and 28 of them would bury the rest."""
    from labtui.engine import Outcome

    if result.outcome is Outcome.PLANNED:
        return any(change.action != "keep" for change in result.changes)
    return not result.ok


def _summarize(console: Console, results: Sequence[Result], not_reached: Sequence[Unit],
               code: int, *, as_json: bool) -> None:
    """The closing summary on stderr; with --json, also one summary object on stdout."""
    from labtui.console import SummaryRow, summary_totals

    rows = [SummaryRow(r.unit.label, r.outcome.value, r.message, _noteworthy(r))
            for r in results]
    console.summary(rows, [unit.label for unit in not_reached])
    if as_json:
        totals: dict[str, int] = {}
        for row in rows:
            totals[row.outcome] = totals.get(row.outcome, 0) + 1
        print(console.masker.redact(json.dumps({
            "event": "summary", "totals": totals,
            "not_reached": [{"step": unit.id, "env": unit.env} for unit in not_reached],
            "text": summary_totals(rows, len(not_reached)), "exit_code": int(code)})))


def _say_where(engine: Engine, console: Console) -> None:
    """Who and where, first: the target confirms its place (the azure one signs in and reads
    the subscription) and names it, before anything else happens."""
    engine.check_target()
    line = engine.target.banner()
    if line:
        console.print(line)


def _say_broken_lock(workspace: Workspace, console: Console) -> None:
    """--force-unlock took the workspace from another holder: say whose lock it broke."""
    from labtui.state import describe_holder

    holder = workspace.lock_broken_from
    if holder:
        console.print(f"took over the workspace lock of {describe_holder(holder)} "
                      "(--force-unlock)", "yellow")


def _section_steps(catalog: Catalog, name: str) -> list[str]:
    wanted = name.strip().lower().replace("-", " ")
    sections = catalog.sections()
    for section, steps in sections:
        if section.lower() == wanted:
            return [step.id for step in steps]
    known = ", ".join(section for section, _ in sections)
    by_lower = {section.lower(): section for section, _ in sections}
    guess = did_you_mean(wanted, by_lower)
    guessed = f"; did you mean {by_lower[guess]!r}?" if guess else ""
    raise UsageError(f"--section {name}: no such section{guessed} (sections: {known})")


def _check_env(catalog: Catalog, env: str | None) -> None:
    known = sorted({unit.env for unit in catalog.units() if unit.env})
    if env is not None and env not in known:
        guess = did_you_mean(env, known)
        if guess:
            raise UsageError(f"--env {env}: no such environment; did you mean {guess!r}? "
                             f"(the environments are {', '.join(known)})")
        raise UsageError(f"--env {env}: the environments are {', '.join(known)}")


def _exit_code(outcomes: set[Outcome]) -> ExitCode:
    from labtui.engine import Outcome
    if Outcome.CANCELLED in outcomes:
        return ExitCode.INTERRUPTED
    if Outcome.FAILED in outcomes:
        return ExitCode.FAILED
    if Outcome.DRIFT in outcomes or Outcome.NOT_DONE in outcomes:
        return ExitCode.DRIFT  # --verify: does not verify; the words say drift or not done
    return ExitCode.OK
