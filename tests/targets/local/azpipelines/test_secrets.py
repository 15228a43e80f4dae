"""Secret variables, as Azure treats them: masked in every line a run keeps, never in a step's
environment unless its `env:` maps them, usable through macros."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from labtui.targets.local.azpipelines import PipelineError
from labtui.targets.local.azpipelines.macros import MASK, Masker, environment_name
from tests.targets.local.azpipelines.conftest import RunPipeline

TOKEN = "dapi-0123456789abcdef"
PASSWORD = "p@ss word/with:chars"
GROUP_SECRET = "vault-secret-7f3a9c"


def everything_kept(folder: Path) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace")
                     for path in folder.rglob("*") if path.is_file())


def test_secrets_are_masked_everywhere_and_not_in_the_environment(
        run_yaml: RunPipeline) -> None:
    groups = {"census-pipeline": {"db-access-token": (GROUP_SECRET, True),
                                  "model-name": ("worst_regression", False)}}

    def resolve(name: str) -> dict[str, tuple[str, bool]]:
        return groups[name]

    run = run_yaml("""
        variables:
        - group: census-pipeline
        steps:
        - script: |
            echo "macro: $(db-token) / $(db-access-token) / $(model-name)"
            echo "env: [`printenv DB-TOKEN || echo absent`]" \\
                 "[`printenv DB-ACCESS-TOKEN || echo absent`] [`printenv MODEL-NAME`]"
            env | grep -c -e "$(db-token)" -e "$(db-access-token)" || true
            echo -n "$(db-token)" | base64
            python3 -c "import urllib.parse as u, sys; print(u.quote(sys.argv[1], safe=''))" \\
              "$(password)"
            python3 -c 'import json, sys; print(json.dumps({"json": sys.argv[1]}))' "$(password)"
            echo "##vso[task.logissue type=error]leaked $(db-token)"
            echo "##vso[task.setvariable variable=made;issecret=true]runtime-secret-42"
          displayName: Uses $(db-token)
        - script: |
            echo "mapped: $MAPPED"
            echo "made: $(made) env: [${MADE:-absent}]"
          env:
            MAPPED: $(db-token)
        """, secrets={"db-token": TOKEN, "password": PASSWORD}, groups=resolve)
    first = run.records.step_log("__default.Job.1")
    assert "macro: *** / *** / worst_regression" in first
    assert "env: [absent] [absent] [worst_regression]" in first
    assert "\n0\n" in first  # no environment variable holds either secret
    assert base64.b64encode(TOKEN.encode()).decode() not in first
    assert quote(PASSWORD, safe="") not in first
    assert json.dumps(PASSWORD)[1:-1] not in first
    assert run.records.records["__default.Job.1"].errors == ("leaked ***",)
    second = run.records.step_log("__default.Job.2")
    assert "mapped: ***" in second  # env: is the way in
    assert "made: *** env: [absent]" in second
    kept = everything_kept(run.records.folder)
    for secret in (TOKEN, PASSWORD, GROUP_SECRET, "runtime-secret-42"):
        assert secret not in kept
    assert not list((run.records.folder / "work" / "_temp").iterdir()), \
        "the script files (which hold the expanded secrets) are removed"


def test_a_missing_variable_group_is_named(run_yaml: RunPipeline) -> None:
    def resolve(name: str) -> dict[str, tuple[str, bool]]:
        raise KeyError(name)

    with pytest.raises(PipelineError) as caught:
        run_yaml("variables:\n- group: nowhere\nsteps: [{script: echo}]\n", groups=resolve)
    assert str(caught.value) == "azure-pipelines.yml:2:3: variable group 'nowhere' was not " \
                                "found"


def test_encodings_of_a_secret_are_masked_inside_longer_text() -> None:
    masker = Masker()
    masker.add(TOKEN)
    for prefix in ("", "u", "us"):  # each alignment of the token inside the encoded text
        encoded = base64.b64encode(f"{prefix}:{TOKEN}:tail".encode()).decode()
        masked = masker.mask(encoded)
        assert MASK in masked and len(masked) < len(encoded) - 16
    assert masker.mask(f"token={TOKEN}&x=1") == f"token={MASK}&x=1"


def test_short_values_are_not_masked() -> None:
    masker = Masker()
    masker.add("abc")
    assert masker.mask("abcdef") == "abcdef"


@pytest.mark.parametrize(("name", "expected"), [
    ("Build.SourcesDirectory", "BUILD_SOURCESDIRECTORY"), ("db-cluster-id", "DB-CLUSTER-ID"),
    ("my var", "MY_VAR"), ("model.name", "MODEL_NAME")])
def test_variable_names_become_environment_names(name: str, expected: str) -> None:
    assert environment_name(name) == expected
