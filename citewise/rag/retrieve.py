"""Hybrid retrieval: dense (Chroma) and keyword (BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from citewise.index import keywords
from citewise.index.embed import SentenceEmbedder
from citewise.index.keywords import BM25Index
from citewise.index.store import ChromaStore, ChunkRecord

# keyword hits scoring at most this share of the best keyword hit are left out of the fusion
KEYWORD_FLOOR = 0.01


@dataclass(frozen=True)
class RetrievalConfig:
    """How many passages to fetch and how to fuse the two rankings."""

    top_k: int = 4
    candidates: int = 20  # per ranking, before fusion
    rrf_k: int = 60


@dataclass
class Passage:
    """A retrieved chunk with its fused score and the ranks that made it."""

    chunk: ChunkRecord
    score: float
    dense: float | None = None  # cosine similarity, when the dense ranking found it
    dense_rank: int | None = None
    keyword_rank: int | None = None


def _node(chunk: ChunkRecord) -> TextNode:
    return TextNode(
        id_=chunk.id,
        text=chunk.text,
        start_char_idx=chunk.start,
        end_char_idx=chunk.end,
        metadata={
            "doc_id": chunk.doc_id,
            "title": chunk.title,
            "source": chunk.source,
            "page": chunk.page,
            "start": chunk.start,  # the chunk's offsets in the document text
            "end": chunk.end,
        },
        # BM25 indexes the text with its embed-mode metadata: the offsets must not become words
        excluded_embed_metadata_keys=["start", "end"],
        excluded_llm_metadata_keys=["start", "end"],
    )


class KeywordIndex:
    """BM25 over the committed chunks, rebuilt only when the store's revision changes.

    The built index is saved under the data folder (`citewise.index.keywords`), so a
    new process loads it instead of reading every chunk back from the store.
    """

    def __init__(self, store: ChromaStore, persist: bool = True) -> None:
        self.store = store
        self.persist = persist
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._registry: dict[str, str] = {}
        self._index: BM25Index | None = None
        self.loaded_from_disk = False  # how the current index was obtained (for tests and bench)

    def _folder(self) -> Path:
        cfg = self.store.config
        return keywords.folder_for(cfg.data_dir, f"{cfg.chroma_url}|{cfg.collection}")

    def refresh(self) -> dict[str, str]:
        """Bring the index in step with the store; returns {doc_id: committed hash}."""
        revision = self.store.revision()
        with self._lock:
            if revision != self._revision or self._revision is None:
                registry = {d.doc_id: d.doc_hash for d in self.store.documents().values()}
                base = self._folder()
                index = (
                    keywords.BM25Index.load(keywords.revision_folder(base, revision), revision)
                    if (self.persist and revision)
                    else None
                )
                self.loaded_from_disk = index is not None
                if index is None:
                    chunks = [c for c in self.store.all_chunks() if registry.get(c.doc_id) == c.doc_hash]
                    index = keywords.BM25Index.build(chunks) if chunks else None
                    if index is not None and self.persist and revision:
                        keywords.save_current(index, base, revision)
                self._index, self._registry, self._revision = index, registry, revision
            return self._registry

    def search(self, query: str, n: int) -> list[ChunkRecord]:
        """The ``n`` best keyword matches (call `refresh()` first)."""
        with self._lock:
            index = self._index
        if index is None:
            return []
        hits = index.search(query, n)
        # a hit scoring a sliver of the best one matched only words found everywhere (IDF near
        # zero): such ties are arbitrary, and letting them vote in the fusion adds noise
        floor = max((score for _, score in hits), default=0.0) * KEYWORD_FLOOR
        return [index.chunk(i) for i, score in hits if score > floor]

    @property
    def size(self) -> int:
        """Chunks in the keyword index."""
        return len(self._index) if self._index is not None else 0


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval fused by reciprocal rank, as a LlamaIndex retriever."""

    def __init__(self, store: ChromaStore, embedder: SentenceEmbedder, config: RetrievalConfig) -> None:
        super().__init__()
        self.store = store
        self.embedder = embedder
        self.config = config
        self.keywords = KeywordIndex(store)

    def search(self, query: str, top_k: int | None = None) -> list[Passage]:
        """The best ``top_k`` passages for ``query``, from committed documents only."""
        k = top_k or self.config.top_k
        registry = self.keywords.refresh()
        if not registry:
            return []
        n = max(self.config.candidates, k)
        dense = [
            (c, s)
            for c, s in self.store.query(self.embedder.get_query_embedding(query), n)
            if registry.get(c.doc_id) == c.doc_hash
        ]
        keyword = self.keywords.search(query, n)
        fused: dict[str, Passage] = {}
        for rank, (chunk, sim) in enumerate(dense, start=1):
            p = fused.setdefault(chunk.id, Passage(chunk=chunk, score=0.0))
            p.score += 1.0 / (self.config.rrf_k + rank)
            p.dense, p.dense_rank = sim, rank
        for rank, chunk in enumerate(keyword, start=1):
            p = fused.setdefault(chunk.id, Passage(chunk=chunk, score=0.0))
            p.score += 1.0 / (self.config.rrf_k + rank)
            p.keyword_rank = rank
        # equal fused scores (say dense #1 against keyword #1): an exact word match is the more
        # precise evidence, so it goes first; then the closer embedding
        ranked = sorted(
            fused.values(), key=lambda p: (p.score, p.keyword_rank is not None, p.dense or 0.0), reverse=True
        )
        return ranked[:k]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [NodeWithScore(node=_node(p.chunk), score=p.score) for p in self.search(query_bundle.query_str)]
