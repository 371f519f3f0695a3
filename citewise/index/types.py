"""The types the store and its connection share: where a store lives and how it fails.

Both `citewise.index.store` and `citewise.index.connect` import them from here,
so neither has to import the other's types (store -> connect -> types, no cycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from citewise.errors import CitewiseError


class StoreError(CitewiseError, RuntimeError):
    """The store cannot be opened or reached; the message says what to do."""

    status = 503
    code = "store_unavailable"


@dataclass(frozen=True)
class StoreConfig:
    """Where the store lives."""

    data_dir: Path
    chroma_url: str = ""
    collection: str = "citewise"
