"""Between OpenAI's chat format and the Assistant: messages in, completions and SSE chunks out."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from citewise.api.errors import BUG_MESSAGE, error_body
from citewise.api.models import ChatCompletionRequest
from citewise.errors import CitewiseError
from citewise.rag.citations import Answer, Citation

MODEL_PREFIX = "citewise-"
DEFAULT_MODEL = "citewise"
SOURCES_HEADING = "Sources:"
CLOSEST_HEADING = "Closest passages (not answers):"
logger = logging.getLogger("citewise.api")


class BadChatRequest(CitewiseError, ValueError):
    """A chat request the API cannot answer (the message says why)."""

    status = 400
    code = "invalid_messages"
    param = "messages"


class UnknownModel(CitewiseError, LookupError):
    """A model name that is no answer mode."""

    status = 404
    code = "model_not_found"
    param = "model"


def mode_for_model(model: str, modes: tuple[str, ...]) -> str | None:
    """The answer mode a model name selects (None: the configured default).

    Raises:
        UnknownModel: the name is no mode.
    """
    name = model.strip()
    if name == DEFAULT_MODEL:
        return None
    name = name.removeprefix(MODEL_PREFIX)
    if name not in modes:
        choices = ", ".join([DEFAULT_MODEL, *(MODEL_PREFIX + m for m in modes)])
        raise UnknownModel(f"the model {model!r} does not exist; use one of {choices}")
    return name


def split_messages(request: ChatCompletionRequest) -> tuple[str, list[dict[str, str]]]:
    """The question (the last message, which must be the user's) and the earlier turns."""
    last = request.messages[-1]
    if last.role != "user":
        raise BadChatRequest("the last message must be the user's question (role 'user')")
    history = []
    for m in request.messages[:-1]:
        if m.role in ("user", "assistant") and m.text().strip():
            content = m.text()
            if m.role == "assistant":
                content = strip_sources(content)
            history.append({"role": m.role, "content": content})
    return last.text(), history


def strip_sources(content: str) -> str:
    """An earlier answer without the sources (or closest passages) list this API appended to it."""
    for heading in (SOURCES_HEADING, CLOSEST_HEADING):
        head, sep, _ = content.partition(f"\n\n{heading}\n")
        if sep:
            return head
    return content


def sources_text(citations: list[Citation]) -> str:
    """The sources list appended to an answer: one line per [n], with the quote."""
    if not citations:
        return ""
    lines = []
    for c in citations:
        page = f", p. {c.page}" if c.page else ""
        lines.append(f"[{c.n}] {c.title} ({c.doc_id}{page}): \u201c{c.quote}\u201d")
    return f"\n\n{SOURCES_HEADING}\n" + "\n".join(lines)


def closest_text(answer: Answer) -> str:
    """A refusal's closest passages appended to it: title and quote, no [n] (they are not citations)."""
    if not (answer.refused and answer.closest):
        return ""
    lines = []
    for c in answer.closest:
        page = f", p. {c.page}" if c.page else ""
        lines.append(f"- {c.title or c.doc_id} ({c.doc_id}{page}): \u201c{c.quote}\u201d")
    return f"\n\n{CLOSEST_HEADING}\n" + "\n".join(lines)


def appended_text(answer: Answer) -> str:
    """What follows the answer's text in the message: its sources list, or a refusal's closest passages."""
    return sources_text(answer.citations) + closest_text(answer)


def answer_fields(answer: Answer) -> dict[str, Any]:
    """What citewise adds to a completion: citations, refused, confidence, (a refusal's) closest passages
    and, when documents disagree on the fact asked for, the disagreement (each value with its citation)."""
    confidence = None if answer.confidence is None else round(float(answer.confidence), 4)
    return {
        "citations": [c.to_dict(passage=True) for c in answer.citations],
        "refused": answer.refused,
        "confidence": confidence,
        "closest": [c.to_dict(passage=True) for c in answer.closest] if answer.refused else [],
        "disagreement": answer.disagreement.to_dict() if answer.disagreement else None,
    }


def count_words(text: str) -> int:
    """What ``usage`` counts as tokens: words and punctuation marks (no model tokenizer is involved)."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def usage(prompt: str, answer: Answer) -> dict[str, int]:
    """OpenAI's ``usage`` object, counted in words (see `count_words()`), sources list included."""
    prompt_tokens = count_words(prompt)
    completion_tokens = count_words(answer.text + appended_text(answer))
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def prompt_text(request: ChatCompletionRequest) -> str:
    """Every message's text, for counting ``usage.prompt_tokens``."""
    return "\n".join(m.text() for m in request.messages)


def completion(answer: Answer, model: str, prompt: str = "") -> dict[str, Any]:
    """A chat.completion object for a finished answer; ``prompt`` is counted in ``usage``."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text + appended_text(answer)},
                "finish_reason": "stop",
            }
        ],
        **answer_fields(answer),
        "usage": usage(prompt, answer),
        "timings_ms": {k: round(v, 1) for k, v in answer.timings.items()},
    }


class ChunkWriter:
    """Formats chat.completion.chunk events as server-sent events."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def event(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        """One ``data:`` line holding a chunk."""
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"


def error_event(message: str, status: int = 500, code: str | None = None) -> str:
    """An error inside a stream that has already started (as OpenAI sends it), one line."""
    return f"data: {json.dumps(error_body(status, message, code), ensure_ascii=False)}\n\n"


DONE = "data: [DONE]\n\n"


def sse_stream(first: Any, rest: Iterator[Any], model: str, prompt: str = "") -> Iterator[str]:
    """SSE lines for an answer stream whose first item ``first`` was already taken.

    Text deltas become content chunks; the final Answer adds the sources list and a
    last chunk with ``finish_reason: stop``, ``citations``, ``refused``, ``confidence``,
    ``closest``, ``disagreement`` and ``usage``; then
    ``data: [DONE]``. An error after the stream began becomes an error event (with the
    error's code, e.g. ``llm_unavailable``), then ``data: [DONE]``.
    """
    writer = ChunkWriter(model)
    yield writer.event({"role": "assistant", "content": ""})
    item = first
    try:
        while True:
            if isinstance(item, Answer):
                sources = appended_text(item)
                if sources:
                    yield writer.event({"content": sources})
                extra = {**answer_fields(item), "usage": usage(prompt, item)}
                yield writer.event({}, "stop", **extra)
                break
            if item:
                yield writer.event({"content": str(item)})
            item = next(rest)
    except StopIteration:
        yield error_event("the answer ended without a result")
    except CitewiseError as exc:
        yield error_event(exc.message, exc.status, exc.code)
    except Exception:  # a bug: log it, and end the stream cleanly for the client
        logger.exception("answer stream failed")
        yield error_event(BUG_MESSAGE)
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()
    yield DONE
