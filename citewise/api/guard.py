"""Sharing one Assistant between concurrent requests.

Retrieval and the extractive mode are safe to run in parallel threads (Chroma clients
and the sentence-transformers model are; ``tests/test_api.py`` runs parallel requests).
A local LLM (llama.cpp) is not: one context cannot decode two prompts at once. So
answers in any mode other than ``extractive`` run one at a time per Assistant.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
PARALLEL_MODES = ("extractive",)


def llm_lock(assistant: Any) -> threading.Lock:
    """The lock that serializes LLM answers of ``assistant``."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(assistant)
        if lock is None:
            lock = _LOCKS[assistant] = threading.Lock()
        return lock


def guarded_stream(
    assistant: Any, question: str, history: Iterable[Any] | None, mode: str | None, top_k: int | None = None
) -> Iterator[Any]:
    """``assistant.stream(...)``, one at a time when the mode runs an LLM.

    The lock is a plain ``Lock`` (not ``RLock``) on purpose: a streamed response is
    advanced from different worker threads, and a plain lock may be released by any.
    """
    name = mode or assistant.settings.mode
    if name in PARALLEL_MODES:
        yield from assistant.stream(question, history, mode=mode, top_k=top_k)
        return
    lock = llm_lock(assistant)
    with lock:
        yield from assistant.stream(question, history, mode=mode, top_k=top_k)
