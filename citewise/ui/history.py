"""The chat page's workspace parts: the collection selector, and the saved-conversation list.

Plain functions first (over the Assistant, the per-collection `Workspaces`
and the `ConversationStore`; no gradio), then the functions that
add the components to a page and wire them. A conversation belongs to the signed-in user
(``--auth``), or to everyone when there is no login.
"""

import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

from citewise.ui import actions, render

_STORES: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def _errors() -> tuple[type[BaseException], ...]:
    from citewise.errors import CitewiseError

    return (CitewiseError,)


# ---- plain functions ----------------------------------------------------------------
def workspaces(assistant: Any) -> Any:
    """The `Workspaces` over ``assistant`` (shared with the API and MCP)."""
    from citewise.collections import Workspaces

    return Workspaces.of(assistant)


def conversations(assistant: Any) -> Any:
    """The conversation store in ``assistant``'s data folder (one per Assistant)."""
    from citewise.conversations import ConversationStore

    with _GUARD:
        if assistant not in _STORES:
            _STORES[assistant] = ConversationStore.in_data_dir(assistant.settings.data_dir)
        return _STORES[assistant]


def pick(assistant: Any, collection: str | None) -> Any:
    """The Assistant of ``collection`` (the default one when empty or invalid)."""
    try:
        return workspaces(assistant).get(collection or None)
    except _errors():
        return assistant


def owner_of(request: Any) -> str:
    """The signed-in user's name, or "" without a login."""
    return str(getattr(request, "username", None) or "")


def collection_names(assistant: Any) -> list[str]:
    """Every collection's name (the configured one included, even while empty)."""
    try:
        return [c.name for c in workspaces(assistant).collections()]
    except _errors():
        return [assistant.settings.collection]


def conversation_choices(assistant: Any, owner: str) -> tuple[list[tuple[str, str]], str]:
    """``(label, id)`` of ``owner``'s conversations, newest first, and a status line ("" when fine)."""
    try:
        convs = conversations(assistant).recent(owner)
    except _errors() as exc:
        return [], f"⚠ {render.md_text(str(exc))}"
    return [
        (f"{c.title or 'Untitled'} · {c.collection} · {c.updated_at[:16].replace('T', ' ')}", c.id) for c in convs
    ], ""


def save_turns(assistant: Any, owner: str, conversation_id: str, collection: str, turns: list[dict[str, Any]]) -> str:
    """Save the turns the page holds that the conversation does not yet; returns its id (new if needed).

    Raises:
        CitewiseError: the conversation database cannot be used.
    """
    from citewise.conversations import NoSuchConversation

    store = conversations(assistant)
    if not turns:
        return conversation_id
    conv = None
    if conversation_id:
        try:
            conv = store.get(conversation_id, owner)
        except NoSuchConversation:
            conv = None
    if conv is None:
        conv = store.create(owner, pick(assistant, collection).settings.collection)
    saved = len(conv.turns)
    new = turns[saved:] if saved < len(turns) else []
    if not new and conv.turns and turns[-1].get("answer") != conv.turns[-1].answer:
        new = turns[-1:]  # the page keeps only the latest turns: the newest one is not saved yet
    for turn in new:
        store.add_turn(conv.id, owner, str(turn["question"]), dict(turn["answer"]))
    return str(conv.id)


def open_conversation(assistant: Any, owner: str, conversation_id: str) -> tuple[list[dict[str, Any]], str]:
    """The turns (as the page keeps them) and the collection of a saved conversation."""
    conv = conversations(assistant).get(conversation_id, owner)
    return [{"question": t.question, "answer": t.answer} for t in conv.turns], conv.collection


def export_file(assistant: Any, owner: str, conversation_id: str) -> str:
    """Write a conversation as Markdown to a temporary file; returns its path."""
    from citewise.conversations import export_markdown

    conv = conversations(assistant).get(conversation_id, owner)
    folder = Path(tempfile.mkdtemp(prefix="citewise-export-"))
    path = folder / f"citewise-conversation-{conv.id[:8]}.md"
    path.write_text(export_markdown(conv), encoding="utf-8")
    return str(path)


def create_collection(assistant: Any, name: str) -> tuple[str, str]:
    """Create collection ``name``; returns (its name or "", a status line)."""
    try:
        target = workspaces(assistant).get(name)
        target.documents()  # opening the store creates it
    except _errors() as exc:
        return "", f"✘ {render.md_text(str(exc))}"
    created = target.settings.collection
    return created, f"✔ Collection {render.md_text(created)} is ready; upload files into it."


def delete_collection(assistant: Any, name: str) -> str:
    """Delete collection ``name`` and its documents; returns a status line."""
    if not name:
        return "Pick a collection first."
    try:
        info = workspaces(assistant).delete(name)
    except _errors() as exc:
        return f"✘ {render.md_text(str(exc))}"
    return f"✔ Deleted collection {render.md_text(info.name)} ({info.documents} documents)."


# ---- components -------------------------------------------------------------------
def collection_picker(gr: Any, assistant: Any) -> Any:
    """The collection selector shown above the tabs."""
    return gr.Dropdown(
        collection_names(assistant),
        value=assistant.settings.collection,
        label="Collection",
        info="Questions are answered, and uploads indexed, in this collection only.",
        interactive=True,
        elem_id="cw-collection",
    )


def conversation_panel(gr: Any) -> dict[str, Any]:
    """The saved-conversation list and its buttons (call inside the chat tab's layout)."""
    parts: dict[str, Any] = {"conversation": gr.BrowserState("", storage_key="citewise-conversation")}
    with gr.Accordion("Saved conversations", open=False, elem_id="cw-history"):
        parts["list"] = gr.Dropdown([], label="Conversations (newest first)", elem_id="cw-conversations")
        with gr.Row():
            parts["title"] = gr.Textbox(placeholder="New title", show_label=False, scale=3, elem_id="cw-conv-title")
            parts["rename"] = gr.Button("Rename", size="sm", scale=1, elem_id="cw-conv-rename")
            parts["delete"] = gr.Button("Delete", size="sm", variant="stop", scale=1, elem_id="cw-conv-delete")
            parts["export"] = gr.Button("Export as Markdown", size="sm", scale=1, elem_id="cw-conv-export")
        parts["file"] = gr.File(label="Markdown export", visible=False, interactive=False, elem_id="cw-conv-file")
        parts["status"] = gr.Markdown(elem_id="cw-conv-status")
    return parts


def wire_conversations(
    gr: Any, assistant: Any, chat: dict[str, Any], panel: dict[str, Any], settings: dict[str, Any], answered: list[Any]
) -> None:
    """Save each answered turn, and make the list open, rename, delete and export conversations.

    Args:
        chat: the chat tab's components (``turns``, ``chatbot``, ``sources``, ``new_chat``).
        panel: `conversation_panel()`'s components.
        settings: the settings components (``collection``, the selector, and ``scores``).
        answered: the events that answer a question (each gets a ``.then`` that saves the turn).
    """
    conv, listing, status = panel["conversation"], panel["list"], panel["status"]
    collection = settings["collection"]

    def listed(owner: str, selected: str | None = None) -> Any:
        choices, problem = conversation_choices(assistant, owner)
        return gr.update(choices=choices, value=selected if selected in {c[1] for c in choices} else None), problem

    def save(turns: list[dict[str, Any]], cid: str, chosen: str, request: gr.Request) -> tuple[Any, ...]:
        owner = owner_of(request)
        try:
            cid = save_turns(assistant, owner, cid, chosen, list(turns or []))
        except _errors() as exc:
            return cid, gr.skip(), f"⚠ not saved: {render.md_text(str(exc))}"
        return cid, *listed(owner, cid)

    for event in answered:
        event.then(save, [chat["turns"], conv, collection], [conv, listing, status], show_progress="hidden")

    def reopen(cid: str | None, show: bool, request: gr.Request) -> tuple[Any, ...]:
        if not cid:
            return (gr.skip(),) * 5 + ("",)
        try:
            turns, name = open_conversation(assistant, owner_of(request), cid)
        except _errors() as exc:
            return (gr.skip(),) * 5 + (f"✘ {render.md_text(str(exc))}",)
        messages, sources = actions.restore(turns, show)
        return turns, messages, sources, cid, gr.update(value=name), ""

    reopen_outputs = [chat["turns"], chat["chatbot"], chat["sources"], conv, collection, status]
    listing.input(reopen, [listing, settings["scores"]], reopen_outputs, show_progress="hidden")

    def rename(cid: str | None, title: str, request: gr.Request) -> tuple[Any, ...]:
        if not cid:
            return gr.skip(), "Pick a conversation first.", gr.skip()
        try:
            conversations(assistant).rename(cid, owner_of(request), title)
        except _errors() as exc:
            return gr.skip(), f"✘ {render.md_text(str(exc))}", gr.skip()
        return listed(owner_of(request), cid)[0], "✔ Renamed.", ""

    panel["rename"].click(rename, [listing, panel["title"]], [listing, status, panel["title"]])

    def delete(cid: str | None, current: str, request: gr.Request) -> tuple[Any, ...]:
        if not cid:
            return gr.skip(), "Pick a conversation first.", gr.skip()
        try:
            conversations(assistant).delete(cid, owner_of(request))
        except _errors() as exc:
            return gr.skip(), f"✘ {render.md_text(str(exc))}", gr.skip()
        return listed(owner_of(request))[0], "✔ Deleted.", "" if cid == current else current

    panel["delete"].click(delete, [listing, conv], [listing, status, conv])

    def export(cid: str | None, request: gr.Request) -> tuple[Any, str]:
        if not cid:
            return gr.update(visible=False), "Pick a conversation first."
        try:
            path = export_file(assistant, owner_of(request), cid)
        except _errors() as exc:
            return gr.update(visible=False), f"✘ {render.md_text(str(exc))}"
        return gr.update(value=path, visible=True), ""

    panel["export"].click(export, [listing], [panel["file"], status])
    chat["new_chat"].click(lambda: ("", gr.update(value=None)), None, [conv, listing])

    def start_over() -> tuple[Any, ...]:  # another collection: another conversation
        return [], [], render.sources_html(None, 0), "", gr.update(value=None)

    collection.input(start_over, None, [chat["chatbot"], chat["turns"], chat["sources"], conv, listing])


def on_load(gr: Any, assistant: Any, app: Any, collection: Any, panel: dict[str, Any]) -> None:
    """Fill the collection selector and the conversation list when the page opens."""

    def load(request: gr.Request) -> tuple[Any, ...]:
        choices, problem = conversation_choices(assistant, owner_of(request))
        names = collection_names(assistant)
        return gr.update(choices=names, value=assistant.settings.collection), gr.update(choices=choices), problem

    app.load(load, None, [collection, panel["list"], panel["status"]])


def collection_controls(gr: Any, assistant: Any, collection: Any) -> dict[str, Any]:
    """Create and delete collections (in the Documents tab)."""
    with gr.Row():
        name = gr.Textbox(placeholder="new-collection", label="New collection", scale=3, elem_id="cw-new-collection")
        create = gr.Button("Create collection", scale=1, elem_id="cw-create-collection")
        delete = gr.Button("Delete selected collection", variant="stop", scale=1, elem_id="cw-delete-collection")
    status = gr.Markdown(elem_id="cw-collection-status")

    def created(text: str) -> tuple[Any, ...]:
        made, message = create_collection(assistant, text)
        if not made:
            return gr.skip(), message, gr.skip()
        return gr.update(choices=collection_names(assistant), value=made), message, ""

    def deleted(current: str) -> tuple[Any, str]:
        message = delete_collection(assistant, current)
        return gr.update(choices=collection_names(assistant), value=assistant.settings.collection), message

    create.click(created, name, [collection, status, name])
    delete.click(deleted, collection, [collection, status])
    return {"name": name, "create": create, "delete": delete, "status": status}
