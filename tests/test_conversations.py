"""Saved conversations: the SQLite store, the HTTP API, and a `citewise serve` restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from conftest import CitewiseServer, ingest_corpus

Q1 = "What is CODA?"
Q2 = "And when was it founded?"


def test_store_keeps_turns_titles_owners_and_schema(corpus_assistant, tmp_path: Path) -> None:
    from citewise.conversations import SCHEMA_VERSION, ConversationStore, NoSuchConversation

    store = ConversationStore.in_data_dir(tmp_path / "data")
    first = store.create("ann", "citewise")
    second = store.create("ann", "citewise")
    other = store.create("bob", "citewise")
    answer = corpus_assistant.ask(Q1)
    store.add_turn(first.id, "ann", Q1, answer)
    store.add_turn(first.id, "ann", Q2, corpus_assistant.ask(Q2, [{"role": "user", "content": Q1}]))
    store.add_turn(
        second.id, "ann", "Who won the 2022 FIFA World Cup?", corpus_assistant.ask("Who won the 2022 FIFA World Cup?")
    )

    listed = store.recent("ann")
    assert [c.id for c in listed] == [second.id, first.id]  # newest first
    assert [c.title for c in listed] == ["Who won the 2022 FIFA World Cup?", Q1]  # titled by the first question
    assert [c.turn_count for c in listed] == [1, 2]
    assert [c.id for c in store.recent("bob")] == [other.id]

    saved = store.get(first.id, "ann")
    assert [t.question for t in saved.turns] == [Q1, Q2]
    turn = saved.turns[0]
    assert turn.mode == "extractive" and turn.refused is False and turn.answer["answer"] == answer.text
    cite = turn.answer["citations"][0]  # the sources panel can be rebuilt: passages are kept
    assert cite["passage"][cite["start"] - cite["passage_start"] :].startswith(cite["quote"])
    assert store.get(second.id, "ann").turns[0].refused is True
    assert saved.history()[0] == {"role": "user", "content": Q1}

    with pytest.raises(NoSuchConversation):
        store.get(first.id, "bob")  # another user's conversation does not exist for them
    with pytest.raises(NoSuchConversation):
        store.delete(first.id, "bob")
    assert store.rename(first.id, "ann", "  CODA\nnotes ").title == "CODA notes"
    store.delete(second.id, "ann")
    assert [c.id for c in store.recent("ann")] == [first.id]
    store.close()

    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM turns").fetchone()[0] == 2  # the deleted one's turn went too


def test_markdown_export_puts_quotes_in_footnotes(corpus_assistant, tmp_path: Path) -> None:
    from citewise.conversations import ConversationStore, export_markdown

    store = ConversationStore(tmp_path / "c.sqlite3")
    conv = store.create("", "citewise")
    answer = corpus_assistant.ask(Q1)
    store.add_turn(conv.id, "", Q1, answer)
    text = export_markdown(store.get(conv.id))
    assert text.startswith(f"# {Q1}\n")
    assert f"**Q1:** {Q1}" in text
    assert "[1]" in answer.text and "[^1-1]" in text and "[1]" not in text.replace("[^1-1]", "")
    footnote = next(line for line in text.splitlines() if line.startswith("[^1-1]: "))
    assert f"\u201c{' '.join(answer.citations[0].quote.split())}\u201d" in footnote
    assert answer.citations[0].doc_id in footnote


def test_a_damaged_database_is_one_line_naming_the_file(tmp_path: Path) -> None:
    from citewise.conversations import ConversationStore, ConversationStoreError

    path = tmp_path / "conversations.sqlite3"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(ConversationStoreError) as info:
        ConversationStore(path).recent()
    message = str(info.value)
    assert str(path) in message and "\n" not in message and "move it aside" in message

    foreign = tmp_path / "other.sqlite3"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(ConversationStoreError, match="not a citewise conversation database"):
        ConversationStore(foreign).recent()
    with sqlite3.connect(foreign) as db:
        assert {r[0] for r in db.execute("SELECT name FROM sqlite_master")} == {"invoices"}  # left untouched


@pytest.fixture
def client(corpus_assistant):
    from fastapi.testclient import TestClient

    from citewise.api.app import create_app

    with TestClient(create_app(corpus_assistant, ui=False, mcp=False)) as c:
        yield c


def _ask(client, question: str, **extra) -> httpx.Response:
    body = {"model": "citewise", "messages": [{"role": "user", "content": question}], **extra}
    return client.post("/v1/chat/completions", json=body)


def test_api_saves_turns_and_answers_with_the_saved_history(client) -> None:
    made = client.post("/v1/conversations", json={})
    assert made.status_code == 201
    cid = made.json()["id"]
    first = _ask(client, Q1, conversation_id=cid).json()
    assert first["conversation_id"] == cid and not first["refused"]
    follow = _ask(client, Q2, conversation_id=cid).json()  # only the new question: the history is the saved one
    explicit = client.post(
        "/v1/chat/completions",
        json={
            "model": "citewise",
            "messages": [
                {"role": "user", "content": Q1},
                {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
                {"role": "user", "content": Q2},
            ],
        },
    ).json()
    assert follow["choices"][0]["message"]["content"] == explicit["choices"][0]["message"]["content"]

    listed = client.get("/v1/conversations").json()["conversations"]
    mine = next(c for c in listed if c["id"] == cid)
    assert mine["title"] == Q1 and mine["turns"] == 2 and mine["collection"] == "citewise"
    full = client.get(f"/v1/conversations/{cid}").json()
    assert [t["question"] for t in full["turns"]] == [Q1, Q2]
    assert full["turns"][1]["answer"]["citations"][0]["passage"]  # enough to show the sources again

    export = client.get(f"/v1/conversations/{cid}/export", params={"format": "md"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/markdown")
    assert "[^2-1]: \u201c" in export.text
    assert client.get(f"/v1/conversations/{cid}/export", params={"format": "pdf"}).status_code == 400

    renamed = client.patch(f"/v1/conversations/{cid}", json={"title": "About CODA"})
    assert renamed.json()["title"] == "About CODA"
    assert client.delete(f"/v1/conversations/{cid}").json() == {"deleted": cid}
    gone = client.get(f"/v1/conversations/{cid}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "conversation_not_found"
    unknown = _ask(client, Q1, conversation_id="0" * 32)
    assert unknown.status_code == 404


def test_api_streamed_turns_are_saved_too(client) -> None:
    cid = client.post("/v1/conversations", json={"title": "streamed"}).json()["id"]
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={
            "model": "citewise",
            "stream": True,
            "conversation_id": cid,
            "messages": [{"role": "user", "content": Q1}],
        },
    ) as resp:
        body = "".join(resp.iter_text())
    assert resp.status_code == 200 and body.rstrip().endswith("data: [DONE]")
    saved = client.get(f"/v1/conversations/{cid}").json()
    assert saved["title"] == "streamed" and [t["question"] for t in saved["turns"]] == [Q1]


def test_api_with_a_damaged_database_keeps_serving(make_assistant) -> None:
    from fastapi.testclient import TestClient

    from citewise.api.app import create_app

    assistant = make_assistant()
    db = assistant.settings.data_dir / "conversations.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"\x00garbage" * 4096)
    with TestClient(create_app(assistant, ui=False, mcp=False)) as client:
        resp = client.get("/v1/conversations")
        assert resp.status_code == 503
        error = resp.json()["error"]
        assert error["code"] == "conversations_unavailable" and str(db) in error["message"]
        assert client.get("/healthz").status_code == 200
        assert _ask(client, Q1).status_code == 200  # chat without a conversation is unaffected


def test_chat_turn_takes_the_saved_history_only_when_messages_hold_none(corpus_assistant, tmp_path: Path) -> None:
    from citewise.api.models import ChatCompletionRequest
    from citewise.api.workspaces import WorkspaceState, chat_turn
    from citewise.collections import Workspaces
    from citewise.conversations import ConversationStore

    state = WorkspaceState(Workspaces(corpus_assistant), ConversationStore(tmp_path / "c.sqlite3"))
    conv = state.conversations.create("", "citewise")
    state.conversations.add_turn(conv.id, "", Q1, corpus_assistant.ask(Q1))
    body = ChatCompletionRequest(model="citewise", conversation_id=conv.id, messages=[{"role": "user", "content": Q2}])
    turn = chat_turn(state, body, None, [])
    assert turn.history == state.conversations.get(conv.id).history() and turn.history[0]["content"] == Q1
    given = [{"role": "user", "content": "something else"}]
    assert chat_turn(state, body, None, given).history == given  # a client that sends its history wins
    assert chat_turn(state, body, None, []).conversation_id == conv.id


@pytest.mark.slow
def test_conversations_survive_a_server_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ingest_corpus(data_dir)
    server = CitewiseServer(data_dir)
    try:
        cid = httpx.post(f"{server.url}/v1/conversations", json={}, timeout=60).json()["id"]
        for question in (Q1, Q2):
            body = {"model": "citewise", "conversation_id": cid, "messages": [{"role": "user", "content": question}]}
            assert httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=120).status_code == 200
    finally:
        server.stop()
    server = CitewiseServer(data_dir)
    try:
        saved = httpx.get(f"{server.url}/v1/conversations/{cid}", timeout=60).json()
        assert saved["title"] == Q1 and [t["question"] for t in saved["turns"]] == [Q1, Q2]
        body = {"model": "citewise", "conversation_id": cid, "messages": [{"role": "user", "content": "Who runs it?"}]}
        assert httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=120).status_code == 200
        assert len(httpx.get(f"{server.url}/v1/conversations/{cid}", timeout=60).json()["turns"]) == 3
    finally:
        server.stop()
