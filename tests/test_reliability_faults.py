"""Faults: a killed ingest, a Chroma server that goes away, a damaged or foreign data folder."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import CORPUS

from citewise.index.store import ChromaStore, StoreConfig, StoreError


def _cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env.update({"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", **extra})
    return env


def _cli(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citewise.cli", *args],
        capture_output=True,
        text=True,
        env=_cli_env(**extra),
        cwd=cwd,
        timeout=400,
    )


def _make_folder(folder: Path, n: int, storms: int = 1) -> None:
    folder.mkdir()
    for i in range(n):
        sentences = [f"Record {i} concerns the lighthouse of Port Vell{i}."]
        sentences += [f"Keeper number {i} logged storm {k} in the year {1800 + i + k}." for k in range(storms + i % 4)]
        (folder / f"doc{i:03d}.txt").write_text(" ".join(sentences) + "\n")


def _forget_client(data: Path) -> None:
    """Drop this process's cached embedded Chroma for ``data`` so the next open reads the disk afresh."""
    from chromadb.api.client import SharedSystemClient

    key = str(data / "chroma")
    system = SharedSystemClient._identifier_to_system.pop(key, None)
    SharedSystemClient._identifier_to_refcount.pop(key, None)
    if system is not None:
        system.stop()


def _assert_index_whole(assistant, folder: Path) -> None:
    """Every file indexed exactly once; chunks == registry; keyword view == vector view."""
    docs = assistant.documents()
    assert sorted(d.doc_id for d in docs) == sorted(p.name for p in folder.iterdir())
    registry = {d.doc_id: d for d in docs}
    chunks = list(assistant.store.all_chunks())
    ids = Counter(c.id for c in chunks)
    assert max(ids.values()) == 1  # no duplicate chunk
    assert all(registry[c.doc_id].doc_hash == c.doc_hash for c in chunks)  # no orphan or stale chunk
    per_doc = Counter(c.doc_id for c in chunks)
    assert all(per_doc[d.doc_id] == d.chunks for d in docs)
    assistant.retriever.keywords.refresh()
    assert assistant.store.count_chunks() == sum(d.chunks for d in docs) == assistant.retriever.keywords.size


@pytest.mark.slow
def test_kill_9_during_ingest_then_ingest_again_indexes_each_document_once(tmp_path, make_assistant):
    folder, data = tmp_path / "docs", tmp_path / "data"
    # ~12 chunks a document, so the 300 documents span several of the ingest's 1,024-chunk
    # commits and the kill lands between two of them
    _make_folder(folder, 300, storms=10)
    proc = subprocess.Popen(
        [sys.executable, "-m", "citewise.cli", "--data-dir", str(data), "ingest", str(folder)],
        env=_cli_env(CITEWISE_CHUNK_SIZE="24", CITEWISE_CHUNK_OVERLAP="4"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = ChromaStore(StoreConfig(data))
    committed, deadline = 0, time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        try:
            committed = len(store.documents())
        except StoreError:
            continue  # not created yet
        if committed >= 40:
            break
    assert proc.poll() is None, "the ingest finished before it could be killed; use more documents"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert 0 < committed < 300
    _forget_client(data)

    a = make_assistant(data_dir=data, chunk_size=24, chunk_overlap=4)
    before = {d.doc_id for d in a.documents()}
    assert len(before) >= committed  # what was committed survived the kill
    report = a.ingest([folder])
    assert report.ok, report.failed[:3]
    assert sorted(report.added) == sorted({p.name for p in folder.iterdir()} - before)
    assert sorted(report.unchanged) == sorted(before)
    _assert_index_whole(a, folder)
    hit = a.search("Record 299 lighthouse of Port Vell299", top_k=3)
    assert hit and hit[0].chunk.doc_id == "doc299.txt"


def test_chroma_server_that_goes_away_fails_in_one_line_and_recovers(make_assistant, restartable_chroma):
    a = make_assistant(chroma_url=restartable_chroma.url)
    assert a.ingest([CORPUS]).ok
    assert "September 30, 2025" in a.ask("When did OpenAI launch Sora 2?").text
    restartable_chroma.stop()
    calls = [
        lambda: a.ask("When did OpenAI launch Sora 2?"),
        a.documents,
        lambda: a.ingest([CORPUS]),
        lambda: a.upload("notes.txt", b"Notes taken while the store was down.\n"),
    ]
    for call in calls:
        with pytest.raises(StoreError) as err:
            call()
        message = str(err.value)
        assert "\n" not in message and restartable_chroma.url in message
    uploads = a.settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []  # the failed upload left no file behind
    restartable_chroma.start()  # same port, same data: the same Assistant works again
    assert "September 30, 2025" in a.ask("When did OpenAI launch Sora 2?").text
    assert len(a.documents()) == 2
    assert a.ingest([CORPUS]).unchanged and a.store.count_chunks() == sum(d.chunks for d in a.documents())


def _garbage(data: Path) -> None:
    (data / "chroma").mkdir(parents=True)
    (data / "chroma" / "chroma.sqlite3").write_bytes(os.urandom(64 * 1024))


def _foreign(data: Path) -> None:
    (data / "chroma").mkdir(parents=True)
    with sqlite3.connect(data / "chroma" / "chroma.sqlite3") as conn:
        conn.execute("CREATE TABLE notes (id INTEGER, body TEXT)")
        conn.execute("INSERT INTO notes VALUES (1, 'another app owns this')")


def _truncated(data: Path) -> None:
    from citewise import Assistant, Settings

    Assistant.from_settings(Settings(), data_dir=data).ingest([CORPUS / "techtimes-coda-sora2.md"])
    _forget_client(data)
    db = data / "chroma" / "chroma.sqlite3"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])


@pytest.mark.parametrize(("damage", "says"), [(_garbage, "damaged"), (_foreign, "not a citewise index")])
def test_damaged_or_foreign_data_folder_is_one_line_naming_reindex(tmp_path, damage, says):
    data = tmp_path / "data"
    damage(data)
    store = ChromaStore(StoreConfig(data))
    with pytest.raises(StoreError, match=says) as err:
        store.documents()
    assert "citewise reindex" in str(err.value) and "\n" not in str(err.value)
    if damage is _foreign:  # we never wrote into the other application's database
        with sqlite3.connect(data / "chroma" / "chroma.sqlite3") as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"notes"}


def test_data_dir_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        ChromaStore(StoreConfig(tmp_path / "data")).documents()


@pytest.mark.slow
def test_cli_damaged_index_says_reindex_and_reindex_recovers(tmp_path):
    data = tmp_path / "data"
    _truncated(data)
    out = _cli(["--data-dir", str(data), "docs"], tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("citewise: error: ") and "citewise reindex" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = _cli(["--data-dir", str(data), "reindex", str(CORPUS)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert (data / "chroma.damaged").is_dir()  # moved aside, not deleted
    out = _cli(["--data-dir", str(data), "docs", "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "techtimes-coda-sora2.md" in out.stdout and "coda-written-request-openai.md" in out.stdout


def test_damaged_records_are_one_line_naming_reindex(make_assistant):
    a = make_assistant()
    assert a.ingest([CORPUS]).ok
    (doc,) = [d for d in a.documents() if d.doc_id == "techtimes-coda-sora2.md"]
    a.store.docs.update(ids=[doc.doc_id], metadatas=[{"chunks": "many", "meta": "{not json"}])
    with pytest.raises(StoreError, match="damaged document record") as err:
        a.documents()
    assert "citewise reindex" in str(err.value) and "\n" not in str(err.value)
    a.store.docs.update(ids=[doc.doc_id], metadatas=[{"chunks": doc.chunks, "meta": "{}"}])
    assert len(a.documents()) == 2  # repaired by hand: readable again
    (chunk_id, *_) = a.store.chunks.get(where={"doc_id": doc.doc_id})["ids"]
    a.store.chunks.update(ids=[chunk_id], metadatas=[{"start": "here", "page_breaks": "[oops"}])
    with pytest.raises(StoreError, match="damaged chunk record") as err:
        list(a.store.all_chunks())
    assert "citewise reindex" in str(err.value)
