"""citewise inside LlamaIndex apps: a query engine, a chat engine and a retriever over an Assistant.

These are thin adapters. The Assistant still retrieves, answers (extractive or generative),
condenses follow-ups and checks citations; the classes here only translate its
`Answer` into LlamaIndex's response types, so citation
``[n]`` in the answer text is ``source_nodes[n-1]``:

    >>> engine = assistant.as_query_engine()               # doctest: +SKIP
    >>> response = engine.query("When did OpenAI launch Sora 2?")  # doctest: +SKIP
    >>> response.source_nodes[0].node.metadata["doc_id"]   # doctest: +SKIP

Reached through ``Assistant.as_query_engine``, ``as_chat_engine`` and ``as_retriever``;
nothing else imports this module, so ``import citewise`` stays light.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.base.response.schema import RESPONSE_TYPE, AsyncStreamingResponse, Response, StreamingResponse
from llama_index.core.callbacks import CallbackManager
from llama_index.core.chat_engine.types import AgentChatResponse, BaseChatEngine, StreamingAgentChatResponse
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from citewise.index.loaders import MAX_TEXT_CHARS, LoadedDocument
from citewise.rag.citations import Answer, Citation

if TYPE_CHECKING:
    from citewise.assistant import Assistant
    from citewise.rag.retrieve import HybridRetriever

# metadata a LlamaIndex LLM or embedding should not be shown when it formats a source node
_HIDDEN_KEYS = ["passage", "passage_start", "start", "end", "n", "source"]


# ---- Answer -> LlamaIndex types ------------------------------------------------------------
def citation_node(c: Citation) -> NodeWithScore:
    """Citation ``[n]`` as a node: its text is the verbatim quote, its score the citation's score.

    ``metadata`` holds ``n``, ``doc_id``, ``title``, ``source``, ``page`` (None without pages),
    ``start`` and ``end`` (the quote's offsets in the document text), ``passage`` (the
    retrieved chunk around the quote) and ``passage_start`` (its offset).
    """
    node = TextNode(
        id_=f"{c.doc_id}#{c.start}-{c.end}",
        text=c.quote,
        start_char_idx=c.start,
        end_char_idx=c.end,
        metadata={
            "n": c.n,
            "doc_id": c.doc_id,
            "title": c.title,
            "source": c.source,
            "page": c.page,
            "start": c.start,
            "end": c.end,
            "passage": c.passage,
            "passage_start": c.passage_start,
        },
        excluded_llm_metadata_keys=list(_HIDDEN_KEYS),
        excluded_embed_metadata_keys=list(_HIDDEN_KEYS),
    )
    return NodeWithScore(node=node, score=float(c.score))


def source_nodes(answer: Answer) -> list[NodeWithScore]:
    """The answer's citations in order (none for a refusal: its closest passages are metadata)."""
    return [] if answer.refused else [citation_node(c) for c in answer.citations]


def answer_metadata(answer: Answer) -> dict[str, Any]:
    """What a LlamaIndex response carries besides text and sources.

    Keys: ``refused``, ``mode``, ``confidence`` (None where the mode does not estimate it),
    ``note``, ``query`` (the standalone query used for retrieval), ``timings_ms``,
    ``sentences`` (generative mode: per-sentence support, else None) and ``closest`` (a
    refusal's nearest passages, as citation dicts; empty otherwise) and ``disagreement`` (when
    documents state different values for the fact asked for: each value with its citation, else None).
    """
    return {
        "refused": answer.refused,
        "mode": answer.mode,
        "confidence": answer.confidence,
        "note": answer.note,
        "query": answer.query,
        "timings_ms": dict(answer.timings),
        "sentences": None if answer.sentences is None else [s.to_dict() for s in answer.sentences],
        "closest": [c.to_dict(passage=True) for c in answer.closest] if answer.refused else [],
        "disagreement": answer.disagreement.to_dict() if answer.disagreement else None,
    }


def to_response(answer: Answer) -> Response:
    """A LlamaIndex ``Response`` for a finished answer."""
    return Response(response=answer.text, source_nodes=source_nodes(answer), metadata=answer_metadata(answer))


def _history(messages: Iterable[ChatMessage]) -> list[dict[str, str]]:
    """ChatMessages as the OpenAI-style turns the Assistant reads (other roles are left out)."""
    out = []
    for m in messages:
        role = m.role.value if isinstance(m.role, MessageRole) else str(m.role)
        if role in ("user", "assistant") and m.content:
            out.append({"role": role, "content": str(m.content)})
    return out


class _AnswerStream:
    """Drives ``Assistant.stream`` and keeps the final Answer.

    The question is checked at once (``QuestionError``), so a streamed query fails when it
    is made, not at its first read.
    """

    def __init__(self, assistant: Assistant, question: str, history: Any, mode: str | None, top_k: int | None):
        from citewise.rag.chat import clean_question

        clean_question(question)
        self._items = assistant.stream(question, history, mode=mode, top_k=top_k)
        self.answer: Answer | None = None

    def deltas(self, on_answer: Callable[[Answer], None]) -> Generator[str, None, None]:
        """Text deltas; ``on_answer`` is called with the Answer before the generator ends."""
        for delta in self._items.deltas():
            if delta:
                yield delta
        self.answer = self._items.answer()
        on_answer(self.answer)

    async def adeltas(self, on_answer: Callable[[Answer], None]) -> AsyncGenerator[str, None]:
        """`deltas()`, each step run in a worker thread so the event loop stays free."""
        it = self.deltas(on_answer)
        done = object()
        while True:
            delta = await asyncio.to_thread(next, it, done)
            if delta is done:
                return
            yield str(delta)


def _fill(target: Any, answer: Answer) -> None:
    """Set a streaming response's sources and metadata once the Answer is in."""
    target.source_nodes[:] = source_nodes(answer)
    target.metadata = answer_metadata(answer)


# ---- query engine --------------------------------------------------------------------------
class CitewiseQueryEngine(BaseQueryEngine):
    """A LlamaIndex query engine that answers with citewise (see ``Assistant.as_query_engine``).

    ``query()`` returns a ``Response`` whose ``response`` is the answer text and whose
    ``source_nodes[n-1]`` is citation ``[n]`` (see `citation_node()`); ``metadata``
    is `answer_metadata()`. With ``streaming=True`` it returns a ``StreamingResponse``
    (``AsyncStreamingResponse`` from ``aquery``) whose sources and metadata are filled in
    when the stream ends.
    """

    def __init__(
        self,
        assistant: Assistant,
        *,
        mode: str | None = None,
        top_k: int | None = None,
        streaming: bool = False,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager)
        self.assistant = assistant
        self.mode = mode
        self.top_k = top_k
        self.streaming = streaming
        assistant.mode(mode)  # an unknown or unavailable mode fails here, not at the first query

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        stream = _AnswerStream(self.assistant, query_bundle.query_str, None, self.mode, self.top_k)
        if self.streaming:
            response = StreamingResponse(response_gen=_no_deltas(), source_nodes=[], metadata={})
            response.response_gen = stream.deltas(lambda a: _fill(response, a))
            return response
        for _ in stream.deltas(lambda a: None):
            pass
        assert stream.answer is not None
        return to_response(stream.answer)

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        if self.streaming:
            stream = _AnswerStream(self.assistant, query_bundle.query_str, None, self.mode, self.top_k)
            response = AsyncStreamingResponse(response_gen=_empty(), source_nodes=[], metadata={})
            response.response_gen = stream.adeltas(lambda a: _fill(response, a))
            return response
        return await asyncio.to_thread(self._query, query_bundle)

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}


def _no_deltas() -> Generator[str, None, None]:
    yield from ()


async def _empty() -> AsyncGenerator[str, None]:
    return
    yield  # pragma: no cover - makes this an async generator


# ---- chat engine ---------------------------------------------------------------------------
@dataclass
class CitewiseStreamingChatResponse(StreamingAgentChatResponse):
    """A streamed chat answer; ``source_nodes`` and ``metadata`` are set when the stream ends."""

    metadata: dict[str, Any] = field(default_factory=dict)


class CitewiseChatEngine(BaseChatEngine):
    """A LlamaIndex chat engine over citewise (see ``Assistant.as_chat_engine``).

    Each turn goes to ``Assistant.stream`` with the earlier turns, so follow-ups use
    citewise's own history-aware retrieval (the last question joined to a follow-up in
    extractive mode; the LLM's condensed question in generative mode). Responses carry
    ``source_nodes`` and ``metadata`` as `CitewiseQueryEngine` does.
    """

    def __init__(
        self,
        assistant: Assistant,
        *,
        mode: str | None = None,
        top_k: int | None = None,
        chat_history: list[ChatMessage] | None = None,
    ) -> None:
        self.assistant = assistant
        self.mode = mode
        self.top_k = top_k
        self._history: list[ChatMessage] = list(chat_history or [])
        assistant.mode(mode)

    @property
    def chat_history(self) -> list[ChatMessage]:
        """The conversation so far, as user and assistant ``ChatMessage``s."""
        return list(self._history)

    def reset(self) -> None:
        """Forget the conversation."""
        self._history = []

    def _start(self, message: str, chat_history: list[ChatMessage] | None) -> _AnswerStream:
        if chat_history is not None:
            self._history = list(chat_history)
        return _AnswerStream(self.assistant, message, _history(self._history), self.mode, self.top_k)

    def _record(self, message: str, answer: Answer) -> None:
        self._history += [
            ChatMessage(role=MessageRole.USER, content=message),
            ChatMessage(role=MessageRole.ASSISTANT, content=answer.text),
        ]

    def chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        """Answer ``message`` in the context of the conversation (or of ``chat_history``, which replaces it)."""
        stream = self._start(message, chat_history)
        for _ in stream.deltas(lambda a: None):
            pass
        assert stream.answer is not None
        self._record(message, stream.answer)
        return AgentChatResponse(
            response=stream.answer.text,
            source_nodes=source_nodes(stream.answer),
            metadata=answer_metadata(stream.answer),
        )

    def stream_chat(self, message: str, chat_history: list[ChatMessage] | None = None) -> CitewiseStreamingChatResponse:
        """`chat()` as a stream: read ``response.response_gen``; sources arrive at its end."""
        stream = self._start(message, chat_history)
        response = CitewiseStreamingChatResponse(is_writing_to_memory=False)

        def finish(answer: Answer) -> None:
            self._finish(response, message, answer)

        response.chat_stream = _chat_responses(stream.deltas(finish))
        return response

    async def achat(self, message: str, chat_history: list[ChatMessage] | None = None) -> AgentChatResponse:
        """Async `chat()` (the work runs in a worker thread)."""
        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> CitewiseStreamingChatResponse:
        """Async `stream_chat()`: read ``response.async_response_gen()``."""
        stream = self._start(message, chat_history)
        response = CitewiseStreamingChatResponse(is_writing_to_memory=False)

        def finish(answer: Answer) -> None:
            self._finish(response, message, answer)

        response.achat_stream = _achat_responses(stream.adeltas(finish))
        return response

    def _finish(self, response: CitewiseStreamingChatResponse, message: str, answer: Answer) -> None:
        response.source_nodes[:] = source_nodes(answer)
        response.metadata = answer_metadata(answer)
        response.response = answer.text
        self._record(message, answer)


def _chat_responses(deltas: Generator[str, None, None]) -> Generator[ChatResponse, None, None]:
    text = ""
    for delta in deltas:
        text += delta
        yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta)


async def _achat_responses(deltas: AsyncGenerator[str, None]) -> AsyncGenerator[ChatResponse, None]:
    text = ""
    async for delta in deltas:
        text += delta
        yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta)


# ---- retriever -----------------------------------------------------------------------------
def retriever(assistant: Assistant, top_k: int | None = None) -> HybridRetriever:
    """The Assistant's hybrid retriever, returning ``top_k`` nodes (default: the configured top_k).

    A different ``top_k`` gives a shallow copy that shares the store, the embedder and the
    keyword index, so no BM25 index is built twice.
    """
    base = assistant.retriever
    if top_k is None or top_k == base.config.top_k:
        return base
    clone = copy.copy(base)
    clone.config = dataclasses.replace(base.config, top_k=max(1, int(top_k)))
    return clone


# ---- Documents in --------------------------------------------------------------------------
_SOURCE_KEYS = ("source", "url", "file_path", "file_name")


def loaded_document(document: Any) -> tuple[str, LoadedDocument]:
    """A LlamaIndex ``Document`` as citewise reads a file: (doc id, text with title, source, pages).

    The id is ``document.doc_id``. ``title`` comes from the ``title`` or ``file_name``
    metadata (else the first line), ``source`` from ``source``, ``url``, ``file_path`` or
    ``file_name`` (else ``llamaindex:<doc id>``); a numeric ``page_label`` makes the whole
    text that page. Other scalar metadata is kept (as text) and counts in the content hash,
    except the keys the Document excludes from embeddings (a reader's file dates and sizes),
    so re-reading an untouched file does not re-index it.

    Raises:
        ValueError: the object has no text, or too much of it (one line saying which).
    """
    doc_id = str(getattr(document, "doc_id", "") or "").strip()
    text = getattr(document, "text", None)
    if not doc_id or not isinstance(text, str):
        raise ValueError(f"{type(document).__name__} is not a LlamaIndex Document (it needs doc_id and text)")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError(f"{doc_id}: no text to index")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"{doc_id}: {len(text):,} characters of text; the limit is {MAX_TEXT_CHARS:,}, split it")
    meta = {str(k): v for k, v in (getattr(document, "metadata", None) or {}).items()}
    first_line = next((line.strip().lstrip("#").strip() for line in text.splitlines() if line.strip()), doc_id)
    title = str(meta.get("title") or meta.get("file_name") or first_line)[:200]
    source = next((str(meta[k]) for k in _SOURCE_KEYS if meta.get(k)), f"llamaindex:{doc_id}")
    label = str(meta.get("page_label", "")).strip()
    pages = [(int(label), 0, len(text))] if label.isdigit() else []
    # metadata LlamaIndex itself keeps out of embeddings (file dates, sizes...) is no content: not hashed
    hidden = {"title", "source", *(getattr(document, "excluded_embed_metadata_keys", None) or [])}
    kept = {k: str(v) for k, v in meta.items() if k not in hidden and isinstance(v, str | int | float | bool)}
    kind = str(meta.get("kind") or "document")
    return doc_id, LoadedDocument(text=text, title=title, source=source, kind=kind, metadata=kept, pages=pages)


def loaded_documents(documents: Iterable[Any]) -> tuple[list[tuple[str, LoadedDocument]], list[tuple[str, str]]]:
    """Convert Documents with `loaded_document()`: (the usable ones, [(doc id, reason)] for the others)."""
    ok: list[tuple[str, LoadedDocument]] = []
    failed: list[tuple[str, str]] = []
    for i, document in enumerate(documents):
        try:
            ok.append(loaded_document(document))
        except ValueError as exc:
            failed.append((str(getattr(document, "doc_id", "") or f"documents[{i}]"), str(exc)))
    return ok, failed
