"""The app serves the local sandbox's Databricks REST API while it is open."""

from __future__ import annotations

import socket
from pathlib import Path

from labtui.targets.local import LocalTarget
from labtui.targets.local.databricks_api import DatabricksApiServer
from labtui.targets.resources import DATABRICKS_WORKSPACES
from tests.app.conftest import AppFactory
from tests.targets.local.conftest import local_host


def _sandbox_with_a_workspace(workspace: Path) -> tuple[str, str]:
    """A sandbox with one Databricks workspace, a cluster and a token: (host, token)."""
    target = LocalTarget(workspace)
    try:
        target.resource_groups.create("lab-db-dev", "westeurope")
        databricks = target.databricks
        created = databricks.create_workspace(
            target.ref("lab-db-dev", DATABRICKS_WORKSPACES, "lab-adb-dev"), "westeurope")
        adb = local_host(databricks, "lab-adb-dev")
        databricks.create_cluster(adb, "lab-dev", node_type="Standard_DS3_v2",
                                  spark_version="15.4.x-scala2.12", num_workers=1,
                                  autotermination_minutes=120)
        token = databricks.create_token(local_host(databricks, "lab-adb-dev"), "app test").value
        assert token is not None
        return created.url, token
    finally:
        target.close()


def _refused(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_the_app_serves_the_sandbox_while_open(make_app: AppFactory,
                                                     tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient

    host, token = _sandbox_with_a_workspace(tmp_path / "ws")
    assert _refused(host)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert f"Databricks REST API at {host} while labtui is open" in app.log_pane.kept
        client = WorkspaceClient(host=host, token=token)
        assert [c.cluster_name for c in client.clusters.list()] == ["lab-dev"]
    assert _refused(host), "closing the app stops serving"


async def test_the_app_says_when_another_labtui_serves_the_sandbox(
        make_app: AppFactory, tmp_path: Path) -> None:
    host, _ = _sandbox_with_a_workspace(tmp_path / "ws")
    other = LocalTarget(tmp_path / "ws")
    server = DatabricksApiServer(other.databricks).start()
    try:
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            assert (f"the Databricks REST API of this sandbox is already served at {host} (by "
                    "another labtui): the CLI profiles work while it runs") in app.log_pane.kept
            assert app.databricks_api is None
    finally:
        server.close()
        other.close()


async def test_no_sandbox_no_server(make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert app.databricks_api is None
        assert not any("Databricks REST API" in line for line in app.log_pane.kept)
    assert not (tmp_path / "ws" / "sandbox").exists(), "opening the app creates no sandbox"

