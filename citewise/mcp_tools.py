"""MCP tools over the Assistant: ``search``, ``ask`` and ``list_documents`` for agent apps.

Served by ``citewise serve`` at ``/mcp`` (streamable HTTP) or, with ``--mcp-stdio``,
over stdin/stdout. Built on the ``mcp`` package's :class:`MCPServer` (FastMCP in mcp 1.x).
"""

from __future__ import annotations

from typing import Any

INSTRUCTIONS = (
    "citewise answers questions about a document collection. `ask` returns an answer whose "
    "[n] markers point to verbatim quotes in `citations`; `refused` is true when the documents "
    "do not cover the question. `search` returns passages only."
)


def _tool_error(exc: BaseException) -> Exception:
    from mcp.server.mcpserver.exceptions import ToolError

    from citewise.api.errors import engine_error

    mapped = engine_error(exc)
    return ToolError(mapped.message if mapped else f"citewise failed: {type(exc).__name__}")


def build_mcp_server(assistant: Any, workspaces: Any = None) -> Any:
    """An MCP server whose tools call ``assistant`` (or, given ``collection``, that collection's).

    Args:
        assistant: the default :class:`~citewise.Assistant`.
        workspaces: the :class:`~citewise.collections.Workspaces` to pick collections from
            (default: one over ``assistant``).

    Returns:
        An ``mcp.server.mcpserver.MCPServer``; mount ``.streamable_http_app()`` or ``.run()``.
    """
    from mcp.server.mcpserver import MCPServer

    from citewise import __version__
    from citewise.api.guard import guarded_stream
    from citewise.api.openai_format import citations_out
    from citewise.collections import Workspaces
    from citewise.rag.citations import Answer

    spaces = workspaces or Workspaces(assistant)
    server = MCPServer("citewise", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    @server.tool(structured_output=True)
    def search(query: str, top_k: int = 4, collection: str = "") -> dict[str, Any]:
        """Find passages in the documents that match a query (no answer). Each passage has
        doc_id, title, page, text, and its start/end offsets in the document. collection:
        the document collection to search (default: the configured one; see list_collections)."""
        try:
            passages = spaces.existing(collection or None).search(query, top_k=max(1, min(int(top_k), 50)))
        except Exception as exc:
            raise _tool_error(exc) from None
        return {"query": query, "passages": [_passage(p) for p in passages]}

    @server.tool(structured_output=True)
    def ask(question: str, mode: str = "", collection: str = "") -> dict[str, Any]:
        """Answer a question from the documents. The answer cites verbatim quotes as [n];
        `refused` is true when the documents do not cover the question. mode: extractive
        (default) or generative. collection: the document collection to ask (default: the
        configured one)."""
        try:
            answer = None
            for item in guarded_stream(spaces.existing(collection or None), question, None, mode or None):
                if isinstance(item, Answer):
                    answer = item
        except Exception as exc:
            raise _tool_error(exc) from None
        assert answer is not None
        return {"answer": answer.text, "refused": answer.refused, "citations": citations_out(answer)}

    @server.tool(structured_output=True)
    def list_documents(collection: str = "") -> dict[str, Any]:
        """The indexed documents: doc_id, title, kind and chunk count (in `collection`, default the configured one)."""
        try:
            docs = spaces.existing(collection or None).documents()
        except Exception as exc:
            raise _tool_error(exc) from None
        return {"documents": [{"doc_id": d.doc_id, "title": d.title, "kind": d.kind, "chunks": d.chunks} for d in docs]}

    @server.tool(structured_output=True)
    def list_collections() -> dict[str, Any]:
        """The document collections: name, document and chunk counts, and which one is the default."""
        try:
            return {"collections": [c.as_dict() for c in spaces.collections()]}
        except Exception as exc:
            raise _tool_error(exc) from None

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
