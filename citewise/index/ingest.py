"""Incremental ingest: load, chunk, embed and commit documents one at a time."""

from __future__ import annotations

import datetime as dt
import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from citewise.index.chunking import chunk_text
from citewise.index.doc_ids import DocIds, absolute
from citewise.index.embed import SentenceEmbedder
from citewise.index.loaders import LoadedDocument, LoadError, find_files, load_document, short_path
from citewise.index.shards import Shard, file_key, in_shard
from citewise.index.store import ChromaStore, ChunkRecord, DocRecord, chunk_id
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
    # unchanged documents whose chunks in the store did not match the registry, written again
    repaired: list[str] = field(default_factory=list)
    chunks: int = 0

    @property
    def ok(self) -> bool:
        """True when every file given made it into the index."""
        return not self.failed

    def summary(self) -> str:
        """One line for the terminal."""
        repaired = f", {len(self.repaired)} repaired" if self.repaired else ""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged{repaired}, "
            f"{len(self.failed)} failed ({self.chunks} chunks written)"
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "repaired": self.repaired,
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
    repair: bool = False


@dataclass
class _Read:
    """A file read (and, when it may be new, chunked) ahead by the reading thread."""

    doc: LoadedDocument
    spans: list[tuple[int, int, str]] | None  # None: not chunked ahead (the content was already indexed)


@dataclass
class _Run:
    """The state of one ingest run."""

    writer: str
    committed: dict[str, DocRecord]  # as read at the start of the run
    known: dict[str, str]  # doc id -> hash, kept up to date as the run commits
    ids: DocIds
    report: IngestReport
    pending: list[_Prepared] = field(default_factory=list)
    held: set[str] | None = None  # chunk ids in the store, read when first needed
    files: int = 0  # files in this run


class Indexer:
    """Turns files into committed documents in a `ChromaStore`.

    Documents are embedded and committed in batches of up to ``batch_chunks`` chunks (one
    model call and a few store writes per batch rather than per file); each document still
    commits all or nothing. The model sorts each call's texts by word-piece count before
    batching them, so a larger call computes less padding: 1,024 chunks per call computed 3%
    padding on the 271-file bench corpus where 128 computed 13% (docs/performance.md).
    With ``read_ahead`` > 0, one thread reads and chunks the next files while a batch is
    embedded (results are used in file order). By default it is on only when the machine has
    a core the embedding model does not use (more than 4): on 2 cores the model's two
    threads already fill both, and a third one slowed ingest down (docs/performance.md).
    """

    def __init__(
        self,
        store: ChromaStore,
        embedder: SentenceEmbedder,
        config: ChunkConfig,
        *,
        batch_chunks: int = 1024,
        batch_docs: int = 1024,
        read_ahead: int | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.batch_chunks = max(1, batch_chunks)
        self.batch_docs = max(1, batch_docs)
        self.read_ahead = max(0, read_ahead) if read_ahead is not None else (4 if (os.cpu_count() or 1) > 4 else 0)

    def chunk(self, doc: LoadedDocument) -> list[tuple[int, int, str]]:
        """(start, end, text) of each chunk, sized to fit the embedding model's input."""
        limit = max(16, self.embedder.max_tokens - 2)  # [CLS] and [SEP] take two places
        size = min(self.config.chunk_size, limit)
        overlap = min(self.config.chunk_overlap, size // 2)
        pieces = chunk_text(doc.text, size, overlap, tokenizer=self.embedder.chunk_counter(doc.text))
        return [(c.start, c.end, c.text) for c in pieces]

    def ingest(
        self,
        paths: list[Path],
        *,
        progress: Progress | None = None,
        doc_ids: dict[Path, str] | None = None,
        shard: Shard | None = None,
    ) -> IngestReport:
        """Index files and folders; unchanged documents are skipped, changed ones replaced.

        A file that cannot be read is reported in ``failed`` with a one-line reason and
        the others go on; nothing already indexed is touched by a failure. An unchanged
        document whose chunks are not all in the store is written again (``repaired``).
        Other ingests may run at the same time, in this process or others.

        Args:
            paths: files and folders (searched recursively).
            progress: called after each file as ``progress(done, total, name)``.
            doc_ids: optional fixed ids for some files (uploads keep their user-facing name).
            shard: ``(i, N)``: index only the files of shard i of N (`citewise.index.shards`);
                the other shards' documents are neither read nor touched.
        """
        report = IngestReport()
        files, problems = find_files(paths)
        report.failed.extend(problems)
        if shard is not None:
            files = [(p, r) for p, r in files if in_shard((doc_ids or {}).get(p) or file_key(p, r), shard)]
        with self.store.writing() as writer:
            if self.store.needs_sweep():  # chunks left by a crash or a kill: drop them first
                self.store.sweep()
            committed = self.store.documents()
            run = _Run(
                writer,
                committed,
                {d.doc_id: d.doc_hash for d in committed.values()},
                DocIds(committed.values()),
                report,
            )
            for path, doc_id in (doc_ids or {}).items():
                run.ids.claim(doc_id, path)
            run.files = len(files)
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="citewise-read") as pool:
                known = frozenset(run.known.values())
                ahead: deque[Future[_Read]] = deque()
                queue = iter(files)

                def read_next() -> None:
                    nxt = next(queue, None)
                    if nxt is not None:
                        ahead.append(pool.submit(self._read, nxt[0], known))

                try:
                    for _ in range(self.read_ahead):
                        read_next()
                    for done, (path, root) in enumerate(files, start=1):
                        read = ahead.popleft() if self.read_ahead else None
                        read_next()
                        self._one(run, path, root, (doc_ids or {}).get(path), read)
                        if progress:
                            progress(done, len(files), path.name)
                finally:
                    for future in ahead:  # a failure or an interrupt: do not read on
                        future.cancel()
            self._flush(run)
        return report

    def _read(self, path: Path, indexed: frozenset[str]) -> _Read:
        """Load ``path``; chunk it too unless its content is already indexed (then it is usually skipped).

        Runs in the reading thread. The torch backend's tokenizer is shared with its encoder
        and is not safe to call from two threads, so with torch only loading is done ahead.
        """
        doc = load_document(path)
        if doc.content_hash in indexed or getattr(self.embedder, "backend", "torch") == "torch":
            return _Read(doc, None)
        return _Read(doc, self.chunk(doc))

    def _one(self, run: _Run, path: Path, root: Path, fixed_id: str | None, read: Future[_Read] | None) -> None:
        try:
            doc_id = fixed_id or run.ids.assign(path, root)
            if any(p.record.doc_id == doc_id for p in run.pending):
                self._flush(run)  # the same id twice: commit the first one first
            prepared = self._prepare(path, doc_id, run, read=read)
        except LoadError as exc:
            run.report.failed.append((short_path(path), str(exc)))
            return
        except (OSError, RecursionError) as exc:  # the path itself is unusable (too long, too deep)
            run.report.failed.append((short_path(path), f"{short_path(path)}: cannot read file ({_why(exc)})"))
            return
        if prepared is not None:
            run.pending.append(prepared)
            if sum(len(p.chunks) for p in run.pending) >= self.batch_chunks or len(run.pending) >= self.batch_docs:
                self._flush(run)

    def _whole(self, run: _Run, record: DocRecord) -> bool:
        """Whether the store holds every chunk the registry says ``record`` has."""
        expected = [chunk_id(record.doc_id, record.doc_hash, i) for i in range(record.chunks)]
        if run.held is None and run.files <= 20:  # a few files (an upload): ask for just these ids
            return self.store.has_chunks(expected)
        if run.held is None:  # many: list every id once
            run.held = self.store.chunk_ids()
        return all(cid in run.held for cid in expected)

    def _prepare(
        self,
        path: Path,
        doc_id: str,
        run: _Run,
        doc: LoadedDocument | None = None,
        *,
        read: Future[_Read] | None = None,
    ) -> _Prepared | None:
        from_file = doc is None  # else an already-loaded document (ingest_loaded): no file behind it
        spans = None
        if read is not None:  # read ahead: its LoadError or OSError is raised here, as load_document's would be
            got = read.result()
            doc, spans = got.doc, got.spans
        doc = load_document(path) if doc is None else doc
        digest = doc.content_hash
        repair = False
        if run.known.get(doc_id) == digest:
            before = run.committed.get(doc_id)
            if before is None or before.doc_hash != digest or self._whole(run, before):
                run.report.unchanged.append(doc_id)
                return None
            repair = True  # e.g. chunks deleted by another ingest before this version existed
        spans = self.chunk(doc) if spans is None else spans
        if not spans:
            raise LoadError(f"{path.name}: no text to index")
        records = [
            ChunkRecord(
                id=chunk_id(doc_id, digest, i),
                doc_id=doc_id,
                doc_hash=digest,
                text=text,
                start=start,
                end=end,
                index=i,
                page=doc.page_at(start),
                title=doc.title,
                source=doc.source,
                page_breaks=tuple((n, s) for n, s, _ in doc.pages if start < s < end),
            )
            for i, (start, end, text) in enumerate(spans)
        ]
        record = DocRecord(
            doc_id=doc_id,
            doc_hash=digest,
            title=doc.title,
            source=doc.source,
            kind=doc.kind,
            chunks=len(records),
            indexed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            meta={**doc.metadata, "pages": str(len(doc.pages))} if doc.pages else dict(doc.metadata),
            path=absolute(path) if from_file else "",
        )
        return _Prepared(record, doc.text, records, repair)

    def _flush(self, run: _Run) -> None:
        """Embed and write the pending documents' chunks slice by slice, then commit them."""
        pending, report = run.pending, run.report
        if not pending:
            return
        chunks = [c for p in pending for c in p.chunks]
        for i in range(0, len(chunks), self.batch_chunks):
            part = chunks[i : i + self.batch_chunks]  # bounded memory even for one huge document
            self.store.write_chunks(part, self.embedder.embed([c.text for c in part]), run.writer)
        self.store.commit_documents([(p.record, p.text) for p in pending], run.writer)
        for p in pending:
            doc_id = p.record.doc_id
            (report.repaired if p.repair else report.updated if doc_id in run.known else report.added).append(doc_id)
            run.known[doc_id] = p.record.doc_hash
            report.chunks += len(p.chunks)
        pending.clear()


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deep"
    return getattr(exc, "strerror", None) or type(exc).__name__


def ingest_loaded(
    indexer: Indexer, documents: Iterable[tuple[str, LoadedDocument]], *, progress: Progress | None = None
) -> IngestReport:
    """Index documents already read into text (LlamaIndex ``Document``s...) under the given ids.

    The rules of `Indexer.ingest()`: an unchanged content hash is skipped, each document
    commits all or nothing, one that cannot be indexed is reported in ``failed``.
    """
    items = list(documents)
    report = IngestReport()
    with indexer.store.writing() as writer:
        if indexer.store.needs_sweep():
            indexer.store.sweep()
        committed = indexer.store.documents()
        known = {d.doc_id: d.doc_hash for d in committed.values()}
        run = _Run(writer, committed, known, DocIds(committed.values()), report, files=len(items))
        for done, (doc_id, doc) in enumerate(items, start=1):
            if any(p.record.doc_id == doc_id for p in run.pending):
                indexer._flush(run)  # the same id twice: commit the first one first
            try:
                prepared = indexer._prepare(Path(doc_id), doc_id, run, doc)
            except LoadError as exc:
                report.failed.append((doc_id, str(exc)))
                prepared = None
            if prepared is not None:
                run.pending.append(prepared)
                if sum(len(p.chunks) for p in run.pending) >= indexer.batch_chunks:
                    indexer._flush(run)
            if progress:
                progress(done, len(items), doc_id)
        indexer._flush(run)
    return report
