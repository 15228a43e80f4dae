"""The catalogue finds steps through entry points and refuses broken ones in one line."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from labtui.catalog import Catalog, CatalogError
from labtui.step import Check, Field, Step, StepContext, Verdict


def make_step(step_id: str, *, requires: tuple[str, ...] = (), section: str = "Infrastructure",
              inputs: tuple[Field, ...] = (), per_environment: bool = False) -> type[Step]:
    class Made(Step):
        id = step_id
        title = f"Step {step_id}"
        run_calls: ClassVar[int] = 0

        def run(self, ctx: StepContext) -> None:
            return None

        def verify(self, ctx: StepContext) -> Verdict:
            return Verdict.of(Check("ok", True))

    Made.requires = requires
    Made.section = section
    Made.inputs = inputs
    Made.per_environment = per_environment
    return Made


def test_orders_sections_in_lab_order_and_requires_first() -> None:
    later = make_step("train", section="Dev loop", requires=("vault",))
    vault = make_step("vault", requires=("groups",))
    groups = make_step("groups")
    catalog = Catalog([later, vault, groups])
    assert [step.id for step in catalog] == ["groups", "vault", "train"]
    assert [name for name, _ in catalog.sections()] == ["Infrastructure", "Dev loop"]


def test_a_declared_place_orders_a_section_before_module_and_line() -> None:
    # All made by one function, so of one module and one line: only their places differ.
    third, first, second = make_step("third"), make_step("first"), make_step("second")
    third.place, first.place, second.place = 3, 1, 2
    assert [step.id for step in Catalog([third, second, first])] == ["first", "second", "third"]
    unplaced = make_step("unplaced")
    assert [step.id for step in Catalog([third, unplaced])] == ["unplaced", "third"]


def test_per_environment_steps_expand_to_units_and_requirements_follow_env() -> None:
    groups = make_step("groups")
    vault = make_step("vault", requires=("groups",), per_environment=True)
    secrets = make_step("secrets", requires=("vault",), per_environment=True)
    catalog = Catalog([groups, vault, secrets])
    assert [u.label for u in catalog.units()] == [
        "groups", "vault (dev)", "vault (pipeline)", "secrets (dev)", "secrets (pipeline)"]
    assert [u.label for u in catalog.units(["secrets"], "pipeline")] == ["secrets (pipeline)"]
    pipeline_secrets = catalog.units(["secrets"], "pipeline")[0]
    assert [u.label for u in catalog.requirements(pipeline_secrets)] == ["vault (pipeline)"]
    assert [u.label for u in catalog.closure([pipeline_secrets])] == [
        "groups", "vault (pipeline)", "secrets (pipeline)"]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (lambda: [make_step("a"), make_step("a")], "step 'a': defined twice"),
        (lambda: [make_step("a", requires=("ghost",))], "step 'a': requires unknown step 'ghost'"),
        (lambda: [make_step("a", requires=("b",)), make_step("b", requires=("a",))],
         "requires form a cycle"),
        (lambda: [make_step("a", inputs=(Field("x", "X", kind="colour"),))],
         "step 'a' input 'x': unknown kind 'colour'"),
        (lambda: [make_step("a", inputs=(Field("n", "N", kind="azure-name", resource="boat"),))],
         "step 'a' input 'n': no naming rule for resource 'boat'"),
        (lambda: [make_step("Not_Kebab")], "id must be kebab-case"),
        (lambda: [dict], "not a labtui Step class"),
    ],
)
def test_broken_plugins_are_refused_in_one_line(steps: object, message: str) -> None:
    with pytest.raises(CatalogError) as raised:
        Catalog(steps())  # type: ignore[operator]
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_shared_input_declared_two_ways_is_refused() -> None:
    a = make_step("a", inputs=(Field("tenant-id", "Tenant", kind="guid"),))
    b = make_step("b", inputs=(Field("tenant-id", "Tenant", kind="text"),))
    with pytest.raises(CatalogError, match="'tenant-id': declared as text here but as guid"):
        Catalog([a, b])


def test_discovers_the_third_party_plugin_through_entry_points(demo_plugin: object) -> None:
    catalog = Catalog.discover()
    assert {"demo-files", "demo-per-env", "demo-canary"} <= {step.id for step in catalog}


def test_unknown_step_names_the_known_ones() -> None:
    catalog = Catalog([make_step("alpha")])
    with pytest.raises(CatalogError, match=r"unknown step 'beta' \(known: alpha\)"):
        catalog.get("beta")


def test_dependents_follow_requirements_transitively() -> None:
    groups = make_step("groups", per_environment=True)
    vault = make_step("vault", requires=("groups",), per_environment=True)
    secrets = make_step("secrets", requires=("vault",), per_environment=True)
    train = make_step("train", requires=("secrets",))
    catalog = Catalog([groups, vault, secrets, train])
    dev_groups = catalog.units(["groups"], "dev")[0]
    assert [u.label for u in catalog.dependents(dev_groups)] == [
        "vault (dev)", "secrets (dev)", "train"]


def test_a_shared_input_declared_per_environment_by_one_step_only_is_refused() -> None:
    a = make_step("a", inputs=(Field("vault", "Vault", per_environment=True),))
    b = make_step("b", inputs=(Field("vault", "Vault"),))
    with pytest.raises(CatalogError) as raised:
        Catalog([a, b])
    assert str(raised.value) == (
        "step 'b' input 'vault': declared shared here but per environment by step 'a'")


def test_a_step_of_one_environment_waits_for_a_required_step_of_another() -> None:
    """build-pipeline (pipeline) needs pull-request (dev): the merge comes first, whatever
    environment each runs in."""
    review = make_step("review")
    review.environment = "dev"
    build = make_step("build", requires=("review",))
    build.environment = "pipeline"
    catalog = Catalog([review, build])
    (unit,) = catalog.units(["build"])
    assert [(u.id, u.env) for u in catalog.requirements(unit)] == [("review", "dev")]
    assert [(u.id, u.env) for u in catalog.closure([unit])] == [
        ("review", "dev"), ("build", "pipeline")]


def test_every_lab_step_is_found_from_its_id_in_one_hop() -> None:
    """A newcomer with a step id (`build-image`) opens steps/<section>/<id with _>.py
    (steps/devloop/build_image.py) and finds the step's class, its guide beside it in
    guides/<id>.md, and the entry point naming that very module: one package per section,
    one module per step, in the lab's order."""
    import inspect
    from importlib.metadata import entry_points

    from tests.conftest import ROOT

    points = {point.name: point.value for point in entry_points(group="labtui.steps")
              if point.dist is not None and point.dist.name == "labtui"}
    lab = [type(step) for step in Catalog.discover() if step.id in points]
    assert [step.id for step in lab] == [
        "resource-groups", "ml-workspace", "data-lake", "key-vault", "databricks",
        "upload-data", "cli-profiles", "service-principal", "secret-scope", "secrets",
        "devops-project", "seed-repo", "git-integration",
        "train-model", "write-test", "build-image", "test-image",
        "pull-request", "variable-group", "build-pipeline", "release-pipeline",
    ]
    sections: dict[str, set[str]] = {}
    for step in lab:
        parts = step.__module__.split(".")
        assert len(parts) == 3 and parts[0] == "labtui_steps", step.__module__
        package, module = parts[1], parts[2]
        assert module == step.id.replace("-", "_"), step.__module__
        source = Path(inspect.getfile(step)).resolve()
        assert source == ROOT / "steps" / package / f"{module}.py", (step.id, source)
        assert points[step.id] == f"{step.__module__}:{step.__name__}"
        assert (source.parent / "guides" / f"{step.id}.md").is_file(), step.id
        assert step.guide().startswith("# "), f"{step.id}: its guide is the one beside it"
        sections.setdefault(package, set()).add(step.section)
    assert sections == {"infrastructure": {"Infrastructure"}, "devops": {"Azure DevOps"},
                        "devloop": {"Dev loop"}, "pipelines": {"Pipelines"}}
