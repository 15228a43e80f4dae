"""The `labtui` command line's grammar: every option and subcommand, and usage errors
raised as `UsageError` (so `main` says them in one line)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

# Only light modules here: `labtui --help` must not pay for the engine, targets or plugins.
from labtui.command_line import UsageError, positive_count, target_argument
from labtui.schedule import DEFAULT_PARALLEL, DEFAULT_VERIFY_PARALLEL
from labtui.targets import DEFAULT_TARGET, installed

if TYPE_CHECKING:
    pass


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
                             f"(default {DEFAULT_PARALLEL}, {DEFAULT_VERIFY_PARALLEL} to verify; "
                             "1: one after the other)")
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
