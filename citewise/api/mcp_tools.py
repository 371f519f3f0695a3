"""MCP tools over the Assistant: ``search``, ``ask`` and ``list_documents`` for agent apps.

Served by ``citewise serve`` at ``/mcp`` (streamable HTTP) or, with ``--mcp-stdio``,
over stdin/stdout. Built on the ``mcp`` package's `MCPServer` (FastMCP in mcp 1.x).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from citewise.errors import CitewiseError, reason

INSTRUCTIONS = (
    "citewise answers questions about a document collection. `ask` returns an answer whose "
    "[n] markers point to verbatim quotes in `citations`; `refused` is true when the documents "
    "do not cover the question (or none are indexed yet), and `closest` then lists the nearest "
    "passages, which do not answer it. `confidence` (0-1) estimates how likely the answer is right. "
    "`search` returns passages only."
)
logger = logging.getLogger("citewise.mcp")
F = TypeVar("F", bound=Callable[..., Any])


def tool_error(exc: BaseException) -> Exception:
    """The MCP tool error (``isError``) for ``exc``: its one-line message; for a bug, its class and first line."""
    from mcp.server.mcpserver.exceptions import ToolError

    if isinstance(exc, CitewiseError):
        return ToolError(f"{exc.message} ({exc.code})")
    logger.error("MCP tool failed", exc_info=exc)
    why = reason(exc)  # the type's name when the message is empty: then it is named once
    detail = "" if why == type(exc).__name__ else f": {why}"
    return ToolError(f"citewise failed: {type(exc).__name__}{detail}; see the server log")


def guarded(fn: F) -> F:
    """The one place MCP tools turn exceptions into tool errors; wrap every tool with it."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise tool_error(exc) from None

    return call  # type: ignore[return-value]


def _one_line_server(base: type) -> type:
    """``base`` (MCPServer) whose argument errors are one line: ``ask: question: Field required``."""
    from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
    from pydantic import ValidationError

    class OneLineErrors(base):  # type: ignore[misc, valid-type]
        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as exc:
                cause = exc.__cause__
                if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                    raise
                raise ToolError(f"invalid arguments for {name}: {argument_problems(cause)}") from cause

    return OneLineErrors


def argument_problems(exc: Any) -> str:
    """Pydantic's validation errors as one line: ``top_k: Input should be a valid integer; ...``."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        problems.append(f"{where}: {err.get('msg', 'invalid value')}" if where else str(err.get("msg")))
    return " ".join("; ".join(problems).split())


def build_mcp_server(assistant: Any, workspaces: Any = None) -> Any:
    """An MCP server whose tools call ``assistant`` (or, given ``collection``, that collection's).

    Args:
        assistant: the default `Assistant`.
        workspaces: the `Workspaces` to pick collections from
            (default: one over ``assistant``).

    Returns:
        An ``mcp.server.mcpserver.MCPServer``; mount ``.streamable_http_app()`` or ``.run()``.
    """
    from mcp.server.mcpserver import MCPServer

    from citewise import __version__
    from citewise.api.guard import guarded_stream
    from citewise.api.openai_format import answer_fields
    from citewise.collections import Workspaces
    from citewise.rag.stream import AnswerStream

    spaces = workspaces or Workspaces.of(assistant)
    server = _one_line_server(MCPServer)(
        "citewise", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )

    @server.tool(structured_output=True)
    @guarded
    def search(query: str, top_k: int = 4, collection: str = "") -> dict[str, Any]:
        """Find passages in the documents that match a query (no answer). Each passage has
        doc_id, title, page, text, and its start/end offsets in the document. collection:
        the document collection to search (default: the configured one; see list_collections)."""
        passages = spaces.existing(collection or None).search(query, top_k=max(1, min(int(top_k), 50)))
        return {"query": query, "passages": [_passage(p) for p in passages]}

    @server.tool(structured_output=True)
    @guarded
    def ask(question: str, mode: str = "", collection: str = "") -> dict[str, Any]:
        """Answer a question from the documents. The answer cites verbatim quotes as [n];
        `refused` is true when the documents do not cover the question, and `closest` then
        lists the nearest passages (not answers); `confidence` is 0-1 or null. mode: extractive
        (default) or generative. collection: the document collection to ask (default: the
        configured one)."""
        items = guarded_stream(spaces.existing(collection or None), question, None, mode or None)
        answer = AnswerStream(items).answer()
        return {"answer": answer.text, **answer_fields(answer)}

    @server.tool(structured_output=True)
    @guarded
    def list_documents(collection: str = "") -> dict[str, Any]:
        """The indexed documents: doc_id, title, kind and chunk count (in `collection`, default the configured one)."""
        docs = spaces.existing(collection or None).documents()
        return {"documents": [{"doc_id": d.doc_id, "title": d.title, "kind": d.kind, "chunks": d.chunks} for d in docs]}

    @server.tool(structured_output=True)
    @guarded
    def list_collections() -> dict[str, Any]:
        """The document collections: name, document and chunk counts, and which one is the default."""
        return {"collections": [c.as_dict() for c in spaces.collections()]}

    from citewise.api.mcp_resources import register  # add/remove documents, documents as resources, a prompt

    register(server, spaces.existing, assistant.settings.mcp_root, guarded)
    return server


def _passage(p: Any) -> dict[str, Any]:
    c = p.chunk
    return {
        "doc_id": c.doc_id,
        "title": c.title,
        "page": c.page,
        "text": c.text,
        "start": c.start,
        "end": c.end,
        "score": round(p.score, 6),
    }


def run_stdio(assistant: Any) -> None:
    """Serve the MCP tools over stdin/stdout (for agent apps that launch a command)."""
    build_mcp_server(assistant).run("stdio")
