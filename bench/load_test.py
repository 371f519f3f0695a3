"""Load: concurrent clients asking through the HTTP API and the Gradio queue while a folder is ingested.

Starts a real `chroma run`, a real `citewise serve --ui` (HTTP API at /v1, Gradio at /ui) on
127.0.0.1 over that Chroma server, and a real `citewise ingest FOLDER` process writing to the
same store. While the ingest runs, N clients ask questions through the API (httpx, the
OpenAI-compatible endpoint), then N clients through the Gradio queue (gradio_client). Every
reply is checked for shape: an answer or a refusal, citation markers that match the cited
sources, quotes that are non-empty. Latencies (p50, p95, max) go to bench/load_results.json.

    python bench/load_test.py                 # 20 clients x 2 questions per interface
    python bench/load_test.py --clients 5 --rounds 1 --out /tmp/load.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUESTIONS = [
    "When did OpenAI launch Sora 2?",
    "Who is Minoru Kiuchi?",
    "What did CODA ask OpenAI to do?",
    "When was CODA founded?",
    "Who won the 2022 FIFA World Cup?",  # not in the documents: a refusal is the right answer
]
MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass
class Phase:
    """One interface's results."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refused: int = 0
    answered: int = 0
    ingest_running_at_start: bool = False
    ingest_running_at_end: bool = False
    ingest_overlap_s: float = 0.0  # seconds of the phase during which an ingest process was alive
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "requests": len(lat) + len(self.errors),
            "ok": len(lat),
            "errors": len(self.errors),
            "error_samples": self.errors[:5],
            "answered": self.answered,
            "refused": self.refused,
            "p50_s": round(statistics.median(lat), 3) if lat else None,
            "p95_s": round(percentile(lat, 95), 3) if lat else None,
            "max_s": round(lat[-1], 3) if lat else None,
            "wall_s": round(self.wall_s, 2),
            "ingest_running_at_start": self.ingest_running_at_start,
            "ingest_running_at_end": self.ingest_running_at_end,
            "ingest_overlap_s": round(self.ingest_overlap_s, 2),
        }


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, int(round(q / 100 * len(sorted_values) + 0.4999)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def check_shape(text: str, refused: bool, citations: list[dict[str, Any]]) -> str | None:
    """Why a reply is malformed, or None when it is well-formed."""
    if not isinstance(text, str) or not text.strip():
        return "empty answer"
    if refused:
        return "a refusal with citations" if citations else None
    if not citations:
        return "an answer without citations"
    numbers = {int(n) for n in MARKER.findall(text)}
    if numbers != {int(c["n"]) for c in citations}:
        return f"markers {sorted(numbers)} do not match the citations {[c['n'] for c in citations]}"
    if any(not str(c.get("quote", "")).strip() or not c.get("doc_id") for c in citations):
        return "a citation without quote or document"
    return None


def api_asker(base: str) -> Callable[[str], tuple[str, bool, list[dict[str, Any]]]]:
    import httpx

    client = httpx.Client(base_url=base, timeout=600)

    def ask(question: str) -> tuple[str, bool, list[dict[str, Any]]]:
        body = {"model": "citewise", "messages": [{"role": "user", "content": question}]}
        resp = client.post("/v1/chat/completions", json=body)
        if resp.status_code != 200:
            raise RuntimeError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        data = resp.json()
        text = data["choices"][0]["message"]["content"]
        answer = text.split("\n\nSources:")[0] if "\n\nSources:" in text else text
        return answer, bool(data["refused"]), list(data["citations"])

    return ask


def gradio_asker(base: str) -> Callable[[str], tuple[str, bool, list[dict[str, Any]]]]:
    from gradio_client import Client

    client = Client(f"{base}/ui/", verbose=False)

    def ask(question: str) -> tuple[str, bool, list[dict[str, Any]]]:
        messages, _sources, turns, _question = client.predict(question, [], "extractive", 4, False, api_name="/respond")
        if not messages or messages[-1].get("role") != "assistant":
            raise RuntimeError(f"no assistant message in {str(messages)[:200]}")
        last = turns[-1] if turns else {}
        answer = last.get("answer") or {}
        text = str(answer.get("answer", ""))
        return text, bool(answer.get("refused")), list(answer.get("citations", []))

    return ask


def run_phase(name: str, make_asker: Callable[[], Any], clients: int, rounds: int, ingests: IngestLoop) -> Phase:
    """``clients`` threads, each with its own client, each asking ``rounds`` questions at once."""
    phase = Phase(name)
    lock = threading.Lock()
    askers = [make_asker() for _ in range(clients)]
    barrier = threading.Barrier(clients)

    def client(i: int) -> None:
        barrier.wait()
        for r in range(rounds):
            question = QUESTIONS[(i + r) % len(QUESTIONS)]
            t0 = time.perf_counter()
            try:
                text, refused, citations = askers[i](question)
                problem = check_shape(text, refused, citations)
            except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
                problem = f"{type(exc).__name__}: {str(exc)[:200]}"
            elapsed = time.perf_counter() - t0
            with lock:
                if problem:
                    phase.errors.append(f"{question!r}: {problem}")
                else:
                    phase.latencies.append(elapsed)
                    phase.refused += refused
                    phase.answered += not refused

    phase.ingest_running_at_start = ingests.running()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    t1 = time.perf_counter()
    phase.wall_s = t1 - t0
    phase.ingest_running_at_end = ingests.running()
    phase.ingest_overlap_s = ingests.overlap(t0, t1)
    return phase


class IngestLoop:
    """Ingest processes back to back, each on a new folder of ``docs`` files, until stopped.

    The clients' phases run between :meth:`start` and :meth:`stop`, so an ingest process is
    alive during every phase however fast the machine is: the next one starts as soon as
    the previous one exits, and the loop stops only after the last phase (the older driver
    ran one fixed folder, which a fast machine finished before the clients started).
    """

    def __init__(self, cli: list[str], work: Path, docs: int, env: dict[str, str]) -> None:
        self.cli, self.work, self.docs, self.env = cli, work, docs, env
        self.batches = 0
        self.exit_codes: list[int] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.intervals: list[tuple[float, float | None]] = []  # (started, exited) per process
        self._stop = threading.Event()
        self._first = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            folder = self.work / f"incoming{self.batches:03d}"
            make_folder(folder, self.docs, first=self.batches * self.docs)
            with self._lock:
                self.proc = start([*self.cli, "ingest", str(folder)], self.work / "ingest.log", self.env)
                self.batches += 1
                self.intervals.append((time.perf_counter(), None))
            self._first.set()
            self.exit_codes.append(self.proc.wait())
            with self._lock:
                self.intervals[-1] = (self.intervals[-1][0], time.perf_counter())

    def start(self) -> None:
        """Start the loop; returns once the first ingest process is running."""
        self._thread.start()
        self._first.wait(600)

    def running(self) -> bool:
        """True while an ingest process is alive."""
        with self._lock:
            return self.proc is not None and self.proc.poll() is None

    def overlap(self, t0: float, t1: float) -> float:
        """Seconds of [t0, t1] during which an ingest process was alive."""
        now = time.perf_counter()
        with self._lock:
            spans = [(a, now if b is None else b) for a, b in self.intervals]
        return sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in spans)

    def stop(self) -> None:
        """Let the current ingest finish, start no more, and wait for it."""
        self._stop.set()
        self._thread.join()


def make_folder(folder: Path, n: int, first: int = 0) -> None:
    folder.mkdir(parents=True)
    for i in range(first, first + n):
        lines = [f"Bulletin {i} of the harbour office records that ship number {i} docked at pier {i % 17}."]
        lines += [f"Its cargo of {10 + k} tonnes of grain was unloaded on day {k + 1}." for k in range(1 + i % 3)]
        (folder / f"bulletin{i:04d}.txt").write_text(" ".join(lines) + "\n")


def start(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients per interface")
    parser.add_argument("--rounds", type=int, default=2, help="questions each client asks")
    parser.add_argument("--ingest-docs", type=int, default=300, help="documents per folder ingested meanwhile")
    parser.add_argument("--interfaces", default="api,gradio", help="comma-separated: api, gradio")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "load_results.json")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="citewise-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"})
    env.update({"GRADIO_ANALYTICS_ENABLED": "False", "CITEWISE_DATA_DIR": str(work / "data")})
    chroma_exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    cli = [sys.executable, "-m", "citewise.cli"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        cport, port = free_port(), free_port()
        chroma_url = f"http://127.0.0.1:{cport}"
        env["CITEWISE_CHROMA_URL"] = chroma_url
        chroma_cmd = [chroma_exe, "run", "--host", "127.0.0.1", "--port", str(cport), "--path", str(work / "chroma")]
        procs.append(start(chroma_cmd, work / "chroma.log", env))
        wait_http(f"{chroma_url}/api/v2/heartbeat", procs[-1], 120)
        subprocess.run([*cli, "ingest", str(CORPUS)], env=env, check=True, capture_output=True)
        procs.append(start([*cli, "serve", "--port", str(port), "--ui"], work / "serve.log", env))
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", procs[-1])
        wait_http(f"{base}/ui/", procs[-1])  # the chat UI is mounted just after ready (503 until then)
        ingests = IngestLoop(cli, work, args.ingest_docs, env)
        t_ingest = time.perf_counter()
        ingests.start()
        try:
            phases = []
            for name in args.interfaces.split(","):
                maker = {"api": lambda: api_asker(base), "gradio": lambda: gradio_asker(base)}[name.strip()]
                phases.append(run_phase(name.strip(), maker, args.clients, args.rounds, ingests))
        finally:
            ingests.stop()
        ingest_s = time.perf_counter() - t_ingest
        import httpx

        indexed = len(httpx.get(f"{base}/v1/documents", timeout=60).json()["documents"])
    finally:
        for proc in reversed(procs):
            stop(proc)
    results = {
        "what": "concurrent questions while a folder is ingested (bench/load_test.py)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "clients": args.clients,
        "rounds": args.rounds,
        "phases": {p.name: p.summary() for p in phases},
        "ingest": {
            "documents": args.ingest_docs * ingests.batches,
            "batches": ingests.batches,
            "exit_code": max(ingests.exit_codes, default=0),
            "seconds": round(ingest_s, 1),
            "indexed_after": indexed,
            "expected_after": args.ingest_docs * ingests.batches + len(list(CORPUS.glob("*.md"))),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["phases"], indent=2))
    print(f"ingest: {results['ingest']}")
    shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    outcome = main()
    bad = sum(p["errors"] for p in outcome["phases"].values())
    sys.exit(1 if bad or outcome["ingest"]["exit_code"] != 0 else 0)
