"""What every route of the local Databricks REST API shares: the authenticated request, the
state the routes answer with (`RouteState`, which `routes.Api` sets up), and how the
documented shapes' plain fields are read (numbers, flags, base64, absolute paths)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labtui.targets.local.databricks import LocalDatabricks
from labtui.targets.local.databricks_api.errors import invalid
from labtui.targets.local.databricks_api.runs import JobRuns
from labtui.targets.resources import DatabricksHost


@dataclass
class Request:
    """One authenticated call: the host of the workspace its token belongs to and its
    arguments."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    workspace: DatabricksHost
    user_token: bool = False
    """Signed with a Microsoft Entra user's token (not a personal access token, not a service
    principal's): what a Key Vault-backed scope needs."""

    def get(self, name: str) -> Any:
        return self.body[name] if name in self.body else self.query.get(name)

    def arg(self, name: str) -> Any:
        value = self.get(name)
        if value is None or value == "":
            raise invalid(f"Missing required field: {name}")
        return value


class RouteState:
    """What the routes read: the sandbox's Databricks port, the job runs, and where a
    Key Vault-backed scope's vault is looked up (see `routes.Api`)."""

    databricks: LocalDatabricks
    host: str
    runs: JobRuns
    vault_exists: Callable[[str], bool] | None
    vault_secret_names: Callable[[str], list[str]] | None


def integer(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"{name} must be a number (got {value!r})") from None


def flag(value: Any) -> bool:
    """A boolean as JSON (true) or as a form or query field ("true") gives it."""
    return value is True or str(value).lower() == "true"


def decoded(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{name} is not valid base64") from None


def absolute_path(value: Any) -> str:
    path = str(value)
    if not path.startswith("/"):
        raise invalid(f"Path ({path}) must be absolute")
    return path.rstrip("/") or "/"
