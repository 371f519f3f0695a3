"""Conversation history: normalising it, and turning a follow-up into a retrieval query."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from citewise.errors import CitewiseError

MAX_QUESTION_CHARS = 4000
_FOLLOW_UP = re.compile(
    r"^\s*(and|also|but|so|what about|how about|then)\b|\b(it|its|it's|they|them|their|theirs|he|she|his|her|"
    r"this|that|these|those|there|the (company|organi[sz]ation|group|association|letter|request|model))\b",
    re.I,
)


class QuestionError(CitewiseError, ValueError):
    """A question that cannot be asked; the message says why in one line."""

    status = 400
    code = "invalid_question"


@dataclass(frozen=True)
class Message:
    """One turn of a conversation."""

    role: str  # "user" or "assistant"
    content: str


def clean_question(question: str) -> str:
    """Strip control characters and white space; reject empty or oversized questions."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " " for ch in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("the question is empty; type a question about the documents")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}")
    return text


def normalize_history(history: Iterable[Any] | None) -> list[Message]:
    """Earlier turns as `Message` objects, user and assistant turns only.

    Accepts OpenAI-style dicts (``{"role", "content"}``, content as text or parts),
    (user, assistant) pairs, and message objects with ``role`` and ``content``
    (`Message`, LlamaIndex's ``ChatMessage``). System and tool turns are left out.

    Raises:
        QuestionError: an item is none of these (the message names its position and type).
    """
    if history is None:
        return []
    if isinstance(history, str | bytes | Mapping) or not isinstance(history, Iterable):
        raise QuestionError(f"the history must be a list of turns, not a {type(history).__name__}")
    out: list[Message] = []
    for n, turn in enumerate(history, start=1):
        if isinstance(turn, Mapping):
            out += _turn(turn.get("role", "user"), turn.get("content", ""), n)
        elif isinstance(turn, Sequence) and not isinstance(turn, str | bytes):
            if len(turn) != 2:
                raise QuestionError(f"history item {n} is a {len(turn)}-item {type(turn).__name__}; {_SHAPES}")
            user, assistant = turn
            out += _turn("user", user, n) + _turn("assistant", assistant, n)
        elif hasattr(turn, "role") and hasattr(turn, "content"):  # Message, LlamaIndex ChatMessage
            out += _turn(turn.role, turn.content, n)
        else:
            raise QuestionError(f"history item {n} is a {type(turn).__name__}; {_SHAPES}")
    return out


_SHAPES = "use {'role', 'content'} dicts, (user, assistant) pairs or ChatMessage objects"


def _turn(role: Any, content: Any, n: int) -> list[Message]:
    """One turn as a Message ([] for empty or non-conversation turns)."""
    role = str(getattr(role, "value", role))  # LlamaIndex's MessageRole is an enum
    if isinstance(content, list):  # OpenAI content parts
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    if content is None:
        return []
    if not isinstance(content, str):
        raise QuestionError(f"history item {n} has {type(content).__name__} content; the content must be text")
    if role not in ("user", "assistant") or not content.strip():
        return []
    return [Message(role, content)]


def is_follow_up(question: str) -> bool:
    """A question that leans on what came before (pronouns, 'and ...', very short)."""
    words = re.findall(r"\w+", question)
    return bool(_FOLLOW_UP.search(question)) or len(words) <= 3


def retrieval_query(question: str, history: list[Message]) -> str:
    """The query used to retrieve: the question, plus the last user question for follow-ups."""
    previous = [m.content for m in history if m.role == "user"]
    if not previous or not is_follow_up(question):
        return question
    return f"{previous[-1].strip()} {question}"
