"""Opening a Chroma client, refusing data folders that are damaged or belong to another app."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from citewise.errors import reason
from citewise.index.types import StoreConfig, StoreError


def open_client(config: StoreConfig) -> Any:
    """A Chroma client for ``config``: HTTP when a server URL is set, else on disk in ``data_dir/chroma``.

    Raises:
        StoreError: the server is unreachable, or the folder is damaged, foreign or not a folder.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if config.chroma_url:
        url = urlparse(config.chroma_url if "://" in config.chroma_url else f"http://{config.chroma_url}")
        if not url.hostname:
            raise StoreError(f"CITEWISE_CHROMA_URL={config.chroma_url!r} is not a URL like http://127.0.0.1:8000")
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreError(f"cannot reach the Chroma server at {config.chroma_url}: {reason(exc)}") from None
        return client
    folder = config.data_dir / "chroma"
    if config.data_dir.exists() and not config.data_dir.is_dir():
        raise StoreError(
            f"the data folder {config.data_dir} is a file, not a folder; point --data-dir or CITEWISE_DATA_DIR "
            "at a folder"
        )
    _check_foreign(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(
            f"the index in {folder} cannot be opened ({reason(exc)}); rebuild it with `citewise reindex`"
        ) from None


def _check_foreign(folder: Path) -> None:
    """Refuse a database Chroma did not write (so we never add tables to another app's file)."""
    import sqlite3

    db = folder / "chroma.sqlite3"
    if not db.is_file() or db.stat().st_size == 0:
        return
    try:
        with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise StoreError(
            f"the index in {folder} is damaged ({reason(exc)}); rebuild it with `citewise reindex`"
        ) from None
    if tables and not {"collections", "segments"} <= tables:
        raise StoreError(
            f"{db} is not a citewise index (another application's database?); use another --data-dir, "
            "or run `citewise reindex` to move it aside and build a new index"
        )
