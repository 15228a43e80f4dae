"""Serving a local target's sandbox while a front end (the app) is open."""

from __future__ import annotations

from labtui.targets.base import Target, TargetError
from labtui.targets.local.databricks_api.server import AlreadyServed, DatabricksApiServer


def serve_in_background(target: Target) -> tuple[DatabricksApiServer | None, str | None]:
    """Start serving the sandbox's Databricks REST API in a background thread.

    Returns the server (None when it is not started) and the line to log, if any: nothing for
    a target without a sandbox, or a sandbox not made yet (serving would create it); the
    address when started; that another labtui serves it already; why the port cannot be used.
    """
    from labtui.targets.local import LocalTarget

    if not isinstance(target, LocalTarget) or not (target.sandbox_path / "sandbox.db").is_file():
        return None, None
    try:
        server = DatabricksApiServer(target.databricks).start()
    except AlreadyServed as exc:
        return None, f"{exc}: the CLI profiles work while it runs"
    except TargetError as exc:
        return None, f"the CLI profiles will not connect: {exc}"
    return server, f"Databricks REST API at {server.url} while labtui is open"


def run_pipelines_in_background(target: Target) -> None:
    """While a front end is open, its process owns the workspace for long: pipeline runs start
    as soon as they are queued (a merge's CI build), and the ones a headless process left
    queued start now. Nothing for a target without local pipelines or a sandbox not made."""
    from labtui.targets.local import LocalTarget

    if not isinstance(target, LocalTarget) or not (target.sandbox_path / "sandbox.db").is_file():
        return
    target.pipelines.background = True
    target.pipelines.start_queued()
