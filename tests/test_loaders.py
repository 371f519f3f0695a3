"""Every supported format, and each kind of bad input, read by the real loaders."""

from __future__ import annotations

from pathlib import Path

import pytest

from citewise.index.loaders import LoadError, load_document, split_front_matter


def make_pdf(path: Path, pages: list[str], password: str | None = None) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        for line in text.splitlines():
            c.drawString(50, y, line)
            y -= 16
        c.showPage()
    c.save()
    if password:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.encrypt(password)
        with open(path, "wb") as fh:
            writer.write(fh)
    return path


def make_docx(path: Path, paragraphs: list[str], title: str = "") -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    for p in paragraphs:
        d.add_paragraph(p)
    d.save(str(path))
    return path


def test_markdown_front_matter_becomes_metadata(tmp_path):
    p = tmp_path / "a.md"
    p.write_text('---\ntitle: "T"\npublisher: P\n---\nBody line one.\n', encoding="utf-8")
    doc = load_document(p)
    assert doc.title == "T" and doc.metadata == {"publisher": "P"}
    assert doc.text == "Body line one.\n"


def test_front_matter_without_closing_fence_is_body():
    meta, body = split_front_matter("---\ntitle: x\nno end")
    assert meta == {} and body.startswith("---")


def test_txt_encodings(tmp_path):
    (tmp_path / "latin.txt").write_bytes("Café Zürich straße.\n".encode("latin-1"))
    (tmp_path / "utf16.txt").write_bytes("Ünïcode text in UTF-16.\n".encode("utf-16"))
    (tmp_path / "bom.txt").write_bytes("\ufeffWith a BOM.\r\nSecond line.\r\n".encode("utf-8"))
    assert load_document(tmp_path / "latin.txt").text.startswith("Café Zürich")
    assert load_document(tmp_path / "utf16.txt").text.startswith("Ünïcode")
    assert load_document(tmp_path / "bom.txt").text == "With a BOM.\nSecond line.\n"


def test_html_keeps_text_drops_scripts(tmp_path):
    p = tmp_path / "page.html"
    p.write_text(
        "<html><head><title>Page T</title><script>var x=1;</script></head>"
        "<body><h1>Heading</h1><p>Para &amp; text.</p></body></html>"
    )
    doc = load_document(p)
    assert doc.title == "Page T"
    assert "Para & text." in doc.text and "var x" not in doc.text


def test_html_sentences_stay_whole_across_inline_tags(tmp_path):
    """Links, code and emphasis run on inside their sentence, and the source's line breaks are
    spaces, as a browser shows them; paragraphs, list items and <br><br> still break; <pre> keeps
    its lines. (Each inline tag used to start a new line, and a source line break after one a new
    paragraph, so "We need to use <tt>feof()</tt> ..." was quoted as three fragments.)"""
    p = tmp_path / "essay.html"
    p.write_text(
        "<html><head><title>Kilns</title></head><body><table><tr><td><font size=2>"
        "We need to use <tt>feof()</tt>\nto check for the end of the <a href='f.html'>input\nfile</a>. "
        "It is <i>much</i> safer.<br><br>A second paragraph starts here, set apart by two breaks."
        "<ul><li>First item of the list.</li><li>Second item.</li></ul>"
        "<pre>int main() {\n    return 0;\n}</pre>"
        "<p>The kiln uses <b>zlib</b>.</p></font></td></tr></table></body></html>"
    )
    text = load_document(p).text
    assert "We need to use feof() to check for the end of the input file. It is much safer.\n\n" in text
    assert "\n\nA second paragraph starts here, set apart by two breaks." in text
    assert "\nFirst item of the list.\nSecond item.\n" in text
    assert "int main() {\n    return 0;\n}" in text
    assert "The kiln uses zlib." in text


def test_pdf_keeps_page_numbers(tmp_path):
    p = make_pdf(tmp_path / "two.pdf", ["Page one talks about apples.", "Page two talks about pears."])
    doc = load_document(p)
    assert [n for n, _, _ in doc.pages] == [1, 2]
    assert doc.page_at(doc.text.index("pears")) == 2
    assert doc.page_at(doc.text.index("apples")) == 1


def test_docx_paragraphs_and_title(tmp_path):
    p = make_docx(tmp_path / "d.docx", ["First paragraph.", "Second paragraph."], title="Doc Title")
    doc = load_document(p)
    assert doc.title == "Doc Title"
    assert "First paragraph.\nSecond paragraph." in doc.text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"   \n\n", "empty"),
        ("binary.txt", bytes(range(256)) * 10, "binary"),
        ("zero.pdf", b"", "empty"),
        ("corrupt.pdf", b"%PDF-1.7\n garbage garbage", "damaged"),
        ("corrupt.docx", b"PK\x03\x04 not a zip", "damaged"),
        ("notes.xyz", b"hello", "unsupported"),
    ],
)
def test_bad_files_get_one_line_reasons(tmp_path, name, content, reason):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(LoadError) as err:
        load_document(p)
    assert reason in str(err.value)
    assert "\n" not in str(err.value)
    assert name in str(err.value)


def test_encrypted_pdf_is_refused(tmp_path):
    p = make_pdf(tmp_path / "secret.pdf", ["Top secret text."], password="s3cret")
    with pytest.raises(LoadError, match="encrypted"):
        load_document(p)


def test_all_formats_ingest_and_answer(make_assistant, tmp_path):
    folder = tmp_path / "formats"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("The Aurora telescope was completed in 1987.\n")
    (folder / "b.md").write_text("# Borealis\n\nThe Borealis bridge is 412 metres long.\n")
    (folder / "c.html").write_text("<html><body><p>The Cygnus library holds 30,000 maps.</p></body></html>")
    make_pdf(folder / "sub" / "d.pdf", ["Intro page.", "The Draco tunnel opened in 2011."])
    make_docx(folder / "sub" / "e.docx", ["The Eridanus canal was dug by hand."])
    a = make_assistant()
    report = a.ingest([folder])
    assert report.ok, report.failed
    assert sorted(report.added) == ["a.txt", "b.md", "c.html", "sub/d.pdf", "sub/e.docx"]
    answer = a.ask("When did the Draco tunnel open?")
    assert "2011" in answer.text
    assert answer.citations[0].page == 2
    assert (
        a.document_text("sub/d.pdf")[answer.citations[0].start : answer.citations[0].end] == answer.citations[0].quote
    )


@pytest.mark.parametrize(
    ("name", "content", "title"),
    [
        (
            "essay.txt",
            "Written by Paul Graham\n\nHow to Do Great Work\n\nIf you collected lists...\n",
            "How to Do Great Work",
        ),
        ("post.md", "By Jane Doe\n\nMarch 2024\n\n# The Real Title\n\nBody text here.\n", "The Real Title"),
        (
            "note.txt",
            "Posted by admin\nAuthor: Jane Doe\nQuarterly harbour report\nText.\n",
            "Quarterly harbour report",
        ),
        ("page.html", "<html><body><p>By Jane Doe</p><h1>Harbour News</h1><p>Text.</p></body></html>", "Harbour News"),
        # reStructuredText: a label directive first, then the underlined heading
        (
            "tides.txt",
            ".. _tide_tables:\n\nTide tables of the north harbour\n================================\n\nText.\n",
            "Tide tables of the north harbour",
        ),
        ("ferry.md", "Ferry timetable\n---------------\n\nBoats leave hourly.\n", "Ferry timetable"),
    ],
)
def test_title_is_metadata_or_first_heading_never_a_byline(tmp_path, name, content, title):
    p = tmp_path / name
    p.write_text(content)
    assert load_document(p).title == title


def test_docx_title_is_its_first_heading_not_a_byline(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("Written by Paul Graham")
    d.add_heading("How to Do Great Work", level=1)
    d.add_paragraph("Body text.")
    d.save(str(tmp_path / "e.docx"))
    assert load_document(tmp_path / "e.docx").title == "How to Do Great Work"


def test_any_parser_error_is_this_files_one_line_reason(tmp_path):
    import zipfile

    p = make_docx(tmp_path / "bad.docx", ["Fine."])
    with zipfile.ZipFile(p) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts["word/document.xml"] = b"<w:document><w:body><w:p>unclosed"
    with zipfile.ZipFile(p, "w") as z:
        for n, blob in parts.items():
            z.writestr(n, blob)
    with pytest.raises(LoadError) as err:
        load_document(p)
    assert str(err.value).startswith("bad.docx: DOCX is damaged or unreadable (XMLSyntaxError")
    assert "\n" not in str(err.value)


def test_long_upload_names_keep_their_type():
    from citewise.index.uploads import UploadLimits, check_upload

    name = check_upload("n" * 130 + ".txt", 10, UploadLimits())
    assert name.endswith(".txt") and len(name) == 120
