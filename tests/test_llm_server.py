"""Generative mode through a real OpenAI-compatible LLM server: llama-cpp-python's own, running the bundled SmolLM2.

citewise reaches it only through ``CITEWISE_LLM_URL``, as a user's Ollama or vLLM would be
reached. The server is stopped mid-session: every interface then says ``llm_unavailable`` in
one line (HTTP 502, an MCP tool error, a CLI line and exit 2, a ⚠ line in the UI), and
answers again once the server is back.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from conftest import CORPUS, CitewiseServer, free_port, ingest_corpus, stop_process, wait_for_port
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from citewise.rag.llm import bundled_gguf_path

SORA = "When did OpenAI launch Sora 2?"
pytestmark = pytest.mark.llm


class LlamaServer:
    """``python -m llama_cpp.server`` with the bundled GGUF on 127.0.0.1; can be stopped and started again."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = folder / "llama-server.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf_path())]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "1"]
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}  # idle OpenMP threads must not spin on a shared CPU
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for_port(self.port, timeout=120, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def requests_served(self) -> int:
        return self.log_path.read_text().count('"POST /v1/chat/completions HTTP/1.1" 200')


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(tmp_path_factory.mktemp("llama-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def down(llm_server: LlamaServer) -> Iterator[LlamaServer]:
    """The LLM server, stopped for the test and running again after it."""
    llm_server.stop()
    try:
        yield llm_server
    finally:
        llm_server.start()


@pytest.fixture(scope="module")
def api(llm_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CitewiseServer]:
    """`citewise serve` over the sample corpus, generating through the LLM server."""
    data_dir = tmp_path_factory.mktemp("llm-api") / "data"
    ingest_corpus(data_dir)
    env = {"CITEWISE_LLM_URL": llm_server.url, "CITEWISE_LLM_MAX_TOKENS": "48"}
    server = CitewiseServer(data_dir, env=env)
    try:
        yield server
    finally:
        server.stop()


def _ask(api: CitewiseServer, model: str = "citewise-generative", stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": SORA}], "stream": stream}
    return httpx.post(f"{api.url}/v1/chat/completions", json=body, timeout=300)


def _mcp_ask(api: CitewiseServer, mode: str) -> object:
    async def call() -> object:
        http = httpx2.AsyncClient(timeout=300)
        async with http, Client(streamable_http_client(f"{api.url}/mcp/", http_client=http)) as client:
            return await client.call_tool("ask", {"question": SORA, "mode": mode})

    return asyncio.run(call())


def test_http_and_mcp_through_the_llm_server_its_outage_and_its_return(api, llm_server):
    served = llm_server.requests_served()
    ok = _ask(api)
    assert ok.status_code == 200, ok.text
    assert ok.json()["model"] == "citewise-generative" and ok.json()["usage"]["completion_tokens"] > 0
    assert llm_server.requests_served() > served  # the answer was written by the server's model

    llm_server.stop()
    try:
        for stream in (False, True):  # the server is gone before the stream starts: a status code, both ways
            failed = _ask(api, stream=stream)
            assert failed.status_code == 502, failed.text
            error = failed.json()["error"]
            assert error["code"] == "llm_unavailable" and error["type"] == "service_unavailable"
            assert error["message"].startswith(f"the LLM server at {llm_server.url} failed: ")
            assert "\n" not in error["message"]
        assert _ask(api, model="citewise-extractive").status_code == 200  # nothing else is affected
        tool = _mcp_ask(api, "generative")
        assert tool.is_error  # type: ignore[attr-defined]
        text = tool.content[0].text  # type: ignore[attr-defined]
        assert "the LLM server at" in text and "(llm_unavailable)" in text and "\n" not in text
        assert "Traceback" not in api.log_path.read_text()  # a 502 is not a bug: no traceback in the log
    finally:
        llm_server.start()

    back = _ask(api, stream=True)
    assert back.status_code == 200 and back.text.endswith("data: [DONE]\n\n")
    assert '"finish_reason": "stop"' in back.text and '"error"' not in back.text


def _cli(args: list[str], data_dir: Path, env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    full.update({"CITEWISE_DATA_DIR": str(data_dir), "CITEWISE_LLM_MAX_TOKENS": "48", **env})
    cmd = [sys.executable, "-m", "citewise.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=full, input=input, timeout=600, cwd=data_dir.parent)


def test_cli_generative_with_the_server_up_then_down(llm_server, tmp_path):
    data_dir = tmp_path / "data"
    ingest_corpus(data_dir)
    env = {"CITEWISE_LLM_URL": llm_server.url}
    up = _cli(["ask", "--mode", "generative", "--json", SORA], data_dir, env)
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["mode"] == "generative"

    llm_server.stop()
    try:
        down = _cli(["ask", "--mode", "generative", "--json", SORA], data_dir, env)
        assert down.returncode == 2
        error = json.loads(down.stdout)["error"]  # scripts reading stdout get the error as JSON
        assert error["code"] == "llm_unavailable" and error["message"].startswith(f"the LLM server at {llm_server.url}")
        assert down.stderr.startswith("citewise: error: the LLM server at") and down.stderr.count("\n") == 1
        plain = _cli(["ask", "--mode", "generative", SORA], data_dir, env)
        assert plain.returncode == 2 and plain.stderr.strip().splitlines()[-1].startswith("citewise: error: the LLM")
        chat = _cli(["chat", "--mode", "generative"], data_dir, env, input=f"{SORA}\n{SORA}\n\n")
        assert chat.returncode == 0  # a failed turn does not end the chat
        assert chat.stderr.count("citewise: error: the LLM server at") == 2
    finally:
        llm_server.start()


def test_ui_shows_one_warning_line_when_the_llm_server_is_down(make_assistant, down):
    from citewise.ui import actions

    a = make_assistant(llm_url=down.url, mode="generative")
    assert a.ingest([CORPUS]).ok
    final = list(actions.ask(a, SORA, [], "generative", 4, False))[-1]
    shown = final.messages[-1]["content"]
    assert shown.startswith("⚠ ") and "LLM server at" in shown and "\n" not in shown
    assert final.question == SORA and final.turns is None  # the question stays, nothing is recorded
