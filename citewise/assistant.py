"""The Assistant: one object that ingests documents and answers questions with citations.

Every interface (CLI, Gradio, HTTP API, eval) is a client of this class.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citewise.config import Settings, load_settings
from citewise.errors import CitewiseError
from citewise.rag.citations import Answer
from citewise.rag.modes import MODES

if TYPE_CHECKING:
    from citewise.index.ingest import IngestReport, Progress
    from citewise.index.store import DocRecord
    from citewise.rag.answer import AnswerMode
    from citewise.rag.retrieve import HybridRetriever, Passage
    from citewise.rag.stream import AnswerStream, StreamItem

NO_DOCUMENTS = "No documents are indexed yet: run `citewise ingest PATH` or upload a file."


class ModeError(CitewiseError, ValueError):
    """An answer mode that does not exist or cannot run here."""

    status = 400
    code = "mode_unavailable"


class Assistant:
    """Answers questions about a document collection, citing verbatim quotes.

    Build one with `from_settings()`; the parts are passed in so tests and host apps
    can swap any of them. Answer modes are built on first use from the registry
    (`citewise.rag.modes.MODES`); ``modes`` holds any built already.
    """

    def __init__(
        self,
        settings: Settings,
        indexer: Any,
        retriever: HybridRetriever,
        modes: dict[str, Any] | None = None,
        *,
        llm: Any = None,
    ) -> None:
        self.settings = settings
        self.indexer = indexer
        self.retriever = retriever
        self.store = retriever.store
        self.embedder = retriever.embedder
        self.llm = llm  # the generative mode's LLM (a LlamaIndex LLM); None: the one the settings describe
        self._modes: dict[str, Any] = dict(modes or {})
        self._modes_lock = threading.RLock()  # re-entrant: a mode's factory may ask for another mode
        self._write_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, llm: Any = None, **overrides: Any) -> Assistant:
        """Wire an Assistant from settings (default: file, environment) plus ``overrides``.

        Args:
            settings: the settings tree; default `load_settings()`.
            llm: the LLM the generative mode writes with (any LlamaIndex ``LLM``); default
                the one the settings describe (bundled GGUF or ``llm_url``), loaded on first use.
            overrides: settings to change, e.g. ``data_dir="/tmp/idx"``.

        Example:
            >>> assistant = Assistant.from_settings(data_dir="/tmp/idx")  # doctest: +SKIP
            >>> assistant = Assistant.from_settings(llm=my_llamaindex_llm)  # doctest: +SKIP
        """
        from citewise.index.embed import SentenceEmbedder
        from citewise.index.ingest import ChunkConfig, Indexer
        from citewise.index.store import ChromaStore, StoreConfig
        from citewise.rag.retrieve import HybridRetriever, RetrievalConfig

        if settings is None:
            settings = load_settings(overrides)
        elif overrides:
            settings = settings.with_overrides(**overrides)
        store = ChromaStore(StoreConfig(settings.data_dir, settings.chroma_url, settings.collection))
        embedder = SentenceEmbedder(
            settings.embed_model,
            batch_size=settings.embed_batch_size,
            backend=settings.embed_backend,
            cache_dir=settings.data_dir / "models",
        )
        indexer = Indexer(store, embedder, ChunkConfig(settings.chunk_size, settings.chunk_overlap))
        retriever = HybridRetriever(store, embedder, RetrievalConfig(top_k=settings.top_k))
        assistant = cls(settings, indexer, retriever, llm=llm)
        assistant.mode("extractive")  # built now, as every mode falls back on it
        return assistant

    # ---- documents ------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], progress: Progress | None = None, **kwargs: Any) -> IngestReport:
        """Index files and folders. Unchanged documents are skipped, changed ones replaced.

        Returns:
            An `IngestReport`; ``report.ok`` is False when
            some file could not be indexed (each with a one-line reason).
        """
        with self._write_lock:
            return self.indexer.ingest([Path(p) for p in paths], progress=progress, **kwargs)

    def upload(self, filename: str, data: bytes, progress: Progress | None = None) -> IngestReport:
        """Index an uploaded file: checked for name, type and size, stored under a generated name.

        The document id is ``uploads/<clean file name>``; uploading the same name again
        replaces the document. Concurrent uploads (threads or processes sharing the data
        folder) leave exactly one file per document: the one it was read from.

        Raises:
            UploadError: the name, type or size is refused (one line saying why).
        """
        from citewise.index.uploads import UploadLimits, check_upload, store_upload, upload_lock

        limits = UploadLimits(max_bytes=self.settings.max_upload_mb * 1024 * 1024)
        check_upload(filename, len(data), limits)  # refuse before waiting for the lock
        with upload_lock(self.settings.data_dir):  # the previous file, the commit, the clean-up: one step
            doc_id, path = store_upload(self.settings.data_dir, filename, data, limits)
            try:
                previous = self.store.documents().get(doc_id)
                report = self.ingest([path], progress=progress, doc_ids={path: doc_id})
                now = self.store.documents().get(doc_id)
            except BaseException:
                path.unlink(missing_ok=True)  # the store failed: leave no file that no document owns
                raise
            if now is None or Path(now.path or now.source).name != path.name:
                path.unlink(missing_ok=True)  # not indexed, or the same bytes were indexed already
            elif previous is not None and Path(previous.path or previous.source).name != path.name:
                self._delete_upload_file(previous.path or previous.source)
        if not report.ok:
            name = doc_id.split("/", 1)[1]  # reasons name the file the user sent, not its stored name
            report.failed = [(doc_id, reason.replace(path.name, name)) for _, reason in report.failed]
        return report

    def _delete_upload_file(self, source: str) -> None:
        folder = (self.settings.data_dir / "uploads").resolve()
        path = Path(source).resolve()
        if path.parent == folder:
            path.unlink(missing_ok=True)

    def remove(self, doc_id: str) -> bool:
        """Remove a document and all its chunks. Returns False if it was not indexed."""
        from citewise.index.uploads import upload_lock

        with upload_lock(self.settings.data_dir), self._write_lock:
            record = self.store.documents().get(doc_id)
            removed = self.store.remove_document(doc_id)
            if record is not None:
                self._delete_upload_file(record.path or record.source)
        return removed

    def documents(self) -> list[DocRecord]:
        """The indexed documents, sorted by id."""
        return sorted(self.store.documents().values(), key=lambda d: d.doc_id)

    def document(self, doc_id: str) -> DocRecord | None:
        """One indexed document's record, or None."""
        return self.store.documents().get(doc_id)

    def chunk_count(self) -> int:
        """How many chunks the index holds."""
        return self.store.count_chunks()

    def document_text(self, doc_id: str) -> str | None:
        """The full indexed text of a document (citation offsets point into it)."""
        return self.store.document_text(doc_id)

    def is_empty(self) -> bool:
        """True when no document is indexed (cheap: the keyword index caches the registry)."""
        keywords = getattr(self.retriever, "keywords", None)
        return not (keywords.refresh() if keywords is not None else self.store.documents())

    def ensure_corpus(self, progress: Progress | None = None) -> IngestReport | None:
        """Index the sample corpus if the index is empty; returns the report, or None."""
        if self.store.documents():
            return None
        return self.ingest([self.settings.corpus_dir], progress=progress)

    def rebuild(self, paths: Iterable[str | Path] = (), progress: Progress | None = None) -> IngestReport:
        """Delete the index and ingest ``paths`` (default: the sources it held, else the corpus).

        Re-indexing the sources it held keeps every document's id (uploads stay
        ``uploads/<name>``); a damaged embedded folder is moved aside to ``chroma.damaged``.
        """
        from citewise.index.rebuild import clear

        given = [Path(p) for p in paths]
        with self._write_lock:
            sources = clear(self.store)
            if given or not sources:
                return self.indexer.ingest(given or [self.settings.corpus_dir], progress=progress)
            return self.indexer.ingest(list(sources), progress=progress, doc_ids=sources)

    # ---- questions ------------------------------------------------------------------
    def search(self, query: str, top_k: int | None = None) -> list[Passage]:
        """Retrieve passages only (no answer)."""
        from citewise.rag.chat import clean_question

        return self.retriever.search(clean_question(query), top_k)

    def mode(self, name: str | None = None) -> AnswerMode:
        """The answer mode ``name`` (default: the configured one)."""
        name = name or self.settings.mode
        built = self._modes.get(name)
        if built is not None:
            return built
        with self._modes_lock:
            if name not in self._modes:
                self._modes[name] = self._build_mode(name)
            return self._modes[name]

    def _build_mode(self, name: str) -> Any:
        """Mode ``name`` built by its factory in the registry (`citewise.rag.modes`)."""
        factory = MODES.get(name)
        if factory is None:
            raise ModeError(f"unknown answer mode {name!r}; use one of {', '.join(MODES)}")
        try:
            return factory(self)
        except ImportError:
            raise ModeError(f"answer mode {name!r} is not available in this installation") from None

    def stream(
        self,
        question: str,
        history: Iterable[Any] | None = None,
        *,
        mode: str | None = None,
        top_k: int | None = None,
    ) -> AnswerStream:
        """Answer as a stream: text deltas (``str``), then the finished `Answer`.

        Iterate it for both, or call ``.deltas()`` for the text and ``.answer()`` for the
        Answer (`AnswerStream`). Nothing runs before the first
        item is read, so the errors below are raised there.

        Args:
            question: the user's question.
            history: earlier turns (OpenAI-style dicts, (user, assistant) pairs, or Messages).
            mode: ``extractive`` or ``generative``; default from settings.
            top_k: passages to retrieve; default from settings.

        Raises:
            QuestionError: the question is empty or too long.
            ModeError: the mode is unknown or unavailable.
        """
        from citewise.rag.stream import AnswerStream

        return AnswerStream(self._answer_items(question, history, mode, top_k))

    def _answer_items(
        self, question: str, history: Iterable[Any] | None, mode: str | None, top_k: int | None
    ) -> Iterator[StreamItem]:
        from citewise.rag.chat import clean_question, normalize_history, retrieval_query

        started = time.perf_counter()
        question = clean_question(question)
        turns = normalize_history(history)
        answer_mode = self.mode(mode)
        if self.is_empty():  # not "the documents don't cover this": there are none
            yield NO_DOCUMENTS
            yield Answer(NO_DOCUMENTS, [], refused=True, mode=answer_mode.name, query=question)
            return
        query = getattr(answer_mode, "condense", retrieval_query)(question, turns)
        t0 = time.perf_counter()
        passages = self.retriever.search(query, top_k)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        for item in answer_mode.stream(question, query, passages, turns):
            if isinstance(item, Answer):
                item.query = query
                item.timings = {
                    "retrieve": retrieve_ms,
                    **item.timings,
                    "total": (time.perf_counter() - started) * 1000,
                }
            yield item

    def ask(
        self, question: str, history: Iterable[Any] | None = None, *, mode: str | None = None, top_k: int | None = None
    ) -> Answer:
        """Answer ``question`` with citations; see `stream()` for the arguments."""
        return self.stream(question, history, mode=mode, top_k=top_k).answer()

    # ---- LlamaIndex -----------------------------------------------------------------
    def as_query_engine(self, mode: str | None = None, top_k: int | None = None, streaming: bool = False) -> Any:
        """This Assistant as a LlamaIndex query engine (``BaseQueryEngine``).

        ``engine.query(q)`` returns a ``Response``: ``response`` is the answer text,
        ``source_nodes[n-1]`` is citation ``[n]`` (text = the verbatim quote; doc_id, title,
        source, page, start, end, passage in metadata), ``metadata`` holds refused, mode,
        confidence, sentences, note and closest. ``streaming=True`` gives a ``StreamingResponse``.

        Raises:
            ModeError: the mode is unknown or unavailable.
        """
        from citewise.llamaindex import CitewiseQueryEngine

        return CitewiseQueryEngine(self, mode=mode, top_k=top_k, streaming=streaming)

    def as_chat_engine(self, mode: str | None = None, top_k: int | None = None, chat_history: Any = None) -> Any:
        """This Assistant as a LlamaIndex chat engine (``BaseChatEngine``); follow-ups use its own condensing."""
        from citewise.llamaindex import CitewiseChatEngine

        return CitewiseChatEngine(self, mode=mode, top_k=top_k, chat_history=chat_history)

    def as_retriever(self, top_k: int | None = None) -> HybridRetriever:
        """The hybrid retriever as a LlamaIndex ``BaseRetriever`` (chunk offsets in node metadata)."""
        from citewise.llamaindex import retriever

        return retriever(self, top_k)

    def ingest_documents(self, documents: Iterable[Any], progress: Progress | None = None) -> IngestReport:
        """Index LlamaIndex ``Document``s with the same all-or-nothing, incremental rules as files.

        Each document's id is its ``doc_id`` (give readers stable ids, e.g.
        ``SimpleDirectoryReader(..., filename_as_id=True)``, so unchanged documents are
        skipped on the next run); ``title``, ``source``/``url``/``file_path`` and
        ``page_label`` metadata are used when present, the rest is kept as document metadata.
        """
        from citewise.index.ingest import ingest_loaded
        from citewise.llamaindex import loaded_documents

        usable, failed = loaded_documents(documents)
        with self._write_lock:
            report = ingest_loaded(self.indexer, usable, progress=progress)
        report.failed[:0] = failed
        return report
