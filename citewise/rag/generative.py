"""The generative answer mode: an LLM writes the answer, and every sentence is checked.

The LLM sees the retrieved passages as numbered sources inside a delimited data block
and cites them as ``[n]``. Its output is split into sentences as it streams; each
sentence is checked against the sources (`citewise.rag.verify`) before it is shown:

- supported sentences are shown with the number of the source that supports them
  (numbers pointing to no source are removed; a wrong number is replaced by the source
  that does support the sentence);
- unsupported sentences are shown flagged, or dropped when ``strict`` is set;
- when no sentence is supported, the extractive answer is shown instead, with a note.

The sources listed are exactly the ones the shown answer cites, renumbered 1, 2, ...
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from citewise.errors import reason
from citewise.prompts import load_prompt, render
from citewise.rag.answer import ExtractiveMode, refusal
from citewise.rag.cancel import check_cancelled
from citewise.rag.chat import Message, retrieval_query
from citewise.rag.citations import Answer, Citation, SentenceCheck
from citewise.rag.conflicts import add_to, find_conflict
from citewise.rag.extractive import citation_for, content_terms
from citewise.rag.llm import LLMConfig, LLMError, build_llm
from citewise.rag.retrieve import Passage
from citewise.rag.stream import StreamItem
from citewise.rag.verify import Claim, SourceSentences, Support, SupportChecker, is_instruction, split_claims

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

log = logging.getLogger(__name__)
UNSUPPORTED_FLAG = "[not in the sources]"
FALLBACK_NOTE = "the generated answer could not be checked against the sources, so the extractive answer is shown"


@dataclass(frozen=True)
class GenerativeConfig:
    """How the generative mode prompts the LLM and what it shows.

    Attributes:
        strict: drop unsupported sentences instead of flagging them.
        max_tokens: most tokens of an answer (None: the LLM's own setting).
        condense_max_tokens: most tokens of a condensed follow-up question.
        max_source_chars: longest passage text put in the prompt, per source.
        history_turns: earlier turns shown to the condense prompt.
    """

    strict: bool = False
    max_tokens: int | None = None
    condense_max_tokens: int = 48
    max_source_chars: int = 1500
    history_turns: int = 4


def _redact(text: str) -> str:
    """Passage text for the data block: instruction-like sentences removed, delimiters defused."""
    from citewise.index.chunking import sentence_spans

    out, cursor = [], 0
    for start, end in sentence_spans(text):
        if is_instruction(text[start:end]):
            out.append(text[cursor:start] + "(text removed)")
            cursor = end
    out.append(text[cursor:])
    return re.sub(r"={3,}", "==", "".join(out))


def format_sources(passages: list[Passage], max_chars: int = 1500) -> str:
    """The numbered sources of the answer prompt (the data block's content)."""
    blocks = []
    for n, p in enumerate(passages, start=1):
        blocks.append(f"Source [{n}]:\n{_redact(p.chunk.text[:max_chars])}")
    return "\n\n".join(blocks)


def answer_messages(question: str, passages: list[Passage], max_chars: int = 1500) -> list[Any]:
    """The chat messages asking the LLM to answer ``question`` from ``passages``."""
    from llama_index.core.base.llms.types import ChatMessage, MessageRole

    user = render("answer", sources=format_sources(passages, max_chars), question=question)
    return [
        ChatMessage(role=MessageRole.SYSTEM, content=render("answer_system")),
        ChatMessage(role=MessageRole.USER, content=user),
    ]


def leaks_prompt(text: str) -> bool:
    """True when a sentence mostly repeats our own instructions (a sign the LLM was hijacked)."""
    terms = content_terms(text)
    prompt_terms = content_terms(load_prompt("answer_system") + " " + load_prompt("answer"))
    return len(terms) >= 3 and len(terms & prompt_terms) / len(terms) >= 0.6


@dataclass
class _Shown:
    """What the reader sees so far: parts of the answer text, their checks, and the citations."""

    parts: list[str] = field(default_factory=list)
    checks: list[SentenceCheck] = field(default_factory=list)
    numbers: dict[int, int] = field(default_factory=dict)  # source n -> displayed number
    best: dict[int, Support] = field(default_factory=dict)  # displayed number -> best support
    pending: list[SentenceCheck] = field(default_factory=list)  # unsupported, held until something is
    dropped: int = 0
    seen: set[str] = field(default_factory=set)

    def add_supported(self, claim: Claim, support: Support) -> list[str]:
        assert support.source is not None
        shown = self.numbers.setdefault(support.source, len(self.numbers) + 1)
        if shown not in self.best or support.score > self.best[shown].score:
            self.best[shown] = support
        quote = support.sentence.text if support.sentence else ""
        check = SentenceCheck(f"{claim.text} [{shown}]", [shown], True, quote, round(support.score, 4))
        out = [*self.pending, check]
        self.pending.clear()
        return self._emit(out)

    def add_unsupported(self, claim: Claim, support: Support) -> list[str]:
        check = SentenceCheck(f"{claim.text} {UNSUPPORTED_FLAG}", [], False, "", round(support.score, 4))
        if self.checks:  # something supported is already shown: no need to hold back
            return self._emit([check])
        self.pending.append(check)
        return []

    def _emit(self, checks: list[SentenceCheck]) -> list[str]:
        deltas = []
        for check in checks:
            deltas.append(check.text if not self.parts else " " + check.text)
            self.parts.append(check.text)
            self.checks.append(check)
        return deltas

    def citations(self) -> list[Citation]:
        out = []
        for shown, support in sorted(self.best.items()):
            assert support.sentence is not None
            out.append(citation_for(support.sentence, shown, support.score))
        return out


class GenerativeMode:
    """Answers written by an LLM from the retrieved passages, each sentence checked.

    Args:
        llm: a LlamaIndex LLM, or a function building one (called on first use).
        extractive: the extractive mode, used for the refusal decision and the fallback.
        checker: decides whether sentences are supported.
        config: prompting and display options.
    """

    name = "generative"

    def __init__(
        self,
        llm: LLM | Callable[[], LLM],
        extractive: ExtractiveMode,
        checker: SupportChecker,
        config: GenerativeConfig | None = None,
    ) -> None:
        self._llm: Any = llm
        self.extractive = extractive
        self.checker = checker
        self.config = config or GenerativeConfig()

    @property
    def llm(self) -> LLM:
        """The LLM (built on first use)."""
        from llama_index.core.llms import LLM

        if not isinstance(self._llm, LLM):
            self._llm = self._llm()
        return self._llm

    @llm.setter
    def llm(self, value: LLM) -> None:
        self._llm = value

    # ---- conversation ------------------------------------------------------------------
    def condense(self, question: str, history: list[Message]) -> str:
        """A standalone version of a follow-up question, written by the LLM.

        Falls back to the extractive history-aware query when there is no history or the
        LLM's rewrite is empty, too long, or shares no content word with the conversation.
        """
        fallback = retrieval_query(question, history)
        if not history:
            return fallback
        from llama_index.core.base.llms.types import ChatMessage, MessageRole

        turns = history[-self.config.history_turns :]
        lines = [f"{'User' if m.role == 'user' else 'Assistant'}: {m.content.strip()[:400]}" for m in turns]
        prompt = render("condense", history="\n".join(lines), question=question)
        response = self._call(
            lambda: self.llm.chat(
                [ChatMessage(role=MessageRole.USER, content=prompt)], max_tokens=self.config.condense_max_tokens
            )
        )
        rewrite = clean_rewrite(response.message.content or "")
        context = content_terms(question + " " + " ".join(m.content for m in turns))
        if not rewrite or len(rewrite) > max(300, 3 * len(question)) or not (content_terms(rewrite) & context):
            return fallback
        return rewrite

    # ---- answers -------------------------------------------------------------------------
    def stream(
        self, question: str, query: str, passages: list[Passage], history: list[Message]
    ) -> Iterator[StreamItem]:
        """Yield checked sentences as the LLM writes them, then the finished `Answer`."""
        started = time.perf_counter()
        answerer = self.extractive.answerer
        ranked = answerer.score(question, query, answerer.candidates(passages))
        chosen = answerer.select(ranked)
        if not chosen:
            answer = refusal(self.name, query)  # nothing relevant: the LLM is not asked
            answer.sentences = []
            yield answer.text
            answer.timings["answer"] = (time.perf_counter() - started) * 1000
            yield answer
            return
        sources = self.checker.index(passages)
        shown = _Shown()
        timings: dict[str, float] = {}
        yield from self._generate(query, passages, sources, shown, timings)
        if not any(c.supported for c in shown.checks):
            answer = yield from self._fallback(question, query, passages, history)
        else:
            answer = Answer(
                text=" ".join(shown.parts),
                citations=shown.citations(),
                refused=False,
                mode=self.name,
                sentences=shown.checks,
                query=query,
                note=self._note(shown),
            )
        conflict = find_conflict(answerer, question, ranked, chosen)
        if conflict is not None and not answer.refused:  # both claims, whatever the LLM chose to say
            added = add_to(answer, conflict, answerer)
            if added:
                yield " " + added
        answer.timings.update(timings)
        answer.timings["answer"] = (time.perf_counter() - started) * 1000
        yield answer

    def _generate(
        self,
        question: str,
        passages: list[Passage],
        sources: SourceSentences,
        shown: _Shown,
        timings: dict[str, float],
    ) -> Iterator[str]:
        """Stream the LLM's answer; check and yield each sentence once it is complete."""
        messages = answer_messages(question, passages, self.config.max_source_chars)
        kwargs = {"max_tokens": self.config.max_tokens} if self.config.max_tokens else {}
        t0 = time.perf_counter()
        text, done, tokens = "", 0, 0
        for chunk in self._call(lambda: self.llm.stream_chat(messages, **kwargs), stream=True):
            check_cancelled()  # the client went away: stop reading (a remote server stops writing)
            if not tokens:
                timings["llm_first_token"] = (time.perf_counter() - t0) * 1000
            tokens += 1
            text += chunk.delta or ""
            claims = split_claims(text)
            for claim in claims[done : len(claims) - 1]:  # the last one may still grow
                yield from self._show(claim, sources, shown)
            done = max(done, len(claims) - 1)
        for claim in split_claims(text)[done:]:
            if claim.cited or claim.text[-1] in ".!?\"'”’)":  # else a fragment cut by max_tokens
                yield from self._show(claim, sources, shown)
        log.debug("LLM wrote %d chunks: %r", tokens, text)
        timings["llm_generate"] = (time.perf_counter() - t0) * 1000
        timings["llm_tokens"] = float(tokens)

    def _show(self, claim: Claim, sources: SourceSentences, shown: _Shown) -> Iterator[str]:
        if claim.text in shown.seen:  # small models repeat themselves
            return
        shown.seen.add(claim.text)
        support = self.checker.check([claim], sources)[0]
        if support.supported:
            yield from shown.add_supported(claim, support)
        elif self.config.strict or leaks_prompt(claim.text):
            shown.dropped += 1
        else:
            yield from shown.add_unsupported(claim, support)

    def _fallback(
        self, question: str, query: str, passages: list[Passage], history: list[Message]
    ) -> Generator[StreamItem, None, Answer]:
        """The extractive answer (minus instruction-like sentences), labelled as a fallback."""
        answerer = self.extractive.answerer
        ranked = answerer.score(question, query, answerer.candidates(passages))
        chosen = answerer.select(ranked)  # candidates() already leaves injected sentences out
        if not chosen:
            answer = refusal(self.name, query)
            answer.sentences = []
            yield answer.text
            return answer
        parts, citations = answerer.cite(chosen)
        for i, part in enumerate(parts):
            yield part if i == 0 else " " + part
        checks = [
            SentenceCheck(p, [c.n], True, c.quote, round(c.score, 4)) for p, c in zip(parts, citations, strict=True)
        ]
        return Answer(
            text=" ".join(parts),
            citations=citations,
            refused=False,
            mode=self.name,
            sentences=checks,
            query=query,
            note=FALLBACK_NOTE,
        )

    def _note(self, shown: _Shown) -> str:
        flagged = sum(not c.supported for c in shown.checks)
        notes = []
        if flagged:
            notes.append(f"{flagged} sentence(s) marked {UNSUPPORTED_FLAG} are not supported by the sources")
        if shown.dropped:
            notes.append(f"{shown.dropped} unsupported sentence(s) left out")
        return "; ".join(notes)

    def _call(self, fn: Callable[[], Any], stream: bool = False) -> Any:
        """Run an LLM call, turning client errors into one-line `LLMError`."""
        try:
            result = fn()
            return _guarded(result, self._llm) if stream else result
        except LLMError:
            raise
        except Exception as exc:
            raise LLMError(_llm_failure(self.llm, exc)) from None


def _guarded(chunks: Iterator[Any], llm: Any) -> Iterator[Any]:
    try:
        yield from chunks
    except LLMError:
        raise
    except Exception as exc:
        raise LLMError(_llm_failure(llm, exc)) from None


def _llm_failure(llm: Any, exc: Exception) -> str:
    where = getattr(llm, "api_base", None)
    place = f"the LLM server at {where}" if where else "the LLM"
    return f"{place} failed: {reason(exc)}; check the llm_* settings (CITEWISE_LLM_URL, CITEWISE_LLM_GGUF)"


def clean_rewrite(text: str) -> str:
    """The first line of an LLM's rewrite, without labels or quotes."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    line = re.sub(r"^(standalone question|question|rewritten question)\s*:\s*", "", lines[0], flags=re.I)
    return line.strip().strip("\"'“”‘’").strip()


def build_generative_mode(assistant: Any, llm: LLM | None = None) -> GenerativeMode:
    """The generative mode wired from an Assistant's settings, embedder and extractive mode.

    Args:
        assistant: the `Assistant` to serve.
        llm: any LlamaIndex LLM; default the one the settings describe (loaded on first use).
    """
    s = assistant.settings
    config = LLMConfig(
        gguf=s.llm_gguf,
        url=s.llm_url,
        model=s.llm_model,
        api_key=s.llm_api_key,
        max_tokens=s.llm_max_tokens,
        context_window=s.llm_context_window,
    )
    extractive = assistant.mode("extractive")
    checker = SupportChecker(assistant.embedder)
    factory: LLM | Callable[[], LLM] = llm if llm is not None else (lambda: build_llm(config))
    return GenerativeMode(factory, extractive, checker, GenerativeConfig(strict=s.strict))
