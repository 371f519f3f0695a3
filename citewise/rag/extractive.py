"""Extractive answers: the retrieved sentences that best answer the question, quoted verbatim.

Each candidate (a sentence of a retrieved passage, or a sentence with its neighbour when
only the neighbour holds what the question asks for) gets a few features: similarity,
shared words, whether it holds an entity of the wanted type, whether the question's own
names are met nearby, whether it names another year... The answerability model
(`citewise.rag.answerability`) turns them into a probability; the best candidate is
quoted when that probability reaches the refusal threshold (``min_score``).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from citewise.index.chunking import sentence_spans
from citewise.index.embed import SentenceEmbedder
from citewise.index.store import ChunkRecord
from citewise.rag.answerability import Answerability, packaged_model, with_rank
from citewise.rag.cache import LRU, cached_vectors
from citewise.rag.citations import Citation
from citewise.rag.entities import Entity, QuestionInfo, analyse, entities_of, names_asked_time
from citewise.rag.features import (
    STOPWORDS,
    answers_kind,
    candidate_features,
    content_terms,
    is_heading,
    is_statement,
    near_cover,
    refers_back,
    stem,
    term_weights,
    windows,
)
from citewise.rag.injection import is_instruction
from citewise.rag.retrieve import Passage

__all__ = ["STOPWORDS", "ExtractiveAnswerer", "ExtractiveConfig", "ScoredSentence", "content_terms", "stem"]
__all__ += ["citation_for", "is_heading"]


@dataclass(frozen=True)
class ExtractiveConfig:
    """Limits of an extractive answer; the refusal threshold is the model's probability.

    ``min_score`` None uses the threshold chosen with the model on the tune split.
    """

    min_score: float | None = None
    max_sentences: int = 3
    keep_within: float | None = None  # runners-up must score within this of the best (None: the model's)
    list_items: int = 6  # most list items quoted after a sentence that ends with a colon


@dataclass
class ScoredSentence:
    """A candidate sentence (or a sentence with its neighbour), in document coordinates."""

    passage: Passage
    start: int
    end: int
    text: str
    score: float = 0.0  # the answerability model's probability that this candidate answers the question
    rank: float = 0.0  # the ranking model's probability that it holds the answer
    context: str = ""  # the candidate with the sentences on either side
    neighbours: list[tuple[int, int, str]] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    # the sentence itself, when it is quoted with the one before it (`ExtractiveAnswerer._leans_on_previous`)
    # or, being a question, with the one answering it (`ExtractiveAnswerer._answered_next`)
    own: tuple[int, int] | None = None
    # what sets the candidate's scene: its document's title and the sentence before it in its
    # paragraph. A year the question asks excuses another year in the candidate only here ("The
    # 2021 season began in April. Pogacar won it again, after his 2020 win."), not in any neighbour
    frame: str = ""


# document_text(doc_id) -> the full text citation offsets point into (None if unknown)
DocumentText = Callable[[str], "str | None"]


@dataclass(frozen=True)
class _Doc:
    """A document's text (or one chunk's, when the document is unknown) and its sentence spans."""

    text: str
    offset: int
    spans: list[tuple[int, int]]
    whole: bool = True  # the document's whole text (False: one chunk's, the document unknown)

    def slice(self, start: int, end: int) -> str:
        return self.text[start - self.offset : end - self.offset]


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


class ExtractiveAnswerer:
    """Picks the sentences of the retrieved passages that best answer a question.

    With ``document_text``, candidates are the document's whole sentences that overlap a
    passage, so a sentence cut by a chunk edge is still quoted in full. Embeddings and
    named entities are cached per sentence of a document version.
    """

    def __init__(
        self,
        embedder: SentenceEmbedder,
        config: ExtractiveConfig,
        cache_size: int = 20000,
        document_text: DocumentText | None = None,
        model: Answerability | None = None,
    ) -> None:
        self.embedder = embedder
        self.config = config
        self.document_text = document_text
        self.model = model or packaged_model()
        # features no model of this answerer uses are skipped; scripts/fit_answerability.py
        # sets this to collect every feature it may try
        self.all_features = False
        self._vectors = LRU(cache_size)
        self._entities = LRU(cache_size)
        self._questions = LRU(256)
        self._documents = LRU(16)

    def _computes(self, feature: str) -> bool:
        """Whether to compute an optional feature ('near', 'dense_part'): a model uses it, or all are asked for."""
        return self.all_features or feature in self.model.rank.features + self.model.answer.features

    @property
    def threshold(self) -> float:
        """Refusal threshold: the configured ``min_score``, else the model's."""
        return self.model.threshold if self.config.min_score is None else self.config.min_score

    # ---- sentences ------------------------------------------------------------------
    def document(self, chunk: ChunkRecord) -> _Doc:
        """The chunk's document and sentence spans (cached per content hash); the chunk alone if unknown."""
        key = (chunk.doc_id, chunk.doc_hash)
        doc = self._documents.get(key)
        if isinstance(doc, _Doc):
            return doc
        text = self.document_text(chunk.doc_id) if self.document_text else None
        if text is None or text[chunk.start : chunk.end] != chunk.text:
            # unknown, or a newer version than the chunk: stay inside the chunk
            return _Doc(chunk.text, chunk.start, sentence_spans(chunk.text, offset=chunk.start), whole=False)
        doc = _Doc(text, 0, sentence_spans(text))
        self._documents.put(key, doc)
        return doc

    def _with_list(self, doc: _Doc, i: int) -> tuple[int, int]:
        """Sentence ``i``, extended over what follows it when it ends with a colon: its list items,
        or a short code block ("Run the following to test it:" + the command)."""
        start, end = doc.spans[i]
        if not _LEADS_IN.search(doc.slice(start, end)):
            return start, end
        if i + 1 < len(doc.spans):
            a, b = doc.spans[i + 1]
            if doc.slice(a, b).lstrip().startswith("```") and "\n\n\n" not in doc.slice(end, a):
                # the whole block, to its closing fence; none within reach: the sentence alone
                closing = doc.slice(a + 3, a + CODE_BLOCK).find("```")
                return (start, a + 3 + closing + 3) if closing >= 0 else (start, end)
        for a, b in doc.spans[i + 1 : i + 1 + self.config.list_items]:
            if not re.match(r"\s*[•*\-–]|\s*\d+[.)]\s", doc.slice(a, b)) or "\n\n\n" in doc.slice(end, a):
                break
            end = b
        if end == doc.spans[i][1]:
            end = self._indented_block(doc, i, end)
        return start, end

    def _indented_block(self, doc: _Doc, i: int, end: int) -> int:
        """The end of the indented lines right after sentence ``i`` (a plain-text example or command:
        "To quit without saving, type this:" + an indented ":q!"), or ``end`` when there are none
        or they run longer than ``CODE_BLOCK``."""
        block_end = end
        for a, b in doc.spans[i + 1 :]:
            line_start = doc.text.rfind("\n", 0, a - doc.offset) + 1
            indent = doc.text[line_start : a - doc.offset]
            if indent == "" or indent.strip() or "\n\n\n" in doc.slice(block_end, a):
                break  # not indented, or not at a line's start: the block is over
            block_end = b
        return block_end if block_end - end <= CODE_BLOCK else end

    def _leans_on_previous(self, doc: _Doc, i: int) -> bool:
        """Sentence ``i`` says what it is about only through the sentence before it, a statement
        of the same paragraph ("To exit, use the "ZZ" command." + "This command writes the file
        and exits."): the two are quoted together."""
        if i == 0 or not refers_back(doc.slice(*doc.spans[i])):
            return False
        a, b = doc.spans[i - 1]
        before = doc.slice(a, b)
        return "\n\n" not in doc.slice(b, doc.spans[i][0]) and not _LEADS_IN.search(before) and is_statement(before)

    def _frame(self, doc: _Doc, title: str, start: int) -> str:
        """A candidate's frame (`ScoredSentence.frame`): the title, and the sentence before the one
        starting at ``start`` if it is in the same paragraph."""
        i = bisect.bisect_left(doc.spans, (start, start))
        if 0 < i < len(doc.spans) and "\n\n" not in doc.slice(doc.spans[i - 1][1], start):
            return f"{title} {doc.slice(*doc.spans[i - 1])}"
        return title

    def _answered_next(self, doc: _Doc, i: int) -> bool:
        """Sentence ``i`` is a question the text itself asks and answers next ("Why do founders
        build what no one wants? Because they start from ideas, not problems."), as essays and
        FAQs do: a question states nothing, so it is quoted with its answer (across one blank line
        at most, and not when the next sentence is another question)."""
        if i + 1 >= len(doc.spans) or not _ASKS.search(doc.slice(*doc.spans[i])):
            return False
        a, b = doc.spans[i + 1]
        after = doc.slice(a, b)
        return "\n\n\n" not in doc.slice(doc.spans[i][1], a) and not _ASKS.search(after) and is_statement(after)

    def candidates(self, passages: list[Passage]) -> list[ScoredSentence]:
        """Every statement of the passages once, in document coordinates, with its neighbours."""
        seen: set[tuple[str, int]] = set()
        out: list[ScoredSentence] = []
        for p in passages:
            chunk = p.chunk
            doc = self.document(chunk)
            first = bisect.bisect_right([b for _, b in doc.spans], chunk.start)
            for i in range(first, len(doc.spans)):
                if doc.spans[i][0] >= chunk.end:
                    break
                # a sentence is known by where it starts in the document (a chunk read without its
                # document counts its sentences from its own start)
                key = (chunk.doc_id, doc.spans[i][0])
                if key in seen:
                    continue
                seen.add(key)
                end = self._with_list(doc, i)[1]
                begin = i - 1 if self._leans_on_previous(doc, i) else i
                last = i + 1 if end == doc.spans[i][1] and self._answered_next(doc, i) else i
                if last != i:
                    end = self._with_list(doc, last)[1]
                start = doc.spans[begin][0]
                text = doc.slice(start, end)
                # a sentence addressing the assistant is a prompt injection: never quoted as an answer.
                # Whether it is a statement is judged on the sentence itself (the bullets of the list
                # items quoted after its colon, "• ... • ...", are no navigation separators), and a
                # question in the text by the sentence answering it ("Why not? Well, ...").
                judged = doc.slice(*doc.spans[last])
                if len(content_terms(text)) < 2 or is_instruction(text) or not is_statement(judged):
                    continue
                near = [doc.spans[j] for j in (begin - 1, last + 1) if 0 <= j < len(doc.spans)]
                neighbours = [(a, b, doc.slice(a, b)) for a, b in near if a >= end or b <= start]
                neighbours = [n for n in neighbours if not is_instruction(n[2])]  # never quoted beside an answer
                context = " ".join([chunk.title] + [t for _, _, t in neighbours] + [text])
                own = doc.spans[i] if (begin, last) != (i, i) else None
                frame = self._frame(doc, chunk.title, start)
                out.append(
                    ScoredSentence(p, start, end, text, context=context, neighbours=neighbours, own=own, frame=frame)
                )
        return out

    # ---- caches ---------------------------------------------------------------------
    def embeddings(self, sentences: list[ScoredSentence]) -> list[list[float]]:
        keys = [("v", s.passage.chunk.doc_hash, s.start, s.end) for s in sentences]
        return self._cached_vectors(keys, [s.text for s in sentences])

    def _own_embeddings(self, sentences: list[ScoredSentence]) -> list[list[float]]:
        """The vectors of the sentences' own spans (each of ``sentences`` is quoted with a neighbour)."""
        spans = [s.own for s in sentences if s.own]
        keys = [("v", s.passage.chunk.doc_hash, a, b) for s, (a, b) in zip(sentences, spans, strict=True)]
        texts = [self.document(s.passage.chunk).slice(a, b) for s, (a, b) in zip(sentences, spans, strict=True)]
        return self._cached_vectors(keys, texts)

    def _cached_vectors(self, keys: Sequence[tuple[object, ...]], texts: list[str]) -> list[list[float]]:
        """The vector of each text, from the cache by its key, embedding (each on its own) only those missing."""
        return cached_vectors(self._vectors, self.embedder.embed_each, keys, texts)

    def entities(self, doc_hash: str, spans: list[tuple[int, int, str]]) -> list[tuple[Entity, ...]]:
        """Named entities of sentences of a document version, parsed once and cached."""
        keys = [("e", doc_hash, a, b) for a, b, _ in spans]
        found = [self._entities.get(k) for k in keys]
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            for i, ents in zip(missing, entities_of([spans[i][2] for i in missing]), strict=True):
                self._entities.put(keys[i], ents)
                found[i] = ents
        return found  # type: ignore[return-value]

    def question(self, question: str) -> QuestionInfo:
        """The question's analysis (entities parsed once per distinct question)."""
        info = self._questions.get(question)
        if not isinstance(info, QuestionInfo):
            info = analyse(question)
            self._questions.put(question, info)
        return info

    # ---- scoring --------------------------------------------------------------------
    def score(self, question: str, query: str, sentences: list[ScoredSentence]) -> list[ScoredSentence]:
        """Score candidates against the question, best ``rank`` first.

        ``rank`` is the ranking model's probability, ``score`` the answerability model's.

        For a follow-up (``query`` differs from ``question``) a sentence may match either the
        question alone or the question with its context, so "what was his blog post called?"
        finds the blog post, not only whatever the previous turn was about.
        """
        if not sentences:
            return []
        info = self.question(question)
        qvec = self.embedder.get_query_embedding(query)
        own_vec = self.embedder.get_query_embedding(question) if query != question else qvec
        q_terms = content_terms(query)
        own_terms = content_terms(question) or q_terms
        ents = self._sentence_entities(sentences)
        seen_terms: set[str] = set()
        for s in sentences:
            seen_terms |= content_terms(s.context)
        unseen = len(own_terms - seen_terms) / max(1, len(own_terms))
        first_doc = sentences[0].passage.chunk.id
        texts_terms = [content_terms(s.text) for s in sentences]
        weights = term_weights(own_terms, texts_terms)
        vectors = self.embeddings(sentences)
        leaning = [i for i, s in enumerate(sentences) if s.own]
        # a sentence quoted with the one before it is as similar as the better of the quote and itself
        own_vectors = dict(zip(leaning, self._own_embeddings([sentences[i] for i in leaning]), strict=True))
        near = self._computes("near")
        for n, (s, vec, e, s_terms) in enumerate(zip(sentences, vectors, ents, texts_terms, strict=True)):
            dense = max(_dot(q, v) for v in (vec, own_vectors.get(n, vec)) for q in (qvec, own_vec))
            lexical = len(q_terms & s_terms) / math.sqrt(max(1, len(q_terms)) * max(1, len(s_terms)) ** 0.5)
            s.features = {
                "dense": dense,
                "lexical": min(1.0, lexical),
                "passage_first": 1.0 if s.passage.chunk.id == first_doc else 0.0,
                "passage_dense": s.passage.dense or 0.0,
                "unseen": unseen,
                "pair": 0.0,
            }
            s.features.update(candidate_features(info, own_terms, s.text, s.context, e, weights, near, s.frame))
        if self._computes("dense_part"):
            self._dense_parts(sentences, qvec, own_vec)
        _margins(sentences)
        pairs = self._pairs(info, own_terms, sentences, ents, weights)
        everyone = sentences + pairs
        if info.years or info.quarters:
            # a year the question asks that the candidate's document never names: the document is
            # about another time ("Which party won the 2019 election?" of a report on the July 2023 one).
            # Only where the whole document is known: one chunk of it may not name the year
            docs = {s.passage.chunk.doc_hash: self.document(s.passage.chunk) for s in everyone}
            silent = {h for h, doc in docs.items() if doc.whole and not names_asked_time(info, doc.text)}
            for s in everyone:
                if s.passage.chunk.doc_hash in silent:
                    s.features["contradiction"] = 1.0
        with_rank(
            [s.features for s in everyone], self.model, [(s.passage.chunk.doc_id, s.start, s.end) for s in everyone]
        )
        for s in everyone:
            s.rank = s.features["rank_p"]
            s.score = self.model.answer.probability(s.features)
        return sorted(everyone, key=lambda s: order_key(s.features, s.score), reverse=True)

    def _dense_parts(self, sentences: list[ScoredSentence], qvec: list[float], own_vec: list[float]) -> None:
        """'dense_part': the best similarity of the question to the sentence or to a run of its words
        (`features.windows`); run vectors are cached per document version like sentence vectors."""
        keys: list[tuple[object, ...]] = []
        texts: list[str] = []
        owner: list[int] = []
        for n, s in enumerate(sentences):
            for a, b in windows(s.text):
                keys.append(("w", s.passage.chunk.doc_hash, s.start + a, s.start + b))
                texts.append(s.text[a:b])
                owner.append(n)
        best = [s.features["dense"] for s in sentences]
        for n, vec in zip(owner, self._cached_vectors(keys, texts), strict=True):
            best[n] = max(best[n], _dot(qvec, vec), _dot(own_vec, vec))
        for s, value in zip(sentences, best, strict=True):
            s.features["dense_part"] = value

    def _sentence_entities(self, sentences: list[ScoredSentence]) -> list[tuple[Entity, ...]]:
        out: list[tuple[Entity, ...]] = [()] * len(sentences)
        by_doc: dict[str, list[int]] = {}
        for i, s in enumerate(sentences):
            by_doc.setdefault(s.passage.chunk.doc_hash, []).append(i)
        for doc_hash, idx in by_doc.items():
            found = self.entities(doc_hash, [(sentences[i].start, sentences[i].end, sentences[i].text) for i in idx])
            for i, e in zip(idx, found, strict=True):
                out[i] = e
        return out

    def _pairs(
        self,
        info: QuestionInfo,
        own_terms: set[str],
        sentences: list[ScoredSentence],
        ents: list[tuple[Entity, ...]],
        weights: dict[str, float],
    ) -> list[ScoredSentence]:
        """A sentence with its neighbour, where only the neighbour holds the wanted type (or,
        for "why", the reason: "The potters fire the kiln at night." + "The reason is that ...").

        "Who chairs the MPA?": "Last month, the MPA responded..." + "...said MPA Chairman
        and CEO Charles Rivkin." Only the best few sentences lacking the type are paired.
        """
        if not (info.wants or info.reason):
            return []
        lacking = [(s, e) for s, e in zip(sentences, ents, strict=True) if s.features["type_no"] and s.neighbours]
        lacking = sorted(lacking, key=lambda se: se[0].features["margin"], reverse=True)[:4]
        out: list[ScoredSentence] = []
        for s, e in lacking:
            doc_hash = s.passage.chunk.doc_hash
            for (a, b, text), ne in zip(s.neighbours, self.entities(doc_hash, s.neighbours), strict=True):
                if not answers_kind(info, text, ne) or not is_statement(text):
                    continue
                start, end = min(a, s.start), max(b, s.end)
                if any(
                    p.start == start and p.end == end and p.passage.chunk.doc_id == s.passage.chunk.doc_id for p in out
                ):
                    continue  # the same two sentences, paired from the other side
                doc = self.document(s.passage.chunk)
                quote = doc.slice(start, end)
                if len(quote) != end - start:
                    continue
                frame = s.frame if start == s.start else self._frame(doc, s.passage.chunk.title, start)
                pair = ScoredSentence(s.passage, start, end, quote, context=s.context, neighbours=[], frame=frame)
                pair.features = dict(s.features)
                pair.features.update(
                    candidate_features(
                        info, own_terms, quote, s.context + " " + text, e + ne, weights, self._computes("near"), frame
                    )
                )
                pair.features["pair"] = 1.0
                # how closely the neighbour's answer stands beside the question's words: the ranker
                # reads the sentence, so the two pairs of one sentence rank alike; this orders them
                pair.features["beside"] = near_cover(info, weights, text, ne, window=3)
                out.append(pair)
        return out

    # ---- choosing -------------------------------------------------------------------
    def select(self, ranked: list[ScoredSentence], max_sentences: int | None = None) -> list[ScoredSentence]:
        """The candidates to quote: the most answerable of the best ranked, plus close runners-up.

        The answer leads with whichever of the ``HEAD`` best-ranked candidates the answerability
        model rates highest; nothing is quoted when that is under the threshold. A runner-up is
        kept when its rank is within ``keep_within`` of the lead's and it overlaps no quote
        already chosen.
        """
        threshold = self.threshold
        head = lead(ranked)
        if head is None or head.score < threshold:
            return []
        window = self.model.keep_within if self.config.keep_within is None else self.config.keep_within
        limit = max_sentences or self.config.max_sentences
        chosen = [head]
        for s in ranked:
            if len(chosen) >= limit or s.rank < head.rank - window:
                break
            if not any(_overlap(s, c) for c in chosen):
                chosen.append(s)
        return chosen

    def cite(self, chosen: list[ScoredSentence]) -> tuple[list[str], list[Citation]]:
        """The answer's parts (each a sentence with its marker [n]), and the matching citations.

        A citation's ``passage`` is the retrieved chunk, widened to hold the whole quote.
        """
        citations: list[Citation] = []
        parts: list[str] = []
        for n, s in enumerate(chosen, start=1):
            citations.append(self.citation(s, n))
            text = " ".join(s.text.lstrip("•*-– ").split())
            parts.append(f"{text} [{n}]")
        return parts, citations

    def citation(self, s: ScoredSentence, n: int) -> Citation:
        """Citation ``n`` for candidate ``s``, its passage widened to hold the whole quote."""
        chunk = s.passage.chunk
        passage, passage_start = chunk.text, chunk.start
        if s.start < chunk.start or s.end > chunk.end:
            doc = self.document(chunk)
            if doc.whole:
                passage_start = min(chunk.start, s.start)
                passage = doc.slice(passage_start, max(chunk.end, s.end))
        return citation_for(s, n, s.score, passage, passage_start)


CODE_BLOCK = 400  # longest code block (characters) quoted with the sentence introducing it
HEAD = 1  # best-ranked candidates the answerability model chooses the lead among


def order_key(features: dict[str, float], score: float) -> tuple[float, float, float]:
    """How candidates are ranked, best last: by the ranking model; equal ranks (a sentence paired
    with either neighbour) go to the pair whose neighbour holds the answer beside the question's
    words ("said MPA Chairman and CEO Charles Rivkin", not "Marvel characters like Iron Man"),
    then to the more answerable (``score``)."""
    return features["rank_p"], features.get("beside", 0.0), score


def lead(ranked: list[ScoredSentence]) -> ScoredSentence | None:
    """The candidate an answer leads with: the most answerable of the ``HEAD`` best ranked."""
    return max(ranked[:HEAD], key=lambda s: s.score) if ranked else None


# a sentence asking a question ("Why not?", "How do I reset my password?")
_ASKS = re.compile(r"\?[\"”’)\]]*\s*$")
# a sentence introducing what follows it: it ends with a colon (Vim's help files mark the example
# after it with " >", reStructuredText with "::")
_LEADS_IN = re.compile(r":\s*>?\s*$")


def _overlap(a: ScoredSentence, b: ScoredSentence) -> bool:
    return a.passage.chunk.doc_id == b.passage.chunk.doc_id and a.start < b.end and b.start < a.end


def _margins(sentences: list[ScoredSentence]) -> None:
    """Each sentence's similarity score minus the best score of the other answers: sentences
    that share no text with it (a sentence quoted with the one before it competes with neither)."""
    base = [0.65 * s.features["dense"] + 0.35 * (s.features["lexical"] + s.features["own"]) / 2 for s in sentences]
    order = sorted(range(len(base)), key=lambda i: base[i], reverse=True)
    for i, s in enumerate(sentences):
        other = next((base[j] for j in order if j != i and not _overlap(s, sentences[j])), 0.0)
        s.features["margin"] = base[i] - other


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))
