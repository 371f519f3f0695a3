"""Stopping a generation whose reader has gone.

Whoever runs answers for a client (the HTTP API, MCP) makes a `Cancel` for the
request and calls `Cancel.cancel()` when the client disconnects. The code that
generates (the llama.cpp token loop, the stream from a remote LLM server, the wait for
the shared model) calls `check_cancelled()` between tokens; once cancelled (or once
`SHUTDOWN` is set), that raises `GenerationCancelled` there, which unwinds
the generation and releases the model at once instead of after its last token.

The `Cancel` reaches that code through a context variable that
`cancellable()` sets around each step of the stream, so nothing in between has to
pass it along.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import weakref
from collections.abc import Iterator
from typing import Any, TypeVar

from citewise.errors import CitewiseError

T = TypeVar("T")
POLL_SECONDS = 0.1
log = logging.getLogger(__name__)

# set when the process is stopping (SIGTERM): every generation in it ends at its next token
SHUTDOWN = threading.Event()


class GenerationCancelled(BaseException):  # noqa: N818 - a signal like KeyboardInterrupt, not an error
    """Raised between tokens once a generation is cancelled.

    A ``BaseException``, so the ``except Exception`` handlers that turn failures into
    user errors let it through to `cancellable()`, which turns it into
    `ClientGone` or `ShuttingDown`.
    """


class ClientGone(CitewiseError):
    """The client disconnected, so its answer was stopped (nobody reads this message)."""

    status = 499
    code = "client_closed_request"


class ShuttingDown(CitewiseError):
    """The server is stopping, so the answer was stopped."""

    status = 503
    code = "shutting_down"


class Cancel:
    """The cancel switch of one request: set once, read from any thread.

    Streams opened under it (`cancellable()`) are closed by `cancel()` unless a
    thread is advancing them at that moment, in which case that thread stops at the
    next token.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self._streams: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        """True once cancelled."""
        return self.event.is_set()

    def cancel(self) -> None:
        """Stop every generation of this request and close its streams."""
        self.event.set()
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            if getattr(stream, "gi_frame", None) is None:
                continue  # finished
            with contextlib.suppress(ValueError):  # "generator already executing": that thread sees the event
                stream.close()
                _log_stop()

    def _track(self, stream: Any) -> None:
        with self._lock:
            self._streams.add(stream)


_CURRENT: contextvars.ContextVar[Cancel | None] = contextvars.ContextVar("citewise_cancel", default=None)


def current() -> Cancel | None:
    """The `Cancel` of the request being served here, if any."""
    return _CURRENT.get()


def cancelled() -> bool:
    """True when the current generation should stop."""
    switch = _CURRENT.get()
    return SHUTDOWN.is_set() or (switch is not None and switch.is_set())


def check_cancelled() -> None:
    """Raise `GenerationCancelled` when the current generation should stop."""
    if cancelled():
        raise GenerationCancelled


@contextlib.contextmanager
def cancel_scope(switch: Cancel | None) -> Iterator[None]:
    """Code run inside sees ``switch`` through `cancelled()`."""
    token = _CURRENT.set(switch)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@contextlib.contextmanager
def acquired(lock: threading.Lock) -> Iterator[None]:
    """Hold ``lock``; waiting for it ends with `GenerationCancelled` when cancelled.

    So a request queued behind a long generation leaves the queue when its client goes.
    """
    while not lock.acquire(timeout=POLL_SECONDS):
        check_cancelled()
    try:
        check_cancelled()
        yield
    finally:
        lock.release()


def cancellable(items: Iterator[T], switch: Cancel | None = None) -> Iterator[T]:
    """Iterate ``items`` under ``switch`` (default: the current request's, else a new one).

    Raises:
        ClientGone: the request was cancelled (its client went away).
        ShuttingDown: the server is stopping.
    """
    switch = switch or current() or Cancel()
    stream = _steps(items, switch)
    switch._track(stream)
    return stream


def _steps(items: Iterator[T], switch: Cancel) -> Iterator[T]:
    try:
        while True:
            with cancel_scope(switch):
                check_cancelled()
                try:
                    item = next(items)
                except StopIteration:
                    return
            yield item
    except GenerationCancelled:
        _log_stop()
        if SHUTDOWN.is_set():
            raise ShuttingDown("the server is stopping; ask again once it is back") from None
        raise ClientGone("the client went away, so its answer was stopped") from None
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            with cancel_scope(switch):
                close()


def _log_stop() -> None:
    why = "the server is stopping" if SHUTDOWN.is_set() else "its client went away"
    log.warning("citewise: an answer was stopped before its end: %s", why)
