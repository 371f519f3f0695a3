"""The benchmark: ``python -m bench.run [--smoke] [--out DIR]`` writes results.json and RESULTS.md.

Ours (citewise with its default settings) and the plain-LlamaIndex baseline run in the
same process, on the same machine, with the same embedding model and Chroma; ingest
runs alternate between them so drift hits both.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import harness, levers, real_corpus, scale, shards, startup
from bench.corpora import PDF, SAMPLE, SAMPLE_QUESTIONS, blockchain_questions, text_bytes
from bench.report import write_markdown

HERE = Path(__file__).resolve().parent


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory and load at the start of the run."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "memory": mem,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def _stage(what: str, started: float) -> None:
    """Say on stderr which part of the (long) run is under way."""
    print(f"[bench {time.perf_counter() - started:6.0f} s] {what}...", file=sys.stderr, flush=True)


def run(smoke: bool, out: Path, opts: argparse.Namespace | None = None) -> dict[str, Any]:
    """Run every measurement (reduced sizes when ``smoke``) and write the results."""
    opts = opts or argparse.Namespace(rounds=3, corpus_rounds=2, real=[1000, 10000], synthetic=[100000], no_eval=False)
    from citewise import Settings
    from citewise.index.embed import resolve_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    settings = Settings()
    model_path = resolve_model(settings.embed_model)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "smoke": smoke,
        "machine": machine(),
        "ours": {"embed_backend": settings.embed_backend, "chunk_size": settings.chunk_size, "top_k": settings.top_k},
        "options": {
            k: v for k, v in vars(opts).items() if k in ("rounds", "corpus_rounds", "real", "synthetic", "no_eval")
        },
    }
    with tempfile.TemporaryDirectory(prefix="citewise-bench-") as tmp:
        work = Path(tmp)
        _stage("ingest throughput and retrieval quality, ours vs LlamaIndex", started)
        results["ingest"], results["quality"] = _ingest_and_quality(work, model_path, smoke, opts)
        _stage("ingest on the real multi-file corpus, ours vs LlamaIndex (128-piece chunks)", started)
        results["ingest_corpus"] = _ingest_corpus(work, model_path, smoke, opts)
        if PDF.exists():
            results["pdf_extraction"] = harness.pdf_extraction(PDF, 1 if smoke else 3)
        _stage("latency, cold start and memory on the sample corpus", started)
        results["sample"] = _sample(work, smoke)
        _stage("scaling points", started)
        results["scaling"] = _scaling(work, smoke, opts)
        _stage("scaling out: one ingest process against two shards into one chroma run", started)
        results["shards"] = _guarded(lambda: shards.shard_speedup(100 if smoke else 1000, work, 1 if smoke else 3))
        _stage("start-up of serve and ui", started)
        results["startup"] = _guarded(lambda: startup.measure(work / "sample-index"))
        results["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    write_markdown(results, out / "RESULTS.md")
    return results


def _guarded(measure: Any) -> dict[str, Any]:
    """A measurement that starts servers or processes: a failure is recorded, not fatal to the run."""
    try:
        return dict(measure())
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def _ingest_and_quality(work: Path, model_path: str, smoke: bool, opts: argparse.Namespace) -> tuple[dict, dict]:
    paths = [SAMPLE] if smoke else [PDF, SAMPLE]
    mb = text_bytes(paths) / 1e6
    kinds = ["ours", "base-128", "base-default"]
    summary, handles = harness.ingest_rounds(kinds, paths, work, mb, model_path, rounds=1 if smoke else opts.rounds)
    ours = summary["ours"]
    for kind in kinds[1:]:
        summary[kind]["ours_over_this_mb_per_s"] = round(ours["mb_per_s"] / summary[kind]["mb_per_s"], 2)
    summary["corpus"] = [str(p.name) for p in paths]
    questions = blockchain_questions(limit=5 if smoke else None)
    quality: dict[str, Any] = {"dataset": "llama_blockchain_solana (reference contexts)"}
    retrievers = {
        "ours": lambda q: [p.chunk.text for p in handles["ours"].search(q, top_k=4)],
        "base-128": lambda q: handles["base-128"].retrieve(q, 4),
        "base-default": lambda q: handles["base-default"].retrieve(q, 4),
    }
    if not smoke:
        torch_idx = harness.make_ours(work / "ours-torch", embed_backend="torch")
        torch_idx.ingest(paths)
        retrievers["ours-torch"] = lambda q: [p.chunk.text for p in torch_idx.search(q, top_k=4)]
    for name, fn in retrievers.items():
        quality[name] = harness.hit_quality(fn, questions)
    quality["baseline_retrieval_latency"] = harness.latency(
        retrievers["base-128"], SAMPLE_QUESTIONS[:4] if smoke else SAMPLE_QUESTIONS, 1 if smoke else 5
    )
    if not smoke and not opts.no_eval:
        quality["eval_suite"] = _eval_suite(work)
    return summary, quality


def _ingest_corpus(work: Path, model_path: str, smoke: bool, opts: argparse.Namespace) -> dict[str, Any]:
    """Ours vs base-128 on :mod:`bench.real_corpus` (hundreds of files, PDFs among them), alternating.

    Also the CPU's fp32 matmul rate and the model's arithmetic per word piece, so ours'
    word pieces per second can be set against what the arithmetic allows.
    """
    folder = work / "real-corpus"
    limits = {"readmes": 6, "paragraphs": 4, "pdfs": 1} if smoke else {}
    info = real_corpus.build(folder, **limits)
    mb = text_bytes([folder]) / 1e6
    rounds = 1 if smoke else getattr(opts, "corpus_rounds", 2)
    summary, _handles = harness.ingest_rounds(["ours", "base-128"], [folder], work, mb, model_path, rounds=rounds)
    summary["base-128"]["ours_over_this_mb_per_s"] = round(
        summary["ours"]["mb_per_s"] / summary["base-128"]["mb_per_s"], 2
    )
    summary["corpus"] = {**info, "text_mb": round(mb, 3), "chunks_ours": summary["ours"]["chunks"]}
    per_token = levers.model_flops_per_token(Path(model_path), seq=128)
    matmul = levers.matmul_gflops(1024 if smoke else 2048)
    tokens_per_s = summary["ours"].get("tokens_per_s")
    summary["arithmetic"] = {
        "flops_per_token": per_token["flops_per_token"],
        "matmul_fp32_gflops": matmul["gflops"],
        "ours_gflops": round(tokens_per_s * per_token["flops_per_token"] / 1e9, 1) if tokens_per_s else None,
        "fp32_limit_tokens_per_s": round(matmul["gflops"] * 1e9 / per_token["flops_per_token"]),
    }
    return summary


def _eval_suite(work: Path) -> dict[str, Any]:
    """The project's seed eval suite, with the default backend and with torch."""
    from citewise.eval.runner import run_eval

    out = {}
    for backend in ("onnx-int8", "torch"):
        assistant = harness.make_ours(work / f"eval-{backend}", embed_backend=backend)
        metrics = run_eval(assistant, "seed").metrics
        out[backend] = {k: round(v, 3) for k, v in metrics.items() if isinstance(v, int | float)}
    return out


def _sample(work: Path, smoke: bool) -> dict[str, Any]:
    data_dir = work / "sample-index"
    assistant = harness.make_ours(data_dir)
    assistant.ingest([SAMPLE])
    rounds, questions = (1, SAMPLE_QUESTIONS[:4]) if smoke else (5, SAMPLE_QUESTIONS)
    out: dict[str, Any] = {
        "retrieval": harness.latency(assistant.search, questions, rounds),
        "extractive_answer": harness.latency(assistant.ask, questions, rounds),
        "index_mb": harness.folder_mb(data_dir / "chroma"),
    }
    if not smoke:
        try:
            out["generative"] = harness.generative(assistant, SAMPLE_QUESTIONS[:4])
        except Exception as exc:  # the mode is optional: record why it did not run
            out["generative"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    out["cold_start"] = harness.cold_start(data_dir, SAMPLE_QUESTIONS[0], runs=1 if smoke else 3)
    out["import_profile"] = harness.import_profile()
    out["peak_rss"] = harness.peak_rss(data_dir, with_llm=False)
    if not smoke:
        out["peak_rss_with_llm"] = harness.peak_rss(data_dir, with_llm=True)
    return out


def _scaling(work: Path, smoke: bool, opts: argparse.Namespace) -> dict[str, Any]:
    if smoke:
        return {"100": scale.real_point(100, work, 1), "1000": scale.synthetic_point(1000, work, 1)}
    points = {f"{n // 1000}k": scale.real_point(n, work, 3) for n in opts.real}
    points.update({f"{n // 1000}k": scale.synthetic_point(n, work, 3) for n in opts.synthetic})
    return points


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="reduced sizes (checks the harness runs)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results.json and RESULTS.md")
    parser.add_argument("--rounds", type=int, default=3, help="alternating ingest rounds per pipeline")
    parser.add_argument("--corpus-rounds", type=int, default=2, help="alternating rounds on the real multi-file corpus")
    parser.add_argument("--real", type=int, nargs="*", default=[1000, 10000], help="scaling sizes embedded for real")
    parser.add_argument("--synthetic", type=int, nargs="*", default=[100000], help="sizes with precomputed vectors")
    parser.add_argument("--no-eval", action="store_true", help="skip the seed eval suite per backend")
    args = parser.parse_args()
    results = run(args.smoke, args.out, args)
    print(f"wrote {args.out / 'results.json'} and {args.out / 'RESULTS.md'} in {results['seconds']} s")


if __name__ == "__main__":
    main()
