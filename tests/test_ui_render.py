"""The chat page's rendering: escaping, linked markers, highlighted quotes, marked sentences."""

from __future__ import annotations

import re

from citewise.rag.citations import Answer, Citation, SentenceCheck
from citewise.ui import render


def _citation(n: int = 1, passage: str = "Before. The quote here. After.", quote: str = "The quote here.") -> Citation:
    start = 100 + passage.find(quote)
    return Citation(
        n=n,
        doc_id="uploads/a<b>.md",
        title="Title <script>alert(1)</script>",
        source="/x",
        page=3,
        quote=quote,
        start=start,
        end=start + len(quote),
        score=0.8123,
        passage=passage,
        passage_start=100,
    )


def test_markers_become_links_to_their_sources_and_text_is_escaped() -> None:
    answer = Answer(text="It was <b>big</b> *really* [1]. Unknown [7].", citations=[_citation()], refused=False)
    out = render.answer_markdown(answer, turn=2)
    assert '<a href="#cw-src-2-1" class="cw-cite" data-n="1">[1]</a>' in out
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert r"\*really\*" in out
    assert "[7]" not in out and r"\[7\]" in out  # a marker with no citation stays plain text


def test_markdown_escaping_keeps_numbers_at_line_start_from_becoming_lists() -> None:
    assert render.md_text("2025. It began") == r"2025\. It began"
    assert render.md_text("cost $5 - ok") == r"cost \$5 \- ok"


def test_quote_is_highlighted_inside_its_passage_with_everything_escaped() -> None:
    c = _citation(passage="x < y & ${danger}. The quote here. After.", quote="The quote here.")
    html = render.sources_html(Answer(text="a [1]", citations=[c], refused=False), turn=0, show_scores=False)
    assert 'id="cw-src-0-1"' in html
    assert '<mark class="cw-quote">The quote here.</mark>' in html
    assert "x &lt; y &amp; &#36;{danger}. " in html  # escaped, including the template's $
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "a&lt;b&gt;.md" in html and "page 3" in html
    assert "score" not in html


def test_scores_shown_only_when_asked() -> None:
    answer = Answer(text="a [1]", citations=[_citation()], refused=False)
    assert "0.812" in render.sources_html(answer, 0, show_scores=True)


def test_quote_outside_the_stated_offsets_is_still_found_or_shown() -> None:
    moved = _citation()
    moved.passage_start = 0  # offsets no longer line up: fall back to searching the passage
    assert '<mark class="cw-quote">The quote here.</mark> After.' in render.sources_html(
        Answer(text="a [1]", citations=[moved], refused=False), 0
    )
    lost = _citation(passage="Something else entirely.")
    out = render.sources_html(Answer(text="a [1]", citations=[lost], refused=False), 0)
    assert '<mark class="cw-quote">The quote here.</mark>' in out and "Something else entirely." in out


def test_unsupported_sentences_are_visibly_marked() -> None:
    text = "Sora 2 launched in 2025 [1]. The moon is cheese [1]."
    checks = [
        SentenceCheck(text="Sora 2 launched in 2025 [1].", citations=[1], supported=True),
        SentenceCheck(text="The moon is cheese [1].", citations=[1], supported=False),
    ]
    answer = Answer(text=text, citations=[_citation()], refused=False, mode="generative", sentences=checks)
    out = render.answer_markdown(answer, 0)
    marked = re.findall(r'<span class="cw-unsupported">(.*?)</span>', out)
    assert len(marked) == 1 and "moon is cheese" in marked[0] and render.UNSUPPORTED_NOTE in marked[0]
    assert "Sora 2 launched" not in marked[0]
    panel = render.sources_html(answer, 0)
    assert panel.count("cw-check-bad") == 1 and panel.count("cw-check-ok") == 1


def test_refusal_is_plain_and_has_no_sources() -> None:
    answer = Answer(text="The documents don't cover this question.", citations=[], refused=True)
    assert (
        render.answer_markdown(answer, 0) == '<span class="cw-refused">The documents don\'t cover this question.</span>'
    )
    assert "don't cover" in render.sources_html(answer, 0)


def test_state_round_trip_keeps_passages_and_checks() -> None:
    checks = [SentenceCheck(text="a [1].", citations=[1], supported=False)]
    answer = Answer(text="a [1].", citations=[_citation()], refused=False, sentences=checks, note="fallback used")
    back = render.answer_from_state(render.answer_state(answer))
    assert back.citations[0].passage == answer.citations[0].passage
    assert back.citations[0].passage_start == 100
    assert back.sentences is not None and back.sentences[0].supported is False
    turns = [{"question": "q?", "answer": render.answer_state(answer)}]
    assert render.history(turns) == [{"role": "user", "content": "q?"}, {"role": "assistant", "content": "a [1]."}]
    messages = render.chat_messages(turns)
    assert [m["role"] for m in messages] == ["user", "assistant"] and "fallback used" in messages[1]["content"]
