"""Conversation history: normalising it, and turning a follow-up into a retrieval query."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_QUESTION_CHARS = 4000
_FOLLOW_UP = re.compile(
    r"^\s*(and|also|but|so|what about|how about|then)\b|\b(it|its|it's|they|them|their|theirs|he|she|his|her|"
    r"this|that|these|those|there|the (company|organi[sz]ation|group|association|letter|request|model))\b",
    re.I,
)


class QuestionError(ValueError):
    """A question that cannot be asked; the message says why in one line."""


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
    """Accept OpenAI-style dicts, (user, assistant) pairs, or :class:`Message` objects."""
    out: list[Message] = []
    for turn in history or []:
        if isinstance(turn, Message):
            out.append(turn)
        elif isinstance(turn, Mapping):
            role, content = str(turn.get("role", "user")), turn.get("content", "")
            if isinstance(content, list):  # OpenAI content parts
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
            if role in ("user", "assistant") and content:
                out.append(Message(role, str(content)))
        elif isinstance(turn, Sequence) and not isinstance(turn, str) and len(turn) == 2:
            user, assistant = turn
            if user:
                out.append(Message("user", str(user)))
            if assistant:
                out.append(Message("assistant", str(assistant)))
    return out


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
