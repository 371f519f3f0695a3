"""Deterministic metrics: no judge, no network, the same figures on every run.

Per case (`score_fact_case()`, `score_reference_case()`) and over a run
(`summarize()`). Definitions are in the README's "Evaluation" section.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from citewise.eval.datasets import EvalCase, matches, normalize
from citewise.eval.datasets.squad import HAS_ANSWER, NO_ANSWER
from citewise.rag.citations import Answer, Citation
from citewise.rag.extractive import content_terms

_MARKER = re.compile(r"\s*\[(\d+)\]")
SUPPORT_MIN = 0.5  # share of a sentence's content words its cited quote must hold
CONTEXT_MIN = 0.5  # share of a passage's word trigrams that must lie in a reference context
RECALL_PASS = 0.5  # reference sets: token recall at which an answer counts as right


@dataclass(frozen=True)
class Retrieved:
    """A retrieved passage as the metrics see it."""

    doc_id: str
    text: str


@dataclass
class CaseResult:
    """How one case went: the answer, what was checked, and why it failed if it did."""

    case: EvalCase
    answer: Answer
    retrieved: list[Retrieved]
    latency_ms: float
    answer_ok: bool | None = None  # None: not applicable (a case to refuse)
    citation_ok: bool | None = None
    support: float | None = None  # share of citations that support their sentence
    relevance: float | None = None  # share of citations whose quote holds an expected fact or passage
    rank: int | None = None  # 1-based rank of the first relevant passage, None if absent
    similarity: float | None = None
    token_recall: float | None = None
    why: list[str] = field(default_factory=list)
    judge: dict[str, float] = field(default_factory=dict)

    @property
    def refusal_ok(self) -> bool:
        """The answer refused exactly when it should have."""
        return self.answer.refused == self.case.refuse

    @property
    def passed(self) -> bool:
        """Right answer, right citations, right refusal decision."""
        return self.refusal_ok and self.answer_ok is not False and self.citation_ok is not False


def strip_markers(text: str) -> str:
    """The answer without its ``[n]`` citation markers."""
    return _MARKER.sub("", text).strip()


# ---- fact cases ---------------------------------------------------------------------------
def check_answer(case: EvalCase, text: str) -> list[str]:
    """What the answer misses: expected facts absent from it (empty list: correct)."""
    plain = strip_markers(text)
    missing = [f"answer lacks {p!r}" for p in case.expect.all_of if not matches(p, plain)]
    if case.expect.any_of and not any(matches(p, plain) for p in case.expect.any_of):
        missing.append(f"answer has none of {list(case.expect.any_of)!r}")
    return missing


def check_citations(case: EvalCase, citations: Sequence[Citation]) -> list[str]:
    """What is wrong with the citations (empty list: they hold the facts, from the right documents).

    Every expected fact must lie in the quote of a citation from one of the expected
    documents, and every required source (document, passage) must be cited.
    """
    if not citations:
        return ["no citations"]
    docs = {d for s in case.sources for d in s.docs}
    quotes = [c.quote for c in citations if c.doc_id in docs]
    problems = [f"no quote from {sorted(docs)} holds {p!r}" for p in case.expect.all_of if not _in_any(p, quotes)]
    if case.expect.any_of and not any(_in_any(p, quotes) for p in case.expect.any_of):
        problems.append(f"no quote from {sorted(docs)} holds any of {list(case.expect.any_of)!r}")
    for spec in case.sources:
        if not any(spec.satisfied_by(c.doc_id, c.quote) for c in citations):
            what = f" quoting {spec.passage!r}" if spec.passage else ""
            problems.append(f"{' or '.join(spec.docs)} not cited{what}")
    return problems


def _in_any(pattern: str, texts: Sequence[str]) -> bool:
    return any(matches(pattern, t) for t in texts)


def citation_support(answer: Answer) -> float | None:
    """Share of citation markers whose quote holds most of their sentence's content words.

    None when the answer cites nothing. An extractive answer quotes verbatim, so each of
    its markers is supported by construction; the figure matters for generated answers.
    """
    quotes = {c.n: c.quote for c in answer.citations}
    checked = supported = 0
    sentence = ""
    for piece in re.split(r"(\[\d+\])", answer.text):
        marker = re.fullmatch(r"\[(\d+)\]", piece)
        if marker is None:
            text = piece.strip().lstrip(".,;:!? ").strip()
            sentence = text or sentence  # markers in a row share the sentence before them
            continue
        checked += 1
        terms = content_terms(sentence)
        quote_terms = content_terms(quotes.get(int(marker.group(1)), ""))
        if terms and len(terms & quote_terms) / len(terms) >= SUPPORT_MIN:
            supported += 1
    return supported / checked if checked else None


def citation_relevance(case: EvalCase, citations: Sequence[Citation]) -> float | None:
    """Share of citations whose quote holds an expected fact or a required passage (None: no citations).

    The price of quoting runners-up: a quote that holds none of what was asked lowers it.
    """
    if not citations:
        return None

    def useful(c: Citation) -> bool:
        return any(matches(p, c.quote) for p in case.expect.patterns()) or any(
            s.passage and s.satisfied_by(c.doc_id, c.quote) for s in case.sources
        )

    return sum(1 for c in citations if useful(c)) / len(citations)


def first_relevant(passages: Sequence[Retrieved], relevant: Callable[[Retrieved], bool]) -> int | None:
    """1-based rank of the first passage that ``relevant`` accepts, or None."""
    return next((i for i, p in enumerate(passages, start=1) if relevant(p)), None)


def score_fact_case(result: CaseResult) -> CaseResult:
    """Fill in the checks of a fact case (expected facts, citations, refusal, retrieval)."""
    case, answer = result.case, result.answer
    if case.refuse:
        if not answer.refused:
            result.why.append("should have refused: the documents do not answer this")
        return result
    if answer.refused:
        result.why.append("refused a question the documents answer")
    answer_problems = check_answer(case, answer.text)
    citation_problems = check_citations(case, answer.citations)
    result.answer_ok = not answer.refused and not answer_problems
    result.citation_ok = not answer.refused and not citation_problems
    result.why += answer_problems + citation_problems if not answer.refused else []
    result.support = citation_support(answer)
    result.relevance = citation_relevance(case, answer.citations)
    result.rank = first_relevant(
        result.retrieved, lambda p: any(s.satisfied_by(p.doc_id, p.text) for s in case.sources)
    )
    return result


# ---- SQuAD cases ---------------------------------------------------------------------------
def holds_answer(case: EvalCase, text: str) -> bool:
    """True when ``text`` holds one of the case's answer texts (case and white space ignored)."""
    plain = normalize(text)
    return any(normalize(a) in plain for a in case.expect.any_of)


def score_squad_case(result: CaseResult) -> CaseResult:
    """Fill in the checks of a SQuAD case.

    Answerable: right when the answer is not a refusal and a cited quote holds one of the
    answer texts (``citation_ok``; ``answer_ok`` looks at the answer text instead). The
    retrieval rank is that of the first passage of the question's paragraph holding an
    answer text. Unanswerable: right when refused.
    """
    case, answer = result.case, result.answer
    if case.refuse:
        if not answer.refused:
            result.why.append("should have refused: the paragraph does not answer this")
        return result
    gold = {d for s in case.sources for d in s.docs}
    result.rank = first_relevant(result.retrieved, lambda p: p.doc_id in gold and holds_answer(case, p.text))
    result.support = citation_support(answer)
    result.relevance = citation_relevance(case, answer.citations)
    if answer.refused:
        result.why.append("refused a question the paragraph answers")
        result.answer_ok = result.citation_ok = False
        return result
    result.answer_ok = holds_answer(case, strip_markers(answer.text))
    result.citation_ok = any(holds_answer(case, c.quote) for c in answer.citations)
    if not result.citation_ok:
        result.why.append(f"no cited quote holds any of {list(case.expect.any_of)[:3]!r}")
    return result


def squad_metrics(results: Sequence[CaseResult]) -> dict[str, float]:
    """HasAns accuracy (a cited quote holds an answer), NoAns accuracy (refused) and overall accuracy."""
    answerable = [r for r in results if not r.case.refuse]
    to_refuse = [r for r in results if r.case.refuse]
    right = sum(1 for r in answerable if r.citation_ok) + sum(1 for r in to_refuse if r.answer.refused)
    return {
        "overall_accuracy": right / len(results) if results else 0.0,
        "has_ans_accuracy": _mean([r.citation_ok for r in answerable]),
        "no_ans_accuracy": _mean([r.answer.refused for r in to_refuse]),
    }


# ---- reference cases (LabelledRagDataset) ---------------------------------------------------
_LINE_END_HYPHEN = re.compile(r"(?<=[a-z])-[ \t]*\n\s*(?=[a-z])")


def _trigrams(text: str) -> set[tuple[str, ...]]:
    # a word hyphenated at a line end is joined: a reference written "in-\ntegrity" (by a PDF reader
    # that keeps line-end hyphens) and a quote "integrity" (citewise joins them) are the same words
    words = re.findall(r"[a-z0-9]+", normalize(_LINE_END_HYPHEN.sub("", text)))
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def overlaps_context(text: str, contexts: Sequence[str], threshold: float = CONTEXT_MIN) -> bool:
    """True when at least ``threshold`` of ``text``'s word trigrams lie in one reference context."""
    grams = _trigrams(text)
    if not grams:
        return False
    return any(len(grams & _trigrams(c)) / len(grams) >= threshold for c in contexts)


def token_recall(answer: str, reference: str) -> float:
    """Share of the reference answer's content words that the answer uses."""
    ref = content_terms(reference)
    return len(ref & content_terms(answer)) / len(ref) if ref else 0.0


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def score_reference_case(result: CaseResult, embed: Callable[[list[str]], list[list[float]]]) -> CaseResult:
    """Fill in the checks of a reference case: context hit, similarity, token recall, citations."""
    case, answer = result.case, result.answer
    contexts = case.reference_contexts
    result.rank = first_relevant(result.retrieved, lambda p: overlaps_context(p.text, contexts))
    text = strip_markers(answer.text)
    if answer.refused:
        result.why.append("refused a question the dataset answers")
        result.similarity, result.token_recall = 0.0, 0.0
    else:
        vectors = embed([text, case.reference_answer])
        result.similarity = cosine(vectors[0], vectors[1])
        result.token_recall = token_recall(text, case.reference_answer)
    result.answer_ok = not answer.refused and result.token_recall >= RECALL_PASS
    result.citation_ok = not answer.refused and any(overlaps_context(c.quote, contexts, 0.8) for c in answer.citations)
    result.support = citation_support(answer)
    if result.rank is None:
        result.why.append("no retrieved passage overlaps a reference context")
    if not answer.refused and not result.answer_ok:
        result.why.append(f"token recall {result.token_recall:.2f} < {RECALL_PASS}")
    if not answer.refused and not result.citation_ok:
        result.why.append("no cited quote lies in a reference context")
    return result


# ---- aggregates --------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _mean(values: Sequence[float | bool | None]) -> float:
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else 0.0


def summarize(results: Sequence[CaseResult], k: int) -> dict[str, float]:
    """Run-level metrics: accuracies over answerable cases, refusals over all, latency.

    Args:
        results: scored cases.
        k: the cut-off of ``hit_rate`` (hit@k); ``mrr`` looks at every retrieved passage.
    """
    answerable = [r for r in results if not r.case.refuse]
    to_refuse = [r for r in results if r.case.refuse]
    refused = [r for r in results if r.answer.refused]
    true_refusals = sum(1 for r in refused if r.case.refuse)
    latencies = [r.latency_ms for r in results]
    metrics: dict[str, float] = {
        "cases": float(len(results)),
        "answer_accuracy": _mean([r.answer_ok for r in answerable]),
        "citation_accuracy": _mean([r.citation_ok for r in answerable]),
        "citation_precision": _mean([r.support for r in answerable]),
        "hit_rate": _mean([r.rank is not None and r.rank <= k for r in answerable]),
        "mrr": _mean([1.0 / r.rank if r.rank else 0.0 for r in answerable]),
        "refusal_accuracy": _mean([r.refusal_ok for r in results]),
        "refusal_precision": true_refusals / len(refused) if refused else 1.0,
        "refusal_recall": true_refusals / len(to_refuse) if to_refuse else 1.0,
        "pass_rate": _mean([r.passed for r in results]),
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p95_ms": percentile(latencies, 0.95),
    }
    if any(r.relevance is not None for r in answerable):
        metrics["citation_relevance"] = _mean([r.relevance for r in answerable])
    if any(r.case.kind in (HAS_ANSWER, NO_ANSWER) for r in results):
        metrics.update(squad_metrics(results))
    if any(r.case.reference_answer for r in results):
        metrics["context_hit_rate"] = metrics["hit_rate"]
        metrics["answer_similarity"] = _mean([r.similarity for r in answerable])
        metrics["token_recall"] = _mean([r.token_recall for r in answerable])
    judged: dict[str, list[float]] = {}
    for r in results:
        for name, value in r.judge.items():
            judged.setdefault(name, []).append(value)
    metrics.update({f"judge_{name}": _mean(values) for name, values in judged.items()})
    return metrics


def as_row(result: CaseResult) -> dict[str, Any]:
    """One case as a flat, JSON-friendly dict (the HTML and JSON reports use it)."""
    a = result.answer
    return {
        "id": result.case.id,
        "kind": result.case.kind,
        "question": result.case.question,
        "history": list(result.case.history),
        "answer": a.text,
        "refused": a.refused,
        "should_refuse": result.case.refuse,
        "passed": result.passed,
        "answer_ok": result.answer_ok,
        "citation_ok": result.citation_ok,
        "citation_precision": result.support,
        "citation_relevance": result.relevance,
        "rank": result.rank,
        "similarity": result.similarity,
        "token_recall": result.token_recall,
        "reference_answer": result.case.reference_answer,
        "latency_ms": round(result.latency_ms, 1),
        "why": "; ".join(result.why),
        "citations": [{"n": c.n, "doc_id": c.doc_id, "page": c.page, "quote": c.quote} for c in a.citations],
        "judge": result.judge,
    }
