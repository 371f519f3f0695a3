"""The saved keyword index: loaded by a new process instead of rebuilt, in step with the store."""

from __future__ import annotations

import shutil

from citewise.index import keywords

QUERIES = [
    "When did OpenAI launch Sora 2?",
    "Who is Minoru Kiuchi?",
    "opt-out copyright holders",
    "Motion Picture Association chairman",
    "Studio Ghibli Bandai Namco Square Enix",
    "the of and",  # stop words only
    "zzzqx",  # no known word
]


def _ids(index, query, n=10):
    return [index.chunk(i).id for i, _ in index.search(query, n)]


def test_a_new_assistant_loads_the_saved_index_and_ranks_the_same(assistant, make_assistant):
    first = assistant.retriever.keywords
    first.refresh()
    assert not first.loaded_from_disk  # built from the store the first time
    second = make_assistant().retriever.keywords  # another Assistant on the same data folder
    second.refresh()
    assert second.loaded_from_disk
    assert second.size == first.size == assistant.store.count_chunks()
    for q in QUERIES:
        assert [c.id for c in second.search(q, 10)] == [c.id for c in first.search(q, 10)], q
    hit = second.search("Minoru Kiuchi", 1)[0]
    assert "Kiuchi" in hit.text
    assert assistant.document_text(hit.doc_id)[hit.start : hit.end] == hit.text


def test_a_commit_changes_the_revision_and_the_index_follows(assistant, make_assistant, tmp_path):
    kw = assistant.retriever.keywords
    kw.refresh()
    before = kw.size
    assert kw.search("quokka", 4) == []
    note = tmp_path / "extra" / "quokka.txt"
    note.parent.mkdir()
    note.write_text("The quokka is a small marsupial found on Rottnest Island.\n")
    assert assistant.ingest([note.parent]).ok
    kw.refresh()  # the revision changed: the saved index is stale, so it is rebuilt (and saved)
    assert not kw.loaded_from_disk
    assert kw.size == before + 1
    assert [c.doc_id.endswith("quokka.txt") for c in kw.search("quokka", 4)] == [True]
    other = make_assistant().retriever.keywords  # a new process loads the new revision's save
    other.refresh()
    assert other.loaded_from_disk and other.size == before + 1
    assert [c.doc_id.endswith("quokka.txt") for c in other.search("quokka", 4)] == [True]
    # only the current revision's save is kept
    saves = [p for p in kw._folder().iterdir() if not p.name.startswith(".tmp-")]
    assert len(saves) == 1


def test_a_partial_save_is_ignored_and_rebuilt(assistant, make_assistant):
    kw = assistant.retriever.keywords
    kw.refresh()
    folder = keywords.revision_folder(kw._folder(), assistant.store.revision())
    (folder / "meta.json").unlink()  # as if the process died before the last write
    again = make_assistant().retriever.keywords
    again.refresh()
    assert not again.loaded_from_disk
    assert again.search("Kiuchi", 1)
    shutil.rmtree(folder)
    third = make_assistant().retriever.keywords
    third.refresh()
    assert third.search("Kiuchi", 1)


def test_rankings_match_llamaindex_bm25_retriever(assistant):
    """The index scores as LlamaIndex's BM25Retriever over the same nodes (what citewise used before),
    told to keep words of one character as citewise does."""
    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    chunks = list(assistant.store.all_chunks())
    nodes = [
        TextNode(
            id_=c.id,
            text=c.text,
            metadata={"doc_id": c.doc_id, "title": c.title, "source": c.source, "page": c.page},
        )
        for c in chunks
    ]
    theirs = BM25Retriever.from_defaults(
        nodes=nodes, similarity_top_k=len(nodes), language="english", token_pattern=keywords._TOKEN
    )
    ours = keywords.BM25Index.build(chunks)
    for q in QUERIES[:-2]:
        expected = [(h.node.node_id, round(h.score or 0.0, 5)) for h in theirs.retrieve(q)]
        got = [(ours.chunk(i).id, round(s, 5)) for i, s in ours.search(q, len(nodes))]
        assert got == expected, q


def test_a_word_of_one_character_finds_its_passage():
    """A quoted command or key of one letter ("the "u" command") is a word the index keeps."""
    from citewise.index.store import ChunkRecord

    texts = ["The x command deletes a character.", "The u command undoes the last edit.", "Undo and redo."]
    chunks = [
        ChunkRecord(f"c{i}", "vim.txt", "h", t, 0, len(t), 0, None, "Vim", "vim.txt") for i, t in enumerate(texts)
    ]
    index = keywords.BM25Index.build(chunks)
    assert index.chunk(index.search('What does the "u" command do?', 1)[0][0]).id == "c1"
    assert index.chunk(index.search("what does x do", 1)[0][0]).id == "c0"


def test_an_index_saved_in_an_older_format_is_not_loaded(tmp_path):
    """An index saved before words of one character were tokens is rebuilt, not searched with the new tokens."""
    import json

    from citewise.index.store import ChunkRecord

    chunk = ChunkRecord("c0", "vim.txt", "h", "The u command undoes.", 0, 21, 0, None, "Vim", "vim.txt")
    keywords.BM25Index.build([chunk]).save(tmp_path, "r1")
    assert keywords.BM25Index.load(tmp_path, "r1") is not None
    meta = json.loads((tmp_path / "meta.json").read_text())
    (tmp_path / "meta.json").write_text(json.dumps({**meta, "format": 1}))
    assert keywords.BM25Index.load(tmp_path, "r1") is None
