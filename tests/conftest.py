"""Shared fixtures: real Chroma in a tmp dir, the real bundled embedding model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's settings or writes to their data folder."""
    for key in list(os.environ):
        if key.startswith("CITEWISE_"):
            monkeypatch.delenv(key)
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
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
