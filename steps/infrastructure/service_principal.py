"""The `service-principal` step: the principal notebooks mount the data lake with."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from labtui_steps.fields import (
    PREFIX,
    RESOURCE_GROUP,
    SERVICE_PRINCIPAL,
    STORAGE_ACCOUNT,
    TENANT_ID,
)
from labtui_steps.infrastructure import records
from labtui_steps.infrastructure.common import (
    FILE_SYSTEM,
    ROLE,
    InfrastructureStep,
    check_that,
    exists,
    found,
    resource_ref,
    together,
    undo_together,
)

from labtui.step import (
    Change,
    Check,
    StepContext,
    StepError,
    Verdict,
)
from labtui.targets.base import (
    AclEntry,
    NotFound,
)
from labtui.targets.resources import (
    STORAGE_ACCOUNTS,
)
from labtui.targets.resources import ServicePrincipal as Principal


class ServicePrincipal(InfrastructureStep):
    """The service principal notebooks mount the data lake with: ACL rwx + default on
    `datalake`, and "Storage Blob Data Contributor" on the account."""

    id = "service-principal"
    place = 8
    title = "Create the service principal and give it the data lake"
    summary = ("az ad sp create-for-rbac; rwx and default ACL on 'datalake'; role Storage "
               "Blob Data Contributor on the storage account.")
    requires = ("data-lake",)
    inputs = (PREFIX, TENANT_ID, RESOURCE_GROUP, STORAGE_ACCOUNT, SERVICE_PRINCIPAL)

    def run(self, ctx: StepContext) -> None:
        principals, lake = ctx.target.principals, ctx.target.datalake
        name, tenant = ctx.value("service-principal"), ctx.value("tenant-id")
        # The account and the principal do not need each other: one round trip.
        account, principal = together(
            ctx, partial(lake.get_account, resource_ref(ctx, STORAGE_ACCOUNTS, "storage-account")),
            found(partial(principals.find_service_principal, name)))
        if isinstance(principal, NotFound):
            ctx.journal.record_once(records.ServicePrincipal(name))
            ctx.log(f"create service principal {name}")
            principal = principals.create_service_principal(name, tenant)
            if principal.password is None:
                raise StepError(f"the target created {name} without a password") from None
            password = ctx.secret(principal.password)
        else:
            if principal.tenant_id.lower() != tenant.lower():
                raise StepError(f"service principal {name} belongs to tenant "
                                f"{principal.tenant_id}, not to tenant-id {tenant}")
            known = ctx.outputs.get("sp-password")
            if known is not None and principals.check_password(principal.app_id, known):
                password = known
            else:
                # The password is shown only once; without it, make a new one (as
                # `az ad sp credential reset` does) rather than leave the lab without it.
                ctx.log(f"service principal {name} exists; reset its password")
                password = ctx.secret(principals.reset_password(principal.app_id))
        ctx.outputs.set("sp-app-id", principal.app_id)
        ctx.outputs.set("sp-object-id", principal.object_id)
        ctx.outputs.set("sp-password", password, secret=True)
        # What the lab has attendees copy next to the app id (the secrets step stores it too).
        ctx.outputs.set("sp-token-endpoint",
                        f"https://login.microsoftonline.com/{tenant}/oauth2/token")
        ctx.check_cancelled()
        wanted = _acl_for(principal.object_id)
        # The ACL and the role are each read, and then made, together.
        acl, has_role = together(
            ctx, partial(lake.get_acl, account.dfs_endpoint, FILE_SYSTEM),
            partial(_has_role, ctx, principal.object_id, account.id))
        grants: list[Callable[[], object]] = []
        if not set(wanted) <= set(acl):
            ctx.journal.record_once(records.DatalakeAcl(
                principal.object_id, account=account.dfs_endpoint, file_system=FILE_SYSTEM))
            ctx.log(f"give {name} read, write and execute on {FILE_SYSTEM}, also as default")
            grants.append(partial(lake.update_acl, account.dfs_endpoint, FILE_SYSTEM, "", wanted))
        if not has_role:
            ctx.journal.record_once(records.RoleAssignment(
                f"{ROLE} on {account.name}", principal=principal.object_id, role=ROLE,
                scope=account.id))
            ctx.log(f"assign {ROLE} on {account.name} to {name}")
            grants.append(partial(principals.assign_role, principal.object_id, ROLE, account.id))
        ctx.gather(*grants)

    def verify(self, ctx: StepContext) -> Verdict:
        principals, lake = ctx.target.principals, ctx.target.datalake
        name = ctx.value("service-principal")
        # Two round trips: the principal and the account, then what is read with their ids.
        principal, account = together(
            ctx, found(partial(principals.find_service_principal, name)),
            found(partial(lake.get_account,
                          resource_ref(ctx, STORAGE_ACCOUNTS, "storage-account"))))
        if isinstance(principal, NotFound):
            return Verdict.of(Check("service principal", False, f"{name} does not exist",
                                    "run this step to create it"))
        password = ctx.outputs.get("sp-password")

        def signs_in() -> bool:
            return password is not None and principals.check_password(principal.app_id,
                                                                       password)

        if isinstance(account, NotFound):
            return Verdict((*_principal_checks(ctx, principal, signs_in()),
                            Check("data lake access", False, str(account),
                                  "run the data-lake step")))
        password_ok, acl, has_role = together(
            ctx, signs_in, found(partial(lake.get_acl, account.dfs_endpoint, FILE_SYSTEM)),
            partial(_has_role, ctx, principal.object_id, account.id))
        checks = _principal_checks(ctx, principal, password_ok)
        if isinstance(acl, NotFound):
            return Verdict((*checks, Check("data lake access", False, str(acl),
                                           "run the data-lake step")))
        missing = [str(entry) for entry in _acl_for(principal.object_id) if entry not in acl]
        checks += [
            check_that("data lake ACL", f"{FILE_SYSTEM} lacks {', '.join(missing)}"
                   if missing else None, "run this step again"),
            check_that("role", None if has_role else
                   f"{name} does not have {ROLE} on {account.name}", "run this step again"),
        ]
        return Verdict(tuple(checks))

    def rollback(self, ctx: StepContext) -> None:
        """The principal and its grants go together: the ACL entries and the role assignment
        are removed by the principal's object id, which needs the principal no more than the
        principal needs them (Azure lists an assignment whose principal is gone by that id)."""
        undo_together(ctx, list(reversed(ctx.journal.entries())))

    def plan(self, ctx: StepContext) -> list[Change]:
        name, account = ctx.value("service-principal"), ctx.value("storage-account")
        acl = f"{FILE_SYSTEM}: rwx, also as default"
        role = f"{ROLE} on {account}"
        if not exists(lambda: ctx.target.principals.find_service_principal(name)):
            return [Change("create", "service principal", name, "with a new password"),
                    Change("create", "data lake ACL", acl), Change("create", "role assignment",
                                                                  role)]
        failed = {check.name for check in self.verify(ctx).failed}
        no_lake = "data lake access" in failed
        return [
            Change("change" if "password" in failed else "keep", "service principal", name,
                   "a new password (the recorded one does not sign in)"
                   if "password" in failed else ""),
            Change("create" if no_lake or "data lake ACL" in failed else "keep",
                   "data lake ACL", acl),
            Change("create" if no_lake or "role" in failed else "keep", "role assignment",
                   role),
        ]


def _principal_checks(ctx: StepContext, principal: Principal, signs_in: bool) -> list[Check]:
    """The checks of the principal itself: its tenant, its recorded app id, its password."""
    name, tenant = ctx.value("service-principal"), ctx.value("tenant-id")
    return [
        Check("service principal", True),
        check_that("tenant", None if principal.tenant_id.lower() == tenant.lower() else
               f"{name} is in tenant {principal.tenant_id}, not {tenant}"),
        check_that("app id recorded", None if ctx.outputs.get("sp-app-id") == principal.app_id
               else "the app id is not recorded for the secrets step", "run this step again"),
        check_that("password", None if signs_in else
               "the recorded password does not sign in (or none is recorded)",
               "run this step again: it resets the password"),
    ]


def _acl_for(object_id: str) -> list[AclEntry]:
    return [AclEntry("access", "user", object_id, "rwx"),
            AclEntry("default", "user", object_id, "rwx")]


def _has_role(ctx: StepContext, principal_id: str, scope: str) -> bool:
    return any(a.principal_id == principal_id and a.role == ROLE
               for a in ctx.target.principals.role_assignments(scope))
