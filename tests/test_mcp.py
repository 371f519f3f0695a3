"""The MCP tools, through the mcp package's own client: over HTTP at /mcp and over stdio."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import httpx2
import pytest
from conftest import API_KEY, ingest_corpus
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

QUESTION = "When did OpenAI launch Sora 2?"


async def _exercise(client: Client) -> dict:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    asked = await client.call_tool("ask", {"question": QUESTION})
    searched = await client.call_tool("search", {"query": "opt-out", "top_k": 2})
    docs = await client.call_tool("list_documents", {})
    empty = await client.call_tool("ask", {"question": "   "})
    return {"tools": tools, "ask": asked, "search": searched, "docs": docs, "empty": empty}


def _check(results: dict) -> None:
    assert {"ask", "search", "list_documents"} <= set(results["tools"])
    assert "question" in results["tools"]["ask"].input_schema["properties"]
    ask = results["ask"]
    assert not ask.is_error
    answer = ask.structured_content
    assert "September 30, 2025" in answer["answer"] and answer["refused"] is False
    cite = answer["citations"][0]
    offset = cite["start"] - cite["passage_start"]
    assert cite["passage"][offset : offset + len(cite["quote"])] == cite["quote"]
    passages = results["search"].structured_content["passages"]
    assert 1 <= len(passages) <= 2 and all(p["text"] for p in passages)
    doc_ids = {d["doc_id"] for d in results["docs"].structured_content["documents"]}
    assert {"techtimes-coda-sora2.md", "coda-written-request-openai.md"} <= doc_ids
    empty = results["empty"]
    assert empty.is_error and "question is empty" in empty.content[0].text


def test_mcp_tools_over_streamable_http(api_server):
    async def run() -> dict:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        http = httpx2.AsyncClient(headers=headers, timeout=120)
        async with http, Client(streamable_http_client(f"{api_server.url}/mcp/", http_client=http)) as client:
            return await _exercise(client)

    _check(asyncio.run(run()))


def test_mcp_endpoint_requires_the_api_key(api_server):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    resp = httpx.post(
        f"{api_server.url}/mcp/", json=body, headers={"Accept": "application/json, text/event-stream"}, timeout=60
    )
    assert resp.status_code == 401
    assert "API key" in resp.json()["error"]["message"]


@pytest.mark.slow
def test_mcp_tools_over_stdio(tmp_path):
    data_dir = tmp_path / "data"
    ingest_corpus(data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update({"CITEWISE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"})
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "citewise.cli", "serve", "--mcp-stdio"], env=env, cwd=str(tmp_path)
    )

    async def run() -> dict:
        async with Client(params, read_timeout_seconds=180) as client:
            return await _exercise(client)

    _check(asyncio.run(run()))
