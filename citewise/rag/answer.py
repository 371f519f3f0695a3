"""Answer modes: each turns a question and its retrieved passages into a cited Answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from citewise.prompts import render
from citewise.rag.chat import Message
from citewise.rag.citations import Answer, Citation
from citewise.rag.classic import ClassicAnswerer, ClassicConfig
from citewise.rag.conflicts import find_conflict
from citewise.rag.extractive import DocumentText, ExtractiveAnswerer, ExtractiveConfig, lead
from citewise.rag.retrieve import Passage
from citewise.rag.stream import StreamItem
from citewise.rag.summary import compare, intent_of, summarize

if TYPE_CHECKING:
    from citewise.index.embed import SentenceEmbedder


class AnswerMode(Protocol):
    """An answer mode (extractive, generative...)."""

    name: str

    def stream(
        self, question: str, query: str, passages: list[Passage], history: list[Message]
    ) -> Iterator[StreamItem]:
        """Yield text deltas, then the finished `Answer` (timings filled by the caller)."""
        ...


CLOSEST = 3  # passages shown with a refusal


def refusal(mode: str, query: str = "", closest: list[Citation] | None = None) -> Answer:
    """The 'not in the documents' answer; ``closest`` lists what the documents say nearest to it.

    The closest passages are not citations (they do not answer the question): they are kept
    in ``Answer.closest`` and the text names the documents they come from.
    """
    text = render("refusal").strip()
    if closest:
        titles = list(dict.fromkeys(c.title or c.doc_id for c in closest))
        named = ", ".join(f"“{t}”" for t in titles)
        text += f" The closest passages are in {named}; they are listed below but do not answer it."
    return Answer(text=text, citations=[], refused=True, mode=mode, query=query, closest=list(closest or []))


class ExtractiveMode:
    """Quote the best sentences of the passages, each with its citation. No LLM.

    "Summarize X" gets a few central sentences of X's document; "compare A and B" the best
    sentence for each side; any other question the sentences the scorer rates best, or a
    refusal listing the closest passages. ``answerer`` is the fitted scorer
    (`ExtractiveAnswerer`, which also sets ``Answer.confidence``) or the classic one;
    ``helper`` (a fitted answerer) serves summaries and comparisons when it is classic.
    """

    name = "extractive"

    def __init__(self, answerer: Any, helper: ExtractiveAnswerer | None = None) -> None:
        self.answerer = answerer
        self.helper = helper if helper is not None else (answerer if isinstance(answerer, ExtractiveAnswerer) else None)

    def stream(
        self, question: str, query: str, passages: list[Passage], history: list[Message]
    ) -> Iterator[StreamItem]:
        started = time.perf_counter()
        intent = intent_of(question) if self.helper is not None else None
        confidence: float | None = None
        ranked: list[Any] = []
        conflict = None
        if intent is not None and self.helper is not None and intent.kind == "summary":
            chosen: list[Any] = summarize(self.helper, intent.topic, passages)
        elif intent is not None and self.helper is not None and intent.kind == "compare":
            chosen = compare(self.helper, intent.sides, passages)
        else:
            ranked = self.answerer.score(question, query, self.answerer.candidates(passages))
            chosen = self.answerer.select(ranked)
            if isinstance(self.answerer, ExtractiveAnswerer):
                head = lead(ranked)
                confidence = head.score if head else 0.0
            conflict = find_conflict(self.answerer, question, ranked, chosen)  # another document, another value
        if not chosen:
            answer = refusal(self.name, query, self.answerer.cite(_distinct(ranked)[:CLOSEST])[1])
            yield answer.text
        else:
            cite = self.helper.cite if intent is not None and intent.kind != "fact" and self.helper else None
            parts, citations = conflict.cite(self.answerer) if conflict else (cite or self.answerer.cite)(chosen)
            for i, part in enumerate(parts):
                yield part if i == 0 else " " + part
            answer = Answer(text=" ".join(parts), citations=citations, refused=False, mode=self.name, query=query)
            answer.disagreement = conflict.disagreement(citations) if conflict else None
        answer.confidence = confidence
        answer.timings["answer"] = (time.perf_counter() - started) * 1000
        yield answer


def extractive_mode(
    embedder: SentenceEmbedder,
    document_text: DocumentText,
    *,
    answer_model: str = "fitted",
    min_score: float = 0.40,
    max_sentences: int = 3,
) -> ExtractiveMode:
    """The extractive mode with the classic or the fitted scorer (``answer_model``).

    ``min_score`` is the classic scorer's refusal threshold; the fitted model has its own.
    """
    fitted = ExtractiveAnswerer(embedder, ExtractiveConfig(max_sentences=max_sentences), document_text=document_text)
    if answer_model == "fitted":
        return ExtractiveMode(fitted)
    classic = ClassicAnswerer(
        embedder, ClassicConfig(min_score=min_score, max_sentences=max_sentences), document_text=document_text
    )
    return ExtractiveMode(classic, helper=fitted)


def _distinct(ranked: list[Any]) -> list[Any]:
    """The candidates best first, one per passage (a refusal shows where to look, not five neighbours)."""
    seen: set[str] = set()
    out = []
    for s in ranked:
        if s.passage.chunk.id not in seen:
            seen.add(s.passage.chunk.id)
            out.append(s)
    return out
