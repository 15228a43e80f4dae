"""The Azure SDKs are an optional extra: the command line's help must not load any of them."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT

EXTRA = ("azure.mgmt", "azure.storage", "azure.keyvault", "azure.identity", "msal", "trustme")


def test_labtui_help_imports_no_azure_sdk() -> None:
    code = (
        "import sys\n"
        "from labtui.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', sorted({{m for m in sys.modules if m.startswith({EXTRA!r})}}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "usage" in done.stdout.lower()
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"


def test_the_azure_extra_is_declared_and_the_test_extra_pulls_it_in() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = {re.split(r"[<>=!~ ]", d)[0] for d in extras["azure"]}
    assert names == {
        "azure-mgmt-resource", "azure-mgmt-storage", "azure-storage-file-datalake",
        "azure-mgmt-keyvault", "azure-keyvault-secrets", "azure-mgmt-authorization",
        "azure-mgmt-databricks", "azure-ai-ml",
        "opentelemetry-sdk",  # one release left out: pip 23 cannot resolve a fresh install
    }
    assert "azure-keyvault-secrets>=4.12" in extras["azure"]
    assert "labtui[azure]" in extras["test"]
