"""Incremental ingest: load, chunk, embed and commit documents one at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from citewise.index.chunking import chunk_text
from citewise.index.embed import SentenceEmbedder
from citewise.index.loaders import LoadedDocument, LoadError, doc_id_for, find_files, load_document
from citewise.index.store import ChromaStore, ChunkRecord, DocRecord
from citewise.progress import ProgressFn

# progress(done, total, current file name): the one callback shape of citewise.progress
Progress = ProgressFn


@dataclass(frozen=True)
class ChunkConfig:
    """How documents are cut into passages (sizes in embedding-model word pieces)."""

    chunk_size: int = 128
    chunk_overlap: int = 16


@dataclass
class IngestReport:
    """What an ingest did, file by file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line reason)
    chunks: int = 0

    @property
    def ok(self) -> bool:
        """True when every file given made it into the index."""
        return not self.failed

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.failed)} failed ({self.chunks} chunks written)"
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "chunks": self.chunks,
            "ok": self.ok,
        }


@dataclass
class _Prepared:
    """A document loaded and chunked, waiting to be embedded and committed."""

    record: DocRecord
    text: str
    chunks: list[ChunkRecord]


class Indexer:
    """Turns files into committed documents in a :class:`ChromaStore`.

    Small documents are embedded and committed in batches (one model call and a few store
    writes per batch rather than per file); each document still commits all or nothing.
    """

    def __init__(
        self,
        store: ChromaStore,
        embedder: SentenceEmbedder,
        config: ChunkConfig,
        *,
        batch_chunks: int = 128,
        batch_docs: int = 64,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.batch_chunks = max(1, batch_chunks)
        self.batch_docs = max(1, batch_docs)

    def chunk(self, doc: LoadedDocument) -> list[tuple[int, int, str]]:
        """(start, end, text) of each chunk, sized to fit the embedding model's input."""
        limit = max(16, self.embedder.max_tokens - 2)  # [CLS] and [SEP] take two places
        size = min(self.config.chunk_size, limit)
        overlap = min(self.config.chunk_overlap, size // 2)
        pieces = chunk_text(doc.text, size, overlap, tokenizer=self.embedder.count_tokens)
        return [(c.start, c.end, c.text) for c in pieces]

    def ingest(
        self,
        paths: list[Path],
        *,
        progress: Progress | None = None,
        doc_ids: dict[Path, str] | None = None,
    ) -> IngestReport:
        """Index files and folders; unchanged documents are skipped, changed ones replaced.

        A file that cannot be read is reported in ``failed`` with a one-line reason and
        the others go on; nothing already indexed is touched by a failure.

        Args:
            paths: files and folders (searched recursively).
            progress: called after each file as ``progress(done, total, name)``.
            doc_ids: optional fixed ids for some files (uploads keep their user-facing name).
        """
        report = IngestReport()
        files, problems = find_files(paths)
        report.failed.extend((p.split(":")[0], p) for p in problems)
        if self.store.needs_sweep():  # chunks left by a crash or a kill: drop them first
            self.store.sweep()
        known = {d.doc_id: d.doc_hash for d in self.store.documents().values()}
        pending: list[_Prepared] = []
        total = len(files)
        for done, (path, root) in enumerate(files, start=1):
            doc_id = (doc_ids or {}).get(path) or doc_id_for(path, root)
            if any(p.record.doc_id == doc_id for p in pending):
                self._flush(pending, known, report)  # the same id twice: commit the first one first
            try:
                prepared = self._prepare(path, doc_id, known, report)
            except LoadError as exc:
                report.failed.append((str(path), str(exc)))
                prepared = None
            if prepared is not None:
                pending.append(prepared)
                if sum(len(p.chunks) for p in pending) >= self.batch_chunks or len(pending) >= self.batch_docs:
                    self._flush(pending, known, report)
            if progress:
                progress(done, total, path.name)
        self._flush(pending, known, report)
        return report

    def _prepare(self, path: Path, doc_id: str, known: dict[str, str], report: IngestReport) -> _Prepared | None:
        doc = load_document(path)
        digest = doc.content_hash
        if known.get(doc_id) == digest:
            report.unchanged.append(doc_id)
            return None
        spans = self.chunk(doc)
        if not spans:
            raise LoadError(f"{path.name}: no text to index")
        records = [
            ChunkRecord(
                id=f"{doc_id}::{digest[:16]}::{i:06d}",
                doc_id=doc_id,
                doc_hash=digest,
                text=text,
                start=start,
                end=end,
                index=i,
                page=doc.page_at(start),
                title=doc.title,
                source=str(path),
                page_breaks=tuple((n, s) for n, s, _ in doc.pages if start < s < end),
            )
            for i, (start, end, text) in enumerate(spans)
        ]
        record = DocRecord(
            doc_id=doc_id,
            doc_hash=digest,
            title=doc.title,
            source=str(path),
            kind=doc.kind,
            chunks=len(records),
            indexed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            meta={**doc.metadata, "pages": str(len(doc.pages))} if doc.pages else dict(doc.metadata),
        )
        return _Prepared(record, doc.text, records)

    def _flush(self, pending: list[_Prepared], known: dict[str, str], report: IngestReport) -> None:
        """Embed and write the pending documents' chunks slice by slice, then commit them."""
        if not pending:
            return
        chunks = [c for p in pending for c in p.chunks]
        for i in range(0, len(chunks), self.batch_chunks):
            part = chunks[i : i + self.batch_chunks]  # bounded memory even for one huge document
            self.store.write_chunks(part, self.embedder.embed([c.text for c in part]))
        self.store.commit_documents([(p.record, p.text) for p in pending])
        for p in pending:
            (report.updated if p.record.doc_id in known else report.added).append(p.record.doc_id)
            known[p.record.doc_id] = p.record.doc_hash
            report.chunks += len(p.chunks)
        pending.clear()
