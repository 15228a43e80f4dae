"""The lab's "Defining your Release Pipeline": a two-stage release of the image the build
pipeline built. QA deploys on its own after a green build and is smoke-tested; Production
waits for a release manager's approval on the `production` environment (two days at most),
then deploys and is smoke-tested the same way.

The approval is a person's act: the step's approve / reject actions (headless `--approve --as
NAME`, `--reject --as NAME --comment WHY`; in the app on the step's page), or the proctor's
`labtui proctor approve` for the whole room. Everything here goes through the ports
(pipelines, environments, containers), so any target that has them runs the same step.
"""

from __future__ import annotations

import json
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from labtui_steps.devops.common import assets_root, organization, repository
from labtui_steps.fields import DEVOPS_ORGANIZATION, DEVOPS_PROJECT, IMAGE_NAME, PREFIX
from labtui_steps.images import PURPOSE_LABEL, workspace_label
from labtui_steps.pipelines.common import PIPELINE_NAME
from labtui_steps.pipelines.release_records import (
    Deployment,
    DeploymentEnvironment,
    ReleaseDefinition,
    ReleaseFiles,
)
from labtui_steps.pipelines.run_tree import run_tree

from labtui.actions import APPROVE, REJECT
from labtui.durations import duration_rule, duration_text, seconds
from labtui.step import Change, Check, Field, Step, StepContext, StepError, Verdict
from labtui.targets.base import (
    Approval,
    ApprovalCheck,
    Conflict,
    GitRepository,
    NotFound,
    Pipeline,
    PipelineRun,
    TargetError,
)
from labtui.validation import naming_rule

RELEASE_PIPELINE = "Release Pipeline"
SOURCE_LINE = "    source: model-build  # the build pipeline's name (build-pipeline-name)\n"
"""The line of release-pipeline.yml naming the build pipeline whose runs it releases: written
with the build step's `build-pipeline-name` (Azure resolves no expression in `resources:`)."""
RELEASE_FILES = ("release-pipeline.yml", "release-deploy.yml")
RELEASE_BRANCH = "master"
SLOTS = ("qa", "production")
STAGE_OF = {"qa": "QA", "production": "Production"}
SCORING_PORT = 5001
SMOKE_RECORD = {"age": 37, "hours-per-week": 40.0, "sex": "Female",
                "occupation": "Exec-managerial"}
SMOKE_RANGE = (50_000.0, 400_000.0)
"""The estimated wages a sound model gives the smoke record (release-deploy.yml's bounds)."""
RUN_TIMEOUT = 1800.0
"""How long the step follows a run before it stops at a stage that waits for approval."""

def _the_reviewer(values: Mapping[str, str], env: str | None) -> str | None:
    return values.get("reviewer") or None


APPROVER = Field(
    "approver", "Release manager", validate=naming_rule("person"), derive=_the_reviewer,
    help="Who approves the Production stage (a colleague's user name; by default your pull "
    "request's reviewer); they approve or reject it with the step's approve / reject "
    "actions.",
)
APPROVAL_TIMEOUT = Field(
    "approval-timeout", "Approval timeout", default="2d", validate=duration_rule,
    help="How long Production waits for the approval before the stage fails: a number with "
    "a unit, s, m, h or d (the lab's two days: 2d; 90m; 30s).",
)


def approval_seconds(ctx: StepContext) -> int:
    """The approval-timeout value in seconds (validated before any hook runs)."""
    return seconds(ctx.value("approval-timeout"))


def approval_window(ctx: StepContext) -> str:
    """The approval-timeout, as the attendee reads it (`2d`)."""
    return duration_text(approval_seconds(ctx))


def yaml_plain(name: str) -> bool:
    """Whether YAML reads `name` written plain as the same string."""
    import yaml

    try:
        return bool(yaml.safe_load(f"k: {name}") == {"k": name})
    except yaml.YAMLError:
        return False


def release_files(ctx: StepContext) -> dict[str, str]:
    """The release's files as committed (name → text): release-pipeline.yml releases the
    runs of the pipeline named `build-pipeline-name`."""
    files = {name: (assets_root() / name).read_text(encoding="utf-8") for name in RELEASE_FILES}
    text = files[RELEASE_FILES[0]]
    if SOURCE_LINE not in text:
        raise StepError(f"{RELEASE_FILES[0]} in the lab's assets names no build pipeline "
                        f"source line ({SOURCE_LINE.strip()!r}): reinstall labtui")
    name = ctx.value("build-pipeline-name")
    # Plain as the lab writes it, quoted where YAML would read another type (`2024`, `1.5`).
    plain = yaml_plain(name)
    files[RELEASE_FILES[0]] = text.replace(SOURCE_LINE, SOURCE_LINE.replace(
        "source: model-build ", f"source: {name if plain else json.dumps(name)} ", 1), 1)
    return files


def release_pipeline(ctx: StepContext) -> Pipeline:
    return ctx.target.pipelines.get(organization(ctx), ctx.value("devops-project"),
                                    RELEASE_PIPELINE)


def latest_run(ctx: StepContext, pipeline: Pipeline) -> PipelineRun | None:
    runs = ctx.target.pipelines.runs(pipeline)
    return runs[0] if runs else None


def run_approvals(ctx: StepContext, run: PipelineRun) -> list[Approval]:
    """The approvals the run asked for, every status, oldest first."""
    return [a for a in ctx.target.environments.approvals(
        organization(ctx), ctx.value("devops-project"), status=None) if a.run_id == run.id]


def approve_hint(approver: str) -> str:
    return (f"{approver} approves with: labtui --step release-pipeline --headless --approve "
            f"--as {approver} (or rejects with --reject --as {approver} --comment WHY; or on "
            "this step's page in the app; a proctor approves the room's with labtui proctor "
            "approve --stage production)")


def outcome(approval: Approval, window: str = "") -> str:
    """What became of an approval, in one line (`window`: how long it could wait, `2d`)."""
    if approval.status == "approved":
        return f"approved by {approval.approved_by}" + (
            f": {approval.comment}" if approval.comment else "")
    if approval.status == "rejected":
        return f"rejected by {approval.approved_by}" + (
            f": {approval.comment}" if approval.comment else "")
    if approval.status == "timed out":
        return (f"timed out after {window}" if window else "timed out") + (
            " (nobody approved or rejected it in time)")
    return "waiting for " + " or ".join(approval.approvers)


def smoke_test(url: str) -> tuple[bool, str]:
    """POST the smoke record to a scoring endpoint: (within the range, what it answered)."""
    request = urllib.request.Request(url, data=json.dumps(SMOKE_RECORD).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        return False, f"POST {url} failed: {getattr(exc, 'reason', exc)}"
    try:
        estimate = json.loads(body)["estimated_wages"]
    except (ValueError, KeyError, TypeError):
        return False, f"POST {url} answered {body[:120]!r}, without estimated_wages"
    low, high = SMOKE_RANGE
    ok = isinstance(estimate, int | float) and low <= estimate <= high
    return ok, (f"estimated_wages {estimate:.0f}" if isinstance(estimate, int | float)
                else f"estimated_wages {estimate!r}") + (
        "" if ok else f", outside {low:.0f}..{high:.0f}")


class ReleasePipelineStep(Step):
    """Commit the release YAML, define the release pipeline on it, gate Production with an
    approval, and follow the release of the last green build."""

    id = "release-pipeline"
    place = 4
    title = "Release to QA, then to Production on approval"
    section = "Pipelines"
    summary = ("A two-stage release of the image your build pipeline built: QA deploys on its "
               "own after a green build and answers a smoke test; Production waits for the "
               "release manager's approval (two days at most), then deploys and answers too.")
    requires = ("build-pipeline",)
    """After the build pipeline lands: ("build-pipeline",) (its green run is what is released)."""
    environment = "pipeline"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, IMAGE_NAME, PIPELINE_NAME, APPROVER,
              APPROVAL_TIMEOUT)
    actions = (APPROVE, REJECT)
    manual = True
    """Production's approval is a person's: the run takes the release as far as it goes and
    stops where it waits for the release manager (the actions); `solve` (a proctor,
    `--solve`) approves it as them."""

    # --- run -------------------------------------------------------------------------------

    def run(self, ctx: StepContext) -> None:
        repo = repository(ctx)
        self._commit_files(ctx, repo)
        self._environments(ctx)
        pipeline = self._define(ctx, repo)
        # A release the build's trigger starts serves them too: recorded before any run.
        self._record_deployments(ctx)
        run = latest_run(ctx, pipeline)
        if run is None or run.state in ("failed", "canceled"):
            run = ctx.target.pipelines.queue(pipeline, branch=RELEASE_BRANCH,
                                             variables=self._variables(ctx))
            ctx.log(f"queued release run {run.id} of {pipeline.name} on {RELEASE_BRANCH}")
        elif run.state == "succeeded":
            ctx.log(f"release run {run.id} succeeded already")
            return
        self._follow(ctx, run)

    def solve(self, ctx: StepContext) -> None:
        """The reference answer: release, then approve Production as the release manager."""
        self.run(ctx)
        org, project = organization(ctx), ctx.value("devops-project")
        if any(a.environment.lower() == "production"
               for a in ctx.target.environments.approvals(org, project)):
            self.act(ctx, "approve", {"as": ctx.value("approver"),
                                      "comment": "solved: the reference release"})

    def _variables(self, ctx: StepContext) -> dict[str, str]:
        owner = ctx.target.containers.owner
        if owner is None:
            raise StepError("the Containers port has no owner: the release could not label "
                            "its containers")
        return {"labtui.owner": owner}

    def _commit_files(self, ctx: StepContext, repo: GitRepository) -> None:
        """The release YAML on master, committed in a clone of its own (the attendee's
        working copy and branch stay as they are)."""
        with tempfile.TemporaryDirectory(prefix="labtui-release-") as folder:
            copy = ctx.target.workstation.working_copy(repo, Path(folder) / "clone")
            copy.repo()
            copy.checkout(RELEASE_BRANCH)
            files = release_files(ctx)
            changed = [name for name in RELEASE_FILES
                       if not (copy.path / name).exists()
                       or (copy.path / name).read_text(encoding="utf-8") != files[name]]
            if not changed:
                ctx.log(f"{', '.join(RELEASE_FILES)} are on {RELEASE_BRANCH} already")
                return
            ctx.journal.record_once(ReleaseFiles(repo.organization, repo.project, repo.name,
                                                 RELEASE_BRANCH, RELEASE_FILES))
            for name in changed:
                (copy.path / name).write_text(files[name], encoding="utf-8")
            commit = copy.commit_all("Add the release pipeline (QA, then Production on "
                                     "approval)")
            copy.push(RELEASE_BRANCH)
            ctx.log(f"committed {', '.join(changed)} to {RELEASE_BRANCH}"
                    + (f" as {commit[:10]}" if commit else ""))

    def _environments(self, ctx: StepContext) -> None:
        org, project = organization(ctx), ctx.value("devops-project")
        environments = ctx.target.environments
        for slot in SLOTS:
            try:
                environments.get(org, project, slot)
            except NotFound:
                ctx.journal.record_once(DeploymentEnvironment(org, project, slot))
                environments.create(org, project, slot,
                                    description=f"The release's {STAGE_OF[slot]} stage")
                ctx.log(f"created environment {slot}")
        production = environments.get(org, project, "production")
        # As Azure's approval check keeps it: minutes (a fraction for a test's seconds).
        check = ApprovalCheck((ctx.value("approver"),), approval_seconds(ctx) / 60,
                              "Approve once QA's product team signs the release off.")
        try:
            environments.add_approval_check(production, check)
        except Conflict as exc:  # the settings changed: the check follows them
            ctx.log(f"{exc}: replacing it")
            environments.remove_checks(production)
            environments.add_approval_check(production, check)
        ctx.log(f"environment production needs {check.approvers[0]}'s approval within "
                f"{approval_window(ctx)}")

    def _define(self, ctx: StepContext, repo: GitRepository) -> Pipeline:
        try:
            return release_pipeline(ctx)
        except NotFound:
            ctx.journal.record_once(ReleaseDefinition(repo.organization, repo.project,
                                                      RELEASE_PIPELINE))
        pipeline = ctx.target.pipelines.create(repo, RELEASE_PIPELINE, RELEASE_FILES[0])
        ctx.log(f"defined pipeline {pipeline.name} from {pipeline.yaml_path}")
        return pipeline

    def _record_deployments(self, ctx: StepContext) -> None:
        for slot in SLOTS:
            ctx.journal.record_once(Deployment(f"{ctx.value('image-name')}:{slot}", slot))

    def _follow(self, ctx: StepContext, run: PipelineRun) -> PipelineRun:
        """Follow a run until it finishes or waits for an approval; its log goes to ours."""
        run = ctx.target.pipelines.wait(run, RUN_TIMEOUT, on_log=ctx.log)
        for line in run_tree(run, ctx.target.pipelines.timeline(run)):
            ctx.log(line)
        if run.waiting_for:
            ctx.log(f"release run {run.id}: {STAGE_OF.get(run.waiting_for, run.stage)} waits "
                    f"for {ctx.value('approver')}'s approval on {run.waiting_for}")
        elif run.state == "succeeded":
            ctx.log(f"release run {run.id} succeeded: QA and Production are served")
        else:
            why = "; ".join(outcome(a, approval_window(ctx)) for a in run_approvals(ctx, run)
                            if a.status in ("rejected", "timed out"))
            raise StepError(f"release run {run.id} {run.state} at stage {run.stage or '?'}"
                            + (f": its approval {why}" if why else ""))
        return run

    def pipeline_run(self, ctx: StepContext) -> PipelineRun | None:
        """The latest release run, the one a pending approval holds."""
        try:
            return latest_run(ctx, release_pipeline(ctx))
        except NotFound:
            return None

    # --- actions ---------------------------------------------------------------------------

    def act(self, ctx: StepContext, action: str, inputs: Mapping[str, str]) -> None:
        org, project = organization(ctx), ctx.value("devops-project")
        environments = ctx.target.environments
        pending = [a for a in environments.approvals(org, project)
                   if a.environment.lower() == "production"]
        if not pending:
            raise StepError(f"nothing to {action}: no release waits for an approval on "
                            "production (run this step to start a release)")
        approval, person = pending[-1], inputs["as"]
        comment = inputs.get("comment", "")
        try:
            if action == "approve":
                environments.approve(approval, person, comment)
            else:
                environments.reject(approval, person, comment)
        except Conflict as exc:
            raise StepError(str(exc)) from None
        done = "approved" if action == "approve" else "rejected"
        ctx.log(f"{person} {done} the {approval.stage} stage of release run "
                f"{approval.run_id}" + (f": {comment}" if comment else ""))
        run = ctx.target.pipelines.run(release_pipeline(ctx), approval.run_id)
        try:
            self._follow(ctx, run)
        except StepError as exc:
            if action == "approve":
                raise
            ctx.log(str(exc))  # the rejection did what it was asked: verify tells the rest

    # --- verify ----------------------------------------------------------------------------

    def verify(self, ctx: StepContext) -> Verdict:
        try:
            pipeline = release_pipeline(ctx)
        except NotFound as exc:
            return Verdict.of(Check("release pipeline", False, str(exc), "run this step"))
        except TargetError as exc:
            return Verdict.of(Check("release pipeline", False, str(exc),
                                    "use a target with pipelines"))
        checks = [Check("release pipeline", True, f"{pipeline.name} ({pipeline.yaml_path})")]
        checks.append(self._gate_check(ctx))
        run = latest_run(ctx, pipeline)
        if run is None:
            checks.append(Check("release", False, "no release run yet",
                                "run this step (a green build on master starts one too)"))
            return Verdict(tuple(checks))
        approvals = run_approvals(ctx, run)
        approver = ctx.value("approver")
        # Decided while no process followed the run (it goes on when one does): as good as
        # failed already, and said so.
        decided = [a for a in approvals if a.status in ("rejected", "timed out")]
        if run.waiting_for and not decided:
            checks.append(Check("QA", True, f"run {run.id}: served and smoke-tested"))
            checks.append(Check("Production", False,
                                f"run {run.id}: Production is waiting for {approver}'s "
                                "approval",
                                approve_hint(approver)))
            return Verdict(tuple(checks))
        if run.state in ("queued", "running") and not decided:
            checks.append(Check("release", False, f"run {run.id} is {run.state}",
                                "wait for it, then verify again"))
            return Verdict(tuple(checks))
        if run.state != "succeeded":
            if decided:
                reason = outcome(decided[-1], approval_window(ctx))
                hint = ("fix what the approver asks for on your branch and take it through a "
                        "pull request: the next green build starts a new release; or run this "
                        "step to release the same build again" if decided[-1].status ==
                        "rejected" else
                        f"run this step to start a new release, and have {approver} approve "
                        f"it within {approval_window(ctx)}")
                checks.append(Check("QA", True, f"run {run.id}: served and smoke-tested"))
                checks.append(Check("Production", False,
                                    f"run {run.id} failed: its approval {reason}", hint))
            else:
                checks.append(Check("release", False,
                                    f"run {run.id} {run.state} at stage {run.stage or '?'}",
                                    "its log says why (labtui logs release-pipeline); fix it "
                                    "and run this step again"))
            return Verdict(tuple(checks))
        approved = [outcome(a) for a in approvals if a.status == "approved"]
        checks.append(Check("approval", True, "; ".join(approved) or "no approval needed"))
        for slot in SLOTS:
            checks.append(self._serving(ctx, slot))
        return Verdict(tuple(checks))

    def _gate_check(self, ctx: StepContext) -> Check:
        try:
            production = ctx.target.environments.get(
                organization(ctx), ctx.value("devops-project"), "production")
        except NotFound as exc:
            return Check("approval check", False, str(exc), "run this step")
        wanted = (ctx.value("approver").lower(), approval_seconds(ctx))
        for check in production.checks:
            if ({a.lower() for a in check.approvers}, round(check.timeout_minutes * 60)) == \
                    ({wanted[0]}, wanted[1]):
                return Check("approval check", True,
                             f"production: {check.approvers[0]} within "
                             f"{duration_text(check.timeout_minutes * 60)}")
        return Check("approval check", False,
                     f"production has no approval check by {ctx.value('approver')} within "
                     f"{approval_window(ctx)}", "run this step")

    def _serving(self, ctx: StepContext, slot: str) -> Check:
        """The slot's container answers the smoke record within range."""
        name = STAGE_OF[slot]
        try:
            found = [c for c in ctx.target.containers.containers(workspace_label(ctx))
                     if c.labels.get(PURPOSE_LABEL) == f"release-{slot}"
                     and c.status == "running"]
        except TargetError as exc:
            return Check(f"{name} serving", False, str(exc),
                         "start a Docker engine, then verify again")
        if not found:
            return Check(f"{name} serving", False, f"no {slot} container runs",
                         "run this step to release again")
        port = found[0].ports.get(SCORING_PORT)
        if port is None:
            return Check(f"{name} serving", False, f"{found[0].name} publishes no port",
                         "run this step to release again")
        ok, said = smoke_test(f"http://127.0.0.1:{port}/score")
        return Check(f"{name} serving", ok, f"{found[0].name}: {said}",
                     "its log says why (labtui logs release-pipeline)")

    # --- plan ------------------------------------------------------------------------------

    def plan(self, ctx: StepContext) -> list[Change]:
        try:
            pipeline = release_pipeline(ctx)
        except (NotFound, TargetError):
            return [Change("change", "branch", RELEASE_BRANCH,
                           f"commit {', '.join(RELEASE_FILES)}"),
                    Change("create", "environment", "qa"),
                    Change("create", "environment", "production",
                           f"approval by {ctx.value('approver')} within "
                           f"{approval_window(ctx)}"),
                    Change("create", "pipeline", RELEASE_PIPELINE, RELEASE_FILES[0]),
                    Change("create", "release run", RELEASE_BRANCH,
                           "QA, then Production on approval")]
        run = latest_run(ctx, pipeline)
        if run is not None and run.state == "succeeded":
            return [Change("keep", "release run", str(run.id), "succeeded")]
        if run is not None and run.waiting_for:
            return [Change("keep", "release run", str(run.id),
                           f"waits for {ctx.value('approver')}'s approval")]
        return [Change("create", "release run", RELEASE_BRANCH,
                       "QA, then Production on approval")]
