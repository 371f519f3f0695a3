"""Request and response bodies of the HTTP API (they make the OpenAPI schema).

The chat bodies follow OpenAI's chat-completions format; citewise adds ``citations``,
``refused``, ``confidence``, ``closest`` and ``disagreement`` to the completion and to the last stream chunk.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGES = 200
MAX_TOP_K = 50


class ErrorDetail(BaseModel):
    """What went wrong, in one line."""

    message: str
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, ...")
    code: str | None = Field(default=None, description="machine-readable: llm_unavailable, invalid_question, ...")
    param: str | None = None


class ErrorResponse(BaseModel):
    """Every error the API returns has this shape (as OpenAI's does)."""

    error: ErrorDetail


class ContentPart(BaseModel):
    """One part of a message's content (only text parts are read)."""

    model_config = ConfigDict(extra="allow")

    type: str = "text"
    text: str = ""


class ChatMessage(BaseModel):
    """One turn of the conversation."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return " ".join(p.text for p in self.content if p.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI chat-completions request. The last message must be the user's question.

    Fields OpenAI defines that citewise does not use (temperature, max_tokens, ...) are
    accepted and ignored.
    """

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="citewise, citewise-extractive or citewise-generative (or the bare mode name)")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K, description="citewise: passages to retrieve")
    collection: str | None = Field(
        default=None, description="citewise: the collection to answer from (or name the model citewise/NAME)"
    )
    conversation_id: str | None = Field(
        default=None,
        description="citewise: save the turn in this conversation (POST /v1/conversations makes one); when "
        "messages holds only the new question, the saved turns are the history",
    )


class CitationOut(BaseModel):
    """A verbatim quote backing the answer: ``document_text[start:end] == quote``."""

    n: int
    doc_id: str
    title: str
    source: str
    page: int | None
    quote: str
    start: int
    end: int
    score: float
    passage: str = Field(description="the retrieved passage around the quote")
    passage_start: int = Field(description="offset of the passage in the document")


class ResponseMessage(BaseModel):
    """The assistant's reply: the answer with [n] markers, then a sources list (a refusal: its closest passages)."""

    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    """The one answer."""

    index: int = 0
    message: ResponseMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    """Sizes of the request and the reply, counted in words and punctuation marks (not model tokens)."""

    prompt_tokens: int = Field(description="words in the request's messages")
    completion_tokens: int = Field(description="words in the reply, sources list included")
    total_tokens: int


class ClaimedValueOut(BaseModel):
    """What one document says the asked-for fact is."""

    value: str = Field(description="the value as the document writes it, e.g. 'January 1, 1999'")
    citation: int = Field(description="the [n] of the citation that states it")
    doc_id: str


class DisagreementOut(BaseModel):
    """Documents that give different values for the fact the question asks for."""

    about: Literal["date", "number", "name"]
    claims: list[ClaimedValueOut] = Field(description="each document's value, the answer's lead first")


class ChatCompletion(BaseModel):
    """OpenAI chat completion, plus ``citations``, ``refused``, ``confidence``, ``closest`` and ``disagreement``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    citations: list[CitationOut]
    refused: bool = Field(description="True when the documents do not cover the question, or none are indexed")
    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="how likely the answer is right, 0-1 (for a refusal: its best candidate's, below the threshold); "
        "null where the answer mode gives no estimate",
    )
    closest: list[CitationOut] = Field(
        default_factory=list,
        description="for a refusal, the passages nearest the question; they do not answer it and are not citations",
    )
    disagreement: DisagreementOut | None = Field(
        default=None,
        description="set when documents state different values for the fact asked for; the answer quotes and "
        "cites each of them",
    )
    usage: Usage
    timings_ms: dict[str, float] = Field(default_factory=dict)


class ModelCard(BaseModel):
    """One answer mode, presented as a model."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "citewise"
    description: str = ""


class ModelList(BaseModel):
    """The answer modes."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class SearchRequest(BaseModel):
    """A passage search (no answer)."""

    query: str = Field(min_length=1, max_length=4000)
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K)


class PassageOut(BaseModel):
    """A retrieved passage: ``document_text[start:end] == text``."""

    doc_id: str
    title: str
    source: str
    page: int | None
    text: str
    start: int
    end: int
    score: float = Field(description="fused reciprocal-rank score")
    dense_similarity: float | None = None
    dense_rank: int | None = None
    keyword_rank: int | None = None


class SearchResponse(BaseModel):
    """Passages, best first."""

    query: str
    passages: list[PassageOut]


class DocumentOut(BaseModel):
    """An indexed document."""

    doc_id: str
    title: str
    source: str
    kind: str
    chunks: int
    indexed_at: str
    doc_hash: str
    meta: dict[str, Any] = Field(default_factory=dict)


class DocumentList(BaseModel):
    """The indexed documents, sorted by id."""

    documents: list[DocumentOut]


class UploadResponse(BaseModel):
    """The uploaded document as indexed, and what the ingest did."""

    document: DocumentOut | None
    report: dict[str, Any]


class RemoveResponse(BaseModel):
    """A removed document."""

    removed: str


class Health(BaseModel):
    """Liveness plus a cheap store check."""

    status: Literal["ok"] = "ok"
    version: str
    documents: int
    store: str
    parts: dict[str, str] = Field(
        default_factory=dict,
        description="api, mcp and ui: 'ready', 'starting' (built after start-up; its path answers 503 "
        "with Retry-After), 'failed' or 'off'. 200 means the API is ready to answer.",
    )
