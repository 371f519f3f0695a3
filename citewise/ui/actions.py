"""What the chat page's buttons do, as plain functions over the Assistant (no gradio here).

Each one calls the `Assistant` facade and turns its result, or
the one-line error a user can meet, into what the page shows.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citewise.errors import CitewiseError
from citewise.rag.cancel import Cancel, ClientGone, ShuttingDown, cancellable
from citewise.rag.citations import Answer
from citewise.ui import render

MAX_TURNS = 50
EVAL_COLUMNS = (
    "id",
    "kind",
    "question",
    "passed",
    "answer",
    "why",
    "latency_ms",
)  # the table's columns, if present  # turns kept in the browser; older ones drop off


@dataclass
class ChatUpdate:
    """One step of a streamed reply. ``None`` means: leave that part of the page as it is."""

    messages: list[dict[str, str]]
    sources: str | None = None
    turns: list[dict[str, Any]] | None = None
    question: str | None = None


STOPPED = "⏹ Stopped before the answer was finished."


class Answering:
    """The answers being written, per browser session, so that they can be stopped.

    The chat runs each answer under a `Cancel` (`track()`);
    `cancel()` sets the switches of a session's answers when its tab is closed or its
    Stop button is pressed. A generation then stops at its next token and releases the
    model, and an answer still waiting for the model leaves the queue (see
    `citewise.rag.cancel`). Gradio alone would only stop asking the answer for more
    after the step it is running, which with a generative answer can be the whole answer.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, set[Cancel]] = {}

    @contextlib.contextmanager
    def track(self, session: str | None) -> Iterator[Cancel]:
        """A cancel switch for one answer of ``session``, registered while the block runs."""
        switch, key = Cancel(), session or ""
        with self._lock:
            self._running.setdefault(key, set()).add(switch)
        try:
            yield switch
        finally:
            with self._lock:
                running = self._running.get(key, set())
                running.discard(switch)
                if not running:
                    self._running.pop(key, None)

    def cancel(self, session: str | None) -> int:
        """Stop every answer ``session`` is waiting for; returns how many were running."""
        with self._lock:
            switches = list(self._running.pop(session or "", set()))
        for switch in switches:
            switch.cancel()
        return len(switches)

    def running(self, session: str | None = None) -> int:
        """How many answers are being written (for ``session``, or in all)."""
        with self._lock:
            if session is not None:
                return len(self._running.get(session, ()))
            return sum(len(s) for s in self._running.values())


def ask(
    assistant: Any,
    question: str,
    turns: Sequence[dict[str, Any]] | None,
    mode: str,
    top_k: int,
    show_scores: bool,
    cancel: Cancel | None = None,
) -> Iterator[ChatUpdate]:
    """Stream the answer to ``question``: the growing text, then the cited answer and its sources.

    With ``cancel``, setting it stops the answer between two tokens (it ends with `STOPPED`).
    """
    kept = list(turns or [])[-MAX_TURNS:]
    messages = render.chat_messages(kept)
    messages.append({"role": "user", "content": render.md_text(question or "")})
    messages.append({"role": "assistant", "content": "…"})
    yield ChatUpdate(messages, question="")
    answer: Answer | None = None
    text = ""
    try:
        stream = assistant.stream(question, render.history(kept), mode=mode, top_k=int(top_k))
        for item in cancellable(stream, cancel) if cancel is not None else stream:
            if isinstance(item, Answer):
                answer = item
            else:
                text += item
                messages[-1] = {"role": "assistant", "content": render.md_text(text)}
                yield ChatUpdate(messages)
    except (ClientGone, ShuttingDown):  # stopped: the tab was closed, Stop was pressed, or the server stops
        messages[-1] = {"role": "assistant", "content": render.md_text(STOPPED)}
        yield ChatUpdate(messages, question=question)
        return
    except CitewiseError as exc:  # the LLM is down, a bad question...: one ⚠ line, the question kept
        messages[-1] = {"role": "assistant", "content": f"⚠ {render.md_text(exc.message)}"}
        yield ChatUpdate(messages, question=question)
        return
    if answer is None:  # every answer mode ends with its Answer: this stream was closed by a cancel
        messages[-1] = {"role": "assistant", "content": render.md_text(STOPPED)}
        yield ChatUpdate(messages, question=question)
        return
    turn = len(kept)
    kept.append({"question": question, "answer": render.answer_state(answer)})
    messages[-1] = {"role": "assistant", "content": render.answer_markdown(answer, turn)}
    yield ChatUpdate(messages, sources=render.sources_html(answer, turn, show_scores), turns=kept)


def restore(turns: Sequence[dict[str, Any]] | None, show_scores: bool) -> tuple[list[dict[str, str]], str]:
    """The chat and the last answer's sources, rebuilt from the turns kept in the browser."""
    turns = list(turns or [])
    try:
        messages = render.chat_messages(turns)
    except (KeyError, TypeError, ValueError):  # state from an older version of the page: start over
        return [], render.sources_html(None, 0)
    return messages, sources_for(turns, len(turns) - 1, show_scores)


def sources_for(turns: Sequence[dict[str, Any]] | None, turn: int, show_scores: bool) -> str:
    """The sources panel for answer number ``turn``."""
    turns = list(turns or [])
    if not 0 <= turn < len(turns):
        return render.sources_html(None, 0)
    return render.sources_html(render.answer_from_state(turns[turn]["answer"]), turn, show_scores)


# ---- documents ----------------------------------------------------------------------
def document_table(assistant: Any) -> tuple[list[list[Any]], list[str]]:
    """Rows of the documents table, and the ids a user can pick to remove."""
    documents = assistant.documents()
    return render.document_rows(documents), [d.doc_id for d in documents]


def upload(assistant: Any, paths: Sequence[str] | None) -> str:
    """Index uploaded files one by one; one line per file says what became of it."""
    from citewise.index.uploads import UploadLimits, check_upload

    if not paths:
        return "Choose one or more files first."
    limit = assistant.settings.max_upload_mb * 1024 * 1024
    lines = []
    for path in paths:
        name = Path(path).name
        try:
            if os.path.getsize(path) > limit:  # refused by its size alone, without reading it into memory
                check_upload(name, os.path.getsize(path), UploadLimits(max_bytes=limit))
            report = assistant.upload(name, Path(path).read_bytes())
        except CitewiseError as exc:
            lines.append(f"✘ {exc.message}")
            continue
        except OSError as exc:
            lines.append(f"✘ {name}: could not read the uploaded file ({exc.strerror}); try again")
            continue
        if report.ok:
            done = "re-indexed" if report.updated else "unchanged" if report.unchanged else "indexed"
            lines.append(f"✔ {name}: {done} ({report.chunks} passages written)")
        else:
            lines += [f"✘ {reason}" for _path, reason in report.failed]
    return "\n\n".join(render.md_text(line) for line in lines)


def remove(assistant: Any, doc_id: str | None) -> str:
    """Remove one document from the index."""
    if not doc_id:
        return "Pick a document to remove first."
    try:
        removed = assistant.remove(doc_id)
    except CitewiseError as exc:
        return f"✘ {render.md_text(exc.message)}"
    if not removed:
        return f"✘ {render.md_text(doc_id)} is not indexed (any more); the list is now up to date."
    return f"✔ Removed {render.md_text(doc_id)}."


def reindex(assistant: Any, progress: Callable[[int, int, str], None]) -> str:
    """Re-read every indexed document from its file (changed ones are replaced), with progress.

    With an empty index, the sample corpus is indexed.
    """
    documents = assistant.documents()
    paths = [Path(d.source) for d in documents]
    missing = [d.doc_id for d, p in zip(documents, paths, strict=True) if not p.is_file()]
    doc_ids = {p: d.doc_id for d, p in zip(documents, paths, strict=True) if p.is_file()}
    targets: list[Path] = list(doc_ids) or ([assistant.settings.corpus_dir] if not documents else [])
    lines = []
    if targets:
        try:
            report = assistant.ingest(targets, progress=progress, doc_ids=doc_ids)
        except CitewiseError as exc:
            return f"✘ {render.md_text(exc.message)}"
        lines.append(f"Re-indexed: {report.summary()}.")
        lines += [f"✘ {reason}" for _path, reason in report.failed]
    lines += [
        f"⚠ {doc}: its file is gone; it stays indexed as it was (remove it if it is obsolete)." for doc in missing
    ]
    return "\n\n".join(render.md_text(line) for line in lines)


# ---- evaluation ---------------------------------------------------------------------
def evaluate(
    assistant: Any, mode: str, progress: Callable[..., None] | None = None
) -> tuple[str, list[list[Any]], list[str]]:
    """Run the factual evaluation suite; returns (metrics as Markdown, table rows, table columns)."""
    try:
        from citewise.eval.runner import run_eval
    except ImportError:
        return "⚠ The evaluation suite is not part of this installation yet.", [], []
    try:
        report = run_eval(assistant, dataset="seed", mode=mode, progress=progress)
    except CitewiseError as exc:
        return f"✘ {render.md_text(exc.message)}", [], []
    rows = list(report.rows())
    columns = [c for c in EVAL_COLUMNS if rows and c in rows[0]] or (list(rows[0]) if rows else [])
    table = [[_cell(row.get(c)) for c in columns] for row in rows]
    return render.eval_markdown(dict(report.metrics)), table, columns


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, (list, tuple, dict)):
        return str(value)
    return value
