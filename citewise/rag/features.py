"""What the answerability model sees of a candidate sentence, and which lines are no statements.

Every function here is plain text processing; entities come in already computed
(`citewise.rag.entities`), similarities from the embedding model.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence

from citewise.rag.entities import (
    MONTH_WORDS,
    Entity,
    QuestionInfo,
    contradicts,
    has_answer_type,
    holds_definition,
    holds_expansion,
    holds_reason,
)

_STOPWORD_TEXT = (
    "a an the and or but if of to in on at by for with from as is are was were be been being do does did "
    "what when where which who whom whose why how that this these those it its they them their there then "
    "than he she his her him we our you your i me my not no yes so such can could would should will shall "
    "may might must about into over under after before also just only any all some more most other own "
    "same very too has have had having up down out off again further once here both each few nor s t don "
    "now says said say tell"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_TOKEN = re.compile(r"[a-z0-9]+")

# lines that are about the document, not statements in it
_BYLINE = re.compile(
    r"^\W*((?i:written|posted|published|reported|edited|photos?|words|story|text|interview)\s+)?(?i:by)\s+[A-Z]"
)
_CAPTION = re.compile(
    r"^\W*(photo|image|picture|figure|fig|table|illustration|credit|source|caption|screenshot|video)s?\b\.?\s*(\d+\s*)?[:.|—–-]",
    re.I,
)
_NAVIGATION = re.compile(
    r"^\W*(home|menu|search|share( this)?|subscribe|sign (in|up)|log ?in|read more|related( articles| posts)?|"
    r"next|previous|back to top|skip to( main)? content|follow us|advertisement|table of contents|contents|"
    r"click here|tags?|categories|comments?)\b",
    re.I,
)
_SEPARATORS = re.compile(r"\s[|›»>·•/]\s")
_NEGATION = re.compile(r"\b(not|never|no|none|neither|nor|without|cannot)\b|n't\b", re.I)
_LIST_ITEM = re.compile(r"^\s*([•*\-–]|\d+[.)])\s")

# a sentence that leans on the one before it: it opens with a pronoun or a demonstrative, maybe
# after a linking phrase ("This command writes the file and exits.", "In other words, it undoes
# the undo."), or ends on one ("The "J" command does this."). Quoted alone, it does not say what
# it is about, so it is quoted with the sentence before it (`ExtractiveAnswerer.candidates`).
_LINKING = r"(?:(?:however|also|so|thus|therefore|instead|in other words|in addition|moreover|then|here|again|finally)\s*,?\s+)?"
_OPENS_ON_REFERENCE = re.compile(
    r"^\W*" + _LINKING + r"(?:this|that|these|those|it|they|he|she|its|their|his|her|such)\b(?!-)", re.I
)
_ENDS_ON_REFERENCE = re.compile(r"\b(?:this|that)[.!?\"”’)]*$", re.I)


def refers_back(text: str) -> bool:
    """True when the sentence names what it is about only by a pronoun pointing to the sentence before."""
    stripped = " ".join(text.split())
    if _LIST_ITEM.match(text):
        return False  # a list item refers to its list's lead-in, which is quoted with it already
    return bool(_OPENS_ON_REFERENCE.match(stripped) or _ENDS_ON_REFERENCE.search(stripped))


def stem(word: str) -> str:
    """A light suffix-stripping stemmer: enough to match launch/launched/launches."""
    w = word.lower().replace("’", "'").removesuffix("'s")
    for suffix in ("ations", "ation", "ings", "ing", "edly", "ed", "es", "s", "ly"):
        if len(w) > len(suffix) + 3 and w.endswith(suffix):
            return w[: -len(suffix)].removesuffix("e")
    return w.removesuffix("e") if len(w) > 4 else w


def content_terms(text: str) -> set[str]:
    """Stemmed words of ``text`` that carry meaning (no stop words)."""
    return {stem(w) for w in _WORD.findall(text) if w.lower() not in STOPWORDS}


def is_heading(text: str) -> bool:
    """A heading or a tag line: no closing punctuation, every longer word capitalised."""
    stripped = text.strip()
    if stripped.startswith("#"):
        return True
    if not stripped or stripped[-1] in '.!?:;"”’)':
        return False
    words = [w for w in _WORD.findall(stripped) if len(w) > 3 and w.lower() not in STOPWORDS]
    return bool(words) and all(w[0].isupper() or w[0].isdigit() for w in words)


_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_URL = re.compile(r"\bhttps?://\S+")


def visible(text: str) -> str:
    """``text`` as a reader sees it rendered: markdown images, HTML tags and bare URLs left out,
    a markdown link reduced to its words, HTML entities ("&mdash;") as the characters they show."""
    return html.unescape(_URL.sub(" ", _TAG.sub(" ", _LINK.sub(r"\1", _IMAGE.sub(" ", text)))))


def is_statement(text: str) -> bool:
    """True unless the line is a byline, heading, caption or navigation text (never an answer).

    A list item is a statement; so is any sentence that ends as one (., !, ?, a quote). Judged
    on the text as rendered: a row of badges or links ("[![PyPI version](...)](...)") states nothing.
    """
    stripped = " ".join(visible(text).split())
    words = stripped.split()
    if _LIST_ITEM.match(text):
        return True
    ends = stripped[-1] in '.!?"”’)' if stripped else False
    if _BYLINE.match(stripped) and len(words) <= 12 and (not ends or len(words) <= 5):
        return False
    if _CAPTION.match(stripped) or (_NAVIGATION.match(stripped) and len(words) <= 8):
        return False
    if len(_SEPARATORS.findall(f" {stripped} ")) >= 2:
        return False  # "Home | News | Tech" or a breadcrumb
    if is_heading(stripped) or len(words) < 4:
        return False  # a heading, or a fragment too short to state anything ("Consensus issues.")
    if looks_like_code(stripped):
        return False
    return ends or len(words) >= 8


# characters prose rarely uses but code is full of (markdown's ` and * are left out: inline code
# and emphasis are prose)
_CODE_CHARS = frozenset(";=<>&\\$@^")
_CODE_LINE = re.compile(r"\{$|^\}|^(?:\$|>>>)\s")  # a block opened or closed; a shell or Python prompt
_RULE = re.compile(r"([=\-~<>_*#+|])\1{2,}")


def looks_like_code(text: str) -> bool:
    """A line of source code or a shell command, not a sentence: it opens or closes a block ("do {",
    "} while (n);"), starts with a prompt ("$ ", ">>> "), or more than one character in 20 is a
    code symbol ("ret = f(&s, x); /* ok */"). A comment alone ("/* zpipe.c: ... provided to the public domain */") is prose, and so is a
    clause of legal text ending with a semicolon."""
    stripped = re.sub(r":\s*>$", ":", text.strip())  # Vim help's mark for the example after a colon
    # a rule of one character ("=====", "<----->") draws a table or a picture: it is no code
    chars = [c for c in _RULE.sub("", stripped) if not c.isspace()]
    if not chars:
        return False
    return bool(_CODE_LINE.search(stripped)) or sum(c in _CODE_CHARS for c in chars) / len(chars) > 0.05


def _lower_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("’", "'"))


def _tokens(text: str) -> set[str]:
    return {stem(t) for t in _lower_tokens(text)}


def _sequence(text: str) -> list[str]:
    """The stemmed words of ``text`` in order, without stop words."""
    return [stem(t) for t in _lower_tokens(text) if t not in STOPWORDS]


def _phrase_in(words: list[str], sequence: list[str]) -> bool:
    n = len(words)
    return any(sequence[i : i + n] == words for i in range(len(sequence) - n + 1))


# endings that make a place's adjective or people from its name: Japan -> Japanese, Korea -> Korean,
# Italy -> Italian, Iraq -> Iraqi, Germany -> German (the name is the longer word there);
# "es": "Japanese" and "Chinese" as the stemmer leaves them ("japanes")
_DEMONYM_ENDINGS = ("ese", "es", "ian", "ean", "an", "n", "i", "ic", "ish", "y")


def _demonym_base(word: str) -> str:
    """``word`` without a final vowel or y ("korea" -> "kore", "italy" -> "ital")."""
    return word[:-1] if len(word) > 4 and word[-1] in "aeiouy" else word


def same_name_word(a: str, b: str) -> bool:
    """True when two (stemmed, lower-case) words name the same thing: equal, or a place and its
    adjective ("japan"/"japanes", "korea"/"korean", "germany"/"german").

    Only these endings, on a base of four letters or more: "statement" is not "state",
    "normandy" is not "norman".
    """
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    for base in {short, _demonym_base(short)}:
        if len(base) >= 4 and long_.startswith(base) and long_[len(base) :] in _DEMONYM_ENDINGS:
            return True
    return False


def _met(word: str, have: set[str]) -> bool:
    return word in have or any(same_name_word(word, h) for h in have if h[:4] == word[:4])


# a date is written many ways ("March 2020", "March 3, 2020"): its words need not stand in a row
_MONTH = re.compile(rf"\b({MONTH_WORDS})\b")


def name_coverage(names: Sequence[str], context: str) -> tuple[float, int]:
    """(mean share of each name's words found in ``context``, how many names are found not at all).

    A name written as its initials in the context ("MPA" for "Motion Picture Association") counts as
    met; so does a place named by its adjective ("Japan" met by "the Japanese copyright system").
    A name with a number in it is met only whole, its words in a row: "Windows 7" is not met by
    "Windows Terminal ... 7 colours", nor "HTTP/3" by "HTTP/2 ... Python 3" (dates apart).
    """
    if not names:
        return 1.0, 0
    have = _tokens(context)
    sequence: list[str] | None = None
    shares = []
    for name in names:
        words = [stem(w) for w in name.split() if w not in STOPWORDS] or [stem(w) for w in name.split()]
        if len(words) > 1 and any(ch.isdigit() for ch in name) and not _MONTH.search(name):
            sequence = _sequence(context) if sequence is None else sequence
            shares.append(1.0 if _phrase_in(words, sequence) else 0.0)
            continue
        share = sum(1 for w in words if _met(w, have)) / len(words) if words else 1.0
        initials = "".join(w[0] for w in name.split() if w not in STOPWORDS)
        if share < 1 and len(initials) >= 2 and initials in have:
            share = 1.0
        shares.append(share)
    return sum(shares) / len(shares), sum(1 for s in shares if s == 0)


def term_weights(question_terms: set[str], candidate_terms: Sequence[set[str]]) -> dict[str, float]:
    """How much each of the question's words tells its candidates apart: an IDF over the candidates.

    A word found in every candidate sentence (the topic: "Sora", "Normans") weighs little;
    a word found in few or none ("chairman", "fined") weighs most.
    """
    n = len(candidate_terms)
    return {t: math.log(1.0 + (n + 1) / (1 + sum(1 for c in candidate_terms if t in c))) for t in question_terms}


def weighted_cover(weights: dict[str, float], terms: set[str]) -> float:
    """The weighted share of the question's words found in ``terms`` (1.0 when it has none)."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total else 1.0


def relative(features: Sequence[dict[str, float]], names: Iterable[str], floor: float = 0.05) -> None:
    """Add ``<name>_z`` to each candidate's features: how far it stands above its question's other candidates.

    ``(x - mean) / (standard deviation + floor)`` over the candidates of one question. A
    similarity of 0.45 means little on its own (a short question's best sentence scores lower
    than a long one's); standing well above every other retrieved sentence means more, and
    near-topic text that does not hold the answer stands above nothing. ``floor`` keeps a
    question whose candidates are all alike from blowing the figure up.
    """
    for name in names:
        values = [f[name] for f in features]
        if not values:
            return
        mean = sum(values) / len(values)
        spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        for f in features:
            f[f"{name}_z"] = (f[name] - mean) / (spread + floor)


_NUMBER_LABELS = ("CARDINAL", "QUANTITY")


def _words_around(
    text: str, entities: Iterable[Entity], keep: Callable[[str, str], bool], before: int, after: int
) -> Iterator[list[str]]:
    """The stemmed words of ``text`` around each entity that ``keep(label, value)`` accepts:
    ``before`` words before it, the entity's own words, ``after`` words after it."""
    words = [stem(w) for w in _WORD.findall(text)]
    lower = text.lower()
    for label, value in entities:
        if not keep(label, value):
            continue
        at = lower.find(value.lower())
        if at < 0:
            continue
        first = len(_WORD.findall(text[:at]))
        last = first + max(1, len(_WORD.findall(value)))
        yield words[max(0, first - before) : last + after]


def counts(noun: str, text: str, entities: Iterable[Entity], after: int = 4, before: int = 1) -> bool:
    """True when a number of ``text`` counts ``noun``: the noun follows it within ``after`` words
    ("4,000 registered members"), or stands just before it ("members, 4,000 of them").

    "two key demands ... a member of its board" does not count members; nor does "Members
    met three times" (three counts times).
    """
    want = stem(noun)
    numbers = _words_around(text, entities, lambda label, _: label in _NUMBER_LABELS, before, after)
    return any(want in around for around in numbers)


def near_cover(
    info: QuestionInfo, weights: dict[str, float], text: str, entities: Iterable[Entity], window: int = 6
) -> float:
    """How much of the question stands right beside the answer: the IDF-weighted share of the
    question's words within ``window`` words of an entity of the wanted type (the best such entity).

    "When did Northwind launch the Orion rover?": in "Northwind launched the Orion rover on
    March 3, 2021" the date stands beside "launched", "Orion" and "rover" (high); in "The Orion
    rover ... was shown to the press. Northwind was founded in 2019." the only date stands
    beside "founded" (low). 0 when the question wants no entity type or the sentence has none.
    """
    if not info.wants:
        return 0.0
    answers = _words_around(
        text, entities, lambda label, value: label in info.wants and info.is_new(value), window, window
    )
    return max((weighted_cover(weights, set(around)) for around in answers), default=0.0)


def answers_kind(info: QuestionInfo, text: str, entities: Iterable[Entity]) -> bool | None:
    """Whether ``text`` holds the kind of answer the question asks for: an acronym's expansion,
    a reason for "why", a definition for "what is a X?", an entity of the wanted type; None when
    it asks for no particular kind."""
    if info.expands:
        return holds_expansion(info.expands, text)
    if info.reason:
        return holds_reason(text)
    if info.defines and not info.wants:
        return holds_definition(info.defines, text)
    return has_answer_type(info, entities)


def candidate_features(
    info: QuestionInfo,
    own_terms: set[str],
    text: str,
    context: str,
    entities: Iterable[Entity],
    weights: dict[str, float] | None = None,
    near: bool = True,
    frame: str | None = None,
) -> dict[str, float]:
    """The features of one candidate that depend on the question's analysis (types, names, years).

    ``context`` is the candidate with its neighbouring sentences and its document's title;
    ``entities`` the candidate's own named entities; ``weights`` the question's words
    weighted by `term_weights()` (uniform when not given). ``near=False`` leaves out
    `near_cover()` (a quarter of this function's time), for a model that does not use it.
    ``frame`` is where a year the question asks may stand when the candidate names another (its
    title and the sentence before it in its paragraph; ``context`` when not given).
    """
    s_terms = content_terms(text)
    weights = weights if weights is not None else dict.fromkeys(own_terms, 1.0)
    typed = answers_kind(info, text, entities)
    if typed and info.counted and not counts(info.counted, text, entities):
        typed = False  # a count of something else ("20 companies" for "how many employees")
    cover, missing = name_coverage(info.names, context)
    context_terms = content_terms(context)
    negated = bool(_NEGATION.search(info.text)) and not _NEGATION.search(context)
    out = {
        "own": len(own_terms & s_terms) / max(1, len(own_terms)),
        "type_yes": 1.0 if typed else 0.0,
        "type_no": 1.0 if typed is False else 0.0,
        "name_cover": cover,
        "names_missing": float(min(3, missing)),
        "contradiction": 1.0 if contradicts(info, text, context if frame is None else frame) else 0.0,
        "missing": float(min(4, len(own_terms - context_terms))),
        "negation": 1.0 if negated else 0.0,
        "idf_own": weighted_cover(weights, s_terms),
        "idf_context": weighted_cover(weights, context_terms),
    }
    if near:
        out["near"] = near_cover(info, weights, text, entities)
    return out


def windows(text: str, size: int = 12, stride: int = 6) -> list[tuple[int, int]]:
    """Character spans of overlapping runs of ``size`` words across ``text``, ``stride`` words apart.

    A sentence of more than ``size + stride`` words only: a short question compared with a long
    sentence gets a low similarity even when one clause of it is the answer ("... said MPA
    Chairman and CEO Charles Rivkin" for "What is Charles Rivkin's job?"); compared with each run
    of words, the run that holds the answer stands out. Shorter sentences get none.
    """
    words = [m.span() for m in re.finditer(r"\S+", text)]
    if len(words) <= size + stride:
        return []
    starts = list(range(0, len(words) - size + 1, stride))
    if starts[-1] != len(words) - size:
        starts.append(len(words) - size)  # the sentence's last words too
    return [(words[i][0], words[i + size - 1][1]) for i in starts]
