"""Measurements: ingest throughput, query latency, retrieval quality, cold start, memory, size."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.baseline import Baseline
from bench.corpora import ROOT, Question

PY = sys.executable


def percentiles(values_ms: list[float]) -> dict[str, float]:
    """p50 / p95 / mean of a list of milliseconds, rounded."""
    from citewise.eval.metrics import percentile

    return {
        "p50_ms": round(percentile(values_ms, 0.5), 2),
        "p95_ms": round(percentile(values_ms, 0.95), 2),
        "mean_ms": round(statistics.fmean(values_ms), 2) if values_ms else 0.0,
        "n": len(values_ms),
    }


def folder_mb(folder: Path) -> float:
    """Size on disk of everything under ``folder``, in MB."""
    total = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return round(total / 1e6, 2)


def make_ours(data_dir: Path, **overrides: Any) -> Any:
    """An Assistant on ``data_dir`` with the default settings (plus ``overrides``)."""
    from citewise import Assistant, Settings

    return Assistant.from_settings(Settings(), data_dir=data_dir, **overrides)


def timed_ingest(kind: str, paths: list[Path], work: Path, mb: float, model_path: str, **overrides: Any) -> dict:
    """One ingest into a fresh folder; ``kind`` is ours, base-128 or base-default."""
    folder = Path(tempfile.mkdtemp(dir=work, prefix=f"{kind}-"))
    extra: dict[str, int] = {}
    if kind == "ours":
        assistant = make_ours(folder, **overrides)
        assistant.embedder.embed(["warm up"])  # model load is not ingest
        counts = dict(getattr(assistant.embedder.model, "counts", {}))  # word pieces embedded (ONNX backends)
        t0 = time.perf_counter()
        report = assistant.ingest(paths)
        seconds = time.perf_counter() - t0
        chunks, handle = report.chunks, assistant
        if counts:
            after = assistant.embedder.model.counts
            extra = {k: after[k] - counts[k] for k in ("tokens", "computed")}
    else:
        base = Baseline(folder, model_path, 128 if kind == "base-128" else None)
        from bench.baseline import embedding

        embedding(model_path).get_text_embedding("warm up")
        t0 = time.perf_counter()
        chunks = base.ingest(paths)
        seconds = time.perf_counter() - t0
        handle = base
    return {
        "kind": kind,
        "seconds": round(seconds, 3),
        "chunks": chunks,
        "chunks_per_s": round(chunks / seconds, 1),
        "mb_per_s": round(mb / seconds, 4),
        "index_mb": folder_mb(folder / "chroma"),
        "handle": handle,
        **({"tokens": extra["tokens"], "tokens_per_s": round(extra["tokens"] / seconds)} if extra else {}),
        **({"padding_share": round(1 - extra["tokens"] / extra["computed"], 3)} if extra.get("computed") else {}),
    }


def ingest_rounds(
    kinds: list[str], paths: list[Path], work: Path, mb: float, model_path: str, rounds: int, **overrides: Any
) -> tuple[dict[str, dict], dict[str, Any]]:
    """Alternate the kinds ``rounds`` times (so drift hits all); median seconds per kind.

    Returns the summary per kind and the last built index per kind (for quality checks).
    """
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    handles: dict[str, Any] = {}
    for r in range(rounds):
        order = kinds if r % 2 == 0 else list(reversed(kinds))
        for kind in order:
            run = timed_ingest(kind, paths, work, mb, model_path, **overrides)
            handles[kind] = run.pop("handle")
            runs[kind].append(run)
    summary = {}
    for kind, items in runs.items():
        best = sorted(items, key=lambda x: x["seconds"])[len(items) // 2]
        summary[kind] = {**best, "runs_s": [x["seconds"] for x in items], "mb": round(mb, 4)}
    return summary, handles


def hit_quality(retrieve: Callable[[str], list[str]], questions: list[Question], k: int = 4) -> dict[str, float]:
    """Hit rate@k and MRR: a passage is relevant when >= half its word trigrams lie in a
    reference context (the eval suite's ``overlaps_context``)."""
    from citewise.eval.metrics import overlaps_context

    hits, rr = 0, 0.0
    for q in questions:
        texts = retrieve(q.query)[:k]
        rank = next((i for i, t in enumerate(texts, start=1) if overlaps_context(t, q.contexts)), None)
        if rank:
            hits += 1
            rr += 1.0 / rank
    n = max(1, len(questions))
    return {"hit_rate": round(100 * hits / n, 1), "mrr": round(rr / n, 3), "questions": len(questions), "k": k}


def latency(fn: Callable[[str], Any], questions: list[str], rounds: int) -> dict[str, float]:
    """Warm latency of ``fn(question)``: one untimed pass, then ``rounds`` timed passes."""
    for q in questions:
        fn(q)
    times = []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            fn(q)
            times.append((time.perf_counter() - t0) * 1000)
    return percentiles(times)


def generative(assistant: Any, questions: list[str]) -> dict[str, Any]:
    """Time to first streamed text, total, and LLM tokens/s through ``stream(mode="generative")``."""
    from citewise import Answer

    first, totals, ttft, rates = [], [], [], []
    for q in questions:
        t0 = time.perf_counter()
        seen = None
        for item in assistant.stream(q, mode="generative"):
            if isinstance(item, str) and seen is None and item.strip():
                seen = (time.perf_counter() - t0) * 1000
            if isinstance(item, Answer):
                t = item.timings
                if t.get("llm_generate") and t.get("llm_tokens"):
                    rates.append(t["llm_tokens"] / (t["llm_generate"] / 1000))
                    ttft.append(t.get("llm_first_token", 0.0))
        totals.append((time.perf_counter() - t0) * 1000)
        first.append(seen if seen is not None else totals[-1])
    return {
        "first_text": percentiles(first),
        "total": percentiles(totals),
        "llm_first_token": percentiles(ttft),
        "tokens_per_s": round(statistics.fmean(rates), 1) if rates else None,
        "answers_from_llm": len(rates),
        "questions": len(questions),
    }


def _env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CITEWISE_DATA_DIR": str(data_dir)})
    env.update(extra or {})
    return env


def cold_start(data_dir: Path, question: str, runs: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """New process to first answer: ``citewise ask --json`` on an existing index (warm disk)."""
    exe = shutil.which("citewise", path=str(Path(PY).parent)) or "citewise"
    times, ok = [], True
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [exe, "ask", question, "--json"], capture_output=True, text=True, env=_env(data_dir, env), cwd=ROOT
        )
        times.append(time.perf_counter() - t0)
        ok = ok and proc.returncode == 0 and bool(json.loads(proc.stdout or "{}").get("answer"))
    return {"median_s": round(statistics.median(times), 2), "runs_s": [round(t, 2) for t in times], "ok": ok}


def import_profile(top: int = 8) -> list[dict[str, Any]]:
    """The slowest top-level imports of ``citewise ask`` (``python -X importtime``)."""
    code = (
        "import citewise.cli, citewise.assistant, citewise.index.ingest, citewise.index.store, "
        "citewise.rag.retrieve, citewise.rag.extractive, citewise.index.onnx_model, chromadb, onnxruntime"
    )
    proc = subprocess.run([PY, "-X", "importtime", "-c", code], capture_output=True, text=True, env=_env(ROOT))
    rows = []
    for line in proc.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[1].isdigit() and not parts[2].startswith(" ") and "." not in parts[2]:
            rows.append({"module": parts[2], "cumulative_ms": round(int(parts[1]) / 1000, 1)})
    return sorted(rows, key=lambda r: -r["cumulative_ms"])[:top]


def peak_rss(
    data_dir: Path, with_llm: bool, env: dict[str, str] | None = None, question: str | None = None
) -> dict[str, Any]:
    """Peak RSS of a new process that answers (and, ``with_llm``, loads the LLM and answers with it)."""
    args = [PY, "-m", "bench.probe", str(data_dir)] + (["--llm"] if with_llm else [])
    args += ["--question", question] if question else []
    proc = subprocess.run(args, capture_output=True, text=True, env=_env(data_dir, env), cwd=ROOT)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pdf_extraction(pdf: Path, runs: int) -> dict[str, Any]:
    """Seconds to extract ``pdf``'s text with PDFium (ours) and with pypdf (LlamaIndex's reader), alternating."""
    from citewise.index import loaders

    readers = {"pypdfium2": loaders._pdfium_pages, "pypdf": loaders._pypdf_pages}
    times: dict[str, list[float]] = {name: [] for name in readers}
    pages = 0
    for r in range(runs + 1):  # the first round (imports, disk cache) is not counted
        for name in readers if r % 2 == 0 else list(reversed(readers)):
            t0 = time.perf_counter()
            read = readers[name](pdf)
            if r:
                times[name].append(time.perf_counter() - t0)
            pages = len(read[0]) if read else pages
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {
        "file": pdf.name,
        "pages": pages,
        **{f"{name}_s": round(m, 3) for name, m in medians.items()},
        "speedup": round(medians["pypdf"] / medians["pypdfium2"], 1),
        "runs": runs,
    }
