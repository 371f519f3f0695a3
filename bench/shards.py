"""Scaling out: one `citewise ingest` against N `citewise ingest --shard i/N` at once, into one `chroma run`.

Each run is a new process per shard (model load included, as on a real cluster) writing
to its own collection of the same Chroma server; the single-process and sharded runs
alternate so drift hits both. On 2 cores the speed-up cannot pass about 2x.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.corpora import generate_corpus

PY = sys.executable


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("chroma run did not start")


def _env(data_dir: Path, url: str, collection: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update(
        {
            "CITEWISE_DATA_DIR": str(data_dir),
            "CITEWISE_CHROMA_URL": url,
            "CITEWISE_COLLECTION": collection,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
        }
    )
    return env


def _ingest(corpus: Path, data_dir: Path, url: str, collection: str, shards: int) -> float:
    """Wall seconds for ``shards`` processes (1: no --shard) to index ``corpus`` into ``collection``."""
    env = _env(data_dir, url, collection)
    args = [[]] if shards == 1 else [["--shard", f"{i}/{shards}"] for i in range(1, shards + 1)]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [PY, "-m", "citewise.cli", "ingest", *a, str(corpus)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for a in args
    ]
    for p in procs:
        _, err = p.communicate(timeout=3600)
        if p.returncode != 0:
            raise RuntimeError(f"citewise ingest failed: {(err.strip().splitlines() or ['?'])[-1][:300]}")
    return time.perf_counter() - t0


def _count(data_dir: Path, url: str, collection: str) -> int:
    done = subprocess.run(
        [PY, "-m", "citewise.cli", "docs", "--json"],
        capture_output=True,
        text=True,
        env=_env(data_dir, url, collection),
        check=True,
    )
    return sum(d["chunks"] for d in json.loads(done.stdout))


def shard_speedup(chunks: int, work: Path, rounds: int, shards: int = 2) -> dict[str, Any]:
    """Median wall time of a single-process ingest and of ``shards`` shards at once, and the ratio."""
    exe = shutil.which("chroma", path=str(Path(PY).parent)) or shutil.which("chroma")
    if not exe:
        return {"error": "the chroma CLI is missing"}
    folder = Path(tempfile.mkdtemp(dir=work, prefix="shards-"))
    corpus = generate_corpus(folder / "corpus", chunks)
    data_dir = folder / "data"  # one data folder: the model copy is made once, by the first run
    port = _port()
    url = f"http://127.0.0.1:{port}"
    with open(folder / "chroma.log", "w") as log:
        server = subprocess.Popen(
            [exe, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder / "chroma")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait(port, server)
            single: list[float] = []
            sharded: list[float] = []
            for r in range(rounds):
                order = [1, shards] if r % 2 == 0 else [shards, 1]
                for n in order:
                    seconds = _ingest(corpus, data_dir, url, f"s{n}r{r}", n)
                    (single if n == 1 else sharded).append(seconds)
            indexed = {n: _count(data_dir, url, f"s{n}r0") for n in (1, shards)}
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
    one, many = statistics.median(single), statistics.median(sharded)
    return {
        "files": len(list(corpus.glob("*.md"))),
        "chunks": indexed[1],
        "same_chunks_sharded": indexed[1] == indexed[shards],
        "shards": shards,
        "single_s": round(one, 2),
        "sharded_s": round(many, 2),
        "speedup": round(one / many, 2),
        "runs_single_s": [round(x, 2) for x in single],
        "runs_sharded_s": [round(x, 2) for x in sharded],
        "cores": os.cpu_count(),
    }
