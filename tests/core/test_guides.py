"""The lab's text per step (`Step.guide()`, `labtui.guides`, `labtui guide STEP`): every lab
step teaches its part in labtui's words and gives the commands to type by hand, filled in
with the attendee's own names; secrets never."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from labtui.catalog import Catalog
from labtui.guides import BY_HAND, guide_for, placeholders
from labtui.values import Resolver
from tests.conftest import LabtuiRunner

RESOURCE_NAMES = ("resource-group", "ml-workspace-name", "storage-account", "key-vault",
                  "databricks-workspace", "cluster-name", "databricks-profile",
                  "service-principal", "devops-project", "branch", "model-name", "image-name",
                  "compute-name")
"""Inputs that name a resource: a step's guide must type the attendee's value of each it has."""

VALUES = {"prefix": "contoso7", "tenant-id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
          "subscription-id": "0b1f6471-1bf0-4dda-aec3-cb9272f09590"}
TOKEN = "dapi-canary-0123456789abcdef"
LAB = Catalog.discover()
LAB_STEPS = [step for step in LAB if step.__module__.startswith("labtui_steps.")]
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def by_hand(text: str) -> str:
    match = BY_HAND.search(text)
    assert match, "no 'By hand' part"
    return text[match.end():]


def test_the_lab_has_seventeen_steps_and_each_has_a_guide() -> None:
    assert len(LAB_STEPS) == 21  # with the Pipelines section's four steps
    for step in LAB_STEPS:
        text = step.guide()
        assert text.startswith("# "), f"{step.id}: a guide starts with its title"
        teaching = text[:BY_HAND.search(text).start()] if BY_HAND.search(text) else ""
        assert len(teaching.split()) >= 60, f"{step.id}: says what it teaches and why"
        assert "```" in by_hand(text), f"{step.id}: the commands are in a code block"
        assert not set(placeholders(text)) - set(LAB.fields()) - {"env"}, (
            f"{step.id}: every {{{{name}}}} is an input of the lab")


@pytest.mark.parametrize("step_id", [step.id for step in LAB_STEPS])
def test_the_commands_type_the_steps_real_names(step_id: str) -> None:
    step = LAB.get(step_id)
    resolver = Resolver(LAB.fields(), set_args=VALUES, environ={})
    for env in step.environments():
        values = resolver.resolve(env).values
        guide = guide_for(step, values, env, LAB.fields())
        commands = by_hand(guide.text)
        names = [fld.name for fld in step.inputs if fld.name in RESOURCE_NAMES]
        for name in names:
            assert values[name] in commands, f"{step_id} ({env}): {name} = {values[name]}"
        assert "{{" not in guide.text and "contoso7" in commands
        tools = re.findall(r"^\s*(az|databricks|git|docker|curl)\b", commands, re.MULTILINE)
        assert tools, f"{step_id}: the commands a person types (az, databricks, git …)"


def test_the_commands_fit_an_80_column_terminal() -> None:
    resolver = Resolver(LAB.fields(), set_args=VALUES, environ={})
    for step in LAB_STEPS:
        for env in step.environments():
            text = guide_for(step, resolver.resolve(env).values, env, LAB.fields()).text
            for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL):
                long = [line for line in block.splitlines() if len(line) > 76]
                assert not long, f"{step.id} ({env}): wraps when printed: {long}"


def test_unknown_values_stay_visible_placeholders_inside_code() -> None:
    for step in LAB_STEPS:
        guide = guide_for(step, {}, step.environments()[0], LAB.fields())
        assert "{{" not in guide.text
        assert "<prefix>" in guide.text or "prefix" not in placeholders(step.guide())
        prose = CODE.sub("", guide.text)
        assert not re.search(r"<[a-z-]+>", prose), f"{step.id}: a placeholder outside code"
    resolver = Resolver(LAB.fields(), set_args={"prefix": "contoso7"}, environ={})
    secrets = guide_for(LAB.get("secrets"), resolver.resolve("dev").values, "dev", LAB.fields())
    assert "tenant=<tenant-id>" in secrets.text and "tenant-id" in secrets.missing
    assert "--vault-name contoso7-kv-dev" in secrets.text


def test_a_secret_is_never_filled_in() -> None:
    resolver = Resolver(LAB.fields(), set_args=VALUES,
                        environ={"LABTUI_DATABRICKS_TOKEN": TOKEN})
    values = resolver.resolve("dev").values
    assert values["databricks-token"] == TOKEN
    for step in LAB_STEPS:
        for env in step.environments():
            text = guide_for(step, values, env, LAB.fields()).text
            assert TOKEN not in text, step.id
    profiles = guide_for(LAB.get("cli-profiles"), values, "dev", LAB.fields())
    assert "token = <databricks-token>" in profiles.text
    assert "[contoso7-dev]" in profiles.text


def test_a_plugin_step_ships_its_own_guide_next_to_its_module(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    package = tmp_path / "acme_steps"
    (package / "guides").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent('''
        from labtui.step import Step, Verdict

        class Guided(Step):
            id = "guided"
            title = "A step with a guide"
            def run(self, ctx): pass
            def verify(self, ctx): return Verdict()

        class Silent(Step):
            id = "silent"
            title = "A step without one"
            def run(self, ctx): pass
            def verify(self, ctx): return Verdict()
    '''))
    (package / "guides" / "guided.md").write_text("# Guided\n\n## By hand\n\n`acme {{prefix}}`\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import acme_steps  # type: ignore[import-not-found]

    try:
        assert acme_steps.Guided.guide().startswith("# Guided")
        assert acme_steps.Silent.guide() == ""
        shown = guide_for(acme_steps.Guided, {"prefix": "contoso7"}, None)
        assert "`acme contoso7`" in shown.text and not shown.missing
        assert guide_for(acme_steps.Silent, {}, None).empty
    finally:
        sys.modules.pop("acme_steps", None)


def test_labtui_guide_prints_the_text_with_the_workspace_values(labtui: LabtuiRunner) -> None:
    ran = labtui("guide", "key-vault", "--env", "pipeline", "--set", "prefix=contoso7")
    assert ran.code == 0, ran.output
    assert ran.stdout.startswith("# Key Vault\n"), "plain Markdown in a pipe"
    assert "## By hand" in ran.stdout
    assert "az keyvault create --name contoso7-kv-pipeline" in ran.stdout
    assert "--resource-group contoso7-db-pipeline" in ran.stdout
    default_env = labtui("guide", "data-lake", "--set", "prefix=contoso7")
    assert "--name contoso7dldev" in default_env.stdout, "the step's first environment"
    as_json = labtui("guide", "secrets", "--json", "--set", "prefix=contoso7")
    event = json.loads(as_json.stdout)
    assert (event["step"], event["env"]) == ("secrets", "dev")
    assert "kv resource-group contoso7-db-dev" in event["markdown"]
    assert event["missing"] == ["tenant-id", "subscription-id"], "still to be given"


def test_labtui_guide_errors_are_one_line(labtui: LabtuiRunner) -> None:
    wrong_env = labtui("guide", "seed-repo", "--env", "dev")
    assert wrong_env.code == 2, wrong_env.output
    assert wrong_env.stderr.strip().splitlines() == [
        "labtui: step 'seed-repo' does not run in 'dev' (only in no environment) "
        "(see labtui guide --help)"]
    unknown = labtui("guide", "nope")
    assert unknown.code == 2 and len(unknown.stderr.strip().splitlines()) == 1
    plugin = labtui("guide", "demo-files")
    assert plugin.code == 1, plugin.output
    assert plugin.stderr.strip() == ("labtui: step 'demo-files' has no guide (its plugin ships "
                                     "no guides/demo-files.md)")
    assert "Traceback" not in wrong_env.output + unknown.output + plugin.output


def test_labtui_guide_renders_markdown_on_a_terminal(labtui: LabtuiRunner) -> None:
    primary, secondary = os.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "labtui", "guide", "secret-scope", "--set",
             "prefix=contoso7", "--workspace", str(labtui.workspace)],
            stdout=secondary, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env={**labtui.env, "COLUMNS": "100", "TERM": "xterm"}, timeout=120)
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())
    assert done.returncode == 0, done.stderr
    assert "By hand" in shown and "## By hand" not in shown, "headings rendered, not marked"
    assert "https://contoso7-kv-dev.vault.azure.net/" in shown
