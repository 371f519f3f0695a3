"""What an answer is made of: the answer, its citations, and per-sentence support."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Citation:
    """A verbatim quote that supports part of an answer.

    ``quote == document_text[start:end]`` for the document ``doc_id``; ``page`` is the PDF
    page holding the quote (None for formats without pages). ``passage`` is the retrieved
    chunk around the quote and ``passage_start`` its offset in the document, so a reader
    can show the quote in context.
    """

    n: int
    doc_id: str
    title: str
    source: str
    page: int | None
    quote: str
    start: int
    end: int
    score: float
    passage: str = ""
    passage_start: int = 0

    def to_dict(self, *, passage: bool = False) -> dict[str, Any]:
        """The JSON form: the one the CLI, the HTTP API, MCP, the UI and saved conversations use.

        Args:
            passage: add ``passage`` and ``passage_start`` (the chunk around the quote, so a
                reader can show it in context): the HTTP API, MCP and the UI do.
        """
        out: dict[str, Any] = {
            "n": self.n,
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "page": self.page,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 4),
        }
        if passage:
            out["passage"] = self.passage
            out["passage_start"] = self.passage_start
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        """A citation from its JSON form (fields it does not know are ignored)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class SentenceCheck:
    """One sentence of a generated answer and whether its cited sources support it."""

    text: str
    citations: list[int]
    supported: bool
    quote: str = ""
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"text": self.text, "citations": self.citations, "supported": self.supported, "quote": self.quote}


@dataclass
class ClaimedValue:
    """What one document says the asked-for fact is, and the citation that says it."""

    value: str
    citation: int
    doc_id: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"value": self.value, "citation": self.citation, "doc_id": self.doc_id}


@dataclass
class Disagreement:
    """Documents that give different values for the fact a question asks for.

    Attributes:
        about: the kind of value they differ on: ``date``, ``number`` or ``name``.
        claims: each document's value with the citation stating it, the answer's lead first.
    """

    about: str
    claims: list[ClaimedValue]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by the CLI, the HTTP API and MCP."""
        return {"about": self.about, "claims": [c.to_dict() for c in self.claims]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Disagreement:
        """A disagreement from its JSON form."""
        return cls(about=data["about"], claims=[ClaimedValue(**c) for c in data["claims"]])


@dataclass
class Answer:
    """An answer with the citations that back it.

    Attributes:
        text: the answer, with citation markers ``[n]``.
        citations: the sources the answer cites, numbered as in ``text``.
        refused: True when the documents do not cover the question.
        mode: the answer mode that produced it (``extractive`` or ``generative``).
        timings: milliseconds spent per stage (``retrieve``, ``answer``, ``total``...).
        sentences: per-sentence support checks (generative mode).
        query: the standalone query used for retrieval (differs for follow-ups).
        note: a remark for the reader, e.g. that a fallback was used.
        confidence: how likely the answer is right, 0-1 (the answerability model's
            probability); None where a mode does not estimate it.
        closest: for a refusal, the passages that came closest (not citations: they do
            not answer the question), so the reader sees what the documents do cover.
        disagreement: set when documents give different values for the fact asked
            for; the answer then quotes and cites each (see `citewise.rag.conflicts`).
    """

    text: str
    citations: list[Citation]
    refused: bool
    mode: str = "extractive"
    timings: dict[str, float] = field(default_factory=dict)
    sentences: list[SentenceCheck] | None = None
    query: str = ""
    note: str = ""
    confidence: float | None = None
    closest: list[Citation] = field(default_factory=list)
    disagreement: Disagreement | None = None

    def to_dict(self, *, passages: bool = False) -> dict[str, Any]:
        """The JSON object printed by ``citewise ask --json``; ``passages``: citations carry their passage."""
        out: dict[str, Any] = {
            "answer": self.text,
            "refused": self.refused,
            "mode": self.mode,
            "citations": [c.to_dict(passage=passages) for c in self.citations],
            "timings_ms": {k: round(v, 1) for k, v in self.timings.items()},
        }
        if self.sentences is not None:
            out["sentences"] = [s.to_dict() for s in self.sentences]
        if self.note:
            out["note"] = self.note
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 4)
        if self.refused:
            out["closest"] = [c.to_dict(passage=passages) for c in self.closest]
        if self.disagreement is not None:
            out["disagreement"] = self.disagreement.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """Rebuild an answer from `to_dict()` output (for clients of the JSON form)."""
        cites = [Citation.from_dict(c) for c in data["citations"]]
        sentences = [SentenceCheck(**s) for s in data["sentences"]] if "sentences" in data else None
        return cls(
            text=data["answer"],
            citations=cites,
            refused=data["refused"],
            mode=data.get("mode", "extractive"),
            timings=dict(data.get("timings_ms", {})),
            sentences=sentences,
            note=data.get("note", ""),
            confidence=data.get("confidence"),
            closest=[Citation.from_dict(c) for c in data.get("closest", [])],
            disagreement=Disagreement.from_dict(data["disagreement"]) if data.get("disagreement") else None,
        )
