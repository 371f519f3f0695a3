"""A real multi-file corpus, built offline from what is on this machine (issue 14: ingest on many files).

Three kinds of documents, written into one folder in a fixed order:

- ``pkg/``: the long description (the README) in each installed distribution's ``METADATA``
  in the venv, one file per distribution (``.md`` when it declares Markdown, else ``.txt``),
  those of 400 characters to 20 kB;
  which distributions and versions are installed is fixed by ``requirements.lock``, so the
  same lock gives the same files;
- ``squad/``: each paragraph of the shared SQuAD 2.0 dev subset (Wikipedia prose), one ``.txt`` each;
- ``pdf/``: the shared blockchain paper (27 pages) under several names: the same pages, but
  separate documents to both indexes, so PDF extraction is paid once per copy.

Nothing is downloaded. :func:`build` returns what was written (files per kind, bytes and
a SHA-256 over names and contents), which the benchmark records beside its figures.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shutil
import sysconfig
from pathlib import Path
from typing import Any

from bench.corpora import DATASET, PDF, SHARED

SQUAD = SHARED / "datasets" / "squad2_dev" / "dev-v2.0-subset.json"
MIN_README_CHARS = 400  # shorter descriptions are stubs ("UNKNOWN", one line)
# Longer ones (29 of 209 with the current lock, mostly full changelogs) are left out, so that two
# alternating rounds of both pipelines keep `make bench` near 25 minutes on 2 cores.
MAX_README_BYTES = 20_000


def package_readmes(limit: int | None = None) -> list[tuple[str, str, str]]:
    """(file name, suffix, text) of each installed distribution's long description, by name."""
    site = Path(sysconfig.get_paths()["purelib"])
    seen: dict[str, tuple[str, str, str]] = {}
    for dist in importlib.metadata.distributions(path=[str(site)]):
        meta = dist.metadata
        name = re.sub(r"[-_.]+", "-", str(meta["Name"] or "")).lower()
        if not name or name in seen:
            continue
        body = _description(meta)
        if not MIN_README_CHARS <= len(body.strip().encode("utf-8")) <= MAX_README_BYTES:
            continue
        markdown = "markdown" in str(meta.get("Description-Content-Type") or "").lower()
        seen[name] = (f"{name}-{meta['Version']}", ".md" if markdown else ".txt", body.strip() + "\n")
    return [seen[k] for k in sorted(seen)][:limit]


def _description(meta: Any) -> str:
    """The METADATA body (metadata 2.1+), else the older ``Description`` field with its indent removed."""
    body = meta.get_payload()
    if isinstance(body, str) and body.strip():
        return body
    old = str(meta.get("Description") or "")
    return re.sub(r"(?m)^ {7}\|| {8}", "", old)


def squad_paragraphs(limit: int | None = None) -> list[tuple[str, str]]:
    """(file name, text) of each SQuAD paragraph, in dataset order."""
    if not SQUAD.exists():
        return []
    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    out = [
        (f"{article['title']}-{i:03d}", para["context"].strip() + "\n")
        for article in data["data"]
        for i, para in enumerate(article["paragraphs"])
    ]
    return out[:limit]


def build(folder: Path, *, readmes: int | None = None, paragraphs: int | None = None, pdfs: int = 4) -> dict[str, Any]:
    """Write the corpus into ``folder`` (emptied first); ``None`` limits mean everything there is.

    Returns files per kind, total bytes on disk and a SHA-256 over relative names and contents.
    """
    if folder.exists():
        shutil.rmtree(folder)
    written: list[Path] = []
    for sub, items in (
        ("pkg", [(n + s, t) for n, s, t in package_readmes(readmes)]),
        ("squad", [(n + ".txt", t) for n, t in squad_paragraphs(paragraphs)]),
    ):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for name, text in items:
            path = folder / sub / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
    if PDF.exists() and pdfs:
        (folder / "pdf").mkdir(parents=True, exist_ok=True)
        for i in range(pdfs):
            path = folder / "pdf" / f"{PDF.stem}-copy{i + 1}.pdf"
            shutil.copyfile(PDF, path)
            written.append(path)
    digest = hashlib.sha256()
    for path in sorted(written):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    kinds: dict[str, int] = {}
    for path in written:
        kinds[path.suffix.lstrip(".")] = kinds.get(path.suffix.lstrip("."), 0) + 1
    return {
        "files": len(written),
        "by_suffix": dict(sorted(kinds.items())),
        "file_mb": round(sum(p.stat().st_size for p in written) / 1e6, 2),
        "sha256": digest.hexdigest()[:16],
        "sources": [
            "long descriptions in the venv's *.dist-info/METADATA (versions fixed by requirements.lock)",
            f"paragraphs of {SQUAD.name}" if SQUAD.exists() else "SQuAD subset missing",
            f"{PDF.name} ({DATASET.name}) under {pdfs} names" if PDF.exists() and pdfs else "no PDF",
        ],
    }
