"""Evaluation datasets: the seed fact suite (YAML), LlamaIndex ``LabelledRagDataset`` files, SQuAD 2.0.

Three shapes of case share one class, `EvalCase`:

* fact cases (``seed_facts.yaml`` or any YAML in that schema): expected strings or
  patterns, the documents and passages that must be cited, or ``refuse: true``;
* reference cases (``rag_dataset.json``): a reference answer and reference contexts;
* SQuAD cases (`citewise.eval.datasets.squad`): answer texts (``expect.any_of``)
  and the paragraph they come from, or ``refuse: true`` for unanswerable questions.

Named sets (`NAMED`) split the shared data into a tune half, used to choose
weights and thresholds, and a test half, used only to report: see ``docs/evaluation.md``.

Example:
    >>> from citewise.eval.datasets import load_dataset
    >>> ds = load_dataset("squad-normans")  # doctest: +SKIP
    >>> ds.role, len(ds.cases), ds.texts["normans/p01"][:20]  # doctest: +SKIP
    ('tune', 208, 'The Normans (Norman:')
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from citewise.errors import reason
from citewise.eval.datasets.cases import (  # the shared shapes, re-exported as this package's names
    DatasetError,
    EvalCase,
    EvalDataset,
    Expect,
    SourceSpec,
    matches,
    normalize,
)

__all__ = ["DatasetError", "EvalCase", "EvalDataset", "Expect", "SourceSpec", "load_dataset", "matches", "normalize"]

SEED = "seed"
SHARED_ENV = "CITEWISE_SHARED"  # the folder holding datasets/ (default: a `shared` folder above the repo)
SQUAD_FILE = Path("datasets") / "squad2_dev" / "dev-v2.0-subset.json"
BLOCKCHAIN_DIR = Path("datasets") / "llama_blockchain_solana"
_CASE_KEYS = {"id", "kind", "question", "history", "expect", "sources", "refuse"}
_EXPECT_KEYS = {"all_of", "any_of"}
_SOURCE_KEYS = {"doc", "passage"}


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
    """Validate one YAML case and turn it into an `EvalCase`."""
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
        raise DatasetError(f"cannot read {path}: {reason(exc)}") from None
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


# ---- named sets and the shared data folder --------------------------------------------------
def shared_dir() -> Path:
    """The shared data folder: ``$CITEWISE_SHARED``, else the first ``shared/`` holding ``datasets/``
    above the package or the working directory.

    Raises:
        DatasetError: no such folder (say where it is with CITEWISE_SHARED).
    """
    explicit = os.environ.get(SHARED_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not (path / "datasets").is_dir():
            raise DatasetError(f"{SHARED_ENV}={explicit} has no datasets/ folder; point it at the shared folder")
        return path
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in start.parents:
            if (parent / "shared" / "datasets").is_dir():
                return parent / "shared"
    raise DatasetError(f"no shared/datasets folder above {Path(__file__).parent}; set {SHARED_ENV} to it")


def split_cases(dataset: EvalDataset, half: str) -> EvalDataset:
    """The ``tune`` half (even 0-based question indices: q001, q003, ...) or ``test`` half (odd) of a set.

    Both halves keep the whole set's documents and share its eval index.
    """
    parity = {"tune": 0, "test": 1}[half]
    return EvalDataset(
        name=f"{dataset.name}-{half}",
        kind=dataset.kind,
        cases=[c for i, c in enumerate(dataset.cases) if i % 2 == parity],
        documents=dataset.documents,
        baseline=dataset.baseline,
        origin=f"{dataset.origin} ({'even' if parity == 0 else 'odd'} questions)",
        texts=dataset.texts,
        titles=dataset.titles,
        role=half,
        index_name=dataset.index_name or dataset.name,
    )


def _squad(article: str, name: str, role: str) -> EvalDataset:
    from citewise.eval.datasets.squad import squad_dataset

    return squad_dataset(shared_dir() / SQUAD_FILE, article, name=name, role=role)


def _blockchain(half: str = "") -> EvalDataset:
    full = load_labelled_rag(shared_dir() / BLOCKCHAIN_DIR)
    full.index_name = full.name  # llama_blockchain_solana: the whole set and both halves share one index
    full.name = "blockchain"
    return split_cases(full, half) if half else full


def _seed() -> EvalDataset:
    seed = load_seed()
    seed.role = "gate"
    return seed


# name -> loader; roles: tune (choose weights on it), test (report only), gate (regression suite)
NAMED: dict[str, Callable[[], EvalDataset]] = {
    SEED: _seed,
    "squad-normans": lambda: _squad("Normans", "squad-normans", "tune"),
    "squad-complexity": lambda: _squad("Computational_complexity_theory", "squad-complexity", "test"),
    "blockchain": _blockchain,
    "blockchain-tune": lambda: _blockchain("tune"),
    "blockchain-test": lambda: _blockchain("test"),
}


def load_dataset(spec: str | Path) -> EvalDataset:
    """A named set, a YAML fact suite, a LabelledRagDataset (JSON file or folder) or a SQuAD file.

    Args:
        spec: one of `NAMED` (``seed``, ``squad-normans``, ``squad-complexity``,
            ``blockchain``, ``blockchain-tune``, ``blockchain-test``); ``squad:PATH`` or
            ``squad:PATH#Article`` (one article of a SQuAD 2.0 file); or a path.

    Raises:
        DatasetError: the dataset does not exist or does not follow its schema.
    """
    text = str(spec)
    if text in NAMED:
        return NAMED[text]()
    if text.startswith("squad:"):
        from citewise.eval.datasets.squad import squad_dataset

        file, _, article = text[len("squad:") :].partition("#")
        path = Path(file).expanduser()
        if not path.is_file():
            raise DatasetError(f"no SQuAD file at {path}")
        return squad_dataset(path, article)
    path = Path(spec).expanduser()
    if not path.exists():
        names = ", ".join(NAMED)
        raise DatasetError(f"no dataset at {path}; use one of {names}, squad:FILE#Article, a .yaml suite or a folder")
    if path.suffix in (".yaml", ".yml"):
        return load_fact_suite(path)
    if path.suffix == ".json" and _looks_like_squad(path):
        from citewise.eval.datasets.squad import squad_dataset

        return squad_dataset(path)
    if path.suffix == ".json" or (path / "rag_dataset.json").is_file():
        return load_labelled_rag(path)
    raise DatasetError(f"{path} is neither a .yaml fact suite, a SQuAD .json nor a folder with rag_dataset.json")


def _looks_like_squad(path: Path) -> bool:
    from citewise.eval.datasets.squad import is_squad

    try:
        return is_squad(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return False
