"""Shared fixtures: real Chroma in a tmp dir, the real bundled embedding model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
# the shared datasets: $CITEWISE_SHARED when set (a clone outside the workspace), else ../shared
SHARED_ENV = os.environ.get("CITEWISE_SHARED")
SHARED = Path(SHARED_ENV) if SHARED_ENV else ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's settings or writes to their data folder."""
    for key in list(os.environ):
        if key.startswith("CITEWISE_"):
            monkeypatch.delenv(key)
    if SHARED_ENV:  # where the shared datasets are is not a setting: keep it
        monkeypatch.setenv("CITEWISE_SHARED", SHARED_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def make_assistant(tmp_path: Path):
    """Build Assistants on a fresh embedded Chroma folder (the model is loaded once per process)."""
    from citewise import Assistant, Settings

    def make(**overrides):
        overrides.setdefault("data_dir", tmp_path / "data")
        return Assistant.from_settings(Settings(), **overrides)

    return make


@pytest.fixture
def assistant(make_assistant):
    """An Assistant with the sample corpus indexed."""
    a = make_assistant()
    report = a.ingest([CORPUS])
    assert report.ok, report.failed
    return a


@pytest.fixture(scope="session")
def corpus_assistant(tmp_path_factory: pytest.TempPathFactory):
    """One shared, read-only Assistant over the sample corpus (for answer-quality tests)."""
    from citewise import Assistant, Settings

    a = Assistant.from_settings(Settings(), data_dir=tmp_path_factory.mktemp("shared-index"))
    assert a.ingest([CORPUS]).ok
    return a


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@contextmanager
def serve_in_thread(app) -> Iterator[str]:
    """Serve an ASGI ``app`` with uvicorn on a free 127.0.0.1 port in this process; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate a server process; kill it if it does not exit in ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real `chroma run` server on 127.0.0.1, with its data in a tmp dir."""
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert exe, "the chroma CLI (from the chromadb package) is missing"
    port = free_port()
    log = open(tmp_path / "chroma.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [exe, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "chroma-server")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc, 10)
        log.close()


# ---- HTTP API servers (citewise serve in a subprocess) ---------------------------------
class CitewiseServer:
    """A `citewise serve` subprocess on 127.0.0.1; ``url`` is its base URL.

    Returns once MCP and the UI are mounted too, unless ``wait_for_parts`` is False.
    """

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        wait_for_parts: bool = True,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"serve-{self.port}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
        full_env.update({"CITEWISE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", **(env or {})})
        data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "citewise.cli", "serve", "--port", str(self.port), *(args or ["--no-ui"])]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=full_env, cwd=data_dir)
        try:
            wait_for_port(self.port, timeout=180, proc=self.proc)
            if wait_for_parts:
                self.wait_for_parts()
        except Exception:
            self.stop()
            raise RuntimeError(f"citewise serve did not start:\n{self.log_path.read_text()[-3000:]}") from None

    def health(self) -> dict:
        import httpx

        return httpx.get(f"{self.url}/healthz", timeout=60).json()

    def wait_for_parts(self, timeout: float = 180.0) -> dict:
        """Wait until no part is 'starting' (serve builds MCP and the UI after /healthz answers); the parts."""
        deadline = time.monotonic() + timeout  # a hang guard, not a speed check
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            parts = self.health()["parts"]
            if "starting" not in parts.values():
                return parts
            time.sleep(0.2)
        raise TimeoutError(f"parts still starting: {parts}")

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()


API_KEY = "test-key-for-citewise"


def ingest_corpus(data_dir: Path, env: dict[str, str] | None = None) -> None:
    """Index the sample corpus into ``data_dir`` with the real CLI."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    full_env.update({"CITEWISE_DATA_DIR": str(data_dir), **(env or {})})
    out = subprocess.run(
        [sys.executable, "-m", "citewise.cli", "ingest", str(CORPUS)], capture_output=True, text=True, env=full_env
    )
    assert out.returncode == 0, out.stderr


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CitewiseServer]:
    """`citewise serve` over the sample corpus, with an API key (API_KEY) and a 1 MB upload limit."""
    data_dir = tmp_path_factory.mktemp("api") / "data"
    ingest_corpus(data_dir)
    server = CitewiseServer(data_dir, env={"CITEWISE_API_KEY": API_KEY, "CITEWISE_MAX_UPLOAD_MB": "1"})
    try:
        yield server
    finally:
        server.stop()


class ChromaServer:
    """A real `chroma run` on 127.0.0.1 that a test can stop and start again on the same port and path."""

    def __init__(self, folder: Path) -> None:
        self.exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
        assert self.exe, "the chroma CLI (from the chromadb package) is missing"
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.folder / "chroma.log", "a")  # noqa: SIM115 - the child keeps it open
        self.proc = subprocess.Popen(
            [self.exe, "run", "--host", "127.0.0.1", "--port", str(self.port), "--path", str(self.folder / "data")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.port, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 10)
        self.proc = None


@pytest.fixture
def restartable_chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    """A Chroma server (started) that the test may stop and restart."""
    server = ChromaServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
