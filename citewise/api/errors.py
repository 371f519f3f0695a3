"""Every error the API returns is JSON shaped like OpenAI's: ``{"error": {"message", "type", "code", "param"}}``.

Errors a user can meet are `CitewiseError`; their ``status`` and
``code`` become the response's. Anything else is a bug: 500, logged with its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from citewise.errors import CitewiseError

logger = logging.getLogger("citewise.api")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    502: "service_unavailable",
    503: "service_unavailable",
}
BUG_MESSAGE = "citewise failed on this request; see the server log"

# A generic code per status, for errors raised without one (HTTP-level errors, middleware).
_STATUS_CODES = {
    400: "invalid_request",
    401: "bad_key",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


class ApiError(CitewiseError):
    """An error of the HTTP layer itself (auth, size, unknown route...), with its status."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message, status=status, code=code or status_code(status))
        self.param = param


def status_code(status: int) -> str:
    """The generic machine code of an HTTP status (``invalid_request`` for unknown 4xx)."""
    return _STATUS_CODES.get(status, "service_unavailable" if status >= 500 else "invalid_request")


def error_body(status: int, message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """The JSON body of an error response (the message is made one line)."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    line = " ".join(str(message).split())
    return {"error": {"message": line, "type": kind, "code": code or status_code(status), "param": param}}


def citewise_error_body(exc: CitewiseError) -> dict[str, Any]:
    """The JSON body for an error a user can meet."""
    return error_body(exc.status, exc.message, exc.code, getattr(exc, "param", None))


def validation_message(errors: list[Any]) -> tuple[str, str | None]:
    """One line from pydantic's error list, and the parameter it concerns."""
    if not errors:
        return "the request is malformed", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    kind = first.get("type")
    if kind == "json_invalid":
        return "the request body is not valid JSON; send a JSON object", None
    if kind == "missing" and not loc:
        return "the request body is missing; send a JSON object with 'Content-Type: application/json'", None
    if kind in ("model_attributes_type", "dict_type") and not loc:
        return "the request body must be a JSON object sent with 'Content-Type: application/json'", None
    where = f"{param}: " if param else ""
    msg = " ".join(str(first.get("msg", "invalid value")).split())
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{where}{msg}{more}", param
