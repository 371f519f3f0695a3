"""The classic extractive scorer: a hand-weighted sum of similarity, shared words and regex answer types.

Kept as an option (``answer_model = "classic"``) beside the default fitted answerability model
(`citewise.rag.extractive`, ``answer_model = "fitted"``), which does better on the test
splits and refuses more near-topic questions, at a cost on the seed suite; see docs/answers.md
for both sets of figures. Its weights and ``min_score`` were chosen on the seed suite.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from citewise.index.chunking import sentence_spans
from citewise.index.embed import SentenceEmbedder
from citewise.index.store import ChunkRecord
from citewise.rag.cache import LRU, cached_vectors
from citewise.rag.citations import Citation
from citewise.rag.features import STOPWORDS, content_terms, stem  # the same words both scorers compare
from citewise.rag.injection import is_instruction
from citewise.rag.retrieve import Passage

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DATE = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\bmid-[A-Z][a-z]+\b"
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|dozen)\b", re.I)
_MONEY = re.compile(r"[$€£¥]\s?\d|\b\d[\d,.]*\s?(dollars?|yen|euros?|usd|jpy)\b|\bfree\b", re.I)
_EXPANSION = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+\s+\(([A-Z]{2,})\)")
_PLACE = re.compile(r"\b(in|on|at|from|by)\s+(the\s+)?[A-Z][\w.-]*")  # "on Tech Times", "in Tokyo"
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-zA-Z.]+)+\b")


def _is_count(sentence: str) -> bool:
    """A number that counts something: not a year, not a day of a date, not part of a name."""
    # a day before a year, "#1", and numbers that are part of a name ("Sora 2") count nothing
    cleaned = re.sub(r"\b\d{1,2}(?=,? (19|20)\d\d)|#\d+|\b[A-Z][A-Za-z]* \d+\b", " ", sentence)
    return bool(_NUMBER.search(_DATE.sub(" ", _YEAR.sub(" ", cleaned))))


def answer_type_bonus(question: str, sentence: str) -> float:
    """Reward a sentence holding the kind of thing the question asks for (a date, a count...).

    A sentence without it is penalised: a "when" question is not answered by a sentence
    that holds no date, however close its words are.
    """
    q = question.lower()
    if re.search(r"^\W*(and |so |but )?when\b|what (year|date|day|month)|which (year|date)|\bin what year\b", q):
        return 0.12 if (_YEAR.search(sentence) or _DATE.search(sentence)) else -0.12
    if re.search(r"\bhow much\b.*\b(cost|price|pay|charge|fee)", q):
        return 0.08 if _MONEY.search(sentence) else -0.15
    counted = re.search(r"\bhow many ([a-z][\w-]*)", q)
    if counted and stem(counted.group(1)) not in content_terms(sentence):
        return -0.24  # a count of something else ("20 companies" for "how many employees")
    if re.search(r"\bhow (many|much|long|old)\b", q):
        return 0.08 if _is_count(sentence) else -0.12
    if re.search(r"^\W*(and |so |but )?where\b", q):
        return 0.10 if _PLACE.search(sentence) else -0.05
    if re.search(r"\bstand for\b|\bfull name\b|\bacronym\b", q):
        return 0.12 if _EXPANSION.search(sentence) else -0.05
    if re.search(r"\bwho\b|\bwhich ([\w-]+ ){0,3}(company|companies|studio|firm|outlet|organi[sz]ation)\b", q):
        return 0.06 if _NAME.search(sentence) else -0.06
    return 0.0


def is_heading(text: str) -> bool:
    """A heading or a tag line: no closing punctuation, every longer word capitalised."""
    stripped = text.strip()
    if not stripped or stripped[-1] in '.!?:;"”’)':
        return False
    words = [w for w in _WORD.findall(stripped) if len(w) > 3 and w.lower() not in STOPWORDS]
    return bool(words) and all(w[0].isupper() or w[0].isdigit() for w in words)


@dataclass(frozen=True)
class ClassicConfig:
    """Scoring weights and limits, calibrated on the seed evaluation set."""

    min_score: float = 0.40
    max_sentences: int = 3
    keep_within: float = 0.12  # extra sentences must score within this of the best
    other_source_within: float = 0.2  # ... or this, for the best sentence of another document
    dense_weight: float = 0.65
    lexical_weight: float = 0.35
    heading_penalty: float = 0.15  # headings name a topic; they state no fact
    list_items: int = 6  # most list items quoted after a sentence that ends with a colon


@dataclass
class ScoredSentence:
    """A candidate sentence, in document coordinates."""

    passage: Passage
    start: int
    end: int
    text: str
    score: float = 0.0


# document_text(doc_id) -> the full text citation offsets point into (None if unknown)
DocumentText = Callable[[str], "str | None"]


def citation_for(
    s: ScoredSentence, n: int, score: float, passage: str | None = None, passage_start: int | None = None
) -> Citation:
    """Citation ``n`` quoting sentence ``s``; the passage shown around it defaults to its chunk."""
    chunk = s.passage.chunk
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        title=chunk.title,
        source=chunk.source,
        page=chunk.page_at(s.start),
        quote=s.text,
        start=s.start,
        end=s.end,
        score=score,
        passage=chunk.text if passage is None else passage,
        passage_start=chunk.start if passage_start is None else passage_start,
    )


class ClassicAnswerer:
    """Picks the sentences of the retrieved passages that best answer a question.

    With ``document_text``, candidates are the document's whole sentences that overlap a
    passage, so a sentence cut by a chunk edge is still quoted in full.
    """

    def __init__(
        self,
        embedder: SentenceEmbedder,
        config: ClassicConfig,
        cache_size: int = 20000,
        document_text: DocumentText | None = None,
    ) -> None:
        self.embedder = embedder
        self.config = config
        self.document_text = document_text
        self._vectors = LRU(cache_size)
        self._documents: OrderedDict[tuple[str, str], tuple[str, list[tuple[int, int]]]] = OrderedDict()

    def _document(self, chunk: ChunkRecord) -> tuple[str, list[tuple[int, int]]] | None:
        """The chunk's document text and sentence spans (cached per content hash)."""
        key = (chunk.doc_id, chunk.doc_hash)
        if key not in self._documents:
            text = self.document_text(chunk.doc_id) if self.document_text else None
            if text is None or text[chunk.start : chunk.end] != chunk.text:
                return None  # unknown, or a newer version than the chunk: stay inside the chunk
            self._documents[key] = (text, sentence_spans(text))
            while len(self._documents) > 16:
                self._documents.popitem(last=False)
        self._documents.move_to_end(key)
        return self._documents[key]

    def _spans(self, chunk: ChunkRecord) -> list[tuple[int, int, str]]:
        """(start, end, text) of the sentences of ``chunk``, whole where the document is known."""
        doc = self._document(chunk)
        if doc is None:
            return [
                (a, b, chunk.text[a - chunk.start : b - chunk.start])
                for a, b in sentence_spans(chunk.text, offset=chunk.start)
            ]
        text, spans = doc
        first = bisect.bisect_right([b for _, b in spans], chunk.start)
        out = []
        for a, b in spans[first:]:
            if a >= chunk.end:
                break
            out.append(self._with_list(text, spans, a, b))
        return out

    def _with_list(self, text: str, spans: list[tuple[int, int]], start: int, end: int) -> tuple[int, int, str]:
        """A sentence that ends with a colon, extended over the list items that follow it."""
        if not text[start:end].rstrip().endswith(":"):
            return start, end, text[start:end]
        following = [(a, b) for a, b in spans if a >= end][: self.config.list_items]
        for a, b in following:
            if not re.match(r"\s*[•*\-–]|\s*\d+[.)]\s", text[a:b]) or "\n\n\n" in text[end:a]:
                break
            end = b
        return start, end, text[start:end]

    def candidates(self, passages: list[Passage]) -> list[ScoredSentence]:
        """Every sentence of the passages once, in document coordinates."""
        seen: set[tuple[str, int]] = set()
        out: list[ScoredSentence] = []
        for p in passages:
            for start, end, text in self._spans(p.chunk):
                key = (p.chunk.doc_id, start)
                if key in seen:
                    continue
                seen.add(key)
                # a sentence addressing the assistant is a prompt injection: never quoted as an answer
                if len(content_terms(text)) >= 2 and not is_instruction(text):
                    out.append(ScoredSentence(passage=p, start=start, end=end, text=text))
        return out

    def _embeddings(self, sentences: list[ScoredSentence]) -> list[list[float]]:
        keys = [(s.passage.chunk.doc_hash, s.start, s.end) for s in sentences]
        return cached_vectors(self._vectors, self.embedder.embed_each, keys, [s.text for s in sentences])

    def score(self, question: str, query: str, sentences: list[ScoredSentence]) -> list[ScoredSentence]:
        """Score sentences against the question; ``query`` adds context for follow-ups.

        For a follow-up (``query`` differs from ``question``) a sentence may match either the
        question alone or the question with its context, so "what was his blog post called?"
        finds the blog post, not only whatever the previous turn was about.
        """
        if not sentences:
            return []
        qvec = self.embedder.get_query_embedding(query)
        own_vec = self.embedder.get_query_embedding(question) if query != question else qvec
        q_terms = content_terms(query)
        own_terms = content_terms(question) or q_terms
        cfg = self.config
        for s, vec in zip(sentences, self._embeddings(sentences), strict=True):
            dense = max(_dot(qvec, vec), _dot(own_vec, vec))
            s_terms = content_terms(s.text)
            lexical = len(q_terms & s_terms) / math.sqrt(max(1, len(q_terms)) * max(1, len(s_terms)) ** 0.5)
            lexical = min(1.0, lexical)
            # the question's own words matter more than those borrowed from the history
            own = len(own_terms & s_terms) / max(1, len(own_terms))
            s.score = (
                cfg.dense_weight * dense
                + cfg.lexical_weight * (0.5 * lexical + 0.5 * own)
                + answer_type_bonus(question, s.text)
                - (cfg.heading_penalty if is_heading(s.text) else 0.0)
            )
        return sorted(sentences, key=lambda s: s.score, reverse=True)

    def select(self, ranked: list[ScoredSentence], max_sentences: int | None = None) -> list[ScoredSentence]:
        """The sentences to quote: the best, plus close runners-up; none if the best is too weak.

        A runner-up is kept when it scores within ``keep_within`` of the best, or, as the best
        sentence of a document not quoted yet, within ``other_source_within``: when two
        documents say it (or say it differently), both are shown.
        """
        cfg = self.config
        if not ranked or ranked[0].score < cfg.min_score:
            return []
        best = ranked[0].score
        limit = max_sentences or cfg.max_sentences
        chosen = [ranked[0]]
        docs = {ranked[0].passage.chunk.doc_id}
        for s in ranked[1:]:
            if len(chosen) >= limit:
                break
            doc = s.passage.chunk.doc_id
            window = cfg.other_source_within if doc not in docs else cfg.keep_within
            if s.score >= max(cfg.min_score, best - window):
                chosen.append(s)
                docs.add(doc)
        return chosen

    def cite(self, chosen: list[ScoredSentence]) -> tuple[list[str], list[Citation]]:
        """The answer's parts (each a sentence with its marker [n]), and the matching citations.

        A citation's ``passage`` is the retrieved chunk, widened to hold the whole quote.
        """
        citations: list[Citation] = []
        parts: list[str] = []
        for n, s in enumerate(chosen, start=1):
            chunk = s.passage.chunk
            passage, passage_start = chunk.text, chunk.start
            doc = self._document(chunk) if (s.start < chunk.start or s.end > chunk.end) else None
            if doc is not None:
                passage_start = min(chunk.start, s.start)
                passage = doc[0][passage_start : max(chunk.end, s.end)]
            citations.append(citation_for(s, n, s.score, passage, passage_start))
            text = " ".join(s.text.lstrip("•*-– ").split())
            parts.append(f"{text} [{n}]")
        return parts, citations


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))
