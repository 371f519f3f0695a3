"""How query cost grows with the index: 1k, 10k (embedded for real) and 100k chunks.

The 100k point is written straight into the store with *precomputed deterministic*
vectors (seeded random unit vectors) and generated chunk texts, because embedding 100k
chunks with MiniLM on 2 cores takes far longer than the benchmark may run; the
measured ingest rate at 10k says how long the real thing would take.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpora import _NOUNS, _TOPICS, _VERBS, generate_corpus, text_bytes
from bench.harness import cold_start, folder_mb, latency, make_ours, peak_rss

SCALE_QUESTIONS = [
    "Who repaired the glacier number 41?",
    "When was the observatory near kilometre 300 built?",
    "How many helpers worked on the vineyard?",
    "What did the council fund?",
    "Which railway did historians study?",
    "Who mapped the canal number 7?",
]


def real_point(chunks: int, work: Path, rounds: int, **overrides: Any) -> dict[str, Any]:
    """Generate ~``chunks`` chunks of text, ingest them for real, time queries."""
    folder = Path(tempfile.mkdtemp(dir=work, prefix=f"scale{chunks}-"))
    corpus = generate_corpus(folder / "corpus", chunks)
    assistant = make_ours(folder / "data", **overrides)
    assistant.embedder.embed(["warm up"])
    t0 = time.perf_counter()
    report = assistant.ingest([corpus])
    seconds = time.perf_counter() - t0
    mb = text_bytes([corpus]) / 1e6
    return {
        "chunks": report.chunks,
        "vectors": "embedded",
        "ingest_s": round(seconds, 2),
        "ingest_chunks_per_s": round(report.chunks / seconds, 1),
        "ingest_mb_per_s": round(mb / seconds, 4),
        **_queries(assistant, rounds, lambda: make_ours(folder / "data", **overrides)),
        **_new_process_and_disk(folder / "data", rounds),
    }


def synthetic_point(chunks: int, work: Path, rounds: int, **overrides: Any) -> dict[str, Any]:
    """Write ``chunks`` generated chunks with seeded random unit vectors, then time queries."""
    from citewise.index.store import ChunkRecord, DocRecord

    folder = Path(tempfile.mkdtemp(dir=work, prefix=f"scale{chunks}-"))
    assistant = make_ours(folder / "data", **overrides)
    dim = len(assistant.embedder.embed(["dimension probe"])[0])
    rng, vectors = random.Random(11), np.random.default_rng(11)
    per_doc = 1000
    t0 = time.perf_counter()
    for d in range(0, chunks, per_doc):
        n = min(per_doc, chunks - d)
        texts = [_sentence(rng, d + i) for i in range(n)]
        text = "\n\n".join(texts)
        doc_id, digest = f"synthetic-{d // per_doc:04d}.md", f"{d:016x}"
        records, cursor = [], 0
        for i, t in enumerate(texts):
            records.append(
                ChunkRecord(
                    f"{doc_id}::{digest}::{i:06d}", doc_id, digest, t, cursor, cursor + len(t), i, None, doc_id, doc_id
                )
            )
            cursor += len(t) + 2
        emb = vectors.standard_normal((n, dim)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        record = DocRecord(doc_id, digest, doc_id, doc_id, "md", n, "2025-01-01T00:00:00+00:00")
        assistant.store.write_document(record, text, records, emb.tolist())
    write_s = time.perf_counter() - t0
    return {
        "chunks": assistant.store.count_chunks(),
        "vectors": "precomputed deterministic (seeded random unit vectors), not embedded",
        "write_s": round(write_s, 2),
        **_queries(assistant, rounds, lambda: make_ours(folder / "data", **overrides)),
        **_new_process_and_disk(folder / "data", rounds),
    }


def _new_process_and_disk(data: Path, rounds: int) -> dict[str, Any]:
    """What a new process pays on the index in ``data``, and what the index takes on disk."""
    return {
        # a new `citewise ask` process on this index: model load, saved keyword index, answer
        "cold_ask": cold_start(data, SCALE_QUESTIONS[2], runs=3 if rounds > 1 else 1),
        # peak resident memory of such a process: model, Chroma's index, the saved keyword index, one answer
        "peak_rss": peak_rss(data, with_llm=False, question=SCALE_QUESTIONS[2]),
        "index_mb": folder_mb(data / "chroma"),
        "keyword_index_mb": folder_mb(data / "keywords"),
    }


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(
        f"In {1800 + rng.randrange(220)}, {rng.choice(_NOUNS)} {rng.choice(_VERBS)} the {rng.choice(_TOPICS)} "
        f"number {n} near kilometre {rng.randrange(1000)} with {rng.randrange(2, 90)} helpers."
        for _ in range(4)
    )


def _queries(assistant: Any, rounds: int, reopen: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    assistant.search(SCALE_QUESTIONS[0])  # first query builds the keyword (BM25) index, and saves it
    first_ms = (time.perf_counter() - t0) * 1000
    # a new Assistant on the same data folder (a restarted process; the embedding model is already
    # loaded in this one): its first question loads the saved keyword index instead of rebuilding it
    reopened = reopen()
    t0 = time.perf_counter()
    reopened.ask(SCALE_QUESTIONS[1])
    reopened_ms = (time.perf_counter() - t0) * 1000
    return {
        "first_query_ms": round(first_ms, 1),
        "first_answer_after_reopen_ms": round(reopened_ms, 1),
        "keyword_index_loaded_from_disk": reopened.retriever.keywords.loaded_from_disk,
        "retrieval": latency(assistant.search, SCALE_QUESTIONS, rounds),
        "extractive_answer": latency(assistant.ask, SCALE_QUESTIONS, rounds),
    }
