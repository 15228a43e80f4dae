"""The command line: `labtui` (the app), `labtui --step ID --headless`, `labtui list`,
`labtui logs STEP`. Arguments are parsed here and handed to the engine; nothing else."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

# Only light modules here: `labtui --help` must not pay for the engine, targets or plugins.
from labtui.catalog import Catalog, CatalogError, did_you_mean
from labtui.command_line import ExitCode, UsageError, positive_count, target_argument
from labtui.command_line import cancel_on_interrupt as _cancel_on_interrupt
from labtui.command_line import command_line as _command_line
from labtui.command_line import open_for_reading as _open_for_reading
from labtui.command_line import workspace_path as _workspace_path
from labtui.masking import Masker
from labtui.schedule import DEFAULT_PARALLEL
from labtui.state import (
    Workspace,
    WorkspaceError,
    WorkspaceLocked,
    private_umask,
)
from labtui.targets import DEFAULT_TARGET, installed
from labtui.targets.base import TargetError
from labtui.values import Resolver, ValuesError

if TYPE_CHECKING:
    from labtui.catalog import Unit
    from labtui.console import Console
    from labtui.engine import Engine, Outcome, Result
    from labtui.events import Listener
    from labtui.session import SessionOptions


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


def _common_options(suppress: bool) -> _Parser:
    """Options every command takes. Subcommands get them with SUPPRESS defaults so a value
    given before the subcommand is not overwritten by the subcommand's default."""
    parent = _Parser(add_help=False)

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parent.add_argument("--workspace", type=Path, default=default(None), metavar="DIR",
                        help="the attendee's workspace folder (env LABTUI_WORKSPACE)")
    parent.add_argument("--target", type=target_argument, default=default(DEFAULT_TARGET),
                        metavar="NAME",
                        help="where the lab's resources live: an installed target "
                             f"({', '.join(installed())}; default: {DEFAULT_TARGET})")
    parent.add_argument("--values", type=Path, default=default(None), metavar="FILE",
                        help="answers file (TOML) with input values")
    parent.add_argument("--set", action="append", default=default([]), metavar="KEY=VALUE",
                        dest="set_values", help="an input value (not for secrets); repeatable")
    parent.add_argument("--json", action="store_true", default=default(False),
                        help="one JSON event per line on stdout; human text on stderr")
    parent.add_argument("--force-unlock", action="store_true", default=default(False),
                        help="take over a workspace whose lock holder is gone")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="labtui",
        description="Run the Databricks ML DevOps hands-on lab: the app by default, or "
                    "headless steps with --step ID --headless / --all --headless.",
        parents=[_common_options(suppress=False)],
        epilog="exit codes: 0 done and verified, 1 a step failed, 2 bad usage or missing/"
               "invalid values, 3 --verify: a step does not verify (drift, or not done), "
               "4 workspace locked, 130 interrupted",
    )
    parser.add_argument("--step", action="append", default=[], metavar="ID",
                        help="the step to work on (repeatable); see `labtui list`")
    parser.add_argument("--all", action="store_true", help="every step, in lab order")
    parser.add_argument("--section", metavar="NAME",
                        help="every step of one section (Infrastructure, 'Dev loop' …)")
    parser.add_argument("--headless", action="store_true", help="no app: log to the terminal")
    parser.add_argument("--env", metavar="ENV",
                        help="only this environment (dev, pipeline …) of per-environment steps")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--verify", action="store_true", help="check only, read-only")
    action.add_argument("--rollback", action="store_true",
                        help="remove what the step created (newest first)")
    action.add_argument("--plan", action="store_true", help="show what a run would do")
    action.add_argument("--solve", action="store_true",
                        help="fill in the reference answer of a manual step (write-test); "
                             "with --all, --section or --with-requires, run them and solve "
                             "manual steps on the way")
    action.add_argument("--approve", action="store_const", const="approve", dest="act",
                        help="approve as a person (a pull request's reviewer, a release's "
                             "approver): with --as NAME and optionally --comment TEXT")
    action.add_argument("--reject", action="store_const", const="reject", dest="act",
                        help="reject as a person: with --as NAME --comment TEXT (why)")
    parser.add_argument("--as", dest="act_as", metavar="NAME", default="",
                        help="with --approve / --reject: who acts (a reviewer's name)")
    parser.add_argument("--comment", dest="act_comment", metavar="TEXT", default="",
                        help="with --approve / --reject: what you say (needed to reject)")
    parser.add_argument("--force", action="store_true",
                        help="run even when verify says the step is done (with --plan: "
                             "show what a forced run would redo)")
    parser.add_argument("--with-requires", action="store_true",
                        help="run the steps it requires first")
    parser.add_argument("--yes", action="store_true",
                        help="with --all --rollback: do not ask for confirmation (needed when "
                             "stdin is not a terminal)")
    parser.add_argument("--log-file", type=Path, metavar="PATH",
                        help="also write the (masked) log to PATH")
    parser.add_argument("--jobs", type=positive_count, default=None, metavar="N",
                        help="steps that do not need each other work at once, at most N "
                             f"(default {DEFAULT_PARALLEL}; 1: one after the other)")
    parser.add_argument("--heartbeat", type=float, default=30.0, help=argparse.SUPPRESS)

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = [_common_options(suppress=True)]
    commands.add_parser("list", parents=common, help="the lab's steps with their status")
    logs = commands.add_parser("logs", parents=common, help="a step's last run log")
    logs.add_argument("step_id", metavar="STEP")
    logs.add_argument("--env", dest="logs_env", metavar="ENV")
    guide = commands.add_parser(
        "guide", parents=common,
        help="what a step of the lab teaches, and its commands to type by hand",
        description="Print the lab's text for one step in labtui's words, then the az, "
                    "databricks and git commands that do it by hand, filled in with your "
                    "values where they are known (secrets never).")
    guide.add_argument("step_id", metavar="STEP")
    guide.add_argument("--env", dest="guide_env", metavar="ENV",
                       help="the environment whose names go in (default: the step's first)")
    from labtui import cli_journal, cli_recover

    cli_journal.configure_parser(commands.add_parser(
        "journal", parents=common, help="what the journal records; `forget ID` drops an entry"),
        common)
    cli_recover.configure_parser(commands.add_parser(
        "recover", parents=common,
        help="rebuild a lost state.db's journal from what the target recorded"))
    from labtui.proctor import command as proctor

    proctor.configure_parser(commands.add_parser(
        "proctor", parents=common,
        help="reset, provision or check every attendee's environment at once"))
    from labtui import sandbox_serve

    sandbox_serve.configure_parser(commands.add_parser(
        "sandbox", parents=common, help="serve the local sandbox's Databricks REST API"),
        common)
    return parser


def _options(args: argparse.Namespace, argv: Sequence[str]) -> SessionOptions:
    from labtui.session import SessionOptions

    return SessionOptions(
        workspace=_workspace_path(args), target=args.target, values_file=args.values,
        set_values=args.set_values, command=_command_line(argv),
        force_unlock=args.force_unlock, heartbeat_after=getattr(args, "heartbeat", 30.0),
        parallel=getattr(args, "jobs", None),
    )


def _headless(args: argparse.Namespace, argv: Sequence[str], masker: Masker) -> int:
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
        with Session(_options(args, argv), catalog=catalog, masker=masker,
                     listeners=listeners) as session:
            engine = session.engine
            _say_where(engine, console)
            _say_broken_lock(session.workspace, console)
            if args.rollback and args.all:  # and what steps no longer installed made
                units = engine.reset_scope(args.env)
                planned = list(units)
            if args.rollback and not _confirm_rollback(engine, units, confirm, console):
                _error("nothing was rolled back")
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
        with Session(_options(args, argv), catalog=catalog, masker=masker,
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


def _list(args: argparse.Namespace) -> int:
    from labtui.status import UnitState, unit_state

    catalog = Catalog.discover()
    workspace = _open_for_reading(args)
    try:
        resolver = Resolver(catalog.fields(), workspace=workspace)
        rows = []
        for unit in catalog.units():
            status: str = unit_state(workspace, unit) if workspace else UnitState.NOT_DONE
            if status == UnitState.NOT_DONE:
                # Not done yet: say what it is waiting for when that is known.
                if unit.step.manual:
                    status = "manual"
                elif resolver.problems(unit.step.inputs, unit.env):
                    status = "needs input"
            rows.append((unit, str(status)))
    finally:
        if workspace is not None:
            workspace.close()
    if args.json:
        for unit, status in rows:
            print(json.dumps({"step": unit.id, "env": unit.env, "section": unit.step.section,
                              "title": unit.step.title, "status": status}))
        return ExitCode.OK
    from rich.console import Console as RichConsole

    console = RichConsole(highlight=False)
    console.print(_status_table(rows, with_titles=console.width >= 100), soft_wrap=False)
    return ExitCode.OK


def _status_table(rows: list[tuple[Unit, str]], *, with_titles: bool) -> object:
    from rich.table import Table
    from rich.text import Text

    styles = {"done": "green", "failed": "red", "drift": "yellow", "interrupted": "yellow",
              "running": "cyan", "needs input": "magenta", "manual": "cyan", "not done": "dim"}
    table = Table(title="labtui steps")
    widths = {
        "section": max((len(u.step.section) for u, _ in rows), default=7),
        "step": max((len(u.id) for u, _ in rows), default=4),
        "env": max((len(u.env or "") for u, _ in rows), default=3),
        "status": max((len(status) for _, status in rows), default=6),
    }
    for column, width in widths.items():
        table.add_column(column, no_wrap=True, min_width=max(width, len(column)))
    if with_titles:
        table.add_column("title", no_wrap=True, overflow="ellipsis")
    section = None
    for unit, status in rows:
        shown = unit.step.section if unit.step.section != section else ""
        section = unit.step.section
        cells: list[str | Text] = [shown, unit.id, unit.env or "",
                                   Text(status, style=styles.get(status, ""))]
        table.add_row(*cells, *([Text(unit.step.title)] if with_titles else []))
    return table


def _logs(args: argparse.Namespace) -> int:
    catalog = Catalog.discover()
    step = catalog.get(args.step_id)
    envs = step.environments()
    if args.logs_env is None and len(envs) > 1:
        raise UsageError(f"step {step.id!r} runs per environment: add --env "
                         f"{' or --env '.join(e for e in envs if e)}")
    env = args.logs_env if args.logs_env is not None else envs[0]
    if env not in envs:
        names = [e for e in envs if e]
        guess = did_you_mean(str(env), names)
        guessed = f": did you mean {guess!r}?" if guess else f" (only in {', '.join(names)})"
        raise UsageError(f"step {step.id!r} does not run in environment {env!r}{guessed}")
    workspace = _open_for_reading(args)
    shown = ("run", "rollback", "verify", *(action.name for action in step.actions))
    record = workspace.last_run(step.id, env, shown) if workspace else None
    if workspace is not None:
        workspace.close()
    if record is None:
        print(f"labtui: step {step.id!r} has not run in this workspace yet", file=sys.stderr)
        return ExitCode.FAILED
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started))
    print(f"# {record.action} of {step.id}{f' ({record.env})' if record.env else ''} at {when}: "
          f"{record.outcome or 'did not finish'}", file=sys.stderr)
    for line in record.lines:
        print(line)
    return ExitCode.OK


def _guide(args: argparse.Namespace, masker: Masker) -> int:
    """`labtui guide STEP`: the step's guide with the attendee's values (read-only)."""
    from labtui.guides import guide_for
    from labtui.values import Answers, load_answers, parse_set_args

    catalog = Catalog.discover()
    step = catalog.get(args.step_id)
    envs = step.environments()
    env = args.guide_env if args.guide_env is not None else envs[0]
    if env not in envs:
        shown = ", ".join(str(e) for e in envs if e) or "no environment"
        raise UsageError(f"step {step.id!r} does not run in {env!r} (only in {shown})",
                         "labtui guide")
    from labtui.session import with_targets_options

    # The answers file may hold the target's options too: they are values like the inputs.
    fields = with_targets_options(catalog.fields(), [args.target])
    answers = load_answers(args.values, fields) if args.values else Answers()
    workspace = _open_for_reading(args)
    try:
        resolver = Resolver(fields, set_args=parse_set_args(args.set_values, fields),
                            answers=answers, workspace=workspace, masker=masker)
        guide = guide_for(step, resolver.resolve(env).values, env, fields)
    finally:
        if workspace is not None:
            workspace.close()
    if guide.empty:
        _error(f"step {step.id!r} has no guide (its plugin ships no guides/{step.id}.md)")
        return ExitCode.FAILED
    text = masker.redact(guide.text)
    if args.json:
        print(json.dumps({"step": step.id, "env": env, "markdown": text,
                          "missing": list(guide.missing)}))
    elif sys.stdout.isatty():
        from rich.console import Console as RichConsole
        from rich.markdown import Markdown

        RichConsole().print(Markdown(text))
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return ExitCode.OK


def _app(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.step:
        catalog = Catalog.discover()
        for step_id in args.step:
            catalog.get(step_id)  # a misspelt step is named (with a guess) before anything opens
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # The app draws on a terminal and reads keys from it; in a pipe it would hang or garble.
        if args.step:
            raise UsageError(f"--step {' --step '.join(args.step)} without --headless opens the "
                             "app, which needs a terminal: add --headless to run it here")
        raise UsageError("labtui opens the app, which needs a terminal (stdin and stdout are "
                         "not both one): use --step ID --headless, --all --headless or "
                         "labtui list")
    from labtui.app import run_app

    return run_app(_options(args, argv), focus=args.step[0] if args.step else None)


def _report_crash(args: argparse.Namespace | None, exc: BaseException, masker: Masker) -> str:
    """Write the (masked) traceback of an unexpected error to a log file; return that file."""
    text = masker.redact("".join(traceback.format_exception(exc)))
    folder = _workspace_path(args) / "logs" if args is not None else Path.cwd()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "labtui.log"
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} crash\n{text}")
    except OSError:
        import tempfile

        fd, name = tempfile.mkstemp(prefix="labtui-crash-", suffix=".log")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        log = Path(name)
    return str(log)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `labtui` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    private_umask()  # workspaces, exports, logs and crash reports: readable by the user only
    args: argparse.Namespace | None = None
    masker = Masker()
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            return _list(args)
        if args.command == "logs":
            return _logs(args)
        if args.command == "guide":
            return _guide(args, masker)
        if args.command == "journal":
            from labtui import cli_journal

            return cli_journal.run(args)
        if args.command == "recover":
            from labtui import cli_recover

            return cli_recover.run(args)
        if args.command == "proctor":
            from labtui.proctor import command as proctor

            return proctor.run(args, masker)
        if args.command == "sandbox":
            from labtui import sandbox_serve

            return sandbox_serve.run(_workspace_path(args), args.target)
        if args.headless:
            return _headless(args, argv, masker)
        if args.act:
            raise UsageError(f"--{args.act} needs --headless (in the app, the step's page "
                             "offers it)")
        if args.verify or args.rollback or args.plan or args.solve or args.all or args.section:
            raise UsageError("--verify, --rollback, --plan, --solve, --all and --section need "
                             "--headless")
        return _app(args, argv)
    except UsageError as exc:
        _error(f"{exc} (see {exc.command} --help)")
        return ExitCode.USAGE
    except WorkspaceLocked as exc:
        _error(str(exc))
        return ExitCode.LOCKED
    except ValuesError as exc:
        for problem in exc.problems:
            _error(problem)
        return ExitCode.USAGE
    except (CatalogError, WorkspaceError, TargetError) as exc:
        _error(str(exc))
        return ExitCode.USAGE
    except KeyboardInterrupt:
        _error("interrupted; the journal is intact: --rollback removes what was created")
        return ExitCode.INTERRUPTED
    except Exception as exc:  # last resort: one line for the user, the traceback to a file
        log = _report_crash(args, exc, masker)
        _error(masker.redact(f"unexpected error {type(exc).__name__}: {exc} (details in {log})"))
        return ExitCode.FAILED


def _error(message: str) -> None:
    print(f"labtui: {message}", file=sys.stderr)


def run() -> NoReturn:
    sys.exit(main())
