"""Optional LLM judges: LlamaIndex's FaithfulnessEvaluator and CorrectnessEvaluator.

Never needed for CI: the deterministic metrics are the gate. The judge is whatever LLM the
generative mode uses (the bundled SmolLM2 unless an OpenAI-compatible server is set),
so its verdicts are only as good as that model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from citewise.eval.metrics import CaseResult, strip_markers

if TYPE_CHECKING:
    from citewise.assistant import Assistant


def judge_answer(llm: Any, result: CaseResult) -> dict[str, float]:
    """Faithfulness (0/1, the answer follows from its quotes) and, given a reference, correctness (1-5).

    Verdicts the judge could not give (unparsable output) are left out, not guessed.
    """
    from llama_index.core.evaluation import CorrectnessEvaluator, FaithfulnessEvaluator

    out: dict[str, float] = {}
    answer = strip_markers(result.answer.text)
    if result.answer.refused:
        return out
    contexts = [c.quote for c in result.answer.citations] or [r.text for r in result.retrieved[:4]]
    question = result.case.question
    faith = FaithfulnessEvaluator(llm=llm).evaluate(query=question, response=answer, contexts=contexts)
    if faith.passing is not None and not faith.invalid_result:
        out["faithfulness"] = 1.0 if faith.passing else 0.0
    reference = result.case.reference_answer or "; ".join(result.case.expect.patterns())
    try:
        correct = CorrectnessEvaluator(llm=llm).evaluate(query=question, response=answer, reference=reference)
    except (ValueError, TypeError):  # LlamaIndex's parser raises on a verdict without "score\nreason"
        return out
    if correct.score is not None and not math.isnan(correct.score):
        out["correctness"] = float(correct.score)
    return out


def make_judge(assistant: Assistant, llm: Any = None) -> Callable[[CaseResult], dict[str, float]]:
    """A judge function over ``llm`` (default: the generative mode's LLM of ``assistant``)."""
    judge_llm = llm if llm is not None else assistant.mode("generative").llm  # type: ignore[attr-defined]

    def judge(result: CaseResult) -> dict[str, float]:
        return judge_answer(judge_llm, result)

    return judge
