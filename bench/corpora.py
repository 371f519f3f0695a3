"""Corpora for the benchmarks: the sample corpus, the PDF dataset, and generated text."""

from __future__ import annotations

import ast
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpus"
# the shared datasets: $CITEWISE_SHARED when set (a clone outside the workspace), else ../shared
SHARED = Path(os.environ["CITEWISE_SHARED"]) if os.environ.get("CITEWISE_SHARED") else ROOT.parent / "shared"
DATASET = SHARED / "datasets" / "llama_blockchain_solana"
PDF = DATASET / "source_files" / "BlockchainSolana.pdf"

SAMPLE_QUESTIONS = [
    "When did OpenAI launch Sora 2?",
    "What is CODA?",
    "Who is Minoru Kiuchi?",
    "What did CODA ask OpenAI to do?",
    "Which companies are members of CODA?",
    "What is the opt-out approach?",
    "Why are Japanese publishers concerned about Sora 2?",
    "What does Japanese copyright law say about prior permission?",
    "How did OpenAI respond to the request?",
    "What videos did Sora 2 generate?",
    "What is the capital of Australia?",
    "Who won the football world cup in 1998?",
]

_TOPICS = [
    "river",
    "harbor",
    "engine",
    "orchard",
    "library",
    "bridge",
    "glacier",
    "market",
    "satellite",
    "vineyard",
    "railway",
    "observatory",
    "mill",
    "archive",
    "canal",
    "festival",
]
_VERBS = ["built", "measured", "repaired", "described", "mapped", "funded", "studied", "moved", "opened", "closed"]
_NOUNS = [
    "council",
    "engineers",
    "farmers",
    "students",
    "the mayor",
    "a committee",
    "traders",
    "historians",
    "pilots",
    "the board",
]


@dataclass(frozen=True)
class Question:
    """A question with the reference contexts a good retriever should find."""

    query: str
    contexts: list[str]


def generate_corpus(folder: Path, chunks: int, seed: int = 7) -> Path:
    """Write deterministic Markdown files totalling about ``chunks`` chunks of ~128 word pieces.

    Each file holds 20 paragraphs of 5 sentences (about 20 chunks); the same seed
    always gives the same bytes.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = max(1, chunks // 20)
    for f in range(files):
        paragraphs = []
        for p in range(20):
            topic = rng.choice(_TOPICS)
            sentences = [
                f"In {1800 + rng.randrange(220)}, {rng.choice(_NOUNS)} {rng.choice(_VERBS)} the {topic} "
                f"number {f * 20 + p} near kilometre {rng.randrange(1000)}, and {rng.choice(_NOUNS)} "
                f"{rng.choice(_VERBS)} its {rng.choice(_TOPICS)} with {rng.randrange(2, 90)} helpers."
                for _ in range(5)
            ]
            paragraphs.append(" ".join(sentences))
        body = "\n\n".join(paragraphs)
        (folder / f"gen-{f:05d}.md").write_text(f"# Generated record {f}\n\n{body}\n", encoding="utf-8")
    return folder


def blockchain_questions(limit: int | None = None) -> list[Question]:
    """The LabelledRagDataset's questions and reference contexts (58 of them)."""
    data = json.loads((DATASET / "rag_dataset.json").read_text(encoding="utf-8"))
    out = []
    for example in data["examples"][:limit]:
        contexts = example["reference_contexts"]
        if isinstance(contexts, str):
            contexts = ast.literal_eval(contexts)
        out.append(Question(example["query"], [str(c) for c in contexts]))
    return out


def text_bytes(paths: list[Path]) -> int:
    """UTF-8 bytes of the text citewise extracts from ``paths`` (the MB in MB/s)."""
    from citewise.index.loaders import find_files, load_document

    files, _ = find_files(paths)
    return sum(len(load_document(p).text.encode("utf-8")) for p, _root in files)
