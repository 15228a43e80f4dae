"""The lab's "Pipelines" section: the pull request that takes the scientist's work to master,
and the variable group the build pipeline reads the pipeline environment's secrets from.

The pull request is where a person acts: the reviewer approves it (or rejects it, saying why)
through the step's actions, headless with `--approve --as NAME` / `--reject --as NAME
--comment TEXT`, and in the app on the step's page.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from labtui_steps import records
from labtui_steps.databricks_host import databricks_host, host_fields
from labtui_steps.devops.common import assets_root, organization, repository, working_copy_path
from labtui_steps.fields import (
    BASE_IMAGE,
    BRANCH,
    CA_BUNDLE,
    DATABRICKS_WORKSPACE,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    KEY_VAULT,
    ML_WORKSPACE,
    MODEL_NAME,
    PREFIX,
    RESOURCE_GROUP,
    SERVICE_PRINCIPAL,
)
from labtui_steps.infrastructure import Secrets
from labtui_steps.infrastructure.common import resource_ref
from labtui_steps.run_tree import run_tree

from labtui.actions import APPROVE, REJECT
from labtui.step import (
    Cancelled,
    Change,
    Check,
    Field,
    Step,
    StepContext,
    StepError,
    Verdict,
)
from labtui.targets.base import (
    VOTES,
    GitRepository,
    NotFound,
    Pipeline,
    PipelineRun,
    PullRequest,
    Transient,
)
from labtui.targets.resources import KEY_VAULTS
from labtui.validation import naming_rule

TARGET_BRANCH = "master"
COMMIT_MESSAGE = "works"
"""The lab's commit message for the dev loop's work (`git commit -m "works"`)."""
DESCRIPTION = ("The inference container builds, its unit tests pass and the coverage is where "
               "we want it: please review.")

REVIEWER = Field(
    "reviewer", "Reviewer", validate=naming_rule("person"),
    help="Who reviews your pull request (a colleague's user name, e.g. grace); they approve "
    "or reject it with the step's approve / reject actions.",
)
VARIABLE_GROUP = Field(
    "variable-group", "Variable group", default="Staging Environment Variable Group",
    help="The library variable group the build pipeline links (the lab's name for the "
    "pipeline environment's group).",
)

GROUP_SECRETS: tuple[str, ...] = (*Secrets.LAB_SECRETS, *Secrets.PIPELINE_SECRETS)
"""What the variable group exposes: the pipeline vault's secrets, by name."""
CREDENTIALS = frozenset({"sp-password", "db-access-token", "sp-app-id"})
"""The group's variables that are credentials, not names."""


def title(ctx: StepContext) -> str:
    return f"{ctx.value('branch')}: {COMMIT_MESSAGE}"


def latest_request(ctx: StepContext, repo: GitRepository) -> PullRequest | None:
    """The newest pull request from the attendee's branch into master, whatever its status."""
    branch = ctx.value("branch")
    for pr in ctx.target.pull_requests.requests(repo, status=None):
        if pr.source == branch and pr.target == TARGET_BRANCH:
            return pr
    return None


def blocker(pr: PullRequest) -> str:
    """Why an active request cannot be completed, in one line; "" when it can."""
    rejected = [r.name for r in pr.reviewers if r.vote == -10]
    if rejected:
        return f"rejected by {', '.join(rejected)}"
    waiting = [r for r in pr.reviewers if r.required and r.vote < 5]
    if waiting:
        return "waiting for " + ", ".join(
            f"{r.name} ({VOTES.get(r.vote, str(r.vote))})" for r in waiting)
    return ""


def votes(pr: PullRequest) -> str:
    return ", ".join(f"{r.name}: {VOTES.get(r.vote, str(r.vote))}" for r in pr.reviewers) \
        or "no reviewers"


class PullRequestStep(Step):
    """Commit and push the dev loop's work, open a pull request into master with a reviewer,
    and complete it once approved."""

    id = "pull-request"
    title = "Commit, push and open a pull request"
    section = "Pipelines"
    summary = ("Commit what the dev loop left in your working copy ('works'), push your branch "
               "and open a pull request into master with a reviewer. Once they approve, it is "
               "completed: your branch is merged into master.")
    requires = ("test-image",)
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, BRANCH, REVIEWER)
    actions = (APPROVE, REJECT)
    manual = True
    """The review is a person's: the run opens the request, the reviewer approves it (the
    actions); `solve` (a proctor, `--solve`) approves it as the reviewer."""

    def run(self, ctx: StepContext) -> None:
        repo = repository(ctx)
        branch, reviewer = ctx.value("branch"), ctx.value("reviewer")
        copy = ctx.target.workstation.working_copy(repo, working_copy_path(ctx))
        if not copy.exists:
            raise StepError(f"no working copy at {copy.path}: run seed-repo first")
        if copy.current_branch() != branch:
            copy.checkout(branch)
        commit = copy.commit_all(COMMIT_MESSAGE)
        ctx.log(f"committed {commit[:10]}: {COMMIT_MESSAGE}" if commit else
                "nothing new to commit in the working copy")
        pushed = copy.push(branch)
        ctx.log(f"pushed {branch}" if pushed else f"{branch} is up to date: pushed nothing")
        ctx.check_cancelled()
        prs = ctx.target.pull_requests
        pr = latest_request(ctx, repo)
        if pr is None or pr.status == "abandoned" or (pr.status == "completed" and pushed):
            ctx.journal.record_once(records.PullRequest(
                branch, TARGET_BRANCH, title(ctx), organization=repo.organization,
                project=repo.project, repository=repo.name))
            pr = prs.create(repo, branch, TARGET_BRANCH, title(ctx), description=DESCRIPTION,
                            reviewers=[reviewer])
            ctx.log(f"opened pull request {pr.id} from {branch} into {TARGET_BRANCH} for "
                    f"review by {reviewer}: {pr.url}")
        elif pr.status == "active" and pushed:
            # New changes: the reviewers look again (Azure DevOps' "reset votes on push").
            for person in pr.reviewers:
                if person.vote != 0:
                    pr = prs.vote(repo, pr.id, person.name, 0)
                    ctx.log(f"new changes pushed: {person.name}'s vote is reset")
        ctx.outputs.set("pull-request-id", str(pr.id))
        if pr.status == "active":
            self._complete_if_approved(ctx, repo, pr)

    def solve(self, ctx: StepContext) -> None:
        """The reference answer: open the request if it is not, then approve it as its
        reviewer, which completes it."""
        self.run(ctx)
        repo = repository(ctx)
        pr = latest_request(ctx, repo)
        if pr is None or pr.status != "active":
            return
        reviewer = ctx.value("reviewer")
        pr = ctx.target.pull_requests.vote(repo, pr.id, reviewer, 10)
        ctx.log(f"solved: {reviewer} approved pull request {pr.id}")
        self._complete_if_approved(ctx, repo, pr)

    def _complete_if_approved(self, ctx: StepContext, repo: GitRepository,
                              pr: PullRequest) -> PullRequest:
        why = blocker(pr)
        if why:
            ctx.log(f"pull request {pr.id}: {why}")
            return pr
        done = ctx.target.pull_requests.complete(repo, pr.id)
        ctx.log(f"completed pull request {pr.id}: merged {pr.source} into {pr.target} as "
                f"{done.merge_commit[:10]}")
        ctx.outputs.set("merge-commit", done.merge_commit)
        return done

    def act(self, ctx: StepContext, action: str, inputs: Mapping[str, str]) -> None:
        repo = repository(ctx)
        pr = latest_request(ctx, repo)
        if pr is None or pr.status != "active":
            state = "no pull request" if pr is None else f"pull request {pr.id} is {pr.status}"
            raise StepError(f"nothing to {action}: {state} (run this step to open one)")
        person = inputs["as"]
        names = {r.name.lower(): r.name for r in pr.reviewers}
        if person.lower() not in names:
            raise StepError(f"{person} is not a reviewer of pull request {pr.id} (its "
                            f"reviewers: {', '.join(names.values())})")
        prs = ctx.target.pull_requests
        comment = inputs.get("comment", "")
        if comment:
            prs.comment(repo, pr.id, names[person.lower()], comment)
        pr = prs.vote(repo, pr.id, names[person.lower()], 10 if action == "approve" else -10)
        done = "approved" if action == "approve" else "rejected"
        ctx.log(f"{person} {done} pull request {pr.id}"
                + (f": {comment}" if comment else ""))
        if action == "approve":
            self._complete_if_approved(ctx, repo, pr)

    def verify(self, ctx: StepContext) -> Verdict:
        try:
            repo = repository(ctx)
        except NotFound as exc:
            return Verdict.of(Check("pull request", False, str(exc), "run devops-project first"))
        pr = latest_request(ctx, repo)
        branch = ctx.value("branch")
        if pr is None or pr.status == "abandoned":
            what = (f"no pull request from {branch} into {TARGET_BRANCH}" if pr is None else
                    f"pull request {pr.id} was abandoned")
            return Verdict.of(Check("pull request", False, what, "run this step to open one"))
        checks = [Check("pull request", True,
                        f"{pr.id} from {branch} into {TARGET_BRANCH}: {pr.status}")]
        why = blocker(pr) if pr.status == "active" else ""
        if why.startswith("rejected"):
            said = self._rejections(ctx, repo, pr)
            checks.append(Check(
                "review", False, f"{why}{': ' + said if said else ''}",
                f"fix it on your branch {branch} (edit, then run this step: it commits, pushes "
                "and asks for a new review), or talk it over with the reviewer"))
        elif why:
            reviewers = [r.name for r in pr.reviewers if r.required and r.vote < 5]
            checks.append(Check(
                "review", False, f"{votes(pr)} ({why})",
                f"{reviewers[0] if reviewers else 'the reviewer'} approves with: labtui --step "
                f"pull-request --headless --approve --as {reviewers[0] if reviewers else 'NAME'}"
                " (or on this step's page in the app)"))
        else:
            checks.append(Check("review", True, votes(pr)))
        checks.append(Check(
            "merged", pr.status == "completed" and bool(pr.merge_commit),
            f"merged into {TARGET_BRANCH} as {pr.merge_commit[:10]}" if pr.merge_commit else
            f"not merged into {TARGET_BRANCH} yet",
            "it is completed once the reviewer approves"))
        return Verdict(tuple(checks))

    def _rejections(self, ctx: StepContext, repo: GitRepository, pr: PullRequest) -> str:
        """What the rejecting reviewers said last."""
        rejecting = {r.name.lower() for r in pr.reviewers if r.vote == -10}
        said: dict[str, str] = {}
        for comment in ctx.target.pull_requests.comments(repo, pr.id):
            if comment.author.lower() in rejecting:
                said[comment.author] = comment.text
        return "; ".join(f"{author} said {text!r}" for author, text in said.items())

    def plan(self, ctx: StepContext) -> list[Change]:
        try:
            repo = repository(ctx)
        except NotFound as exc:
            return [Change("create", "pull request", f"{ctx.value('branch')}→{TARGET_BRANCH}",
                           f"once {exc}")]
        pr = latest_request(ctx, repo)
        ref = f"{ctx.value('branch')}→{TARGET_BRANCH}"
        if pr is None or pr.status == "abandoned":
            return [Change("change", "branch", ctx.value("branch"),
                           f"commit '{COMMIT_MESSAGE}' and push"),
                    Change("create", "pull request", ref,
                           f"reviewer {ctx.value('reviewer')}")]
        if pr.status == "completed":
            return [Change("keep", "pull request", ref, f"{pr.id} completed")]
        why = blocker(pr)
        return [Change("keep" if why else "change", "pull request", ref,
                       why or "approved: complete it (merge into master)")]


class VariableGroupStep(Step):
    """The pipeline environment's variable group, linked to the pipeline Key Vault."""

    id = "variable-group"
    title = "Link a variable group to the pipeline Key Vault"
    section = "Pipelines"
    summary = ("A library variable group whose variables are the pipeline Key Vault's secrets "
               "(the ten of the secrets step, and compute-name, db-workspace-name, "
               "db-access-token, db-cluster-id, model-name, image-name), read when a pipeline "
               "runs.")
    requires = ("secrets", "devops-project")
    environment = "pipeline"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, RESOURCE_GROUP, KEY_VAULT,
              SERVICE_PRINCIPAL, VARIABLE_GROUP)

    def run(self, ctx: StepContext) -> None:
        org, project = organization(ctx), ctx.value("devops-project")
        name, vault = ctx.value("variable-group"), ctx.value("key-vault")
        groups = ctx.target.variable_groups
        try:
            groups.get(org, project, name)
        except NotFound:
            ctx.journal.record_once(records.VariableGroup(org, project, name))
        group = groups.create_linked(org, project, name, vault, GROUP_SECRETS,
                                     service_connection=ctx.value("service-principal"))
        ctx.log(f"variable group {group.name!r} linked to key vault {group.vault} through the "
                f"service connection {ctx.value('service-principal')}: "
                f"{len(group.variables)} secrets")

    def verify(self, ctx: StepContext) -> Verdict:
        org, project = organization(ctx), ctx.value("devops-project")
        name, vault = ctx.value("variable-group"), ctx.value("key-vault")
        try:
            group = ctx.target.variable_groups.get(org, project, name)
        except NotFound as exc:
            return Verdict.of(Check("variable group", False, str(exc), "run this step"))
        checks = [Check("variable group", True, group.name),
                  Check("linked vault", group.vault.lower() == vault.lower(),
                        f"linked to {group.vault or 'no key vault'}",
                        f"link it to {vault} (roll back and run this step)")]
        have = [v.name for v in group.variables]
        missing = [n for n in GROUP_SECRETS if n.lower() not in {h.lower() for h in have}]
        extra = [h for h in have if h.lower() not in {n.lower() for n in GROUP_SECRETS}]
        checks.append(Check(
            "variables", not missing and not extra,
            f"{len(have)} secrets by name" if not missing and not extra else
            "; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                      + ([f"not the lab's: {', '.join(extra)}"] if extra else [])),
            "roll back and run this step"))
        # Read live, as a pipeline run does: each variable's value is the vault's secret now.
        # No value is ever written out; the credentials among them are masked besides, in
        # case anything else prints them (names like "pipeline" are not: masking those would
        # blank every line that names the environment).
        unreadable: list[str] = []
        try:
            uri = ctx.target.vault.get_vault(resource_ref(ctx, KEY_VAULTS, "key-vault")).uri
        except NotFound as exc:
            checks.append(Check("vault secrets", False, str(exc),
                                "run the key-vault step for pipeline"))
            return Verdict(tuple(checks))
        for variable in group.variables:
            try:
                value = ctx.target.vault.get_secret(uri, variable.name)
            except NotFound:
                unreadable.append(variable.name)
                continue
            if variable.name in CREDENTIALS:
                ctx.secret(value)
            ctx.log(f"{variable.name} = •••• (key vault {group.vault})")
        checks.append(Check(
            "vault secrets", not unreadable,
            f"all {len(group.variables)} readable in {group.vault}" if not unreadable else
            f"{group.vault} has no {', '.join(unreadable)}",
            "run the secrets step for pipeline (labtui --step secrets --env pipeline "
            "--headless)"))
        return Verdict(tuple(checks))

    def plan(self, ctx: StepContext) -> list[Change]:
        org, project = organization(ctx), ctx.value("devops-project")
        name = ctx.value("variable-group")
        try:
            ctx.target.variable_groups.get(org, project, name)
        except NotFound:
            return [Change("create", "variable group", name,
                           f"linked to {ctx.value('key-vault')}: {len(GROUP_SECRETS)} secrets")]
        return [Change("keep", "variable group", name)]


# --- build-pipeline ---------------------------------------------------------------------------

PIPELINE_FILE = "azure-pipelines.yml"
TRAINING_SCRIPT = "ci/train_on_cluster.py"
TRAINING_NOTEBOOK = "/Shared/Project_One/train_model_ci"
"""Where the training script imports the notebook (assets/ci/train_on_cluster.py says it too);
its MLflow runs go to the experiment of that name."""
RUN_TIMEOUT = 3600.0
FOLLOW_SECONDS = 2.0
PIPELINE_NAME = Field(
    "build-pipeline-name", "Build pipeline", default="model-build",
    validate=naming_rule("image-repository"),
    help="The build pipeline's name in the DevOps project.",
)


def pipeline_files(ctx: StepContext) -> dict[str, str]:
    """The files the step commits (repository path → text): the pipeline, written for Azure
    DevOps, with the attendee's base image and CA bundle, and its training script."""
    root = assets_root() / "ci"
    text = (root / PIPELINE_FILE).read_text(encoding="utf-8")
    text = text.replace("    value: python:3.11-slim\n",
                        f"    value: {ctx.value('base-image')}\n", 1)
    bundle = ctx.values.get("ca-bundle", "")
    if bundle:
        text = text.replace("    value: ''\n", f"    value: '{bundle}'\n", 1)
    return {PIPELINE_FILE: text,
            TRAINING_SCRIPT: (root / "train_on_cluster.py").read_text(encoding="utf-8")}


def find_pipeline(ctx: StepContext) -> Pipeline | None:
    try:
        return ctx.target.pipelines.get(organization(ctx), ctx.value("devops-project"),
                                        ctx.value("build-pipeline-name"))
    except NotFound:
        return None


def last_master_run(ctx: StepContext, pipeline: Pipeline) -> PipelineRun | None:
    return next((run for run in ctx.target.pipelines.runs(pipeline)
                 if run.branch == TARGET_BRANCH), None)


class BuildPipelineStep(Step):
    """The CI build: a YAML pipeline on master that trains on the pipeline cluster, builds
    and tests the inference image, and publishes the results."""

    id = "build-pipeline"
    title = "Define the build pipeline"
    section = "Pipelines"
    summary = ("Commit azure-pipelines.yml to master: on every push to master (so every "
               "completed pull request) it trains the model on the pipeline cluster, builds "
               "the inference image and its test image, runs the tests and publishes their "
               "results, the coverage and the artifacts. Its first run must be green.")
    requires = ("pull-request", "variable-group", "upload-data")
    """upload-data: the training reads the census file from the pipeline data lake."""
    environment = "pipeline"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, RESOURCE_GROUP, KEY_VAULT,
              VARIABLE_GROUP, PIPELINE_NAME, BASE_IMAGE, CA_BUNDLE, DATABRICKS_WORKSPACE,
              ML_WORKSPACE, MODEL_NAME)

    def run(self, ctx: StepContext) -> None:
        repo = repository(ctx)
        self._check_token(ctx)
        self._commit_files(ctx, repo)
        pipelines = ctx.target.pipelines
        name = ctx.value("build-pipeline-name")
        pipeline = find_pipeline(ctx)
        if pipeline is None:
            ctx.journal.record_once(records.BuildPipeline(repo.organization, repo.project,
                                                          name))
            pipeline = pipelines.create(repo, name, PIPELINE_FILE)
            ctx.log(f"defined pipeline {pipeline.name} from {PIPELINE_FILE} on "
                    f"{TARGET_BRANCH}: {pipeline.url}")
        # What the runs make besides their own records: the images, and on the pipeline
        # workspaces the imported notebook, its MLflow runs and the model they register.
        ctx.journal.record_once(records.PipelineImages(f"{repo.project}/{pipeline.name}"))
        ml_workspace = ctx.value("ml-workspace-name")
        ctx.journal.record_once(records.Notebook(
            TRAINING_NOTEBOOK, workspace=ctx.value("databricks-workspace"),
            **host_fields(databricks_host(ctx, env="pipeline"))))
        ctx.journal.record_once(records.Experiment(TRAINING_NOTEBOOK, workspace=ml_workspace))
        ctx.journal.record_once(records.Model(ml_workspace, ctx.value("model-name")))
        head = ctx.target.devops.branches(repo)[TARGET_BRANCH]
        runs = [r for r in pipelines.runs(pipeline)
                if r.branch == TARGET_BRANCH and r.commit == head]
        run = runs[0] if runs and runs[0].state not in ("failed", "canceled") else None
        if run is None:
            run = pipelines.queue(pipeline, branch=TARGET_BRANCH)
            why = (f"run {runs[0].id} of this commit {runs[0].state}: it runs again" if runs
                   else "the last push came before the pipeline existed")
            ctx.log(f"queued run {run.id} of {pipeline.name} on {TARGET_BRANCH} "
                    f"({head[:10]}): {why}")
        else:
            ctx.log(f"run {run.id} of {pipeline.name} was queued by the push of {head[:10]} "
                    f"to {TARGET_BRANCH} (CI trigger)")
        try:
            done = self._follow(ctx, run)
        except Cancelled:
            pipelines.cancel(run)
            raise
        ctx.outputs.set("build-run-id", str(done.id))
        for line in run_tree(done, pipelines.timeline(done)):
            ctx.log(line)
        self._publish(ctx, done)
        if done.state != "succeeded":
            raise StepError(f"build run {done.id} {done.state}: {self._why(ctx, done)}")
        ctx.log(f"build run {done.id} succeeded: {done.url}")

    def pipeline_run(self, ctx: StepContext) -> PipelineRun | None:
        """The last run on master (the one verify judges), while it runs too."""
        pipeline = find_pipeline(ctx)
        return last_master_run(ctx, pipeline) if pipeline is not None else None

    def _check_token(self, ctx: StepContext) -> None:
        """The run trains with the vault's db-access-token: a token the pipeline workspace
        does not accept would fail it minutes in, so say so now."""
        vault = ctx.value("key-vault")
        try:
            uri = ctx.target.vault.get_vault(resource_ref(ctx, KEY_VAULTS, "key-vault")).uri
            token = ctx.secret(ctx.target.vault.get_secret(uri, "db-access-token"))
            workspace = ctx.target.vault.get_secret(uri, "db-workspace-name")
        except NotFound as exc:
            raise StepError(f"{exc}: run the secrets step for pipeline (labtui --step "
                            "secrets --env pipeline --headless)") from None
        if not ctx.target.databricks.check_token(databricks_host(ctx, env="pipeline"), token):
            raise StepError(f"db-access-token in {vault} is not a token of the Databricks "
                            f"workspace {workspace}, so the pipeline could not train: give a "
                            "token of that workspace as databricks-token (or none: the "
                            "workspace issues one), then run the secrets step for pipeline "
                            "again")

    def _follow(self, ctx: StepContext, run: PipelineRun) -> PipelineRun:
        """Wait for the run, its log lines going to the step's log as they come, in short
        waits so that a stop is heard."""
        heard = 0
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            ctx.check_cancelled()
            position = 0

            def hear(line: str) -> None:
                nonlocal heard, position
                position += 1
                if position > heard:
                    heard = position
                    ctx.log(line)

            try:
                return ctx.target.pipelines.wait(run, FOLLOW_SECONDS, on_log=hear)
            except Transient:
                if time.monotonic() > deadline:
                    raise StepError(f"build run {run.id} did not finish within "
                                    f"{RUN_TIMEOUT:.0f} s") from None

    def _commit_files(self, ctx: StepContext, repo: GitRepository) -> None:
        import tempfile

        files = pipeline_files(ctx)
        with tempfile.TemporaryDirectory(prefix="labtui-pipeline-") as folder:
            copy = ctx.target.workstation.working_copy(repo, Path(folder) / "clone")
            copy.repo()
            copy.checkout(TARGET_BRANCH)
            changed = False
            for path, text in files.items():
                target = copy.path / path
                if target.exists() and target.read_text(encoding="utf-8") == text:
                    continue
                if not target.exists():
                    ctx.journal.record_once(records.PipelineFile(
                        path, TARGET_BRANCH, repo.organization, repo.project, repo.name))
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                changed = True
            if not changed:
                ctx.log(f"{PIPELINE_FILE} on {TARGET_BRANCH} is up to date")
                return
            commit = copy.commit_all("Add the build pipeline")
            copy.push(TARGET_BRANCH)
            ctx.log(f"committed {', '.join(files)} to {TARGET_BRANCH}: {(commit or '')[:10]}")

    def _publish(self, ctx: StepContext, run: PipelineRun) -> None:
        """The run's log, test results, coverage and artifacts, as test-image shows its."""
        pipelines = ctx.target.pipelines
        folder = ctx.artifacts / "build-run"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        log = folder / "pipeline-log.txt"
        log.write_text("\n".join(pipelines.logs(run)) + "\n", encoding="utf-8")
        ctx.publish("pipeline-log", log)
        published = {artifact.name for artifact in pipelines.artifacts(run)}
        for name in sorted(published):
            pipelines.download_artifact(run, name, str(folder / name))
            ctx.publish(f"artifact-{name}", folder / name)
        junit, coverage = folder / "test_results" / "junit.xml", \
            folder / "test_results" / "coverage.xml"
        if junit.exists():
            ctx.publish("junit", junit)
        if coverage.exists():
            ctx.publish("coverage", coverage)
        tests = pipelines.test_results(run)
        failed = sum(1 for test in tests if test.outcome == "failed")
        line_rate = pipelines.coverage(run)
        ctx.log(f"build run {run.id}: {len(tests)} tests published, {failed} failed; coverage "
                + (f"{line_rate.line_rate:.0%}" if line_rate else "not published"))

    def _why(self, ctx: StepContext, run: PipelineRun) -> str:
        """The first failed test, else the first error the log shows."""
        pipelines = ctx.target.pipelines
        failed = [test for test in pipelines.test_results(run) if test.outcome == "failed"]
        if failed:
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            return f"test {failed[0].name} failed: {failed[0].message}{more}"
        step = ""
        for line in pipelines.logs(run):
            if line.startswith("##[section]Starting: "):
                step = line.removeprefix("##[section]Starting: ")
            elif line.startswith("##[error]"):
                error = line.removeprefix("##[error]")
                return f"{step}: {error}" if step else error
        return "see the pipeline log"

    def verify(self, ctx: StepContext) -> Verdict:
        pipeline = find_pipeline(ctx)
        if pipeline is None:
            return Verdict.of(Check("pipeline", False,
                                    f"no pipeline {ctx.value('build-pipeline-name')}",
                                    "run this step"))
        checks = [Check("pipeline", True, f"{pipeline.name} from {pipeline.yaml_path}")]
        run = last_master_run(ctx, pipeline)
        if run is None:
            return Verdict((*checks, Check("last run on master", False, "it has not run yet",
                                           "run this step")))
        pipelines = ctx.target.pipelines
        if run.state not in ("succeeded", "failed", "canceled"):
            return Verdict((*checks, Check(
                "last run on master", False, f"run {run.id} is {run.state}",
                "run this step: it waits for the run and shows its results")))
        checks.append(Check("last run on master", run.state == "succeeded",
                            f"run {run.id} {run.state}" + (
                                "" if run.state == "succeeded" else f": {self._why(ctx, run)}"),
                            "fix it on your branch and complete a new pull request, then run "
                            "this step"))
        tests = pipelines.test_results(run)
        checks.append(Check("test results", bool(tests),
                            f"{len(tests)} tests published" if tests else "none published",
                            "the pipeline's PublishTestResults@2 task must find junit.xml"))
        coverage = pipelines.coverage(run)
        checks.append(Check("coverage", coverage is not None,
                            f"line rate {coverage.line_rate:.0%}" if coverage else
                            "none published",
                            "the pipeline's PublishCodeCoverageResults@2 task must find "
                            "coverage.xml"))
        return Verdict(tuple(checks))

    def plan(self, ctx: StepContext) -> list[Change]:
        name = ctx.value("build-pipeline-name")
        pipeline = find_pipeline(ctx)
        last = last_master_run(ctx, pipeline) if pipeline is not None else None
        if last is not None and self.verify(ctx).ok:
            return [Change("keep", "pipeline", name),
                    Change("keep", "pipeline run", str(last.id), f"{last.state} on master")]
        changes = [Change("change", "branch", TARGET_BRANCH, f"commit {PIPELINE_FILE}")]
        if pipeline is None:
            changes.append(Change("create", "pipeline", name, f"from {PIPELINE_FILE}"))
        else:
            changes.append(Change("keep", "pipeline", name))
        changes.append(Change("create", "pipeline run", f"{name} on {TARGET_BRANCH}",
                              "train on the pipeline cluster, build and test the image"))
        return changes
