"""The command line: `labtui` (the app), `labtui --step ID --headless`, `labtui list`,
`labtui logs STEP`. Arguments are parsed here and handed to the engine; nothing else.

`main` dispatches: the grammar is `labtui.cli_parser`'s, a headless action
`labtui.cli_headless`'s, the read-only commands `labtui.cli_read`'s; the subcommands
(`journal`, `recover`, `proctor`, `sandbox`) live in modules of their own."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

# Only light modules here: `labtui --help` must not pay for the engine, targets or plugins.
from labtui.catalog import Catalog, CatalogError
from labtui.cli_headless import headless, session_options
from labtui.cli_parser import build_parser
from labtui.cli_read import guide, list_steps, logs
from labtui.command_line import ExitCode, UsageError, say_error
from labtui.command_line import workspace_path as _workspace_path
from labtui.masking import Masker
from labtui.state import WorkspaceError, WorkspaceLocked, private_umask
from labtui.targets.base import TargetError
from labtui.values import ValuesError


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

    return run_app(session_options(args, argv), focus=args.step[0] if args.step else None)


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
            return list_steps(args)
        if args.command == "logs":
            return logs(args)
        if args.command == "guide":
            return guide(args, masker)
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
            return headless(args, argv, masker)
        if args.act:
            raise UsageError(f"--{args.act} needs --headless (in the app, the step's page "
                             "offers it)")
        if args.verify or args.rollback or args.plan or args.solve or args.all or args.section:
            raise UsageError("--verify, --rollback, --plan, --solve, --all and --section need "
                             "--headless")
        return _app(args, argv)
    except UsageError as exc:
        say_error(f"{exc} (see {exc.command} --help)")
        return ExitCode.USAGE
    except WorkspaceLocked as exc:
        say_error(str(exc))
        return ExitCode.LOCKED
    except ValuesError as exc:
        for problem in exc.problems:
            say_error(problem)
        return ExitCode.USAGE
    except (CatalogError, WorkspaceError, TargetError) as exc:
        say_error(str(exc))
        return ExitCode.USAGE
    except KeyboardInterrupt:
        say_error("interrupted; the journal is intact: --rollback removes what was created")
        return ExitCode.INTERRUPTED
    except Exception as exc:  # last resort: one line for the user, the traceback to a file
        log = _report_crash(args, exc, masker)
        say_error(masker.redact(f"unexpected error {type(exc).__name__}: {exc} (details in {log})"))
        return ExitCode.FAILED


def run() -> NoReturn:
    sys.exit(main())
