"""Rebuild an index from scratch: the way out of a damaged or foreign data folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from citewise.config import Settings
from citewise.index.ingest import IngestReport, Progress
from citewise.index.store import ChromaStore, StoreConfig, StoreError


def rebuild(settings: Settings, paths: list[Path], progress: Progress | None = None) -> IngestReport:
    """Delete the index and ingest ``paths`` (default: the sources it held, else the corpus).

    Re-indexing the sources it held keeps every document's id (uploads stay ``uploads/<name>``).
    """
    from citewise.assistant import Assistant

    store = ChromaStore(StoreConfig(settings.data_dir, settings.chroma_url, settings.collection))
    sources: dict[Path, str] = {}  # file -> the id it had
    try:
        for d in store.documents().values():
            path = Path(d.path or d.source)
            if path.is_file():
                sources.setdefault(path, d.doc_id)
        store.reset()
    except StoreError:
        if settings.chroma_url:
            raise
        # an embedded folder Chroma cannot open: move it aside rather than delete it
        folder = settings.data_dir / "chroma"
        if folder.exists():
            backup = folder.with_name("chroma.damaged")
            shutil.rmtree(backup, ignore_errors=True)
            folder.rename(backup)
    assistant = Assistant.from_settings(settings)
    if paths or not sources:
        return assistant.ingest(paths or [settings.corpus_dir], progress=progress)
    return assistant.ingest(list(sources), progress=progress, doc_ids=sources)
