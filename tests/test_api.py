"""The HTTP API, through a real `citewise serve` (uvicorn) and the official openai client."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from conftest import API_KEY

QUESTION = "When did OpenAI launch Sora 2?"


@pytest.fixture
def client(api_server):
    return openai.OpenAI(base_url=f"{api_server.url}/v1", api_key=API_KEY, max_retries=0)


@pytest.fixture
def http(api_server):
    with httpx.Client(base_url=api_server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120) as c:
        yield c


def check_citations(citations: list[dict]) -> None:
    for c in citations:
        offset = c["start"] - c["passage_start"]
        assert c["passage"][offset : offset + len(c["quote"])] == c["quote"]
        assert c["end"] - c["start"] == len(c["quote"])


def test_chat_completion_through_the_openai_client(client):
    resp = client.chat.completions.create(model="citewise-extractive", messages=[{"role": "user", "content": QUESTION}])
    text = resp.choices[0].message.content
    assert "September 30, 2025" in text and "[1]" in text
    assert "\n\nSources:\n[1] " in text
    assert resp.model == "citewise-extractive" and resp.choices[0].finish_reason == "stop"
    extra = resp.model_extra
    assert extra["refused"] is False
    assert "September 30, 2025" in extra["citations"][0]["quote"]
    assert extra["citations"][0]["doc_id"] == "coda-written-request-openai.md"
    check_citations(extra["citations"])


def test_streaming_matches_the_plain_answer_and_ends_with_citations(client):
    messages = [{"role": "user", "content": QUESTION}]
    plain = client.chat.completions.create(model="citewise", messages=messages)
    chunks = list(client.chat.completions.create(model="citewise", messages=messages, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == plain.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"] == plain.model_extra["citations"]
    assert last.model_extra["refused"] is False
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_raw_stream_is_openai_sse_ending_with_done(http):
    body = {"model": "extractive", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with http.stream("POST", "/v1/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in resp.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1


def test_follow_up_uses_history_and_off_topic_is_refused(client):
    history = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "What did CODA ask OpenAI?"},
        {"role": "assistant", "content": "CODA asked ... [1]\n\nSources:\n[1] x"},
        {"role": "user", "content": "And when did it launch Sora 2?"},
    ]
    resp = client.chat.completions.create(model="citewise", messages=history)
    assert "September 30, 2025" in resp.choices[0].message.content
    off = client.chat.completions.create(
        model="citewise", messages=[{"role": "user", "content": "Who won the 2022 FIFA World Cup?"}]
    )
    assert off.model_extra["refused"] is True and off.model_extra["citations"] == []
    assert "Sources:" not in off.choices[0].message.content


def test_models_and_unknown_model(client):
    ids = {m.id for m in client.models.list()}
    assert {"citewise", "citewise-extractive", "citewise-generative"} <= ids
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert err.value.body["code"] == "model_not_found"


def test_search_returns_passages_with_offsets(http):
    resp = http.post("/v1/search", json={"query": "opt-out", "top_k": 3})
    assert resp.status_code == 200
    passages = resp.json()["passages"]
    assert 1 <= len(passages) <= 3
    assert any("opt-out" in p["text"].lower() for p in passages)
    assert all(p["end"] - p["start"] == len(p["text"]) for p in passages)


def test_upload_list_ask_remove(http, client):
    text = b"The Zorblat festival is held every April in Quenton. It was founded in 1911 by Mara Velde.\n"
    resp = http.post("/v1/documents", files={"file": ("zorblat notes.txt", text, "text/plain")})
    assert resp.status_code == 201, resp.text
    doc_id = resp.json()["document"]["doc_id"]
    assert doc_id == "uploads/zorblat notes.txt"
    assert doc_id in [d["doc_id"] for d in http.get("/v1/documents").json()["documents"]]
    answer = client.chat.completions.create(
        model="citewise", messages=[{"role": "user", "content": "Who founded the Zorblat festival?"}]
    )
    assert "Mara Velde" in answer.choices[0].message.content
    assert answer.model_extra["citations"][0]["doc_id"] == doc_id
    removed = http.delete(f"/v1/documents/{doc_id}")
    assert removed.status_code == 200 and removed.json() == {"removed": doc_id}
    assert http.delete(f"/v1/documents/{doc_id}").status_code == 404
    hits = http.post("/v1/search", json={"query": "Zorblat festival Mara Velde"}).json()["passages"]
    assert all(p["doc_id"] != doc_id for p in hits)


def test_bad_uploads_are_refused_and_lose_nothing(http):
    before = http.get("/v1/documents").json()["documents"]
    cases = [
        (("run.exe", b"MZ...", "application/octet-stream"), 400, "unsupported file type"),
        (("empty.txt", b"", "text/plain"), 400, "empty"),
        (("broken.pdf", b"%PDF-1.4 this is not really a pdf", "application/pdf"), 400, "broken.pdf"),
        (("big.txt", b"a" * (1024 * 1024 + 10), "text/plain"), 413, "limit"),
    ]
    for file, status, words in cases:
        resp = http.post("/v1/documents", files={"file": file})
        assert resp.status_code == status, (file[0], resp.text)
        assert words in resp.json()["error"]["message"]
    assert http.post("/v1/documents", data={"nofile": "x"}).status_code == 400
    assert http.get("/v1/documents").json()["documents"] == before


MALFORMED = [
    (b'{"model": "citewise", "messages": [', "not valid JSON"),
    (b'{"model": 5, "messages": "hi"}', "model"),
    (b'{"model": "citewise", "messages": []}', "messages"),
    (b'{"model": "citewise"}', "messages"),
    (b'{"model": "citewise", "messages": [{"role": "wizard", "content": "x"}]}', "role"),
    (b'{"model": "citewise", "messages": [{"role": "user", "content": {"a": 1}}]}', "content"),
    (b'{"model": "citewise", "messages": [{"role": "user", "content": "   "}]}', "question is empty"),
    (b'{"model": "citewise", "messages": [{"role": "assistant", "content": "hi"}]}', "last message"),
    (b'{"model": "citewise", "messages": [{"role": "user", "content": "hi"}], "top_k": "many"}', "top_k"),
    (b"[1, 2, 3]", "object"),
    (b"\xff\xfe\x00garbage", "JSON"),
]


@pytest.mark.parametrize(("body", "words"), MALFORMED)
def test_malformed_chat_requests_get_a_json_4xx(http, body, words):
    resp = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert 400 <= resp.status_code < 500, resp.text
    error = resp.json()["error"]
    assert words.lower() in error["message"].lower() and error["type"]


def test_huge_and_odd_requests_never_500(http):
    huge = json.dumps({"model": "citewise", "messages": [{"role": "user", "content": "a" * 2_000_000}]})
    assert http.post("/v1/chat/completions", content=huge).status_code == 413

    def chunked():
        yield huge[:1000].encode()
        yield huge[1000:].encode()

    resp = http.post("/v1/chat/completions", content=chunked(), headers={"content-type": "application/json"})
    assert resp.status_code == 413 and "limit" in resp.json()["error"]["message"]
    long_q = {"model": "citewise", "messages": [{"role": "user", "content": "why " * 5000}]}
    assert http.post("/v1/chat/completions", json=long_q).status_code == 400
    assert http.post("/v1/search", json={"query": ""}).status_code == 400
    assert http.post("/v1/search", json={"query": "x", "top_k": 0}).status_code == 400
    assert http.get("/v1/chat/completions").status_code == 405
    assert http.get("/v1/nothing-here").json()["error"]["type"] == "not_found_error"


def test_api_key_is_required_when_set(api_server):
    url = f"{api_server.url}/v1/documents"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        resp = httpx.get(url, headers=headers, timeout=60)
        assert resp.status_code == 401, headers
        assert "API key" in resp.json()["error"]["message"]
    bad = openai.OpenAI(base_url=f"{api_server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    assert httpx.get(url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60).status_code == 200
    assert httpx.get(f"{api_server.url}/healthz", timeout=60).json()["documents"] >= 2  # health needs no key


def test_openapi_schema_describes_the_api(http):
    schema = http.get("/openapi.json").json()
    paths = schema["paths"]
    assert {"/v1/chat/completions", "/v1/search", "/v1/documents", "/v1/documents/{doc_id}", "/v1/models"} <= set(paths)
    assert set(paths["/v1/documents"]) == {"get", "post"} and "delete" in paths["/v1/documents/{doc_id}"]
    components = schema["components"]["schemas"]
    assert {"citations", "refused", "choices"} <= set(components["ChatCompletion"]["properties"])
    assert "messages" in components["ChatCompletionRequest"]["required"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert "413" in paths["/v1/documents"]["post"]["responses"]


def test_parallel_requests_share_one_assistant(client, http):
    questions = [QUESTION, "Who is Minoru Kiuchi?", "What did CODA ask OpenAI to do?"] * 3
    expected = {
        q: client.chat.completions.create(model="citewise", messages=[{"role": "user", "content": q}])
        for q in set(questions)
    }

    def ask(q: str) -> tuple[str, str]:
        r = client.chat.completions.create(model="citewise", messages=[{"role": "user", "content": q}])
        return q, r.choices[0].message.content

    def search(q: str) -> int:
        return http.post("/v1/search", json={"query": q}).status_code

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, questions))
        statuses = list(pool.map(search, questions))
    for q, text in answers:
        assert text == expected[q].choices[0].message.content
    assert statuses == [200] * len(questions)


def test_serve_help_and_import_stay_light():
    import subprocess
    import sys

    code = (
        "import sys, citewise.api, citewise.api.mcp_tools\n"
        "heavy = [m for m in ('fastapi', 'mcp', 'torch', 'gradio', 'llama_cpp', 'uvicorn') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "citewise.cli", "serve", "--help"], capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0 and "--mcp-stdio" in helped.stdout and "/ui" in helped.stdout


def test_serve_output_has_no_library_debug_lines_and_names_every_path(api_server, client):
    client.chat.completions.create(model="citewise", messages=[{"role": "user", "content": QUESTION}])  # builds BM25
    log = api_server.log_path.read_text()
    assert "Building index" not in log and "DEBUG" not in log  # bm25s logs at DEBUG by default
    start = next(line for line in log.splitlines() if line.startswith("citewise serving "))
    assert all(path in start for path in ("/v1", "/docs", "/healthz", "/mcp"))
