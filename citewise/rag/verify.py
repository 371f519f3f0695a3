"""Checking a generated answer: each sentence against the sentences of the sources it cites.

A generated sentence is *supported* when one sentence of a retrieved passage says the same
thing: embedding similarity and content-word overlap both clear a threshold, and every
number in the generated sentence appears in that source sentence (small models love to
invent dates). The supporting source sentence becomes the citation's verbatim quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from citewise.index.chunking import sentence_spans
from citewise.index.embed import SentenceEmbedder
from citewise.rag.extractive import ScoredSentence, content_terms
from citewise.rag.injection import is_instruction
from citewise.rag.retrieve import Passage

# [1] [1, 2] [1; 3] as written by LLMs; numbers are 1-based source numbers
MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+")
_NUMBER = re.compile(r"\d+")


@dataclass
class Claim:
    """One sentence of a generated answer: its text without markers, and the sources it cites."""

    text: str
    cited: list[int] = field(default_factory=list)


def _numbers(marker_body: str) -> list[int]:
    return [int(n) for n in re.split(r"\s*[,;]\s*", marker_body.strip())]


def _add_cited(claim: Claim, markers: str) -> None:
    for m in MARKER.finditer(markers):
        for n in _numbers(m.group(1)):
            if n not in claim.cited:
                claim.cited.append(n)


def split_claims(answer: str) -> list[Claim]:
    """Split generated text into sentences, pulling out their ``[n]`` markers.

    A marker that opens a sentence ("... 2025. [1] Next") belongs to the sentence before.
    """
    claims: list[Claim] = []
    for start, end in sentence_spans(answer):
        raw = answer[start:end]
        lead = _LEADING_MARKERS.match(raw)
        if lead:
            if claims:
                _add_cited(claims[-1], lead.group(0))
            raw = raw[lead.end() :]
        claim = Claim(text="")
        _add_cited(claim, raw)
        text = re.sub(r"</?[A-Za-z][^<>]*>", " ", MARKER.sub("", raw))
        text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", text)).strip()
        text = text.lstrip("•*-– ").strip()
        if not any(ch.isalnum() for ch in text):
            continue
        claim.text = text
        claims.append(claim)
    return claims


@dataclass(frozen=True)
class VerifyConfig:
    """Support thresholds, calibrated on the sample corpus (tests/test_generative_verify.py).

    A sentence is supported by a source sentence when similarity >= ``min_similarity``,
    overlap >= ``min_overlap``, and at least one of them is strong (similarity >=
    ``strong_similarity`` or overlap >= ``strong_overlap``), and its numbers all appear there.
    The thresholds favour precision: a missed support only costs a fallback to the
    extractive answer, a false one shows a claim the documents do not make.

    Attributes:
        min_similarity: cosine similarity (all-MiniLM-L6-v2) with the source sentence.
        min_overlap: share of the sentence's content words found in the source sentence.
        strong_similarity: similarity that, with ``min_overlap``, suffices.
        strong_overlap: overlap that, with ``min_similarity``, suffices.
        min_terms: sentences with fewer content words carry too little to check.
    """

    min_similarity: float = 0.5
    min_overlap: float = 0.7
    strong_similarity: float = 0.75
    strong_overlap: float = 0.85
    min_terms: int = 2

    def accepts(self, similarity: float, overlap: float) -> bool:
        """Whether a (similarity, overlap) pair counts as support (numbers checked apart)."""
        return (
            similarity >= self.min_similarity
            and overlap >= self.min_overlap
            and (similarity >= self.strong_similarity or overlap >= self.strong_overlap)
        )


@dataclass
class Support:
    """The outcome of checking one claim."""

    supported: bool
    source: int | None = None  # 1-based number of the source holding the best sentence
    sentence: ScoredSentence | None = None  # best source sentence, in document coordinates
    similarity: float = 0.0
    overlap: float = 0.0

    @property
    def score(self) -> float:
        """One number for ranking candidates: similarity and overlap blended."""
        return 0.6 * self.similarity + 0.4 * self.overlap


@dataclass
class SourceSentences:
    """The checkable sentences of each numbered source, with their embeddings."""

    by_source: dict[int, list[tuple[ScoredSentence, list[float], set[str]]]]


class SupportChecker:
    """Decides whether generated sentences are supported by the retrieved passages."""

    def __init__(self, embedder: SentenceEmbedder, config: VerifyConfig | None = None) -> None:
        self.embedder = embedder
        self.config = config or VerifyConfig()

    def index(self, passages: list[Passage]) -> SourceSentences:
        """Split and embed the sentences of ``passages`` (source n is ``passages[n-1]``)."""
        items: list[tuple[int, ScoredSentence]] = []
        for n, p in enumerate(passages, start=1):
            for start, end in sentence_spans(p.chunk.text, offset=p.chunk.start):
                text = p.chunk.text[start - p.chunk.start : end - p.chunk.start]
                if len(content_terms(text)) >= 2 and not is_instruction(text):
                    items.append((n, ScoredSentence(passage=p, start=start, end=end, text=text)))
        vectors = self.embedder.embed_each([s.text for _, s in items])
        by_source: dict[int, list[tuple[ScoredSentence, list[float], set[str]]]] = {}
        for (n, s), vec in zip(items, vectors, strict=True):
            by_source.setdefault(n, []).append((s, vec, content_terms(s.text)))
        return SourceSentences(by_source)

    def check(self, claims: list[Claim], sources: SourceSentences) -> list[Support]:
        """Check each claim: first against the sources it cites, then (repair) against the others."""
        vectors = self.embedder.embed_each([c.text for c in claims])
        return [self._check_one(c, vec, sources) for c, vec in zip(claims, vectors, strict=True)]

    def _check_one(self, claim: Claim, vec: list[float], sources: SourceSentences) -> Support:
        terms = content_terms(claim.text)
        if len(terms) < self.config.min_terms:
            return Support(False)
        numbers = set(_NUMBER.findall(claim.text))
        cited = [n for n in claim.cited if n in sources.by_source]
        others = [n for n in sources.by_source if n not in cited]
        best = Support(False)
        for group in (cited, others):
            for n in group:
                for sentence, svec, sterms in sources.by_source[n]:
                    # a cosine of unit vectors; a sentence quoted verbatim is its source's own vector, whose
                    # float dot with itself can exceed 1 by rounding (1.0000000019): kept within [-1, 1]
                    sim = max(-1.0, min(1.0, sum(a * b for a, b in zip(vec, svec, strict=True))))
                    overlap = len(terms & sterms) / len(terms)
                    ok = self.config.accepts(sim, overlap) and numbers <= set(_NUMBER.findall(sentence.text))
                    candidate = Support(ok, n, sentence, sim, overlap)
                    if (candidate.supported, candidate.score) > (best.supported, best.score):
                        best = candidate
            if best.supported:
                break  # a cited source supports it: do not re-cite elsewhere
        return best
