"""Evaluation datasets: the seed fact suite (YAML) and LlamaIndex ``LabelledRagDataset`` files.

Two shapes of case share one class, :class:`EvalCase`:

* fact cases (``seed_facts.yaml`` or any YAML in that schema): expected strings or
  patterns, the documents and passages that must be cited, or ``refuse: true``;
* reference cases (``rag_dataset.json``): a reference answer and reference contexts.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = "seed"
_CASE_KEYS = {"id", "kind", "question", "history", "expect", "sources", "refuse"}
_EXPECT_KEYS = {"all_of", "any_of"}
_SOURCE_KEYS = {"doc", "passage"}


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names the file, the case and the fix."""


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
    """A named set of cases plus the documents they are asked about."""

    name: str
    kind: str  # "facts" or "reference"
    cases: list[EvalCase]
    documents: list[Path] = field(default_factory=list)  # empty: the configured corpus
    baseline: dict[str, Any] | None = None  # published figures (reference sets with a card.json)
    origin: str = ""


# ---- fact suites (YAML) ----------------------------------------------------------------
def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DatasetError(f"{where} must be a string or a list of non-empty strings")
    for v in value:
        if v.startswith("re:"):
            try:
                re.compile(v[3:])
            except re.error as exc:
                raise DatasetError(f"{where}: bad pattern {v!r} ({exc})") from None
    return tuple(value)


def _parse_expect(raw: Any, where: str) -> Expect:
    if not isinstance(raw, dict) or not raw or set(raw) - _EXPECT_KEYS:
        raise DatasetError(f"{where}: expect must be a mapping with all_of and/or any_of")
    expect = Expect(
        all_of=_strings(raw.get("all_of", []), f"{where}.all_of") if "all_of" in raw else (),
        any_of=_strings(raw.get("any_of", []), f"{where}.any_of") if "any_of" in raw else (),
    )
    if not expect.patterns():
        raise DatasetError(f"{where}: expect names nothing to look for")
    return expect


def _parse_sources(raw: Any, where: str) -> tuple[SourceSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise DatasetError(f"{where}: sources must be a non-empty list of {{doc, passage}}")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "doc" not in item or set(item) - _SOURCE_KEYS:
            raise DatasetError(f"{where}.sources[{i}] must be a mapping with doc and optional passage")
        passage = item.get("passage", "")
        if not isinstance(passage, str):
            raise DatasetError(f"{where}.sources[{i}].passage must be a string")
        out.append(SourceSpec(docs=_strings(item["doc"], f"{where}.sources[{i}].doc"), passage=passage))
    return tuple(out)


def _parse_history(raw: Any, where: str) -> tuple[dict[str, str], ...]:
    if raw is None:
        return ()
    ok = isinstance(raw, list) and all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
        for t in raw
    )
    if not ok:
        raise DatasetError(f"{where}: history must be a list of {{role: user|assistant, content: text}}")
    return tuple({"role": t["role"], "content": t["content"]} for t in raw)


def parse_case(raw: Any, index: int) -> EvalCase:
    """Validate one YAML case and turn it into an :class:`EvalCase`."""
    where = f"case {index + 1}"
    if not isinstance(raw, dict):
        raise DatasetError(f"{where} must be a mapping")
    where = f"case {raw.get('id', index + 1)!s}"
    unknown = set(raw) - _CASE_KEYS
    if unknown:
        raise DatasetError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(_CASE_KEYS)}")
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(f"{where}: question must be non-empty text")
    refuse = raw.get("refuse", False)
    if not isinstance(refuse, bool):
        raise DatasetError(f"{where}: refuse must be true or false")
    if refuse and ("expect" in raw or "sources" in raw):
        raise DatasetError(f"{where}: a case to refuse cannot have expect or sources")
    if not refuse and ("expect" not in raw or "sources" not in raw):
        raise DatasetError(f"{where}: an answerable case needs expect and sources (or refuse: true)")
    return EvalCase(
        id=str(raw.get("id") or f"case-{index + 1}"),
        question=question.strip(),
        kind=str(raw.get("kind", "unanswerable" if refuse else "fact")),
        history=_parse_history(raw.get("history"), where),
        expect=_parse_expect(raw["expect"], where) if not refuse else Expect(),
        sources=_parse_sources(raw["sources"], where) if not refuse else (),
        refuse=refuse,
    )


def parse_fact_suite(data: Any, origin: str, base: Path | None = None) -> EvalDataset:
    """Validate a fact suite already read from YAML (``base``: folder for relative documents)."""
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
        raise DatasetError(f"{origin}: expected a mapping with a non-empty `cases` list")
    cases = [parse_case(raw, i) for i, raw in enumerate(data["cases"])]
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise DatasetError(f"{origin}: case id {case.id!r} appears twice")
        seen.add(case.id)
    docs = data.get("documents") or []
    if isinstance(docs, str):
        docs = [docs]
    documents = [(base / d) if base and not Path(d).is_absolute() else Path(d) for d in docs]
    name = str(data.get("name") or Path(origin).stem)
    return EvalDataset(name=name, kind="facts", cases=cases, documents=documents, origin=origin)


def load_fact_suite(path: Path) -> EvalDataset:
    """Read and validate a YAML fact suite."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    return parse_fact_suite(data, str(path), path.parent)


def load_seed() -> EvalDataset:
    """The bundled seed suite over the sample corpus."""
    import yaml

    text = importlib.resources.files(__name__).joinpath("seed_facts.yaml").read_text(encoding="utf-8")
    return parse_fact_suite(yaml.safe_load(text), "seed_facts.yaml")


# ---- LlamaIndex LabelledRagDataset ---------------------------------------------------------
def load_labelled_rag(path: Path) -> EvalDataset:
    """Read a LlamaIndex ``LabelledRagDataset`` (``rag_dataset.json``) and its source files.

    ``path`` is the JSON file or the folder holding it; documents come from the
    ``source_files`` folder beside it, the published baseline from ``card.json``.
    """
    folder = path if path.is_dir() else path.parent
    file = path / "rag_dataset.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {file}: {exc}") from None
    examples = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(examples, list) or not examples:
        raise DatasetError(f"{file}: not a LabelledRagDataset (no `examples` list)")
    cases = []
    for i, ex in enumerate(examples):
        if not isinstance(ex, dict) or not isinstance(ex.get("query"), str) or not ex["query"].strip():
            raise DatasetError(f"{file}: example {i + 1} has no query")
        contexts = ex.get("reference_contexts") or []
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise DatasetError(f"{file}: example {i + 1}: reference_contexts must be a list of strings")
        cases.append(
            EvalCase(
                id=f"q{i + 1:03d}",
                question=ex["query"].strip(),
                kind="reference",
                reference_answer=str(ex.get("reference_answer") or ""),
                reference_contexts=tuple(contexts),
            )
        )
    sources = folder / "source_files"
    if not sources.is_dir():
        raise DatasetError(f"{folder}: the source_files folder with the dataset's documents is missing")
    return EvalDataset(
        name=_dataset_name(folder),
        kind="reference",
        cases=cases,
        documents=[sources],
        baseline=_card_baseline(folder / "card.json"),
        origin=str(file),
    )


def _dataset_name(folder: Path) -> str:
    name = folder.resolve().name
    return re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "dataset"


def _card_baseline(card: Path) -> dict[str, Any] | None:
    """The first baseline of a llama-dataset card.json: its name, config and metrics."""
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
        baseline = data["baselines"][0]
        return {"name": baseline.get("name", ""), "config": baseline["config"], "metrics": baseline["metrics"]}
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def load_dataset(spec: str | Path) -> EvalDataset:
    """``seed``, a YAML fact suite, or a LabelledRagDataset (its JSON file or folder).

    Raises:
        DatasetError: the dataset does not exist or does not follow its schema.
    """
    if str(spec) == SEED:
        return load_seed()
    path = Path(spec).expanduser()
    if not path.exists():
        raise DatasetError(f"no dataset at {path}; use `seed`, a .yaml suite or a folder with rag_dataset.json")
    if path.suffix in (".yaml", ".yml"):
        return load_fact_suite(path)
    if path.suffix == ".json" or (path / "rag_dataset.json").is_file():
        return load_labelled_rag(path)
    raise DatasetError(f"{path} is neither a .yaml fact suite nor a folder with rag_dataset.json")
