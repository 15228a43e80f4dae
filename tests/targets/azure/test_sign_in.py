"""The azure target signs in (service principal, `az login`, device code) and reads who and
where before anything is made; every way it can go wrong is one line."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from labtui.targets.azure import AzureTarget
from labtui.targets.base import TargetError
from tests.fakes.azure.cloud import CLIENT_ID, CLIENT_SECRET, SUBSCRIPTION_ID, TENANT_ID, FakeCloud
from tests.fakes.azure.faults import Fault

from .conftest import SP_ENVIRON, fake_az, fake_options, open_target, path_without_az


def _one_line_error(target: AzureTarget) -> str:
    with pytest.raises(TargetError) as caught:
        target.check()
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_a_service_principal_from_the_environment_names_tenant_subscription_and_itself(
    tmp_path: Path, cloud: FakeCloud
) -> None:
    target = open_target(tmp_path, cloud)
    assert target.identity() == {
        "tenant": TENANT_ID,
        "subscription": f"Contoso Lab Subscription ({SUBSCRIPTION_ID})",
        "signed in as": f"service principal {CLIENT_ID}",
    }
    assert target.banner() == (
        f"azure: tenant {TENANT_ID} · subscription Contoso Lab Subscription ({SUBSCRIPTION_ID}) "
        f"· signed in as service principal {CLIENT_ID} (with a service principal "
        "(AZURE_CLIENT_ID))")
    target.check()  # read once, then kept
    assert cloud.server.count("GET", f"/subscriptions/{SUBSCRIPTION_ID}$") == 1
    assert cloud.entra.tokens_issued("https://management.azure.com") == 1


def test_a_wrong_subscription_is_named_with_the_tenant_and_nothing_is_made(
    tmp_path: Path, cloud: FakeCloud
) -> None:
    other = "11111111-2222-3333-4444-555555555555"
    target = open_target(tmp_path, cloud, **{"subscription-id": other})
    message = _one_line_error(target)
    assert message.startswith(f"subscription {other} (tenant {TENANT_ID}) was not found, or "
                              f"service principal {CLIENT_ID} cannot see it")
    assert "az account list" in message
    assert all(entry.method == "GET" or entry.method == "POST" for entry in cloud.server.log)
    assert cloud.arm.groups == {}


def test_a_disabled_subscription_is_refused(tmp_path: Path, cloud: FakeCloud) -> None:
    cloud.arm.subscription_state = "Disabled"
    message = _one_line_error(open_target(tmp_path, cloud))
    assert message == (f"subscription {SUBSCRIPTION_ID} (tenant {TENANT_ID}) is Disabled: "
                       "nothing can be created in it; choose another subscription-id")


def test_an_unreachable_resource_manager_is_one_line(tmp_path: Path, cloud: FakeCloud) -> None:
    cloud.server.faults.add("GET", f"/subscriptions/{SUBSCRIPTION_ID}$", Fault.drop(), times=10)
    message = _one_line_error(open_target(tmp_path, cloud))
    assert message.startswith(f"cannot reach Azure Resource Manager at {cloud.url} to read "
                              f"subscription {SUBSCRIPTION_ID} (tenant {TENANT_ID}): ")


def test_throttling_on_the_subscription_read_is_retried(tmp_path: Path, cloud: FakeCloud) -> None:
    cloud.server.faults.add("GET", f"/subscriptions/{SUBSCRIPTION_ID}$", Fault.throttle(0), 2)
    assert open_target(tmp_path, cloud).identity()["subscription"].startswith("Contoso Lab")
    assert len(cloud.server.faults.fired) == 2


def test_a_wrong_client_secret_stops_the_chain_without_showing_the_secret(
    tmp_path: Path, cloud: FakeCloud
) -> None:
    environ = {**SP_ENVIRON, "AZURE_CLIENT_SECRET": "not-the-secret-9Zq"}
    message = _one_line_error(open_target(tmp_path, cloud, environ))
    assert message.startswith(f"cannot sign in to tenant {TENANT_ID} with a service principal "
                              "(AZURE_CLIENT_ID): ")
    assert "AADSTS7000215" in message
    assert "not-the-secret-9Zq" not in message and CLIENT_SECRET not in message


def test_a_service_principal_of_another_tenant_is_refused(tmp_path: Path, cloud: FakeCloud) -> None:
    environ = {**SP_ENVIRON, "AZURE_TENANT_ID": "99999999-8888-7777-6666-555555555555"}
    message = _one_line_error(open_target(tmp_path, cloud, environ, **{
        "azure-credential": "environment"}))
    assert message == ("AZURE_TENANT_ID is 99999999-8888-7777-6666-555555555555, but tenant-id "
                       f"is {TENANT_ID}: make them the same tenant (or unset AZURE_TENANT_ID)")


def test_the_environment_credential_alone_says_which_variables_are_missing(
    tmp_path: Path, cloud: FakeCloud
) -> None:
    target = open_target(tmp_path, cloud, {"AZURE_CLIENT_ID": CLIENT_ID},
                         **{"azure-credential": "environment"})
    assert _one_line_error(target) == (
        f"cannot sign in to tenant {TENANT_ID}: a service principal (AZURE_CLIENT_ID): "
        "AZURE_CLIENT_SECRET is not set (set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET of a "
        "service principal, or choose another azure-credential)")


def test_the_az_login_cache_signs_in_as_the_user(
    tmp_path: Path, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = cloud.entra.mint("https://management.azure.com", upn="ada@contoso.com",
                             oid=cloud.entra.add_user("ada@contoso.com"))
    monkeypatch.setenv("PATH", f"{fake_az(tmp_path / 'bin', token)}:{path_without_az()}")
    target = open_target(tmp_path, cloud, {}, **{"azure-credential": "auto"})
    assert target.identity()["signed in as"] == "ada@contoso.com"
    assert target.banner().endswith("signed in as ada@contoso.com (with az login)")


def test_with_nothing_set_up_auto_names_each_way_and_what_to_do(
    tmp_path: Path, cloud: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_without_az())
    message = _one_line_error(open_target(tmp_path, cloud, {}))
    assert message.startswith(
        f"cannot sign in to tenant {TENANT_ID}: a service principal (AZURE_CLIENT_ID): "
        "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not set; az login: ")
    assert message.endswith(
        "a device code: no terminal or app to show the code in (run `az login --tenant "
        f"{TENANT_ID}`, set AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, or run in a terminal to "
        "sign in with a device code)")


def test_a_device_code_is_handed_to_the_front_end_which_shows_it(
    tmp_path: Path, cloud: FakeCloud
) -> None:
    shown: list[tuple[str, str, datetime]] = []

    def prompt(url: str, code: str, expires_on: datetime) -> None:
        shown.append((url, code, expires_on))
        cloud.entra.approve(code, "grace@contoso.com")  # the attendee signs in in a browser

    target = open_target(tmp_path, cloud, {}, **{"azure-credential": "device-code"})
    target.use_device_code_prompt(prompt)
    assert target.identity()["signed in as"] == "grace@contoso.com"
    [(url, code, expires_on)] = shown
    assert url == f"{cloud.url}/devicelogin" and len(code) == 9
    assert expires_on > datetime.now(expires_on.tzinfo)
    assert target.banner().endswith("(with a device code)")


def test_one_device_code_signs_in_to_every_service_the_lab_reaches(
    tmp_path: Path, cloud: FakeCloud
) -> None:
    """The attendee types one code: the tokens for Key Vault, Storage, Graph and Databricks
    come from the sign-in's refresh token, not from a new code per service."""
    shown: list[str] = []

    def prompt(url: str, code: str, expires_on: datetime) -> None:
        shown.append(code)
        cloud.entra.approve(code, "grace@contoso.com")

    target = open_target(tmp_path, cloud, {}, **{"azure-credential": "device-code"})
    target.use_device_code_prompt(prompt)
    target.check()
    for resource in ("https://vault.azure.net", "https://storage.azure.com",
                     target.endpoints.graph_scope.removesuffix("/.default"),
                     "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"):  # AzureDatabricks
        token = target.credential.get_token(f"{resource.rstrip('/')}/.default").token
        claims = cloud.entra.claims_of(token)
        assert claims is not None and claims["upn"] == "grace@contoso.com"
        assert claims["aud"] == resource.rstrip("/")
    assert len(shown) == 1, "one code for every service"


def test_where_a_front_end_holds_the_terminal_a_device_code_needs_its_prompt(
    tmp_path: Path, cloud: FakeCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    """stderr is captured here as the app captures it: a printed code would never be seen, so
    the sign-in says so at once instead of waiting for nobody (headless printing it on the
    real stderr is tested through the CLI in test_headless)."""
    target = open_target(tmp_path, cloud, {}, **{"azure-credential": "device-code"})
    assert _one_line_error(target) == (
        f"cannot sign in to tenant {TENANT_ID}: a device code: no terminal or app to show the "
        "code in (run in a terminal or the app, or choose another azure-credential)")
    assert cloud.entra.pending_user_codes() == []


@pytest.mark.parametrize(("option", "value", "problem"), [
    ("tenant-id", "contoso", "tenant-id: "),
    ("subscription-id", "0b1f6471", "subscription-id: "),
    ("azure-credential", "password", "azure-credential: one of auto, cli, environment, "
                                     "device-code"),
    ("azure-arm-endpoint", "http://127.0.0.1:1", "azure-arm-endpoint: must be an https:// URL"),
    ("azure-authority", "https://login.example/contoso", "azure-authority: must be the "
                                                          "endpoint's address only"),
])
def test_options_are_checked_by_rule(tmp_path: Path, cloud: FakeCloud, option: str, value: str,
                                     problem: str) -> None:
    target = AzureTarget(tmp_path / "ws", environ=SP_ENVIRON)
    with pytest.raises(TargetError) as caught:
        target.configure(fake_options(cloud, **{option: value}))
    assert str(caught.value).startswith(f"the azure target: {problem}")
    assert cloud.server.log == []  # checked by rule: nothing asked of the network


def test_a_ca_bundle_that_is_no_certificate_is_refused(tmp_path: Path, cloud: FakeCloud) -> None:
    (tmp_path / "not.pem").write_text("hello")
    target = AzureTarget(tmp_path / "ws", environ=SP_ENVIRON)
    with pytest.raises(TargetError, match=r"azure-ca-bundle: .*not\.pem holds no PEM certificate"):
        target.configure(fake_options(cloud, **{"azure-ca-bundle": str(tmp_path / "not.pem")}))


def test_without_the_ca_bundle_the_fakes_certificate_is_not_trusted(
    tmp_path: Path, cloud: FakeCloud
) -> None:
    options = fake_options(cloud)
    del options["azure-ca-bundle"]
    target = AzureTarget(tmp_path / "ws", environ=SP_ENVIRON)
    target.configure(options)
    assert "CERTIFICATE_VERIFY_FAILED" in _one_line_error(target)


def test_a_port_not_built_yet_is_a_one_line_target_error(tmp_path: Path, cloud: FakeCloud) -> None:
    with pytest.raises(TargetError, match=r"^the azure target's DevOps port is not "
                                          r"implemented yet$"):
        _ = open_target(tmp_path, cloud).devops
