"""Chunks and sentences keep exact offsets (property tests)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from citewise.index.chunking import chunk_text, sentence_spans

SENTENCE = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "Zs"]), min_size=1, max_size=60)
TEXT = st.lists(
    st.tuples(SENTENCE, st.sampled_from([". ", "! ", "? ", ".\n", "\n\n", ", "])), min_size=1, max_size=40
).map(lambda parts: "".join(a + b for a, b in parts))


@settings(max_examples=80, deadline=None)
@given(TEXT)
def test_sentence_spans_are_verbatim_and_ordered(text):
    spans = sentence_spans(text)
    last = 0
    for start, end in spans:
        assert start >= last and end > start
        piece = text[start:end]
        assert piece == piece.strip() and piece
        last = end


@settings(max_examples=40, deadline=None)
@given(TEXT, st.integers(min_value=16, max_value=64))
def test_chunks_are_verbatim_slices(text, size):
    for chunk in chunk_text(text, size, size // 4):
        assert text[chunk.start : chunk.end] == chunk.text


def test_initials_and_abbreviations_do_not_split():
    text = "Writer George R.R. Martin sued. The U.S. government agreed. Mr. Smith left."
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == ["Writer George R.R. Martin sued.", "The U.S. government agreed.", "Mr. Smith left."]


def test_headings_and_bullets_are_their_own_sentences():
    text = "CODA's Demands to OpenAI\n\n  • Refrain from using content.\n  • Answer all inquiries."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "CODA's Demands to OpenAI",
        "• Refrain from using content.",
        "• Answer all inquiries.",
    ]
