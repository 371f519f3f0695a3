"""An answer as it is written: text deltas, then the finished Answer.

`citewise.Assistant.stream()` returns an `AnswerStream`. Iterating it gives what
it always gave (``str`` deltas, then the `Answer`), so
existing loops keep working; a caller that wants only the text, or only the answer, needs
no ``isinstance``::

    stream = assistant.stream("When did OpenAI launch Sora 2?")
    for delta in stream.deltas():
        print(delta, end="")
    answer = stream.answer()  # the finished Answer, citations and all

Like simonw/llm's ``Response`` and LlamaIndex's ``StreamingResponse``: one object to
stream from and to ask for the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from citewise.rag.citations import Answer

# What the stream yields: text deltas, then the finished Answer.
StreamItem = str | Answer


class AnswerStream(Iterator[StreamItem]):
    """Text deltas, then the finished `Answer`; `deltas()` and `answer()` pick one.

    Nothing runs until the first item is asked for (so errors such as an empty question are
    raised there). `close()` stops the underlying generation.
    """

    def __init__(self, items: Iterable[StreamItem]) -> None:
        self._items = iter(items)
        self._answer: Answer | None = None

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> StreamItem:
        item = next(self._items)
        if isinstance(item, Answer):
            self._answer = item
        return item

    def deltas(self) -> Iterator[str]:
        """The text deltas only; the Answer that ends the stream is kept for `answer()`."""
        for item in self:
            if isinstance(item, str):
                yield item

    def answer(self) -> Answer:
        """The finished Answer (reading the rest of the stream first, if any is left).

        Raises:
            RuntimeError: the stream ended without an Answer (a bug in an answer mode).
        """
        for _ in self:
            pass
        if self._answer is None:
            raise RuntimeError("the answer stream ended without an answer")
        return self._answer

    def close(self) -> None:
        """Stop the generation (its ``finally`` blocks run, the LLM is released)."""
        close = getattr(self._items, "close", None)
        if close is not None:
            close()
