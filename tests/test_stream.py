"""AnswerStream: what Assistant.stream returns (text deltas, then the Answer; .deltas() and .answer())."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from citewise import QuestionError
from citewise.rag.citations import Answer
from citewise.rag.stream import AnswerStream

FINAL = Answer("Nine arches.", [], refused=False)


def items(log: list[str]) -> Iterator[str | Answer]:
    try:
        log.append("started")
        yield "Nine"
        yield " arches."
        yield FINAL
    finally:
        log.append("closed")


def test_iterating_gives_what_it_always_gave():
    assert list(AnswerStream(items([]))) == ["Nine", " arches.", FINAL]


def test_deltas_then_answer_need_no_isinstance():
    stream = AnswerStream(items([]))
    assert list(stream.deltas()) == ["Nine", " arches."]
    assert stream.answer() is FINAL
    assert stream.answer() is FINAL  # asked again: the same answer


def test_answer_reads_the_rest_and_nothing_runs_before_the_first_read():
    log: list[str] = []
    stream = AnswerStream(items(log))
    assert log == []
    assert next(stream) == "Nine"
    assert stream.answer() is FINAL and log == ["started", "closed"]


def test_close_stops_the_generation():
    log: list[str] = []
    stream = AnswerStream(items(log))
    next(stream)
    stream.close()
    assert log == ["started", "closed"]
    with pytest.raises(RuntimeError, match="without an answer"):
        stream.answer()


def test_assistant_stream_is_an_answer_stream(make_assistant):
    a = make_assistant()
    stream = a.stream("   ")  # an empty question fails when the stream is read, as before
    assert isinstance(stream, AnswerStream)
    with pytest.raises(QuestionError):
        stream.answer()
    empty = a.stream("Anything?")  # nothing indexed yet
    assert "".join(empty.deltas()) == empty.answer().text and empty.answer().refused
