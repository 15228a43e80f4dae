"""`labtui recover`: rebuild the journal of a workspace whose state.db was emptied, deleted or
replaced, from the target's own record of what it created (see labtui.targets.ownership).

That record is a mirror of the journal, written with every entry, so what comes back is exact:
the same units, kinds, refs and undo records, in the same order. Values, statuses and run
history are not in it; the backup (state.db.bak) has those as of the last run.
`--forget-secrets` drops the stored secrets a lost secret.key sealed, so they can be given again.
"""

from __future__ import annotations

import argparse
import sys

from labtui.state import JournalRow, Workspace


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Rebuild the journal from what the target recorded, after state.db was emptied, "
        "deleted or replaced; then this workspace owns what the target holds.")
    parser.add_argument("--forget-secrets", action="store_true",
                        help="drop stored secrets that secret.key cannot open (it is lost): "
                             "give them again afterwards")


def run(args: argparse.Namespace) -> int:
    from labtui.command_line import ExitCode, UsageError, command_line, workspace_path
    from labtui.session import open_configured_target

    path = workspace_path(args)
    if not (path / "sandbox").is_dir() and not (path / "state.db").exists():
        raise UsageError(f"there is no workspace at {path} to recover (give it with "
                         "--workspace)", "labtui recover")
    workspace = Workspace.open(path, command=command_line(["recover"]),
                               force_unlock=args.force_unlock)
    try:
        if args.forget_secrets:
            dropped = workspace.forget_unreadable_secrets()
            print(f"labtui: dropped {len(dropped)} secret value(s) secret.key cannot open"
                  + (f": {', '.join(dropped)}; give them again (or run the step that makes "
                     "them)" if dropped else ""), file=sys.stderr)
        target = open_configured_target(
            args.target, workspace, values_file=args.values, set_values=args.set_values)
        try:
            mirror = target.journal_mirror()
            if mirror is None:
                print(f"labtui: the {args.target} target keeps no record of what it created: "
                      f"restore {workspace.backup_path} as state.db instead", file=sys.stderr)
                return ExitCode.FAILED
            entries = mirror.entries()
            restored = [entry for entry in entries if workspace.journal_restore(JournalRow(
                0, entry.step, entry.env, entry.kind, entry.ref, entry.undo, entry.created))]
            owner = workspace.id
            if owner is not None:
                mirror.adopt(owner)
        finally:
            target.close()
    finally:
        workspace.close()
    if not entries:
        print("labtui: the target holds nothing labtui recorded; this workspace owns it now",
              file=sys.stderr)
        return ExitCode.OK
    units = sorted({f"{e.step} [{e.env}]" if e.env else e.step for e in restored})
    print(f"labtui: recovered {len(restored)} of {len(entries)} journal entries"
          + (f" ({', '.join(units)})" if units else " (the journal had them all)")
          + "; `labtui journal` lists them, --rollback removes them. Values are not kept by "
          "the target: give them again (--values) if a step asks", file=sys.stderr)
    return ExitCode.OK
