"""Eval metrics on hand-made answers: right, wrong, wrong citation, refused."""

from __future__ import annotations

import pytest

from citewise import Answer, Citation
from citewise.eval.datasets import EvalCase, Expect, SourceSpec
from citewise.eval.metrics import (
    CaseResult,
    Retrieved,
    citation_support,
    overlaps_context,
    percentile,
    score_fact_case,
    score_reference_case,
    summarize,
    token_recall,
)

W = "coda-written-request-openai.md"
T = "techtimes-coda-sora2.md"
LAUNCH = "OpenAI launched Sora 2 on September 30, 2025."

LAUNCH_CASE = EvalCase(
    id="launch",
    question="When did OpenAI launch Sora 2?",
    expect=Expect(all_of=("September 30, 2025",)),
    sources=(SourceSpec(docs=(W,), passage="September 30, 2025"),),
)
REFUSE_CASE = EvalCase(id="cup", question="Who won the 2022 World Cup?", kind="unanswerable", refuse=True)


def cite(n: int, doc_id: str, quote: str) -> Citation:
    return Citation(n=n, doc_id=doc_id, title="", source="", page=None, quote=quote, start=0, end=len(quote), score=1)


def result(case: EvalCase, text: str, citations: list[Citation], refused: bool = False, rank_doc: str = W):
    answer = Answer(text=text, citations=citations, refused=refused)
    retrieved = [Retrieved(T, "Toei and Square Enix warn OpenAI."), Retrieved(rank_doc, f"Intro. {LAUNCH} More.")]
    return score_fact_case(CaseResult(case=case, answer=answer, retrieved=retrieved, latency_ms=10.0))


def test_right_answer_with_right_citation_passes():
    r = result(LAUNCH_CASE, f"{LAUNCH} [1]", [cite(1, W, LAUNCH)])
    assert r.answer_ok and r.citation_ok and r.passed
    assert r.rank == 2  # the second retrieved passage holds the expected passage
    assert r.support == 1.0 and r.relevance == 1.0
    assert r.why == []


def test_wrong_answer_fails_and_says_what_is_missing():
    quote = "CODA was created in 2002."
    r = result(LAUNCH_CASE, f"{quote} [1]", [cite(1, W, quote)])
    assert r.answer_ok is False and r.citation_ok is False and not r.passed
    assert any("September 30, 2025" in why for why in r.why)


def test_right_text_but_citation_from_the_wrong_document_fails_citation_accuracy():
    r = result(LAUNCH_CASE, f"{LAUNCH} [1]", [cite(1, T, LAUNCH)])
    assert r.answer_ok is True
    assert r.citation_ok is False
    assert any("not cited" in why for why in r.why)


def test_right_text_but_quote_without_the_fact_fails_citation_accuracy():
    text = "OpenAI launched Sora 2 on September 30, 2025. [1]"
    r = result(LAUNCH_CASE, text, [cite(1, W, "Sora 2 is a video model.")])
    assert r.answer_ok is True and r.citation_ok is False
    assert r.support == 0.0  # the quote does not hold the sentence it is attached to


def test_refusals_are_scored_both_ways():
    refused_right = result(REFUSE_CASE, "The documents don't cover this.", [], refused=True)
    assert refused_right.passed and refused_right.refusal_ok and refused_right.answer_ok is None
    answered_wrong = result(REFUSE_CASE, f"{LAUNCH} [1]", [cite(1, W, LAUNCH)])
    assert not answered_wrong.passed and "should have refused" in answered_wrong.why[0]
    refused_wrong = result(LAUNCH_CASE, "The documents don't cover this.", [], refused=True)
    assert refused_wrong.answer_ok is False and not refused_wrong.passed


def test_any_of_and_regex_expectations():
    case = EvalCase(
        id="x",
        question="q",
        expect=Expect(all_of=("re:Sept(ember)? 30",), any_of=("Netflix", "Minecraft")),
        sources=(SourceSpec(docs=(W, T)),),
    )
    quote = "On September 30 it played Minecraft."
    assert result(case, f"{quote} [1]", [cite(1, T, quote)]).passed
    quote = "On September 30 it played chess."
    assert not result(case, f"{quote} [1]", [cite(1, T, quote)]).answer_ok


def test_summary_counts_refusals_and_accuracies():
    results = [
        result(LAUNCH_CASE, f"{LAUNCH} [1]", [cite(1, W, LAUNCH)]),  # right
        result(LAUNCH_CASE, "Something else. [1]", [cite(1, W, "Something else.")]),  # wrong
        result(REFUSE_CASE, "No.", [], refused=True),  # right refusal
        result(REFUSE_CASE, f"{LAUNCH} [1]", [cite(1, W, LAUNCH)]),  # missed refusal
    ]
    m = summarize(results, k=4)
    assert m["answer_accuracy"] == 0.5
    assert m["citation_accuracy"] == 0.5
    assert m["refusal_accuracy"] == 0.75
    assert m["refusal_precision"] == 1.0
    assert m["refusal_recall"] == 0.5
    assert m["hit_rate"] == 1.0 and m["mrr"] == 0.5
    assert m["pass_rate"] == 0.5
    assert m["citation_relevance"] == 0.5  # the wrong answer's quote holds nothing asked for
    assert m["latency_p50_ms"] == 10.0


def test_hit_at_k_respects_the_cut_off():
    r = result(LAUNCH_CASE, f"{LAUNCH} [1]", [cite(1, W, LAUNCH)])
    assert summarize([r], k=1)["hit_rate"] == 0.0
    assert summarize([r], k=2)["hit_rate"] == 1.0


def test_citation_support_of_a_generated_answer():
    answer = Answer(
        text="Sora 2 launched on September 30, 2025 [1]. CODA wants money [2].",
        citations=[cite(1, W, LAUNCH), cite(2, W, "CODA was created in 2002.")],
        refused=False,
    )
    assert citation_support(answer) == 0.5


def test_reference_case_metrics_use_real_embeddings(corpus_assistant):
    context = "The blockchain is a distributed ledger of ordered blocks of transaction data secured by cryptography."
    case = EvalCase(
        id="r",
        question="What is a blockchain?",
        kind="reference",
        reference_answer="A distributed ledger of ordered blocks of transactions.",
        reference_contexts=(context,),
    )
    quote = "The blockchain is a distributed ledger of ordered blocks of transaction data"
    answer = Answer(text=f"{quote} [1]", citations=[cite(1, "p.pdf", quote)], refused=False)
    r = CaseResult(case=case, answer=answer, retrieved=[Retrieved("p.pdf", context)], latency_ms=5)
    score_reference_case(r, corpus_assistant.embedder.embed)
    assert r.rank == 1 and r.citation_ok
    assert r.similarity is not None and r.similarity > 0.7
    assert r.token_recall is not None and r.token_recall >= 0.5 and r.answer_ok
    off = Answer(text="Pasta needs salt. [1]", citations=[cite(1, "p.pdf", "Pasta needs salt.")], refused=False)
    r2 = score_reference_case(
        CaseResult(case=case, answer=off, retrieved=[], latency_ms=5), corpus_assistant.embedder.embed
    )
    assert r2.rank is None and not r2.citation_ok and not r2.answer_ok
    assert r2.similarity is not None and r2.similarity < r.similarity


def test_context_overlap_and_token_recall():
    ctx = ["Proof of History is a sequence of computation that verifies the passage of time between events."]
    assert overlaps_context("Proof of History is a sequence of computation", ctx)
    assert not overlaps_context("Proof of Stake selects validators by stake", ctx)
    assert token_recall("Solana uses Proof of History.", "Proof of History") == 1.0
    assert token_recall("Nothing relevant.", "Proof of History") == 0.0


def test_context_overlap_does_not_depend_on_how_a_pdf_reader_wrote_line_end_hyphens():
    ctx = ["The ledger keeps the in-\ntegrity of each trans-\naction between peer -to-peer nodes."]
    assert overlaps_context("The ledger keeps the integrity of each transaction between peer-to-peer nodes.", ctx, 0.8)
    assert not overlaps_context("The ledger keeps the history of each block between nodes.", ctx, 0.8)


@pytest.mark.parametrize(("values", "q", "expected"), [([], 0.5, 0.0), ([3, 1, 2], 0.5, 2), ([1, 2, 3, 4], 0.95, 3.85)])
def test_percentile(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)
