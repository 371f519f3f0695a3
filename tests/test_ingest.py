"""Incremental, all-or-nothing ingest into real Chroma."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import CORPUS, SHARED

from citewise.index.store import ChunkRecord


def _copy_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(CORPUS, folder)
    return folder


def _stored_chunks(assistant) -> list[ChunkRecord]:
    return list(assistant.store.all_chunks())


def test_reingest_skips_unchanged_documents(make_assistant, tmp_path):
    folder = _copy_corpus(tmp_path)
    a = make_assistant()
    first = a.ingest([folder])
    assert sorted(first.added) == ["coda-written-request-openai.md", "techtimes-coda-sora2.md"]
    again = a.ingest([folder])
    assert again.added == [] and again.updated == [] and len(again.unchanged) == 2
    assert again.chunks == 0


def test_changed_document_is_replaced_with_no_stale_chunk(make_assistant, tmp_path):
    folder = _copy_corpus(tmp_path)
    a = make_assistant()
    a.ingest([folder])
    doc = folder / "coda-written-request-openai.md"
    doc.write_text(doc.read_text(encoding="utf-8").replace("September 30, 2025", "October 1, 2025"), encoding="utf-8")
    report = a.ingest([folder])
    assert report.updated == ["coda-written-request-openai.md"]
    chunks = [c for c in _stored_chunks(a) if c.doc_id == "coda-written-request-openai.md"]
    assert len({c.doc_hash for c in chunks}) == 1
    assert not any("September 30, 2025" in c.text for c in chunks)
    assert "October 1, 2025" in a.ask("When did OpenAI launch Sora 2?").text
    total = sum(d.chunks for d in a.documents())
    assert a.store.count_chunks() == total


def test_keyword_and_vector_views_agree_after_updates(make_assistant, tmp_path):
    folder = _copy_corpus(tmp_path)
    a = make_assistant()
    a.ingest([folder])
    (folder / "techtimes-coda-sora2.md").write_text("---\ntitle: Short\n---\nA short replacement text about Sora.\n")
    a.ingest([folder])
    a.retriever.keywords.refresh()
    expected = sum(d.chunks for d in a.documents())
    assert a.store.count_chunks() == expected == a.retriever.keywords.size


def test_remove_deletes_document_and_chunks(assistant):
    assert assistant.remove("techtimes-coda-sora2.md")
    assert [d.doc_id for d in assistant.documents()] == ["coda-written-request-openai.md"]
    assert all(c.doc_id != "techtimes-coda-sora2.md" for c in _stored_chunks(assistant))
    assert not assistant.remove("techtimes-coda-sora2.md")
    assert not any(p.chunk.doc_id == "techtimes-coda-sora2.md" for p in assistant.search("Minoru Kiuchi"))


def test_bad_files_are_reported_and_the_rest_ingest(make_assistant, tmp_path):
    a = make_assistant()
    a.ingest([CORPUS])
    before = a.store.count_chunks()
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("The Zephyr project was started in 1999 by a small team in Oslo.\n")
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (folder / "zero.pdf").write_bytes(b"")
    report = a.ingest([folder])
    assert report.added == ["good.txt"]
    reasons = dict(report.failed)
    assert set(Path(p).name for p in reasons) == {"empty.txt", "binary.txt", "broken.pdf", "zero.pdf"}
    assert all("\n" not in r for r in reasons.values())
    assert not report.ok
    assert a.store.count_chunks() == before + sum(d.chunks for d in a.documents() if d.doc_id == "good.txt")
    assert "1999" in a.ask("When was the Zephyr project started?").text


def test_a_half_written_document_is_invisible_and_swept(make_assistant, tmp_path):
    """Simulate a crash between writing chunks and committing the document."""
    a = make_assistant()
    a.ingest([CORPUS])
    orphan = ChunkRecord(
        id="ghost.txt::deadbeef::000000",
        doc_id="ghost.txt",
        doc_hash="deadbeef",
        text="Ghost text about Sora 2 launch.",
        start=0,
        end=31,
        index=0,
        page=None,
        title="ghost",
        source="ghost.txt",
    )
    a.store.chunks.upsert(
        ids=[orphan.id],
        documents=[orphan.text],
        embeddings=a.embedder.embed([orphan.text]),
        metadatas=[
            {
                "doc_id": "ghost.txt",
                "doc_hash": "deadbeef",
                "start": 0,
                "end": 31,
                "index": 0,
                "page": -1,
                "title": "ghost",
                "source": "ghost.txt",
                "page_breaks": "[]",
            }
        ],
    )
    assert not any(p.chunk.doc_id == "ghost.txt" for p in a.search("Ghost text about Sora 2 launch", top_k=10))
    assert a.store.needs_sweep()
    a.ingest([CORPUS])  # the next ingest sweeps what no committed document owns
    assert not a.store.needs_sweep()
    assert all(c.doc_id != "ghost.txt" for c in _stored_chunks(a))


def test_chunks_fit_the_embedding_model(assistant):
    limit = assistant.embedder.max_tokens - 2
    for c in _stored_chunks(assistant):
        assert len(assistant.embedder.count_tokens(c.text)) <= limit
        assert assistant.document_text(c.doc_id)[c.start : c.end] == c.text


def test_ensure_corpus_indexes_only_an_empty_index(make_assistant):
    a = make_assistant()
    report = a.ensure_corpus()
    assert report is not None and len(report.added) == 2
    assert a.ensure_corpus() is None


def test_server_mode_ingests_and_answers(make_assistant, chroma_server, tmp_path):
    a = make_assistant(chroma_url=chroma_server)
    assert a.ingest([CORPUS]).ok
    answer = a.ask("When did OpenAI launch Sora 2?")
    assert "September 30, 2025" in answer.text
    # a second process-like client sees the same index
    b = make_assistant(chroma_url=chroma_server, data_dir=tmp_path / "other")
    assert [d.doc_id for d in b.documents()] == [d.doc_id for d in a.documents()]
    assert b.remove("coda-written-request-openai.md")
    assert "September 30, 2025" not in a.ask("When did OpenAI launch Sora 2?").text


def test_upload_is_stored_under_a_generated_name(make_assistant, tmp_path):
    from citewise import UploadError

    a = make_assistant()
    report = a.upload("../../etc/zephyr.txt", b"The Zephyr project was started in 1999 in Oslo.\n")
    assert report.ok and report.added == ["uploads/zephyr.txt"]
    (doc,) = a.documents()
    stored = Path(doc.source)
    assert stored.parent == (tmp_path / "data" / "uploads") and stored.name != "zephyr.txt"
    again = a.upload("zephyr.txt", b"The Zephyr project was started in 1999 in Oslo.\n")
    assert again.unchanged == ["uploads/zephyr.txt"]
    assert stored.exists() and [p.name for p in stored.parent.iterdir()] == [stored.name]  # no orphan copy
    a.upload("zephyr.txt", b"The Zephyr project was started in 2001 in Bergen.\n")
    assert not stored.exists()  # the replaced version's file is gone
    assert "2001" in a.ask("When was the Zephyr project started?").text
    for name, data, reason in [
        ("x.exe", b"MZ", "unsupported"),
        ("big.txt", b"x" * (51 * 2**20), "limit is 50 MB"),
        ("..", b"x", "not a usable file name"),
        ("empty.txt", b"", "empty"),
    ]:
        with pytest.raises(UploadError, match=reason):
            a.upload(name, data)
    assert a.remove("uploads/zephyr.txt")
    assert list((tmp_path / "data" / "uploads").iterdir()) == []


def test_reading_ahead_gives_the_same_index(make_assistant, tmp_path):
    """Reading and chunking files in a thread ahead of the embedding changes no chunk and no vector."""
    folder = _copy_corpus(tmp_path)
    pdf = SHARED / "datasets" / "llama_blockchain_solana" / "source_files" / "BlockchainSolana.pdf"
    if pdf.exists():
        shutil.copyfile(pdf, folder / "paper.pdf")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    indexes = []
    for read_ahead in (0, 4):
        a = make_assistant(data_dir=tmp_path / f"data-{read_ahead}")
        a.indexer.read_ahead = read_ahead
        report = a.ingest([folder])
        assert [p for p, _ in report.failed] == [str(folder / "broken.pdf")]
        got = a.store.chunks.get(include=["embeddings", "documents", "metadatas"])
        rows = sorted(zip(got["ids"], got["documents"], got["embeddings"], strict=True), key=lambda r: r[0])
        indexes.append((sorted(report.added), rows))
    (added0, rows0), (added4, rows4) = indexes
    assert added0 == added4 and len(rows0) == len(rows4) > 0
    for (id0, text0, vec0), (id4, text4, vec4) in zip(rows0, rows4, strict=True):
        assert (id0, text0) == (id4, text4)
        assert max(abs(x - y) for x, y in zip(vec0, vec4, strict=True)) < 1e-5


def _folder_of_notes(tmp_path: Path, bad: str = "") -> Path:
    folder = _copy_corpus(tmp_path)
    for i, town in enumerate(["Oslo", "Bergen", "Tromso", "Lund"]):
        (folder / f"note-{i}.txt").write_text(f"The Zephyr team {i} met in {town}. {bad if i == 2 else ''}\n")
    return folder


def test_embed_call_size_changes_no_chunk(make_assistant, tmp_path):
    """Chunks embedded 2 per call or 1,024 per call (sorted by length over the call): same chunks, same vectors."""
    folder = _folder_of_notes(tmp_path)
    indexes = []
    for window in (2, 1024):
        a = make_assistant(data_dir=tmp_path / f"data-{window}")
        a.indexer.batch_chunks = a.indexer.batch_docs = window
        report = a.ingest([folder])
        got = a.store.chunks.get(include=["embeddings", "documents"])
        indexes.append(
            (sorted(report.added), sorted(zip(got["ids"], got["documents"], got["embeddings"], strict=True)))
        )
    (added_small, rows_small), (added_big, rows_big) = indexes
    assert added_small == added_big and len(added_big) == 6 and len(rows_small) == len(rows_big)
    for (id_s, text_s, vec_s), (id_b, text_b, vec_b) in zip(rows_small, rows_big, strict=True):
        assert (id_s, text_s) == (id_b, text_b)
        # int8 quantizes each batch's activations with one scale, so a vector moves a little with its batch-mates
        assert sum(x * y for x, y in zip(vec_s, vec_b, strict=True)) > 0.98


def test_a_failed_embed_call_commits_none_of_its_documents(make_assistant, tmp_path):
    """Each document commits all or nothing whatever the embed call size: a failing call commits none of its own."""
    from citewise.index.embed import SentenceEmbedder

    class Exploding(SentenceEmbedder):
        def embed(self, texts: list[str]) -> list[list[float]]:
            if any("EXPLODE" in t for t in texts):
                raise RuntimeError("the model failed")
            return super().embed(texts)

    folder = _folder_of_notes(tmp_path, bad="EXPLODE")
    for window, committed in ((1024, set()), (1, {"note-0.txt", "note-1.txt"})):
        a = make_assistant(data_dir=tmp_path / f"data-{window}")
        a.indexer.embedder = Exploding(backend=a.embedder.backend)
        a.indexer.batch_chunks = a.indexer.batch_docs = window
        with pytest.raises(RuntimeError, match="the model failed"):
            a.ingest(sorted(folder.glob("note-*.txt")))
        assert {d.doc_id for d in a.documents()} == committed
        assert a.store.count_chunks() == sum(d.chunks for d in a.documents())
