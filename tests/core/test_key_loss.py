"""A lost or replaced secret.key: no new key over sealed values, the value named, and every
command that does not need it (rollback, list) goes on."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet

from tests.conftest import LabtuiRunner

SECRET = "canary-Zq81-secret"


def _lab_with_a_sealed_secret(labtui: LabtuiRunner, files: Path) -> None:
    ran = labtui("--step", "demo-canary", "--headless",
                 extra_env={"LABTUI_DEMO_SECRET": SECRET})
    assert ran.code == 0, ran.output
    ran = labtui("--step", "demo-files", "--headless", "--set", f"demo-dir={files}")
    assert ran.code == 0, ran.output


def test_a_missing_key_is_not_replaced_and_the_value_is_named(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    _lab_with_a_sealed_secret(labtui, tmp_path / "files")
    key = labtui.workspace / "secret.key"
    key.unlink()

    ran = labtui("--step", "demo-canary", "--headless")
    assert ran.code == 2
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert "missing value 'demo-secret'" in lines[0]
    assert "cannot be decrypted" in lines[0] and "secret.key is missing" in lines[0]
    assert "changed" not in lines[0]
    assert not key.exists(), "no key is made while values sealed with the old one are stored"

    listed = labtui("list")
    assert listed.code == 0, listed.output


def test_rollback_goes_on_without_the_key(labtui: LabtuiRunner, tmp_path: Path) -> None:
    files = tmp_path / "files"
    _lab_with_a_sealed_secret(labtui, files)
    (labtui.workspace / "secret.key").unlink()

    ran = labtui("--step", "demo-files", "--headless", "--rollback")
    assert ran.code == 0, ran.output
    assert "removed 3 resources" in ran.output
    assert not list(files.iterdir())
    assert not (labtui.workspace / "secret.key").exists()


def test_a_replaced_key_names_the_value_it_cannot_open(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    _lab_with_a_sealed_secret(labtui, tmp_path / "files")
    (labtui.workspace / "secret.key").write_bytes(Fernet.generate_key())

    ran = labtui("--step", "demo-canary", "--headless")
    assert ran.code == 2
    assert "missing value 'demo-secret'" in ran.stderr
    assert "not the key that sealed it" in ran.stderr
    assert "Traceback" not in ran.output
    rolled = labtui("--step", "demo-files", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output


def test_giving_the_lost_values_again_gets_past_the_lost_key(
        labtui: LabtuiRunner, tmp_path: Path) -> None:
    _lab_with_a_sealed_secret(labtui, tmp_path / "files")
    key = labtui.workspace / "secret.key"
    key.unlink()

    # Two values need the old key (the input and the step's secret output): giving one again
    # would seal it with a new key beside one the new key can never open.
    again = labtui("--step", "demo-canary", "--headless", "--force",
                   extra_env={"LABTUI_DEMO_SECRET": "new-canary-7731"})
    assert again.code == 2
    assert "output echo of demo-canary" in again.stderr and "demo-secret" in again.stderr
    assert "labtui recover --forget-secrets" in again.stderr
    assert not key.exists()

    forgot = labtui("recover", "--forget-secrets")
    assert forgot.code == 0, forgot.output
    assert "demo-secret" in forgot.stderr and "output echo of demo-canary" in forgot.stderr

    again = labtui("--step", "demo-canary", "--headless", "--force",
                   extra_env={"LABTUI_DEMO_SECRET": "new-canary-7731"})
    assert again.code == 0, again.output
    assert key.exists() and "new-canary-7731" not in again.output
