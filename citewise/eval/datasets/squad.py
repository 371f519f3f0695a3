"""SQuAD 2.0 files as eval sets: each paragraph a document, each question a case.

The official JSON shape is ``{"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}``;
a question has ``answers[].text`` or ``is_impossible: true``. An article's paragraphs become
documents ``<article>/pNN`` (``normans/p03``), indexed together; an answerable question
passes when a cited quote holds one of its answers, an unanswerable one when it is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from citewise.eval.datasets.cases import DatasetError, EvalCase, EvalDataset, Expect, SourceSpec

HAS_ANSWER = "has-answer"
NO_ANSWER = "no-answer"


def slug(title: str) -> str:
    """A file- and id-friendly form of an article title: ``Computational_complexity_theory`` ->
    ``computational_complexity_theory``."""
    return re.sub(r"[^a-z0-9_]+", "_", title.lower()).strip("_") or "article"


def is_squad(data: Any) -> bool:
    """True when ``data`` (parsed JSON) looks like a SQuAD file."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("data"), list)
        and all(isinstance(a, dict) and "paragraphs" in a for a in data["data"])
    )


def read_squad(path: Path) -> dict[str, Any]:
    """Parse a SQuAD JSON file (raises `DatasetError` when it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    if not is_squad(data):
        raise DatasetError(f"{path}: not a SQuAD file (expected data[].paragraphs[].qas[])")
    return data


def _answers(qa: dict[str, Any], where: str) -> tuple[str, ...]:
    texts = [a.get("text") for a in qa.get("answers") or [] if isinstance(a, dict)]
    kept = tuple(dict.fromkeys(t.strip() for t in texts if isinstance(t, str) and t.strip()))
    if not kept:
        raise DatasetError(f"{where}: an answerable question needs answers[].text (or is_impossible: true)")
    return kept


def _cases(article: str, number: int, paragraph: dict[str, Any], where: str) -> tuple[str, str, list[EvalCase]]:
    context = paragraph.get("context")
    if not isinstance(context, str) or not context.strip():
        raise DatasetError(f"{where}: paragraph {number} has no context text")
    doc_id = f"{slug(article)}/p{number:02d}"
    cases = []
    for j, qa in enumerate(paragraph.get("qas") or [], start=1):
        q_where = f"{where}: {doc_id} question {j}"
        if not isinstance(qa, dict) or not isinstance(qa.get("question"), str) or not qa["question"].strip():
            raise DatasetError(f"{q_where} has no question text")
        impossible = bool(qa.get("is_impossible", False))
        answers = () if impossible else _answers(qa, q_where)
        cases.append(
            EvalCase(
                id=f"{doc_id}/q{j}",
                question=" ".join(qa["question"].split()),
                kind=NO_ANSWER if impossible else HAS_ANSWER,
                expect=Expect(any_of=answers) if answers else Expect(),
                sources=(SourceSpec(docs=(doc_id,)),),
                refuse=impossible,
            )
        )
    return doc_id, context, cases


def squad_dataset(path: Path, article: str = "", *, name: str = "", role: str = "") -> EvalDataset:
    """Read a SQuAD file as an `EvalDataset` of kind ``squad``.

    Args:
        path: the SQuAD JSON file.
        article: keep only this article (its title, e.g. ``Normans``); empty: every article.
        name: the dataset's name (default ``squad-<article>`` or ``squad-<file stem>``).
        role: ``tune`` or ``test`` (shown in reports), or empty.

    The documents are kept in memory (``dataset.texts``: doc id -> paragraph text) with
    the article's title; the runner writes them out and indexes them.
    """
    data = read_squad(path)
    articles = [a for a in data["data"] if not article or str(a.get("title", "")) == article]
    if not articles:
        known = ", ".join(str(a.get("title", "?")) for a in data["data"])
        raise DatasetError(f"{path}: no article titled {article!r}; it has: {known}")
    texts: dict[str, str] = {}
    titles: dict[str, str] = {}
    cases: list[EvalCase] = []
    for a in articles:
        title = str(a.get("title") or "article")
        for number, paragraph in enumerate(a["paragraphs"], start=1):
            doc_id, context, found = _cases(title, number, paragraph, str(path))
            texts[doc_id] = context
            titles[doc_id] = title.replace("_", " ")
            cases.extend(found)
    if not cases:
        raise DatasetError(f"{path}: no questions in {article or 'any article'}")
    default = f"squad-{slug(article)}" if article else f"squad-{slug(path.stem)}"
    return EvalDataset(
        name=name or default,
        kind="squad",
        cases=cases,
        texts=texts,
        titles=titles,
        role=role,
        origin=f"{path}#{article}" if article else str(path),
    )
