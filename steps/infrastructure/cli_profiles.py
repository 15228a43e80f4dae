"""The `cli-profiles` step: a Databricks CLI token profile per workspace in `.databrickscfg`."""

from __future__ import annotations

import hmac
from functools import partial

from labtui_steps.databricks_host import databricks_host
from labtui_steps.fields import (
    DATABRICKS_PROFILE,
    DATABRICKS_TOKEN,
    DATABRICKS_WORKSPACE,
    PREFIX,
    RESOURCE_GROUP,
)
from labtui_steps.infrastructure import records
from labtui_steps.infrastructure.common import (
    InfrastructureStep,
    check_that,
    issue_token,
)

from labtui.step import (
    Change,
    Check,
    StepContext,
    StepError,
    Verdict,
)
from labtui.targets.base import (
    NotFound,
    Profile,
)


class CliProfiles(InfrastructureStep):
    """A token profile per workspace in `.databrickscfg`, as `databricks configure` writes.

    The token is `databricks-token` when the attendee gives one; otherwise the workspace
    issues one (as "Generate new token" does) and the step keeps it as its secret output
    `token`. A token already in the profile that the workspace accepts is kept.
    """

    id = "cli-profiles"
    place = 7
    title = "Configure the Databricks CLI profiles"
    summary = ("Write a token profile for the workspace to ~/.databrickscfg (read by both "
               "Databricks CLIs and databricks-sdk), with your token or one the workspace "
               "issues.")
    requires = ("databricks",)
    inputs = (PREFIX, RESOURCE_GROUP, DATABRICKS_WORKSPACE, DATABRICKS_PROFILE, DATABRICKS_TOKEN)

    def _usable_token(self, ctx: StepContext, existing: Profile | None) -> str | None:
        """The token the profile should hold without issuing one: the given one, else the
        one this step kept, else the profile's own, if the workspace accepts them."""
        given = ctx.values.get("databricks-token", "")
        if given:
            return given
        host, databricks = databricks_host(ctx), ctx.target.databricks
        candidates = [candidate for candidate in dict.fromkeys(
            (ctx.outputs.get("token"), existing.token if existing else None)) if candidate]
        # One round trip: the workspace is asked about every candidate at once.
        accepted = ctx.gather(*(partial(databricks.check_token, host, candidate)
                                for candidate in candidates))
        return next((candidate for candidate, ok in zip(candidates, accepted, strict=True)
                     if ok), None)

    def _existing(self, ctx: StepContext) -> Profile | None:
        try:
            return ctx.target.workstation.read_profile(ctx.value("databricks-profile"))
        except NotFound:
            return None

    def run(self, ctx: StepContext) -> None:
        databricks = ctx.target.databricks
        profile = ctx.value("databricks-profile")
        plane = databricks_host(ctx)
        host = plane.url
        existing = self._existing(ctx)
        moved = existing is not None and existing.host.rstrip("/") != host
        if moved and existing is not None and not databricks.check_token(plane, existing.token):
            raise StepError(
                f"profile [{profile}] in {ctx.target.workstation.profile_file()} is for another "
                f"workspace ({existing.host}); choose another databricks-profile")
        token = self._usable_token(ctx, existing)
        if token is None:
            token = issue_token(ctx, f"labtui cli-profiles [{profile}]")
        if not ctx.values.get("databricks-token"):
            ctx.outputs.set("token", token, secret=True)
        if existing is None:
            ctx.journal.record_once(records.DatabricksProfile(profile))
            ctx.log(f"add profile [{profile}] for {host} to "
                    f"{ctx.target.workstation.profile_file()}")
        elif moved:  # its token is this workspace's: the workspace's address changed
            ctx.log(f"point profile [{profile}] at {host} (it had {existing.host})")
        elif existing.token == token:
            ctx.log(f"profile [{profile}] is already set up")
            return
        else:
            ctx.log(f"update the token of profile [{profile}]")
        ctx.target.workstation.write_profile(profile, host, token)

    def verify(self, ctx: StepContext) -> Verdict:
        databricks = ctx.target.databricks
        profile, workspace = ctx.value("databricks-profile"), ctx.value("databricks-workspace")
        try:
            plane = databricks_host(ctx)
        except NotFound as exc:
            return Verdict.of(Check("workspace", False, str(exc), "run the databricks step"))
        host = plane.url
        path = ctx.target.workstation.profile_file()
        try:
            found = ctx.target.workstation.read_profile(profile)
        except NotFound:
            return Verdict.of(Check("profile", False, f"there is no [{profile}] in {path}",
                                    "run this step to add it"))
        given = ctx.values.get("databricks-token", "")
        if given:
            token_problem = None if hmac.compare_digest(found.token.encode(), given.encode()) \
                else f"[{profile}] holds another token than databricks-token"
        else:
            token_problem = None if databricks.check_token(plane, found.token) else (
                f"{workspace} does not accept the token in [{profile}] (revoked, expired or "
                "never issued by it)")
        loose = path.stat().st_mode & 0o077
        return Verdict.of(
            Check("profile", True),
            check_that("host", None if found.host.rstrip("/") == host else
                   f"[{profile}] points at {found.host}, not {host}", "run this step again"),
            check_that("token", token_problem, "run this step again to write a token"),
            check_that("file permissions", f"{path} can be read by other users ({oct(loose)})"
                   if loose else None, f"chmod 600 {path}"),
        )

    def plan(self, ctx: StepContext) -> list[Change]:
        profile, workspace = ctx.value("databricks-profile"), ctx.value("databricks-workspace")
        path = str(ctx.target.workstation.profile_file())
        existing = self._existing(ctx)
        try:
            token = self._usable_token(ctx, existing)
        except NotFound:  # no workspace yet: the databricks step makes it first
            token = ctx.values.get("databricks-token") or None
        changes = [] if token else [Change("create", "access token", workspace,
                                           "issued by the workspace for the profile")]
        if existing is None:
            return [*changes, Change("create", "CLI profile", profile, path)]
        try:
            host = databricks_host(ctx).url
        except NotFound:
            host = existing.host.rstrip("/")
        if existing.host.rstrip("/") != host:
            return [*changes, Change("change", "CLI profile", profile, f"{path}: host {host}")]
        same = token is not None and existing.token == token
        return [*changes, Change("keep" if same else "change", "CLI profile", profile,
                                 path if same else f"{path}: a new token")]
