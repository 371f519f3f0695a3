"""One error model: every failure a user can meet is one line, with the right status and code, in every interface.

The HTTP probes run against a real `citewise serve` over an empty data folder; the CLI runs
as a subprocess; MCP through the mcp package's own client.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from conftest import CORPUS, CitewiseServer
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ChatResponseGen, MessageRole
from llama_index.core.llms.callbacks import llm_chat_callback
from llama_index.core.llms.custom import CustomLLM
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from citewise.assistant import NO_DOCUMENTS
from citewise.errors import CitewiseError
from citewise.rag.chat import Message, QuestionError, normalize_history
from citewise.rag.llm import LLMError

SORA = "When did OpenAI launch Sora 2?"


# ---- the classes -----------------------------------------------------------------------
def test_every_user_facing_error_derives_from_citewise_error_and_keeps_its_old_base():
    from citewise.api.errors import ApiError
    from citewise.api.openai_format import BadChatRequest, UnknownModel
    from citewise.assistant import ModeError
    from citewise.config import SettingsError
    from citewise.eval.datasets import DatasetError
    from citewise.eval.runner import EvalError
    from citewise.index.embed import EmbeddingModelError
    from citewise.index.loaders import LoadError
    from citewise.index.store import StoreError
    from citewise.index.uploads import UploadError
    from citewise.prompts import PromptError

    expected = {
        LLMError: (502, "llm_unavailable", RuntimeError),
        StoreError: (503, "store_unavailable", RuntimeError),
        EmbeddingModelError: (503, "model_unavailable", RuntimeError),
        QuestionError: (400, "invalid_question", ValueError),
        ModeError: (400, "mode_unavailable", ValueError),
        SettingsError: (400, "invalid_setting", ValueError),
        UploadError: (400, "invalid_upload", ValueError),
        DatasetError: (400, "invalid_dataset", ValueError),
        EvalError: (400, "eval_failed", RuntimeError),
        PromptError: (500, "invalid_prompt", ValueError),
        LoadError: (400, "unreadable_document", Exception),
        BadChatRequest: (400, "invalid_messages", ValueError),
        UnknownModel: (404, "model_not_found", LookupError),
    }
    for cls, (status, code, old_base) in expected.items():
        err = cls("first line\n  second line")
        assert isinstance(err, CitewiseError) and isinstance(err, old_base), cls
        assert (err.status, err.code) == (status, code), cls
        assert err.message == "first line second line"  # always one line
    assert (ApiError(413, "too big").status, ApiError(413, "too big").code) == (413, "too_large")


# ---- history ---------------------------------------------------------------------------
def test_history_accepts_dicts_pairs_and_llamaindex_messages():
    history: list[Any] = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": [{"type": "text", "text": "What is CODA?"}]},
        ("And Sora?", "A video model."),
        ChatMessage(role=MessageRole.USER, content="When was it founded?"),
        ChatMessage(role=MessageRole.ASSISTANT, content="In 2002."),
        Message("user", "thanks"),
    ]
    turns = normalize_history(history)
    assert [(m.role, m.content) for m in turns] == [
        ("user", "What is CODA?"),
        ("user", "And Sora?"),
        ("assistant", "A video model."),
        ("user", "When was it founded?"),
        ("assistant", "In 2002."),
        ("user", "thanks"),
    ]


@pytest.mark.parametrize(
    ("history", "words"),
    [
        ([42], "history item 1 is a int"),
        ([{"role": "user", "content": "hi"}, "just text"], "history item 2 is a str"),
        ([("a", "b", "c")], "history item 1 is a 3-item tuple"),
        ([{"role": "user", "content": 7}], "history item 1 has int content"),
        ("one string", "not a str"),
    ],
)
def test_other_history_items_are_a_question_error_naming_the_type(history, words):
    with pytest.raises(QuestionError, match=words):
        normalize_history(history)


def test_a_llamaindex_history_reaches_the_follow_up(corpus_assistant):
    history = [
        ChatMessage(role=MessageRole.USER, content="What is CODA?"),
        ChatMessage(role=MessageRole.ASSISTANT, content="CODA is a Japanese association."),
    ]
    answer = corpus_assistant.ask("And when was it founded?", history)
    assert answer.query == "What is CODA? And when was it founded?"  # the history reached retrieval
    with pytest.raises(QuestionError, match="history item 1 is a object"):
        corpus_assistant.ask(SORA, [object()])


# ---- the empty index, in every interface -----------------------------------------------
def test_an_empty_index_says_so_instead_of_refusing(make_assistant):
    from citewise.ui import actions

    a = make_assistant()
    for mode in ("extractive", "generative"):  # generative: the LLM is never asked
        answer = a.ask(SORA, mode=mode)
        assert answer.refused and answer.text == NO_DOCUMENTS and answer.citations == []
    final = list(actions.ask(a, SORA, [], "extractive", 4, False))[-1]
    assert "No documents are indexed yet" in final.messages[-1]["content"]
    assert a.documents() == []  # nothing was added behind the user's back


def test_ask_on_an_empty_data_folder_never_adds_the_sample_corpus(tmp_path):
    out = run_cli(["ask", SORA], tmp_path)
    assert out.returncode == 0, out.stderr
    assert NO_DOCUMENTS in out.stdout
    data = json.loads(run_cli(["ask", "--json", SORA], tmp_path).stdout)
    assert data["refused"] is True and data["answer"] == NO_DOCUMENTS
    assert json.loads(run_cli(["docs", "--json"], tmp_path).stdout) == []
    chat = run_cli(["chat"], tmp_path, input=f"{SORA}\n\n")
    assert NO_DOCUMENTS in chat.stdout and json.loads(run_cli(["docs", "--json"], tmp_path).stdout) == []


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CitewiseServer]:
    """`citewise serve` (no UI, no API key) over a data folder with nothing indexed."""
    server = CitewiseServer(tmp_path_factory.mktemp("empty") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http(empty_server: CitewiseServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=empty_server.url, timeout=120) as c:
        yield c


def _mcp_call(url: str, name: str, arguments: dict[str, Any]) -> Any:
    async def call() -> Any:
        client_http = httpx2.AsyncClient(timeout=120)
        async with client_http, Client(streamable_http_client(f"{url}/mcp/", http_client=client_http)) as client:
            return await client.call_tool(name, arguments)

    return asyncio.run(call())


def test_empty_index_over_http_and_mcp(empty_server, http):
    body = {"model": "citewise", "messages": [{"role": "user", "content": SORA}]}
    reply = http.post("/v1/chat/completions", json=body).json()
    assert reply["refused"] is True and reply["choices"][0]["message"]["content"] == NO_DOCUMENTS
    streamed = http.post("/v1/chat/completions", json={**body, "stream": True}).text
    assert "No documents are indexed yet" in streamed and streamed.endswith("data: [DONE]\n\n")
    assert http.get("/healthz").json()["documents"] == 0
    result = _mcp_call(empty_server.url, "ask", {"question": SORA})
    assert not result.is_error
    assert result.structured_content["refused"] is True and result.structured_content["answer"] == NO_DOCUMENTS
    log = empty_server.log_path.read_text()
    assert "No documents are indexed yet" in log  # serve says so at start


# ---- serve: /, start-up line, usage, the probe list ---------------------------------------
def test_root_lists_the_endpoints_and_the_start_line_names_every_path(empty_server, http):
    index = http.get("/", follow_redirects=False)
    assert index.status_code == 200
    assert {"/v1", "/docs", "/mcp", "/healthz"} <= set(index.json()["endpoints"])
    assert http.head("/").status_code == 200
    log = empty_server.log_path.read_text()
    start = next(line for line in log.splitlines() if line.startswith("citewise serving"))
    assert all(path in start for path in ("/v1", "/docs", "/mcp", "/healthz"))
    assert "DEBUG" not in log and "bm25s" not in log


def test_usage_counts_words_of_prompt_and_reply(http):
    body = {"model": "citewise", "messages": [{"role": "user", "content": "What is CODA?"}]}
    reply = http.post("/v1/chat/completions", json=body).json()
    usage = reply["usage"]
    assert usage["prompt_tokens"] == 4  # What, is, CODA, ?
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    chunks = http.post("/v1/chat/completions", json={**body, "stream": True}).text.split("\n\n")
    last = json.loads(next(c for c in reversed(chunks) if '"finish_reason": "stop"' in c).removeprefix("data: "))
    assert last["usage"] == usage


def test_head_healthz_is_200(http):
    resp = http.head("/healthz")
    assert resp.status_code == 200 and resp.content == b""


def _raw(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client fixes them up); the status, headers and body of the reply."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/mcp/"])
def test_a_bad_content_length_is_a_one_line_json_error(empty_server, path):
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: ten\r\nConnection: close\r\n\r\n{}"
    ).encode()
    status, headers, body = _raw(empty_server.url, request)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert "Content-Length" in error["message"] and error["code"] == "bad_http"


def test_an_oversized_mcp_body_is_a_one_line_json_413(http):
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "ask", "arguments": {}}}
    call["params"]["arguments"] = {"question": "a" * (2 * 1024 * 1024)}
    headers = {"Accept": "application/json, text/event-stream"}
    resp = http.post("/mcp/", content=json.dumps(call), headers={**headers, "Content-Type": "application/json"})
    assert resp.status_code == 413
    assert "limit" in resp.json()["error"]["message"]


def test_json_sent_as_text_plain_is_read_and_other_text_is_a_415(http):
    body = json.dumps({"model": "citewise", "messages": [{"role": "user", "content": SORA}]})
    ok = http.post("/v1/chat/completions", content=body, headers={"Content-Type": "text/plain"})
    assert ok.status_code == 200 and ok.json()["refused"] is True
    bad = http.post(
        "/v1/chat/completions", content=b"When did OpenAI launch Sora 2?", headers={"Content-Type": "text/plain"}
    )
    assert bad.status_code == 415
    assert bad.json()["error"]["message"] == (
        "the body is not JSON; send a JSON object with 'Content-Type: application/json'"
    )


def test_an_upload_with_two_files_is_refused_and_indexes_nothing(http):
    files = [("file", ("a.txt", b"Alpha is the first letter.")), ("file", ("b.txt", b"Beta is the second letter."))]
    resp = http.post("/v1/documents", files=files)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "too_many_files" and "one file per request" in error["message"]
    assert http.get("/v1/documents").json()["documents"] == []


def test_mcp_argument_errors_are_one_line(empty_server):
    result = _mcp_call(empty_server.url, "search", {"query": "x", "top_k": "many"})
    assert result.is_error
    text = result.content[0].text
    assert "top_k" in text and "\n" not in text.strip()
    missing = _mcp_call(empty_server.url, "ask", {})
    assert missing.is_error and "question" in missing.content[0].text and "\n" not in missing.content[0].text.strip()


def test_mcp_bug_errors_name_the_reason():
    from mcp.server.mcpserver.exceptions import ToolError

    from citewise.api.mcp_tools import tool_error

    bug = tool_error(KeyError("doc_hash"))
    assert isinstance(bug, ToolError) and "KeyError" in str(bug) and "doc_hash" in str(bug)
    user = tool_error(LLMError("the LLM server at http://x failed: Connection error"))
    assert str(user) == "the LLM server at http://x failed: Connection error (llm_unavailable)"


# ---- an LLM that fails after the stream began -------------------------------------------
class _DiesMidStream(CustomLLM):
    """Writes one sentence, then the connection drops (as a server killed mid-answer does)."""

    @property
    def metadata(self) -> Any:
        from llama_index.core.base.llms.types import LLMMetadata

        return LLMMetadata(is_chat_model=True)

    @llm_chat_callback()
    def stream_chat(self, messages: Any, **kwargs: Any) -> ChatResponseGen:
        def gen() -> ChatResponseGen:
            text = ""
            for delta in ("OpenAI launched Sora 2 on September 30, 2025 [1]. ", "It"):  # the 1st sentence ends
                text += delta
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta)
            raise ConnectionError("Connection reset by peer")

        return gen()

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        raise ConnectionError("not used")

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        raise ConnectionError("not used")


def test_an_llm_failing_mid_stream_is_an_sse_error_event_then_done(make_assistant):
    from fastapi.testclient import TestClient

    from citewise.api.app import create_app
    from citewise.rag.generative import build_generative_mode

    a = make_assistant()
    assert a.ingest([CORPUS]).ok
    a._modes["generative"] = build_generative_mode(a, llm=_DiesMidStream())
    body = {"model": "citewise-generative", "messages": [{"role": "user", "content": SORA}], "stream": True}
    with TestClient(create_app(a, ui=False, mcp=False)) as client:
        events = [e for e in client.post("/v1/chat/completions", json=body).text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    error = json.loads(events[-2].removeprefix("data: "))["error"]
    assert error["code"] == "llm_unavailable" and error["type"] == "service_unavailable"
    assert "Connection reset by peer" in error["message"] and "\n" not in error["message"]
    assert any("September 30, 2025" in e for e in events[:-2])  # what was already checked was shown


# ---- the CLI ---------------------------------------------------------------------------
def run_cli(args: list[str], tmp_path: Path, env: dict[str, str] | None = None, input: str | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    full_env.update({"CITEWISE_DATA_DIR": str(tmp_path / "data"), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "citewise.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=300,
        cwd=tmp_path,
    )


def test_a_url_given_to_ingest_is_one_line(tmp_path):
    out = run_cli(["ingest", "https://example.com/report.pdf"], tmp_path)
    assert out.returncode == 2
    assert out.stderr == (
        "citewise: error: URLs are not supported (https://example.com/report.pdf); "
        "download the file and ingest its path\n"
    )


def test_ask_json_prints_errors_as_json_on_stdout(tmp_path):
    out = run_cli(["ask", "--json", "   "], tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert json.loads(out.stdout)["error"]["code"] == "invalid_question"


def test_piped_ingest_prints_progress_lines(tmp_path):
    out = run_cli(["ingest", str(CORPUS)], tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("indexing: ")]
    assert lines[0].startswith("indexing: 1/2 files (50%), ") and lines[-1].startswith("indexing: 2/2 files (100%), ")
    assert " chunks written, " in lines[-1] and lines[-1].endswith(" files/s")


def test_ctrl_c_during_ingest_says_what_was_committed_and_how_to_resume(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(400):  # enough that the ingest is still running when the signal lands
        (folder / f"note-{i:03d}.txt").write_text(
            f"Note {i}. The warehouse in town {i} stores {i * 7} crates of apples."
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env["CITEWISE_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "citewise.cli", "ingest", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    while first and not first.startswith("indexing: "):  # library warnings may come first
        first = proc.stderr.readline()
    assert first.startswith("indexing: 1/400 files"), first  # the ingest is under way
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    proc.wait(120)
    assert proc.returncode == 130, rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith("citewise: error: interrupted: ") and "document(s) were committed" in last
    assert f"run `citewise ingest {folder}` again to resume" in last
    resumed = run_cli(["ingest", "--json", str(folder)], tmp_path)
    report = json.loads(resumed.stdout)
    assert report["ok"] and len(report["added"]) + len(report["unchanged"]) == 400
