"""`labtui journal`: what the workspace's journal records, and `labtui journal forget ID`, the
way out when an entry can never be removed (its resource is gone, or was removed by hand).

Forgetting an entry means labtui will never remove that resource, so it asks first (or takes
--yes), and drops the entry from the target's own record of the journal too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from labtui.journal import DamagedRecord, RecordKindError, UnknownKind, decode
from labtui.state import JournalRow, Workspace


def configure_parser(parser: argparse.ArgumentParser,
                     common: Sequence[argparse.ArgumentParser]) -> None:
    """Add `forget` to the `journal` command; `common` are the options every command takes."""
    parser.description = ("List what the workspace's journal records: every resource a step "
                          "created, which --rollback removes. `forget ID` drops one entry.")
    actions = parser.add_subparsers(dest="journal_action", metavar="ACTION")
    forget = actions.add_parser(
        "forget", parents=list(common), help="drop one entry whose resource is known to be gone",
        description="Drop a journal entry, so --rollback no longer tries to remove its "
                    "resource: for one that is gone, or that you removed by hand.")
    forget.add_argument("entry_id", metavar="ID", help="the entry's id (see `labtui journal`)")
    forget.add_argument("--yes", action="store_true", help="do not ask first")


def run(args: argparse.Namespace) -> int:
    from labtui.command_line import ExitCode

    if getattr(args, "journal_action", None) == "forget":
        return _forget(args)
    rows = _rows(args)
    if args.json:
        for row in rows:
            print(json.dumps({"id": row.seq, "step": row.step, "env": row.env,
                              "kind": row.kind, "ref": row.ref, "recorded": row.created,
                              "undo_readable": _readable(row)}))
        return ExitCode.OK
    if not rows:
        print("the journal is empty: no step has created anything that --rollback would remove",
              file=sys.stderr)
        return ExitCode.OK
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="journal (newest last; --rollback removes them newest first)")
    for column in ("id", "step", "kind", "ref", "recorded"):
        table.add_column(column, overflow="fold")
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.created))
        ref = Text(row.ref)
        problem = _problem(row)
        if problem:
            ref.append(f"  ({problem})", style="red")
        table.add_row(str(row.seq), row.unit, row.kind, ref, when)
    Console(highlight=False).print(table)
    return ExitCode.OK


def _problem(row: JournalRow) -> str | None:
    """Why rollback cannot remove the entry's resource, or None when its record is sound."""
    try:
        decode(row.kind, row.ref, json.loads(row.undo))
    except ValueError:
        return "undo record damaged"
    except UnknownKind:
        return "no installed plugin knows this kind"
    except RecordKindError:
        return "the plugin that knows this kind cannot be loaded"
    except DamagedRecord:
        return "undo record damaged"
    return None


def _readable(row: JournalRow) -> bool:
    return _problem(row) is None


def _rows(args: argparse.Namespace) -> list[JournalRow]:
    from dataclasses import replace

    from labtui.command_line import open_for_reading
    from labtui.masking import Masker
    from labtui.values import mask_stored_secrets

    workspace = open_for_reading(args)
    if workspace is None:
        return []
    try:
        # A step names resources, never secrets, in its refs; masked all the same, as every
        # other line labtui prints.
        masker = Masker()
        mask_stored_secrets(masker, workspace)
        return [replace(row, ref=masker.redact(row.ref), kind=masker.redact(row.kind))
                for row in workspace.journal_rows()]
    finally:
        workspace.close()


def _forget(args: argparse.Namespace) -> int:
    from labtui.command_line import ExitCode, UsageError, command_line, workspace_path
    from labtui.session import open_configured_target

    try:
        seq = int(args.entry_id)
    except ValueError:
        raise UsageError(f"journal forget {args.entry_id!r}: the id is a number "
                         "(`labtui journal` lists them)", "labtui journal forget") from None
    path = workspace_path(args)
    if not (path / "state.db").exists():
        raise UsageError(f"workspace {path} has no journal yet", "labtui journal forget")
    workspace = Workspace.open(path, command=command_line(["journal", "forget", str(seq)]),
                               force_unlock=args.force_unlock)
    try:
        row = next((r for r in workspace.journal_rows() if r.seq == seq), None)
        if row is None:
            raise UsageError(f"there is no journal entry {seq} (`labtui journal` lists them)",
                             "labtui journal forget")
        what = f"journal entry {seq} ({row.unit}: {row.kind} {row.ref})"
        if not args.yes and not _confirmed(what):
            print(f"labtui: kept {what}", file=sys.stderr)
            return ExitCode.USAGE
        workspace.journal_forget(seq)
        target = open_configured_target(
            args.target, workspace, values_file=args.values, set_values=args.set_values)
        try:
            mirror = target.journal_mirror()
            if mirror is not None:
                mirror.forget(row.step, row.env, row.kind, row.ref)
        finally:
            target.close()
    finally:
        workspace.close()
    print(f"labtui: forgot {what}; --rollback will not try to remove it", file=sys.stderr)
    return ExitCode.OK


def _confirmed(what: str) -> bool:
    from labtui.command_line import UsageError

    if not sys.stdin.isatty():
        raise UsageError(f"forgetting {what} needs a yes: add --yes (no terminal to ask on)",
                         "labtui journal forget")
    answer = input(f"Forget {what}? labtui will never remove it; do this only if it is gone "
                   "or you removed it by hand. [y/N] ")
    return answer.strip().lower() in ("y", "yes")
