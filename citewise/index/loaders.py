"""Read documents of each supported format into plain text with page spans and metadata."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
MAX_FILE_BYTES = 200 * 1024 * 1024
# Most text one document may hold: about 1,000 book pages, ~13,000 chunks. Chunking and
# embedding take minutes per MB of text on 2 CPU cores (measured in the README's
# "Reliability" section), so a larger file would tie up ingest for hours; split it instead.
MAX_TEXT_CHARS = 5_000_000
_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)


class LoadError(Exception):
    """A file cannot be indexed; the message is one line that says why."""


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


def _first_line_title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
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


def _load_html(path: Path) -> LoadedDocument:
    from bs4 import BeautifulSoup

    raw = decode_text(path.read_bytes(), path.name)
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    text = soup.get_text("\n")
    text = re.sub(r"[ \t\xa0]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n\n", text).strip() + "\n"
    if not text.strip():
        raise LoadError(f"{path.name}: HTML page has no text")
    return LoadedDocument(text=text, title=title or _first_line_title(text, path.stem), source=str(path), kind="html")


def _load_pdf(path: Path) -> LoadedDocument:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if path.stat().st_size == 0:
        raise LoadError(f"{path.name}: file is empty")
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except Exception:
                opened = False
            if not opened:
                raise LoadError(f"{path.name}: PDF is encrypted; decrypt it first")
        parts: list[str] = []
        pages: list[tuple[int, int, int]] = []
        offset = 0
        for number, page in enumerate(reader.pages, start=1):
            page_text = (page.extract_text() or "").replace("\r\n", "\n").strip()
            chunk = page_text + "\n\n"
            pages.append((number, offset, offset + len(chunk)))
            parts.append(chunk)
            offset += len(chunk)
        info: Any = reader.metadata or {}
        title = str(info.get("/Title") or "").strip()
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise LoadError(f"{path.name}: PDF is damaged or unreadable ({type(exc).__name__})") from None
    text = "".join(parts)
    if not text.strip():
        raise LoadError(f"{path.name}: PDF has no extractable text (scanned images need OCR first)")
    return LoadedDocument(
        text=text, title=title or _first_line_title(text, path.stem), source=str(path), kind="pdf", pages=pages
    )


def _load_docx(path: Path) -> LoadedDocument:
    import zipfile

    import docx
    from docx.opc.exceptions import OpcError

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, OpcError, KeyError, ValueError, OSError) as exc:
        raise LoadError(f"{path.name}: DOCX is damaged or unreadable ({type(exc).__name__})") from None
    paragraphs = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text for cell in row.cells))
    text = "\n".join(p for p in paragraphs if p.strip())
    if not text.strip():
        raise LoadError(f"{path.name}: DOCX has no text")
    title = (document.core_properties.title or "").strip()
    return LoadedDocument(
        text=text + "\n", title=title or _first_line_title(text, path.stem), source=str(path), kind="docx"
    )


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
        raise LoadError(f"{path.name}: cannot read file ({exc.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise LoadError(f"{path.name}: file is larger than {MAX_FILE_BYTES // 2**20} MB")
    if suffix in _TEXT_SUFFIXES and size > 4 * MAX_TEXT_CHARS:  # refuse before reading it
        raise LoadError(_too_long(path.name, f"{size / 2**20:.0f} MB"))
    try:
        doc = loader(path)
    except LoadError:
        raise
    except OSError as exc:
        raise LoadError(f"{path.name}: cannot read file ({exc.strerror or exc})") from None
    except MemoryError:
        raise LoadError(_too_long(path.name, "too large to load")) from None
    if len(doc.text) > MAX_TEXT_CHARS:
        raise LoadError(_too_long(path.name, f"{len(doc.text):,} characters"))
    return doc


def _too_long(name: str, what: str) -> str:
    return (
        f"{name}: document is {what}; the limit is {MAX_TEXT_CHARS:,} characters "
        "of text per document, so split it into smaller files"
    )


def find_files(paths: list[Path]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Expand files and folders (recursively) into (file, root) pairs, plus one-line problems.

    Hidden files and folders are skipped; files of unsupported type inside folders are
    skipped silently, while a file named directly is reported.
    """
    found: list[tuple[Path, Path]] = []
    problems: list[str] = []
    for given in paths:
        if given.is_dir():
            for p in sorted(given.rglob("*")):
                rel_parts = p.relative_to(given).parts
                if any(part.startswith(".") for part in rel_parts):
                    continue
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append((p, given))
        elif given.is_file():
            found.append((given, given.parent))
        else:
            problems.append(f"{given}: no such file or folder")
    return found, problems
