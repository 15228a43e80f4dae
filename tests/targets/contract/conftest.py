"""Opens every installed target that runs without an account, for the port contract tests.

A target runs without an account when none of its options is required without a default (the
local one), or when the tests carry fakes of its cloud (the azure one, on the loopback fakes
of `tests/fakes/azure`). A new target with required options must be added to `OPENERS`.

A test names the ports it exercises with `@pytest.mark.ports(...)` (attribute names of
`Target`: "resource_groups", "vault" …; asking for the `group` fixture adds
"resource_groups"); a test without the mark needs every port. A target that does not offer a
port yet is listed in `NOT_YET`: its pairs with the tests needing that port are deselected at
collection (pytest's "N deselected" counts them; they are neither run nor skipped), and
`test_ports_not_yet_offered_say_so` checks each listed port really answers "not implemented
yet" — so a port that gets implemented must leave the list and meet the contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labtui.targets import installed, target_class
from labtui.targets.base import Target

ALL_PORTS = frozenset({
    "resource_groups", "datalake", "vault", "principals", "databricks", "models",
    "containers", "devops", "pull_requests", "variable_groups", "pipelines", "environments",
    "workstation",
})

NOT_YET: dict[str, frozenset[str]] = {
    "azure": frozenset({
        "devops",
        "containers", "pull_requests", "variable_groups", "pipelines", "environments",
    }),
}
"""Ports each target does not offer yet (every other port of it meets the contract)."""

ELSEWHERE: dict[str, frozenset[str]] = {
    "azure": frozenset({"datalake", "databricks"}),
}
"""Ports a target offers whose contract tests its own test module runs, on endpoints its
fakes serve (the azure data lake and Databricks: `tests/targets/azure/test_datalake.py`,
`test_databricks.py` call this suite's tests with the fakes' DFS endpoint and workspace)."""


def _open_defaults(name: str, workspace: Path) -> tuple[Target, Callable[[], None]]:
    opened = target_class(name)(workspace)
    opened.configure({})
    return opened, lambda: None


def _open_azure_on_fakes(name: str, workspace: Path) -> tuple[Target, Callable[[], None]]:
    from azure.ai.ml.constants._common import LROConfigurations

    from tests.fakes.azure.cloud import FakeCloud
    from tests.targets.azure.conftest import open_target

    folder = workspace.parent / "fake-azure"
    folder.mkdir(parents=True, exist_ok=True)
    cloud = FakeCloud.start(folder)
    # azure-ai-ml sleeps 5 s between its checks of a template deployment, whatever ARM says.
    sleep = LROConfigurations.SLEEP_TIME
    LROConfigurations.SLEEP_TIME = 0.05

    def stop() -> None:
        LROConfigurations.SLEEP_TIME = sleep
        cloud.stop()

    return open_target(workspace.parent, cloud), stop


OPENERS: dict[str, Callable[[str, Path], tuple[Target, Callable[[], None]]]] = {
    "azure": _open_azure_on_fakes,
}
"""How to open a target whose options have no defaults, without an account."""


def _offline_targets() -> list[str]:
    names = []
    for name in installed():
        options = target_class(name).options
        if name in OPENERS or all(not option.required or option.default is not None
                                  for option in options):
            names.append(name)
    return names


OFFLINE_TARGETS = _offline_targets()


def offers(name: str, ports: frozenset[str]) -> bool:
    return not (ports & (NOT_YET.get(name, frozenset()) | ELSEWHERE.get(name, frozenset())))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ports(*names): the target ports a contract test uses")


def _ports_of(item: pytest.Item) -> frozenset[str]:
    marks = list(item.iter_markers("ports"))
    if not marks:
        return ALL_PORTS
    needed = {str(port) for mark in marks for port in mark.args}
    if "group" in getattr(item, "fixturenames", ()):
        needed.add("resource_groups")
    unknown = needed - ALL_PORTS - {"subscription"}
    assert not unknown, f"{item.nodeid} names unknown ports {sorted(unknown)}"
    return frozenset(needed)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("target") if callspec is not None else None
        inside = here in Path(str(item.path)).parents
        if inside and isinstance(name, str) and not offers(name, _ports_of(item)):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(params=OFFLINE_TARGETS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A configured target of each kind, on a workspace of its own."""
    opener = OPENERS.get(request.param, _open_defaults)
    opened, stop = opener(request.param, tmp_path / "ws")
    try:
        yield opened
    finally:
        opened.close()
        stop()


@pytest.fixture
def group(target: Target) -> str:
    return target.resource_groups.create("lab-contract-dev", "eastus").name
