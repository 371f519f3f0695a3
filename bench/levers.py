"""The ingest levers of issue 14, measured one at a time: ``python -m bench.levers [--chunks N] [--rounds R]``.

Prints one JSON object (and writes it with ``--out``): extraction seconds per file format
(PDFs with PDFium and with pypdf), chunking seconds, and the embedding rate of each variant
on the same chunk texts of the real corpus (:mod:`bench.real_corpus`): batches sorted by
word-piece count or not, ONNX Runtime threads and spinning, batch size, fp32 and int8,
sentence-transformers on torch as the baseline uses it. Variants alternate within one
process, ``rounds`` times, and the median is kept, so drift hits all. It also measures the
CPU's fp32 matrix-multiply rate with numpy and the model's arithmetic per word piece, to
say how close each variant gets to what the arithmetic allows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import real_corpus

OURS = "int8, sorted by word pieces, batch 64, 2 threads, no spinning (ours now)"


def matmul_gflops(n: int = 2048, repeats: int = 5) -> dict[str, Any]:
    """Best fp32 GFLOP/s of an n x n @ n x n numpy matmul (2 n^3 FLOPs) over ``repeats``."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up (threads, pages)
    best = min(_seconds(lambda: a @ b) for _ in range(repeats))
    return {"n": n, "repeats": repeats, "best_s": round(best, 4), "gflops": round(2 * n**3 / best / 1e9, 1)}


def model_flops_per_token(model_dir: Path, seq: int) -> dict[str, Any]:
    """Multiply-adds of one word piece through the encoder (x2 = FLOPs), from config.json.

    Per layer: Q, K, V and output projections (4 h^2), the feed-forward (2 h i), and
    attention over ``seq`` positions (2 seq h). The word-embedding table (vocab x h) is a
    lookup, not arithmetic, so the ~22M parameters overstate the work: ~11.7M of them are that table.
    """
    cfg = json.loads((model_dir / "config.json").read_text())
    h, i, layers, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    dense = layers * (4 * h * h + 2 * h * i)
    attention = layers * 2 * seq * h
    return {
        "hidden": h,
        "layers": layers,
        "dense_params": dense,
        "embedding_table_params": vocab * h,
        "seq": seq,
        "flops_per_token": 2 * (dense + attention),
    }


def _seconds(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def extraction(folder: Path) -> dict[str, Any]:
    """Seconds to read each format's files into text (ours), and PDFs with pypdf, plus chunking per MB."""
    from citewise.index import loaders

    files, _ = loaders.find_files([folder])
    per: dict[str, dict[str, float]] = {}
    docs = []
    for path, _root in files:
        kind = path.suffix.lower().lstrip(".")
        t0 = time.perf_counter()
        doc = loaders.load_document(path)
        row = per.setdefault(kind, {"files": 0, "s": 0.0, "text_mb": 0.0})
        row["files"] += 1
        row["s"] += time.perf_counter() - t0
        row["text_mb"] += len(doc.text.encode("utf-8")) / 1e6
        docs.append(doc)
        if kind == "pdf":
            pdf = per.setdefault("pdf-with-pypdf", {"files": 0, "s": 0.0, "text_mb": 0.0})
            pdf["files"] += 1
            pdf["s"] += _seconds(lambda p=path: loaders._pypdf_pages(p))
    return {"by_format": {k: {n: round(v, 3) for n, v in row.items()} for k, row in per.items()}, "docs": docs}


def chunking(indexer: Any, docs: list[Any]) -> tuple[dict[str, Any], list[str]]:
    """Seconds to chunk every document (word pieces counted with the model's tokenizer), and the chunk texts."""
    t0 = time.perf_counter()
    texts = [text for doc in docs for _s, _e, text in indexer.chunk(doc)]
    seconds = time.perf_counter() - t0
    mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    return {"s": round(seconds, 2), "chunks": len(texts), "text_mb": round(mb, 3)}, texts


def _old_encode(model: Any, texts: list[str], batch_size: int = 64, slice_size: int = 128) -> np.ndarray:
    """The encode before issue 14: slices of 128 chunks in document order, sorted by characters within each."""
    rows = []
    for s in range(0, len(texts), slice_size):
        part = texts[s : s + slice_size]
        order = sorted(range(len(part)), key=lambda i: len(part[i]))
        out = np.zeros((len(part), 384), dtype=np.float32)
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            out[idx] = model._run(model._encoder.encode_batch([part[i].strip() for i in idx]))
        rows.append(out)
    return np.concatenate(rows)


def _unsorted_encode(model: Any, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Batches in document order, no sorting (what most pipelines do)."""
    return np.concatenate(
        [
            model._run(model._encoder.encode_batch([t.strip() for t in texts[b : b + batch_size]]))
            for b in range(0, len(texts), batch_size)
        ]
    )


def _onnx(backend: str, threads: int = 0, spinning: bool = False) -> Any:
    """A fresh OnnxSentenceModel (its own session) with the thread settings given."""
    import onnxruntime as ort

    from citewise.index.embed import bundled_model_path
    from citewise.index.onnx_model import OnnxSentenceModel, ensure_export, user_cache_dir

    model_dir = bundled_model_path()
    model = OnnxSentenceModel(ensure_export(model_dir, backend, user_cache_dir()), model_dir, threads=threads)
    if spinning:  # ONNX Runtime's default; ours turns it off
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        onnx_file = ensure_export(model_dir, backend, user_cache_dir())
        model.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    return model


def embedding(texts: list[str], rounds: int, flops_per_token: int) -> dict[str, Any]:
    """Tokens/s of each embedding variant on ``texts``, alternating, median of ``rounds``."""
    from sentence_transformers import SentenceTransformer

    from citewise.index.embed import bundled_model_path

    int8, int8_t1, int8_spin, fp32 = (
        _onnx("onnx-int8"),
        _onnx("onnx-int8", 1),
        _onnx("onnx-int8", 0, True),
        _onnx("onnx"),
    )
    torch_model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    encodings = int8._encoder.encode_batch([t.strip() for t in texts])
    tokens = sum(len(e.ids) for e in encodings)
    variants: dict[str, Callable[[], Any]] = {
        OURS: lambda: int8.encode(texts, 64),
        "int8, slices of 128 sorted by characters (ours before)": lambda: _old_encode(int8, texts),
        "int8, document order, batch 64": lambda: _unsorted_encode(int8, texts),
        "int8, sorted, batch 16": lambda: int8.encode(texts, 16),
        "int8, sorted, batch 256": lambda: int8.encode(texts, 256),
        "int8, sorted, 1 thread": lambda: int8_t1.encode(texts, 64),
        "int8, sorted, 2 threads spinning while idle (ORT default)": lambda: int8_spin.encode(texts, 64),
        "fp32 onnx, sorted, batch 64": lambda: fp32.encode(texts, 64),
        "torch sentence-transformers, batch 10 (the baseline's)": lambda: torch_model.encode(texts, batch_size=10),
    }
    for model in (int8, int8_t1, int8_spin, fp32):  # first-run allocations are not measured
        model.encode(texts[:32])
    torch_model.encode(texts[:32], batch_size=10)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(rounds):
        for name in variants if r % 2 == 0 else list(reversed(variants)):
            times[name].append(_seconds(variants[name]))
    out: dict[str, Any] = {"texts": len(texts), "tokens": tokens, "rounds": rounds, "variants": {}}
    for name, ts in times.items():
        s = statistics.median(ts)
        out["variants"][name] = {
            "s": round(s, 3),
            "tokens_per_s": round(tokens / s),
            "gflops": round(tokens * flops_per_token / s / 1e9, 1),
            "runs_s": [round(t, 3) for t in ts],
        }
    ours = out["variants"][OURS]["s"]
    for row in out["variants"].values():
        row["ours_speedup"] = round(row["s"] / ours, 2)
    out["padding"] = {
        "sorted_64": _padding(int8, texts, sort=True),
        "document_order_64": _padding(int8, texts, sort=False),
    }
    # the same vectors whichever order the batches are computed in (the index does not change)
    a, b = int8.encode(texts[:200], 64), _unsorted_encode(int8, texts[:200])
    out["sorted_vs_unsorted_max_abs_diff"] = float(np.abs(a - b).max())
    return out


def _padding(model: Any, texts: list[str], sort: bool, batch: int = 64) -> dict[str, Any]:
    lengths = [len(e.ids) for e in model._encoder.encode_batch([t.strip() for t in texts])]
    if sort:
        lengths.sort()
    computed = sum(max(lengths[b : b + batch]) * len(lengths[b : b + batch]) for b in range(0, len(lengths), batch))
    return {"tokens": sum(lengths), "computed": computed, "padding_share": round(1 - sum(lengths) / computed, 3)}


WINDOWS = ((128, 64), (1024, 64), (1024, 32))  # (chunks per embed call, texts per model batch); (128, 64) was ours


def ingest_windows(folder: Path, rounds: int, windows: tuple[tuple[int, int], ...] = WINDOWS) -> dict[str, Any]:
    """Whole ingests of ``folder`` with each (chunks per embed call, model batch), alternating.

    The padding share is a count (word pieces against positions computed, from the encoder's
    counters), so it is the same on a loaded machine; the seconds are not.
    """
    from bench.harness import make_ours

    runs: dict[str, list[dict[str, Any]]] = {f"{w} chunks per call, batch {b}": [] for w, b in windows}
    with tempfile.TemporaryDirectory(prefix="citewise-windows-") as tmp:
        for r in range(rounds):
            for (window, batch), name in list(zip(windows, runs, strict=True))[:: 1 if r % 2 == 0 else -1]:
                assistant = make_ours(Path(tmp) / f"{r}-{window}-{batch}")
                assistant.indexer.batch_chunks = assistant.indexer.batch_docs = window
                assistant.embedder.embed_batch_size = batch
                assistant.embedder.embed(["warm up"])  # model load is not ingest
                before = dict(assistant.embedder.model.counts)
                t0 = time.perf_counter()
                report = assistant.ingest([folder])
                seconds = time.perf_counter() - t0
                after = assistant.embedder.model.counts
                tokens, computed = (after[k] - before[k] for k in ("tokens", "computed"))
                runs[name].append(
                    {
                        "s": round(seconds, 2),
                        "chunks": report.chunks,
                        "tokens": tokens,
                        "computed": computed,
                        "padding_share": round(1 - tokens / computed, 4),
                        "load_avg": round(os.getloadavg()[0], 2),
                    }
                )
    out: dict[str, Any] = {"rounds": rounds, "settings": {}}
    for name, items in runs.items():
        out["settings"][name] = {**items[0], "s": statistics.median(x["s"] for x in items), "runs": items}
    return out


def main() -> None:
    """Build the corpus, measure, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--chunks", type=int, default=600, help="chunk texts embedded per variant (spread over the corpus)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--windows", action="store_true", help="only whole ingests per embed-call size and model batch (ingest_windows)"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from citewise.index.embed import SentenceEmbedder, bundled_model_path
    from citewise.index.ingest import ChunkConfig, Indexer

    with tempfile.TemporaryDirectory(prefix="citewise-levers-") as tmp:
        corpus = real_corpus.build(Path(tmp) / "corpus")
        result: dict[str, Any] = {"corpus": corpus, "cpu_cores": os.cpu_count(), "load_avg": os.getloadavg()}
        if args.windows:
            result["ingest_windows"] = ingest_windows(Path(tmp) / "corpus", args.rounds)
            _emit(result, args.out)
            return
        result["matmul_fp32"] = matmul_gflops()
        flops = model_flops_per_token(bundled_model_path(), seq=128)
        result["model"] = flops
        ext = extraction(Path(tmp) / "corpus")
        result["extraction"] = ext["by_format"]
        indexer = Indexer(None, SentenceEmbedder(backend="onnx-int8"), ChunkConfig())  # type: ignore[arg-type]
        result["chunking"], texts = chunking(indexer, ext["docs"])
        step = max(1, len(texts) // args.chunks)
        result["embedding"] = embedding(texts[::step][: args.chunks], args.rounds, flops["flops_per_token"])
        result["load_avg_end"] = os.getloadavg()
    _emit(result, args.out)


def _emit(result: dict[str, Any], out: Path | None) -> None:
    text = json.dumps(result, indent=1)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
