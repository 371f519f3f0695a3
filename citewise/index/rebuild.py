"""Rebuild an index from scratch: the way out of a damaged or foreign data folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from citewise.config import Settings
from citewise.index.ingest import IngestReport, Progress
from citewise.index.store import ChromaStore, StoreConfig, StoreError


def rebuild(settings: Settings, paths: list[Path], progress: Progress | None = None) -> IngestReport:
    """Delete the index and ingest ``paths`` (default: the sources it held, else the corpus)."""
    from citewise.assistant import Assistant

    store = ChromaStore(StoreConfig(settings.data_dir, settings.chroma_url, settings.collection))
    sources: list[Path] = []
    try:
        sources = [Path(d.source) for d in store.documents().values() if Path(d.source).is_file()]
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
    return assistant.ingest(paths or sources or [settings.corpus_dir], progress=progress)
