"""Waiting on an ARM long-running operation so that a crash cannot lose it.

Every `begin_*` call of the azure target (creating a storage account, a Key Vault or an ML
workspace; deleting a resource group; purging a vault) hands its poller to `wait`. The
poller's continuation token is announced first (`labtui.targets.operations.started`: the
engine journals it), and the end of the wait is announced once it is over for good — done,
gone, or failed. A wait that is only cut off (`Transient`: the service goes on working) leaves
the announcement standing, and so does a process killed mid-wait: the journal entry then
hands the token to `AzureTarget.resume_operation`, which waits for that very operation (not a
second one) before the resource itself is rolled back or used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labtui.targets import operations
from labtui.targets.azure.mgmt import loopback, rest_client, translated
from labtui.targets.errors import TargetError, Transient

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from labtui.targets.azure.endpoints import Endpoints


def wait(poller: Any, resource: str, action: str, what: str, *,
         token: str | None = None) -> Any:
    """The poller's result, its continuation token (or `token`, when the poller wraps the
    one that resumes it) journaled while it is awaited.

    Raises:
        NotFound: the resource went away while it was awaited (the wait is over).
        Transient: the wait was cut off; the operation stays announced, to be resumed.
        TargetError: the operation failed (the wait is over).
    """
    started = operations.StartedOperation(
        resource, action, poller.continuation_token() if token is None else token)
    operations.started(started)
    try:
        with translated(what):
            result = poller.result()
    except Transient:
        raise  # Azure goes on: the journaled operation is resumed later
    except TargetError:
        operations.ended(started)  # over for good (failed, or gone): nothing to resume
        raise
    operations.ended(started)
    return result


def resume(credential: TokenCredential, endpoints: Endpoints, token: str, what: str) -> None:
    """Wait, from its continuation token, for an ARM operation an earlier process started
    through a client this process does not have (azure-ai-ml's template deployment), until
    it has ended either way.

    Raises:
        NotFound: the operation, or what it worked on, is gone.
        Transient: Azure is busy or did not answer; worth trying again.
        TargetError: the operation failed.
    """
    from azure.core.polling import LROPoller
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    near = loopback(endpoints)
    client = rest_client(credential, endpoints)
    try:
        with translated(what):
            LROPoller.from_continuation_token(
                polling_method=ARMPolling(0 if near else 5), continuation_token=token,
                client=client, deserialization_callback=lambda response: None).result()
    finally:
        client.close()
