"""The whole Infrastructure section on the azure target, driven as an attendee drives it: the
real CLI in a subprocess (`labtui --section Infrastructure --headless --target azure`),
signed in with `az login` as a user of the tenant, pointed at the loopback fakes by its
options. It runs (dev, pipeline, and prod's resource group), re-verifies, plans nothing, and
rolls back to empty fakes; once more with faults injected, without duplicate resources.

The Databricks data plane is the fakes' (`DatabricksPlane`): the secret scope is made with
the user's Entra token and lists the fake vault's secrets live.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LabtuiRunner, Ran
from tests.fakes.azure.authorization import Assignment
from tests.fakes.azure.cloud import CLIENT_SECRET, FakeCloud
from tests.fakes.azure.databricks_plane import DatabricksPlane
from tests.fakes.azure.faults import Fault, Fired
from tests.fakes.azure.server import Request

from .conftest import SP_ENVIRON, path_without_az, signed_in_user

STEPS = ("resource-groups", "ml-workspace", "data-lake", "key-vault", "databricks",
         "upload-data", "cli-profiles", "service-principal", "secret-scope", "secrets")
UNITS = [(step, env) for step in STEPS for env in ("dev", "pipeline")] + [
    ("resource-groups", "prod")]
DATA_FILE = Path(__file__).parents[2] / "data" / "AdultCensusIncome.csv"


@pytest.fixture
def plane(tmp_path: Path, cloud: FakeCloud) -> Iterator[DatabricksPlane]:
    served = DatabricksPlane(cloud, tmp_path / "sandbox").start()
    yield served
    served.stop()


@pytest.fixture
def section(azure_labtui: LabtuiRunner, cloud: FakeCloud, plane: DatabricksPlane,
            tmp_path: Path) -> LabtuiRunner:
    """`labtui --target azure --headless --section Infrastructure …` as ada, after `az login`."""
    azure_labtui.env.update({
        "LABTUI_AZURE_DATABRICKS_ENDPOINT": plane.url, "LABTUI_AZURE_CREDENTIAL": "cli",
        "PATH": f"{signed_in_user(cloud, tmp_path / 'bin')}:{path_without_az()}",
        "LABTUI_DATA_FILE": str(DATA_FILE), **{k: "" for k in SP_ENVIRON}})
    return azure_labtui


def _run(section: LabtuiRunner, *args: str) -> Ran:
    return section("--target", "azure", "--headless", "--section", "Infrastructure", *args,
                   timeout=900)


def _lines(ran: Ran, word: str) -> set[tuple[str, str]]:
    """The units whose final line says `word` ("done and verified", "nothing to do" …)."""
    found = re.findall(rf"^. ([a-z-]+) \(([a-z]+)\): {word}", ran.stderr, re.M)
    return set(found)


def _secrets_of(cloud: FakeCloud) -> list[str]:
    return [secret for app in cloud.graph.applications.values()
            for _, secret in app.passwords.values()]


def _assert_empty(cloud: FakeCloud) -> None:
    assert cloud.arm.groups == {}
    assert cloud.storage.accounts == {} and cloud.storage.datalake.accounts == {}
    assert cloud.keyvault.vaults == {} and cloud.keyvault.deleted == {}, "vaults purged"
    assert cloud.graph.applications == {} and cloud.graph.service_principals == {}
    assert cloud.authorization.assignments == {}
    assert cloud.ml.workspaces == {} and cloud.databricks.workspaces == {}


def _assert_ran(ran: Ran, cloud: FakeCloud) -> None:
    assert ran.code == 0, ran.output
    assert _lines(ran, "done and verified") == set(UNITS), ran.output
    assert "Traceback" not in ran.output
    for secret in [CLIENT_SECRET, *_secrets_of(cloud)]:
        assert secret not in ran.output
    # One of each, whatever the retries: two envs, and prod's group (and each Databricks
    # workspace's managed group).
    groups = [g for g in cloud.arm.groups.values() if g.managed_by is None]
    assert len(groups) == 3 and len(cloud.arm.groups) == 5
    assert len(cloud.storage.accounts) == 2 and len(cloud.keyvault.vaults) == 2
    assert len(cloud.graph.applications) == 2 and len(cloud.graph.service_principals) == 2
    assert len(cloud.authorization.assignments) == 2
    assert len(cloud.ml.workspaces) == 2 and len(cloud.databricks.workspaces) == 2


def test_the_section_runs_verifies_plans_nothing_and_rolls_back_to_nothing(
        section: LabtuiRunner, cloud: FakeCloud) -> None:
    ran = _run(section)
    _assert_ran(ran, cloud)
    assert ran.stderr.splitlines()[0].endswith("signed in as ada@contoso.com (with az login)")

    again = _run(section)
    assert _lines(again, "already done") == set(UNITS), again.output

    plan = _run(section, "--plan")
    assert plan.code == 0, plan.output
    assert _lines(plan, "nothing to do") == set(UNITS), plan.output

    back = _run(section, "--rollback")
    assert back.code == 0, back.output
    assert "Traceback" not in back.output
    _assert_empty(cloud)


def _same_role_under_another_name(cloud: FakeCloud, assigned: threading.Event) -> Fault:
    """Someone assigns the role the port is about to assign, under another name (the portal,
    an earlier try): Azure answers the port's PUT 409 RoleAssignmentExists. `assigned` is set
    then (the role now propagates)."""
    rx = re.compile(r"^(?P<scope>.+)/providers/Microsoft\.Authorization/roleAssignments/")

    def assign(request: Request) -> None:
        props = request.json()["properties"]
        match = rx.match(request.path)
        assert match is not None
        role = str(props["roleDefinitionId"]).rsplit("/", 1)[-1].lower()
        other = Assignment(str(uuid.uuid4()), match["scope"], role,
                           str(props["principalId"]).lower(), "ServicePrincipal", time.time())
        with cloud.authorization._lock:
            cloud.authorization.assignments[other.name] = other
        assigned.set()

    return Fault.meanwhile(assign)


def test_the_section_survives_the_faults_without_duplicates(
        section: LabtuiRunner, cloud: FakeCloud) -> None:
    arm, lake = cloud.server.faults, cloud.storage.datalake.server.faults
    assigned = threading.Event()
    arm.add("PUT", r"/resourcegroups/[^/]+$", Fault.throttle(retry_after=1), times=2)
    arm.add("PUT", r"/Microsoft\.KeyVault/vaults/", Fault.unavailable(), times=2)
    arm.add("POST", r"/v1\.0/applications$", Fault.unavailable(retry_after=1))
    arm.add("GET", r"/operationResults/", Fault.drop(), times=2)  # storage creation
    arm.add("GET", r"/operationStatuses/", Fault.drop(), times=2)  # ML and Databricks
    arm.add("PUT", r"/roleAssignments/", _same_role_under_another_name(cloud, assigned))
    # An upload right after the role was assigned: the data lake does not honour it yet.
    lake.add("PUT", r"/datalake/.", Fault.refuse(403, "AuthorizationPermissionMismatch",
                                                 gate=assigned))
    injected = arm.pending() + lake.pending()

    ran = _run(section)
    fired: list[Fired] = [*arm.fired, *lake.fired]
    kinds = Counter("409 RoleAssignmentExists" if f.fault.kind == "meanwhile" else
                    f"{f.fault.status} {f.fault.code}" if f.fault.kind == "status" else
                    f"connection dropped ({f.method} {f.path.rsplit('/', 2)[-2]})"
                    for f in fired)
    print(f"\nfaults injected: {injected}, met: {len(fired)}, survived: "
          f"{len(fired) if ran.code == 0 else 0} "
          f"({'; '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))})")
    assert arm.pending() == 0 and lake.pending() == 0, "every fault met a request"
    _assert_ran(ran, cloud)
    # The 403 was waited out: the step ran again and the file is there, once.
    assert re.search(r"\[upload-data \((dev|pipeline)\)\] .*access was refused while a new "
                     r"role assignment propagates.*trying again in", ran.stderr), ran.output
    for account in cloud.storage.datalake.accounts.values():
        uploaded = account.filesystems["datalake"].paths["AdultCensusIncome.csv"]
        assert uploaded.data == DATA_FILE.read_bytes(), "the lab's data, whole"
    principals = {a.principal_id for a in cloud.authorization.assignments.values()}
    assert len(principals) == 2, "one assignment each, the existing one taken"

    back = _run(section, "--rollback")
    assert back.code == 0, back.output
    _assert_empty(cloud)
