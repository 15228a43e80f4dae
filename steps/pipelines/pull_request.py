"""`pull-request`: the dev loop's work committed and pushed, a pull request into master with a
reviewer, completed once approved.

The pull request is where a person acts: the reviewer approves it (or rejects it, saying why)
through the step's actions, headless with `--approve --as NAME` / `--reject --as NAME
--comment TEXT`, and in the app on the step's page.
"""

from __future__ import annotations

from collections.abc import Mapping

from labtui_steps.devops.common import repository, working_copy_path
from labtui_steps.fields import BRANCH, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, PREFIX
from labtui_steps.pipelines import records
from labtui_steps.pipelines.common import TARGET_BRANCH

from labtui.actions import APPROVE, REJECT
from labtui.step import Change, Check, Field, Step, StepContext, StepError, Verdict
from labtui.targets.base import VOTES, GitRepository, NotFound, PullRequest
from labtui.validation import naming_rule

COMMIT_MESSAGE = "works"
"""The lab's commit message for the dev loop's work (`git commit -m "works"`)."""
DESCRIPTION = ("The inference container builds, its unit tests pass and the coverage is where "
               "we want it: please review.")

REVIEWER = Field(
    "reviewer", "Reviewer", validate=naming_rule("person"),
    help="Who reviews your pull request (a colleague's user name, e.g. grace); they approve "
    "or reject it with the step's approve / reject actions.",
)


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
    place = 1
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
