"""Questions beyond a single fact: "summarize X" / "what is X about", and "compare A and B".

A summary is query-focused and extractive: the central, non-redundant statements of the
document the question is about, picked by maximal marginal relevance (MMR) and shown in
document order, each cited. A comparison quotes the best sentence for each side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from citewise.rag.extractive import ExtractiveAnswerer, ScoredSentence
from citewise.rag.features import content_terms, is_statement
from citewise.rag.injection import is_instruction
from citewise.rag.retrieve import Passage

_SUMMARY = re.compile(
    r"^\W*(?:please\s+)?(?:summari[sz]e|sum up|give (?:me )?(?:a |an )?(?:short |brief )?(?:summary|overview|gist) of|"
    r"(?:a |an )?(?:summary|overview|tl;?dr) of)\s+(?P<topic>.+?)\W*$"
    r"|^\W*what(?:'s| is| are)\s+(?P<about>.+?)\s+(?:all\s+)?about\W*$",
    re.I,
)
_COMPARE = (
    re.compile(
        r"^\W*(?:compare|contrast)(?:\s+and\s+contrast)?\s+(?P<a>.+?)\s+(?:and|with|to|vs\.?|versus)\s+(?P<b>.+?)\W*$",
        re.I,
    ),
    re.compile(r"differen(?:ce|ces|t)\s+between\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)\W*$", re.I),
    re.compile(r"^\W*how (?:does|do|is|are)\s+(?P<a>.+?)\s+differ(?:ent)? from\s+(?P<b>.+?)\W*$", re.I),
    re.compile(r"^\W*(?P<a>[^?]+?)\s+(?:vs\.?|versus)\s+(?P<b>.+?)\W*$", re.I),
)
SUMMARY_SENTENCES = 4
MMR_LAMBDA = 0.7
MAX_DOCUMENT_SENTENCES = 400


@dataclass(frozen=True)
class Intent:
    """What kind of answer a question wants: ``fact``, ``summary`` (of ``topic``) or ``compare`` (``sides``)."""

    kind: str
    topic: str = ""
    sides: tuple[str, ...] = ()


def intent_of(question: str) -> Intent:
    """Read whether ``question`` asks for a summary, a comparison or a fact."""
    q = " ".join(question.split())
    m = _SUMMARY.match(q)
    if m:
        return Intent("summary", topic=(m.group("topic") or m.group("about") or "").strip())
    for pattern in _COMPARE:
        m = pattern.search(q)
        if m and m.group("a").strip() and m.group("b").strip():
            return Intent("compare", sides=(_side(m.group("a")), _side(m.group("b"))))
    return Intent("fact")


def _side(text: str) -> str:
    return re.sub(r"^(the|a|an)\s+", "", text.strip(), flags=re.I)


def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _document_passage(passages: list[Passage], topic: str) -> Passage:
    """The passage whose document the question is about: title words first, then retrieval score."""
    terms = content_terms(topic)

    def key(p: Passage) -> tuple[float, float]:
        title = content_terms(p.chunk.title)
        return (len(terms & title) / max(1, len(terms)), p.score)

    return max(passages, key=key)


def summarize(answerer: ExtractiveAnswerer, topic: str, passages: list[Passage]) -> list[ScoredSentence]:
    """A query-focused extractive summary of the document ``topic`` names (document order).

    Each sentence scores by its similarity to the document's centroid (central) and to the
    topic (focused); MMR then skips sentences too close to one already chosen.
    """
    if not passages:
        return []
    passage = _document_passage(passages, topic)
    doc = answerer.document(passage.chunk)
    items = []
    for a, b in doc.spans[:MAX_DOCUMENT_SENTENCES]:
        text = doc.slice(a, b)
        if len(text.split()) >= 6 and is_statement(text) and not is_instruction(text):
            items.append(ScoredSentence(passage, a, b, text))
    if not items:
        return []
    vectors = answerer.embeddings(items)
    centroid = [sum(col) / len(vectors) for col in zip(*vectors, strict=True)]
    focus = answerer.embedder.get_query_embedding(topic or passage.chunk.title)
    relevance = [0.6 * _cos(v, centroid) + 0.4 * _cos(v, focus) for v in vectors]
    chosen: list[int] = []
    while len(chosen) < min(SUMMARY_SENTENCES, len(items)):
        best, best_score = -1, -math.inf
        for i in range(len(items)):
            if i in chosen:
                continue
            redundancy = max((_cos(vectors[i], vectors[j]) for j in chosen), default=0.0)
            score = MMR_LAMBDA * relevance[i] - (1 - MMR_LAMBDA) * redundancy
            if score > best_score:
                best, best_score = i, score
        chosen.append(best)
    for i in chosen:
        items[i].score = relevance[i]
    return [items[i] for i in sorted(chosen)]


def compare(answerer: ExtractiveAnswerer, sides: tuple[str, ...], passages: list[Passage]) -> list[ScoredSentence]:
    """The best sentence for each side of a comparison that the passages say something about."""
    candidates = answerer.candidates(passages)
    out: list[ScoredSentence] = []
    for side in sides:
        ranked = answerer.score(
            side,
            side,
            [replace(s, features={}) for s in candidates],  # each side scores its own copies
        )
        terms = content_terms(side)
        for s in ranked:
            if terms & content_terms(s.text) and not any(s.start == o.start and s.text == o.text for o in out):
                out.append(s)
                break
    return out
