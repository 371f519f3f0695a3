"""Use citewise inside another Python program, through the Assistant facade.

    python examples/embed_in_app.py [DATA_DIR]

Indexes the sample corpus into DATA_DIR (default: a temporary folder), asks a question,
checks every citation against the document text, asks a follow-up as a stream, and
searches. Everything runs in this process; nothing is fetched from the network.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from citewise import Assistant, QuestionError

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def main(data_dir: str) -> int:
    assistant = Assistant.from_settings(data_dir=data_dir)
    report = assistant.ingest([CORPUS])
    print(f"indexed: {report.summary()}")

    answer = assistant.ask("When did OpenAI launch Sora 2?")
    print(f"answer: {answer.text}")
    for c in answer.citations:
        text = assistant.document_text(c.doc_id) or ""
        assert text[c.start : c.end] == c.quote, "a citation must quote its document verbatim"
        print(f"  [{c.n}] {c.title} ({c.doc_id}): {c.quote!r}")

    history = [
        {"role": "user", "content": "When did OpenAI launch Sora 2?"},
        {"role": "assistant", "content": answer.text},
    ]
    print("follow-up: ", end="")
    stream = assistant.stream("Who is Minoru Kiuchi?", history)
    for delta in stream.deltas():  # the text as it is written
        print(delta, end="", flush=True)
    final = stream.answer()  # then the finished Answer, with its citations
    print(f"\n  cites: {[c.doc_id for c in final.citations]}")

    refused = assistant.ask("Who won the 2022 FIFA World Cup?")
    print(f"off-topic refused: {refused.refused}")

    for p in assistant.search("opt-out", top_k=2):
        print(f"search: {p.chunk.doc_id} [{p.chunk.start}:{p.chunk.end}] {p.chunk.text[:60]!r}")

    try:
        assistant.ask("   ")
    except QuestionError as exc:
        print(f"empty question: {exc}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1]))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(tmp))
