"""MCP beyond questions, through the mcp package's own client over HTTP and stdio: add and remove
documents (text, or paths under the configured root only), documents as resources, the prompt."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx2
import pytest
from conftest import API_KEY, CitewiseServer
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

NOTE = (
    "Field notes on the Harbour Lighthouse.\n\n"
    "The Harbour Lighthouse was first lit on 12 March 1871 by the keeper Agnes Moller. "
    "Its lamp burned colza oil until 1902, when paraffin replaced it."
)
FILE_TEXT = "# Keeper's manual\n\nThe lens of the Harbour Lighthouse must be cleaned every morning at dawn.\n"


def make_root(tmp_path: Path) -> Path:
    """A readable root with one file, a secret beside it, and a link inside pointing out."""
    root = tmp_path / "shared"
    root.mkdir()
    (root / "manual.md").write_text(FILE_TEXT)
    (tmp_path / "secret.md").write_text("# Secret\n\nThe vault code is 4711.\n")
    (root / "escape.md").symlink_to(tmp_path / "secret.md")
    (root / "notes").mkdir()
    (root / "notes" / "fine.md").write_text("# Fine\n\nNothing to see.\n")
    (root / "notes" / "sneaky.md").symlink_to(tmp_path / "secret.md")
    return root


def text_of(result) -> str:
    return result.content[0].text


async def exercise(client: Client, root: Path) -> None:
    tools = {t.name for t in (await client.list_tools()).tools}
    assert {"add_document", "remove_document", "ask", "search"} <= tools

    added = await client.call_tool("add_document", {"text": NOTE, "title": "Lighthouse notes"})
    assert not added.is_error, text_of(added)
    assert added.structured_content["added"] == ["mcp/lighthouse-notes"]

    asked = await client.call_tool("ask", {"question": "When was the Harbour Lighthouse first lit?"})
    answer = asked.structured_content
    assert "12 March 1871" in answer["answer"] and answer["citations"][0]["doc_id"] == "mcp/lighthouse-notes"

    # the document as a resource: its full text, which the citation offsets point into
    cite = answer["citations"][0]
    read = await client.read_resource("citewise://documents/mcp/lighthouse-notes", cache_mode="bypass")
    text = read.contents[0].text
    assert text == NOTE and text[cite["start"] : cite["end"]] == cite["quote"]
    listed = {str(r.uri): r for r in (await client.list_resources(cache_mode="bypass")).resources}
    assert listed["citewise://documents/mcp/lighthouse-notes"].title == "Lighthouse notes"
    templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
    assert "citewise://documents/{+doc_id}" in templates

    # files: only under the root, whatever the spelling
    by_path = await client.call_tool("add_document", {"path": "manual.md"})
    assert not by_path.is_error and by_path.structured_content["added"] == ["manual.md"]
    for outside in ("../secret.md", str(root.parent / "secret.md"), "escape.md", "/etc/passwd"):
        refused = await client.call_tool("add_document", {"path": outside})
        assert refused.is_error and "outside the folder this server may read" in text_of(refused), outside
    folder = await client.call_tool("add_document", {"path": "notes"})  # a link inside leads out: all refused
    assert folder.is_error and "'notes' holds 'sneaky.md', which leads outside" in text_of(folder)
    both = await client.call_tool("add_document", {"text": "x", "path": "manual.md"})
    assert both.is_error and "either text or path" in text_of(both)
    docs = await client.call_tool("list_documents", {})
    assert {d["doc_id"] for d in docs.structured_content["documents"]} == {"mcp/lighthouse-notes", "manual.md"}

    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert [a.name for a in prompts["answer_with_citations"].arguments] == ["question"]
    prompt = await client.get_prompt("answer_with_citations", {"question": "Who lit the lighthouse?"})
    message = prompt.messages[0].content.text
    assert "Question: Who lit the lighthouse?" in message and "[n]" in message and "`ask`" in message

    removed = await client.call_tool("remove_document", {"doc_id": "mcp/lighthouse-notes"})
    assert removed.structured_content == {"doc_id": "mcp/lighthouse-notes", "removed": True}
    again = await client.call_tool("remove_document", {"doc_id": "mcp/lighthouse-notes"})
    assert again.structured_content["removed"] is False
    listed = {str(r.uri) for r in (await client.list_resources(cache_mode="bypass")).resources}
    assert "citewise://documents/mcp/lighthouse-notes" not in listed and "citewise://documents/manual.md" in listed
    with pytest.raises(Exception, match="no document 'mcp/lighthouse-notes' is indexed"):
        await client.read_resource("citewise://documents/mcp/lighthouse-notes", cache_mode="bypass")


def test_document_tools_resources_and_prompt_over_http(tmp_path):
    root = make_root(tmp_path)
    server = CitewiseServer(tmp_path / "data", env={"CITEWISE_API_KEY": API_KEY, "CITEWISE_MCP_ROOT": str(root)})

    async def run() -> None:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120)
        async with http, Client(streamable_http_client(f"{server.url}/mcp/", http_client=http)) as client:
            await exercise(client, root)

    try:
        asyncio.run(run())
    finally:
        server.stop()


@pytest.mark.slow
def test_document_tools_resources_and_prompt_over_stdio(tmp_path):
    root = make_root(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update({"CITEWISE_DATA_DIR": str(tmp_path / "data"), "CITEWISE_MCP_ROOT": str(root), "HF_HUB_OFFLINE": "1"})
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "citewise.cli", "serve", "--mcp-stdio"], env=env, cwd=str(tmp_path)
    )

    async def run() -> None:
        async with Client(params, read_timeout_seconds=180) as client:
            await exercise(client, root)

    asyncio.run(run())


def test_adding_by_path_is_off_without_a_root(tmp_path):
    from citewise.api.mcp_resources import DocumentToolError, path_under_root

    with pytest.raises(DocumentToolError, match="adding files by path is off"):
        path_under_root("", "manual.md")
    root = make_root(tmp_path)
    assert path_under_root(str(root), "manual.md") == (root / "manual.md").resolve()
    assert path_under_root(str(root), ".") == root.resolve()
    with pytest.raises(DocumentToolError, match="does not exist"):
        path_under_root(str(root), "nope.md")
