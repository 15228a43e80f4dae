"""`labtui sandbox serve`: keep the local sandbox's Databricks REST API up in the foreground,
so the CLI profiles the lab wrote work with databricks-sdk and the `databricks` CLI, until
Ctrl-C.

It takes no workspace lock: the server only answers clients, and a headless run or the app
may work on the same workspace meanwhile (the sandbox's database serialises their writes).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from labtui.targets.base import TargetError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def configure_parser(parser: argparse.ArgumentParser,
                     parents: Sequence[argparse.ArgumentParser]) -> None:
    """Add `serve` to `labtui sandbox` (with the common options, so `--workspace` may come
    after `serve`)."""
    parser.description = "Work with the local target's sandbox (<workspace>/sandbox)."
    actions = parser.add_subparsers(dest="sandbox_command", required=True, metavar="{serve}")
    actions.add_parser(
        "serve", parents=list(parents), help="serve the sandbox's Databricks REST API until Ctrl-C",
        description="Serve the local Databricks workspaces' REST API on 127.0.0.1 (the host "
                    "of the CLI profiles cli-profiles writes) until Ctrl-C. The legacy "
                    "`databricks` CLI drops the port of a host: run it with "
                    "http_proxy=<the address> to reach the sandbox.")


def run(workspace: Path, target_name: str = "local") -> int:
    """Run `labtui sandbox serve` for a workspace folder; returns the exit code."""
    from labtui.targets.local import LocalTarget
    from labtui.targets.local.databricks_api import AlreadyServed, DatabricksApiServer

    if target_name != "local":
        _say(f"only the local target has a sandbox to serve (not {target_name})")
        return EXIT_USAGE
    if not (workspace / "sandbox" / "sandbox.db").is_file():
        _say(f"there is no sandbox in {workspace} yet: run the lab's Infrastructure steps "
             "first (labtui --section Infrastructure --headless)")
        return EXIT_USAGE
    target = LocalTarget(workspace)
    try:
        server = DatabricksApiServer(target.databricks)
    except AlreadyServed as exc:
        _say(str(exc))
        target.close()
        return EXIT_OK
    except TargetError as exc:
        _say(str(exc))
        target.close()
        return EXIT_FAILED
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.start()
        print(f"Databricks REST API of {workspace / 'sandbox'} at {server.url} (Ctrl-C stops "
              f"it; the legacy databricks CLI needs http_proxy={server.url})", flush=True)
        while not stop.is_set():
            stop.wait(1.0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
        target.close()
    return EXIT_OK


def _say(message: str) -> None:
    print(f"labtui: {message}", file=sys.stderr)
