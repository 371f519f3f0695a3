"""The `citewise` command, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import CORPUS, ROOT


def run(args: list[str], tmp_path: Path, env: dict[str, str] | None = None, input: str | None = None):
    full_env = {**os.environ, "CITEWISE_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "citewise.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=300,
        cwd=tmp_path,
    )


def test_ask_json_prints_one_object(tmp_path):
    assert run(["ingest", str(CORPUS)], tmp_path).returncode == 0  # ask never indexes the sample corpus itself
    out = run(["ask", "--json", "When did OpenAI launch Sora 2?"], tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # exactly one JSON object, nothing else on stdout
    assert "September 30, 2025" in data["answer"]
    assert data["refused"] is False and data["mode"] == "extractive"
    assert "September 30, 2025" in data["citations"][0]["quote"]
    refused = json.loads(run(["ask", "--json", "Who won the 2022 FIFA World Cup?"], tmp_path).stdout)
    assert refused["refused"] is True and refused["citations"] == []


def test_ingest_docs_remove_and_exit_status(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    out = run(["ingest", str(CORPUS), str(bad)], tmp_path)
    assert out.returncode == 1
    assert "bad.txt: file is empty" in out.stderr
    assert "2 added" in out.stdout
    docs = run(["docs"], tmp_path).stdout
    assert "techtimes-coda-sora2.md" in docs
    assert run(["remove", "techtimes-coda-sora2.md"], tmp_path).returncode == 0
    missing = run(["remove", "nope.md"], tmp_path)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert run(["ingest", str(CORPUS)], tmp_path).returncode == 0


def test_config_shows_where_values_come_from(tmp_path):
    (tmp_path / "citewise.toml").write_text("top_k = 7\n")
    out = run(["config", "--json"], tmp_path, env={"CITEWISE_MODE": "generative"})
    data = json.loads(out.stdout)
    assert data["top_k"] == {"value": 7, "source": f"file:{tmp_path / 'citewise.toml'}"}
    assert data["mode"] == {"value": "generative", "source": "env:CITEWISE_MODE"}
    assert data["data_dir"]["source"] == "env:CITEWISE_DATA_DIR"
    assert data["chunk_size"]["source"] == "default"


def test_bad_setting_is_one_line(tmp_path):
    out = run(["config"], tmp_path, env={"CITEWISE_TOP_K": "many"})
    assert out.returncode == 2
    assert out.stderr.strip() == "citewise: error: setting top_k='many' is not a valid int"


def test_empty_question_is_one_line(tmp_path):
    out = run(["ask", "  "], tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("citewise: error: the question is empty")


def test_chat_follow_up_in_the_terminal(tmp_path):
    assert run(["ingest", str(CORPUS)], tmp_path).returncode == 0
    out = run(["chat"], tmp_path, input="What is CODA?\nAnd when was it founded?\n\n")
    assert out.returncode == 0, out.stderr
    assert "2002" in out.stdout


def test_unreachable_chroma_server_is_one_line(tmp_path):
    out = run(["docs"], tmp_path, env={"CITEWISE_CHROMA_URL": "http://127.0.0.1:9"})
    assert out.returncode == 2
    assert out.stderr.startswith("citewise: error: cannot reach the Chroma server at http://127.0.0.1:9")
    assert out.stderr.count("\n") == 1


def test_import_loads_neither_torch_nor_gradio():
    code = (
        "import sys, citewise; print(sorted(m for m in ('torch','gradio','chromadb','llama_cpp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_ingest_shows_a_progress_bar_on_a_terminal(tmp_path):
    """On a terminal, stderr carries a tqdm bar; piped, it stays quiet (see the tests above)."""
    import fcntl
    import pty
    import struct
    import termios

    primary, secondary = pty.openpty()
    # a new pty is 0 columns wide, and tqdm fits its bar into that: give it a real size
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    env = {**os.environ, "CITEWISE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "citewise.cli", "ingest", str(CORPUS)],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    os.close(secondary)
    out, _ = proc.communicate(timeout=300)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(primary)
    assert proc.returncode == 0 and "2 added" in out
    assert b"indexing:" in seen and b"/2 [" in seen  # tqdm redraws are throttled: any state of 2 files
