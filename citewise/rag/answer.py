"""Answer modes: each turns a question and its retrieved passages into a cited Answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol

from citewise.prompts import render
from citewise.rag.chat import Message
from citewise.rag.citations import Answer
from citewise.rag.extractive import ExtractiveAnswerer
from citewise.rag.retrieve import Passage

# What Assistant.stream yields: text deltas, then the finished Answer.
StreamItem = str | Answer


class AnswerMode(Protocol):
    """An answer mode (extractive, generative...)."""

    name: str

    def stream(
        self, question: str, query: str, passages: list[Passage], history: list[Message]
    ) -> Iterator[StreamItem]:
        """Yield text deltas, then the finished :class:`Answer` (timings filled by the caller)."""
        ...


def refusal(mode: str, query: str = "") -> Answer:
    """The 'not in the documents' answer."""
    return Answer(text=render("refusal"), citations=[], refused=True, mode=mode, query=query)


def run(mode: AnswerMode, question: str, query: str, passages: list[Passage], history: list[Message]) -> Answer:
    """Drain a mode's stream and return its final Answer."""
    answer: Answer | None = None
    for item in mode.stream(question, query, passages, history):
        if isinstance(item, Answer):
            answer = item
    if answer is None:  # pragma: no cover - every mode ends with an Answer
        raise RuntimeError(f"answer mode {mode.name!r} produced no answer")
    return answer


class ExtractiveMode:
    """Quote the best sentences of the passages, each with its citation. No LLM."""

    name = "extractive"

    def __init__(self, answerer: ExtractiveAnswerer) -> None:
        self.answerer = answerer

    def stream(
        self, question: str, query: str, passages: list[Passage], history: list[Message]
    ) -> Iterator[StreamItem]:
        started = time.perf_counter()
        ranked = self.answerer.score(question, query, self.answerer.candidates(passages))
        chosen = self.answerer.select(ranked)
        if not chosen:
            answer = refusal(self.name, query)
            yield answer.text
        else:
            parts, citations = self.answerer.cite(chosen)
            for i, part in enumerate(parts):
                yield part if i == 0 else " " + part
            answer = Answer(text=" ".join(parts), citations=citations, refused=False, mode=self.name, query=query)
        answer.timings["answer"] = (time.perf_counter() - started) * 1000
        yield answer
