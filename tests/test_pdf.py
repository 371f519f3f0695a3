"""PDF text through PDFium (pypdfium2), pypdf only when PDFium cannot read a file; pages and offsets exact."""

from __future__ import annotations

import sys
import threading

import pytest
from conftest import SHARED
from test_loaders import make_pdf

from citewise.index import loaders
from citewise.index.loaders import LoadError, load_document

BLOCKCHAIN = SHARED / "datasets" / "llama_blockchain_solana" / "source_files" / "BlockchainSolana.pdf"


def _tiles(doc: loaders.LoadedDocument) -> None:
    """The page spans cover the text exactly, one after the other, in page order."""
    assert [n for n, _, _ in doc.pages] == list(range(1, len(doc.pages) + 1))
    assert doc.pages[0][1] == 0 and doc.pages[-1][2] == len(doc.text)
    for (_, _, end), (_, start, _) in zip(doc.pages, doc.pages[1:], strict=False):
        assert end == start


def test_pdf_text_comes_from_pdfium_with_pages(tmp_path):
    p = make_pdf(tmp_path / "two.pdf", ["The Draco tunnel opened in 2011.\nIt is 3 km long.", "Page two: pears."])
    read = loaders._pdfium_pages(p)
    assert read is not None, "PDFium read the file"
    assert read[0] == ["The Draco tunnel opened in 2011.\nIt is 3 km long.", "Page two: pears."]
    doc = load_document(p)
    assert doc.text == "The Draco tunnel opened in 2011.\nIt is 3 km long.\n\nPage two: pears.\n\n"
    _tiles(doc)
    assert doc.page_at(doc.text.index("pears")) == 2 and doc.page_at(doc.text.index("Draco")) == 1


def test_without_pypdfium2_pypdf_reads_the_same_pages(tmp_path, monkeypatch):
    p = make_pdf(tmp_path / "two.pdf", ["Page one talks about apples.", "Page two talks about pears."])
    with_pdfium = load_document(p)
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # import fails: the pypdf fallback
    assert loaders._pdfium_pages(p) is None
    with_pypdf = load_document(p)
    assert with_pypdf.text == with_pdfium.text and with_pypdf.pages == with_pdfium.pages


@pytest.mark.parametrize("cut", ["junk", "truncated"])
def test_a_pdf_neither_reader_opens_is_one_line_damaged(tmp_path, cut):
    good = make_pdf(tmp_path / "good.pdf", ["Some text."]).read_bytes()
    bad = tmp_path / f"{cut}.pdf"
    bad.write_bytes(b"x" * 2048 + good if cut == "junk" else good[: len(good) * 3 // 4])
    assert loaders._pdfium_pages(bad) is None  # PDFium refuses it, so pypdf is asked too
    with pytest.raises(LoadError) as err:
        load_document(bad)
    assert "damaged" in err.value.message and bad.name in err.value.message and "\n" not in err.value.message


def test_user_password_is_encrypted_owner_password_only_opens(tmp_path):
    locked = make_pdf(tmp_path / "locked.pdf", ["Top secret text."], password="s3cret")
    with pytest.raises(LoadError, match="encrypted; decrypt it first"):
        loaders._pdfium_pages(locked)

    from pypdf import PdfReader, PdfWriter

    open_pdf = make_pdf(tmp_path / "owner.pdf", ["Readable by anyone."])
    writer = PdfWriter(clone_from=PdfReader(str(open_pdf)))
    writer.encrypt(user_password="", owner_password="owner-only")
    with open(open_pdf, "wb") as fh:
        writer.write(fh)
    assert "Readable by anyone." in load_document(open_pdf).text


def test_threads_loading_pdfs_at_once_all_get_their_text(tmp_path):
    """PDFium is not thread-safe; the loader serialises it (an upload and an ingest at once)."""
    files = [make_pdf(tmp_path / f"f{n}.pdf", [f"File {n} page one.", f"File {n} page two."]) for n in range(6)]
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(5):
                results[n] = load_document(files[n]).text
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(files))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert results == {n: f"File {n} page one.\n\nFile {n} page two.\n\n" for n in range(len(files))}


@pytest.mark.skipif(not BLOCKCHAIN.exists(), reason="the shared blockchain dataset is not on this machine")
def test_blockchain_paper_loads_with_pages_and_pypdf_lines():
    doc = load_document(BLOCKCHAIN)
    assert doc.kind == "pdf" and len(doc.pages) == 27
    _tiles(doc)
    assert doc.title.startswith("From Bitcoin to Solana")
    assert "\r" not in doc.text and "\ufffe" not in doc.text and "\x02" not in doc.text
    # a word hyphenated at a typeset line end is whole again; a compound keeps its hyphen
    assert "the required security and integrity that blockchain systems" in " ".join(doc.text.split())
    assert "in-\ntegrity" not in doc.text and "peer-to-peer" in doc.text
    assert doc.page_at(doc.text.index("chain market size is expected to grow")) == 2
    old, _title = loaders._pypdf_pages(BLOCKCHAIN)
    old = loaders.whole_words(old)
    pages = [doc.text[start:end] for _, start, end in doc.pages]
    for before, now in zip(old, pages, strict=True):  # the same words on each page, give or take a split
        assert abs(len(before.split()) - len(now.split())) <= 3


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        # a word split by a line break is joined; the line then breaks after the word, not inside it
        (
            ["The ledger keeps its in\x02tegrity.", "Integrity matters."],
            ["The ledger keeps its integrity.", "Integrity matters."],
        ),
        (["Each of the us\x02ers signs the block."], ["Each of the users\nsigns the block."]),
        # the part before the break holds a hyphen: a compound
        (["It cut the time-to\x02market in half."], ["It cut the time-to-market\nin half."]),
        # a capital or digit after the break, or an acronym before it: a compound
        (["A COVID\x0219 test and a pre\x02Bitcoin era."], ["A COVID-19\ntest and a pre-Bitcoin\nera."]),
        # both parts are words of the document and the joined form is not: a compound
        (["It is open\x02source.", "The source is open to all."], ["It is open-source.", "The source is open to all."]),
        # the document writes the joined form: joined, even though both parts are words
        (
            ["A block\x02chain of blocks.", "The blockchain grows."],
            ["A blockchain\nof blocks.", "The blockchain grows."],
        ),
        # a line break after the mark; a word ending its line; a mark at the very end is left for the caller
        (
            ["the in\x02\ntegrity, of it", "keeps in\x02tegrity\nof it", "ends with\x02"],
            ["the integrity,\nof it", "keeps integrity\nof it", "ends with\x02"],
        ),
    ],
)
def test_a_word_hyphenated_at_a_line_end_is_made_whole(pages, expected):
    assert loaders.dehyphenate(pages) == expected


def test_pypdf_line_end_hyphens_are_resolved_like_pdfiums(tmp_path, monkeypatch):
    path = make_pdf(
        tmp_path / "wrap.pdf", ["The nodes keep the in-\ntegrity of the ledger and its peer-to-", "peer links."]
    )
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # the pypdf fallback
    text = load_document(path).text
    assert "in-" not in text and "integrity of the ledger" in " ".join(text.split())
