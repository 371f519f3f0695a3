"""`serve` and `ui` load the embedding model, the keyword index and spaCy before they say they are ready."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import CORPUS, CitewiseServer, free_port, ingest_corpus, stop_process

from citewise.rag import injection, spacy_pipelines
from citewise.warmup import PIPELINES, warm, warm_in_background


def _saved_keyword_indexes(data_dir: Path) -> list[Path]:
    """Keyword indexes saved under ``data_dir`` (one folder per store, one per revision inside)."""
    root = data_dir / "keywords"
    return (
        [p for store in root.glob("*") for p in store.glob("*") if not p.name.startswith(".")] if root.exists() else []
    )


def test_warm_loads_the_model_the_keyword_index_and_spacy(make_assistant, monkeypatch):
    assert make_assistant().ingest([CORPUS]).ok
    fresh = make_assistant()  # a new Assistant on that index: nothing loaded yet
    assert fresh.retriever.keywords.size == 0
    monkeypatch.setattr(spacy_pipelines, "_loaded", {})  # no spaCy pipeline loaded, as in a new process

    timings = warm(fresh)

    assert list(timings) == ["embedding model", "keyword index", "spaCy", "first answer"]
    assert fresh.embedder._model is not None
    assert fresh.retriever.keywords.size > 0
    # every pipeline the answerers use is loaded: each module's pipeline() is now a cache hit
    loaded = dict(spacy_pipelines._loaded)
    assert len(loaded) >= 2  # entities (NER) and injection (parser)
    for name in PIPELINES:
        module = sys.modules.get(name)
        if module is not None:
            assert module.pipeline() in loaded.values(), name
    assert injection.pipeline() in loaded.values()


def test_warm_skips_what_a_user_error_stops(make_assistant):
    """An unreachable Chroma server: the index steps are skipped, the first question will say why."""
    down = make_assistant(chroma_url=f"http://127.0.0.1:{free_port()}")
    timings = warm(down)
    assert "keyword index" not in timings and "first answer" not in timings
    assert "embedding model" in timings


def test_a_bug_while_warming_is_raised_to_the_command():
    class Broken:
        def embed(self, texts: list[str]) -> list[list[float]]:
            raise ZeroDivisionError("a bug")

    wait = warm_in_background(SimpleNamespace(embedder=Broken(), retriever=None))
    with pytest.raises(ZeroDivisionError):
        wait()


def test_serve_has_built_the_keyword_index_when_it_listens(tmp_path):
    data_dir = tmp_path / "data"
    ingest_corpus(data_dir)
    assert _saved_keyword_indexes(data_dir) == []  # ingest does not build it: the first question would
    server = CitewiseServer(data_dir)  # returns once the port is open, i.e. after the warm-up
    try:
        assert len(_saved_keyword_indexes(data_dir)) == 1
    finally:
        server.stop()
    assert "Traceback" not in server.log_path.read_text()


def test_ui_has_built_the_keyword_index_when_it_prints_its_url(tmp_path):
    data_dir = tmp_path / "data"
    ingest_corpus(data_dir)
    assert _saved_keyword_indexes(data_dir) == []
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update({"CITEWISE_DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False"})
    cmd = [sys.executable, "-u", "-m", "citewise.cli", "ui", "--port", str(free_port())]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "running at http" in line:
                break
        assert "running at http" in lines[-1], "".join(lines)
        assert len(_saved_keyword_indexes(data_dir)) == 1
    finally:
        stop_process(proc)
