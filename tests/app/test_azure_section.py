"""Done when (issue 13): the app does on the azure target what headless does — here against
the loopback fakes of tests/fakes/azure, signed in with a device code drawn in the app.

An attendee opens the app on `--target azure`; the sign-in dialog shows the page and the
code; they sign in "in a browser" (the fake's `approve`, what the sign-in page does); the
banner then names the tenant, the subscription and them. They run the Infrastructure section
from its node, every unit ends done, the fakes hold one of each resource per environment, no
secret is ever on screen; they roll the section back (confirming) and the fakes are empty,
the soft-deleted vaults purged. One test, a few minutes.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot

from labtui.app.app import LabApp, build_app
from labtui.app.banner import Banner
from labtui.app.confirm import ConfirmScreen
from labtui.app.device_code import DeviceCodeScreen
from labtui.app.step_tree import StepTree
from labtui.catalog import Catalog
from labtui.session import SessionOptions
from tests.app.test_app import log_text, ready, tree_line
from tests.fakes.azure.cloud import CLIENT_SECRET, SUBSCRIPTION_ID, TENANT_ID, FakeCloud
from tests.fakes.azure.databricks_plane import DatabricksPlane
from tests.targets.azure.conftest import path_without_az

DATA_FILE = Path(__file__).parents[1] / "data" / "AdultCensusIncome.csv"
SECTION = "Infrastructure"
USER = "grace@contoso.com"


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[FakeCloud]:
    (tmp_path / "cloud").mkdir()
    fake = FakeCloud.start(tmp_path / "cloud")
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def plane(tmp_path: Path, cloud: FakeCloud) -> Iterator[DatabricksPlane]:
    served = DatabricksPlane(cloud, tmp_path / "sandbox").start()
    yield served
    served.stop()


def screen_text(app: LabApp) -> str:
    """What the terminal shows now, as text (the dialog on top and what is under it)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(),
                      force_terminal=True, color_system=None, record=True,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


class Watcher:
    """Keeps every distinct frame seen while waiting, to look for secrets in all of them."""

    def __init__(self, app: LabApp) -> None:
        self.app = app
        self.frames: set[str] = set()

    def look(self) -> str:
        frame = screen_text(self.app)
        self.frames.add(frame)
        return frame

    async def until(self, pilot: Pilot[int], done: object, what: str,
                    timeout: float = 600) -> None:
        assert callable(done)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            self.look()
            if loop.time() > deadline:
                raise AssertionError(f"{what}: not within {timeout:.0f} s\n{self.look()}")
            await pilot.pause(0.2)
        await pilot.pause()
        self.look()


def _secrets(cloud: FakeCloud, home: Path) -> set[str]:
    """Every secret the run handled: the fakes' client secret, the service principals'
    passwords, the access and refresh tokens the fake Entra handed out, and the Databricks
    personal access tokens of the CLI profiles."""
    found = {CLIENT_SECRET, *cloud.entra.tokens, *cloud.entra.refresh_tokens()}
    found |= {secret for app in cloud.graph.applications.values()
              for _, secret in app.passwords.values()}
    config = home / ".databrickscfg"
    if config.exists():
        found |= set(re.findall(r"^token\s*=\s*(\S+)", config.read_text(), re.M))
    return found


def _assert_one_of_each(cloud: FakeCloud) -> None:
    groups = [g for g in cloud.arm.groups.values() if g.managed_by is None]
    assert len(groups) == 3, "dev's, pipeline's and prod's"
    assert len(cloud.arm.groups) == 5, "and each Databricks workspace's managed group"
    assert len(cloud.storage.accounts) == 2 and len(cloud.keyvault.vaults) == 2
    assert len(cloud.graph.applications) == 2 and len(cloud.graph.service_principals) == 2
    assert len(cloud.authorization.assignments) == 2
    assert len(cloud.ml.workspaces) == 2 and len(cloud.databricks.workspaces) == 2


def _assert_empty(cloud: FakeCloud) -> None:
    assert cloud.arm.groups == {}
    assert cloud.storage.accounts == {} and cloud.storage.datalake.accounts == {}
    assert cloud.keyvault.vaults == {} and cloud.keyvault.deleted == {}, "vaults purged"
    assert cloud.graph.applications == {} and cloud.graph.service_principals == {}
    assert cloud.authorization.assignments == {}
    assert cloud.ml.workspaces == {} and cloud.databricks.workspaces == {}


@pytest.mark.slow
async def test_the_infrastructure_section_runs_and_rolls_back_in_the_app_on_azure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cloud: FakeCloud,
        plane: DatabricksPlane) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(home / ".databrickscfg"))
    monkeypatch.setenv("PATH", path_without_az())  # no `az login` to fall back on
    for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    options = SessionOptions(workspace=Path("ws"), target="azure", command="labtui (test)",
                             environ={
                                 "LABTUI_PREFIX": "contoso9",
                                 "LABTUI_DATA_FILE": str(DATA_FILE),
                                 "LABTUI_TENANT_ID": TENANT_ID,
                                 "LABTUI_SUBSCRIPTION_ID": SUBSCRIPTION_ID,
                                 "LABTUI_AZURE_CREDENTIAL": "device-code",
                                 "LABTUI_AZURE_AUTHORITY": cloud.url,
                                 "LABTUI_AZURE_ARM_ENDPOINT": cloud.url,
                                 "LABTUI_AZURE_GRAPH_ENDPOINT": cloud.url,
                                 "LABTUI_AZURE_DATABRICKS_ENDPOINT": plane.url,
                                 "LABTUI_AZURE_CA_BUNDLE": str(cloud.server.ca_path)})
    catalog = Catalog.discover()
    units = [unit for unit in catalog.units() if unit.step.section == SECTION]
    assert len(units) == 21
    app = build_app(options, catalog=catalog, theme="textual-dark")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            watch = Watcher(app)
            await ready(pilot)

            # Signing in: the dialog shows where and the code; the attendee signs in there.
            await watch.until(pilot, lambda: isinstance(app.screen, DeviceCodeScreen),
                              "the device-code dialog", timeout=20)
            shown = watch.look()
            [code] = cloud.entra.pending_user_codes()
            assert f"{cloud.url}/devicelogin" in shown and code in shown, shown
            cloud.entra.approve(code, USER)
            await watch.until(pilot, lambda: not isinstance(app.screen, DeviceCodeScreen),
                              "the dialog closing once signed in", timeout=30)
            banner = str(app.query_one(Banner).render())
            for part in (f"tenant {TENANT_ID}", f"({SUBSCRIPTION_ID})", f"signed in as {USER}"):
                assert part in " ".join(banner.split()), banner
            assert cloud.arm.subscription_name in banner, banner

            # The whole section from its node.
            tree = app.query_one(StepTree)
            assert tree.select_section(SECTION)
            tree.focus()
            await pilot.pause()
            await pilot.press("r")
            await watch.until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                              "the run's confirmation", timeout=20)
            await pilot.press("y")
            await watch.until(pilot, lambda: app.job is None, "the section's run",
                              timeout=300)
            assert not isinstance(app.screen, DeviceCodeScreen), "signed in once, for all"
            undone = [u.label for u in units if app.lab.engine.status(u).value != "done"]
            assert undone == [], f"{undone}\n{log_text(app)}"
            for u in units:
                env = u.env if u.step.per_environment else None
                line = tree_line(app, u.id, env)
                assert "done" in line and "not done" not in line, (u.label, line)
            assert f"{SECTION} 21/21" in str(tree._section_nodes[SECTION].label)
            _assert_one_of_each(cloud)
            secrets = _secrets(cloud, home)
            log = log_text(app)

            # Back to nothing, from the section's node, after saying yes.
            assert tree.select_section(SECTION)
            tree.focus()
            await pilot.pause()
            await pilot.press("u")
            await watch.until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                              "the rollback's confirmation", timeout=20)
            dialog = app.screen
            assert isinstance(dialog, ConfirmScreen)
            assert dialog.title_text == f"Roll back {SECTION}?", dialog.title_text
            listed = [str(line) for line in dialog.lines]
            # Each environment's deletions under its name (its vault's secrets have the same
            # names as the other's), newest first.
            dev, pipeline = listed.index("secrets (dev)"), listed.index("secrets (pipeline)")
            assert listed[dev + 1].startswith("- delete vault-secret "), listed
            assert listed[pipeline + 1].startswith("- delete vault-secret "), listed
            assert listed.index("resource-groups (dev)") > max(dev, pipeline), listed
            await pilot.press("y")
            await watch.until(pilot, lambda: app.job is None and all(
                app.lab.engine.status(u).value != "done" for u in units),
                "the section's rollback", timeout=300)
            _assert_empty(cloud)
            log += "\n" + log_text(app)
            secrets |= _secrets(cloud, home)
            assert len(secrets) > 10
            for secret in secrets:
                assert secret not in log, "a secret in the log pane"
                for frame in watch.frames:
                    assert secret not in frame, f"a secret on screen:\n{frame}"
            print(f"\n{len(watch.frames)} frames looked at, {len(secrets)} secrets")
    finally:
        app.lab.close()
