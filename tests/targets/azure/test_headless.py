"""`labtui --target azure --headless` through the real CLI, pointed at the loopback fakes by its
options: who and where come first, before anything else happens."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import LabtuiRunner
from tests.fakes.azure.cloud import CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION_ID, TENANT_ID, FakeCloud

from .conftest import SP_ENVIRON

BANNER = (f"azure: tenant {TENANT_ID} · subscription Contoso Lab Subscription "
          f"({SUBSCRIPTION_ID}) · signed in as service principal {CLIENT_ID} (with a service "
          "principal (AZURE_CLIENT_ID))")


def test_the_first_line_names_tenant_subscription_and_identity(
    azure_labtui: LabtuiRunner, cloud: FakeCloud
) -> None:
    ran = azure_labtui("--target", "azure", "--headless", "--step", "resource-groups",
                       "--env", "dev")
    lines = ran.stderr.splitlines()
    assert lines[0] == BANNER, ran.output
    # The resource group is made in the subscription, after the banner.
    assert ran.code == 0, ran.output
    assert "✓ resource-groups (dev): done and verified" in ran.stderr
    assert cloud.arm.groups["contoso7-db-dev"].location == "eastus"
    assert "Traceback" not in ran.output
    assert CLIENT_SECRET not in ran.output
    # The subscription is read first, before any group is touched.
    arm = [(e.method, e.path) for e in cloud.server.log if "/subscriptions/" in e.path]
    assert arm[0] == ("GET", f"/subscriptions/{SUBSCRIPTION_ID}")

    back = azure_labtui("--target", "azure", "--headless", "--step", "resource-groups",
                        "--env", "dev", "--rollback")
    assert back.code == 0, back.output
    assert not cloud.arm.groups, "rolled back to nothing"


def test_with_json_events_the_banner_is_still_first_on_stderr(azure_labtui: LabtuiRunner) -> None:
    ran = azure_labtui("--target", "azure", "--headless", "--step", "resource-groups",
                       "--env", "dev", "--json")
    assert ran.stderr.splitlines()[0] == BANNER, ran.output
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    [finished] = [e for e in events if e["event"] == "step_finished"]
    assert (finished["step"], finished["outcome"]) == ("resource-groups", "done")
    assert CLIENT_SECRET not in ran.output


def test_a_wrong_subscription_stops_before_any_step_in_one_line(
    azure_labtui: LabtuiRunner, cloud: FakeCloud
) -> None:
    other = "11111111-2222-3333-4444-555555555555"
    ran = azure_labtui("--target", "azure", "--headless", "--step", "resource-groups",
                       "--env", "dev", extra_env={"LABTUI_SUBSCRIPTION_ID": other})
    assert ran.code == 2, ran.output
    assert ran.stderr == (f"labtui: subscription {other} (tenant {TENANT_ID}) was not found, or "
                          f"service principal {CLIENT_ID} cannot see it: check subscription-id "
                          "and tenant-id (`az account list -o table`)\n")
    assert cloud.arm.groups == {}


def test_no_way_to_sign_in_is_one_line_and_exit_2(azure_labtui: LabtuiRunner) -> None:
    env = {k: "" for k in SP_ENVIRON}
    ran = azure_labtui("--target", "azure", "--headless", "--step", "resource-groups",
                       "--env", "dev", extra_env=env)
    assert ran.code == 2, ran.output
    [line] = ran.stderr.splitlines()
    assert line.startswith(f"labtui: cannot sign in to tenant {TENANT_ID}: a service principal "
                           "(AZURE_CLIENT_ID): AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not "
                           "set; az login: ")


def test_a_bad_option_is_named_before_the_workspace_is_made(
    azure_labtui: LabtuiRunner, tmp_path: Path
) -> None:
    ran = azure_labtui("--target", "azure", "--headless", "--step", "resource-groups",
                       "--env", "dev", extra_env={"LABTUI_AZURE_ARM_ENDPOINT": "http://x"})
    assert ran.code == 2, ran.output
    assert "azure-arm-endpoint: must be an https:// URL (tokens are sent to it)" in ran.stderr
    assert not (tmp_path / "ws").exists()


def test_headless_signs_in_with_a_device_code_printed_on_stderr(
    azure_labtui: LabtuiRunner, cloud: FakeCloud
) -> None:
    import re
    import subprocess
    import sys

    env = {**azure_labtui.env, "LABTUI_AZURE_CREDENTIAL": "device-code",
           **{k: "" for k in SP_ENVIRON}}
    process = subprocess.Popen(
        [sys.executable, "-m", "labtui", "--target", "azure", "--headless", "--step",
         "resource-groups", "--env", "dev", "--workspace", str(azure_labtui.workspace)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        stdin=subprocess.DEVNULL)
    try:
        assert process.stderr is not None
        prompt = process.stderr.readline()
        found = re.fullmatch(rf"labtui: to sign in to Azure, open {re.escape(cloud.url)}"
                             r"/devicelogin and enter the code (\w+) \(valid until \d\d:\d\d "
                             r"UTC\)\n", prompt)
        assert found, prompt
        cloud.entra.approve(found[1], "grace@contoso.com")  # the attendee, in a browser
        _, rest = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert rest.splitlines()[0] == (
        f"azure: tenant {TENANT_ID} · subscription Contoso Lab Subscription ({SUBSCRIPTION_ID}) "
        "· signed in as grace@contoso.com (with a device code)")
    assert process.returncode == 0, rest  # signed in by the code, the group made
