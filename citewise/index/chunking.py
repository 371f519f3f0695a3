"""Sentence-aware chunking with character offsets, and a sentence splitter that keeps spans."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Sized
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
        "vol",
        "pp",
        "cf",
        "ca",
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
    m = re.search(r"(?<![A-Za-z0-9])([A-Za-z.]+)$", text[:dot])  # a whole word: not the "s" of "1050s"
    if not m:
        return False
    word = m.group(1).lower().strip(".")
    if word in _ABBREVIATIONS:
        return True
    # a lone capital letter (an initial) or a dotted acronym such as R.R or U.S; a lone small
    # letter abbreviates a word ("v. 2.0", "p. 12", "c. 1200")
    return bool(re.fullmatch(r"[A-Z](\.[A-Z])*|[a-z]", m.group(1).strip(".")))


_LIST_START = re.compile(r"\s*([•*\-–#>|]|\d+[.)]\s|[a-z][.)]\s)")
# a line ending with one of these words stops mid-sentence ("... described on the" + a new line)
_OPEN_END = re.compile(
    r"\b(the|a|an|of|to|in|on|at|by|for|with|from|into|onto|and|or|nor|but|than|as|that|which|whose|"
    r"is|are|was|were|be|been|has|have|had|its|their|his|her|our|your|this|these|those|such|via|per)\s*$",
    re.I,
)
_HARD_END = re.compile(r"[.!?:;][\"'”’)\]]*\s*$")


def _logical_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of the text's lines, with lines wrapped inside a sentence joined again.

    A PDF (or hard-wrapped text) breaks lines mid-sentence; such a break is not a sentence
    end. A line continues onto the next when the next starts in lower case, when it ends
    with a word no sentence ends with ("the", "of", "and"...), or when it is nearly as long as
    the block's longest line (a wrapped line); never when it ends with punctuation, or the
    next line is a list item or heading.
    """
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]
    out: list[tuple[int, int]] = []
    block: list[tuple[int, int]] = []

    def flush() -> None:
        if not block:
            return
        widest = max(len(text[a:b].strip()) for a, b in block)
        start, end = block[0]
        for (pa, pb), (a, b) in zip(block, block[1:], strict=False):
            prev, nxt = text[pa:pb], text[a:b]
            wrapped = len(prev.strip()) >= max(40, 0.7 * widest)
            joined = not _HARD_END.search(prev) and not _LIST_START.match(nxt) and not text[start:end].startswith("#")
            if joined and (nxt.lstrip()[:1].islower() or wrapped or _OPEN_END.search(prev)):
                end = b
            else:
                out.append((start, end))
                start, end = a, b
        out.append((start, end))
        block.clear()

    for a, b in lines:
        if not text[a:b].strip():
            flush()
            continue
        if block and text[block[-1][1] : a].count("\n") > 1:
            flush()
        block.append((a, b))
    flush()
    return out


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Split ``text`` into sentences; returns (start, end) spans shifted by ``offset``.

    Lines are split first (headings and bullets have no full stop), except where a line
    is wrapped inside a sentence (see `_logical_lines()`); then sentences within each
    line at ., ! or ? followed by a capital, digit or quote. Spans exclude the surrounding
    white space, so ``text[start:end]`` is the sentence as written (line breaks included).
    """
    spans: list[tuple[int, int]] = []
    for line_start, line_end in _logical_lines(text):
        line_text = text[line_start:line_end]
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
    tokenizer: Callable[[str], Sized] | None = None,
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


def _bert_space(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _bert_punct(char: str) -> bool:
    cp = ord(char)
    return (
        33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or unicodedata.category(char)[0] == "P"
    )


class SpanCounter:
    """Word-piece counts of the parts of one text, from a single tokenization of the whole text.

    The sentence splitter counts the word pieces of the document, then of each paragraph, then
    of each sentence of a long paragraph...: the same characters cut into word pieces several
    times. A BERT word-piece tokenizer never joins characters across white space or punctuation,
    so a part of the text that begins and ends at such a boundary holds exactly the word pieces
    of the whole text's tokenization that start inside it: found in the text, it is counted with
    two binary searches over their offsets. Any other part (cut inside a word, or not found
    verbatim) is tokenized on its own, as before, so the count is always the tokenizer's own.

    ``offsets(text)`` gives the (start, end) of each word piece of ``text``; ``fallback(part)``
    the word pieces of a part on its own. Calling the counter returns a sequence whose length is
    the count (the splitter takes ``len()`` of what its tokenizer returns).
    """

    def __init__(
        self,
        text: str,
        offsets: Callable[[str], list[tuple[int, int]]],
        fallback: Callable[[str], list[str]],
    ) -> None:
        self.text = text
        self._starts = [start for start, _ in offsets(text)]
        self._fallback = fallback
        self._cursor = 0
        self.counted = {"spans": 0, "tokenized": 0}

    def __call__(self, part: str) -> range:
        return range(self.count(part))

    def count(self, part: str) -> int:
        """The number of word pieces of ``part`` on its own."""
        start = self.text.find(part, self._cursor) if part else -1
        if start < 0 and part:
            start = self.text.find(part)
        end = start + len(part)
        if start < 0 or not (self._clean(start) and self._clean(end)):
            self.counted["tokenized"] += 1
            return len(self._fallback(part))
        self._cursor = start  # the splitter asks for parts in document order
        self.counted["spans"] += 1
        return bisect.bisect_left(self._starts, end) - bisect.bisect_left(self._starts, start)

    def _clean(self, i: int) -> bool:
        """Whether no word piece can straddle position ``i`` (white space or punctuation beside it)."""
        if i <= 0 or i >= len(self.text):
            return True
        before, after = self.text[i - 1], self.text[i]
        return _bert_space(before) or _bert_space(after) or _bert_punct(before) or _bert_punct(after)
