"""The HTTP service: an OpenAI-compatible chat API, search, documents, MCP tools.

``create_app(assistant)`` builds the FastAPI app; ``serve`` is the ``citewise serve``
command. FastAPI is imported only when an app is built, so ``citewise --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from citewise.api.command import serve

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app", "serve"]


def create_app(assistant: Any, **options: Any) -> FastAPI:
    """The FastAPI app over ``assistant``; see `citewise.api.app.create_app()` for ``options``."""
    from citewise.api.app import create_app as build

    return build(assistant, **options)
