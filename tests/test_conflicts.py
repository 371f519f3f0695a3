"""Documents that disagree on a fact: the answer quotes and cites both claims (issue 17).

Every document here is made up for these tests (no suite uses them): a disagreement is
shown when two documents answer the question equally well with different values, and
never when they agree, when one document dates two different events, or when the other
document says something else about the subject.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS
from test_cli import run
from test_generative import ScriptedLLM, assert_citations_hold, source_with, with_llm

from citewise.api.models import ChatCompletion
from citewise.api.openai_format import answer_fields, completion
from citewise.rag.citations import Answer
from citewise.rag.conflicts import _agree
from citewise.ui import render

QUESTION = "When did Northwind Robotics launch the Orion rover?"
PRESS = (
    "# The Orion rover\n\n"
    "Northwind Robotics builds small survey rovers for farms. "
    "Northwind Robotics launched the Orion rover on March 3, 2021, after two years of field trials. "
    "The rover maps soil moisture with a ground radar.\n"
)
HISTORY = (
    "# A short history of Northwind Robotics\n\n"
    "Northwind Robotics was started by two engineers in a barn near Uppsala. "
    "Northwind Robotics launched the Orion rover on {date}, at a trade fair in Stockholm. "
    "Its rovers are sold in nine countries.\n"
)


def indexed(make_assistant, tmp_path: Path, files: dict[str, str], with_corpus: bool = False):
    folder = tmp_path / "docs"
    if with_corpus:
        shutil.copytree(CORPUS, folder)
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    a = make_assistant()
    report = a.ingest([folder])
    assert report.ok, report.failed
    return a


@pytest.fixture
def disputed(make_assistant, tmp_path):
    return indexed(make_assistant, tmp_path, {"orion.md": PRESS, "history.md": HISTORY.format(date="June 14, 2022")})


def test_two_launch_dates_are_both_shown_with_their_sources(disputed):
    answer = disputed.ask(QUESTION)
    assert not answer.refused
    assert answer.text.startswith("The documents disagree:"), answer.text
    assert "March 3, 2021" in answer.text and "June 14, 2022" in answer.text
    assert {c.doc_id for c in answer.citations} == {"orion.md", "history.md"}
    assert "[1]" in answer.text and "[2]" in answer.text and len(answer.citations) == 2
    for c in answer.citations:
        assert disputed.document_text(c.doc_id)[c.start : c.end] == c.quote  # still verbatim quotes
    d = answer.disagreement
    assert d is not None and d.about == "date"
    assert {c.value for c in d.claims} == {"March 3, 2021", "June 14, 2022"}
    by_n = {c.n: c for c in answer.citations}
    for claim in d.claims:  # each value points at the citation that states it
        assert claim.value in by_n[claim.citation].quote and by_n[claim.citation].doc_id == claim.doc_id


def test_agreeing_documents_are_no_disagreement(make_assistant, tmp_path):
    a = indexed(make_assistant, tmp_path, {"orion.md": PRESS, "history.md": HISTORY.format(date="3 March 2021")})
    answer = a.ask(QUESTION)
    assert answer.disagreement is None and "disagree" not in answer.text
    assert "March" in answer.text and "2021" in answer.text


def test_one_document_dating_two_events_is_no_disagreement(make_assistant, tmp_path):
    both = (
        "# Northwind Robotics products\n\n"
        "Northwind Robotics launched the Orion rover on March 3, 2021. "
        "Northwind Robotics launched the Vega drone on May 9, 2023, two years later. "
        "Both machines are built in Uppsala.\n"
    )
    other = "# Farm robots\n\nSurvey rovers map soil moisture so farmers water less. Most of them run on batteries.\n"
    a = indexed(make_assistant, tmp_path, {"products.md": both, "farm.md": other})
    answer = a.ask(QUESTION)
    assert answer.disagreement is None and "disagree" not in answer.text
    assert "March 3, 2021" in answer.text


def test_another_event_in_another_document_is_no_disagreement(make_assistant, tmp_path):
    unveiled = (
        "# Orion 2\n\n"
        "Northwind Robotics unveiled a second version of the Orion rover on June 14, 2022. "
        "The new rover carries a larger battery.\n"
    )
    a = indexed(make_assistant, tmp_path, {"orion.md": PRESS, "orion2.md": unveiled})
    answer = a.ask(QUESTION)
    assert answer.disagreement is None and "disagree" not in answer.text
    assert "March 3, 2021" in answer.text


def test_different_counts_are_a_disagreement_on_a_number(make_assistant, tmp_path):
    a = indexed(
        make_assistant,
        tmp_path,
        {
            "team.md": "# The team\n\nNorthwind Robotics employs 240 people at its Uppsala plant. Most are engineers.\n",
            "report.md": "# Annual report\n\nNorthwind Robotics employs 310 people at its Uppsala plant. Sales rose.\n",
        },
    )
    answer = a.ask("How many people does Northwind Robotics employ at its Uppsala plant?")
    assert answer.disagreement is not None and answer.disagreement.about == "number", answer.text
    assert "240" in answer.text and "310" in answer.text
    assert {c.doc_id for c in answer.citations} == {"team.md", "report.md"}


def test_values_are_compared_by_meaning_not_spelling():
    assert _agree("date", "March 3, 2021", "3 March 2021") is True
    assert _agree("date", "2021", "March 3, 2021") is True  # less precise, not different
    assert _agree("date", "March 3, 2021", "March 4, 2021") is False
    assert _agree("date", "September 30, 2025", "January 1, 1999") is False
    assert _agree("date", "last week", "March 3, 2021") is None  # cannot be compared
    assert _agree("number", "1.5 million", "1,500,000") is True
    assert _agree("number", "two", "2") is True
    assert _agree("number", "240", "310") is False
    assert _agree("name", "Sam Altman", "Altman") is True
    assert _agree("name", "Ingrid Solberg", "Erik Haugen") is False


# ---- the issue's case: a false date beside the sample corpus ---------------------------------
def test_a_plain_false_date_beside_the_corpus_is_shown_as_a_disagreement(make_assistant, tmp_path):
    note = (
        "# A note on Sora 2\n\nSora 2 is OpenAI's video generation model. "
        "OpenAI launched Sora 2 on January 1, 1999. The note was written by a reader of the Tech Times article.\n"
    )
    a = indexed(make_assistant, tmp_path, {"sora-note.md": note}, with_corpus=True)
    answer = a.ask("When did OpenAI launch Sora 2?")
    assert "September 30, 2025" in answer.text and "January 1, 1999" in answer.text, answer.text
    assert answer.text.startswith("The documents disagree:")
    assert {c.doc_id for c in answer.citations} == {"coda-written-request-openai.md", "sora-note.md"}
    assert answer.disagreement is not None
    # the plain false statement alone ranks first: without this, it would be the whole answer
    assert {c.value for c in answer.disagreement.claims} == {"September 30, 2025", "January 1, 1999"}


def test_the_injected_phrasing_is_excluded_not_shown_as_a_claim(make_assistant, tmp_path):
    from test_injection import ISSUE_EXAMPLE

    note = f"# A note on Sora 2\n\nSora 2 is OpenAI's video generation model. {ISSUE_EXAMPLE}\n"
    a = indexed(make_assistant, tmp_path, {"sora-note.md": note}, with_corpus=True)
    answer = a.ask("When did OpenAI launch Sora 2?")
    assert "September 30, 2025" in answer.text and "1999" not in answer.text
    assert answer.disagreement is None


# ---- generative mode -------------------------------------------------------------------------
def test_generative_answer_keeps_both_claims(disputed):
    lead = "Northwind Robotics launched the Orion rover on March 3, 2021"

    def script(prompt: str) -> str:
        assert "March 3, 2021" in prompt and "June 14, 2022" in prompt  # the LLM sees both passages
        return f"{lead}. [{source_with(prompt, lead)}]"

    a, _llm = with_llm(disputed, script)
    answer = a.ask(QUESTION, mode="generative")
    assert isinstance(_llm, ScriptedLLM)
    assert "June 14, 2022" in answer.text and "March 3, 2021" in answer.text, answer.text
    assert "The documents disagree:" in answer.text
    assert {c.doc_id for c in answer.citations} == {"orion.md", "history.md"}
    assert answer.disagreement is not None
    assert_citations_hold(a, answer)


# ---- every interface shows it ------------------------------------------------------------------
def test_disagreement_in_json_http_mcp_and_ui_forms(disputed):
    answer = disputed.ask(QUESTION)
    data = answer.to_dict()  # `citewise ask --json`
    assert data["disagreement"]["about"] == "date" and len(data["disagreement"]["claims"]) == 2
    again = Answer.from_dict(json.loads(json.dumps(data)))
    assert again.disagreement == answer.disagreement
    fields = answer_fields(answer)  # the HTTP API's completion and last stream chunk, and MCP's `ask`
    assert fields["disagreement"] == data["disagreement"]
    body = ChatCompletion.model_validate(completion(answer, "citewise"))
    assert body.disagreement is not None and [c.citation for c in body.disagreement.claims] == [1, 2]
    plain = disputed.ask("What does the Orion rover map?")
    assert plain.disagreement is None and answer_fields(plain)["disagreement"] is None
    assert "disagreement" not in plain.to_dict()
    panel = render.sources_html(render.answer_from_state(render.answer_state(answer)), 0)  # the chat's sources
    assert 'class="cw-disagreement"' in panel and "June 14, 2022" in panel and "March 3, 2021" in panel
    assert 'class="cw-disagreement"' not in render.sources_html(plain, 1)


def test_ask_json_on_the_command_line(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "orion.md").write_text(PRESS)
    (folder / "history.md").write_text(HISTORY.format(date="June 14, 2022"))
    assert run(["ingest", str(folder)], tmp_path).returncode == 0
    out = run(["ask", "--json", QUESTION], tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["disagreement"]["about"] == "date"
    assert {c["doc_id"] for c in data["citations"]} == {"orion.md", "history.md"}


def test_http_api_and_its_stream_carry_the_disagreement(disputed):
    from fastapi.testclient import TestClient

    from citewise.api.app import create_app

    body = {"model": "citewise", "messages": [{"role": "user", "content": QUESTION}]}
    with TestClient(create_app(disputed, ui=False, mcp=False)) as client:
        plain = client.post("/v1/chat/completions", json=body).json()
        with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as resp:
            chunks = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: {")]
        schema = client.get("/openapi.json").json()["components"]["schemas"]["ChatCompletion"]["properties"]
    assert plain["disagreement"]["about"] == "date"
    assert {c["doc_id"] for c in plain["disagreement"]["claims"]} == {"orion.md", "history.md"}
    assert "The documents disagree:" in plain["choices"][0]["message"]["content"]
    assert chunks[-1]["disagreement"] == plain["disagreement"]
    assert "disagreement" in schema


def test_mcp_ask_carries_the_disagreement(disputed):
    import asyncio

    from mcp import Client

    from citewise.api.mcp_tools import build_mcp_server

    async def ask() -> dict:
        async with Client(build_mcp_server(disputed)) as client:
            return (await client.call_tool("ask", {"question": QUESTION})).structured_content

    answer = asyncio.run(ask())
    assert answer["disagreement"]["about"] == "date" and "The documents disagree:" in answer["answer"]
