"""ASGI middleware: request body size limits, and the API key on the MCP endpoint."""

from __future__ import annotations

import hmac
import json
from typing import Any

from citewise.api.errors import error_body

Scope = dict[str, Any]


async def _send_error(send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(error_body(status, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses bodies over the limit with 413 before the app parses them; JSON bodies must be JSON.

    ``POST /v1/documents`` may carry ``upload_limit`` bytes, every other ``/v1`` and ``/mcp``
    request ``default_limit``. A declared Content-Length over the limit is refused at once; a
    body without one (chunked) is read up to the limit and then replayed to the app. A ``/v1``
    JSON endpoint given another Content-Type (``text/plain``, curl's form default) reads the
    body as JSON if it is; otherwise the reply is a one-line 415.
    """

    def __init__(self, app: Any, default_limit: int, upload_limit: int) -> None:
        self.app = app
        self.default_limit = default_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        guarded = path.startswith("/v1/") or path == "/mcp" or path.startswith("/mcp/")
        if scope["type"] != "http" or not guarded or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and path.rstrip("/") == "/v1/documents"
        limit = self.upload_limit if upload else self.default_limit
        too_big = f"the request body is larger than the {_size(limit)} limit"
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _send_error(send, 400, "the Content-Length header is not a number")
                return
            if length > limit:
                await _send_error(send, 413, too_big)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_error(send, 413, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if path.startswith("/v1/") and not upload and scope["method"] in ("POST", "PUT", "PATCH") and body:
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if not _is_json_type(ctype):
                if not _is_json(body):
                    message_415 = "the body is not JSON; send a JSON object with 'Content-Type: application/json'"
                    await _send_error(send, 415, message_415)
                    return
                scope = _with_json_type(scope)
        await self.app(scope, _replay(body, receive), send)


def _is_json_type(ctype: bytes) -> bool:
    return ctype == b"application/json" or ctype.endswith(b"+json")


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def _with_json_type(scope: Scope) -> Scope:
    """The request as if sent with ``Content-Type: application/json``."""
    headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _size(limit: int) -> str:
    return f"{limit / 2**20:.0f} MB" if limit >= 2**20 else f"{limit // 1024} KB"


class McpAuth:
    """Requires ``Authorization: Bearer <key>`` on every request under ``prefix``."""

    def __init__(self, app: Any, api_key: str, prefix: str = "/mcp") -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode()
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                message = "missing or wrong API key; send the header 'Authorization: Bearer <key>'"
                await _send_error(send, 401, message, [(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


BAD_HTTP = "the request is not valid HTTP (check its headers, e.g. Content-Length); nothing was done"


def json_http_protocol() -> type:
    """uvicorn's HTTP protocol, answering requests it cannot parse with a one-line JSON 400 (not plain text).

    Such requests (a Content-Length that is not a number...) never reach the app, so no
    middleware can answer them; pass the class as ``uvicorn.run(..., http=...)``.
    """
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # uvicorn picks h11 when httptools is missing; so do we
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    class JsonErrorProtocol(Base):  # type: ignore[misc, valid-type]
        def send_400_response(self, msg: str) -> None:
            body = json.dumps(error_body(400, BAD_HTTP, "bad_http")).encode()
            head = (
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head + body)
            self.transport.close()

    return JsonErrorProtocol
