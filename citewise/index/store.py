"""The Chroma store: chunks with their embeddings, and a registry of fully indexed documents.

Two collections per index:

* ``<name>_chunks``: one record per chunk (text, embedding, doc id, content hash, offsets).
* ``<name>_docs``: one record per *committed* document (its full text and metadata), and
  a ``__revision__`` record whose token changes on every commit.

A document counts as indexed only once its registry record exists and names the same
content hash as its chunks; chunks of any other hash are invisible to queries and swept
away. That makes ingest all-or-nothing even if the process dies half-way.

Several ingests may write at once (two CLI runs, uploads to several ``serve`` processes):
each holds a writer lease (`citewise.index.writers`) and tags its chunks with the
lease id, and uncommitted chunks are deleted only when their writer is gone.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from citewise.errors import reason
from citewise.index.connect import open_client
from citewise.index.types import StoreConfig, StoreError

__all__ = ["ChromaStore", "ChunkRecord", "DocRecord", "StoreConfig", "StoreError", "chunk_id"]

REVISION_ID = "__revision__"
_DUMMY = [1.0]  # the registry needs no vector search; Chroma still wants an embedding


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk as stored: ``text == document_text[start:end]``."""

    id: str
    doc_id: str
    doc_hash: str
    text: str
    start: int
    end: int
    index: int
    page: int | None
    title: str
    source: str
    # pages that begin inside the chunk: ((page, offset in the document), ...)
    page_breaks: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The page holding document offset ``offset`` (within this chunk)."""
        page = self.page
        for number, start in self.page_breaks:
            if start <= offset:
                page = number
        return page


@dataclass(frozen=True)
class DocRecord:
    """A committed document."""

    doc_id: str
    doc_hash: str
    title: str
    source: str
    kind: str
    chunks: int
    indexed_at: str
    meta: dict[str, str] = field(default_factory=dict)
    path: str = ""  # the absolute path of the file it was read from ("" in indexes made before 0.2)


class ChromaStore:
    """Chunks and the document registry in Chroma (embedded on disk, or a server)."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self._client: Any = None
        self._chunks: Any = None
        self._docs: Any = None
        self._writers: Any = None
        self._leases: Any = None
        self._lock = threading.RLock()

    def _open(self) -> None:
        with self._lock:
            if self._client is not None:
                return
            client = open_client(self.config)
            try:
                chunks = client.get_or_create_collection(
                    f"{self.config.collection}_chunks",
                    embedding_function=None,
                    metadata={"hnsw:space": "cosine"},
                )
                docs = client.get_or_create_collection(f"{self.config.collection}_docs", embedding_function=None)
            except Exception as exc:
                raise StoreError(
                    f"the Chroma collections for {self.config.collection!r} cannot be opened ({reason(exc)}); "
                    "rebuild them with `citewise reindex`"
                ) from None
            self._client, self._chunks, self._docs = client, chunks, docs

    @property
    def chunks(self) -> Any:
        """The raw Chroma chunk collection."""
        self._open()
        return self._chunks

    @property
    def docs(self) -> Any:
        """The raw Chroma registry collection."""
        self._open()
        return self._docs

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            where = self.config.chroma_url or str(self.config.data_dir / "chroma")
            if self.config.chroma_url:
                with self._lock:  # a server that went away: drop the client so the next call reconnects
                    self._client = self._chunks = self._docs = self._writers = None
            raise StoreError(f"Chroma failed to {what} ({where}): {reason(exc)}") from None

    def _damaged(self, what: str) -> StoreError:
        where = self.config.chroma_url or str(self.config.data_dir / "chroma")
        return StoreError(f"the index at {where} holds {what}; rebuild it with `citewise reindex`")

    def _chunk(self, cid: str, text: str, meta: dict[str, Any]) -> ChunkRecord:
        try:
            return _chunk_from(cid, text, meta)
        except (KeyError, ValueError, TypeError):
            raise self._damaged(f"a damaged chunk record ({cid!r})") from None

    # ---- registry -------------------------------------------------------------------
    def revision(self) -> str:
        """A token that changes whenever a document is committed or removed."""
        got = self._call("read the revision", self.docs.get, ids=[REVISION_ID], include=["metadatas"])
        metas = got.get("metadatas") or []
        return str(metas[0].get("token", "")) if metas else ""

    def _bump_revision(self) -> None:
        self._call(
            "write the revision",
            self.docs.upsert,
            ids=[REVISION_ID],
            embeddings=[_DUMMY],
            metadatas=[{"token": uuid.uuid4().hex, "kind": "revision"}],
            documents=[""],
        )

    def documents(self) -> dict[str, DocRecord]:
        """Every committed document, by id."""
        got = self._call("list documents", self.docs.get, include=["metadatas"])
        out: dict[str, DocRecord] = {}
        for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            if rid == REVISION_ID or not meta:
                continue
            try:
                out[rid] = DocRecord(
                    doc_id=rid,
                    doc_hash=str(meta.get("doc_hash", "")),
                    title=str(meta.get("title", "")),
                    source=str(meta.get("source", "")),
                    kind=str(meta.get("kind", "")),
                    chunks=int(meta.get("chunks", 0)),
                    indexed_at=str(meta.get("indexed_at", "")),
                    meta=dict(json.loads(str(meta.get("meta", "{}")))),
                    path=str(meta.get("path", "")),
                )
            except (ValueError, TypeError):
                raise self._damaged(f"a damaged document record ({rid!r})") from None
        return out

    def document_text(self, doc_id: str) -> str | None:
        """The full indexed text of a document, or None if it is not indexed."""
        got = self._call("read a document", self.docs.get, ids=[doc_id], include=["documents"])
        docs = got.get("documents") or []
        return docs[0] if docs else None

    # ---- writers -------------------------------------------------------------------
    def _lease_book(self) -> Any:
        from citewise.index import writers

        with self._lock:
            if self._leases is None:
                if not self.config.chroma_url and writers.file_leases_supported():
                    self._leases = writers.FileLeases(self.config.data_dir / "writers")
                else:
                    self._leases = writers.StoreLeases(self._writer_collection)
            return self._leases

    def _writer_collection(self) -> Any:
        with self._lock:  # re-entrant: _open takes it too, and a failed call cannot drop the client between
            self._open()
            if self._writers is None:
                self._writers = self._call(
                    "open the writer leases",
                    self._client.get_or_create_collection,
                    f"{self.config.collection}_writers",
                    embedding_function=None,
                )
            return self._writers

    @contextlib.contextmanager
    def writing(self) -> Iterator[str]:
        """Hold a writer lease while writing; yields the writer id to tag chunks with."""
        self._open()
        book = self._lease_book()
        lease = self._call("take a writer lease", book.acquire)
        try:
            yield lease.id
        finally:
            lease.release()

    def live_writers(self) -> set[str]:
        """Ids of the writers that hold a lease now."""
        self._open()
        return set(self._call("read the writer leases", self._lease_book().alive))

    # ---- writing --------------------------------------------------------------------
    def write_document(
        self,
        record: DocRecord,
        text: str,
        chunks: list[ChunkRecord],
        embeddings: list[list[float]],
    ) -> None:
        """Store a document's chunks, then commit it, then drop its older chunks."""
        with self.writing() as writer:
            self.write_chunks(chunks, embeddings, writer)
            self.commit_documents([(record, text)], writer)

    def write_chunks(self, chunks: list[ChunkRecord], embeddings: list[list[float]], writer: str = "") -> None:
        """Store chunks (invisible to queries until their document is committed).

        Args:
            writer: the id from `writing()`; chunks without a live writer may be swept.
        """
        batch = self._max_batch()
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            self._call(
                "write chunks",
                self.chunks.upsert,
                ids=[c.id for c in part],
                embeddings=embeddings[i : i + batch],
                documents=[c.text for c in part],
                metadatas=[_chunk_meta(c, writer) for c in part],
            )

    def commit_documents(self, docs: list[tuple[DocRecord, str]], writer: str = "") -> None:
        """Commit documents whose chunks are all written (one registry write), then drop their older chunks.

        Each record is committed whole or not at all, so a crash at any point leaves every
        document either at its previous version or at its new one. Chunks of another
        version that another live writer is still writing are left alone.
        """
        if not docs:
            return
        if len({r.doc_id for r, _ in docs}) != len(docs):
            raise ValueError("commit_documents got the same document twice")
        ids = [r.doc_id for r, _ in docs]
        got = self._call("read documents", self.docs.get, ids=ids, include=["metadatas"])
        metas = got["metadatas"] or []
        previous = {rid: str((m or {}).get("doc_hash", "")) for rid, m in zip(got["ids"], metas, strict=False)}
        revision: dict[str, Any] = {"token": uuid.uuid4().hex, "kind": "revision"}
        self._call(  # the records and the new revision token in one write
            "commit documents",
            self.docs.upsert,
            ids=[*ids, REVISION_ID],
            embeddings=[_DUMMY] * (len(docs) + 1),
            metadatas=[_doc_meta(r) for r, _ in docs] + [revision],
            documents=[text for _, text in docs] + [""],
        )
        stale = [{"$and": [{"doc_id": r.doc_id}, {"doc_hash": {"$ne": r.doc_hash}}]} for r, _ in docs]
        for i in range(0, len(stale), 50):
            part = stale[i : i + 50]
            self._drop(part[0] if len(part) == 1 else {"$or": part}, previous, mine=writer)

    def _drop(self, where: dict[str, Any], committed: dict[str, str], mine: str = "") -> None:
        """Delete the chunks matching ``where`` except uncommitted ones of another live writer.

        ``committed`` maps doc ids to a version known to be committed before (always dropped).
        The chunks are listed before the leases are read: a chunk listed was written under a
        lease taken before that read, so a live writer is never mistaken for a gone one.
        """
        got = self._call("list chunks", self.chunks.get, where=where, include=["metadatas"])
        if not got["ids"]:
            return
        others = self.live_writers() - {mine} if mine else self.live_writers()
        drop = [
            cid
            for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False)
            if str(meta.get("writer", "")) not in others
            or committed.get(str(meta.get("doc_id"))) == meta.get("doc_hash")
        ]
        for i in range(0, len(drop), self._max_batch()):
            self._call("delete chunks", self.chunks.delete, ids=drop[i : i + self._max_batch()])

    def remove_document(self, doc_id: str) -> bool:
        """Un-commit a document, then delete its chunks. Returns whether it was indexed.

        Chunks another live writer is writing for this id stay: that ingest adds it back.
        """
        got = self._call("read a document", self.docs.get, ids=[doc_id], include=["metadatas"])
        existed = bool(got["ids"])
        committed = {doc_id: str((got["metadatas"] or [{}])[0].get("doc_hash", ""))} if existed else {}
        if existed:
            self._call("remove a document", self.docs.delete, ids=[doc_id])
            self._bump_revision()
        self._drop({"doc_id": doc_id}, committed)
        return existed

    def sweep(self) -> int:
        """Delete chunks that belong to no committed document version and no live writer. Returns how many."""
        got = self._call("list chunks", self.chunks.get, include=["metadatas"])
        live = self.live_writers()  # after the listing: see _drop
        registry = {d.doc_id: d.doc_hash for d in self.documents().values()}  # after the leases: a writer
        # gone by then committed all it ever will, so what is not committed now is nobody's
        stale = [
            cid
            for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=False)
            if registry.get(str(meta.get("doc_id"))) != meta.get("doc_hash") and str(meta.get("writer", "")) not in live
        ]
        for i in range(0, len(stale), self._max_batch()):
            self._call("delete chunks", self.chunks.delete, ids=stale[i : i + self._max_batch()])
        return len(stale)

    def has_chunks(self, ids: list[str]) -> bool:
        """Whether every chunk in ``ids`` is stored."""
        for i in range(0, len(ids), self._max_batch()):
            part = ids[i : i + self._max_batch()]
            got = self._call("read chunks", self.chunks.get, ids=part, include=[])
            if len(set(got["ids"])) != len(part):
                return False
        return True

    def chunk_ids(self, page_size: int = 10000) -> set[str]:
        """The ids of every stored chunk (to check that a document's chunks are all there)."""
        out: set[str] = set()
        offset = 0
        while True:
            got = self._call("list chunks", self.chunks.get, include=[], limit=page_size, offset=offset)
            if not got["ids"]:
                return out
            out.update(got["ids"])
            offset += len(got["ids"])

    def needs_sweep(self) -> bool:
        """Cheap check: the chunk count differs from what the registry says it should be."""
        expected = sum(d.chunks for d in self.documents().values())
        return int(self._call("count chunks", self.chunks.count)) != expected

    # ---- reading --------------------------------------------------------------------
    def query(self, embedding: list[float], n: int) -> list[tuple[ChunkRecord, float]]:
        """The ``n`` nearest chunks with their cosine similarity (any version: filter later)."""
        if n <= 0:
            return []
        got = self._call(
            "search",
            self.chunks.query,
            query_embeddings=[embedding],
            n_results=n,
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for cid, text, meta, dist in zip(
            got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=False
        ):
            out.append((self._chunk(cid, text, meta), 1.0 - float(dist)))
        return out

    def all_chunks(self, page_size: int = 5000) -> Iterable[ChunkRecord]:
        """Every stored chunk, page by page."""
        offset = 0
        while True:
            got = self._call(
                "list chunks", self.chunks.get, include=["documents", "metadatas"], limit=page_size, offset=offset
            )
            if not got["ids"]:
                return
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=False):
                yield self._chunk(cid, text, meta)
            offset += len(got["ids"])

    def count_chunks(self) -> int:
        """Chunks stored, including any not yet swept."""
        return int(self._call("count chunks", self.chunks.count))

    def _max_batch(self) -> int:
        try:
            return max(1, min(2000, int(self._client.get_max_batch_size())))
        except Exception:
            return 1000

    def reset(self) -> None:
        """Delete both collections (used by ``citewise reindex``)."""
        client = open_client(self.config)
        for name in ("chunks", "docs", "writers"):
            with contextlib.suppress(Exception):  # absent already
                client.delete_collection(f"{self.config.collection}_{name}")
        self._client = self._chunks = self._docs = self._writers = None


def _doc_meta(r: DocRecord) -> dict[str, Any]:
    return {
        "doc_hash": r.doc_hash,
        "title": r.title,
        "source": r.source,
        "kind": r.kind,
        "chunks": r.chunks,
        "indexed_at": r.indexed_at,
        "meta": json.dumps(r.meta, ensure_ascii=False),
        "path": r.path,
    }


def chunk_id(doc_id: str, doc_hash: str, index: int) -> str:
    """The id of chunk ``index`` of a document version: the same for every writer of that version."""
    return f"{doc_id}::{doc_hash[:16]}::{index:06d}"


def _chunk_meta(c: ChunkRecord, writer: str = "") -> dict[str, Any]:
    return {
        "writer": writer,
        "doc_id": c.doc_id,
        "doc_hash": c.doc_hash,
        "start": c.start,
        "end": c.end,
        "index": c.index,
        "title": c.title,
        "source": c.source,
        "page_breaks": json.dumps(c.page_breaks),
        # no page for formats without pages (Chroma holds no None); readers of older indexes also accept -1
        **({} if c.page is None else {"page": c.page}),
    }


def _chunk_from(cid: str, text: str, meta: dict[str, Any]) -> ChunkRecord:
    page = int(meta.get("page", -1))
    return ChunkRecord(
        id=cid,
        doc_id=str(meta["doc_id"]),
        doc_hash=str(meta["doc_hash"]),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        index=int(meta.get("index", 0)),
        page=None if page < 0 else page,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        page_breaks=tuple((int(a), int(b)) for a, b in json.loads(str(meta.get("page_breaks", "[]")))),
    )
