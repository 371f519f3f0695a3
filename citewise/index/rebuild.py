"""Clear an index before it is rebuilt: the way out of a damaged or foreign data folder.

This module only empties the store; the caller re-ingests (``Assistant.rebuild`` does
both), so the index layer never needs the settings tree or the Assistant above it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from citewise.index.store import ChromaStore, StoreError


def clear(store: ChromaStore) -> dict[Path, str]:
    """Delete everything ``store`` holds; returns the files it had indexed, each with its document id.

    An embedded folder Chroma cannot open is moved aside to ``chroma.damaged`` rather than
    deleted. Re-indexing the returned files with those ids keeps every document's id
    (uploads stay ``uploads/<name>``).

    Raises:
        StoreError: the Chroma server (when one is configured) cannot be reached or reset.
    """
    config = store.config
    sources: dict[Path, str] = {}  # file -> the id it had
    try:
        for d in store.documents().values():
            path = Path(d.path or d.source)
            if path.is_file():
                sources.setdefault(path, d.doc_id)
        store.reset()
    except StoreError:
        if config.chroma_url:
            raise
        # an embedded folder Chroma cannot open: move it aside rather than delete it
        folder = config.data_dir / "chroma"
        if folder.exists():
            backup = folder.with_name("chroma.damaged")
            shutil.rmtree(backup, ignore_errors=True)
            folder.rename(backup)
    return sources
