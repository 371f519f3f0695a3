"""Start-up: a new `citewise serve` to /healthz and its first answer; a new `citewise ui` to its URL.

``python -m bench.startup DATA_DIR`` prints one JSON object (the index in DATA_DIR must exist).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PY = sys.executable
QUESTION = "When did OpenAI launch Sora 2?"


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update(
        {
            "CITEWISE_DATA_DIR": str(data_dir),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
    )
    return env


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def serve_ready(data_dir: Path, args: tuple[str, ...] = (), timeout: float = 300) -> dict[str, Any]:
    """Seconds from launching ``citewise serve`` to a 200 from /healthz, then its first two answers."""
    import httpx

    port = _port()
    cmd = [PY, "-m", "citewise.cli", "serve", "--port", str(port), *args]
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(data_dir))
        try:
            ready = None
            with httpx.Client(timeout=120) as http:
                while time.perf_counter() - t0 < timeout and proc.poll() is None:
                    try:
                        if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                            ready = time.perf_counter() - t0
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.05)
                if ready is None:
                    log.seek(0)
                    return {"error": (log.read().strip().splitlines() or ["did not start"])[-1][:300]}
                answers = []
                for _ in range(2):
                    t1 = time.perf_counter()
                    resp = http.post(
                        f"http://127.0.0.1:{port}/v1/chat/completions",
                        json={"model": "citewise", "messages": [{"role": "user", "content": QUESTION}]},
                    )
                    answers.append(round(time.perf_counter() - t1, 3) if resp.status_code == 200 else None)
                parts = _parts_ready(http, port, t0, timeout)  # MCP and the UI are mounted after ready
        finally:
            _stop(proc)
    return {"healthz_s": round(ready, 2), "first_answer_s": answers[0], "second_answer_s": answers[1], **parts}


def _parts_ready(http: Any, port: int, t0: float, timeout: float) -> dict[str, Any]:
    """Seconds from launch until /healthz reports no part 'starting' (polled after the answers)."""
    while time.perf_counter() - t0 < timeout:
        parts = http.get(f"http://127.0.0.1:{port}/healthz").json().get("parts", {})
        if "starting" not in parts.values():
            served = sorted(k for k, v in parts.items() if v != "off")
            return {"all_parts_s": round(time.perf_counter() - t0, 2), "parts": served}
        time.sleep(0.05)
    return {"all_parts_s": None}


def ui_ready(data_dir: Path, timeout: float = 300) -> dict[str, Any]:
    """Seconds from launching ``citewise ui`` to the line that prints its URL."""
    port = _port()
    cmd = [PY, "-u", "-m", "citewise.cli", "ui", "--port", str(port)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(data_dir))
    seconds = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "running at http" in line:
                seconds = time.perf_counter() - t0
                break
            if time.perf_counter() - t0 > timeout:
                break
    finally:
        _stop(proc)
    return {"url_s": round(seconds, 2)} if seconds is not None else {"error": "no URL printed"}


def measure(data_dir: Path) -> dict[str, Any]:
    """Both start-ups, one after the other, on an existing index."""
    return {
        "serve_api_only": serve_ready(data_dir, ("--no-ui", "--no-mcp")),
        "serve": serve_ready(data_dir),
        "ui": ui_ready(data_dir),
    }


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]))))
