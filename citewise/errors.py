"""One error model: every error a user can meet derives from `CitewiseError`.

Each carries a one-line message (what happened and what to do), the HTTP status and the
machine-readable code it maps to. The CLI, the UI, the HTTP API and MCP each catch
``CitewiseError`` in one place; anything else is a bug and keeps its traceback (500).
"""

from __future__ import annotations


class CitewiseError(Exception):
    """Base of every user-facing error: a one-line message, an HTTP status and a code.

    Subclasses set ``status`` and ``code`` as class attributes; an instance may override
    them through the constructor.
    """

    status: int = 400
    code: str = "invalid_request"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        message = " ".join(str(message).split())  # one line, whatever the cause
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The one-line message."""
        return str(self)


def reason(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (at most ``limit`` characters), or its type's name.

    For the "(why)" part of a one-line message about a library's error::

        raise StoreError(f"cannot reach the Chroma server at {url}: {reason(exc)}") from None
    """
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__
