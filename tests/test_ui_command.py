"""`citewise ui` as a user runs it: a real process on 127.0.0.1, with auth, printing its URL."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port, stop_process

pytestmark = pytest.mark.slow


def _citewise() -> str:
    exe = shutil.which("citewise", path=str(Path(sys.executable).parent))
    assert exe, "the citewise command is not installed in this environment"
    return exe


def _wait_for_line(proc: subprocess.Popen, pattern: str, timeout: float = 240) -> str:
    """Read the process's output until a line matches ``pattern``; returns that line."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r}; output was: {''.join(seen)[-2000:]}")


def test_ui_serves_with_auth_and_prints_its_url(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CITEWISE_UI_AUTH": "ann:s3cret", "PYTHONUNBUFFERED": "1"}
    cmd = [_citewise(), "--data-dir", str(tmp_path / "data"), "ui", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = _wait_for_line(proc, r"citewise chat running at")
        assert f"http://127.0.0.1:{port}/" in line
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/config").status_code == 401
            bad = client.post("/login", data={"username": "ann", "password": "wrong"})
            assert bad.status_code >= 400
            assert client.post("/login", data={"username": "ann", "password": "s3cret"}).status_code == 200
            config = client.get("/config")
            assert config.status_code == 200 and "cw-chat" in config.text
        # bound to loopback only: not reachable on another local address of this machine
        with socket.socket() as s:
            s.settimeout(2)
            other = socket.gethostbyname(socket.gethostname())
            if other != "127.0.0.1" and not other.startswith("127."):
                assert s.connect_ex((other, port)) != 0

        # a second server on the same port fails with one clear line
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode != 0
        assert f"cannot serve on 127.0.0.1:{port}" in second.stderr and "--port" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        stop_process(proc, 20)
