"""The FastAPI app: OpenAI-compatible chat, search, documents, health; MCP at /mcp, Gradio at /ui.

Endpoints are plain ``def`` functions, so FastAPI runs them in its worker threads and one
slow answer does not block the others (see `citewise.api.guard` for the LLM).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from citewise.api import openai_format as fmt
from citewise.api.errors import BUG_MESSAGE, ApiError, citewise_error_body, error_body, validation_message
from citewise.api.guard import CancelOnDisconnect, guarded_stream
from citewise.api.limits import BodyLimit, McpAuth
from citewise.api.models import (
    ChatCompletion,
    ChatCompletionRequest,
    DocumentList,
    DocumentOut,
    ErrorResponse,
    Health,
    ModelCard,
    ModelList,
    PassageOut,
    RemoveResponse,
    SearchRequest,
    SearchResponse,
    UploadResponse,
)
from citewise.api.parts import Pending, late_parts, mcp_app, mount_ui
from citewise.api.workspaces import WorkspaceState, chat_turn, model_cards, split_model, workspace_routes
from citewise.errors import CitewiseError

logger = logging.getLogger("citewise.api")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in [
        (400, "Malformed request or refused input"),
        (401, "Missing or wrong API key"),
        (404, "Unknown model or document"),
        (413, "Request body too large"),
        (415, "The body is not JSON"),
        (502, "The LLM server cannot be reached or failed (code llm_unavailable)"),
        (503, "The store or a model is unavailable"),
    ]
}
MAX_JSON_BYTES = 1024 * 1024
_BEARER = HTTPBearer(auto_error=False, description="The API key (CITEWISE_API_KEY), when one is set")


def create_app(
    assistant: Any,
    *,
    ui: bool | None = False,
    mcp: bool = True,
    max_json_bytes: int = MAX_JSON_BYTES,
    host: str = "127.0.0.1",
    ui_auth: tuple[str, str] | None = None,
    later: bool = False,
    announce: Callable[[Any], None] | None = None,
) -> FastAPI:
    """The HTTP service over ``assistant``.

    Args:
        assistant: the `Assistant` every request shares.
        ui: mount the Gradio chat at ``/ui``: True (required), None (if the UI module is
            installed) or False.
        mcp: serve the MCP tools over streamable HTTP at ``/mcp``.
        max_json_bytes: largest JSON body accepted; uploads may be ``settings.max_upload_mb``.
        host: the address served; on loopback, MCP refuses other Host headers (DNS rebinding).
        ui_auth: (user, password) the UI asks for (default: ``$CITEWISE_UI_AUTH``). With an
            API key set and no UI login, the UI is not mounted: every path needs credentials.
        later: build MCP and the UI in a thread once the server runs (``citewise serve``); until
            then their paths answer 503 with Retry-After, and ``/healthz`` says which parts are ready.
        announce: called with each late part (`citewise.api.late.Part`) when it is ready or failed.

    Returns:
        A FastAPI app; run it with uvicorn (``citewise serve`` does).
    """
    from citewise import __version__

    mcp_server = None
    if mcp and not later:
        from citewise.api.mcp_tools import build_mcp_server

        mcp_server = build_mcp_server(assistant)
    parts: dict[str, str] = {"api": "ready", "mcp": "off", "ui": "off"}  # what /healthz reports
    late = late_parts(assistant, parts, mcp=mcp, ui=ui, host=host, auth=ui_auth, announce=announce) if later else None
    app = FastAPI(
        title="citewise",
        version=__version__,
        description="Answers about your documents, with citations you can check. "
        "POST /v1/chat/completions speaks OpenAI's chat format.",
        lifespan=_lifespan(mcp_server, late),
    )
    key = assistant.settings.api_key
    upload_bytes = assistant.settings.max_upload_mb * 1024 * 1024
    app.add_middleware(BodyLimit, default_limit=max_json_bytes, upload_limit=upload_bytes + 64 * 1024)
    app.add_middleware(CancelOnDisconnect)  # a client that goes away stops its generation
    if key:
        app.add_middleware(McpAuth, api_key=key, prefix="/mcp")
    _add_error_handlers(app)
    router = APIRouter(prefix="/v1", dependencies=[Depends(_auth(key))], responses=ERRORS)
    spaces = WorkspaceState.for_assistant(assistant)  # collections and saved conversations
    _chat_routes(router, assistant, spaces)
    _document_routes(router, assistant, upload_bytes, spaces)
    workspace_routes(router, spaces)
    app.include_router(router)
    _health_route(app, assistant, parts)
    mounted = ["/v1", "/docs", "/healthz"]
    if late is not None:
        for part in late.parts:  # answered by Pending (503, or 401 without the key) until built
            app.mount(part.path, Pending(part, key))
            mounted.append(part.path)
    else:
        if mcp_server is not None:
            app.mount("/mcp", mcp_app(mcp_server, host))
            mounted.append("/mcp")
            parts["mcp"] = "ready"
        if ui is not False and mount_ui(app, assistant, required=bool(ui), auth=ui_auth):
            mounted.append("/ui")
            parts["ui"] = "ready"
    app.state.mounted = mounted
    app.state.parts = parts
    _index_route(app, mounted)
    return app


def _index_route(app: FastAPI, mounted: list[str]) -> None:
    """``/``: the chat UI when it is mounted, else a small JSON index of the endpoints."""

    @app.get("/", include_in_schema=False)
    def index() -> Any:
        if "/ui" in mounted:
            return RedirectResponse("/ui/")
        return {"service": "citewise", "endpoints": {path: _ENDPOINTS[path] for path in mounted}}

    app.head("/", include_in_schema=False)(index)


_ENDPOINTS = {
    "/v1": "OpenAI-compatible API: /v1/chat/completions, /v1/search, /v1/documents, /v1/models",
    "/docs": "interactive API documentation (OpenAPI schema at /openapi.json)",
    "/healthz": "liveness and store check",
    "/mcp": "MCP tools (streamable HTTP): ask, search, list_documents",
    "/ui": "the chat in the browser",
}


def _lifespan(mcp_server: Any, late: Any) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if mcp_server is not None:
                await stack.enter_async_context(mcp_server.session_manager.run())
            if late is not None:
                await stack.enter_async_context(late.running())
            yield

    return lifespan


def _auth(key: str) -> Any:
    def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
        if not key:
            return
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), key.encode()):
            raise ApiError(401, "missing or wrong API key; send the header 'Authorization: Bearer <key>'", "bad_key")

    return check


def _add_error_handlers(app: FastAPI) -> None:
    """The one place the HTTP API turns exceptions into replies: CitewiseError -> its status, else 500."""

    def reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(list(exc.errors()))
        return reply(400, error_body(400, message, "invalid_request", param))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "the request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405 and message == "Method Not Allowed":
            message = f"{request.method} is not allowed on {request.url.path}"
        return reply(exc.status_code, error_body(exc.status_code, message), getattr(exc, "headers", None))

    @app.exception_handler(CitewiseError)
    async def user_error(request: Request, exc: CitewiseError) -> JSONResponse:
        if exc.status >= 500:
            logger.warning("%s %s: %s", request.method, request.url.path, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return reply(exc.status, citewise_error_body(exc), headers)

    async def bug(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return reply(500, error_body(500, BUG_MESSAGE))

    for exc_type in (Exception, ValueError, RuntimeError, LookupError, TypeError, OSError):
        app.add_exception_handler(exc_type, bug)  # type: ignore[arg-type]


def _chat_routes(router: APIRouter, assistant: Any, spaces: WorkspaceState) -> None:
    from citewise.rag.modes import mode_names

    @router.get("/models", response_model=ModelList, summary="The answer modes, as models")
    def models() -> ModelList:
        cards = [ModelCard(id=fmt.DEFAULT_MODEL, description=f"the configured mode ({assistant.settings.mode})")]
        cards += [ModelCard(id=fmt.MODEL_PREFIX + m, description=f"{m} answers") for m in mode_names()]
        cards += model_cards(spaces, ModelCard)  # citewise/NAME: answers from collection NAME
        return ModelList(data=cards)

    @router.post(
        "/chat/completions",
        response_model=ChatCompletion,
        summary="Answer the last user message with citations (OpenAI chat format; stream=true for SSE)",
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    def chat_completions(body: ChatCompletionRequest) -> Any:
        base_model, model_collection = split_model(body.model)  # citewise/NAME picks collection NAME
        mode = fmt.mode_for_model(base_model, mode_names())
        question, history = fmt.split_messages(body)
        turn = chat_turn(spaces, body, model_collection, history)  # collection, saved history
        model = fmt.MODEL_PREFIX + (mode or assistant.settings.mode)
        items = turn.saving(spaces, question, guarded_stream(turn.assistant, question, turn.history, mode, body.top_k))
        first = next(items)  # errors before the first item (question, mode, store, LLM) get their status code
        if not body.stream:
            answer = first
            for item in items:
                answer = item
            return JSONResponse(turn.annotate(fmt.completion(answer, model, fmt.prompt_text(body))))
        stream = fmt.sse_stream(first, items, model, fmt.prompt_text(body))
        return StreamingResponse(stream, media_type="text/event-stream")

    @router.post("/search", response_model=SearchResponse, summary="Retrieve passages only (no answer)")
    def search(body: SearchRequest, collection: str | None = None) -> SearchResponse:
        passages = spaces.workspaces.existing(collection).search(body.query, top_k=body.top_k)
        return SearchResponse(query=body.query, passages=[_passage(p) for p in passages])


def _passage(p: Any) -> PassageOut:
    c = p.chunk
    return PassageOut(
        doc_id=c.doc_id,
        title=c.title,
        source=c.source,
        page=c.page,
        text=c.text,
        start=c.start,
        end=c.end,
        score=round(p.score, 6),
        dense_similarity=None if p.dense is None else round(p.dense, 4),
        dense_rank=p.dense_rank,
        keyword_rank=p.keyword_rank,
    )


def _document(d: Any) -> DocumentOut:
    return DocumentOut(**{k: getattr(d, k) for k in DocumentOut.model_fields})


async def _one_file(request: Request) -> None:
    """Refuse a form with more than one file: only one would be indexed, silently."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return  # FastAPI's own validation says what is missing
    form = await request.form()  # parsed once: the endpoint's File parameter reuses it
    names = [getattr(value, "filename", None) or key for key, value in form.multi_items() if hasattr(value, "read")]
    if len(names) > 1:
        raise ApiError(400, f"send one file per request; this one has {len(names)}", "too_many_files", "file")


def _document_routes(router: APIRouter, assistant: Any, upload_bytes: int, spaces: WorkspaceState) -> None:
    @router.get("/documents", response_model=DocumentList, summary="The indexed documents")
    def list_documents(collection: str | None = None) -> DocumentList:
        return DocumentList(documents=[_document(d) for d in spaces.workspaces.existing(collection).documents()])

    @router.post(
        "/documents",
        response_model=UploadResponse,
        status_code=201,
        summary="Upload and index a file (one per request)",
        dependencies=[Depends(_one_file)],
    )
    def upload_document(
        file: Annotated[UploadFile, File(description=".txt .md .html .pdf .docx")], collection: str | None = None
    ) -> UploadResponse:
        target = spaces.workspaces.get(collection)  # uploading into a new collection creates it
        data = file.file.read(upload_bytes + 1)
        if len(data) > upload_bytes:
            raise ApiError(413, f"{file.filename}: the file is larger than the {upload_bytes // 2**20} MB limit")
        report = target.upload(file.filename or "", data)
        if not report.ok:
            reason = report.failed[0][1] if report.failed else "the file could not be indexed"
            raise ApiError(400, reason, "unreadable_document", "file")
        ids = [*report.added, *report.updated, *report.unchanged]
        record = target.document(ids[0]) if ids else None
        return UploadResponse(document=_document(record) if record else None, report=report.as_dict())

    @router.delete(
        "/documents/{doc_id:path}", response_model=RemoveResponse, summary="Remove a document (ids may hold '/')"
    )
    def remove_document(doc_id: str, collection: str | None = None) -> RemoveResponse:
        if not spaces.workspaces.existing(collection).remove(doc_id):
            raise ApiError(404, f"no document {doc_id!r} is indexed; GET /v1/documents lists them", "no_document")
        return RemoveResponse(removed=doc_id)


def _health_route(app: FastAPI, assistant: Any, parts: dict[str, str]) -> None:
    from citewise import __version__

    @app.get("/healthz", response_model=Health, responses={503: ERRORS[503]}, summary="Liveness and store check")
    def healthz() -> Health:
        where = assistant.settings.chroma_url or "embedded"
        return Health(version=__version__, documents=len(assistant.documents()), store=where, parts=dict(parts))

    app.head("/healthz", include_in_schema=False)(healthz)  # load balancers probe with HEAD
