"""Bad input: each kind gets a one-line error or a correct answer, and nothing indexed is lost.

Covered elsewhere and not repeated here: loader-level reasons (tests/test_loaders.py),
a mixed folder of bad files (tests/test_ingest.py), bad questions (tests/test_answers.py).
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from conftest import CORPUS
from test_loaders import make_pdf

from citewise import UploadError
from citewise.rag.chat import QuestionError


def _snapshot(assistant) -> tuple[list[tuple[str, str, int]], list[str], str]:
    """Everything that makes up the index: registry, chunk ids, revision."""
    docs = sorted((d.doc_id, d.doc_hash, d.chunks) for d in assistant.documents())
    return docs, sorted(c.id for c in assistant.store.all_chunks()), assistant.store.revision()


def _bad_files(folder: Path) -> dict[str, str]:
    """name -> the words its one-line reason must hold."""
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "zero.pdf").write_bytes(b"")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage\n%%EOF")
    make_pdf(folder / "locked.pdf", ["The vault code is 4471."], password="s3cret")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40
    (folder / "photo.txt").write_bytes(png)  # a binary file renamed .txt
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04")  # skipped inside a folder, refused when named
    return {
        "empty.txt": "empty",
        "zero.pdf": "empty",
        "corrupt.pdf": "damaged",
        "locked.pdf": "encrypted",
        "photo.txt": "binary",
    }


def test_bad_files_get_one_line_reasons_and_the_index_is_unchanged(assistant, tmp_path):
    folder = tmp_path / "bad"
    expected = _bad_files(folder)
    before = _snapshot(assistant)
    report = assistant.ingest([folder, folder / "slides.pptx", tmp_path / "missing.txt"])
    reasons = {Path(p).name: r for p, r in report.failed}
    assert set(reasons) == {*expected, "slides.pptx", "missing.txt"}
    for name, words in expected.items():
        assert words in reasons[name] and name in reasons[name]
    assert "unsupported file type .pptx" in reasons["slides.pptx"]
    assert "no such file" in reasons["missing.txt"]
    assert all("\n" not in r for r in reasons.values())
    assert report.added == [] and not report.ok
    assert _snapshot(assistant) == before
    assert "September 30, 2025" in assistant.ask("When did OpenAI launch Sora 2?").text


def test_latin1_and_utf16_text_are_indexed_and_quoted_verbatim(make_assistant, tmp_path):
    folder = tmp_path / "enc"
    folder.mkdir()
    (folder / "latin1.txt").write_bytes(
        "Le château de Chenonceau fut achevé en 1522 près de Tours.\n".encode("latin-1")
    )
    (folder / "utf16.txt").write_text("The Müller bridge in Zürich was opened in 1931.\n", encoding="utf-16")
    a = make_assistant()
    assert a.ingest([folder]).ok
    answer = a.ask("When was the Müller bridge in Zürich opened?")
    assert "1931" in answer.text and answer.citations[0].doc_id == "utf16.txt"
    assert "Müller" in answer.citations[0].quote
    text = a.document_text("latin1.txt")
    assert text is not None and "château" in text and "achevé" in text


def test_a_50_mb_text_file_is_refused_in_one_line_without_being_read(assistant, tmp_path):
    big = tmp_path / "huge.txt"
    line = b"The archive of the harbour office lists every ship that docked in the port.\n"
    with open(big, "wb") as fh:
        for _ in range(50 * 2**20 // len(line) + 1):
            fh.write(line)
    assert big.stat().st_size >= 50 * 2**20
    before = _snapshot(assistant)
    tracemalloc.start()
    try:
        report = assistant.ingest([big])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    ((_, reason),) = report.failed
    assert reason.startswith("huge.txt: document is 50 MB; the limit is 5,000,000 characters")
    assert "split it" in reason and "\n" not in reason
    assert peak < 10 * 2**20  # refused from its size: the 50 MB were never loaded
    assert _snapshot(assistant) == before


def test_text_over_the_character_limit_is_refused_after_decoding(make_assistant, tmp_path, monkeypatch):
    from citewise.index import loaders

    monkeypatch.setattr(loaders, "MAX_TEXT_CHARS", 1000)  # a small limit: the same path as 5 million
    text = "# Long\n\n" + "Many words here. " * 100
    (tmp_path / "long.md").write_text(text)
    a = make_assistant()
    report = a.ingest([tmp_path / "long.md"])
    ((_, reason),) = report.failed
    assert reason.startswith(f"long.md: document is {len(text):,} characters; the limit is 1,000 characters")
    assert a.documents() == []


@pytest.mark.slow
def test_5000_tiny_files_are_each_indexed_once(make_assistant, tmp_path):
    folder = tmp_path / "tiny"
    for group in range(10):
        sub = folder / f"g{group}"
        sub.mkdir(parents=True)
        for i in range(500):
            n = group * 500 + i
            (sub / f"n{n:04d}.txt").write_text(f"Tiny note {n} says parcel {n} weighs {n % 97 + 1} kilograms.\n")
    a = make_assistant()
    report = a.ingest([folder])
    assert report.ok and len(report.added) == 5000
    docs = a.documents()
    assert len(docs) == 5000 and a.store.count_chunks() == sum(d.chunks for d in docs) == 5000
    a.retriever.keywords.refresh()
    assert a.retriever.keywords.size == 5000
    hit = a.search("Tiny note 4321 parcel 4321", top_k=1)
    assert hit[0].chunk.doc_id == "g8/n4321.txt"
    again = a.ingest([folder])
    assert len(again.unchanged) == 5000 and again.chunks == 0


@pytest.mark.parametrize(
    ("name", "doc_id"),
    [
        ("../../outside.txt", "uploads/outside.txt"),
        ("/etc/cron.d/outside.txt", "uploads/outside.txt"),
        ("C:\\Windows\\System32\\outside.txt", "uploads/outside.txt"),
        ("..\\..\\outside.txt", "uploads/outside.txt"),
        ("sub/../../outside.txt\x00.exe", "uploads/outside.txt.exe"),
    ],
)
def test_upload_names_with_paths_stay_inside_the_data_folder(make_assistant, tmp_path, name, doc_id):
    a = make_assistant()
    data = b"The outside report was filed in 1977.\n"
    if doc_id.endswith(".exe"):
        with pytest.raises(UploadError, match="unsupported file type"):
            a.upload(name, data)
        assert a.documents() == []
        return
    report = a.upload(name, data)
    assert report.added == [doc_id]
    (doc,) = a.documents()
    stored = Path(doc.source)
    assert stored.parent == (tmp_path / "data" / "uploads").resolve() or stored.parent == tmp_path / "data" / "uploads"
    assert stored.name != "outside.txt" and stored.read_bytes() == data
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path.parent / "outside.txt").exists()


@pytest.mark.parametrize("name", ["/", "../..", "...", "\x00", "C:\\"])
def test_unusable_upload_names_are_refused_and_nothing_is_lost(assistant, name):
    before = _snapshot(assistant)
    with pytest.raises(UploadError, match="not a usable file name") as err:
        assistant.upload(name, b"some text")
    assert "\n" not in str(err.value)
    assert _snapshot(assistant) == before


def test_bad_questions_lose_nothing_and_good_odd_ones_answer(assistant):
    before = _snapshot(assistant)
    for bad in ["", " \t\n ", "\x00\x07\x1b", "x" * 100_000, "?" * 4001]:
        with pytest.raises(QuestionError) as err:
            assistant.ask(bad)
        assert "\n" not in str(err.value)
    answer = assistant.ask("When\x00 did OpenAI\u200b launch\x1b[31m Sora 2?")
    assert "September 30, 2025" in answer.text
    japanese = assistant.ask("OpenAIはSora 2をいつ公開しましたか？")
    assert isinstance(japanese.refused, bool)
    for c in japanese.citations:
        assert assistant.document_text(c.doc_id)[c.start : c.end] == c.quote
    assert _snapshot(assistant) == before
    assert len(assistant.documents()) == len({p.name for p in CORPUS.glob("*.md")})
