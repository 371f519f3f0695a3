"""Answer quality on the sample corpus: facts, quotes, refusals, follow-ups (real model, real Chroma)."""

from __future__ import annotations

import pytest

from citewise import Answer, QuestionError


def _doc_text(assistant, doc_id: str) -> str:
    text = assistant.document_text(doc_id)
    assert text is not None
    return text


def assert_verbatim(assistant, answer: Answer) -> None:
    for c in answer.citations:
        assert _doc_text(assistant, c.doc_id)[c.start : c.end] == c.quote
        assert f"[{c.n}]" in answer.text


def test_sora_launch_date_is_cited(corpus_assistant):
    answer = corpus_assistant.ask("When did OpenAI launch Sora 2?")
    assert not answer.refused
    assert "September 30, 2025" in answer.text
    top = answer.citations[0]
    assert "September 30, 2025" in top.quote
    assert top.doc_id == "coda-written-request-openai.md"
    assert_verbatim(corpus_assistant, answer)


def test_coda_founding_year_is_cited(corpus_assistant):
    answer = corpus_assistant.ask("When was CODA founded?")
    assert not answer.refused
    assert "2002" in answer.citations[0].quote
    assert_verbatim(corpus_assistant, answer)


@pytest.mark.parametrize(
    "question",
    ["Who won the 2022 FIFA World Cup?", "What is the boiling point of water on Mars?", "Recommend a pasta recipe."],
)
def test_questions_outside_the_documents_are_refused(corpus_assistant, question):
    answer = corpus_assistant.ask(question)
    assert answer.refused
    assert answer.citations == []
    assert "don't cover" in answer.text


def test_follow_up_uses_the_history(corpus_assistant):
    history = [
        {"role": "user", "content": "What is CODA?"},
        {"role": "assistant", "content": "CODA is a Japanese anti-piracy organization."},
    ]
    answer = corpus_assistant.ask("And when was it founded?", history)
    assert not answer.refused
    assert any("2002" in c.quote for c in answer.citations)
    assert "CODA" in answer.query  # the retrieval query carried the subject over


def test_follow_up_without_history_does_not_borrow(corpus_assistant):
    answer = corpus_assistant.ask("And when was it founded?")
    assert answer.query == "And when was it founded?"


def test_stream_yields_text_then_the_answer(corpus_assistant):
    items = list(corpus_assistant.stream("When did OpenAI launch Sora 2?"))
    final = items[-1]
    assert isinstance(final, Answer)
    assert all(isinstance(i, str) for i in items[:-1])
    assert "".join(items[:-1]) == final.text
    assert set(final.timings) >= {"retrieve", "answer", "total"}


def test_json_form_has_the_documented_keys(corpus_assistant):
    data = corpus_assistant.ask("Who is Minoru Kiuchi?").to_dict()
    assert set(data) >= {"answer", "refused", "mode", "citations", "timings_ms"}
    for c in data["citations"]:
        assert set(c) == {"n", "doc_id", "title", "source", "page", "quote", "start", "end", "score"}


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", "x" * 100_000])
def test_bad_questions_get_a_one_line_error(corpus_assistant, bad):
    with pytest.raises(QuestionError) as err:
        corpus_assistant.ask(bad)
    assert "\n" not in str(err.value)


def test_control_characters_are_cleaned(corpus_assistant):
    answer = corpus_assistant.ask("When did OpenAI\x07 launch\x1b Sora 2?")
    assert "September 30, 2025" in answer.text


def test_japanese_question_gets_a_well_formed_answer(corpus_assistant):
    answer = corpus_assistant.ask("Sora 2はいつ公開されましたか？")
    assert isinstance(answer.refused, bool)
    assert_verbatim(corpus_assistant, answer)


def test_search_returns_passages_from_both_rankings(corpus_assistant):
    passages = corpus_assistant.search("Content Overseas Distribution Association", top_k=4)
    assert passages
    assert any(p.keyword_rank is not None for p in passages)
    assert any(p.dense_rank is not None for p in passages)
