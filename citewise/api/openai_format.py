"""Between OpenAI's chat format and the Assistant: messages in, completions and SSE chunks out."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from citewise.api.models import ChatCompletionRequest
from citewise.rag.citations import Answer, Citation, citation_dict

MODEL_PREFIX = "citewise-"
DEFAULT_MODEL = "citewise"
SOURCES_HEADING = "Sources:"
logger = logging.getLogger("citewise.api")


class BadChatRequest(ValueError):
    """A chat request the API cannot answer (the message says why)."""


class UnknownModel(LookupError):
    """A model name that is no answer mode."""


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
    """An earlier answer without the sources list this API appended to it."""
    head, sep, _ = content.partition(f"\n\n{SOURCES_HEADING}\n")
    return head if sep else content


def sources_text(citations: list[Citation]) -> str:
    """The sources list appended to an answer: one line per [n], with the quote."""
    if not citations:
        return ""
    lines = []
    for c in citations:
        page = f", p. {c.page}" if c.page else ""
        lines.append(f"[{c.n}] {c.title} ({c.doc_id}{page}): \u201c{c.quote}\u201d")
    return f"\n\n{SOURCES_HEADING}\n" + "\n".join(lines)


def citations_out(answer: Answer) -> list[dict[str, Any]]:
    """Every citation field, passage included, as JSON."""
    out = []
    for c in answer.citations:
        d = citation_dict(c)
        d["score"] = round(float(d["score"]), 4)
        out.append(d)
    return out


def completion(answer: Answer, model: str) -> dict[str, Any]:
    """A chat.completion object for a finished answer."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text + sources_text(answer.citations)},
                "finish_reason": "stop",
            }
        ],
        "citations": citations_out(answer),
        "refused": answer.refused,
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


def error_event(message: str, kind: str = "server_error") -> str:
    """An error inside a stream that has already started (as OpenAI sends it)."""
    return f"data: {json.dumps({'error': {'message': message, 'type': kind, 'code': None, 'param': None}})}\n\n"


DONE = "data: [DONE]\n\n"


def sse_stream(
    first: Any, rest: Iterator[Any], model: str, user_errors: tuple[type[BaseException], ...]
) -> Iterator[str]:
    """SSE lines for an answer stream whose first item ``first`` was already taken.

    Text deltas become content chunks; the final Answer adds the sources list and a
    last chunk with ``finish_reason: stop``, ``citations`` and ``refused``; then
    ``data: [DONE]``. An error after the stream began becomes an error event.
    """
    writer = ChunkWriter(model)
    yield writer.event({"role": "assistant", "content": ""})
    item = first
    try:
        while True:
            if isinstance(item, Answer):
                sources = sources_text(item.citations)
                if sources:
                    yield writer.event({"content": sources})
                yield writer.event({}, "stop", citations=citations_out(item), refused=item.refused)
                break
            if item:
                yield writer.event({"content": str(item)})
            item = next(rest)
    except StopIteration:
        yield error_event("the answer ended without a result")
    except user_errors as exc:
        yield error_event(str(exc), "invalid_request_error")
    except Exception:  # a bug: log it, and end the stream cleanly for the client
        logger.exception("answer stream failed")
        yield error_event("the answer failed inside citewise; see the server log")
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()
    yield DONE
