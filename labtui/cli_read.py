"""The read-only commands: `labtui list` (the status table), `labtui logs STEP` (its last
run's lines) and `labtui guide STEP` (its guide with the attendee's values)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

# Only light modules here: `labtui --help` must not pay for the engine, targets or plugins.
from labtui.catalog import Catalog, did_you_mean
from labtui.command_line import ExitCode, UsageError, say_error
from labtui.command_line import open_for_reading as _open_for_reading
from labtui.masking import Masker
from labtui.values import Resolver

if TYPE_CHECKING:
    from labtui.catalog import Unit


def list_steps(args: argparse.Namespace) -> int:
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


def logs(args: argparse.Namespace) -> int:
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


def guide(args: argparse.Namespace, masker: Masker) -> int:
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
        say_error(f"step {step.id!r} has no guide (its plugin ships no guides/{step.id}.md)")
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
