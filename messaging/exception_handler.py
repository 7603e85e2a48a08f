"""The one place that turns errors into HTTP: JSON `{"error", "message", "details"}` always."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.db import InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core_domain.errors import (
    BatchValidationError,
    DomainError,
    DomainValidationError,
    IdempotencyConflictError,
    InvalidTransitionError,
    MessageNotFoundError,
    SchedulerStateError,
    StorageUnavailableError,
)

logger = logging.getLogger(__name__)

HTTP_STATUS: dict[type[DomainError], int] = {
    DomainValidationError: status.HTTP_400_BAD_REQUEST,
    BatchValidationError: status.HTTP_400_BAD_REQUEST,
    MessageNotFoundError: status.HTTP_404_NOT_FOUND,
    InvalidTransitionError: status.HTTP_409_CONFLICT,
    IdempotencyConflictError: status.HTTP_409_CONFLICT,
    SchedulerStateError: status.HTTP_409_CONFLICT,
}


UNEXPECTED_ERROR = "The server hit an unexpected error; it has been logged"


def error_body(code: int, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """SPEC's error body; `details` is always an object, empty when there is nothing to add."""
    return {"error": HTTPStatus(code).phrase, "message": message, "details": details or {}}


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, OperationalError | InterfaceError | StorageUnavailableError):
        logger.warning("Database unavailable: %s", exc)
        response = Response(
            error_body(503, "The database is unavailable; try again shortly"), status=503
        )
        response["Retry-After"] = "5"
        return response
    if isinstance(exc, DomainError):
        return _domain_response(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
        return Response(error_body(500, UNEXPECTED_ERROR), status=500)
    response.data = _reshaped(exc, response)
    return response


def _domain_response(exc: DomainError) -> Response:
    code = next(
        (HTTP_STATUS[k] for k in type(exc).__mro__ if k in HTTP_STATUS),
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
    if code == 500:
        logger.error("Unmapped domain error: %s", exc)
    details: dict[str, Any] | None = None
    if isinstance(exc, DomainValidationError):
        details = exc.errors
    elif isinstance(exc, BatchValidationError):
        details = {str(index): fields for index, fields in exc.errors.items()}
    return Response(error_body(code, str(exc), details), status=code)


def _reshaped(exc: Exception, response: Response) -> dict[str, Any]:
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        details = data if isinstance(data, dict) else {"body": data}
        return error_body(response.status_code, _first_message(details), details)
    message = data.get("detail", "") if isinstance(data, dict) else str(data)
    return error_body(response.status_code, str(message) or HTTPStatus(response.status_code).phrase)


def _first_message(details: Any) -> str:
    """`Invalid request: phoneNumber: This field is required.` — the first problem, readable."""
    path: list[str] = []
    node = details
    while isinstance(node, dict | list) and node:
        if isinstance(node, dict):
            key = next(iter(node))
            if key != "non_field_errors":
                path.append(str(key))
            node = node[key]
        else:
            node = node[0]
    where = ".".join(path)
    return f"Invalid request: {where + ': ' if where else ''}{node}"
