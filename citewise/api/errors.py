"""Every error the API returns is JSON shaped like OpenAI's: ``{"error": {"message", "type", ...}}``."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("citewise.api")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error with its HTTP status and a one-line message."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


def error_body(status: int, message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """The JSON body of an error response."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "code": code, "param": param}}


def engine_error(exc: BaseException) -> ApiError | None:
    """The API error for an exception the engine raises on bad input or a bad store; None for bugs."""
    from citewise.assistant import ModeError
    from citewise.index.embed import EmbeddingModelError
    from citewise.index.store import StoreError
    from citewise.index.uploads import UploadError
    from citewise.rag.chat import QuestionError

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, QuestionError):
        return ApiError(400, str(exc), "invalid_question")
    if isinstance(exc, ModeError):
        return ApiError(400, str(exc), "mode_unavailable")
    if isinstance(exc, UploadError):
        return ApiError(400, str(exc), "invalid_upload")
    if isinstance(exc, StoreError | EmbeddingModelError):
        return ApiError(503, str(exc), "store_unavailable" if isinstance(exc, StoreError) else "model_unavailable")
    return None


def validation_message(errors: list[Any]) -> tuple[str, str | None]:
    """One line from pydantic's error list, and the parameter it concerns."""
    if not errors:
        return "the request is malformed", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON; send a JSON object", None
    where = f"{param}: " if param else ""
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{where}{first.get('msg', 'invalid value')}{more}", param
