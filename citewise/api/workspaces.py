"""Collections and saved conversations over HTTP: ``/v1/collections`` and ``/v1/conversations``.

Also the pieces the chat endpoint uses to pick a collection (``"collection"`` in the body,
or the model name ``citewise/NAME``) and to answer within a saved conversation
(``"conversation_id"``: the turn is saved, and a request holding only the new question is
answered with the saved history).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from citewise.collections import Workspaces
from citewise.conversations import ConversationStore, export_markdown
from citewise.rag.citations import Answer

CollectionParam = Annotated[str | None, Query(description="The collection (default: the configured one)")]


class CollectionOut(BaseModel):
    """A collection and what it holds."""

    name: str
    documents: int
    chunks: int
    current: bool = Field(description="True for the collection the server uses by default")


class CollectionList(BaseModel):
    """The collections, sorted by name."""

    collections: list[CollectionOut]


class CollectionCreate(BaseModel):
    """A collection to create (empty until documents are uploaded into it)."""

    name: str = Field(min_length=1, max_length=64)


class CollectionDeleted(BaseModel):
    """A deleted collection and what it held."""

    deleted: str
    documents: int
    chunks: int


class ConversationCreate(BaseModel):
    """A new, empty conversation."""

    title: str = Field(default="", max_length=200)
    collection: str | None = Field(default=None, description="default: the configured collection")


class ConversationRename(BaseModel):
    """A new title."""

    title: str = Field(min_length=1, max_length=200)


class ConversationSummary(BaseModel):
    """A saved conversation, without its turns."""

    id: str
    title: str
    collection: str
    created_at: str
    updated_at: str
    turns: int


class ConversationList(BaseModel):
    """Saved conversations, newest first."""

    conversations: list[ConversationSummary]


class ConversationOut(BaseModel):
    """A saved conversation with every turn (question, answer with citations, mode)."""

    id: str
    title: str
    collection: str
    created_at: str
    updated_at: str
    turns: list[dict[str, Any]]


class ConversationDeleted(BaseModel):
    """A deleted conversation."""

    deleted: str


@dataclass
class WorkspaceState:
    """What the workspace endpoints share: the per-collection Assistants and the conversation store."""

    workspaces: Workspaces
    conversations: ConversationStore
    owner: str = ""  # the API key holder; the UI's signed-in users have their own owners

    @classmethod
    def for_assistant(cls, assistant: Any) -> WorkspaceState:
        """The state over ``assistant`` (conversations in its data folder)."""
        return cls(Workspaces.of(assistant), ConversationStore.in_data_dir(assistant.settings.data_dir))


def split_model(model: str) -> tuple[str, str | None]:
    """``citewise/NAME`` (or ``citewise-generative/NAME``) -> (``citewise``, ``NAME``); else (model, None)."""
    base, sep, collection = model.strip().partition("/")
    return (base, collection.strip() or None) if sep else (base, None)


@dataclass
class ChatTurn:
    """The collection's Assistant and history for one chat request, and where to save its answer."""

    assistant: Any
    history: list[dict[str, str]]
    conversation_id: str | None = None
    collection: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def saving(self, state: WorkspaceState, question: str, items: Iterator[Any]) -> Iterator[Any]:
        """``items``, saving the final Answer to the conversation as it passes."""
        for item in items:
            if isinstance(item, Answer) and self.conversation_id:
                state.conversations.add_turn(self.conversation_id, state.owner, question, item)
            yield item

    def annotate(self, completion: dict[str, Any]) -> dict[str, Any]:
        """Add ``collection`` (and ``conversation_id``) to a completion object."""
        completion["collection"] = self.collection
        if self.conversation_id:
            completion["conversation_id"] = self.conversation_id
        return completion


def chat_turn(
    state: WorkspaceState, body: Any, model_collection: str | None, history: list[dict[str, str]]
) -> ChatTurn:
    """Pick the collection and history of a chat request.

    The collection comes from the body's ``collection``, else the model name, else the
    conversation's, else the configured one. With ``conversation_id`` and no earlier
    turns in ``messages``, the saved turns are the history.

    Raises:
        NoSuchConversation: the conversation id is unknown.
        CollectionError: the collection name is not valid.
    """
    conversation_id = getattr(body, "conversation_id", None) or None
    collection = getattr(body, "collection", None) or model_collection
    if conversation_id is not None:
        conv = state.conversations.get(str(conversation_id), state.owner)
        collection = collection or conv.collection or None
        if not history:
            history = conv.history()
        conversation_id = conv.id
    assistant = state.workspaces.get(collection)
    return ChatTurn(assistant, history, conversation_id, assistant.settings.collection)


def model_cards(state: WorkspaceState, card: Any) -> list[Any]:
    """``citewise/NAME`` model cards, one per collection (``card`` is the ModelCard class)."""
    return [
        card(id=f"citewise/{c.name}", description=f"answers from the collection {c.name} ({c.documents} documents)")
        for c in state.workspaces.collections()
    ]


def workspace_routes(router: APIRouter, state: WorkspaceState) -> None:
    """Add the collection and conversation endpoints to ``router`` (mounted at /v1)."""
    _collection_routes(router, state)
    _conversation_routes(router, state)


def _collection_routes(router: APIRouter, state: WorkspaceState) -> None:
    spaces = state.workspaces

    @router.get("/collections", response_model=CollectionList, summary="The collections, with their counts")
    def list_collections() -> CollectionList:
        return CollectionList(collections=[CollectionOut(**c.as_dict()) for c in spaces.collections()])

    @router.post("/collections", response_model=CollectionOut, status_code=201, summary="Create an empty collection")
    def create_collection(body: CollectionCreate) -> CollectionOut:
        assistant = spaces.get(body.name)
        docs = assistant.documents()  # opening the store creates the collection
        name = assistant.settings.collection
        return CollectionOut(name=name, documents=len(docs), chunks=0, current=name == spaces.settings.collection)

    @router.delete(
        "/collections/{name}", response_model=CollectionDeleted, summary="Delete a collection and its documents"
    )
    def delete_collection(name: str) -> CollectionDeleted:
        info = spaces.delete(name)
        return CollectionDeleted(deleted=info.name, documents=info.documents, chunks=info.chunks)


def _conversation_routes(router: APIRouter, state: WorkspaceState) -> None:
    store = state.conversations

    @router.get("/conversations", response_model=ConversationList, summary="Saved conversations, newest first")
    def list_conversations(collection: CollectionParam = None) -> ConversationList:
        convs = store.recent(state.owner, collection)
        return ConversationList(conversations=[ConversationSummary(**c.as_dict(with_turns=False)) for c in convs])

    @router.post(
        "/conversations", response_model=ConversationOut, status_code=201, summary="Start a saved conversation"
    )
    def create_conversation(body: ConversationCreate) -> ConversationOut:
        collection = state.workspaces.get(body.collection).settings.collection  # validates the name
        conv = store.create(state.owner, collection, body.title)
        return ConversationOut(**conv.as_dict())

    @router.get("/conversations/{conversation_id}", response_model=ConversationOut, summary="A saved conversation")
    def get_conversation(conversation_id: str) -> ConversationOut:
        return ConversationOut(**store.get(conversation_id, state.owner).as_dict())

    @router.patch(
        "/conversations/{conversation_id}", response_model=ConversationOut, summary="Rename a saved conversation"
    )
    def rename_conversation(conversation_id: str, body: ConversationRename) -> ConversationOut:
        return ConversationOut(**store.rename(conversation_id, state.owner, body.title).as_dict())

    @router.delete(
        "/conversations/{conversation_id}", response_model=ConversationDeleted, summary="Delete a saved conversation"
    )
    def delete_conversation(conversation_id: str) -> ConversationDeleted:
        store.delete(conversation_id, state.owner)
        return ConversationDeleted(deleted=conversation_id)

    @router.get(
        "/conversations/{conversation_id}/export",
        response_class=PlainTextResponse,
        summary="A saved conversation as Markdown, the quotes as footnotes",
        responses={200: {"content": {"text/markdown": {}}}},
    )
    def export_conversation(
        conversation_id: str, fmt: Annotated[str, Query(alias="format", pattern="^md$")] = "md"
    ) -> Any:
        conv = store.get(conversation_id, state.owner)
        name = f"citewise-conversation-{conv.id[:8]}.md"
        return PlainTextResponse(
            export_markdown(conv),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


__all__ = ["WorkspaceState", "chat_turn", "model_cards", "split_model", "workspace_routes"]
