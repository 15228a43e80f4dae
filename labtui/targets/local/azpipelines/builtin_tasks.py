"""The tasks the runner knows without a host: the script forms and the three publish tasks
the lab's build uses. Inputs, defaults and messages follow the tasks' own task.json."""

from __future__ import annotations

import shlex
import shutil
import uuid
from pathlib import Path

from labtui.targets.local.azpipelines.results import (
    ReportError,
    TestRun,
    find_files,
    read_cobertura,
    read_junit,
)
from labtui.targets.local.azpipelines.tasks import (
    InputSpec,
    TaskContext,
    TaskFailed,
    TaskOutcome,
    TaskRegistry,
    TaskSpec,
)


def folder(ctx: TaskContext, text: str) -> Path:
    if not text:
        return ctx.working_directory
    path = Path(text)
    return path if path.is_absolute() else ctx.sources_directory / path


def working_directory(ctx: TaskContext) -> Path:
    path = folder(ctx, ctx.inputs.get("workingDirectory", ""))
    if not path.is_dir():
        raise TaskFailed(f"Not found workingDirectory: {path}")
    return path


def cmdline(ctx: TaskContext) -> TaskOutcome | None:
    ctx.run_bash(ctx.inputs.get("script", ""), working_directory=working_directory(ctx),
                 fail_on_stderr=ctx.boolean("failOnStderr"))
    return None


def bash(ctx: TaskContext) -> TaskOutcome | None:
    if ctx.inputs.get("targetType", "filePath").lower() == "inline":
        script = ctx.inputs.get("script", "")
    else:
        path = folder(ctx, ctx.inputs.get("filePath", ""))
        if not path.is_file():
            raise TaskFailed(f"Not found filePath: {path}")
        script = f"exec bash {shlex.quote(str(path))} {ctx.inputs.get('arguments', '')}"
    ctx.run_bash(script, working_directory=working_directory(ctx),
                 fail_on_stderr=ctx.boolean("failOnStderr"))
    return None


def publish_test_results(ctx: TaskContext) -> TaskOutcome | None:
    patterns = ctx.inputs.get("testResultsFiles", "")
    search = folder(ctx, ctx.inputs.get("searchFolder", ""))
    files = find_files(patterns, search)
    if not files:
        message = f"No test result files matching '{patterns.strip()}' were found in {search}"
        if ctx.boolean("failTaskOnMissingResultsFile"):
            raise TaskFailed(message)
        ctx.warning(message)
        return None
    run = TestRun(ctx.inputs.get("testRunTitle", "") or "JUnit_TestResults")
    for path in files:
        try:
            read_junit(path, run)
        except ReportError as error:
            if ctx.boolean("failTaskOnFailureToPublishResults"):
                raise TaskFailed(str(error)) from None
            ctx.warning(str(error))
    report = run.to_json()
    ctx.publish_tests(run.title, report)
    ctx.log(f"Published test run '{run.title}': {report['total']} tests, "
            f"{report['passed']} passed, {report['failed']} failed, "
            f"{report['skipped']} skipped")
    for case in run.cases:
        if case.outcome == "failed":
            ctx.log(f"  failed: {case.classname}.{case.name}: {case.message}")
    if run.count("failed") and ctx.boolean("failTaskOnFailedTests"):
        raise TaskFailed("There are one or more test failures detected in result files")
    return None


def publish_code_coverage(ctx: TaskContext) -> TaskOutcome | None:
    pattern = ctx.inputs.get("summaryFileLocation", "")
    files = find_files(pattern, ctx.sources_directory)
    if not files:
        message = f"No code coverage results were found to publish ('{pattern.strip()}')"
        if ctx.boolean("failIfCoverageEmpty"):
            raise TaskFailed(message)
        ctx.warning(message)
        return None
    for path in files:
        try:
            summary = read_cobertura(path)
        except ReportError as error:
            raise TaskFailed(str(error)) from None
        ctx.publish_coverage(summary)
        ctx.log(f"Published code coverage from {path}: line rate "
                f"{summary['line_rate']:.1%}, branch rate {summary['branch_rate']:.1%}")
    return None


def publish_pipeline_artifact(ctx: TaskContext) -> TaskOutcome | None:
    source = folder(ctx, ctx.inputs.get("targetPath", ""))
    name = ctx.inputs.get("artifact", "") or uuid.uuid4().hex
    if not source.exists():
        raise TaskFailed(f"Path does not exist: {source}")
    try:
        size = ctx.publish_artifact(name, source)
    except FileExistsError:
        raise TaskFailed(f"An artifact named '{name}' was already published in this run") \
            from None
    ctx.log(f"Published artifact '{name}' from {source} ({size} bytes)")
    return None


def copy_files(ctx: TaskContext) -> TaskOutcome | None:
    source = folder(ctx, ctx.inputs.get("SourceFolder", ""))
    target = folder(ctx, ctx.inputs.get("TargetFolder", ""))
    if not source.is_dir():
        raise TaskFailed(f"Source folder does not exist: {source}")
    files = find_files(ctx.inputs.get("Contents", "**"), source)
    if ctx.boolean("CleanTargetFolder") and target.is_dir():
        shutil.rmtree(target)
    copied = 0
    for path in files:
        relative = Path(path.name) if ctx.boolean("flattenFolders") else path.relative_to(source)
        destination = target / relative
        if destination.exists() and not ctx.boolean("OverWrite"):
            ctx.log(f"Skipped {destination}: it exists (OverWrite is false)")
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        ctx.log(f"Copying {path} to {destination}")
        copied += 1
    ctx.log(f"Copied {copied} file(s) to {target}")
    return None


def publish_build_artifacts(ctx: TaskContext) -> TaskOutcome | None:
    source = folder(ctx, ctx.inputs.get("PathtoPublish", ""))
    name = ctx.inputs.get("ArtifactName", "") or "drop"
    if not source.exists():
        raise TaskFailed(f"Not found PathtoPublish: {source}")
    try:
        size = ctx.publish_artifact(name, source)
    except FileExistsError:
        raise TaskFailed(f"An artifact named '{name}' was already published in this run") \
            from None
    ctx.log(f"Published artifact '{name}' from {source} ({size} bytes)")
    return None


SCRIPT_INPUTS = (InputSpec("script", required=True), InputSpec("workingDirectory"),
                 InputSpec("failOnStderr", default="false"))

BUILTIN_TASKS = (
    TaskSpec("CmdLine", 2, cmdline, SCRIPT_INPUTS, friendly="CmdLine"),
    TaskSpec("Bash", 3, bash, (
        InputSpec("targetType", default="filePath", choices=("filePath", "inline")),
        InputSpec("filePath"), InputSpec("arguments"), InputSpec("script"),
        InputSpec("workingDirectory"), InputSpec("failOnStderr", default="false")),
        friendly="Bash"),
    TaskSpec("PublishTestResults", 2, publish_test_results, (
        InputSpec("testResultsFormat", default="JUnit", aliases=("testRunner",),
                  choices=("JUnit",)),
        InputSpec("testResultsFiles", default="**/TEST-*.xml"),
        InputSpec("searchFolder", default="$(System.DefaultWorkingDirectory)"),
        InputSpec("mergeTestResults", default="false"),
        InputSpec("failTaskOnFailedTests", default="false"),
        InputSpec("failTaskOnFailureToPublishResults", default="false"),
        InputSpec("failTaskOnMissingResultsFile", default="false"),
        InputSpec("testRunTitle"), InputSpec("buildPlatform", aliases=("platform",)),
        InputSpec("buildConfiguration", aliases=("configuration",)),
        InputSpec("publishRunAttachments", default="true")),
        friendly="PublishTestResults"),
    TaskSpec("PublishCodeCoverageResults", 2, publish_code_coverage, (
        InputSpec("summaryFileLocation", required=True), InputSpec("pathToSources"),
        InputSpec("failIfCoverageEmpty", default="false")),
        friendly="PublishCodeCoverageResults"),
    TaskSpec("PublishPipelineArtifact", 1, publish_pipeline_artifact, (
        InputSpec("targetPath", default="$(Pipeline.Workspace)", aliases=("path",)),
        InputSpec("artifact", aliases=("artifactName",)),
        InputSpec("publishLocation", default="pipeline", aliases=("artifactType",),
                  choices=("pipeline",))),
        friendly="PublishPipelineArtifact"),
    TaskSpec("CopyFiles", 2, copy_files, (
        InputSpec("SourceFolder"), InputSpec("Contents", default="**"),
        InputSpec("TargetFolder", required=True), InputSpec("CleanTargetFolder",
                                                            default="false"),
        InputSpec("OverWrite", default="false"), InputSpec("flattenFolders", default="false")),
        friendly="CopyFiles"),
    TaskSpec("PublishBuildArtifacts", 1, publish_build_artifacts, (
        InputSpec("PathtoPublish", default="$(Build.ArtifactStagingDirectory)"),
        InputSpec("ArtifactName", default="drop"),
        InputSpec("publishLocation", default="Container", aliases=("ArtifactType",),
                  choices=("Container",))),
        friendly="PublishBuildArtifacts"),
)


def builtin_registry() -> TaskRegistry:
    """A registry holding the built-in tasks, for a host to add its own to."""
    registry = TaskRegistry()
    for spec in BUILTIN_TASKS:
        registry.register(spec)
    return registry
