"""Azure Databricks personal access tokens over databricks-sdk (`tokens`): what the CLI
profiles hold."""

from __future__ import annotations

from typing import Any

from labtui.targets.azure.databricks.plane import AzureDatabricksPlane, check_host
from labtui.targets.resources import AccessToken, DatabricksHost


class AzureTokens(AzureDatabricksPlane):
    """Issue, list, check and revoke tokens."""

    def create_token(self, host: DatabricksHost, comment: str, *,
                     lifetime_seconds: int | None = None) -> AccessToken:
        w = self._client(host)
        with self._sdk(f"a token of Databricks workspace {host.workspace_id}"):
            made = w.tokens.create(comment=comment, lifetime_seconds=lifetime_seconds)
        info = _token(made.token_info)
        return AccessToken(info.token_id, info.comment, info.created, info.expires,
                           value=str(made.token_value))

    def tokens(self, host: DatabricksHost) -> list[AccessToken]:
        w = self._client(host)
        with self._sdk(f"the tokens of Databricks workspace {host.workspace_id}"):
            found = [_token(t) for t in w.tokens.list()]
        return sorted(found, key=lambda t: (t.created, t.token_id))

    def check_token(self, host: DatabricksHost, value: str) -> bool:
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config
        from databricks.sdk.errors import PermissionDenied, Unauthenticated

        check_host(host)
        probe = WorkspaceClient(config=Config(host=self.data_plane or host.url, token=value,
                                              auth_type="pat",
                                              retry_timeout_seconds=self.retry_seconds))
        with self._sdk(f"a token of Databricks workspace {host.workspace_id}"):
            try:
                list(probe.tokens.list())
            except (Unauthenticated, PermissionDenied):
                refused = True
            else:
                refused = False
        if refused:
            self.tokens(host)  # a host that names no workspace is NotFound, not "refused"
        return not refused

    def delete_token(self, host: DatabricksHost, token_id: str) -> bool:
        if token_id not in {t.token_id for t in self.tokens(host)}:
            return False
        w = self._client(host)
        with self._sdk(f"token {token_id} of Databricks workspace {host.workspace_id}"):
            w.tokens.delete(token_id)
        return True


def _token(info: Any) -> AccessToken:
    expiry = int(info.expiry_time or 0)
    return AccessToken(str(info.token_id), str(info.comment or ""),
                       int(info.creation_time or 0) / 1000,
                       expiry / 1000 if expiry > 0 else None)
