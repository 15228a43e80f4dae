"""A full disk and a failing one are said as what they are, in one line, not as a bug."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.faults import describe_os_error
from tests.conftest import LAB_DATA, LabtuiRunner, labtui_env, require, require_lab_data

ANSWERS = ('prefix = "contoso7"\n'
           'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
           'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n')


def _lab(tmp_path: Path, workspace: Path) -> LabtuiRunner:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return LabtuiRunner(workspace, labtui_env(
        HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"), COLUMNS="200"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB file system (tmpfs): the lab's 3.8 MB data set does not fit on it."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    require(mounted.returncode == 0, f"cannot mount a small tmpfs: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_is_said_in_one_line(tmp_path: Path, small_disk: Path) -> None:
    require_lab_data()
    lab = _lab(tmp_path, small_disk / "ws")
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS + f'data-file = "{LAB_DATA}"\n')
    ran = lab("--step", "upload-data", "--env", "dev", "--with-requires", "--headless",
              "--values", str(answers))
    assert ran.code == 1, ran.output
    failed = [line for line in ran.output.splitlines() if "upload-data (dev)" in line
              and "no space" in line]
    assert failed, ran.output
    assert "no space is left on the disk (ENOSPC); free some space, then run the step again" \
        in failed[0]
    assert "unexpected" not in ran.output and "Traceback" not in ran.output


def test_an_io_error_on_the_data_file_is_said_in_one_line(tmp_path: Path) -> None:
    # Reading /proc/self/mem from its start fails with a real EIO from the kernel. The data
    # file is checked when it is given, so this is bad input: one line, exit 2, nothing made.
    lab = _lab(tmp_path, tmp_path / "ws")
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS + 'data-file = "/proc/self/mem"\n')
    ran = lab("--step", "upload-data", "--env", "dev", "--with-requires", "--headless",
              "--values", str(answers))
    assert ran.code == 2, ran.output
    assert ran.stderr == ("labtui: data-file: cannot read /proc/self/mem (Input/output error) "
                          "(from answers.toml)\n"), ran.output
    assert not (tmp_path / "ws").exists()


def test_the_description_names_the_file_the_error_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(OSError) as full, open("/dev/full", "w") as device:
        device.write("x")
        device.flush()
    assert describe_os_error(full.value) == (
        "no space is left on the disk (ENOSPC); free some space, then run the step again")
    with pytest.raises(OSError) as missing:
        (tmp_path / "nowhere" / "file").read_text()
    assert describe_os_error(missing.value) == (
        f"{tmp_path / 'nowhere' / 'file'}: it does not exist (ENOENT); check the path")
    odd = OSError(errno_value := 110, os.strerror(errno_value))
    assert describe_os_error(odd) == (
        "connection timed out (ETIMEDOUT); run the step again once it is fixed")
