"""Collections: separate document sets (a workspace per project) in one data folder or Chroma server.

A collection ``NAME`` is the pair of Chroma collections ``NAME_chunks`` and ``NAME_docs``
(see `citewise.index.store`). This module lists them with their counts, deletes
them, checks names, and keeps one `Assistant` per collection
for the servers (`Workspaces`), all sharing the process's loaded models.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citewise.errors import CitewiseError

if TYPE_CHECKING:
    from citewise.assistant import Assistant
    from citewise.config import Settings

# Chroma wants 3-512 characters from [a-zA-Z0-9._-] starting and ending with a letter or digit;
# the suffixes _chunks/_docs make up the length ('..' is refused, and a trailing '_docs' can never be an IP).
_NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")
_SUFFIXES = ("_chunks", "_docs")


class CollectionError(CitewiseError, ValueError):
    """A collection name citewise cannot use."""

    status, code = 400, "invalid_collection"


class NoSuchCollection(CitewiseError, LookupError):
    """A collection that does not exist."""

    status, code = 404, "collection_not_found"


@dataclass(frozen=True)
class CollectionInfo:
    """One collection and what it holds."""

    name: str
    documents: int
    chunks: int
    current: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


def validate_name(name: str) -> str:
    """``name`` stripped, if it can name a collection.

    Raises:
        CollectionError: the name is empty, too long, or holds characters other than
            letters, digits, ``-`` and ``_`` (it must start and end with a letter or digit).
    """
    text = str(name or "").strip()
    if not _NAME.match(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise CollectionError(
            f"collection name {shown!r} is not allowed; use 1-64 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return text


def _store(settings: Settings, name: str) -> Any:
    from citewise.index.store import ChromaStore, StoreConfig

    return ChromaStore(StoreConfig(settings.data_dir, settings.chroma_url, name))


def _chroma_names(settings: Settings) -> set[str]:
    """Names of the raw Chroma collections in the configured store."""
    from citewise.errors import reason
    from citewise.index.connect import open_client
    from citewise.index.store import StoreConfig, StoreError

    client = open_client(StoreConfig(settings.data_dir, settings.chroma_url, settings.collection))
    try:
        found = client.list_collections()
    except Exception as exc:
        where = settings.chroma_url or str(settings.data_dir / "chroma")
        raise StoreError(f"Chroma failed to list collections ({where}): {reason(exc)}") from None
    return {c if isinstance(c, str) else str(c.name) for c in found}


def collection_names(settings: Settings) -> list[str]:
    """The citewise collections in the store (both halves present), sorted."""
    raw = _chroma_names(settings)
    names = {n[: -len("_docs")] for n in raw if n.endswith("_docs")}
    return sorted(n for n in names if f"{n}_chunks" in raw and _NAME.match(n))


def collection_exists(settings: Settings, name: str) -> bool:
    """Whether collection ``name`` has been created (by an ingest, an upload or a question)."""
    return validate_name(name) in collection_names(settings)


def describe(settings: Settings, name: str) -> CollectionInfo:
    """Counts for one existing collection."""
    store = _store(settings, name)
    return CollectionInfo(
        name=name,
        documents=len(store.documents()),
        chunks=store.count_chunks(),
        current=name == settings.collection,
    )


def list_collections(settings: Settings) -> list[CollectionInfo]:
    """Every collection with its document and chunk counts, sorted by name."""
    return [describe(settings, name) for name in collection_names(settings)]


def delete_collection(settings: Settings, name: str) -> CollectionInfo:
    """Delete a collection's chunks, documents and uploaded files; returns what it held.

    Raises:
        CollectionError: the name is not valid.
        NoSuchCollection: there is no such collection.
    """
    name = validate_name(name)
    if name not in collection_names(settings):
        raise NoSuchCollection(f"there is no collection {name!r}; `citewise collections` lists them")
    info = describe(settings, name)
    store = _store(settings, name)
    sources = [d.source for d in store.documents().values()]
    store.reset()
    uploads = (settings.data_dir / "uploads").resolve()
    for source in sources:  # files uploaded into this collection belong to it alone
        path = Path(source).resolve()
        if path.parent == uploads:
            path.unlink(missing_ok=True)
    return info


_SHARED: weakref.WeakKeyDictionary[Any, Workspaces] = weakref.WeakKeyDictionary()
_SHARED_GUARD = threading.Lock()


class Workspaces:
    """One Assistant per collection, built on demand, for servers that serve several.

    The siblings share the default Assistant's settings (but the collection) and the
    process's loaded models.
    """

    def __init__(self, assistant: Assistant) -> None:
        self.default = assistant
        self._by_name: dict[str, Assistant] = {assistant.settings.collection: assistant}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, assistant: Assistant) -> Workspaces:
        """The one Workspaces over ``assistant`` in this process (the API, MCP and the UI share it)."""
        with _SHARED_GUARD:
            found = _SHARED.get(assistant)
            if found is None:
                found = _SHARED[assistant] = cls(assistant)
            return found

    @property
    def settings(self) -> Settings:
        """The default Assistant's settings."""
        return self.default.settings

    def get(self, name: str | None = None) -> Assistant:
        """The Assistant for collection ``name`` (default: the configured one).

        Raises:
            CollectionError: the name is not valid.
        """
        if not name:
            return self.default
        name = validate_name(name)
        with self._lock:
            found = self._by_name.get(name)
            if found is None:
                found = self._by_name[name] = self._sibling(name)
            return found

    def existing(self, name: str | None) -> Assistant:
        """Like `get()`, but a named collection must already exist (for reads).

        Raises:
            NoSuchCollection: it does not.
        """
        if name and validate_name(name) not in self._by_name and not collection_exists(self.settings, name):
            raise NoSuchCollection(f"there is no collection {name.strip()!r}; GET /v1/collections lists them")
        return self.get(name)

    def _sibling(self, name: str) -> Assistant:
        # models are cached per process (and llama.cpp serialises its own runs), so a sibling is cheap
        return type(self.default).from_settings(self.settings.with_overrides(collection=name))

    def collections(self) -> list[CollectionInfo]:
        """Every collection with its counts; the default one is listed even when still empty."""
        infos = list_collections(self.settings)
        if self.settings.collection not in {i.name for i in infos}:
            infos.append(CollectionInfo(self.settings.collection, 0, 0, True))
            infos.sort(key=lambda i: i.name)
        return infos

    def delete(self, name: str) -> CollectionInfo:
        """Delete collection ``name`` (see `delete_collection()`) and forget its Assistant."""
        with self._lock:
            info = delete_collection(self.settings, name)
            dropped = self._by_name.pop(info.name, None)
            if dropped is self.default:
                self._by_name[info.name] = self.default
                self.default.store.reset()  # drop the cached client handles; reopened empty on next use
            return info
