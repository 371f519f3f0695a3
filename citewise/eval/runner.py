"""Run an evaluation: index the dataset's documents in its own collection, ask every case, score.

The eval never touches the user's index: it builds a second Assistant with the same
settings but its own embedded store under ``<data_dir>/eval/`` and collection
``eval_<dataset>``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citewise.errors import CitewiseError
from citewise.eval.datasets import EvalDataset, load_dataset
from citewise.eval.metrics import (
    CaseResult,
    Retrieved,
    as_row,
    score_fact_case,
    score_reference_case,
    score_squad_case,
    summarize,
)
from citewise.progress import ProgressFn

if TYPE_CHECKING:
    from citewise.assistant import Assistant

# progress(done, total, case id)
EvalProgress = ProgressFn
MRR_DEPTH = 10  # passages looked at for MRR / context hit


class EvalError(CitewiseError, RuntimeError):
    """The evaluation could not run (its documents would not index, ...); one line saying why."""

    status = 400
    code = "eval_failed"


@dataclass
class EvalReport:
    """The outcome of one dataset in one answer mode.

    Attributes:
        dataset: the dataset's name (``seed``, ``squad-complexity``, ``blockchain-test``...).
        mode: the answer mode evaluated.
        kind: ``facts``, ``reference`` or ``squad``.
        role: ``tune``, ``test``, ``gate`` or empty (see `citewise.eval.datasets.NAMED`).
        metrics: metric name -> value (see `citewise.eval.metrics.summarize()`).
        results: one `CaseResult` per case.
        baseline: the dataset card's published baseline, when it has one.
        config: the settings that shaped the run (chunking, top_k, min_score...).
    """

    dataset: str
    mode: str
    kind: str
    metrics: dict[str, float]
    results: list[CaseResult]
    baseline: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    seconds: float = 0.0
    role: str = ""

    def rows(self) -> list[dict[str, Any]]:
        """One dict per case: question, answer, passed, why, citations, ..."""
        return [as_row(r) for r in self.results]

    def failures(self) -> list[dict[str, Any]]:
        """The rows of the cases that did not pass."""
        return [row for row in self.rows() if not row["passed"]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: metrics, baseline, config and every case."""
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "kind": self.kind,
            "role": self.role,
            "metrics": {k: round(v, 4) for k, v in self.metrics.items()},
            "baseline": self.baseline,
            "config": self.config,
            "started": self.started,
            "seconds": round(self.seconds, 1),
            "cases": self.rows(),
        }


def eval_assistant(assistant: Assistant, dataset: EvalDataset) -> Assistant:
    """An Assistant like ``assistant`` but on the dataset's own embedded index, documents ingested."""
    from citewise.assistant import Assistant

    s = assistant.settings
    name = dataset.index_name or dataset.name
    folder = Path(s.data_dir) / "eval" / f"{name}-c{s.chunk_size}-o{s.chunk_overlap}"
    evaluator = Assistant.from_settings(s, data_dir=folder, chroma_url="", collection=f"eval_{name}")
    if dataset.texts:
        files = write_texts(folder / "docs", dataset)
        report = evaluator.ingest(list(files), doc_ids=files)
        for stale in set(d.doc_id for d in evaluator.documents()) - set(dataset.texts):
            evaluator.remove(stale)  # left by an earlier version of the file
        documents: list[Path] = [folder / "docs"]
    else:
        documents = dataset.documents or [Path(s.corpus_dir)]
        report = evaluator.ingest(documents)
    if not report.ok:
        path, reason = report.failed[0]
        raise EvalError(f"cannot index the {dataset.name} dataset's documents ({path}: {reason})")
    if not evaluator.documents():
        raise EvalError(f"the {dataset.name} dataset has no documents to index in {documents}")
    return evaluator


def write_texts(folder: Path, dataset: EvalDataset) -> dict[Path, str]:
    """Write a dataset's in-memory documents as Markdown files (title in the front matter).

    Returns:
        file -> doc id, for `Assistant.ingest()`'s ``doc_ids``.
    """
    files: dict[Path, str] = {}
    for doc_id, text in dataset.texts.items():
        path = folder / f"{doc_id}.md"
        title = dataset.titles.get(doc_id, "")
        body = (f"---\ntitle: {json.dumps(title)}\n---\n\n" if title else "") + text.strip() + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
        files[path] = doc_id
    return files


def ask_case(assistant: Assistant, case: Any, mode: str, top_k: int) -> CaseResult:
    """Ask one case (with its history) and collect the answer and the ranked passages."""
    started = time.perf_counter()
    answer = assistant.ask(case.question, list(case.history), mode=mode)
    latency = answer.timings.get("total", (time.perf_counter() - started) * 1000)
    passages = assistant.retriever.search(answer.query or case.question, max(MRR_DEPTH, top_k))
    retrieved = [Retrieved(p.chunk.doc_id, p.chunk.text) for p in passages]
    return CaseResult(case=case, answer=answer, retrieved=retrieved, latency_ms=latency)


def spread(cases: list[Any], limit: int | None) -> list[Any]:
    """``limit`` cases picked evenly from ``cases`` (all of them when ``limit`` is None or larger)."""
    if not limit or limit >= len(cases):
        return list(cases)
    step = len(cases) / limit
    return [cases[int(i * step)] for i in range(limit)]


def run_eval(
    assistant: Assistant,
    dataset: str | Path | EvalDataset = "seed",
    mode: str = "extractive",
    progress: EvalProgress | None = None,
    *,
    limit: int | None = None,
    judge: bool = False,
) -> EvalReport:
    """Evaluate ``assistant``'s settings on a dataset in one answer mode.

    Args:
        assistant: supplies the settings (models, chunking, thresholds); its own index is
            left alone: the dataset is indexed into a separate collection.
        dataset: a name (``"seed"``, ``"squad-complexity"``, ...), ``squad:FILE#Article``,
            a YAML fact suite, a LabelledRagDataset folder or JSON file, a SQuAD JSON file,
            or an already loaded `EvalDataset` (see `load_dataset()`).
        mode: ``extractive`` or ``generative``.
        progress: called as ``progress(done, total, case_id)`` after each case.
        limit: evaluate only ``limit`` cases, spread evenly over the dataset (so a short
            run still holds refusals and follow-ups).
        judge: also score answers with LlamaIndex's faithfulness and correctness
            evaluators, using the generative mode's LLM (slow; never needed for CI).

    Returns:
        An `EvalReport`; ``report.metrics`` maps metric names to floats.

    Raises:
        DatasetError: the dataset is missing or malformed.
        EvalError: its documents cannot be indexed.
        ModeError: the answer mode is unknown or unavailable.
    """
    data = dataset if isinstance(dataset, EvalDataset) else load_dataset(dataset)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    evaluator = eval_assistant(assistant, data)
    evaluator.mode(mode)  # fail fast on an unavailable mode
    cases = spread(data.cases, limit)
    top_k = evaluator.settings.top_k
    judge_fn = _judge(evaluator) if judge else None
    results: list[CaseResult] = []
    for i, case in enumerate(cases, start=1):
        result = ask_case(evaluator, case, mode, top_k)
        if data.kind == "reference":
            score_reference_case(result, evaluator.embedder.embed)
        elif data.kind == "squad":
            score_squad_case(result)
        else:
            score_fact_case(result)
        if judge_fn is not None and not case.refuse:
            result.judge = judge_fn(result)
        results.append(result)
        if progress is not None:
            progress(i, len(cases), case.id)
    s = evaluator.settings
    return EvalReport(
        dataset=data.name,
        mode=mode,
        kind=data.kind,
        metrics=summarize(results, top_k),
        results=results,
        baseline=data.baseline,
        role=data.role,
        config={
            "chunk_size": s.chunk_size,
            "chunk_overlap": s.chunk_overlap,
            "top_k": s.top_k,
            "min_score": s.min_score,
            "max_answer_sentences": s.max_answer_sentences,
            "documents": [d.doc_id for d in evaluator.documents()],
        },
        started=started.isoformat(timespec="seconds"),
        seconds=time.perf_counter() - t0,
    )


def _judge(evaluator: Assistant) -> Callable[[CaseResult], dict[str, float]]:
    from citewise.eval.judge import make_judge

    return make_judge(evaluator)
