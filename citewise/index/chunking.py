"""Sentence-aware chunking with character offsets, and a sentence splitter that keeps spans."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "no",
        "fig",
        "al",
        "eg",
        "ie",
        "approx",
        "dept",
        "est",
        "gov",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "e.g",
        "i.e",
    ]
)
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9•\-–])")


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``text == document_text[start:end]``."""

    index: int
    text: str
    start: int
    end: int


def _ends_with_abbreviation(text: str, dot: int) -> bool:
    """True when the period at ``dot`` closes an abbreviation or an initial (R.R., U.S.)."""
    m = re.search(r"([A-Za-z.]+)$", text[:dot])
    if not m:
        return False
    word = m.group(1).lower().strip(".")
    if word in _ABBREVIATIONS:
        return True
    # a lone capital letter (an initial) or a dotted acronym such as R.R or U.S
    return bool(re.fullmatch(r"[A-Z](\.[A-Z])*", m.group(1).strip(".")))


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Split ``text`` into sentences; returns (start, end) spans shifted by ``offset``.

    Lines are split first (headings and bullets have no full stop), then sentences within
    each line at ., ! or ? followed by a capital, digit or quote. Spans exclude the
    surrounding white space, so ``text[start:end]`` is the sentence as written.
    """
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        line_start = line.start()
        line_text = line.group(0)
        cut = 0
        for m in _BOUNDARY.finditer(line_text):
            if line_text[m.start()] == "." and _ends_with_abbreviation(line_text, m.start()):
                continue
            spans.append((line_start + cut, line_start + m.end()))
            cut = m.end()
        spans.append((line_start + cut, line_start + len(line_text)))
    out = []
    for start, end in spans:
        segment = text[start:end]
        stripped = segment.strip()
        if len(stripped) < 2 or not any(ch.isalnum() for ch in stripped):
            continue
        lead = len(segment) - len(segment.lstrip())
        out.append((offset + start + lead, offset + start + lead + len(stripped)))
    return out


def _locate(text: str, piece: str, cursor: int) -> tuple[int, int] | None:
    """Find ``piece`` in ``text`` at or after ``cursor``; tolerate changed white space."""
    idx = text.find(piece, cursor)
    if idx >= 0:
        return idx, idx + len(piece)
    words = piece.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    m = re.compile(pattern).search(text, cursor)
    return (m.start(), m.end()) if m else None


def chunk_text(
    text: str,
    chunk_size: int,
    chunk_overlap: int,
    tokenizer: Callable[[str], list[str]] | None = None,
) -> list[Chunk]:
    """Split ``text`` into sentence-aware chunks of at most ``chunk_size`` tokens.

    Uses LlamaIndex's ``SentenceSplitter`` (counting the embedding model's word pieces when
    a ``tokenizer`` is given), then maps every chunk back to its exact span in ``text``.
    """
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        tokenizer=tokenizer,
        paragraph_separator="\n\n",
    )
    chunks: list[Chunk] = []
    cursor = 0
    for piece in splitter.split_text(text):
        piece = piece.strip()
        if not piece:
            continue
        found = _locate(text, piece, cursor) or _locate(text, piece, 0)
        if found is None:  # pragma: no cover - SentenceSplitter keeps text verbatim
            continue
        start, end = found
        chunks.append(Chunk(index=len(chunks), text=text[start:end], start=start, end=end))
        cursor = start + 1
    return chunks
