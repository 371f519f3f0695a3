"""Answers for clients that may go away.

Retrieval and the extractive mode are safe to run in parallel threads (Chroma clients
and the embedding model are; ``tests/test_api.py`` runs parallel requests). An
in-process llama.cpp model is not: one context cannot decode two prompts at once, so it
runs one generation at a time under its own lock (`citewise.rag.llm.GGUFLLM.run_lock`).
A remote LLM server (``CITEWISE_LLM_URL``) is not serialised here: it queues for itself.

Every request to ``/v1/chat/completions`` and ``/mcp`` gets a
`Cancel` (`CancelOnDisconnect`). When its client
disconnects, the generation stops between two tokens and releases the model, and a
request still waiting for the model leaves the queue. ``citewise serve`` sets
`SHUTDOWN` on SIGTERM, which stops every generation.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from citewise.rag.cancel import Cancel, cancel_scope, cancellable

SCOPE_KEY = "citewise.cancel"  # where the request's Cancel sits in the ASGI scope (MCP tools read it)
_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def llm_lock(assistant: Any) -> threading.Lock:
    """A lock per Assistant (kept for callers that share it; answers no longer take it)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(assistant)
        if lock is None:
            lock = _LOCKS[assistant] = threading.Lock()
        return lock


def guarded_stream(
    assistant: Any,
    question: str,
    history: Iterable[Any] | None,
    mode: str | None,
    top_k: int | None = None,
    cancel: Cancel | None = None,
) -> Iterator[Any]:
    """``assistant.stream(...)`` that stops once ``cancel`` (default: the request's) is set.

    Raises:
        ClientGone: the client went away before the answer was finished.
        ShuttingDown: the server is stopping.
    """
    return cancellable(assistant.stream(question, history, mode=mode, top_k=top_k), cancel)


def request_cancel(scope: dict[str, Any] | None) -> Cancel | None:
    """The `Cancel` that `CancelOnDisconnect` attached to an ASGI scope."""
    return (scope or {}).get(SCOPE_KEY)


class CancelOnDisconnect:
    """ASGI middleware: each request under ``prefixes`` is cancelled when its client disconnects.

    Once the app has read the whole request body, a watcher waits for the client's
    ``http.disconnect`` and then calls `Cancel.cancel()`; the app's own later
    ``receive()`` calls get that same message. The request's `Cancel` is the
    current one for everything it runs (threads copy it), and sits in the scope under
    `SCOPE_KEY`. When the request ends, whatever it left open is closed.
    """

    def __init__(self, app: Any, prefixes: tuple[str, ...] = ("/v1/chat/", "/mcp")) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        switch = Cancel()
        scope[SCOPE_KEY] = switch
        watch = _DisconnectWatch(receive, switch)
        try:
            with cancel_scope(switch):
                await self.app(scope, watch.receive, send)
        finally:
            watch.stop()
            switch.cancel()  # the request is over: close what it left open (a no-op when it finished)


class _DisconnectWatch:
    def __init__(self, receive: Any, switch: Cancel) -> None:
        self._receive = receive
        self._switch = switch
        self._task: asyncio.Task[None] | None = None
        self._gone: asyncio.Future[dict[str, Any]] | None = None

    async def receive(self) -> dict[str, Any]:
        if self._gone is not None:
            return await asyncio.shield(self._gone)
        message: dict[str, Any] = await self._receive()
        if message["type"] == "http.disconnect":
            self._switch.cancel()
        elif not message.get("more_body", False):  # the body is complete: from now on, watch
            self._gone = asyncio.get_running_loop().create_future()
            self._task = asyncio.ensure_future(self._watch(self._gone))
        return message

    async def _watch(self, gone: asyncio.Future[dict[str, Any]]) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
        self._switch.cancel()
        if not gone.done():
            gone.set_result(message)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._gone is not None and not self._gone.done():
            self._gone.cancel()
