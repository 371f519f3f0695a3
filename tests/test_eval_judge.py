"""The optional LLM judge: LlamaIndex's faithfulness and correctness evaluators over an answer."""

from __future__ import annotations

import pytest
from test_generative import ScriptedLLM

from citewise import Answer, Citation
from citewise.eval.datasets import EvalCase, Expect, SourceSpec
from citewise.eval.judge import judge_answer
from citewise.eval.metrics import CaseResult

LAUNCH = "OpenAI launched Sora 2 on September 30, 2025."
CASE = EvalCase(
    id="launch",
    question="When did OpenAI launch Sora 2?",
    expect=Expect(all_of=("September 30, 2025",)),
    sources=(SourceSpec(docs=("coda-written-request-openai.md",)),),
)


def _result(refused: bool = False) -> CaseResult:
    quote = Citation(1, "coda-written-request-openai.md", "", "", None, LAUNCH, 0, len(LAUNCH), 1.0)
    answer = Answer(text=f"{LAUNCH} [1]", citations=[] if refused else [quote], refused=refused)
    return CaseResult(case=CASE, answer=answer, retrieved=[], latency_ms=1.0)


def test_judge_reads_the_evaluators_verdicts():
    def script(prompt: str) -> str:
        return "4.5\nThe answer matches the reference." if "reference answer" in prompt.lower() else "YES"

    llm = ScriptedLLM(script)
    verdict = judge_answer(llm, _result())
    assert verdict == {"faithfulness": 1.0, "correctness": 4.5}
    assert any(LAUNCH in p for p in llm.prompts)  # the quote was the context judged against


def test_judge_skips_refusals_and_unparsable_verdicts():
    assert judge_answer(ScriptedLLM(lambda p: "YES"), _result(refused=True)) == {}
    verdict = judge_answer(ScriptedLLM(lambda p: "no idea"), _result())
    assert "correctness" not in verdict and verdict.get("faithfulness") == 0.0


@pytest.mark.llm
@pytest.mark.slow
def test_judge_runs_with_the_bundled_llm(make_assistant):
    from citewise.eval.runner import run_eval

    report = run_eval(make_assistant(), "seed", "generative", limit=2, judge=True)
    judged = [r.judge for r in report.results if not r.case.refuse and not r.answer.refused]
    assert judged and all(set(j) <= {"faithfulness", "correctness"} for j in judged)
    assert all(0.0 <= j.get("faithfulness", 0.0) <= 1.0 for j in judged)
