"""The tasks a local pipeline run has beyond the runner's own: `Docker@2` over the Containers
port.

`Docker@2` with `command: build` builds `Dockerfile` in `buildContext` as `repository:tag` for
each of its `tags`, with the `--build-arg`s and `--label`s of `arguments`, as the Azure task
runs `docker build`. Here the build goes through the workspace's Containers port, so the image
carries the workspace's owner label (and the run's), and only this workspace ever removes it;
nothing of the shared engine beyond that is touched. `buildAndPush`, `push`, `login` need a
container registry, which the local target does not have: a clear failure says so.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.targets.errors import TargetError
from labtui.targets.local.azpipelines import (
    InputSpec,
    TaskContext,
    TaskFailed,
    TaskRegistry,
    TaskSpec,
    builtin_registry,
)
from labtui.targets.local.azpipelines.results import find_files
from labtui.targets.local.azpipelines.tasks import TaskOutcome

if TYPE_CHECKING:
    from labtui.targets.ports.containers import Containers

DOCKER_INPUTS = (
    InputSpec("command", default="buildAndPush",
              choices=("buildAndPush", "build", "push", "login", "logout", "start", "stop")),
    InputSpec("containerRegistry"), InputSpec("repository", aliases=("containerRepository",)),
    InputSpec("Dockerfile", default="**/Dockerfile"), InputSpec("buildContext", default="**"),
    InputSpec("tags", default="$(Build.BuildId)"), InputSpec("arguments"),
    InputSpec("addPipelineData", default="true"), InputSpec("addBaseImageData", default="true"),
    InputSpec("container"),
)


def build_arguments(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """The `--build-arg`s and `--label`s of a Docker@2 `arguments` input.

    Raises:
        TaskFailed: another docker build option (the local build takes these two).
    """
    words = shlex.split(text)
    build_args: dict[str, str] = {}
    labels: dict[str, str] = {}
    position = 0
    while position < len(words):
        word = words[position]
        option, sign, value = word.partition("=")
        if option not in ("--build-arg", "--label"):
            raise TaskFailed(f"Docker@2 arguments: {option} is not supported here (only "
                             "--build-arg NAME=VALUE and --label NAME=VALUE)")
        if not sign:
            position += 1
            if position >= len(words):
                raise TaskFailed(f"Docker@2 arguments: {option} needs NAME=VALUE")
            value = words[position]
        name, equals, setting = value.partition("=")
        if not equals or not name:
            raise TaskFailed(f"Docker@2 arguments: {option} {value!r}: write it NAME=VALUE")
        (build_args if option == "--build-arg" else labels)[name] = setting
        position += 1
    return build_args, labels


def docker_task(containers: Callable[[], Containers] | None,
                labels: Mapping[str, str]) -> Callable[[TaskContext], TaskOutcome | None]:
    def docker(ctx: TaskContext) -> TaskOutcome | None:
        command = ctx.inputs.get("command", "buildAndPush")
        if command != "build":
            raise TaskFailed(f"Docker@2 command '{command}' needs a container registry, which "
                             "the local target does not have: use command: build")
        if containers is None:
            raise TaskFailed("this run has no container engine")
        pattern = ctx.inputs.get("Dockerfile", "**/Dockerfile")
        found = find_files(pattern, ctx.sources_directory)
        if not found:
            raise TaskFailed(f"No Dockerfile matching {pattern} was found")
        dockerfile = found[0]
        context_input = ctx.inputs.get("buildContext", "**")
        if context_input in ("", "**"):
            context = dockerfile.parent
        else:
            context = Path(context_input)
            if not context.is_absolute():
                context = ctx.sources_directory / context
        if dockerfile.name != "Dockerfile" or dockerfile.parent != context:
            raise TaskFailed(f"the local build reads the Dockerfile named Dockerfile at the top "
                             f"of its buildContext ({context}), not {dockerfile}")
        repository = ctx.inputs.get("repository", "").strip().lower()
        if not repository:
            raise TaskFailed("Docker@2 build needs a repository (the image's name)")
        tags = [tag.strip() for tag in ctx.inputs.get("tags", "").replace(",", "\n")
                .splitlines() if tag.strip()]
        build_args, extra_labels = build_arguments(ctx.inputs.get("arguments", ""))
        engine = containers()
        for tag in tags or ["latest"]:
            reference = f"{repository}:{tag}"
            ctx.log(f"docker build -t {reference} {context}")
            try:
                image = engine.build(context, reference, build_args=build_args,
                                     labels={**extra_labels, **labels}, log=ctx.log,
                                     cancelled=ctx.cancelled)
            except TargetError as exc:
                raise TaskFailed(str(exc).splitlines()[0] if str(exc) else
                                 "the build failed") from None
            ctx.log(f"built {reference} ({image.id[:19]})")
        return None

    return docker


def host_registry(containers: Callable[[], Containers] | None,
                  labels: Mapping[str, str] | None = None) -> TaskRegistry:
    """The built-in tasks and `Docker@2`; `labels` go on every image a run builds."""
    registry = builtin_registry()
    registry.register(TaskSpec("Docker", 2, docker_task(containers, labels or {}),
                               DOCKER_INPUTS, friendly="Docker"))
    return registry
