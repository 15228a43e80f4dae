"""Loading a target checks its plugin keeps the contract, and says in one line what is wrong."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from labtui.targets import installed, target_class
from labtui.targets.base import TargetError

MODULE = '''
from labtui.step import Field
from labtui.targets.base import Target


class Good(Target):
    name = "good"
    options = (Field("good-zone", "Zone", required=False),)

    def identity(self):
        return {"target": "good"}


class Misnamed(Good):
    name = "something-else"


class Twice(Good):
    name = "twice"
    options = (Field("zone", "Zone"), Field("zone", "Zone again"))


class NotATarget:
    name = "plain"
'''


def install(site: Path, entries: dict[str, str], dist: str = "labtui-fake-targets") -> None:
    """A distribution as pip leaves it: a module and a dist-info with its entry points."""
    (site / "fake_targets.py").write_text(MODULE)
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{name} = {value}" for name, value in entries.items())
    (info / "entry_points.txt").write_text(f"[labtui.targets]\n{lines}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_targets", raising=False)
    return tmp_path


def test_a_well_made_target_is_listed_and_loaded(site: Path) -> None:
    install(site, {"good": "fake_targets:Good"})
    assert installed() == ["azure", "good", "local"]
    assert [option.name for option in target_class("good").options] == ["good-zone"]


@pytest.mark.parametrize(("entry", "value", "message"), [
    ("something", "fake_targets:Misnamed",
     "target 'something': entry point names fake_targets:Misnamed, whose name is "
     "'something-else'"),
    ("plain", "fake_targets:NotATarget",
     "target 'plain': fake_targets:NotATarget is not a subclass of labtui.targets.base.Target"),
    ("twice", "fake_targets:Twice", "target 'twice': option 'zone' is declared twice"),
    ("gone", "fake_targets:Missing",
     "target 'gone' (fake_targets:Missing) cannot be loaded: AttributeError: module "
     "'fake_targets' has no attribute 'Missing'"),
])
def test_a_broken_target_is_named_with_its_problem(site: Path, entry: str, value: str,
                                                    message: str) -> None:
    install(site, {entry: value})
    with pytest.raises(TargetError) as broken:
        target_class(entry)
    assert str(broken.value) == message


def test_a_name_registered_by_two_distributions_is_refused(site: Path) -> None:
    install(site, {"local": "fake_targets:Good"}, dist="labtui-impostor")
    with pytest.raises(TargetError, match="target 'local' is registered twice"):
        target_class("local")
