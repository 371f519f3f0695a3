"""The shapes every evaluation set shares: cases, their expectations, and the dataset itself.

Kept apart from the loaders so each loader module (YAML suites, LlamaIndex sets, SQuAD)
imports these without importing the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citewise.errors import CitewiseError


class DatasetError(CitewiseError, ValueError):
    """A dataset file that cannot be used; the message names the file, the case and the fix."""

    status = 400
    code = "invalid_dataset"


def normalize(text: str) -> str:
    """Lower case, curly quotes made straight, white space collapsed (for substring checks)."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def matches(pattern: str, text: str) -> bool:
    """True when ``text`` holds ``pattern``: a ``re:`` regex, else a case-insensitive substring."""
    if pattern.startswith("re:"):
        return re.search(pattern[3:], text, re.I) is not None
    return normalize(pattern) in normalize(text)


@dataclass(frozen=True)
class Expect:
    """Strings or ``re:`` patterns an answer must hold: every one of all_of, one of any_of."""

    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()

    def patterns(self) -> tuple[str, ...]:
        """Every pattern, all_of first."""
        return self.all_of + self.any_of


@dataclass(frozen=True)
class SourceSpec:
    """A source that must be cited: one of ``docs``, by a quote holding ``passage`` (if given)."""

    docs: tuple[str, ...]
    passage: str = ""

    def satisfied_by(self, doc_id: str, text: str) -> bool:
        """True when a quote or passage ``text`` of ``doc_id`` is this source."""
        return doc_id in self.docs and (not self.passage or matches(self.passage, text))


@dataclass(frozen=True)
class EvalCase:
    """One question of an evaluation set and what a right answer looks like."""

    id: str
    question: str
    kind: str = "fact"
    history: tuple[dict[str, str], ...] = ()
    expect: Expect = Expect()
    sources: tuple[SourceSpec, ...] = ()
    refuse: bool = False
    reference_answer: str = ""
    reference_contexts: tuple[str, ...] = ()


@dataclass
class EvalDataset:
    """A named set of cases plus the documents they are asked about.

    Attributes:
        name: shown in reports and used for the eval index's folder.
        kind: ``facts``, ``reference`` or ``squad`` (decides how cases are scored).
        cases: the questions.
        documents: files and folders to index; empty (and no ``texts``): the configured corpus.
        texts: documents held in memory, doc id -> text (SQuAD paragraphs).
        titles: doc id -> title, for ``texts``.
        role: ``tune`` (used to choose the scorer), ``test`` (only reported), ``gate``
            (the seed regression suite), or empty.
        index_name: the eval index to use (splits of one set share it); default ``name``.
        baseline: published figures (reference sets with a card.json).
    """

    name: str
    kind: str  # "facts", "reference" or "squad"
    cases: list[EvalCase]
    documents: list[Path] = field(default_factory=list)  # empty: the configured corpus
    baseline: dict[str, Any] | None = None  # published figures (reference sets with a card.json)
    origin: str = ""
    texts: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    role: str = ""
    index_name: str = ""
