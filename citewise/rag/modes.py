"""The answer modes by name: one registry that the CLI, the UI, the HTTP API and the settings read.

Each entry maps a mode's name to a factory that builds it for an Assistant. The Assistant
calls the factory the first time the mode is asked for, passing itself: a factory takes
what it needs from it (``settings``, ``embedder``, ``store``, ``llm``, its other modes
through ``mode(name)``). A host app adds a mode before it builds its Assistant (the CLI
reads the names when it starts)::

    from citewise.rag.modes import register

    register("echo", lambda assistant: EchoMode())  # EchoMode: an AnswerMode of yours

Nothing heavy is imported here: factories import their mode when they are called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from citewise.rag.answer import AnswerMode

# A factory gets the Assistant the mode will serve (typed Any: rag does not import the facade).
ModeFactory = Callable[[Any], "AnswerMode"]


def extractive(assistant: Any) -> AnswerMode:
    """Quote the best sentences of the passages (no LLM), with the scorer the settings name."""
    from citewise.rag.answer import extractive_mode

    s = assistant.settings
    return extractive_mode(
        assistant.embedder,
        assistant.store.document_text,
        answer_model=s.answer_model,
        min_score=s.min_score,
        max_sentences=s.max_answer_sentences,
    )


def generative(assistant: Any) -> AnswerMode:
    """An LLM writes the answer and every sentence is checked; the Assistant's ``llm`` if it has one.

    Raises:
        ImportError: the ``llm`` extra (LlamaIndex) is not installed.
    """
    from citewise.rag.generative import build_generative_mode

    return build_generative_mode(assistant, llm=getattr(assistant, "llm", None))


MODES: dict[str, ModeFactory] = {"extractive": extractive, "generative": generative}


def register(name: str, factory: ModeFactory) -> None:
    """Add (or replace) answer mode ``name``; every Assistant can answer with it from then on."""
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"answer mode name {name!r} must be letters, digits, - or _")
    MODES[name] = factory


def mode_names() -> tuple[str, ...]:
    """The registered modes' names, in registration order (the built-in ones first)."""
    return tuple(MODES)
