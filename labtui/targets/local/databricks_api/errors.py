"""Errors as the Databricks REST API gives them: an HTTP status and a JSON body
`{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}`, which databricks-sdk turns into
its typed errors (NotFound, InvalidParameterValue …) and the legacy CLI prints."""

from __future__ import annotations

from typing import Any

from labtui.targets.base import Conflict, NotFound, TargetError


class ApiError(Exception):
    """An error answer of the REST API."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message}


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def already_exists(message: str) -> ApiError:
    return ApiError(400, "RESOURCE_ALREADY_EXISTS", message)


def unauthenticated(message: str) -> ApiError:
    return ApiError(401, "UNAUTHENTICATED", message)


def no_endpoint(method: str, path: str) -> ApiError:
    return ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")


def from_target_error(exc: TargetError) -> ApiError:
    """The answer for a port's error: NotFound → 404, Conflict → 400 RESOURCE_ALREADY_EXISTS,
    any other refusal → 400 INVALID_PARAMETER_VALUE."""
    if isinstance(exc, NotFound):
        return not_found(str(exc))
    if isinstance(exc, Conflict):
        return already_exists(str(exc))
    return invalid(str(exc))
