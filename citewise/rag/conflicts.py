"""When documents disagree on the fact a question asks for: show both claims, each cited.

An extractive answer leads with the candidate the models rate best. If another document
holds a sentence that answers the question just as well but states another value of the
asked-for fact, quoting only the lead would hide that the sources disagree (and a planted
false statement may well be the one ranked first). So, once the lead is chosen, the other
candidates are searched for a *rival*:

- it comes from another document than the lead;
- it answers the question on its own: the answerability model rates it at or above the
  refusal threshold, it holds an entity of the wanted type (a date for "when", a number
  for "how many", a name for "who"...), it meets every name of the question, it holds the
  question's content words at least as well as the lead, and nothing in it contradicts
  the question (another year) or negates it;
- its value differs from the lead's: every value of that kind in it disagrees with every
  value in the lead (another year, month or day; another number; another name), and
  neither sentence's surroundings mention the other's value.

Names are compared only when each sentence names exactly one candidate, so a list ("Toei
and Square Enix") and a different list from another report are not a disagreement: they
add up. Dates or numbers that cannot be compared ("last week", "a few") never are one.
The answer then says so and quotes both: "The documents disagree: “A” says “...” [1];
“B” says “...” [2]." and `Disagreement` lists the values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citewise.index.loaders import MONTH_PREFIXES
from citewise.rag.citations import Answer, Citation, ClaimedValue, Disagreement, SentenceCheck
from citewise.rag.entities import Entity, QuestionInfo
from citewise.rag.extractive import ExtractiveAnswerer, ScoredSentence
from citewise.rag.features import STOPWORDS

__all__ = ["Conflict", "add_to", "find_conflict"]

PREFIX = "The documents disagree:"

# the kind of value each entity label carries; only values of one kind are compared
_KINDS = {"DATE": "date", "TIME": "date"}
_KINDS |= dict.fromkeys(("CARDINAL", "MONEY", "QUANTITY", "PERCENT"), "number")
_KINDS |= dict.fromkeys(("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "PRODUCT", "WORK_OF_ART", "EVENT"), "name")

_MONTHS = {m: i for i, m in enumerate(MONTH_PREFIXES.split("|"), start=1)}
_MONTH = rf"({MONTH_PREFIXES})[a-z]*\.?"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}")
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\d)")
_MONTH_ONLY = re.compile(rf"\b{_MONTH}(?![a-z])")
_ISO = re.compile(r"\b(1\d{3}|20\d{2})-(\d{2})-(\d{2})\b")
_YEAR = re.compile(r"\b(1\d{3}|20\d{2})\b")
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion|bn|mn|k|m)?\b")
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9}
_SCALES["trillion"] = 1e12
_SMALL = "zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
_NUMBER_WORDS = {w: float(i) for i, w in enumerate(f"{_SMALL}|seventeen|eighteen|nineteen|twenty".split("|"))}
_NUMBER_WORDS |= {"thirty": 30.0, "forty": 40.0, "fifty": 50.0, "hundred": 100.0, "dozen": 12.0}


@dataclass(frozen=True)
class Value:
    """One value a sentence gives for the asked-for fact: its kind (date, number, name) and text."""

    kind: str
    text: str


@dataclass
class Conflict:
    """The answer's lead and a rival from another document that states another value."""

    lead: ScoredSentence
    rival: ScoredSentence
    about: str
    values: tuple[str, str]

    def cite(self, answerer: ExtractiveAnswerer, first: int = 1) -> tuple[list[str], list[Citation]]:
        """The answer's parts and citations (numbered from ``first``): both claims, each with its source."""
        a, b = (answerer.citation(s, n) for n, s in enumerate((self.lead, self.rival), start=first))
        name_a, name_b = _names(a, b)
        parts = [
            f"{PREFIX} {name_a} says “{_said(self.lead)}” [{a.n}];",
            f"{name_b} says “{_said(self.rival)}” [{b.n}].",
        ]
        return parts, [a, b]

    def disagreement(self, citations: list[Citation]) -> Disagreement:
        """The `Disagreement`, pointing at ``citations`` (the lead's, then the rival's)."""
        claims = [ClaimedValue(v, c.n, c.doc_id) for v, c in zip(self.values, citations, strict=True)]
        return Disagreement(about=self.about, claims=claims)


def find_conflict(
    answerer: object, question: str, ranked: list[ScoredSentence], chosen: list[ScoredSentence]
) -> Conflict | None:
    """A rival to the answer's lead (``chosen[0]``) among ``ranked``, or None.

    Only the fitted scorer's candidates carry the features this needs; for any other
    answerer, or a question that asks for no particular kind of value, this is None.
    """
    if not chosen or not isinstance(answerer, ExtractiveAnswerer):
        return None
    info = answerer.question(question)
    if not info.wants:
        return None
    lead = chosen[0]
    if not lead.features.get("type_yes"):
        return None
    lead_values = _values(answerer, info, lead)
    if not lead_values:
        return None
    for rival in ranked:
        if rival.passage.chunk.doc_id == lead.passage.chunk.doc_id or not _as_good(rival, lead, answerer.threshold):
            continue
        values = _values(answerer, info, rival)
        differ = _differ(lead_values, values, lead, rival)
        if differ is not None:
            return Conflict(lead, rival, differ[0].kind, (differ[0].text, differ[1].text))
    return None


def add_to(answer: Answer, conflict: Conflict, answerer: ExtractiveAnswerer) -> str:
    """Add both claims to a written (generative) answer; returns the text added.

    When the answer already cites a quote of each value from two documents, only
    `disagreement` is set (and "" returned). Else the
    claims are appended as one more sentence with two new citations numbered after the
    answer's own, so whatever the LLM wrote, the reader sees both sources.
    """
    cited = [next((c for c in answer.citations if _mentions(c.quote, v)), None) for v in conflict.values]
    if cited[0] is not None and cited[1] is not None and cited[0].doc_id != cited[1].doc_id:
        answer.disagreement = conflict.disagreement([cited[0], cited[1]])
        return ""
    first = max((c.n for c in answer.citations), default=0) + 1
    parts, citations = conflict.cite(answerer, first)
    added = " ".join(parts)
    answer.text = f"{answer.text} {added}".strip()
    answer.citations = [*answer.citations, *citations]
    if answer.sentences is not None:
        answer.sentences.append(SentenceCheck(added, [c.n for c in citations], True, citations[0].quote, 1.0))
    answer.disagreement = conflict.disagreement(citations)
    return added


# ---- which candidates count -------------------------------------------------------------
def _as_good(rival: ScoredSentence, lead: ScoredSentence, threshold: float) -> bool:
    """The rival answers the question on its own, and at least as squarely as the lead."""
    f, g = rival.features, lead.features
    return (
        rival.score >= threshold
        and f.get("type_yes") == 1.0
        and f.get("names_missing", 1.0) == 0.0
        and f.get("contradiction", 1.0) == 0.0
        and f.get("negation", 1.0) == 0.0
        and f.get("own", 0.0) >= g.get("own", 0.0)
        and f.get("missing", 9.0) <= g.get("missing", 0.0)
    )


def _values(answerer: ExtractiveAnswerer, info: QuestionInfo, s: ScoredSentence) -> list[Value]:
    """The values of the wanted type that ``s`` gives (not ones the question itself names)."""
    (ents,) = answerer.entities(s.passage.chunk.doc_hash, [(s.start, s.end, s.text)])
    values = [_value(e) for e in ents if e[0] in info.wants and info.is_new(e[1])]
    return [v for v in values if v is not None]


def _value(entity: Entity) -> Value | None:
    kind = _KINDS.get(entity[0])
    return Value(kind, entity[1]) if kind else None


def _differ(a: list[Value], b: list[Value], sa: ScoredSentence, sb: ScoredSentence) -> tuple[Value, Value] | None:
    """A pair of values that disagree, when every comparable pair does (None otherwise)."""
    found: tuple[Value, Value] | None = None
    for kind in {v.kind for v in a} & {v.kind for v in b}:
        xs, ys = [v for v in a if v.kind == kind], [v for v in b if v.kind == kind]
        if kind == "name" and (len(xs) != 1 or len(ys) != 1):
            continue  # lists of names add up rather than disagree
        for x in xs:
            for y in ys:
                same = _agree(kind, x.text, y.text)
                if same:
                    return None
                if same is False and found is None:
                    found = (x, y)
    if found and (_mentions(sa.context, found[1].text) or _mentions(sb.context, found[0].text)):
        return None  # each side also mentions the other's value: not a plain disagreement
    return found


def _mentions(context: str, value: str) -> bool:
    norm = _norm(value)
    return bool(norm) and f" {norm} " in f" {_norm(context)} "


# ---- comparing values ---------------------------------------------------------------------
def _agree(kind: str, x: str, y: str) -> bool | None:
    """True when two values can be the same, False when they cannot, None when they cannot be compared."""
    if kind == "date":
        return _dates_agree(_date(x), _date(y))
    if kind == "number":
        a, b = _numbers(x), _numbers(y)
        if not a or not b:
            return None
        return any(abs(p - q) <= 1e-9 * max(1.0, abs(p), abs(q)) for p in a for q in b)
    ta, tb = _name_words(x), _name_words(y)
    if not ta or not tb:
        return None
    return bool(ta & tb)


_Date = tuple[frozenset[int], int | None, int | None]


def _date(text: str) -> _Date:
    """(years, month, day) named in a date; missing parts are empty or None."""
    t = text.lower()
    iso = _ISO.search(t)
    if iso:
        return frozenset([int(iso.group(1))]), int(iso.group(2)), int(iso.group(3))
    years = frozenset(int(y) for y in _YEAR.findall(t))
    month = day = None
    m = _MONTH_DAY.search(t)
    if m:
        month, day = _MONTHS[m.group(1)], int(m.group(2))
    elif (m := _DAY_MONTH.search(t)) is not None:
        month, day = _MONTHS[m.group(2)], int(m.group(1))
    elif (m := _MONTH_ONLY.search(t)) is not None:
        month = _MONTHS[m.group(1)]
    if day is not None and not 1 <= day <= 31:
        day = None
    return years, month, day


def _dates_agree(a: _Date, b: _Date) -> bool | None:
    compared = False
    if a[0] and b[0]:
        if not a[0] & b[0]:
            return False
        compared = True
    pairs = [(a[1], b[1])]
    if a[1] is not None and a[1] == b[1]:
        pairs.append((a[2], b[2]))  # a day is compared within the same month only
    for x, y in pairs:
        if x is not None and y is not None:
            if x != y:
                return False
            compared = True
    return True if compared else None


def _numbers(text: str) -> set[float]:
    t = text.lower().replace(",", "")
    out = {float(m.group(1)) * _SCALES.get(m.group(2) or "", 1.0) for m in _NUMBER.finditer(t)}
    if not out:
        out = {_NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", t) if w in _NUMBER_WORDS}
    return out


def _name_words(text: str) -> set[str]:
    return {w for w in _norm(text).split() if w not in STOPWORDS and len(w) > 1}


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("’", "'")))


# ---- wording ----------------------------------------------------------------------------------
def _said(s: ScoredSentence) -> str:
    """The quote as shown in the answer text: one line, without a list bullet or its final period."""
    text = " ".join(s.text.lstrip("•*-– ").split())
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


def _names(a: Citation, b: Citation) -> tuple[str, str]:
    """How the answer names the two documents: their titles, or their ids when the titles match."""
    ta, tb = a.title or a.doc_id, b.title or b.doc_id
    if ta == tb:
        ta, tb = a.doc_id, b.doc_id
    return f"“{ta}”", f"“{tb}”"
