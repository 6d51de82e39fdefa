"""The error family and the one envelope every non-2xx response uses.

Code below the HTTP edge raises ``AppError`` subclasses; the handlers here turn
them, the framework's own errors and anything unexpected into
``{"success": false, "status": ..., "error": {...}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

logger = logging.getLogger("bucket_syncs.errors")

RETRY_AFTER_SECONDS = 1


class AppError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "InternalServerError"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details
        self.headers = dict(headers or {})


class BadRequestError(AppError):
    status = 400
    type = "BadRequestError"


class UnauthorizedError(AppError):
    status = 401
    type = "UnauthorizedError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class ForbiddenError(AppError):
    status = 403
    type = "ForbiddenError"


class NotFoundError(AppError):
    status = 404
    type = "NotFoundError"

    @classmethod
    def of(cls, resource: str, identifier: str) -> NotFoundError:
        return cls(
            f"{resource.replace('_', ' ').capitalize()} '{identifier}' was not found.",
            code=f"{resource}_not_found",
            details={"resource": resource, "id": identifier},
        )


class MethodNotAllowedError(AppError):
    status = 405
    type = "MethodNotAllowedError"


class AlreadyExistsError(AppError):
    status = 409
    type = "AlreadyExistsError"


class PayloadTooLargeError(AppError):
    status = 413
    type = "PayloadTooLargeError"


class ValidationFailedError(AppError):
    status = 422
    type = "ValidationError"

    @classmethod
    def of(cls, problems: Sequence[Mapping[str, Any]]) -> ValidationFailedError:
        errors = [
            {
                "type": str(p.get("type", "value_error")),
                "location": [str(part) for part in p.get("loc", ())],
                "message": str(p.get("msg", "Invalid value.")),
            }
            for p in problems
        ]
        first = errors[0] if errors else {"location": [], "message": "Invalid request."}
        where = ".".join(first["location"]) or "request"
        return cls(
            f"Invalid request: {where}: {first['message']}",
            code="validation_error",
            details={"validation_errors": errors},
        )


class TooManyRequestsError(AppError):
    status = 429
    type = "TooManyRequestsError"


class InternalServerError(AppError):
    status = 500
    type = "InternalServerError"


class ServiceUnavailableError(AppError):
    status = 503
    type = "ServiceUnavailableError"

    def __init__(self, message: str = "The database is unavailable; retry shortly.") -> None:
        super().__init__(
            message,
            code="database_unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


_TYPE_BY_STATUS: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        MethodNotAllowedError,
        AlreadyExistsError,
        PayloadTooLargeError,
        ValidationFailedError,
        TooManyRequestsError,
        InternalServerError,
        ServiceUnavailableError,
    )
}


def error_type_for(status: int) -> str:
    known = _TYPE_BY_STATUS.get(status)
    if known is not None:
        return known.type
    return "BadRequestError" if status < 500 else "InternalServerError"


def envelope(
    status: int,
    error_type: str,
    message: str,
    *,
    code: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> bytes:
    error: dict[str, Any] = {"message": message, "type": error_type}
    if code is not None:
        error["code"] = code
    if details is not None:
        error["details"] = details
    return orjson.dumps({"success": False, "status": status, "error": error})


def render(error: AppError) -> Response:
    body = envelope(error.status, error.type, error.message, code=error.code, details=error.details)
    return Response(
        body, status_code=error.status, headers=error.headers, media_type="application/json"
    )


def internal_error_body() -> bytes:
    return envelope(
        500, "InternalServerError", "An unexpected error occurred.", code="internal_error"
    )


async def _app_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return render(exc)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [_clean(p) for p in exc.errors()]
    return render(ValidationFailedError.of(problems))


def _clean(problem: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the raw input echo and exception objects pydantic puts in ``ctx``."""
    message = str(problem.get("msg", "Invalid value."))
    if problem.get("type") == "json_invalid":
        message = "The request body is not valid JSON."
    return {"type": problem.get("type"), "loc": problem.get("loc", ()), "msg": message}


_HTTP_MESSAGES = {
    404: "The requested route does not exist.",
    405: "This method is not allowed on this route.",
}


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = _HTTP_MESSAGES.get(status) or str(exc.detail)
    code = {404: "route_not_found", 405: "method_not_allowed"}.get(status)
    headers = dict(exc.headers or {})
    body = envelope(status, error_type_for(status), message, code=code)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
