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


def test_a_lone_small_letter_abbreviates_but_a_decade_ends_a_sentence():
    text = "The ferry rules follow the Harbour Code, v. 2.1. See p. 14 for fares. The line opened in the 1890s. It still runs."
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == [
        "The ferry rules follow the Harbour Code, v. 2.1.",
        "See p. 14 for fares.",
        "The line opened in the 1890s.",
        "It still runs.",
    ]


def test_headings_and_bullets_are_their_own_sentences():
    text = "CODA's Demands to OpenAI\n\n  • Refrain from using content.\n  • Answer all inquiries."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "CODA's Demands to OpenAI",
        "• Refrain from using content.",
        "• Answer all inquiries.",
    ]


# --- SpanCounter: one tokenization per document, the same counts as tokenizing each part ---

_EDGE_TEXTS = [
    "Ünïcödé café naïve résumé — “quoted” text… and 東京 タワー 日本語の文章です。 " * 30,
    "a\x00b\x1cc word, " * 120,  # control characters the tokenizer drops, joining the letters beside them
    "x" * 2500 + " tail.",  # one word longer than a chunk: the splitter cuts it inside the word
    "Hello. Hello. Hello. " * 150,  # the same sentence many times
    "supercalifragilisticexpialidocious" * 20 + " end.",
    "https://example.com/a/very/long/url?with=query&and=more " * 50,
    "Tabs\tand\u00a0nbsp\u2009thin spaces, emoji 😀😀 and ™ © symbols. " * 40,
]


def _word_piece_embedder():
    from citewise.index.embed import SentenceEmbedder

    return SentenceEmbedder(backend="onnx-int8")


def test_span_counter_chunks_like_the_tokenizer_on_every_corpus_text():
    """The chunks are the same, boundary for boundary, as with a tokenizer call per part."""
    from conftest import CORPUS

    embedder = _word_piece_embedder()
    texts = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.md"))] + _EDGE_TEXTS
    for text in texts:
        counter = embedder.chunk_counter(text)
        fast = chunk_text(text, 126, 16, tokenizer=counter)
        slow = chunk_text(text, 126, 16, tokenizer=embedder.count_tokens)
        assert [(c.start, c.end) for c in fast] == [(c.start, c.end) for c in slow], text[:60]
        assert counter.counted["spans"] > 0  # most parts were counted from the offsets


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_span_counter_counts_any_part_like_the_tokenizer(data):
    """Any part, cut at a word's edge or inside it, found once or several times in the text."""
    from citewise.index.chunking import SpanCounter

    words = st.sampled_from(["ab", "bab", "café", "東京", "😀", "x1", "don't", "U.S.", "supercalifragilistic"])
    glue = st.sampled_from([" ", ", ", ". ", "\n", "\t", "\u00a0", "-", "", "\x00"])
    pieces = data.draw(st.lists(st.tuples(words, glue), min_size=1, max_size=20))
    text = "".join(w + g for w, g in pieces)
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    embedder = _word_piece_embedder()
    counter = SpanCounter(text, embedder.model.offsets, embedder.count_tokens)
    part = text[start:end]
    assert counter.count(part) == len(embedder.count_tokens(part)), (text, part)
