"""Read an azure-pipelines.yml as Azure DevOps reads it, for the subset this runner supports.

`load(path)` parses with places kept, fills in the parameters, resolves template expressions
and template files (`- template: steps.yml` with its parameters), normalises a top-level
`jobs:` or `steps:` into one stage and one job (as Azure does), checks every key, task,
input, name, dependency and condition, and returns a `Pipeline`. Anything Azure would refuse,
or that this runner does not support, is a `PipelineError` naming the file, the line and
column, and the thing.

The readers of single nodes are `reader.NodeReader`'s, parameters and templates
`expanding.TemplateExpander`'s; `Loader` builds on both."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from labtui.targets.local.azpipelines.builtin_tasks import builtin_registry
from labtui.targets.local.azpipelines.errors import PipelineError
from labtui.targets.local.azpipelines.expanding import TemplateExpander
from labtui.targets.local.azpipelines.model import (
    BranchFilter,
    Job,
    Pipeline,
    PipelineResource,
    Stage,
    Step,
    VariableSpec,
)
from labtui.targets.local.azpipelines.tasks import TaskRegistry, TaskSpec
from labtui.targets.local.azpipelines.templates import Templates
from labtui.targets.local.azpipelines.yamlnodes import Y, read

VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

ROOT_KEYS = ("name", "trigger", "pr", "resources", "parameters", "variables", "stages", "jobs",
             "steps", "pool")
PIPELINE_RESOURCE_KEYS = ("pipeline", "source", "project", "branch", "trigger")
STAGE_KEYS = ("stage", "displayName", "dependsOn", "condition", "variables", "jobs", "pool")
JOB_KEYS = ("job", "displayName", "dependsOn", "condition", "continueOnError",
            "timeoutInMinutes", "cancelTimeoutInMinutes", "variables", "steps", "pool")
DEPLOYMENT_KEYS = ("deployment", "displayName", "dependsOn", "condition", "continueOnError",
                   "timeoutInMinutes", "cancelTimeoutInMinutes", "variables", "pool",
                   "environment", "strategy")
STEP_COMMON = ("displayName", "name", "condition", "continueOnError", "enabled", "env",
               "timeoutInMinutes", "retryCountOnTaskFailure")
STEP_KINDS: dict[str, tuple[str, ...]] = {
    "script": ("workingDirectory", "failOnStderr"),
    "bash": ("workingDirectory", "failOnStderr"),
    "task": ("inputs",),
    "checkout": (),
    "publish": ("artifact",),
}


class Loader(TemplateExpander):
    """Reads one pipeline file's sections into the model, with the tasks steps may use."""

    def __init__(self, file: str, tasks: TaskRegistry, folder: Path | None = None) -> None:
        super().__init__(file, folder)
        self.tasks = tasks

    # --- sections ------------------------------------------------------------------------

    def branch_filter(self, node: Y | None, what: str) -> BranchFilter:
        if node is None:
            return BranchFilter()
        if node.kind == "scalar":
            if node.text.lower() == "none":
                return BranchFilter(enabled=False)
            return BranchFilter(include=(node.text,))
        if node.kind == "seq":
            return BranchFilter(include=tuple(self.text(item, f"a {what} branch")
                                              for item in node.value))
        allowed = ("batch", "branches") if what == "trigger" else \
            ("branches", "autoCancel", "drafts")
        self.mapping(node, f"'{what}'", allowed)
        self.boolean(node.get("batch") or node.get("autoCancel"), f"'{what}' option", True)
        branches = node.get("branches")
        if branches is None:
            return BranchFilter()
        self.mapping(branches, f"'{what}: branches'", ("include", "exclude"))
        return BranchFilter(include=self.names(branches.get("include"), "a branch") or (),
                            exclude=self.names(branches.get("exclude"), "a branch") or ())

    def variables(self, node: Y | None) -> tuple[VariableSpec, ...]:
        if node is None:
            return ()
        specs: list[VariableSpec] = []
        if node.kind == "map":
            for key, value in node.pairs():
                specs.append(self.variable(key, key.text, value, readonly=False))
            return tuple(specs)
        if node.kind != "seq":
            raise self.error(node, "'variables' must be a mapping or a list")
        for item in node.value:
            if item.kind == "map" and item.get("group") is not None:
                self.mapping(item, "a variable group entry", ("group",))
                specs.append(VariableSpec(group=self.text(item.get("group"), "group")
                                          if item.get("group") else "",
                                          place=self.place(item)))
                continue
            self.mapping(item, "a variable", ("name", "value", "readonly", "group"))
            name, value = item.get("name"), item.get("value")
            if name is None:
                raise self.error(item, "a variable needs 'name' (or 'group')")
            specs.append(self.variable(name, self.text(name, "a variable's name"),
                                       value if value is not None else None,
                                       readonly=self.boolean(item.get("readonly"),
                                                             "'readonly'", False)))
        return tuple(specs)

    def variable(self, where: Y, name: str, value: Y | None, *, readonly: bool) -> VariableSpec:
        if not VARIABLE_NAME.match(name):
            raise self.error(where, f"variable name '{name}' may hold only letters, digits, "
                                    "'.', '-' and '_'")
        if value is not None and value.kind != "scalar":
            raise self.error(value, f"variable '{name}' must have a text value")
        text = "" if value is None or value.tag == "null" else value.text
        if text.strip().startswith("$["):
            raise self.error(value or where, "runtime expressions '$[ ]' are outside the "
                                             "subset this runner supports")
        return VariableSpec(name=name, value=text, readonly=readonly, place=self.place(where))

    def step(self, node: Y) -> Step | None:
        if node.kind != "map":
            raise self.error(node, "a step must be a mapping")
        kinds = [key for key in node.key_names() if key in STEP_KINDS]
        if len(kinds) != 1:
            others = ("template", "pwsh", "powershell", "download", "getPackage",
                      "reviewApp", "restoreCache")
            unsupported = [key for key in node.key_names() if key in others]
            if unsupported:
                raise self.error(node, f"'{unsupported[0]}' steps are outside the subset this "
                                       f"runner supports (supported: {', '.join(STEP_KINDS)})")
            raise self.error(node, "a step needs exactly one of: " + ", ".join(STEP_KINDS))
        kind = kinds[0]
        self.mapping(node, f"a {kind} step", (kind, *STEP_KINDS[kind], *STEP_COMMON))
        head = node.get(kind)
        assert head is not None
        name_node = node.get("name")
        name = self.identifier(name_node, "step name") if name_node is not None else ""
        env_node = node.get("env")
        env: dict[str, str] = {}
        if env_node is not None:
            self.mapping(env_node, "'env'", tuple(env_node.key_names()) if env_node.kind == "map"
                         else ())
            env = {key.text: self.text(value, f"env '{key.text}'")
                   for key, value in env_node.pairs()}
        display = node.get("displayName")
        common = Step(
            kind=kind, task="", display_name=self.text(display, "displayName")
            if display else "", inputs={},
            name=name, condition=self.condition(node.get("condition")),
            continue_on_error=self.boolean(node.get("continueOnError"), "'continueOnError'",
                                           False),
            enabled=self.boolean(node.get("enabled"), "'enabled'", True), env=env,
            timeout_minutes=self.minutes(node.get("timeoutInMinutes"), "'timeoutInMinutes'"),
            retries=self.retries(node.get("retryCountOnTaskFailure")), place=self.place(node))
        if kind == "checkout":
            target = self.text(head, "checkout")
            if target.lower() not in ("self", "none"):
                raise self.error(head, f"checkout '{target}': only 'self' and 'none' are "
                                       "supported (other repositories need 'resources')")
            if target.lower() == "none":
                return None
            return replace(common, display_name=common.display_name or "Checkout self")
        if kind in ("script", "bash"):
            spec = self.tasks.get("cmdline@2" if kind == "script" else "bash@3")
            if spec is None:
                raise self.error(head, f"'{kind}' steps need the task "
                                       f"{'CmdLine@2' if kind == 'script' else 'Bash@3'}")
            inputs = {"script": self.text(head, kind)}
            if kind == "bash":
                inputs["targetType"] = "inline"
            for key in ("workingDirectory", "failOnStderr"):
                if (option := node.get(key)) is not None:
                    inputs[key] = self.text(option, f"'{key}'")
            task_node = head
        elif kind == "publish":
            spec = self.tasks.get("publishpipelineartifact@1")
            if spec is None:
                raise self.error(head, "'publish' steps need the task PublishPipelineArtifact@1")
            inputs = {"targetPath": self.text(head, "publish")}
            if (artifact := node.get("artifact")) is not None:
                inputs["artifact"] = self.text(artifact, "'artifact'")
            task_node = head
        else:
            reference = self.text(head, "task")
            found = self.tasks.get(reference)
            if found is None:
                raise self.error(head, f"unknown task '{reference}' (this runner knows: "
                                       f"{', '.join(self.tasks.names())})")
            spec = found
            given = node.get("inputs")
            inputs = {}
            if given is not None:
                if given.kind != "map":
                    raise self.error(given, "'inputs' must be a mapping")
                for input_key, input_value in given.pairs():
                    inputs[input_key.text] = self.text(input_value, f"input '{input_key.text}'")
            task_node = given or head
        return replace(common, task=spec.key, inputs=self.inputs(spec, inputs, task_node),
                       display_name=common.display_name or spec.friendly or spec.name)

    def inputs(self, spec: TaskSpec, given: Mapping[str, str], node: Y) -> dict[str, str]:
        resolved: dict[str, str] = {}
        for key, value in given.items():
            found = spec.input(key)
            if found is None:
                allowed = ", ".join(item.name for item in spec.inputs)
                raise self.error(self.key_node(node, key),
                                 f"unknown input '{key}' of {spec.name}@{spec.major} "
                                 f"(allowed: {allowed})")
            if found.choices and "$(" not in value and \
                    value.lower() not in (choice.lower() for choice in found.choices):
                raise self.error(self.key_node(node, key),
                                 f"input '{key}' of {spec.name}@{spec.major} is '{value}'; "
                                 f"this runner supports: {', '.join(found.choices)}")
            resolved[found.name] = value
        for item in spec.inputs:
            if item.name not in resolved:
                if item.required and not item.default:
                    raise self.error(node, f"{spec.name}@{spec.major} needs the input "
                                           f"'{item.name}'")
                if item.default:
                    resolved[item.name] = item.default
        return resolved

    def steps(self, node: Y | None, where: Y) -> tuple[Step, ...]:
        if node is None or node.kind != "seq":
            raise self.error(node or where, "'steps' must be a list of steps")
        steps = [step for item in node.value if (step := self.step(item)) is not None]
        seen: set[str] = set()
        for step in steps:
            if step.name and step.name.lower() in seen:
                raise PipelineError(step.place.file or self.file, step.place.line,
                                    step.place.column,
                                    f"step name '{step.name}' is used twice in one job")
            seen.add(step.name.lower())
        return tuple(steps)

    def job(self, node: Y) -> Job:
        if node.kind != "map":
            raise self.error(node, "a job must be a mapping")
        if node.get("deployment") is not None:
            return self.deployment(node)
        if node.get("job") is None:
            if node.get("template") is not None:
                raise self.error(node, "job templates are outside the subset this runner "
                                       "supports")
            raise self.error(node, "a job needs 'job' (or 'deployment') with its name")
        self.mapping(node, "a job", JOB_KEYS)
        return self.job_from(node, self.identifier(self.need(node, "job"), "job name"),
                             self.steps(node.get("steps"), node), "")

    def job_from(self, node: Y, name: str, steps: tuple[Step, ...], environment: str) -> Job:
        display = node.get("displayName")
        return Job(name=name, display_name=self.text(display, "displayName") if display
                   else name, steps=steps,
                   depends_on=self.names(node.get("dependsOn"), "dependsOn") or (),
                   condition=self.condition(node.get("condition")),
                   continue_on_error=self.boolean(node.get("continueOnError"),
                                                  "'continueOnError'", False),
                   timeout_minutes=self.minutes(node.get("timeoutInMinutes"),
                                                "'timeoutInMinutes'"),
                   variables=self.variables(node.get("variables")),
                   environment=environment, place=self.place(node))

    def deployment(self, node: Y) -> Job:
        self.mapping(node, "a deployment job", DEPLOYMENT_KEYS)
        name = self.identifier(self.need(node, "deployment"), "deployment name")
        environment_node = node.get("environment")
        if environment_node is None:
            raise self.error(node, f"deployment '{name}' needs 'environment'")
        if environment_node.kind == "map":
            self.mapping(environment_node, "'environment'",
                         ("name", "resourceName", "resourceType", "tags"))
            named = environment_node.get("name")
            if named is None:
                raise self.error(environment_node, "'environment' needs 'name'")
            environment = self.text(named, "environment name")
        else:
            environment = self.text(environment_node, "environment")
        if not environment:
            raise self.error(environment_node, "the environment needs a name")
        strategy = node.get("strategy")
        if strategy is None:
            raise self.error(node, f"deployment '{name}' needs 'strategy: runOnce: deploy: "
                                   "steps:'")
        if strategy.kind == "map" and strategy.key_names() and strategy.key_names()[0] in (
                "rolling", "canary"):
            raise self.error(strategy, f"the '{strategy.key_names()[0]}' strategy is outside the "
                                       "subset this runner supports (runOnce only)")
        self.mapping(strategy, "'strategy'", ("runOnce",))
        run_once = strategy.get("runOnce")
        if run_once is None:
            raise self.error(strategy, "'strategy' needs 'runOnce'")
        self.mapping(run_once, "'runOnce'", ("deploy",))
        deploy = run_once.get("deploy")
        if deploy is None:
            raise self.error(run_once, "'runOnce' needs 'deploy'")
        self.mapping(deploy, "'deploy'", ("steps", "pool"))
        return self.job_from(node, name, self.steps(deploy.get("steps"), deploy), environment)

    def stage(self, node: Y) -> tuple[Stage, bool]:
        if node.kind != "map":
            raise self.error(node, "a stage must be a mapping")
        if node.get("stage") is None:
            if node.get("template") is not None:
                raise self.error(node, "stage templates are outside the subset this runner "
                                       "supports")
            raise self.error(node, "a stage needs 'stage' with its name")
        self.mapping(node, "a stage", STAGE_KEYS)
        name = self.identifier(self.need(node, "stage"), "stage name")
        jobs_node = node.get("jobs")
        if jobs_node is None or jobs_node.kind != "seq" or not jobs_node.value:
            raise self.error(jobs_node or node, f"stage '{name}' needs a list of jobs")
        jobs = self.check_jobs(tuple(self.job(item) for item in jobs_node.value))
        display = node.get("displayName")
        depends = self.names(node.get("dependsOn"), "dependsOn")
        return Stage(name=name, display_name=self.text(display, "displayName") if display
                     else name, jobs=jobs, depends_on=depends or (),
                     condition=self.condition(node.get("condition")),
                     variables=self.variables(node.get("variables")),
                     place=self.place(node)), depends is None

    def check_jobs(self, jobs: tuple[Job, ...]) -> tuple[Job, ...]:
        self.check_graph([(job.name, job.depends_on, job.place) for job in jobs], "job")
        return jobs


    def pipeline(self, root: Y, parameters: Mapping[str, str],
                 variables: Mapping[str, str]) -> Pipeline:
        if root.kind != "map":
            raise self.error(root, "a pipeline file must be a mapping")
        for key, _ in root.pairs():
            if key.text not in ROOT_KEYS and not key.text.startswith("${{"):
                outside = ("extends", "schedules", "lockBehavior", "container",
                           "services", "workspace", "strategy")
                if key.text in outside:
                    raise self.error(key, f"'{key.text}' is outside the subset this runner "
                                          f"supports (allowed: {', '.join(ROOT_KEYS)})")
                raise self.error(key, f"unknown key '{key.text}' at the top of the pipeline "
                                      f"(allowed: {', '.join(ROOT_KEYS)})")
        values = self.parameters(root.get("parameters"), parameters)
        known: dict[str, object] = dict(variables)
        scope: dict[str, object] = {"parameters": values, "variables": known}
        root_variables = root.get("variables")
        if root_variables is not None:
            expanded = Templates(self.file, scope, self.include).expand(root_variables)
            for spec in self.variables(expanded):
                if spec.name:
                    known[spec.name] = spec.value
        body = Y("map", [(k, v) for k, v in root.pairs() if k.text != "parameters"],
                 root.line, root.column, file=root.file)
        tree = Templates(self.file, scope, self.include).expand(body)
        for key, _ in tree.pairs():
            if key.text not in ROOT_KEYS:
                raise self.error(key, f"unknown key '{key.text}' at the top of the pipeline "
                                      f"(allowed: {', '.join(ROOT_KEYS)})")
        bodies = [key for key in ("stages", "jobs", "steps") if tree.get(key) is not None]
        if len(bodies) != 1:
            raise self.error(tree, "a pipeline needs exactly one of 'stages', 'jobs' or "
                                   "'steps'" + (f" (found {', '.join(bodies)})" if bodies else ""))
        stages = self.stages(tree, bodies[0])
        name = tree.get("name")
        return Pipeline(file=self.file, name=self.text(name, "name") if name else "",
                        trigger=self.branch_filter(tree.get("trigger"), "trigger"),
                        pr=self.branch_filter(tree.get("pr"), "pr"), parameters=values,
                        variables=self.variables(tree.get("variables")), stages=stages,
                        resources=self.resources(tree.get("resources")))

    def resources(self, node: Y | None) -> tuple[PipelineResource, ...]:
        """`resources: pipelines:` (the other kinds of resource are outside the subset)."""
        if node is None:
            return ()
        if node.kind != "map":
            raise self.error(node, "'resources' must be a mapping")
        for key, _ in node.pairs():
            if key.text != "pipelines":
                raise self.error(key, f"'resources: {key.text}' is outside the subset this "
                                      "runner supports (allowed: pipelines)")
        items = node.get("pipelines")
        if items is None or items.kind != "seq":
            raise self.error(items or node, "'resources: pipelines' must be a list")
        found: list[PipelineResource] = []
        for item in items.value:
            self.mapping(item, "a pipeline resource", PIPELINE_RESOURCE_KEYS)
            alias = self.identifier(self.need(item, "pipeline"), "pipeline resource name")
            if alias.lower() in (r.alias.lower() for r in found):
                raise self.error(item, f"pipeline resource '{alias}' is defined twice")
            source = self.text(self.need(item, "source"), "pipeline resource source")
            branch = item.get("branch")
            found.append(PipelineResource(
                alias, source, self.resource_trigger(item.get("trigger")),
                self.text(branch, "pipeline resource branch") if branch else "",
                self.place(item)))
        return tuple(found)

    def resource_trigger(self, node: Y | None) -> BranchFilter:
        """A pipeline resource's `trigger:`: absent or none → off; true → any branch; a
        branch list or `branches: include/exclude` → those."""
        if node is None:
            return BranchFilter(enabled=False)
        if node.kind == "scalar":
            if node.text.lower() in ("none", "false"):
                return BranchFilter(enabled=False)
            if node.text.lower() == "true":
                return BranchFilter()
            raise self.error(node, f"a pipeline resource's trigger is true, none or branches,"
                                   f" not '{node.text}'")
        if node.kind == "seq":
            return BranchFilter(include=tuple(self.text(item, "a trigger branch")
                                              for item in node.value))
        self.mapping(node, "a pipeline resource's 'trigger'", ("enabled", "branches"))
        if not self.boolean(node.get("enabled"), "'trigger: enabled'", True):
            return BranchFilter(enabled=False)
        branches = node.get("branches")
        if branches is None:
            return BranchFilter()
        if branches.kind == "seq":
            return BranchFilter(include=self.names(branches, "a branch") or ())
        self.mapping(branches, "'trigger: branches'", ("include", "exclude"))
        return BranchFilter(include=self.names(branches.get("include"), "a branch") or (),
                            exclude=self.names(branches.get("exclude"), "a branch") or ())

    def stages(self, tree: Y, body: str) -> tuple[Stage, ...]:
        node = tree.get(body)
        assert node is not None
        if node.kind != "seq" or not node.value:
            raise self.error(node, f"'{body}' must be a list")
        if body == "steps":
            job = Job(name="Job", display_name="Job", steps=self.steps(node, tree),
                      place=self.place(node))
            return (Stage(name="__default", display_name="__default", jobs=(job,),
                          place=self.place(node)),)
        if body == "jobs":
            jobs = self.check_jobs(tuple(self.job(item) for item in node.value))
            return (Stage(name="__default", display_name="__default", jobs=jobs,
                          place=self.place(node)),)
        stages: list[Stage] = []
        for item in node.value:
            stage, implicit = self.stage(item)
            if implicit and stages:  # by default a stage waits for the one before it
                stage = replace(stage, depends_on=(stages[-1].name,))
            stages.append(stage)
        self.check_graph([(s.name, s.depends_on, s.place) for s in stages], "stage")
        return tuple(stages)


def load_text(text: str, file: str = "azure-pipelines.yml", *,
              parameters: Mapping[str, str] | None = None,
              variables: Mapping[str, str] | None = None,
              tasks: TaskRegistry | None = None, folder: Path | None = None) -> Pipeline:
    """Load a pipeline from its text; `file` is the name errors use.

    Args:
        parameters: values for the file's `parameters` (as `--param x=y` gives them).
        variables: the variables template expressions may read besides the file's own
            (the predefined ones known before a run: Build.SourceBranch …).
        tasks: the tasks steps may use (the built-in ones by default).
        folder: where `- template:` paths start (the pipeline file's folder); without
            it, templates are refused.

    Raises:
        PipelineError: the file is malformed or uses something outside the subset.
    """
    loader = Loader(file, tasks or builtin_registry(), folder)
    return loader.pipeline(read(text, file), parameters or {}, variables or {})


def load(path: str | Path, *, parameters: Mapping[str, str] | None = None,
         variables: Mapping[str, str] | None = None,
         tasks: TaskRegistry | None = None) -> Pipeline:
    """Load a pipeline file (see `load_text`); errors name it as given."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise PipelineError(file, 0, 0, f"cannot read the file: {error.strerror}") from None
    except UnicodeDecodeError:
        raise PipelineError(file, 0, 0, "the file is not UTF-8 text") from None
    return load_text(text, file, parameters=parameters, variables=variables, tasks=tasks,
                     folder=Path(path).resolve().parent)
