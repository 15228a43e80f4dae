"""ResourceRef: the ARM resource id both ways, and equality as Azure compares ids."""

from __future__ import annotations

import pytest

from labtui.targets.resources import KEY_VAULTS, MalformedResourceId, ResourceRef

SUB = "9f3c2a1e-0b7d-4c55-8e21-6a4d0c9b7e10"


def test_the_id_is_the_arm_resource_id_and_parses_back() -> None:
    ref = ResourceRef(SUB, "contoso7-db-dev", KEY_VAULTS, "contoso7-kv-dev")
    assert ref.id == (f"/subscriptions/{SUB}/resourceGroups/contoso7-db-dev/providers/"
                      "Microsoft.KeyVault/vaults/contoso7-kv-dev")
    assert ref.group_id == f"/subscriptions/{SUB}/resourceGroups/contoso7-db-dev"
    assert ResourceRef.parse(ref.id) == ref
    assert ResourceRef.parse(ref.id + "/").name == "contoso7-kv-dev"
    assert str(ref) == ref.id


def test_refs_compare_as_azure_compares_ids() -> None:
    ref = ResourceRef(SUB, "contoso7-db-dev", KEY_VAULTS, "contoso7-kv-dev")
    loud = ResourceRef.parse(ref.id.upper())
    assert loud == ref and hash(loud) == hash(ref) and {ref, loud} == {ref}
    assert loud.name == "CONTOSO7-KV-DEV", "each keeps the spelling it was given"
    assert ResourceRef(SUB, "contoso7-db-pipeline", KEY_VAULTS, "contoso7-kv-dev") != ref
    assert ResourceRef(SUB.replace("9", "8"), "contoso7-db-dev", KEY_VAULTS,
                       "contoso7-kv-dev") != ref
    assert ResourceRef(SUB, "contoso7-db-dev", "Microsoft.Storage/storageAccounts",
                       "contoso7-kv-dev") != ref


@pytest.mark.parametrize("text", [
    "contoso7-kv-dev",
    f"/subscriptions/{SUB}/resourceGroups/contoso7-db-dev",
    f"/subscriptions/{SUB}/resourceGroups/contoso7-db-dev/providers/Microsoft.KeyVault/vaults",
    f"/subscriptions/{SUB}/resourceGroups//providers/Microsoft.KeyVault/vaults/kv",
    f"/subscription/{SUB}/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv",
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv/secrets/x\nmore",
])
def test_a_malformed_id_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(MalformedResourceId) as refused:
        ResourceRef.parse(text)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("not a resource id: ")
    assert "/subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/" in message
