"""Collections: separate document sets, listed, chosen and deleted from the CLI, the HTTP API and MCP.

Two small made-up documents, each in its own collection, so that an answer can only come
from the collection that holds it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ZORB = "The Zorblat festival happens every March in Quentville. It celebrates the harvest of blue melons.\n"
KELP = "Kelpian algae use purple pigments called rhodoxins. Rhodoxins were first described in 1987 by Ana Ilves.\n"
Q_ZORB = "When does the Zorblat festival happen?"
Q_KELP = "What pigments do Kelpian algae use?"


def _docs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "src-a", tmp_path / "src-b"
    a.mkdir()
    b.mkdir()
    (a / "zorblat.txt").write_text(ZORB, encoding="utf-8")
    (b / "kelp.txt").write_text(KELP, encoding="utf-8")
    return a, b


def _two_collections(make_assistant, tmp_path: Path, **options):
    a, b = _docs(tmp_path)
    alpha = make_assistant(collection="alpha", **options)
    beta = make_assistant(collection="beta", **options)
    assert alpha.ingest([a]).ok and beta.ingest([b]).ok
    return alpha, beta


def _check_isolated(alpha, beta) -> None:
    """Each collection answers its own question and refuses the other's; retrieval never crosses."""
    assert "March" in alpha.ask(Q_ZORB).text
    assert "rhodoxins" in beta.ask(Q_KELP).text
    assert beta.ask(Q_ZORB).refused and alpha.ask(Q_KELP).refused
    assert {p.chunk.doc_id for p in beta.search(Q_ZORB, top_k=10)} == {"kelp.txt"}
    assert {p.chunk.doc_id for p in alpha.search(Q_KELP, top_k=10)} == {"zorblat.txt"}


def test_names_are_validated() -> None:
    from citewise.collections import CollectionError, validate_name

    for good in ("citewise", "a", "project-x", "Team_2", "v1.2"):
        assert validate_name(good) == good
    for bad in ("", " ", "two words", "a/b", "-lead", "trail_", "a..b", "x" * 65, "naïve"):
        with pytest.raises(CollectionError) as info:
            validate_name(bad)
        assert "\n" not in str(info.value) and "letters, digits" in str(info.value)


def test_settings_refuse_a_bad_collection_name(monkeypatch) -> None:
    from citewise.config import SettingsError, load_settings

    monkeypatch.setenv("CITEWISE_COLLECTION", "my docs")
    with pytest.raises(SettingsError, match="env:CITEWISE_COLLECTION"):
        load_settings()


def test_embedded_collections_are_listed_isolated_and_deleted(make_assistant, tmp_path: Path) -> None:
    from citewise.collections import NoSuchCollection, delete_collection, list_collections

    alpha, beta = _two_collections(make_assistant, tmp_path)
    _check_isolated(alpha, beta)
    upload = beta.upload("notes.md", b"# Notes\n\nRhodoxins glow faintly under ultraviolet light.\n")
    assert upload.ok
    stored = [d.source for d in beta.documents() if d.doc_id == "uploads/notes.md"]
    assert stored and Path(stored[0]).is_file()

    infos = {i.name: i for i in list_collections(alpha.settings)}
    assert set(infos) == {"alpha", "beta"}
    assert (infos["alpha"].documents, infos["beta"].documents) == (1, 2)
    assert infos["alpha"].chunks >= 1 and infos["alpha"].current and not infos["beta"].current

    info = delete_collection(alpha.settings, "beta")
    assert (info.name, info.documents) == ("beta", 2)
    assert not Path(stored[0]).exists()  # its uploaded file went with it
    assert [i.name for i in list_collections(alpha.settings)] == ["alpha"]
    assert "March" in alpha.ask(Q_ZORB).text  # the other collection is untouched
    with pytest.raises(NoSuchCollection, match="no collection 'beta'"):
        delete_collection(alpha.settings, "beta")


def test_collections_on_a_chroma_server(make_assistant, tmp_path: Path, chroma_server: str) -> None:
    from citewise.collections import Workspaces, delete_collection, list_collections

    alpha, beta = _two_collections(make_assistant, tmp_path, chroma_url=chroma_server)
    _check_isolated(alpha, beta)
    assert [(i.name, i.documents) for i in list_collections(alpha.settings)] == [("alpha", 1), ("beta", 1)]
    spaces = Workspaces(alpha)  # a server picks collections per request
    assert "rhodoxins" in spaces.get("beta").ask(Q_KELP).text
    assert spaces.get("beta").settings.chroma_url == chroma_server
    delete_collection(alpha.settings, "beta")
    assert [i.name for i in list_collections(alpha.settings)] == ["alpha"]


def _cli(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env["CITEWISE_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "citewise.cli", *args], capture_output=True, text=True, env=env, input=stdin, timeout=300
    )


def test_cli_lists_and_deletes_collections(tmp_path: Path) -> None:
    a, b = _docs(tmp_path)
    assert _cli(tmp_path, "--collection", "alpha", "ingest", str(a)).returncode == 0
    assert _cli(tmp_path, "--collection", "beta", "ingest", str(b)).returncode == 0

    listed = json.loads(_cli(tmp_path, "collections", "--json").stdout)
    assert [(c["name"], c["documents"], c["current"]) for c in listed] == [
        ("alpha", 1, False),
        ("beta", 1, False),
        ("citewise", 0, True),  # the one in use is listed even before its first document
    ]
    asked = _cli(tmp_path, "--collection", "beta", "ask", "--json", Q_ZORB)
    assert asked.returncode == 0 and json.loads(asked.stdout)["refused"] is True
    docs = json.loads(_cli(tmp_path, "--collection", "alpha", "docs", "--json").stdout)
    assert [d["doc_id"] for d in docs] == ["zorblat.txt"]

    refused = _cli(tmp_path, "collections", "delete", "beta", stdin="n\n")
    assert refused.returncode != 0 and "Delete collection 'beta' (1 documents" in refused.stderr
    deleted = _cli(tmp_path, "collections", "delete", "beta", "--yes")
    assert deleted.returncode == 0 and "deleted collection beta" in deleted.stdout
    assert "beta" not in _cli(tmp_path, "collections").stdout
    missing = _cli(tmp_path, "collections", "delete", "beta", "--yes")
    assert missing.returncode == 2 and missing.stderr.strip().startswith("citewise: error: there is no collection")
    bad = _cli(tmp_path, "--collection", "no good", "docs")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "not allowed" in bad.stderr


@pytest.fixture
def api(make_assistant, tmp_path: Path):
    """The HTTP app over collection alpha, with beta beside it (in-process, real Chroma and model)."""
    from fastapi.testclient import TestClient

    from citewise.api.app import create_app

    alpha, _beta = _two_collections(make_assistant, tmp_path)
    with TestClient(create_app(alpha, ui=False, mcp=False)) as client:
        yield client


def _chat(client, model: str, question: str, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": question}], **extra}
    return client.post("/v1/chat/completions", json=body)


def test_api_collections(api) -> None:
    listed = api.get("/v1/collections").json()["collections"]
    assert [(c["name"], c["documents"], c["current"]) for c in listed] == [("alpha", 1, True), ("beta", 1, False)]
    models = {m["id"] for m in api.get("/v1/models").json()["data"]}
    assert {"citewise", "citewise/alpha", "citewise/beta"} <= models

    by_model = _chat(api, "citewise/beta", Q_KELP).json()
    assert "rhodoxins" in by_model["choices"][0]["message"]["content"] and by_model["collection"] == "beta"
    assert _chat(api, "citewise-extractive/beta", Q_ZORB).json()["refused"] is True
    by_body = _chat(api, "citewise", Q_KELP, collection="beta").json()
    assert not by_body["refused"] and by_body["citations"][0]["doc_id"] == "kelp.txt"
    assert _chat(api, "citewise", Q_KELP).json()["refused"] is True  # the default collection is alpha

    search = api.post("/v1/search?collection=beta", json={"query": Q_ZORB, "top_k": 5}).json()
    assert {p["doc_id"] for p in search["passages"]} == {"kelp.txt"}
    docs = api.get("/v1/documents", params={"collection": "beta"}).json()["documents"]
    assert [d["doc_id"] for d in docs] == ["kelp.txt"]
    up = api.post("/v1/documents?collection=gamma", files={"file": ("g.txt", b"Gamma rays are energetic photons.")})
    assert up.status_code == 201
    assert "gamma" in {c["name"] for c in api.get("/v1/collections").json()["collections"]}

    bad = api.get("/v1/documents", params={"collection": "no/good"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_collection"
    missing = api.get("/v1/documents", params={"collection": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "collection_not_found"
    assert _chat(api, "citewise/no good", Q_KELP).status_code == 400

    gone = api.delete("/v1/collections/beta")
    assert gone.status_code == 200 and gone.json() == {"deleted": "beta", "documents": 1, "chunks": 1}
    assert api.delete("/v1/collections/beta").status_code == 404
    assert "beta" not in {c["name"] for c in api.get("/v1/collections").json()["collections"]}


def test_mcp_tools_take_a_collection(make_assistant, tmp_path: Path) -> None:
    from mcp import Client

    from citewise.api.mcp_tools import build_mcp_server

    alpha, _beta = _two_collections(make_assistant, tmp_path)
    server = build_mcp_server(alpha)

    async def run() -> dict:
        async with Client(server) as client:
            return {
                "tools": {t.name: t for t in (await client.list_tools()).tools},
                "beta": await client.call_tool("ask", {"question": Q_KELP, "collection": "beta"}),
                "alpha": await client.call_tool("ask", {"question": Q_KELP}),
                "search": await client.call_tool("search", {"query": Q_ZORB, "collection": "beta"}),
                "docs": await client.call_tool("list_documents", {"collection": "beta"}),
                "list": await client.call_tool("list_collections", {}),
                "missing": await client.call_tool("ask", {"question": Q_KELP, "collection": "nope"}),
            }

    got = asyncio.run(run())
    assert "collection" in got["tools"]["ask"].input_schema["properties"]
    assert "rhodoxins" in got["beta"].structured_content["answer"]
    assert got["alpha"].structured_content["refused"] is True
    assert {p["doc_id"] for p in got["search"].structured_content["passages"]} == {"kelp.txt"}
    assert [d["doc_id"] for d in got["docs"].structured_content["documents"]] == ["kelp.txt"]
    assert [c["name"] for c in got["list"].structured_content["collections"]] == ["alpha", "beta"]
    assert got["missing"].is_error and "no collection 'nope'" in got["missing"].content[0].text
