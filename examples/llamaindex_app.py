"""Use citewise from a LlamaIndex app: a query engine, a chat engine, a retriever, Documents in.

    python examples/llamaindex_app.py [DATA_DIR]

Indexes the sample corpus into DATA_DIR (default: a temporary folder), then uses citewise the
way LlamaIndex exposes its own indexes. Citation [n] in an answer is ``source_nodes[n-1]``,
whose text is a verbatim quote of the document at ``metadata["start"]:metadata["end"]``.
Nothing is fetched from the network.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from llama_index.core import Document

from citewise import Assistant

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def main(data_dir: str) -> int:
    assistant = Assistant.from_settings(data_dir=data_dir)
    assistant.ingest([CORPUS])

    engine = assistant.as_query_engine()
    response = engine.query("When did OpenAI launch Sora 2?")
    print(f"answer: {response.response}")
    for n, source in enumerate(response.source_nodes, start=1):
        meta = source.node.metadata
        text = assistant.document_text(meta["doc_id"]) or ""
        assert text[meta["start"] : meta["end"]] == source.node.text, "a citation quotes its document verbatim"
        print(f"  [{n}] {meta['doc_id']} (score {source.score:.2f}): {source.node.text!r}")

    chat = assistant.as_chat_engine()
    chat.chat("When did OpenAI launch Sora 2?")
    follow_up = chat.stream_chat("Who is Minoru Kiuchi?")
    print("chat follow-up: ", end="")
    for delta in follow_up.response_gen:
        print(delta, end="", flush=True)
    print(f"\n  cites: {[s.node.metadata['doc_id'] for s in follow_up.source_nodes]}")

    nodes = assistant.as_retriever(top_k=3).retrieve("opt-out")
    print(f"retrieved {len(nodes)} nodes: {[(n.node.metadata['doc_id'], n.node.metadata['start']) for n in nodes]}")

    note = Document(
        text="The Harbour Lighthouse was first lit on 12 March 1871 by the keeper Agnes Moller.",
        doc_id="notes/lighthouse",
        metadata={"title": "Lighthouse notes", "url": "https://example.org/lighthouse"},
    )
    print(f"documents in: {assistant.ingest_documents([note]).summary()}")
    print(f"from a Document: {engine.query('Who first lit the Harbour Lighthouse?').response}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1]))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(tmp))
