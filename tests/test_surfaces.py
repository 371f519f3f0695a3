"""Confidence and a refusal's closest passages reach the user in every interface.

Each interface is tested twice: with an Answer built here (so every field is known and
asserted exactly), and end to end on the sample corpus with real components (the answers
the engine gives; where it leaves ``closest`` empty or ``confidence`` unset, only the shape
is checked).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from conftest import API_KEY, CORPUS
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from citewise.api import openai_format as fmt
from citewise.rag.citations import Answer, Citation
from citewise.ui import actions, render

ANSWERABLE = "When did OpenAI launch Sora 2?"
OFF_TOPIC = "Who won the 2022 FIFA World Cup?"
DOCUMENT = "Intro. Kiuchi spoke <loudly> about AI & creators. Then he left."


def _near(n: int = 1, quote: str = "Kiuchi spoke <loudly> about AI & creators.", title: str = "Japan & AI") -> Citation:
    start = DOCUMENT.index(quote)
    return Citation(
        n=n,
        doc_id="japan.md",
        title=title,
        source="/docs/japan.md",
        page=None,
        quote=quote,
        start=start,
        end=start + len(quote),
        score=0.0312,
        passage=DOCUMENT,
        passage_start=0,
    )


def _refusal(**extra: Any) -> Answer:
    text = "The documents don't cover this question. The closest passages are in “Japan & AI”."
    return Answer(text=text, citations=[], refused=True, closest=[_near(1), _near(2, "Then he left.")], **extra)


def _answered(confidence: float | None = 0.8234) -> Answer:
    return Answer(text="He spoke about AI. [1]", citations=[_near()], refused=False, confidence=confidence)


# ---- the chat page (render functions, and the actions over a real Assistant) ------------------
def test_chat_shows_confidence_discreetly_and_only_when_there_is_one() -> None:
    shown = render.answer_markdown(_answered(), 0)
    assert shown.endswith('\n\n<small class="cw-confidence">confidence 0.82</small>')
    assert "confidence" not in render.answer_markdown(_answered(None), 0)


def test_chat_lists_a_refusals_closest_passages_apart_from_citations() -> None:
    shown = render.answer_markdown(_refusal(confidence=0.03), 0)
    head, _, rest = shown.partition("\n\n**Closest passages (not answers)**")
    assert head == f'<span class="cw-refused">{render.md_text(_refusal().text)}</span>'
    assert rest == (
        "\n\n> *Japan &amp; AI*: \u201cKiuchi spoke &lt;loudly&gt; about AI &amp; creators.\u201d"
        "\n\n> *Japan &amp; AI*: \u201cThen he left.\u201d"
    )
    assert "cw-cite" not in shown and "confidence" not in shown  # no [n] links; a refusal's score is not shown
    # with nothing close, a refusal is the plain sentence it always was
    bare = Answer(text="The documents don't cover this question.", citations=[], refused=True)
    assert (
        render.answer_markdown(bare, 0) == '<span class="cw-refused">The documents don\'t cover this question.</span>'
    )


def test_sources_panel_sets_closest_passages_apart_with_their_context() -> None:
    panel = render.sources_html(_refusal(), 3)
    empty, _, closest = panel.partition('<div class="cw-closest" data-turn="3">')
    assert "No sources" in empty and closest
    assert "Closest passages (not answers)" in closest and "do not answer it" in closest
    assert closest.count('<div class="cw-closest-entry" data-doc="japan.md">') == 2
    assert '<mark class="cw-quote">Kiuchi spoke &lt;loudly&gt; about AI &amp; creators.</mark> Then he left.' in closest
    assert "cw-src-" not in panel and 'class="cw-source"' not in panel  # no anchors a [n] marker could reach
    assert "cw-closest" not in render.sources_html(_answered(), 0)


def test_conversation_state_keeps_confidence_and_closest_passages() -> None:
    state = render.answer_state(_refusal(confidence=0.0312))
    back = render.answer_from_state(json.loads(json.dumps(state)))
    assert back.closest == _refusal().closest and back.confidence == 0.0312  # passages included
    restored = render.chat_messages([{"question": "q", "answer": state}])
    assert "Closest passages (not answers)" in restored[-1]["content"]
    assert render.answer_from_state(render.answer_state(_answered())).confidence == 0.8234


def test_chat_actions_show_confidence_and_closest_end_to_end(corpus_assistant) -> None:
    answered = list(actions.ask(corpus_assistant, ANSWERABLE, [], "extractive", 4, False))[-1]
    expected = corpus_assistant.ask(ANSWERABLE)
    label = render.confidence_label(expected.confidence)
    assert (
        (label in answered.messages[-1]["content"]) if label else "confidence" not in answered.messages[-1]["content"]
    )
    refused = list(actions.ask(corpus_assistant, OFF_TOPIC, [], "extractive", 4, False))[-1]
    assert refused.turns is not None and refused.turns[0]["answer"]["refused"] is True
    kept = refused.turns[0]["answer"]["closest"]
    assert refused.sources is not None
    if kept:  # each closest passage is in the chat and in the panel, quoted in its passage
        assert all(c["passage"] and c["quote"] in c["passage"] for c in kept)
        assert "Closest passages (not answers)" in refused.messages[-1]["content"]
        assert refused.sources.count("cw-closest-entry") == len(kept)
    else:
        assert "cw-closest" not in refused.sources


# ---- the CLI ------------------------------------------------------------------------------------
def test_cli_prints_confidence_and_closest_passages(capsys: pytest.CaptureFixture[str]) -> None:
    from citewise.cli import _print_sources

    _print_sources(_answered())
    assert capsys.readouterr().out == (
        "  [1] Japan & AI (japan.md): \u201cKiuchi spoke <loudly> about AI & creators.\u201d\n(confidence 0.82)\n"
    )
    _print_sources(_refusal(confidence=0.03))
    assert capsys.readouterr().out == (
        "Closest passages:\n"
        "  - Japan & AI (japan.md): \u201cKiuchi spoke <loudly> about AI & creators.\u201d\n"
        "  - Japan & AI (japan.md): \u201cThen he left.\u201d\n"
    )
    _print_sources(_answered(None))
    assert "confidence" not in capsys.readouterr().out


def _cli(args: list[str], data: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env["CITEWISE_DATA_DIR"] = str(data)
    out = subprocess.run(
        [sys.executable, "-m", "citewise.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=600,
        cwd=data.parent,
    )
    assert out.returncode == 0, out.stderr
    return out


def _closest_lines(closest: list[dict[str, Any]]) -> list[str]:
    # one line each: a quote that spans a line break is shown on one line (the JSON keeps it exact)
    return [f"  - {c['title']} ({c['doc_id']}): \u201c{' '.join(c['quote'].split())}\u201d" for c in closest]


def test_cli_ask_and_chat_show_what_ask_json_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _cli(["ingest", str(CORPUS)], data)
    refused = json.loads(_cli(["ask", "--json", OFF_TOPIC], data).stdout)
    assert refused["refused"] is True and isinstance(refused["closest"], list)
    lines = _cli(["ask", OFF_TOPIC], data).stdout.splitlines()
    assert lines[0] == refused["answer"]
    assert lines[1:] == (["Closest passages:", *_closest_lines(refused["closest"])] if refused["closest"] else [])
    chat = _cli(["chat"], data, stdin=f"{ANSWERABLE}\n{OFF_TOPIC}\n\n").stdout
    turns = [t.split("you> ")[0] for t in chat.split("citewise> ")[1:]]
    confidence = json.loads(_cli(["ask", "--json", ANSWERABLE], data).stdout).get("confidence")
    if confidence is not None:
        assert turns[0].rstrip().splitlines()[-1] == f"(confidence {confidence:.2f})"
    if refused["closest"]:
        assert "\n".join(["Closest passages:", *_closest_lines(refused["closest"])]) in turns[1]


# ---- the HTTP API -------------------------------------------------------------------------------
def test_completion_carries_confidence_and_closest() -> None:
    body = fmt.completion(_refusal(confidence=0.03121), "citewise")
    assert body["refused"] is True and body["citations"] == [] and body["confidence"] == 0.0312
    assert [c["quote"] for c in body["closest"]] == ["Kiuchi spoke <loudly> about AI & creators.", "Then he left."]
    assert body["closest"][0]["passage"] == DOCUMENT and body["closest"][0]["score"] == 0.0312
    content = body["choices"][0]["message"]["content"]
    assert content == _refusal().text + (
        "\n\nClosest passages (not answers):\n"
        "- Japan & AI (japan.md): \u201cKiuchi spoke <loudly> about AI & creators.\u201d\n"
        "- Japan & AI (japan.md): \u201cThen he left.\u201d"
    )
    assert fmt.strip_sources(content) == _refusal().text  # sent back as history, the list is dropped
    plain = fmt.completion(_answered(None), "citewise")
    assert plain["confidence"] is None and plain["closest"] == [] and "Closest" not in str(plain["choices"])


def test_last_stream_chunk_carries_confidence_and_closest() -> None:
    answer = _refusal(confidence=0.5)
    events = list(fmt.sse_stream(answer.text, iter([answer]), "citewise"))
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert streamed == fmt.completion(answer, "citewise")["choices"][0]["message"]["content"]
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["confidence"] == 0.5
    assert [c["doc_id"] for c in last["closest"]] == ["japan.md", "japan.md"]
    assert all("closest" not in c for c in chunks[:-1])


def _check_closest(closest: list[dict[str, Any]], content: str) -> None:
    for c in closest:
        offset = c["start"] - c["passage_start"]
        assert c["passage"][offset : offset + len(c["quote"])] == c["quote"] and c["title"]
        assert f"{c['title']} ({c['doc_id']}): \u201c{c['quote']}\u201d" in content
    assert ("Closest passages (not answers):" in content) == bool(closest)


def test_http_api_answers_carry_confidence_and_closest(api_server) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=api_server.url, headers=headers, timeout=300) as http:
        answered = http.post("/v1/chat/completions", json=_chat(ANSWERABLE)).json()
        refused = http.post("/v1/chat/completions", json=_chat(OFF_TOPIC)).json()
        with http.stream("POST", "/v1/chat/completions", json=_chat(OFF_TOPIC, stream=True)) as resp:
            lines = [line for line in resp.iter_lines() if line.startswith("data: {")]
        schema = http.get("/openapi.json").json()["components"]["schemas"]["ChatCompletion"]["properties"]
    assert answered["refused"] is False and answered["closest"] == []
    assert answered["confidence"] is None or 0 <= answered["confidence"] <= 1
    assert refused["refused"] is True and refused["citations"] == [] and isinstance(refused["closest"], list)
    assert refused["confidence"] is None or 0 <= refused["confidence"] <= 1
    _check_closest(refused["closest"], refused["choices"][0]["message"]["content"])
    last = json.loads(lines[-1].removeprefix("data: "))
    assert last["closest"] == refused["closest"] and last["confidence"] == refused["confidence"]
    assert {"confidence", "closest", "citations", "refused"} <= set(schema)
    assert schema["closest"]["items"] == {"$ref": "#/components/schemas/CitationOut"}


def _chat(question: str, stream: bool = False) -> dict[str, Any]:
    return {"model": "citewise", "stream": stream, "messages": [{"role": "user", "content": question}]}


# ---- MCP ----------------------------------------------------------------------------------------
def test_mcp_ask_carries_confidence_and_closest(api_server) -> None:
    async def run() -> tuple[Any, Any]:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300)
        async with http, Client(streamable_http_client(f"{api_server.url}/mcp/", http_client=http)) as client:
            return (
                await client.call_tool("ask", {"question": ANSWERABLE}),
                await client.call_tool("ask", {"question": OFF_TOPIC}),
            )

    answered, refused = (r.structured_content for r in asyncio.run(run()))
    assert answered["refused"] is False and answered["closest"] == [] and answered["citations"]
    assert answered["confidence"] is None or 0 <= answered["confidence"] <= 1
    assert refused["refused"] is True and refused["citations"] == []
    assert set(refused) == {"answer", "citations", "refused", "confidence", "closest", "disagreement"}
    assert refused["disagreement"] is None  # a refusal quotes no claims, so none disagree
    for c in refused["closest"]:
        offset = c["start"] - c["passage_start"]
        assert c["passage"][offset : offset + len(c["quote"])] == c["quote"] and c["title"] and c["doc_id"]


# ---- LlamaIndex ---------------------------------------------------------------------------------
def test_llamaindex_metadata_carries_confidence_and_closest(corpus_assistant) -> None:
    from citewise.llamaindex import answer_metadata

    meta = answer_metadata(_refusal(confidence=0.03))
    assert meta["refused"] is True and meta["confidence"] == 0.03
    assert [c["quote"] for c in meta["closest"]] == ["Kiuchi spoke <loudly> about AI & creators.", "Then he left."]
    assert answer_metadata(_answered())["closest"] == [] and answer_metadata(_answered())["confidence"] == 0.8234
    response = corpus_assistant.as_query_engine().query(OFF_TOPIC)
    expected = corpus_assistant.ask(OFF_TOPIC)
    assert response.source_nodes == [] and response.metadata["refused"] is True
    assert [c["quote"] for c in response.metadata["closest"]] == [c.quote for c in expected.closest]
    assert response.metadata["confidence"] == expected.confidence
