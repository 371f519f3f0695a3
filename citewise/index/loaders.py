"""Read documents of each supported format into plain text with page spans and metadata."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citewise.errors import CitewiseError, reason

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
MAX_FILE_BYTES = 200 * 1024 * 1024
# Most text one document may hold: about 1,000 book pages, ~13,000 chunks. Chunking and
# embedding take minutes per MB of text on 2 CPU cores (measured in the README's
# "Reliability" section), so a larger file would tie up ingest for hours; split it instead.
MAX_TEXT_CHARS = 5_000_000
_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
# Zip-based formats (.docx) are checked against these before anything is unpacked: a 1 MB
# file can unpack to gigabytes ("zip bomb"). The sizes are the ones the zip declares; Python's
# zipfile never returns more than that (a lying entry fails its CRC check instead).
ZIP_MAX_ENTRIES = 2_000  # files inside one .docx
ZIP_MAX_UNPACKED = 256 * 2**20  # all of them together, unpacked (images included)
ZIP_MAX_XML_PART = 48 * 2**20  # one XML part (document.xml of ~5 million characters is ~25 MB)
# A name (or path) longer than this is shortened in the middle in messages, to keep them one line.
_SHOW_CHARS = 120
# A line that names an author or a date is never a title ("Written by Paul Graham", "By Jane Doe").
# a month is written from its first three letters on ("Sep", "Sept.", "September"); `conflicts` reads dates with them
MONTH_PREFIXES = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_MONTH = rf"(?:{MONTH_PREFIXES})[a-z]*\.?"
_BYLINE = re.compile(
    r"^(?:(?:written|posted|published|reported|edited|story|text|words|photos?|compiled)\s+)?by\s+\S"
    r"|^(?:author|authors|byline|posted|published|updated|date)\s*:"
    rf"|^(?:{_MONTH}\s+(?:\d{{1,2}},?\s+)?\d{{4}}|\d{{1,2}}\s+{_MONTH}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})$",
    re.I,
)
_HEADING = re.compile(r"^#{1,6}\s+(\S.*?)\s*#*\s*$")
_RULE = re.compile(r"^([=\-~^*+#`'\".:_])\1*$")  # a line of one punctuation mark: an underline or a rule
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)


class LoadError(CitewiseError):
    """A file cannot be indexed; the message is one line that says why."""

    status = 400
    code = "unreadable_document"


@dataclass
class LoadedDocument:
    """A document's text as indexed, with where its pages start and end in that text."""

    text: str
    title: str
    source: str
    kind: str
    metadata: dict[str, str] = field(default_factory=dict)
    # (page number, start offset, end offset) in ``text``; empty for formats without pages
    pages: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        """Hash of the text and metadata: what decides whether a re-ingest changes anything."""
        h = hashlib.sha256(self.text.encode("utf-8"))
        h.update(repr(sorted(self.metadata.items())).encode("utf-8"))
        h.update(self.title.encode("utf-8"))
        return h.hexdigest()

    def page_at(self, offset: int) -> int | None:
        """The page holding character ``offset``, or None for formats without pages."""
        for number, start, end in self.pages:
            if start <= offset < end:
                return number
        return self.pages[-1][0] if self.pages else None


def doc_id_for(path: Path, root: Path | None = None) -> str:
    """A stable id for a file: its path relative to the ingest root, with / separators."""
    try:
        rel = path.resolve().relative_to(root.resolve()) if root else Path(path.name)
    except ValueError:
        rel = Path(path.name)
    return rel.as_posix()


def decode_text(data: bytes, name: str) -> str:
    """Decode bytes as UTF-8 (with or without BOM), UTF-16 with BOM, or Latin-1 text."""
    if not data.strip():
        raise LoadError(f"{name}: file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise LoadError(f"{name}: not valid UTF-16 text") from None
    elif b"\x00" in data[:8192]:
        raise LoadError(f"{name}: looks like a binary file, not text")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    control = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if control > max(8, len(text[:8192]) // 20):
        raise LoadError(f"{name}: looks like a binary file, not text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LoadError(f"{name}: file has no text")
    return text


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split YAML front matter (``---`` block) from a Markdown body."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    import yaml

    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError:
        return {}, text
    if not isinstance(meta, dict):
        return {}, text
    return {str(k): str(v) for k, v in meta.items() if v is not None}, text[m.end() :]


def short_path(path: Path | str) -> str:
    """``path`` as text, shortened in the middle if long, so a message stays one readable line."""
    text = str(path).replace("\n", " ")
    if len(text) <= _SHOW_CHARS:
        return text
    return f"{text[:40]}…{text[-(_SHOW_CHARS - 41) :]}"


def _heading(lines: list[str], i: int) -> str:
    """Line ``i`` as a heading's text: "# Title", or a line underlined ("Title" + "=====", the
    setext headings of Markdown and reStructuredText); "" when it is none."""
    m = _HEADING.match(lines[i])
    if m:
        return m.group(1)
    below = lines[i + 1] if i + 1 < len(lines) else ""
    if lines[i] and not _RULE.match(lines[i]) and _RULE.match(below) and len(below) >= 3:
        return lines[i]
    return ""


def _first_line_title(text: str, fallback: str) -> str:
    """The first heading near the top (Markdown "#", or underlined), else the first line that is
    no byline or date, no reStructuredText directive (".. _label:") and not only punctuation."""
    lines = [line.strip() for line in text.splitlines()[:60]]
    for i in range(len(lines)):
        heading = _heading(lines, i)
        if heading and not _BYLINE.match(heading):
            return heading[:200]
    for line in lines:
        line = line.lstrip("#").strip()
        if line and not _BYLINE.match(line) and not line.startswith(".. ") and not _RULE.match(line):
            return line[:200]
    return fallback


def _load_plain(path: Path) -> LoadedDocument:
    text = decode_text(path.read_bytes(), path.name)
    meta: dict[str, str] = {}
    if path.suffix.lower() in (".md", ".markdown"):
        meta, text = split_front_matter(text)
        if not text.strip():
            raise LoadError(f"{path.name}: file has no text after its front matter")
    title = meta.pop("title", "") or _first_line_title(text, path.stem)
    return LoadedDocument(text=text, title=title, source=str(path), kind=path.suffix.lower().lstrip("."), metadata=meta)


# How an HTML page reads: block elements start a paragraph, line elements a line; everything else
# (links, code, emphasis, ...) runs on inside its sentence, and the page source's own line breaks
# are spaces, as a browser renders them. (BeautifulSoup's get_text("\n") broke a sentence at every
# inline tag: "We need to use <tt>feof()</tt> to check ..." became three lines.)
_HTML_BLOCKS = (
    *("address", "article", "aside", "blockquote", "center", "details", "dialog", "div", "dl", "fieldset"),
    *("figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main"),
    *("nav", "ol", "p", "pre", "section", "summary", "table", "ul"),
)
_HTML_LINES = ("br", "li", "tr", "dt", "dd", "option", "caption")
_PARA, _LINE, _SPACE = "\x02", "\x01", "\x03"  # marks for breaks and <pre> spaces while whitespace collapses
_BREAKS = re.compile(r"[ \x01\x02]*[\x01\x02][ \x01\x02]*")


def html_text(soup: Any) -> str:
    """The text of a parsed page as it reads: paragraphs apart, sentences whole, <pre> lines kept."""
    from bs4 import NavigableString

    for pre in soup.find_all("pre"):
        for string in list(pre.find_all(string=True)):
            if type(string) is NavigableString:
                string.replace_with(
                    string.replace("\r\n", "\n").replace("\n", _LINE).replace(" ", _SPACE).replace("\t", _SPACE)
                )
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before(_PARA)
        tag.insert_after(_PARA)
    for tag in soup.find_all(_HTML_LINES):
        if tag.name == "br":
            tag.replace_with(_LINE)
        else:
            tag.insert_before(_LINE)
    for tag in soup.find_all(["td", "th"]):
        tag.insert_after(" ")
    text = re.sub(r"\s+", " ", soup.get_text(""))

    def breaks(m: re.Match[str]) -> str:
        run = m.group(0)
        return "\n\n" if _PARA in run or run.count(_LINE) > 1 else "\n"

    text = _BREAKS.sub(breaks, text)
    return text.replace(_SPACE, " ").strip() + "\n"


def _load_html(path: Path) -> LoadedDocument:
    from bs4 import BeautifulSoup

    raw = decode_text(path.read_bytes(), path.name)
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    h1 = soup.find("h1")
    title = title or (h1.get_text(" ", strip=True) if h1 else "")
    text = html_text(soup)
    if not text.strip():
        raise LoadError(f"{path.name}: HTML page has no text")
    return LoadedDocument(text=text, title=title or _first_line_title(text, path.stem), source=str(path), kind="html")


# PDFium is not thread-safe, not even across documents: one call at a time in this process.
_PDFIUM_LOCK = threading.Lock()
# Control characters PDFium may leave in page text, except \x02: its mark for a hyphen at a line end
# (\ufffe, its other mark, becomes \x02), which `whole_words` resolves.
_PDF_CONTROL = re.compile(r"[\x00\x01\x03-\x08\x0b-\x1f\x7f]")
_SOFT_HYPHEN = re.compile(r"(\S*?)(\w+)\x02[ \t]*(?:\n[ \t]*)?(\w+)(\S*)([ \t]+|(?=\n)|$)")
_WORDS = re.compile(r"\w+(?:-\w+)*")
_PYPDF_HYPHEN = re.compile(r"(?<=\w)-\n(?=\w)")


def dehyphenate(pages: list[str]) -> list[str]:
    """Pages with each word PDFium marked as hyphenated at a line end (``\\x02``) made whole again.

    A typeset line break splits "integrity" into "in-" and "tegrity". The two parts are joined
    (the line then breaks after the word) unless they form a compound, judged on the document's
    own words (those broken at a line end left out): the part before the break already holds a
    hyphen ("time-to" + "market"); the second part starts with a capital or a digit, or the
    first is written in capitals ("COVID" + "19"); or the joined form is no word of the
    document while the hyphenated form is, or both parts are ("open" + "source"). "in" +
    "tegrity", "us" + "ers" and "block" + "chain" (the document writes "blockchain") are joined.
    """
    counts: Counter[str] = Counter()
    for w in _WORDS.findall(_SOFT_HYPHEN.sub(" ", "\n".join(pages)).lower()):
        counts[w] += 1
        if "-" in w:
            counts.update(w.split("-"))  # each part of a compound is a word of the document too

    def resolve(m: re.Match[str]) -> str:
        before, left, right = m.group(1), m.group(2), m.group(3)
        joined, hyphened = (left + right).lower(), f"{left}-{right}".lower()
        if "-" in before or not right[0].islower() or (len(left) > 1 and left.isupper()):
            compound = True
        elif counts[joined]:
            compound = False
        else:
            compound = bool(counts[hyphened] or (counts[left.lower()] and counts[right.lower()]))
        word = f"{before}{left}-{right}" if compound else f"{before}{left}{right}"
        # the line breaks after the whole word instead of inside it: lines keep their lengths, which
        # tell a line wrapped inside a sentence from a short last line (`chunking.sentence_spans`)
        return word + m.group(4) + ("\n" if m.group(5) else "")

    return [_SOFT_HYPHEN.sub(resolve, page) for page in pages]


def whole_words(pages: list[str]) -> list[str]:
    """Either reader's pages with the words hyphenated at a line end resolved by `dehyphenate`.

    pypdf writes such a hyphen as "-" and a line break: it is marked like PDFium's, one rule for
    both; a mark `dehyphenate` leaves (nothing to join it to) becomes a plain hyphen.
    """
    return [t.replace("\x02", "-") for t in dehyphenate([_PYPDF_HYPHEN.sub("\x02", t) for t in pages])]


def _load_pdf(path: Path) -> LoadedDocument:
    if path.stat().st_size == 0:
        raise LoadError(f"{path.name}: file is empty")
    page_texts, title = _pdfium_pages(path) or _pypdf_pages(path)  # pypdf only for a file PDFium cannot open
    page_texts = whole_words(page_texts)
    parts: list[str] = []
    pages: list[tuple[int, int, int]] = []
    offset = 0
    for number, page_text in enumerate(page_texts, start=1):
        chunk = page_text + "\n\n"
        pages.append((number, offset, offset + len(chunk)))
        parts.append(chunk)
        offset += len(chunk)
    text = "".join(parts)
    if not text.strip():
        raise LoadError(f"{path.name}: PDF has no extractable text (scanned images need OCR first)")
    return LoadedDocument(
        text=text, title=title or _first_line_title(text, path.stem), source=str(path), kind="pdf", pages=pages
    )


def _pdfium_pages(path: Path) -> tuple[list[str], str] | None:
    """Each page's text and the title, read with PDFium (pypdfium2); None if it cannot read the file.

    PDFium is an order of magnitude faster than pypdf (0.18 s against 2.6 s on a 27-page paper) with the same
    lines. A hyphen at a line end comes back as PDFium marks it (``\\x02``), for `dehyphenate`.
    """
    try:
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c
    except ImportError:
        return None
    with _PDFIUM_LOCK:  # everything, closing included: a finalizer in another thread would race
        try:
            document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
                raise LoadError(f"{path.name}: PDF is encrypted; decrypt it first") from None
            return None
        try:
            texts = [_pdfium_page_text(document, i) for i in range(len(document))]
            title = str(document.get_metadata_dict().get("Title") or "").strip()
        except pdfium.PdfiumError:
            return None  # a page PDFium cannot load: let pypdf try the whole file
        finally:
            document.close()
    return texts, title


def _pdfium_page_text(document: Any, index: int) -> str:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            raw = textpage.get_text_bounded()  # full Unicode (get_text_range is UCS-2 only)
        finally:
            textpage.close()
    finally:
        page.close()
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffe", "\x02")
    return _PDF_CONTROL.sub("", text).strip()


def _pypdf_pages(path: Path) -> tuple[list[str], str]:
    """Each page's text and the title, read with pypdf (the fallback for files PDFium refuses)."""
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except Exception:
                opened = False
            if not opened:
                raise LoadError(f"{path.name}: PDF is encrypted; decrypt it first")
        texts = [(page.extract_text() or "").replace("\r\n", "\n").strip() for page in reader.pages]
        info: Any = reader.metadata or {}
        title = str(info.get("/Title") or "").strip()
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise LoadError(f"{path.name}: PDF is damaged or unreadable ({type(exc).__name__})") from None
    return texts, title


def check_zip(path: Path, kind: str) -> None:
    """Refuse a zip-based file whose entry count or unpacked size is over the limits, before unpacking."""
    import zipfile

    with open(path, "rb") as fh:
        try:
            end = zipfile._EndRecData(fh)  # type: ignore[attr-defined]  # the end record only: no entry list yet
        except OSError:
            end = None
        if not end:
            raise LoadError(f"{path.name}: {kind} is damaged or unreadable (not a zip archive)")
        entries = int(end[zipfile._ECD_ENTRIES_TOTAL])  # type: ignore[attr-defined]
        if entries > ZIP_MAX_ENTRIES:
            raise LoadError(f"{path.name}: {kind} holds {entries:,} files; the limit is {ZIP_MAX_ENTRIES:,}")
        try:
            infos = zipfile.ZipFile(fh).infolist()
        except (zipfile.BadZipFile, ValueError, EOFError) as exc:
            raise LoadError(f"{path.name}: {kind} is damaged or unreadable ({reason(exc, 160)})") from None
    if len(infos) > ZIP_MAX_ENTRIES:
        raise LoadError(f"{path.name}: {kind} holds {len(infos):,} files; the limit is {ZIP_MAX_ENTRIES:,}")
    total = sum(i.file_size for i in infos)
    if total > ZIP_MAX_UNPACKED:
        raise LoadError(
            f"{path.name}: {kind} would unpack to {total / 2**20:,.0f} MB; the limit is {ZIP_MAX_UNPACKED // 2**20} MB"
        )
    for info in infos:
        if info.filename.lower().endswith((".xml", ".rels")) and info.file_size > ZIP_MAX_XML_PART:
            raise LoadError(
                f"{path.name}: {kind} part {short_path(info.filename)} would unpack to "
                f"{info.file_size / 2**20:,.0f} MB; the limit is {ZIP_MAX_XML_PART // 2**20} MB per part"
            )


def _load_docx(path: Path) -> LoadedDocument:
    import docx

    check_zip(path, "DOCX")
    document = docx.Document(str(path))  # any error: load_document makes it this file's one-line reason
    heading = next(
        (p.text.strip() for p in document.paragraphs if p.style is not None and _is_heading(p.style.name)), ""
    )
    paragraphs = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text for cell in row.cells))
    text = "\n".join(p for p in paragraphs if p.strip())
    if not text.strip():
        raise LoadError(f"{path.name}: DOCX has no text")
    title = (document.core_properties.title or "").strip() or heading
    return LoadedDocument(
        text=text + "\n", title=title or _first_line_title(text, path.stem), source=str(path), kind="docx"
    )


def _is_heading(style: str | None) -> bool:
    return bool(style) and (style == "Title" or str(style).startswith("Heading"))


_LOADERS = {
    ".txt": _load_plain,
    ".md": _load_plain,
    ".markdown": _load_plain,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
    ".docx": _load_docx,
}


def load_document(path: Path) -> LoadedDocument:
    """Load one file.

    Raises:
        LoadError: the file is empty, binary, undecodable, damaged, encrypted, too large
            or of an unsupported type.
    """
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise LoadError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoadError(f"{short_path(path.name)}: cannot read file ({exc.strerror or type(exc).__name__})") from None
    if size > MAX_FILE_BYTES:
        raise LoadError(f"{path.name}: file is larger than {MAX_FILE_BYTES // 2**20} MB")
    if suffix in _TEXT_SUFFIXES and size > 4 * MAX_TEXT_CHARS:  # refuse before reading it
        raise LoadError(_too_long(path.name, f"{size / 2**20:.0f} MB"))
    try:
        doc = loader(path)
    except LoadError:
        raise
    except OSError as exc:
        raise LoadError(f"{path.name}: cannot read file ({exc.strerror or reason(exc, 160)})") from None
    except MemoryError:
        raise LoadError(_too_long(path.name, "too large to load")) from None
    except Exception as exc:  # any parser's error on a malformed file fails this file, never the batch
        kind = suffix.lstrip(".").upper()
        raise LoadError(
            f"{path.name}: {kind} is damaged or unreadable ({type(exc).__name__}: {reason(exc, 160)})"
        ) from None
    if len(doc.text) > MAX_TEXT_CHARS:
        raise LoadError(_too_long(path.name, f"{len(doc.text):,} characters"))
    return doc


def _too_long(name: str, what: str) -> str:
    return (
        f"{name}: document is {what}; the limit is {MAX_TEXT_CHARS:,} characters "
        "of text per document, so split it into smaller files"
    )


def find_files(paths: list[Path]) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """Expand files and folders (recursively) into (file, root) pairs, plus (path, one-line reason) problems.

    Hidden files and folders are skipped; files of unsupported type inside folders are
    skipped silently, while a file named directly is reported. A folder that cannot be
    read (no permission, a path too long) is a problem of its own; the rest is still found.
    """
    found: list[tuple[Path, Path]] = []
    problems: list[tuple[str, str]] = []
    for given in paths:
        try:
            mode = os.stat(given).st_mode
        except FileNotFoundError:
            problems.append((short_path(given), f"{short_path(given)}: no such file or folder"))
            continue
        except (OSError, ValueError) as exc:
            problems.append((short_path(given), f"{short_path(given)}: cannot read ({_reason(exc)})"))
            continue
        if stat.S_ISDIR(mode):
            found.extend((p, given) for p in _walk(given, problems))
        elif stat.S_ISREG(mode):
            found.append((given, given.parent))
        else:
            problems.append((short_path(given), f"{short_path(given)}: not a file or folder"))
    return found, problems


def _walk(root: Path, problems: list[tuple[str, str]]) -> list[Path]:
    """Supported files under ``root``, sorted; iterative, so any depth works; symlink loops are cut."""
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = list(it)
        except (OSError, ValueError) as exc:
            problems.append((short_path(folder), f"{short_path(folder)}: cannot read folder ({_reason(exc)})"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            try:
                if entry.is_dir():
                    stack.append(path)
                elif entry.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(path)
            except OSError as exc:
                problems.append((short_path(path), f"{short_path(path)}: cannot read ({_reason(exc)})"))
    return sorted(files)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or reason(exc, 160)
