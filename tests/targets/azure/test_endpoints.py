"""Which token scope and authority settings the azure target uses for each cloud."""

from __future__ import annotations

from labtui.targets.azure.endpoints import Endpoints


def test_the_public_cloud_is_the_default_and_keeps_instance_discovery() -> None:
    public = Endpoints.from_settings({})
    assert public.arm_scope == "https://management.azure.com/.default"
    assert "disable_instance_discovery" not in public.credential_kwargs()


def test_a_sovereign_cloud_asks_for_its_own_management_audience() -> None:
    gov = Endpoints.from_settings({"azure-arm-endpoint": "https://management.usgovcloudapi.net/",
                                   "azure-authority": "https://login.microsoftonline.us"})
    assert gov.arm_scope == "https://management.usgovcloudapi.net/.default"
    assert gov.credential_kwargs()["disable_instance_discovery"] is True


def test_a_loopback_resource_manager_takes_the_public_audience() -> None:
    fake = Endpoints.from_settings({"azure-arm-endpoint": "https://127.0.0.1:4443"})
    assert fake.arm == "https://127.0.0.1:4443"
    assert fake.arm_scope == "https://management.azure.com/.default"
