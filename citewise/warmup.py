"""Load what the first question needs before a server says it is ready.

Without this, the first question after ``citewise serve`` or ``citewise ui`` starts pays for
loading the embedding model, the keyword (BM25) index and the spaCy pipelines the answerers
use; with it, start-up pays once and the first question is as fast as the next.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from typing import Any

from citewise.errors import CitewiseError

# A question that reaches every part of the extractive answerer (entities, answer type).
WARM_QUESTION = "Who did what, and when?"
# Modules holding a spaCy pipeline loaded on first use (``pipeline()``); absent ones are skipped.
PIPELINES = ("citewise.rag.injection", "citewise.rag.entities")


def warm(assistant: Any) -> dict[str, float]:
    """Load the embedding model, the keyword index and spaCy, then answer one question.

    The question is answered extractively (the LLM of generative mode is not loaded) and
    only when documents are indexed. A step that fails with an error a user can meet (the
    store is unreachable, a model is missing) is skipped: the first real question reports it.

    Returns:
        Seconds taken by each step, by name.
    """
    steps: list[tuple[str, Callable[[], object]]] = [
        ("embedding model", lambda: assistant.embedder.embed(["warm up"])),
        ("keyword index", lambda: _keyword_index(assistant)),
        ("spaCy", _pipelines),
        ("first answer", lambda: assistant.is_empty() or assistant.ask(WARM_QUESTION, mode="extractive")),
    ]
    timings: dict[str, float] = {}
    for name, step in steps:
        started = time.perf_counter()
        try:
            step()
        except (CitewiseError, ImportError, OSError):
            continue
        timings[name] = time.perf_counter() - started
    return timings


def _keyword_index(assistant: Any) -> None:
    keywords = getattr(assistant.retriever, "keywords", None)
    if keywords is not None:
        keywords.refresh()  # loads the saved index, or builds (and saves) it


def _pipelines() -> None:
    for name in PIPELINES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        load = getattr(module, "pipeline", None)
        if callable(load):
            load()


def warm_in_background(assistant: Any) -> Callable[[], dict[str, float]]:
    """Start `warm()` in a thread; the function returned waits for it (and re-raises a bug).

    The commands start it before their own slow imports (FastAPI, Gradio) and wait before
    they report ready, so the two overlap.
    """
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["timings"] = warm(assistant)
        except BaseException as exc:  # not an error a user can meet: raised again in the caller
            result["error"] = exc

    thread = threading.Thread(target=run, name="citewise-warmup", daemon=True)
    thread.start()

    def wait() -> dict[str, float]:
        thread.join()
        if "error" in result:
            raise result["error"]
        return dict(result["timings"])

    return wait
