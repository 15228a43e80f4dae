"""Bad input on the command line: each gets a one-line error naming the value and its rule,
exit code 2, and leaves the workspace exactly as it was (a fresh one is not even created).

The counts the issue asks for come from `BAD_INPUTS`: every case is run on a fresh workspace
path and on a workspace that already holds values.
"""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import LabtuiRunner

ANSWERS = {
    "not-toml": ("prefix = \n", "is not valid TOML"),
    "unknown-key": ('prefix = "contoso7"\ncolour = "blue"\n', "unknown input 'colour'"),
    "unknown-env": ('prefix = "contoso7"\n[env.prod2]\ncreated-by = "x"\n',
                    "[env.prod2] is not an environment"),
    "bad-value-in-env-table": ('[env.pipeline]\ncreated-by = "pipe\\nline"\n',
                               "created-by: no control characters or line breaks (got a line "
                               "break at position 5) (from bad-value-in-env-table.toml "
                               "[env.pipeline])"),
    "profile-forging-a-line": ('databricks-profile = "p\\n[DEFAULT]"\n',
                               "databricks-profile: no control characters or line breaks"),
}

BAD_INPUTS: list[tuple[str, list[str], dict[str, str], str]] = [
    # (case, arguments, environment, what the one line must say)
    ("image name with a space", ["--step", "build-image", "--set", "image-name=a b"], {},
     "image-name: an image name without a tag"),
    ("image name in capitals", ["--step", "build-image", "--set", "image-name=Contoso"], {},
     "image-name: an image name without a tag"),
    ("image name too long", ["--step", "build-image", "--set", "image-name=" + "a" * 201], {},
     "(got 201 characters)"),
    ("base image with a space", ["--step", "build-image", "--set", "base-image=python 3.11"],
     {}, "base-image: an image reference"),
    ("cluster name with a newline", ["--step", "databricks", "--set", "cluster-name=x\ny"], {},
     "cluster-name: no control characters or line breaks (got a line break at position 2)"),
    ("cluster name too long", ["--step", "databricks", "--set", "cluster-name=" + "c" * 101],
     {}, "cluster-name: 1-100 letters"),
    ("created-by with an escape code", ["--step", "train-model", "--set",
                                        "created-by=ada\x1b[31m"], {},
     "created-by: no control characters"),
    ("created-by with a slash", ["--step", "train-model", "--set", "created-by=a/b"], {},
     "created-by: 1-64 letters"),
    ("model name with spaces", ["--step", "train-model", "--set", "model-name=worst one!"],
     {}, "model-name: 1-255 letters"),
    ("profile forging an INI section", ["--step", "cli-profiles", "--set",
                                        "databricks-profile=p\n[DEFAULT"], {},
     "databricks-profile: no control characters or line breaks"),
    ("profile by environment variable", ["--step", "cli-profiles"],
     {"LABTUI_DATABRICKS_PROFILE": "p]x"}, "databricks-profile: 1-64 letters"),
    ("token larger than Key Vault takes", ["--step", "cli-profiles"],
     {"LABTUI_DATABRICKS_TOKEN": "d" * 30000}, "at most 25 KB"),
    ("token with a newline", ["--step", "cli-profiles"],
     {"LABTUI_DATABRICKS_TOKEN": "dapi0123\n4567"}, "databricks-token: no control characters"),
    ("service principal with a tab", ["--step", "service-principal", "--set",
                                      "service-principal=sp\tx"], {},
     "service-principal: no control characters"),
    ("compute name starting with a digit", ["--step", "secrets", "--set",
                                            "compute-name=1abc"], {}, "compute-name: 2-16"),
    ("prefix with capitals", ["--step", "resource-groups", "--set", "prefix=BAD!"], {},
     "prefix: 3-11 lowercase"),
    ("tenant that is not a GUID", ["--step", "service-principal", "--set", "tenant-id=nope"],
     {}, "tenant-id: a GUID"),
    ("organization that is not a URL", ["--step", "devops-project", "--set",
                                        "devops-organization=ftp:/x"], {},
     "devops-organization: an http(s) URL"),
    ("branch with two dots", ["--step", "git-integration", "--set", "branch=a..b"], {},
     "branch: no '..'"),
    ("CA bundle path with a newline", ["--step", "build-image", "--set",
                                       "ca-bundle=/etc/ssl/x\n"], {},
     "ca-bundle: no control characters"),
    ("empty required value", ["--step", "train-model", "--set", "created-by="], {},
     "created-by: must not be empty"),
    ("unknown input", ["--step", "build-image", "--set", "colour=blue"], {},
     "--set colour: unknown input"),
    ("secret on the command line", ["--step", "cli-profiles", "--set",
                                    "databricks-token=dapi1"], {},
     "secret values are not accepted on the command line"),
    ("negative latency", ["--step", "resource-groups"], {"LABTUI_LOCAL_LATENCY": "-1"},
     "LABTUI_LOCAL_LATENCY=-1: the local target's latency"),
    ("latency that is not a number", ["--step", "resource-groups"],
     {"LABTUI_LOCAL_LATENCY": "soon"}, "LABTUI_LOCAL_LATENCY='soon' is not a number"),
    ("unknown environment", ["--step", "resource-groups", "--env", "qa"], {}, "--env qa"),
    ("missing answers file", ["--step", "resource-groups", "--values", "/nonexistent.toml"],
     {}, "answers file /nonexistent.toml does not exist"),
    *[(f"answers file: {name}", ["--step", "resource-groups", "--values", f"@{name}"], {},
       says) for name, (_, says) in ANSWERS.items()],
]


def _state(workspace: Path) -> str:
    """Everything a workspace holds, as one fingerprint (the lock file's holder aside)."""
    if not workspace.exists():
        return "absent"
    digest = hashlib.sha256()
    for path in sorted(workspace.rglob("*")):
        if path.is_file() and path.name != "labtui.lock" and not path.name.endswith(
                ("-wal", "-shm")):
            digest.update(str(path.relative_to(workspace)).encode())
            if path.suffix == ".db":
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                    digest.update("\n".join(db.iterdump()).encode())
            else:
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _run_bad(labtui: LabtuiRunner, tmp_path: Path, args: list[str], env: dict[str, str]
             ) -> tuple[int, list[str]]:
    args = [str(tmp_path / a[1:]) + ".toml" if a.startswith("@") else a for a in args]
    ran = labtui(*args, "--headless", extra_env=env)
    return ran.code, ran.stderr.strip().splitlines()


@pytest.fixture
def answers_files(tmp_path: Path) -> None:
    for name, (text, _) in ANSWERS.items():
        (tmp_path / f"{name}.toml").write_text(text)


@pytest.mark.usefixtures("answers_files")
@pytest.mark.parametrize(("case", "args", "env", "says"), BAD_INPUTS,
                         ids=[case for case, *_ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
        labtui: LabtuiRunner, tmp_path: Path, case: str, args: list[str],
        env: dict[str, str], says: str) -> None:
    code, lines = _run_bad(labtui, tmp_path, args, env)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("labtui: ") and says in lines[0], lines
    assert "\x1b" not in lines[0] and "d" * 100 not in lines[0], "the value is not echoed"
    assert not labtui.workspace.exists(), "a fresh workspace is not even created"

    # The same on a workspace that already holds values: nothing in it changes.
    made = labtui("--step", "resource-groups", "--headless", "--plan",
                  "--set", "prefix=contoso7")
    assert made.code == 0, made.output
    before = _state(labtui.workspace)
    code, lines = _run_bad(labtui, tmp_path, args, env)
    assert (code, len(lines)) == (2, 1), lines
    assert _state(labtui.workspace) == before


def test_force_unlock_says_whose_lock_it_broke(labtui: LabtuiRunner, tmp_path: Path) -> None:
    labtui.workspace.mkdir(parents=True)
    lock = labtui.workspace / "labtui.lock"
    started = time.time() - 3600
    holder = {"pid": 4242, "host": f"not-{socket.gethostname()}",
              "command": "labtui --all --headless", "started": started}
    hold = ("import fcntl, json, os, sys, time\n"
            f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            f"os.write(fd, json.dumps({holder!r}).encode())\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n")
    holding = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert holding.stdout is not None and holding.stdout.readline().strip() == "held"
        files = tmp_path / "files"
        refused = labtui("--step", "demo-files", "--headless", "--set", f"demo-dir={files}")
        assert refused.code == 4 and "pid 4242" in refused.stderr
        ran = labtui("--step", "demo-files", "--headless", "--set", f"demo-dir={files}",
                     "--force-unlock")
        assert ran.code == 0, ran.output
        when = time.strftime("%H:%M:%S", time.localtime(started))
        assert (f"took over the workspace lock of pid 4242 on not-{socket.gethostname()} "
                f"(labtui --all --headless, since {when})") in ran.stderr
    finally:
        holding.communicate("")
