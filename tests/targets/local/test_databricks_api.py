"""The local Databricks workspace's REST API, driven by the real clients: databricks-sdk's
WorkspaceClient and the legacy `databricks` CLI, through the profiles cli-profiles wrote."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from labtui_steps import infrastructure

from labtui.targets.local import LocalTarget
from labtui.targets.local.databricks_api import AlreadyServed, DatabricksApiServer
from labtui.targets.resources import GitCredential
from tests.steps.conftest import ANSWERS, Lab
from tests.targets.local.conftest import local_host

KV_URI = "https://contoso7-kv-dev.vault.azure.net/"

PROFILE = "contoso7-dev"
VAULT_SECRETS = {"sp-tenant-id", "sp-app-id", "sp-password", "sp-token-endpoint",
                 "datalake-fqdn", "subscription-id", "resource-group", "ml-workspace-name",
                 "alg-state", "created-by"}


@dataclass
class Served:
    lab: Lab
    server: DatabricksApiServer
    config: Path

    @property
    def token(self) -> str:
        return self.lab.target.workstation.read_profile(PROFILE).token


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           caplog: pytest.LogCaptureFixture) -> Iterator[Served]:
    """The Infrastructure section run for dev and pipeline (the workspace issues the
    profiles' tokens), and the sandbox's REST API served."""
    config = tmp_path / "home" / ".databrickscfg"
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    answers = {k: v for k, v in ANSWERS.items() if k != "databricks-token"}
    with Lab(tmp_path / "ws", answers=answers) as lab:
        lab.run_section()
        caplog.set_level(logging.INFO, logger="labtui.databricks_api")
        served = Served(lab, DatabricksApiServer(lab.target.databricks).start(), config)
        yield served
        served.server.close()


def _client(**options: object) -> object:
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient(profile=PROFILE, **options)  # type: ignore[arg-type]


def test_profiles_point_at_the_served_sandbox(served: Served) -> None:
    text = served.config.read_text()
    assert f"host = http://127.0.0.1:{served.server.port}\n" in text
    assert served.server.address == ("127.0.0.1", served.server.port), "loopback only"
    assert text.count(f"host = {served.server.url}") == 2  # dev and pipeline


def test_sdk_reads_clusters_scopes_and_secret_names(served: Served) -> None:
    from databricks.sdk.service.workspace import ScopeBackendType

    started = time.monotonic()
    w = _client()
    clusters = list(w.clusters.list())  # type: ignore[attr-defined]
    assert time.monotonic() - started < 30  # no five-minute probe of an unknown host
    assert [c.cluster_name for c in clusters] == ["contoso7-dev"]
    assert clusters[0].autotermination_minutes == infrastructure.AUTOTERMINATION_MINUTES
    scopes = {s.name: s for s in w.secrets.list_scopes()}  # type: ignore[attr-defined]
    assert scopes["data-lake"].backend_type == ScopeBackendType.AZURE_KEYVAULT
    assert scopes["data-lake"].keyvault_metadata.dns_name.startswith("https://")
    names = {s.key for s in w.secrets.list_secrets("data-lake")}  # type: ignore[attr-defined]
    assert names == VAULT_SECRETS


def test_secret_values_never_leave_the_server(served: Served,
                                              caplog: pytest.LogCaptureFixture) -> None:
    from databricks.sdk.errors import BadRequest

    w = _client()
    listing = w.api_client.do("GET", "/api/2.0/secrets/list",  # type: ignore[attr-defined]
                              query={"scope": "data-lake"})
    password = served.lab.target.vault.get_secret(KV_URI, "sp-password")
    assert password not in str(listing)
    assert all(set(entry) == {"key"} for entry in listing["secrets"])
    with pytest.raises(BadRequest, match="Cannot write secrets to Azure KeyVault-backed scope"):
        w.secrets.put_secret("data-lake", "extra", string_value="x")  # type: ignore[attr-defined]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /api/2.0/secrets/list 200" in logged
    assert served.token not in logged and password not in logged


def test_sdk_imports_lists_and_runs_a_notebook(served: Served) -> None:
    from databricks.sdk.service import jobs
    from databricks.sdk.service.workspace import ImportFormat, Language, ObjectType

    w = _client()
    source = "answer = 6 * 7\ndbutils.notebook.exit(str(answer))\n"
    w.workspace.import_("/Shared/Project_One/answer",  # type: ignore[attr-defined]
                        content=base64.b64encode(source.encode()).decode(),
                        format=ImportFormat.SOURCE, language=Language.PYTHON)
    listed = list(w.workspace.list("/Shared/Project_One"))  # type: ignore[attr-defined]
    assert [(o.path, o.object_type) for o in listed] == [
        ("/Shared/Project_One/answer", ObjectType.NOTEBOOK)]
    cluster_id = served.lab.output("databricks", "dev", "cluster-id")
    run = w.jobs.submit(  # type: ignore[attr-defined]
        run_name="answer", tasks=[jobs.SubmitTask(
            task_key="answer", existing_cluster_id=cluster_id,
            notebook_task=jobs.NotebookTask(notebook_path="/Shared/Project_One/answer"))],
    ).result(timeout=__import__("datetime").timedelta(minutes=2))
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    output = w.jobs.get_run_output(run.tasks[0].run_id)  # type: ignore[attr-defined]
    assert output.notebook_output.result == "42"


def test_a_failing_notebook_fails_its_run(served: Served) -> None:
    from databricks.sdk.service import jobs

    w = _client()
    adb = local_host(served.lab.target.databricks, "contoso7-adb-dev")
    served.lab.target.databricks.import_notebook(
        adb, "/Shared/broken", "# Databricks notebook source\n1 / 0\n")
    cluster_id = served.lab.output("databricks", "dev", "cluster-id")
    run = w.jobs.submit(  # type: ignore[attr-defined]
        run_name="broken", tasks=[jobs.SubmitTask(
            task_key="broken", existing_cluster_id=cluster_id,
            notebook_task=jobs.NotebookTask(notebook_path="/Shared/broken"))],
    ).result(timeout=__import__("datetime").timedelta(minutes=2))
    assert run.state.result_state == jobs.RunResultState.FAILED
    output = w.jobs.get_run_output(run.tasks[0].run_id)  # type: ignore[attr-defined]
    assert "ZeroDivisionError" in output.error


def test_a_token_the_sdk_creates_opens_the_same_workspace(served: Served) -> None:
    from databricks.sdk import WorkspaceClient

    created = _client().tokens.create(comment="ci", lifetime_seconds=600)  # type: ignore
    assert created.token_value.startswith("dapi")
    other = WorkspaceClient(host=served.server.url, token=created.token_value)
    assert [c.cluster_name for c in other.clusters.list()] == ["contoso7-dev"]
    comments = [t.comment for t in other.tokens.list()]
    assert "ci" in comments
    listed = other.api_client.do("GET", "/api/2.0/token/list")
    assert created.token_value not in str(listed), "a token's value is shown once only"
    pipeline = served.lab.target.workstation.read_profile("contoso7-pipeline").token
    piped = WorkspaceClient(host=served.server.url, token=pipeline)
    assert [c.cluster_name for c in piped.clusters.list()] == ["contoso7-pipeline"]


def test_a_wrong_token_is_refused_in_one_line(served: Served) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import Unauthenticated

    bad = WorkspaceClient(host=served.server.url, token="dapi" + "0" * 32)
    with pytest.raises(Unauthenticated) as caught:
        list(bad.clusters.list())
    message = str(caught.value)
    assert message.startswith("Invalid access token. Config: host=") and "\n" not in message
    assert bad.config.token not in message  # the SDK shows token=***
    assert caught.value.error_code == "UNAUTHENTICATED"


def _legacy_cli(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).with_name("databricks")
    assert cli.is_file(), "databricks-cli is part of the test extra: pip install -e '.[test]'"
    env = {**os.environ, "DATABRICKS_CONFIG_FILE": str(served.config),
           # The legacy CLI drops the port of its host: it reaches the sandbox as its proxy.
           "http_proxy": served.server.url, "NO_PROXY": "", "no_proxy": ""}
    return subprocess.run([str(cli), *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_legacy_cli_lists_scopes_and_secrets(served: Served) -> None:
    scopes = _legacy_cli(served, "secrets", "list-scopes", "--profile", PROFILE)
    assert scopes.returncode == 0, scopes.stderr + scopes.stdout
    row = next(line for line in scopes.stdout.splitlines() if line.startswith("data-lake"))
    assert "AZURE_KEYVAULT" in row and "https://contoso7-kv-dev" in row
    listed = _legacy_cli(served, "secrets", "list", "--scope", "data-lake", "--profile", PROFILE)
    assert listed.returncode == 0, listed.stderr + listed.stdout
    keys = {line.split()[0] for line in listed.stdout.splitlines()[2:] if line.strip()}
    assert keys == VAULT_SECRETS


def test_legacy_cli_with_a_wrong_token_says_so_in_one_line(served: Served) -> None:
    served.lab.target.workstation.write_profile(PROFILE, served.server.url, "dapi" + "1" * 32)
    done = _legacy_cli(served, "secrets", "list-scopes", "--profile", PROFILE)
    assert done.returncode == 1
    out = (done.stdout + done.stderr).strip()
    assert out == ("Error: Your authentication information may be incorrect. Please "
                   "reconfigure with ``dbfs configure``")


def test_not_served_fails_within_seconds(served: Served) -> None:
    served.server.close()
    started = time.monotonic()
    with pytest.raises(Exception, match=r"Connection refused|Timed out") as caught:
        list(_client().clusters.list())  # type: ignore[attr-defined]
    elapsed = time.monotonic() - started
    # Measured 14.6 s (a 5 s retry budget for the probe and for the call); it was 10 minutes.
    assert elapsed < 60, elapsed
    assert "Traceback" not in str(caught.value)
    served.server = DatabricksApiServer(served.lab.target.databricks).start()  # for teardown


def test_the_sdk_retries_through_injected_429_and_503(served: Served) -> None:
    w = _client()
    served.server.faults.inject(429, retry_after=1)
    served.server.faults.inject(503, retry_after=1)
    assert [c.cluster_name for c in w.clusters.list()] == ["contoso7-dev"]  # type: ignore
    assert served.server.faults.served == 2


def test_a_second_server_on_the_sandbox_says_it_is_served_already(served: Served) -> None:
    with pytest.raises(AlreadyServed, match=r"already served at http://127\.0\.0\.1:"):
        DatabricksApiServer(served.lab.target.databricks)


def test_the_port_is_kept_across_restarts(served: Served) -> None:
    port = served.server.port
    served.server.close()
    served.lab.target.close()
    reopened = LocalTarget(served.lab.path)
    try:
        assert reopened.databricks.api_port == port
        assert reopened.databricks.workspace_named("contoso7-adb-dev").url == served.server.url
    finally:
        reopened.close()
    served.lab.target = LocalTarget(served.lab.path)
    served.server = DatabricksApiServer(served.lab.target.databricks).start()


def test_unknown_calls_answer_as_databricks_does(served: Served) -> None:
    from databricks.sdk.errors import NotFound, ResourceDoesNotExist

    w = _client()
    with pytest.raises(NotFound, match=r"No API found for 'GET /api/2\.0/nothing'"):
        w.api_client.do("GET", "/api/2.0/nothing")  # type: ignore[attr-defined]
    # Databricks answers 400 INVALID_PARAMETER_VALUE "Cluster … does not exist", which the
    # SDK knows and raises as ResourceDoesNotExist.
    with pytest.raises(ResourceDoesNotExist, match="Cluster 0000-000000-nothing does not"):
        w.clusters.get("0000-000000-nothing")  # type: ignore[attr-defined]
    with pytest.raises(NotFound, match=r"Path \(/Shared/none\) doesn't exist"):
        w.workspace.get_status("/Shared/none")  # type: ignore[attr-defined]


def test_git_credentials_and_repos(served: Served, tmp_path: Path) -> None:
    from databricks.sdk.errors import InvalidParameterValue, ResourceAlreadyExists

    git = shutil.which("git")
    assert git is not None
    origin = tmp_path / "origin.git"
    subprocess.run([git, "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    clone = tmp_path / "clone"
    subprocess.run([git, "clone", "-q", str(origin), str(clone)], check=True)
    (clone / "README.md").write_text("lab\n")
    (clone / "nb.py").write_text("# Databricks notebook source\nprint('from git')\n")
    for args in (["add", "README.md", "nb.py"], ["-c", "user.name=t", "-c", "user.email=t@t",
                                         "commit", "-qm", "first"],
                 ["branch", "feature"], ["push", "-q", "origin", "main", "feature"]):
        subprocess.run([git, "-C", str(clone), *args], check=True)
    head = subprocess.run([git, "-C", str(clone), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    w = _client()
    credential = w.git_credentials.create(  # type: ignore[attr-defined]
        git_provider="azureDevOpsServices", git_username="ada",
        personal_access_token="devops-pat-value")
    databricks = served.lab.target.databricks
    assert databricks.git_provider(local_host(databricks, "contoso7-adb-dev")) == GitCredential(
        "azureDevOpsServices", "ada")
    with pytest.raises(ResourceAlreadyExists):
        w.git_credentials.create(git_provider="gitHub")  # type: ignore[attr-defined]
    assert [c.git_username for c in w.git_credentials.list()] == ["ada"]  # type: ignore
    # Kept as the vaults' secrets are: sealed with the vault key, never in the clear.
    sandbox = served.lab.path / "sandbox"
    assert "devops-pat-value" not in (sandbox / "sandbox.db").read_bytes().decode("latin-1")
    (sealed,) = served.lab.target.sandbox.query("SELECT token FROM git_credentials")
    assert served.lab.target.sandbox.decrypt(sealed["token"]) == "devops-pat-value"
    repo = w.repos.create(url=str(origin), provider="azureDevOpsServices")  # type: ignore
    assert (repo.path, repo.branch, repo.head_commit_id) == ("/Repos/ada/origin", "main", head)
    updated = w.repos.update(repo.id, branch="feature")  # type: ignore[attr-defined]
    assert w.repos.get(repo.id).branch == "feature"  # type: ignore[attr-defined]
    del updated
    with pytest.raises(InvalidParameterValue, match="Branch nope does not exist"):
        w.repos.update(repo.id, branch="nope")  # type: ignore[attr-defined]
    assert [r.path for r in w.repos.list()] == ["/Repos/ada/origin"]  # type: ignore
    adb = local_host(databricks, "contoso7-adb-dev")
    assert databricks.git_folder(adb, "/Repos/ada/origin").branch == "feature"
    # The folder's notebooks are the files of its head commit.
    from databricks.sdk.service.workspace import ExportFormat, ObjectType

    status = w.workspace.get_status("/Repos/ada/origin/nb")  # type: ignore[attr-defined]
    assert status.object_type == ObjectType.NOTEBOOK
    exported = w.workspace.export("/Repos/ada/origin/nb",  # type: ignore[attr-defined]
                                  format=ExportFormat.SOURCE)
    assert "print('from git')" in base64.b64decode(exported.content).decode()
    w.repos.delete(repo.id)  # type: ignore[attr-defined]
    assert databricks.git_folders(local_host(databricks, "contoso7-adb-dev")) == []
    w.git_credentials.delete(credential.credential_id)  # type: ignore[attr-defined]
    assert list(w.git_credentials.list()) == []  # type: ignore[attr-defined]


@pytest.fixture
def lab_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """The Infrastructure section run for dev; nothing serves the sandbox."""
    config = tmp_path / "home" / ".databrickscfg"
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    answers = {k: v for k, v in ANSWERS.items() if k != "databricks-token"}
    with Lab(tmp_path / "ws", answers=answers) as lab:
        lab.run_section(envs=("dev",))
        yield lab


def _serve(lab: Lab) -> subprocess.Popen[str]:
    from tests.conftest import labtui_env

    return subprocess.Popen(
        [sys.executable, "-m", "labtui", "sandbox", "serve", "--workspace", str(lab.path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env=labtui_env())


def test_sandbox_serve_keeps_the_api_up_until_ctrl_c(lab_ready: Lab) -> None:
    import signal

    url = lab_ready.target.databricks.workspace_named("contoso7-adb-dev").url
    serving = _serve(lab_ready)
    try:
        assert serving.stdout is not None
        line = serving.stdout.readline()
        assert line.startswith(f"Databricks REST API of {lab_ready.path / 'sandbox'} at "
                               f"{url} (Ctrl-C stops it")
        assert [c.cluster_name for c in _client().clusters.list()] == ["contoso7-dev"]  # type: ignore
        second = subprocess.run(
            [sys.executable, "-m", "labtui", "sandbox", "serve", "--workspace",
             str(lab_ready.path)], capture_output=True, text=True, timeout=60)
        assert second.returncode == 0
        assert second.stderr == (f"labtui: the Databricks REST API of this sandbox is already "
                                 f"served at {url} (by another labtui)\n")
        serving.send_signal(signal.SIGINT)
        out, err = serving.communicate(timeout=30)
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait()
    assert serving.returncode == 0, err
    assert (out, err) == ("", "")
    token = lab_ready.target.workstation.read_profile(PROFILE).token
    assert token not in line


def test_sandbox_serve_without_a_sandbox_says_what_to_do(tmp_path: Path) -> None:
    from tests.conftest import labtui_env

    done = subprocess.run(
        [sys.executable, "-m", "labtui", "sandbox", "serve", "--workspace", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=labtui_env())
    assert done.returncode == 2
    assert done.stderr == (f"labtui: there is no sandbox in {tmp_path} yet: run the lab's "
                           "Infrastructure steps first (labtui --section Infrastructure "
                           "--headless)\n")


def test_sdk_manages_clusters_and_libraries(served: Served) -> None:
    from databricks.sdk.errors import ResourceDoesNotExist
    from databricks.sdk.service.compute import Library, PythonPyPiLibrary, State

    w = _client()
    created = w.clusters.create(  # type: ignore[attr-defined]
        cluster_name="scratch", spark_version="15.4.x-scala2.12",
        node_type_id="Standard_DS3_v2", num_workers=1, autotermination_minutes=30).result()
    assert (created.cluster_name, created.state) == ("scratch", State.RUNNING)
    w.libraries.install(created.cluster_id,  # type: ignore[attr-defined]
                        [Library(pypi=PythonPyPiLibrary(package="mlflow"))])
    statuses = list(w.libraries.cluster_status(created.cluster_id))  # type: ignore
    assert [(s.library.pypi.package, s.status.value) for s in statuses] == [
        ("mlflow", "INSTALLED")]
    w.clusters.edit(created.cluster_id, spark_version="15.4.x-scala2.12",  # type: ignore
                    cluster_name="scratch", node_type_id="Standard_DS3_v2", num_workers=1,
                    autotermination_minutes=60)
    again = w.clusters.get(created.cluster_id)  # type: ignore[attr-defined]
    assert again.autotermination_minutes == 60
    w.clusters.delete(created.cluster_id).result()  # type: ignore[attr-defined]
    assert w.clusters.get(created.cluster_id).state == State.TERMINATED  # type: ignore
    w.clusters.permanent_delete(created.cluster_id)  # type: ignore[attr-defined]
    with pytest.raises(ResourceDoesNotExist):
        w.clusters.get(created.cluster_id)  # type: ignore[attr-defined]


def test_sdk_keeps_secrets_in_a_databricks_scope_and_notebooks(served: Served) -> None:
    from databricks.sdk.errors import InvalidParameterValue, ResourceAlreadyExists
    from databricks.sdk.service.workspace import ExportFormat

    w = _client()
    w.secrets.create_scope("scratch")  # type: ignore[attr-defined]
    with pytest.raises(ResourceAlreadyExists, match="Scope scratch already exists!"):
        w.secrets.create_scope("scratch")  # type: ignore[attr-defined]
    w.secrets.put_secret("scratch", "api-key", string_value="s3cr3t-value")  # type: ignore
    assert [s.key for s in w.secrets.list_secrets("scratch")] == ["api-key"]  # type: ignore
    adb = local_host(served.lab.target.databricks, "contoso7-adb-dev")
    assert served.lab.target.databricks.dbutils_secret(
        adb, "scratch", "api-key") == "s3cr3t-value"
    with pytest.raises(InvalidParameterValue, match="must have userAADToken defined"):
        w.api_client.do("POST", "/api/2.0/secrets/scopes/create",  # type: ignore
                        body={"scope": "kv", "scope_backend_type": "AZURE_KEYVAULT"})
    w.secrets.delete_scope("scratch")  # type: ignore[attr-defined]
    assert [s.name for s in w.secrets.list_scopes()] == ["data-lake"]  # type: ignore

    w.workspace.upload("/Shared/tool", b"print('hi')\n")  # type: ignore[attr-defined]
    exported = w.workspace.export("/Shared/tool", format=ExportFormat.SOURCE)  # type: ignore
    assert base64.b64decode(exported.content).decode() == (
        "# Databricks notebook source\nprint('hi')\n")
    with pytest.raises(ResourceAlreadyExists, match=r"Path \(/Shared/tool\) already exists"):
        w.workspace.upload("/Shared/tool", b"print('again')\n")  # type: ignore[attr-defined]
    with pytest.raises(InvalidParameterValue, match=r"Folder \(/Shared\) cannot be deleted"):
        w.workspace.delete("/Shared", recursive=True)  # type: ignore[attr-defined]
    w.workspace.delete("/Shared/tool")  # type: ignore[attr-defined]
    assert list(w.workspace.list("/Shared")) == []  # type: ignore[attr-defined]


def test_a_port_taken_by_another_program_is_named(lab_ready: Lab) -> None:
    import socket

    from labtui.targets.base import TargetError

    port = lab_ready.target.databricks.api_port
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", port))
        stranger.listen()
        with pytest.raises(TargetError) as caught:
            DatabricksApiServer(lab_ready.target.databricks)
    assert not isinstance(caught.value, AlreadyServed)
    assert str(caught.value) == (f"cannot serve the Databricks REST API: port {port} on "
                                 "127.0.0.1 is taken by another program: stop it, then serve "
                                 "again")
