"""A headless run killed (SIGKILL) while Azure creates a resource: the poller's continuation
token is in the journal, so a `--rollback` waits for that very creation and removes what it
made (nothing left), and a rerun waits for it and keeps the one resource it made."""

from __future__ import annotations

import signal
import time

from tests.conftest import LabtuiRunner
from tests.fakes.azure.cloud import FakeCloud

STORAGE_PUT = r"/providers/Microsoft\.Storage/storageAccounts/"


def _kill_mid_creation(azure_labtui: LabtuiRunner, cloud: FakeCloud) -> str:
    """Run data-lake (dev) until Azure holds the account's creation InProgress, then kill it;
    the account's name."""
    made = azure_labtui("--target", "azure", "--headless", "--step", "resource-groups",
                        "--env", "dev")
    assert made.code == 0, made.output
    cloud.operations.held = True
    cloud.operations.retry_after = 1  # the SDK polls once a second meanwhile
    process = azure_labtui.popen("--target", "azure", "--headless", "--step", "data-lake",
                                 "--env", "dev")
    try:
        deadline = time.monotonic() + 120
        while cloud.server.count("GET", "/operationResults/") < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the creation was never polled"
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    [account] = cloud.storage.accounts.values()
    assert account.state == "Creating", "killed mid-creation"
    assert cloud.server.count("PUT", STORAGE_PUT) == 1
    cloud.operations.held = False  # Azure goes on with the creation meanwhile
    cloud.operations.retry_after = 0
    return account.name


def test_a_run_killed_mid_creation_rolls_back_to_nothing(
        azure_labtui: LabtuiRunner, cloud: FakeCloud) -> None:
    _kill_mid_creation(azure_labtui, cloud)

    back = azure_labtui("--target", "azure", "--headless", "--step", "data-lake", "--env",
                        "dev", "--rollback")
    assert back.code == 0, back.output
    assert "Traceback" not in back.output
    assert cloud.storage.accounts == {}, "the account the killed run started is gone"
    assert cloud.storage.datalake.accounts == {}
    assert cloud.server.count("PUT", STORAGE_PUT) == 1, "no second creation was started"
    # The rollback waited on the killed run's own operation (its token), then deleted.
    assert cloud.server.count("DELETE", STORAGE_PUT) == 1

    again = azure_labtui("--target", "azure", "--headless", "--step", "data-lake", "--env",
                         "dev", "--rollback")
    assert again.code == 0, again.output
    assert "nothing to remove" in again.stderr, "the journal holds no pending operation"


def test_a_rerun_after_the_kill_finishes_the_same_creation(
        azure_labtui: LabtuiRunner, cloud: FakeCloud) -> None:
    name = _kill_mid_creation(azure_labtui, cloud)

    again = azure_labtui("--target", "azure", "--headless", "--step", "data-lake", "--env",
                         "dev")
    assert again.code == 0, again.output
    assert "✓ data-lake (dev): done and verified" in again.stderr
    assert list(cloud.storage.accounts) == [name]
    assert cloud.storage.accounts[name].state == "Succeeded"
    assert cloud.server.count("PUT", STORAGE_PUT) == 1, "exactly one account, created once"

    back = azure_labtui("--target", "azure", "--headless", "--section", "Infrastructure",
                        "--env", "dev", "--rollback")
    assert back.code == 0, back.output
    assert cloud.storage.accounts == {} and cloud.arm.groups == {}
