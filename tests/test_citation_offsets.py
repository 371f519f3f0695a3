"""Property: every quote is verbatim, document_text[start:end] == quote, whatever is asked."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORDS = [
    "OpenAI",
    "Sora",
    "CODA",
    "Japan",
    "copyright",
    "launch",
    "founded",
    "2002",
    "September",
    "Square",
    "Enix",
    "Toei",
    "letter",
    "demands",
    "Altman",
    "Kiuchi",
    "opt-in",
    "opt-out",
    "training",
    "data",
    "anime",
    "Ghibli",
    "MPA",
    "Rivkin",
    "members",
    "permission",
    "who",
    "when",
    "what",
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8))
def test_quotes_are_verbatim_slices_of_their_documents(corpus_assistant, words):
    answer = corpus_assistant.ask(" ".join(words) + "?")
    for c in answer.citations:
        text = corpus_assistant.document_text(c.doc_id)
        assert text[c.start : c.end] == c.quote
        assert c.passage[c.start - c.passage_start : c.end - c.passage_start] == c.quote
