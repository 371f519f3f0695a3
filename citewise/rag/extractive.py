"""Extractive answers: the retrieved sentences that best answer the question, quoted verbatim."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass

from citewise.index.chunking import sentence_spans
from citewise.index.embed import SentenceEmbedder
from citewise.rag.citations import Citation
from citewise.rag.retrieve import Passage

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "they",
        "them",
        "their",
        "there",
        "then",
        "than",
        "he",
        "she",
        "his",
        "her",
        "him",
        "we",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "not",
        "no",
        "yes",
        "so",
        "such",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "about",
        "into",
        "over",
        "under",
        "after",
        "before",
        "also",
        "just",
        "only",
        "any",
        "all",
        "some",
        "more",
        "most",
        "other",
        "own",
        "same",
        "very",
        "too",
        "has",
        "have",
        "had",
        "having",
        "up",
        "down",
        "out",
        "off",
        "again",
        "further",
        "once",
        "here",
        "both",
        "each",
        "few",
        "nor",
        "s",
        "t",
        "don",
        "now",
        "says",
        "said",
        "say",
        "tell",
    ]
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DATE = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\bmid-[A-Z][a-z]+\b"
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|dozen)\b", re.I)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-zA-Z.]+)+\b")


def stem(word: str) -> str:
    """A light suffix-stripping stemmer: enough to match launch/launched/launches."""
    w = word.lower().replace("’", "'").removesuffix("'s")
    for suffix in ("ations", "ation", "ings", "ing", "edly", "ed", "es", "s", "ly"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def content_terms(text: str) -> set[str]:
    """Stemmed words of ``text`` that carry meaning (no stop words)."""
    return {stem(w) for w in _WORD.findall(text) if w.lower() not in STOPWORDS}


def answer_type_bonus(question: str, sentence: str) -> float:
    """Reward a sentence holding the kind of thing the question asks for (a date, a name...)."""
    q = question.lower()
    if re.search(r"\bwhen\b|what (year|date|day|month)|which (year|date)", q):
        return 0.12 if (_YEAR.search(sentence) or _DATE.search(sentence)) else -0.05
    if re.search(r"\bhow (many|much|long|old)\b", q):
        return 0.08 if _NUMBER.search(sentence) else -0.03
    if re.search(r"\bwho\b", q):
        return 0.05 if _NAME.search(sentence) else 0.0
    return 0.0


@dataclass(frozen=True)
class ExtractiveConfig:
    """Scoring weights and limits, calibrated on the seed evaluation set."""

    min_score: float = 0.45
    max_sentences: int = 3
    keep_within: float = 0.08  # extra sentences must score within this of the best
    dense_weight: float = 0.65
    lexical_weight: float = 0.35


@dataclass
class ScoredSentence:
    """A candidate sentence, in document coordinates."""

    passage: Passage
    start: int
    end: int
    text: str
    score: float = 0.0


class ExtractiveAnswerer:
    """Picks the sentences of the retrieved passages that best answer a question."""

    def __init__(self, embedder: SentenceEmbedder, config: ExtractiveConfig, cache_size: int = 20000) -> None:
        self.embedder = embedder
        self.config = config
        self._cache: OrderedDict[tuple[str, int, int], list[float]] = OrderedDict()
        self._cache_size = cache_size

    def candidates(self, passages: list[Passage]) -> list[ScoredSentence]:
        """Every sentence of the passages once, in document coordinates."""
        seen: set[tuple[str, int, int]] = set()
        out: list[ScoredSentence] = []
        for p in passages:
            for start, end in sentence_spans(p.chunk.text, offset=p.chunk.start):
                key = (p.chunk.doc_id, start, end)
                if key in seen:
                    continue
                seen.add(key)
                text = p.chunk.text[start - p.chunk.start : end - p.chunk.start]
                if len(content_terms(text)) >= 2:
                    out.append(ScoredSentence(passage=p, start=start, end=end, text=text))
        return out

    def _embeddings(self, sentences: list[ScoredSentence]) -> list[list[float]]:
        keys = [(s.passage.chunk.doc_hash, s.start, s.end) for s in sentences]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            vectors = self.embedder.embed([sentences[i].text for i in missing])
            for i, v in zip(missing, vectors, strict=True):
                self._cache[keys[i]] = v
        for k in keys:
            self._cache.move_to_end(k)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return [self._cache[k] for k in keys]

    def score(self, question: str, query: str, sentences: list[ScoredSentence]) -> list[ScoredSentence]:
        """Score sentences against the question; ``query`` adds context for follow-ups."""
        if not sentences:
            return []
        qvec = self.embedder.get_query_embedding(query)
        q_terms = content_terms(query)
        own_terms = content_terms(question)
        for s, vec in zip(sentences, self._embeddings(sentences), strict=True):
            dense = sum(a * b for a, b in zip(qvec, vec, strict=True))
            s_terms = content_terms(s.text)
            lexical = len(q_terms & s_terms) / math.sqrt(max(1, len(q_terms)) * max(1, len(s_terms)) ** 0.5)
            lexical = min(1.0, lexical)
            # the question's own words matter more than those borrowed from the history
            own = len(own_terms & s_terms) / max(1, len(own_terms)) if own_terms else 0.0
            s.score = (
                self.config.dense_weight * dense
                + self.config.lexical_weight * (0.5 * lexical + 0.5 * own)
                + answer_type_bonus(question, s.text)
            )
        return sorted(sentences, key=lambda s: s.score, reverse=True)

    def select(self, ranked: list[ScoredSentence], max_sentences: int | None = None) -> list[ScoredSentence]:
        """The sentences to quote: the best, plus close runners-up; none if the best is too weak."""
        if not ranked or ranked[0].score < self.config.min_score:
            return []
        best = ranked[0].score
        limit = max_sentences or self.config.max_sentences
        chosen = [ranked[0]]
        for s in ranked[1:]:
            if len(chosen) >= limit:
                break
            if s.score >= max(self.config.min_score, best - self.config.keep_within):
                chosen.append(s)
        return chosen

    @staticmethod
    def cite(chosen: list[ScoredSentence]) -> tuple[list[str], list[Citation]]:
        """The answer's parts (each a sentence with its marker [n]), and the matching citations."""
        citations: list[Citation] = []
        parts: list[str] = []
        for n, s in enumerate(chosen, start=1):
            chunk = s.passage.chunk
            page = chunk.page_at(s.start)
            citations.append(
                Citation(
                    n=n,
                    doc_id=chunk.doc_id,
                    title=chunk.title,
                    source=chunk.source,
                    page=page,
                    quote=s.text,
                    start=s.start,
                    end=s.end,
                    score=s.score,
                    passage=chunk.text,
                    passage_start=chunk.start,
                )
            )
            text = s.text.lstrip("•*-– ").strip()
            parts.append(f"{text} [{n}]")
        return parts, citations
