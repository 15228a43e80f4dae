"""The azure target is registered, and loading it imports no Azure SDK: `labtui --help` and
`labtui list` (even with --target azure) stay fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from labtui.targets import installed, target_class
from labtui.targets.azure import AzureTarget
from tests.conftest import ROOT

SDKS = ("azure", "msal", "databricks", "marshmallow")


def _loaded_after(argv: list[str]) -> tuple[list[str], bool]:
    """The SDK packages loaded after `labtui ARGV`, and whether the target module was."""
    code = (
        "import sys\n"
        "from labtui.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', sorted({{m.split('.')[0] + '.' + (m.split('.') + [''])[1] "
        f"for m in sys.modules if m.split('.')[0] in {SDKS!r}}}))\n"
        "print('TARGET', 'labtui.targets.azure' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    *_, loaded, target = done.stdout.strip().splitlines()
    return loaded.removeprefix("LOADED ").strip("[]").split(", "), target == "TARGET True"


def test_the_azure_target_is_installed_under_its_name() -> None:
    assert "azure" in installed()
    assert target_class("azure") is AzureTarget


def test_help_and_list_import_no_azure_sdk(tmp_path: Path) -> None:
    assert _loaded_after(["--help"]) == ([""], False)
    ws = str(tmp_path / "ws")
    assert _loaded_after(["list", "--target", "azure", "--workspace", ws]) == ([""], False)
    # A run loads the target's class for its options and configures it: still no SDK until
    # it signs in (here a missing tenant-id stops it first).
    run = ["--step", "resource-groups", "--headless", "--target", "azure", "--workspace", ws]
    assert _loaded_after(run) == ([""], True)
