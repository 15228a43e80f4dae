"""Values resolve in the documented order and are validated with the rule named."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.state import Workspace
from labtui.step import Field
from labtui.validation import validate_value
from labtui.values import Resolver, ValuesError, load_answers, parse_set_args

PREFIX = Field("prefix", "Prefix", kind="azure-name", resource="prefix")
TENANT = Field("tenant-id", "Tenant ID", kind="guid")
TOKEN = Field("databricks-token", "Databricks token", kind="secret", secret=True)
VAULT = Field("vault-name", "Vault", kind="azure-name", resource="key-vault",
              derive=lambda v, env: f"{v['prefix']}-kv-{env}")
FIELDS = {f.name: f for f in (PREFIX, TENANT, TOKEN, VAULT)}
GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def test_resolution_order(tmp_path: Path) -> None:
    answers_path = tmp_path / "a.toml"
    answers_path.write_text('prefix = "fromfile"\n[env.pipeline]\nprefix = "pipefile"\n')
    answers = load_answers(answers_path, FIELDS)
    with Workspace(tmp_path / "ws") as workspace:
        workspace.set_value("prefix", None, "fromws", secret=False)
        workspace.set_value("tenant-id", None, GUID, secret=False)

        def resolve(set_args: dict[str, str], environ: dict[str, str], env: str) -> str:
            resolver = Resolver(FIELDS, set_args=set_args, environ=environ, answers=answers,
                                workspace=workspace)
            return resolver.resolve(env).values["prefix"]

        assert resolve({"prefix": "fromset"}, {"LABTUI_PREFIX": "fromenv"}, "dev") == "fromset"
        assert resolve({}, {"LABTUI_PREFIX": "fromenv"}, "dev") == "fromenv"
        assert resolve({}, {}, "dev") == "fromfile"
        assert resolve({}, {}, "pipeline") == "pipefile"
        resolver = Resolver(FIELDS, environ={}, workspace=workspace)
        resolved = resolver.resolve("dev")
        assert resolved.values["prefix"] == "fromws"
        assert resolved.values["vault-name"] == "fromws-kv-dev"
        assert resolved.origins["vault-name"] == "derived"


def test_secret_values_are_refused_on_argv() -> None:
    with pytest.raises(ValuesError) as raised:
        parse_set_args(["databricks-token=dapi1234567"], FIELDS)
    assert "LABTUI_DATABRICKS_TOKEN" in str(raised.value)
    assert "dapi1234567" not in str(raised.value)


def test_remembered_secrets_are_encrypted_at_rest(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as workspace:
        resolver = Resolver(FIELDS, environ={"LABTUI_DATABRICKS_TOKEN": "dapiSECRET42"},
                            workspace=workspace)
        resolver.remember()
        assert workspace.get_value("databricks-token", None) == "dapiSECRET42"
    assert b"dapiSECRET42" not in (tmp_path / "ws" / "state.db").read_bytes()


def test_problems_name_each_field_and_rule() -> None:
    resolver = Resolver(FIELDS, set_args={"prefix": "Bad_Prefix", "tenant-id": "nope"},
                        environ={})
    problems = resolver.problems(FIELDS.values(), "dev")
    assert any(p.startswith("prefix: 3-11 lowercase letters") for p in problems)
    assert any(p.startswith("tenant-id: a GUID") for p in problems)
    assert any("missing value 'databricks-token'" in p for p in problems)


def test_a_value_derived_from_a_missing_one_is_reported_as_that_one() -> None:
    resolver = Resolver(FIELDS, environ={})
    problems = resolver.problems([VAULT, PREFIX], "dev") + resolver.problems([VAULT], "pipeline")
    missing = [p for p in problems if p.startswith("missing value")]
    assert len(missing) == 2  # once per call: the vault name is never named, the prefix is
    assert all(p.startswith("missing value 'prefix'") and "--set prefix=" in p for p in missing)
    assert Resolver(FIELDS, set_args={"prefix": "contoso7"}, environ={}).problems(
        [VAULT], "dev") == []


@pytest.mark.parametrize(
    ("resource", "value", "problem"),
    [
        ("storage-account", "contoso7dl", None),
        ("storage-account", "Contoso7dl", "3-24 lowercase letters and digits"),
        ("storage-account", "a" * 25, "(got 25 characters)"),
        ("storage-account", "ab", "(got 2 characters)"),
        ("key-vault", "contoso7-kv-dev", None),
        ("key-vault", "7contoso-kv", "starting with a letter"),
        ("key-vault", "contoso--kv", "no two hyphens in a row"),
        ("key-vault", "a" * 25, "(got 25 characters)"),
        ("resource-group", "contoso7-db-dev", None),
        ("resource-group", "rg.(x)_y", None),
        ("resource-group", "ends.", "must not end in a period"),
        ("resource-group", "a" * 91, "(got 91 characters)"),
        ("resource-group", "bad name", "1-90 letters"),
        ("location", "westeurope", None),
        ("location", "mars", "'mars' is not an Azure region name (like eastus or westeurope"),
        ("location", "eastus3", "'eastus3' is not an Azure region name"),
        ("location", "East US", "an Azure region name like eastus"),
    ],
)
def test_azure_naming_rules(resource: str, value: str, problem: str | None) -> None:
    found = validate_value("azure-name", value, resource=resource)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    ("kind", "value", "ok"),
    [("guid", GUID, True), ("guid", "72f988bf-86f1-41af-91ab", False),
     ("url", "https://dev.azure.com/contoso", True), ("url", "dev.azure.com", False),
     ("int", "12", True), ("int", "1.5", False), ("bool", "yes", True), ("bool", "maybe", False),
     ("secret", "", False), ("path", "~/data.csv", True)],
)
def test_kinds(kind: str, value: str, ok: bool) -> None:
    assert (validate_value(kind, value) is None) is ok


def test_the_resolver_keeps_a_typed_value_in_the_scope_its_field_declares(
        tmp_path: Path) -> None:
    vault = Field("key-vault", "Vault", per_environment=True)
    prefix = Field("prefix", "Prefix")
    with Workspace(tmp_path / "ws") as workspace:
        resolver = Resolver({f.name: f for f in (vault, prefix)}, workspace=workspace)
        resolver.save(vault, "dev", "kv-dev")
        resolver.save(prefix, "dev", "contoso7")
        assert resolver.resolve("dev").values == {"key-vault": "kv-dev", "prefix": "contoso7"}
        assert resolver.resolve("pipeline").values == {"prefix": "contoso7"}, "dev's own"
        workspace.set_value("prefix", "pipeline", "old", secret=False)
        resolver.save(prefix, "dev", "contoso8")
        assert resolver.resolve("pipeline").values["prefix"] == "contoso8", "shared replaces"
        assert resolver.forget(vault, "dev") == ["dev"]
        assert resolver.forget(prefix, None) == [None, "dev", "pipeline"]
        assert resolver.resolve("dev").values == {}
