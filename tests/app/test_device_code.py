"""The app on the azure target signing in with a device code: the code and the sign-in page
are drawn in a dialog of the app (a printed code would be hidden under it), and once the
attendee has signed in in a browser the dialog closes and the banner names them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Static

from labtui.app.app import build_app
from labtui.app.banner import Banner
from labtui.app.device_code import DeviceCodeScreen
from labtui.catalog import Catalog
from labtui.session import SessionOptions
from tests.fakes.azure.cloud import SUBSCRIPTION_ID, TENANT_ID, FakeCloud


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[FakeCloud]:
    (tmp_path / "cloud").mkdir()
    fake = FakeCloud.start(tmp_path / "cloud")
    try:
        yield fake
    finally:
        fake.stop()


async def test_the_device_code_is_drawn_in_a_dialog_that_closes_once_signed_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cloud: FakeCloud,
        lab_catalog: Catalog) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    options = SessionOptions(workspace=Path("ws"), target="azure", command="labtui (test)",
                             environ={
                                 "LABTUI_TENANT_ID": TENANT_ID,
                                 "LABTUI_SUBSCRIPTION_ID": SUBSCRIPTION_ID,
                                 "LABTUI_AZURE_CREDENTIAL": "device-code",
                                 "LABTUI_AZURE_AUTHORITY": cloud.url,
                                 "LABTUI_AZURE_ARM_ENDPOINT": cloud.url,
                                 "LABTUI_AZURE_GRAPH_ENDPOINT": cloud.url,
                                 "LABTUI_AZURE_CA_BUNDLE": str(cloud.server.ca_path)})
    app = build_app(options, catalog=lab_catalog, theme="textual-dark")
    try:
        async with app.run_test(size=(200, 30)) as pilot:
            for _ in range(200):
                if isinstance(app.screen, DeviceCodeScreen):
                    break
                await asyncio.sleep(0.05)
            dialog = app.screen
            assert isinstance(dialog, DeviceCodeScreen), "the code is shown in the app"
            shown = " ".join(str(w.render()) for w in dialog.query(Static))
            assert f"{cloud.url}/devicelogin" in shown
            [code] = cloud.entra.pending_user_codes()
            assert re.search(rf"enter the code {code}\b", shown), shown
            assert re.search(r"valid until \d\d:\d\d UTC", shown)

            cloud.entra.approve(code, "grace@contoso.com")  # the attendee, in a browser
            for _ in range(200):
                if not isinstance(app.screen, DeviceCodeScreen):
                    break
                await pilot.pause(0.05)
            assert not isinstance(app.screen, DeviceCodeScreen), "closed once signed in"
            banner = str(app.query_one(Banner).render())
            assert "grace@contoso.com" in banner, banner
    finally:
        app.lab.close()
