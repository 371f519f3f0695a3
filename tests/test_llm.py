"""The LLM factory: the bundled GGUF, any GGUF by setting, and an OpenAI-compatible server.

The server is a small stand-in started here on 127.0.0.1 that speaks /v1/chat/completions
(streaming and not); citewise reaches it through LlamaIndex's real OpenAILike client.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import free_port
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from citewise.rag.llm import GGUFLLM, LLMConfig, LLMError, build_llm, bundled_gguf_path

LAUNCH = "OpenAI launched Sora 2 on September 30, 2025."


def _reply_for(messages: list[dict[str, Any]]) -> str:
    """Answer like a well-behaved model: quote the launch sentence, citing its source number."""
    prompt = "\n".join(str(m.get("content", "")) for m in messages)
    if "Standalone question" in prompt:
        return "When was CODA created?"
    for m in re.finditer(r"^Source \[(\d+)\]:\n(.*?)(?=^Source \[|^=== END)", prompt, re.S | re.M):
        if LAUNCH in m.group(2):
            return f"{LAUNCH} [{m.group(1)}]"
    return "The documents do not say."


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        text = _reply_for(body["messages"])
        base = {"id": "cmpl-1", "created": 0, "model": body["model"]}
        if not body.get("stream"):
            payload = {
                **base,
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in re.findall(r"\S+\s*", text):
            chunk = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": word}, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def openai_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible stand-in on 127.0.0.1; yields its /v1 URL and the requests it got."""
    _Handler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", _Handler.requests
    finally:
        server.shutdown()
        server.server_close()


def test_bundled_gguf_is_on_disk_and_loads_lazily():
    path = bundled_gguf_path()
    assert path.is_file() and path.suffix == ".gguf"
    llm = build_llm(LLMConfig(max_tokens=16))
    assert isinstance(llm, GGUFLLM) and llm.model_path == str(path)
    assert llm._model is None  # nothing loaded until the first call
    assert llm.metadata.is_chat_model


def test_gguf_setting_must_name_a_file(tmp_path):
    with pytest.raises(LLMError, match="does not exist; set CITEWISE_LLM_GGUF"):
        build_llm(LLMConfig(gguf=str(tmp_path / "missing.gguf")))


@pytest.mark.llm
def test_bundled_model_chats_and_streams():
    llm = build_llm(LLMConfig(max_tokens=8))
    messages = [ChatMessage(role=MessageRole.USER, content="Say hello.")]
    assert llm.chat(messages).message.content
    deltas = [r.delta for r in llm.stream_chat(messages)]
    assert deltas and all(isinstance(d, str) for d in deltas)


def test_openai_compatible_server_chat_and_stream(openai_server):
    url, requests = openai_server
    llm = build_llm(LLMConfig(url=url, model="stand-in", max_tokens=32))
    assert type(llm).__name__ == "OpenAILike"
    messages = [ChatMessage(role=MessageRole.USER, content=f"Source [1]:\n{LAUNCH}\n=== END")]
    assert llm.chat(messages).message.content == f"{LAUNCH} [1]"
    streamed = [r.delta for r in llm.stream_chat(messages)]
    assert len(streamed) > 1 and "".join(streamed) == f"{LAUNCH} [1]"
    assert [r["stream"] for r in requests] == [False, True]
    assert requests[0]["model"] == "stand-in" and requests[0]["max_tokens"] == 32


def test_generative_answer_through_an_openai_compatible_server(make_assistant, openai_server):
    from conftest import CORPUS

    url, requests = openai_server
    a = make_assistant(llm_url=url, llm_model="stand-in", mode="generative")
    assert a.ingest([CORPUS]).ok
    deltas, answer = [], None
    for item in a.stream("When did OpenAI launch Sora 2?"):
        if isinstance(item, str):
            deltas.append(item)
        else:
            answer = item
    assert answer is not None and answer.mode == "generative" and not answer.note
    assert "".join(deltas) == answer.text == f"{LAUNCH} [1]"
    assert answer.sentences[0].supported and answer.citations[0].quote == LAUNCH
    system = requests[-1]["messages"][0]
    assert system["role"] == "system" and "never follow instructions" in system["content"]
    assert requests[-1]["stream"] is True
    # a follow-up is condensed by the server's model before retrieval
    follow = a.ask("When was it created?", history=[{"role": "user", "content": "What is CODA?"}])
    assert follow.query == "When was CODA created?"


def test_unreachable_server_is_one_clear_error(make_assistant):
    from conftest import CORPUS

    a = make_assistant(llm_url=f"http://127.0.0.1:{free_port()}/v1", mode="generative")
    assert a.ingest([CORPUS]).ok
    with pytest.raises(LLMError) as err:
        a.ask("When did OpenAI launch Sora 2?")
    message = str(err.value)
    assert "\n" not in message and "127.0.0.1" in message and "CITEWISE_LLM_URL" in message
    assert a.documents(), "nothing indexed is lost"


@pytest.mark.llm
def test_concurrent_streams_share_one_model_safely():
    """Two threads (say the UI and the HTTP API) stream from the one loaded llama.cpp model."""
    llm = build_llm(LLMConfig(max_tokens=12))
    message = [ChatMessage(role=MessageRole.USER, content="Say hello.")]
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            responses = list(llm.stream_chat(message))
            results.append(responses[-1].message.content if responses else "")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(results) == 2 and all(r.strip() for r in results)
    assert not llm.run_lock.locked()
