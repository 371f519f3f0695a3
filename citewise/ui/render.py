"""Turning answers, citations and documents into what the chat page shows (no gradio here).

Everything that comes from a document or a user is HTML-escaped before it is shown.
Citation markers ``[n]`` in an answer become links to ``#cw-src-<turn>-<n>``, the id of
that source's entry in the sources panel.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from citewise.rag.citations import Answer, Citation

_MARKER = re.compile(r"\[(\d+)\]")
# characters Markdown would otherwise read as formatting (LaTeX is switched off in the chatbot)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$-])")
_LIST_NUMBER = re.compile(r"^(\s*\d+)\.", re.M)  # "2025. x" at a line start is not a list item
UNSUPPORTED_NOTE = "not supported by the cited sources"
CLOSEST_HEADING = "Closest passages (not answers)"


def md_text(text: str) -> str:
    """Plain text made safe for the chatbot's Markdown: HTML escaped, formatting characters neutralised."""
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    return _LIST_NUMBER.sub(r"\1\\.", text)


def esc(text: str) -> str:
    """HTML-escape ``text`` for the sources panel (also ``$`` and backticks, which its template reads)."""
    return html.escape(text).replace("$", "&#36;").replace("`", "&#96;")


def source_anchor(turn: int, n: int) -> str:
    """The HTML id of citation ``n`` of answer number ``turn`` in the sources panel."""
    return f"cw-src-{turn}-{n}"


def _linked(text: str, turn: int, known: set[int]) -> str:
    """Escape ``text`` and turn each known marker ``[n]`` into a link to its source."""
    out: list[str] = []
    pos = 0
    for m in _MARKER.finditer(text):
        n = int(m.group(1))
        if n not in known:
            continue
        out.append(md_text(text[pos : m.start()]))
        out.append(f'<a href="#{source_anchor(turn, n)}" class="cw-cite" data-n="{n}">[{n}]</a>')
        pos = m.end()
    out.append(md_text(text[pos:]))
    return "".join(out)


def _unsupported_spans(answer: Answer) -> list[tuple[int, int]]:
    """Where in ``answer.text`` each sentence the checks found unsupported lies."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for check in answer.sentences or []:
        sentence = check.text.strip()
        at = answer.text.find(sentence, cursor) if sentence else -1
        if at < 0:
            continue
        cursor = at + len(sentence)
        if not check.supported:
            spans.append((at, cursor))
    return spans


def answer_markdown(answer: Answer, turn: int) -> str:
    """The answer as chatbot Markdown: linked markers, unsupported sentences visibly marked."""
    if answer.refused:
        return f'<span class="cw-refused">{md_text(answer.text)}</span>' + _closest_markdown(answer.closest)
    known = {c.n for c in answer.citations}
    out: list[str] = []
    pos = 0
    for start, end in _unsupported_spans(answer):
        out.append(_linked(answer.text[pos:start], turn, known))
        sentence = _linked(answer.text[start:end], turn, known)
        out.append(f'<span class="cw-unsupported">⚠ {sentence} <em>({UNSUPPORTED_NOTE})</em></span>')
        pos = end
    out.append(_linked(answer.text[pos:], turn, known))
    body = "".join(out)
    if answer.sentences is not None and not answer.refused:
        missing = [s for s in answer.sentences if not s.supported and s.text.strip() not in answer.text]
        body += "".join(f"\n\n⚠ {md_text(s.text)} <em>({UNSUPPORTED_NOTE})</em>" for s in missing)
    if answer.note:
        body += f"\n\n<em>{md_text(answer.note)}</em>"
    return body + confidence_markdown(answer.confidence)


def confidence_label(confidence: float | None) -> str:
    """``confidence 0.82`` (empty when the answer mode gives no estimate)."""
    return "" if confidence is None else f"confidence {confidence:.2f}"


def confidence_markdown(confidence: float | None) -> str:
    """The answer's confidence as a small line under it (nothing when there is none)."""
    label = confidence_label(confidence)
    return f'\n\n<small class="cw-confidence">{label}</small>' if label else ""


def _closest_markdown(closest: Sequence[Citation]) -> str:
    """A refusal's closest passages under it: each document's title and quote, no [n] markers."""
    if not closest:
        return ""
    items = "".join(f"\n\n> *{md_text(c.title or c.doc_id)}*: \u201c{md_text(c.quote)}\u201d" for c in closest)
    return f"\n\n**{CLOSEST_HEADING}**{items}"


def _highlighted_passage(c: Citation) -> str:
    """The citation's passage with the quote inside it wrapped in ``<mark>`` (all escaped)."""
    passage, quote = c.passage, c.quote
    rel = c.start - c.passage_start
    if not (rel >= 0 and passage[rel : rel + len(quote)] == quote):
        rel = passage.find(quote) if passage and quote else -1
    if rel < 0:
        before = esc(passage) + (" … " if passage else "")
        return f'{before}<mark class="cw-quote">{esc(quote)}</mark>'
    end = rel + len(quote)
    return f'{esc(passage[:rel])}<mark class="cw-quote">{esc(quote)}</mark>{esc(passage[end:])}'


def _source_entry(c: Citation, turn: int, show_scores: bool) -> str:
    meta = [f"file: <code>{esc(c.doc_id)}</code>"]
    if c.page is not None:
        meta.append(f"page {int(c.page)}")
    if show_scores:
        meta.append(f'score <span class="cw-score">{c.score:.3f}</span>')
    return (
        f'<div class="cw-source" id="{source_anchor(turn, c.n)}" data-n="{c.n}">'
        f'<div class="cw-source-title"><span class="cw-n">[{c.n}]</span> {esc(c.title or c.doc_id)}</div>'
        f'<div class="cw-meta">{" · ".join(meta)}</div>'
        f'<details class="cw-context" open><summary>quote in its passage</summary>'
        f'<blockquote class="cw-passage">{_highlighted_passage(c)}</blockquote></details></div>'
    )


def _checks(answer: Answer) -> str:
    if not answer.sentences:
        return ""
    items = []
    for s in answer.sentences:
        mark = "✔" if s.supported else "⚠"
        cited = ", ".join(f"[{n}]" for n in s.citations) or "no citation"
        cls = "cw-check-ok" if s.supported else "cw-check-bad"
        items.append(f'<li class="{cls}">{mark} {esc(s.text)} <small>({cited})</small></li>')
    return f'<div class="cw-checks"><b>Sentence checks</b><ul>{"".join(items)}</ul></div>'


def sources_html(answer: Answer | None, turn: int, show_scores: bool = False) -> str:
    """The sources panel for one answer: each cited source with its quote highlighted in context."""
    if answer is None:
        return '<div class="cw-sources cw-empty">Sources of the answer appear here.</div>'
    if answer.refused or not answer.citations:
        empty = f'<div class="cw-sources cw-empty" data-turn="{turn}">No sources: the documents don\'t cover this question.</div>'
        return empty + _closest_html(answer.closest if answer.refused else [], turn)
    entries = "".join(_source_entry(c, turn, show_scores) for c in answer.citations)
    return f'<div class="cw-sources" data-turn="{turn}">{_disagreement(answer)}{entries}{_checks(answer)}</div>'


def _disagreement(answer: Answer) -> str:
    """Above the sources, when documents state different values: each value with its source's number."""
    d = answer.disagreement
    if d is None:
        return ""
    values = " · ".join(f'<span class="cw-n">[{c.citation}]</span> {esc(c.value)}' for c in d.claims)
    return f'<div class="cw-disagreement">⚠ The documents disagree on this {esc(d.about)}: {values}</div>'


def _closest_html(closest: Sequence[Citation], turn: int) -> str:
    """A refusal's closest passages, set apart from sources: titled, unnumbered, quote shown in its passage."""
    if not closest:
        return ""
    entries = "".join(
        f'<div class="cw-closest-entry" data-doc="{esc(c.doc_id)}">'
        f'<div class="cw-source-title">{esc(c.title or c.doc_id)}</div>'
        f'<div class="cw-meta">file: <code>{esc(c.doc_id)}</code>{f" · page {int(c.page)}" if c.page is not None else ""}</div>'
        f'<blockquote class="cw-passage">{_highlighted_passage(c)}</blockquote></div>'
        for c in closest
    )
    return (
        f'<div class="cw-closest" data-turn="{turn}"><div class="cw-closest-heading">{CLOSEST_HEADING}</div>'
        f'<div class="cw-meta">They are near the question but do not answer it.</div>{entries}</div>'
    )


# ---- conversation state (kept in the browser, so it survives a reload) -----------------
def answer_state(answer: Answer) -> dict[str, Any]:
    """An answer as JSON-friendly data, citations with their passages."""
    return answer.to_dict(passages=True)


def answer_from_state(data: dict[str, Any]) -> Answer:
    """The inverse of `answer_state()`."""
    return Answer.from_dict(data)


def chat_messages(turns: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The chatbot's messages for stored turns ``[{"question": str, "answer": dict}, ...]``."""
    messages: list[dict[str, str]] = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": md_text(turn["question"])})
        messages.append({"role": "assistant", "content": answer_markdown(answer_from_state(turn["answer"]), i)})
    return messages


def history(turns: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Stored turns as the plain history the Assistant takes."""
    out: list[dict[str, str]] = []
    for turn in turns:
        out.append({"role": "user", "content": turn["question"]})
        out.append({"role": "assistant", "content": turn["answer"]["answer"]})
    return out


def document_rows(documents: Iterable[Any]) -> list[list[Any]]:
    """Rows of the documents table: id, title, type, chunks, when indexed."""
    return [[d.doc_id, d.title, d.kind, d.chunks, d.indexed_at.replace("T", " ")] for d in documents]


DOCUMENT_COLUMNS = ["document", "title", "type", "chunks", "indexed (UTC)"]


def eval_markdown(metrics: dict[str, float]) -> str:
    """The evaluation's metrics as a Markdown table."""
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {md_text(name)} | {_number(value)} |" for name, value in metrics.items()]
    return "\n".join(lines)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"
