"""MCP beyond questions: add and remove documents, the documents as resources, a cited-answer prompt.

Registered on the server built by `citewise.api.mcp_tools.build_mcp_server()`:

* tools ``add_document`` (text, or a file or folder under the ``mcp_root`` setting only)
  and ``remove_document``;
* resources ``citewise://documents/{doc_id}``: each indexed document's full text (the text
  citation offsets point into), listed by ``resources/list``;
* the prompt ``answer_with_citations``: "answer from the documents, with citations".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from citewise.errors import CitewiseError

DOCUMENT_URI = "citewise://documents/"
MAX_TEXT_CHARS = 1_000_000  # text sent in one tool call; larger documents go through files or uploads


class DocumentToolError(CitewiseError, ValueError):
    """An add or remove request the MCP tools refuse; the message says why."""

    status, code = 400, "invalid_document_request"


class NoSuchDocument(CitewiseError, LookupError):
    """A document id that is not indexed."""

    status, code = 404, "document_not_found"


def document_uri(doc_id: str) -> str:
    """The resource URI of a document (the id percent-encoded, its slashes kept)."""
    return DOCUMENT_URI + quote(doc_id, safe="/")


def path_under_root(root: str, path: str) -> Path:
    """``path`` (absolute, or relative to ``root``) resolved, if it lies inside ``root``.

    Raises:
        DocumentToolError: no root is configured, or the path leaves it (``..``, a symbolic
            link pointing out, an absolute path elsewhere), or it does not exist.
    """
    if not root:
        raise DocumentToolError(
            "adding files by path is off on this server; send the text instead, or set mcp_root "
            "(CITEWISE_MCP_ROOT) to the folder the server may read"
        )
    base = Path(root).expanduser().resolve()
    target = (base / path).resolve()  # an absolute ``path`` replaces base, then must still lie inside it
    if target != base and base not in target.parents:
        raise DocumentToolError(f"{path!r} is outside the folder this server may read ({base})")
    if not target.exists():
        raise DocumentToolError(f"{path!r} does not exist under {base}")
    return target


def _no_links_out(base: Path, folder: Path, given: str) -> None:
    """Refuse a folder whose files include a symbolic link leading out of ``base``."""
    from citewise.index.loaders import find_files

    files, _ = find_files([folder])
    for file, _root in files:
        if base not in file.resolve().parents:
            name = file.relative_to(folder).as_posix()
            raise DocumentToolError(f"{given!r} holds {name!r}, which leads outside the folder this server may read")


def _text_id(doc_id: str, title: str, text: str) -> str:
    if doc_id.strip():
        return doc_id.strip()
    words = re.findall(r"[a-z0-9]+", (title or text).lower())[:8]
    if not words:
        raise DocumentToolError("give a doc_id or a title for the text")
    return "mcp/" + "-".join(words)


def add_to(assistant: Any, root: str, text: str, path: str, doc_id: str, title: str) -> dict[str, Any]:
    """What the ``add_document`` tool does (see its docstring in `register()`)."""
    if bool(text.strip()) == bool(path.strip()):
        raise DocumentToolError("send either text or path, not both and not neither")
    if text.strip():
        if len(text) > MAX_TEXT_CHARS:
            raise DocumentToolError(f"the text is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}")
        from llama_index.core import Document

        doc = Document(text=text, doc_id=_text_id(doc_id, title, text), metadata={"source": "mcp"})
        if title.strip():
            doc.metadata["title"] = title.strip()
        report = assistant.ingest_documents([doc])
    else:
        target = path_under_root(root, path.strip())
        if target.is_dir():
            _no_links_out(Path(root).expanduser().resolve(), target, path)
        report = assistant.ingest([target])
    return report.as_dict()


def register(server: Any, pick: Any, root: str, guarded: Any) -> None:
    """Add the document tools, resources and prompt to ``server``.

    Args:
        server: the ``MCPServer`` being built.
        pick: ``pick(collection or None)`` -> the Assistant of that collection.
        root: the folder ``add_document`` may read files from ("" forbids paths).
        guarded: the decorator that turns a tool's exceptions into MCP tool errors
            (``citewise.api.mcp_tools.guarded``, passed in so the two modules don't import each other).
    """
    from mcp.server.mcpserver.exceptions import ResourceError
    from mcp.types import Resource

    from citewise.prompts import render

    @server.tool(structured_output=True)
    @guarded
    def add_document(
        text: str = "", path: str = "", doc_id: str = "", title: str = "", collection: str = ""
    ) -> dict[str, Any]:
        """Index a document: either its `text` (with a `doc_id` or a `title`; the same id again
        replaces it), or a file or folder `path` under the folder this server may read. Returns
        the ingest report: added, updated, unchanged, failed (with reasons)."""
        return add_to(pick(collection or None), root, text, path, doc_id, title)

    @server.tool(structured_output=True)
    @guarded
    def remove_document(doc_id: str, collection: str = "") -> dict[str, Any]:
        """Remove a document and all its passages from the index. `removed` is false if it was not indexed."""
        return {"doc_id": doc_id, "removed": bool(pick(collection or None).remove(doc_id))}

    @server.resource(DOCUMENT_URI + "{+doc_id}", name="document", mime_type="text/plain")
    def document(doc_id: str) -> str:
        """The full indexed text of a document; citation offsets (start, end) point into it."""
        try:
            text = pick(None).document_text(doc_id)
            if text is None:
                raise NoSuchDocument(f"no document {doc_id!r} is indexed; see the list_documents tool")
        except CitewiseError as exc:  # the client sees this one line, not a generic "error creating resource"
            raise ResourceError(f"{exc.message} ({exc.code})") from None
        return str(text)

    @server.prompt(name="answer_with_citations", title="Answer from the documents, with citations")
    def answer_with_citations(question: str) -> str:
        """Answer a question from the indexed documents only, keeping citewise's [n] citations."""
        return render("mcp_answer", question=question)

    listed = server.list_resources

    async def list_resources() -> list[Resource]:
        # the documents change while the server runs: list them at each request
        out: list[Resource] = await listed()
        return out + [
            Resource(
                uri=document_uri(d.doc_id),
                name=d.doc_id,
                title=d.title or None,
                description=f"{d.kind} document, {d.chunks} passages",
                mime_type="text/plain",
            )
            for d in pick(None).documents()
        ]

    server.list_resources = list_resources
