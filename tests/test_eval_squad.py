"""SQuAD 2.0 eval sets: the loader on a tiny file written here, the named splits, scoring, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED

from citewise.eval.datasets import DatasetError, load_dataset, shared_dir
from citewise.eval.datasets.squad import HAS_ANSWER, NO_ANSWER, squad_dataset
from citewise.eval.metrics import CaseResult, score_squad_case, summarize
from citewise.eval.runner import run_eval
from citewise.rag.citations import Answer, Citation

TINY = {
    "version": "v2.0",
    "data": [
        {
            "title": "Lighthouses",
            "paragraphs": [
                {
                    "context": "The Eddystone Lighthouse stands on rocks south of Plymouth. "
                    "John Smeaton built the third Eddystone Lighthouse in 1759 from interlocking granite blocks.",
                    "qas": [
                        {
                            "question": "Who built the third Eddystone Lighthouse?",
                            "id": "a1",
                            "answers": [{"text": "John Smeaton", "answer_start": 61}] * 2,
                            "is_impossible": False,
                        },
                        {
                            "question": "Who demolished the Eddystone Lighthouse in 1759?",
                            "id": "a2",
                            "answers": [],
                            "plausible_answers": [{"text": "John Smeaton", "answer_start": 61}],
                            "is_impossible": True,
                        },
                    ],
                },
                {
                    "context": "Fresnel lenses focus the light of a lighthouse into a beam. "
                    "Augustin-Jean Fresnel presented the design  in 1822.",
                    "qas": [
                        {
                            "question": "In what year did Fresnel present his lens design?",
                            "id": "a3",
                            "answers": [{"text": "1822", "answer_start": 104}],
                            "is_impossible": False,
                        }
                    ],
                },
            ],
        },
        {
            "title": "Bread_baking",
            "paragraphs": [
                {
                    "context": "Sourdough bread rises with wild yeast and lactic acid bacteria.",
                    "qas": [
                        {
                            "question": "What makes sourdough rise?",
                            "id": "b1",
                            "answers": [{"text": "wild  Yeast", "answer_start": 27}],
                            "is_impossible": False,
                        }
                    ],
                }
            ],
        },
    ],
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-squad.json"
    path.write_text(json.dumps(TINY), encoding="utf-8")
    return path


def test_each_paragraph_is_a_document_and_each_question_a_case(tiny):
    ds = squad_dataset(tiny, "Lighthouses", role="tune")
    assert ds.kind == "squad" and ds.role == "tune" and ds.name == "squad-lighthouses"
    assert list(ds.texts) == ["lighthouses/p01", "lighthouses/p02"]
    assert ds.texts["lighthouses/p02"].startswith("Fresnel lenses")
    assert ds.titles["lighthouses/p01"] == "Lighthouses"
    assert [c.id for c in ds.cases] == ["lighthouses/p01/q1", "lighthouses/p01/q2", "lighthouses/p02/q1"]
    built, impossible, year = ds.cases
    assert built.kind == HAS_ANSWER and not built.refuse and built.expect.any_of == ("John Smeaton",)
    assert built.sources[0].docs == ("lighthouses/p01",)
    assert impossible.kind == NO_ANSWER and impossible.refuse and impossible.expect.any_of == ()
    assert year.expect.any_of == ("1822",)


def test_specs_pick_an_article_or_the_whole_file(tiny):
    one = load_dataset(f"squad:{tiny}#Bread_baking")
    assert one.name == "squad-bread_baking" and list(one.texts) == ["bread_baking/p01"]
    whole = load_dataset(f"squad:{tiny}")
    assert len(whole.cases) == 4 and len(whole.texts) == 3
    assert len(load_dataset(tiny).cases) == 4  # a plain .json path is recognised as SQuAD


def test_bad_squad_files_and_articles_say_why(tiny, tmp_path):
    with pytest.raises(DatasetError, match="no article titled 'Nope'; it has: Lighthouses, Bread_baking"):
        load_dataset(f"squad:{tiny}#Nope")
    with pytest.raises(DatasetError, match="no SQuAD file"):
        load_dataset(f"squad:{tmp_path / 'missing.json'}")
    broken = json.loads(json.dumps(TINY))
    broken["data"][1]["paragraphs"][0]["qas"][0]["answers"] = []
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(DatasetError, match="bread_baking/p01 question 1: an answerable question needs answers"):
        load_dataset(f"squad:{tmp_path / 'broken.json'}")
    (tmp_path / "other.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(DatasetError, match="not a SQuAD file"):
        load_dataset(f"squad:{tmp_path / 'other.json'}")


def test_named_sets_come_from_the_shared_folder_or_citewise_shared(tiny, tmp_path, monkeypatch):
    fake = tmp_path / "elsewhere"
    (fake / "datasets" / "squad2_dev").mkdir(parents=True)
    data = json.loads(json.dumps(TINY))
    data["data"][0]["title"] = "Normans"
    (fake / "datasets" / "squad2_dev" / "dev-v2.0-subset.json").write_text(json.dumps(data))
    monkeypatch.setenv("CITEWISE_SHARED", str(fake))
    assert shared_dir() == fake
    ds = load_dataset("squad-normans")
    assert ds.name == "squad-normans" and ds.role == "tune" and len(ds.cases) == 3
    monkeypatch.setenv("CITEWISE_SHARED", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="CITEWISE_SHARED=.* has no datasets/ folder"):
        load_dataset("squad-complexity")


@pytest.mark.skipif(not (SHARED / "datasets").is_dir(), reason="the shared datasets folder is not beside the repo")
def test_the_shared_tune_and_test_sets():
    tune, test = load_dataset("squad-normans"), load_dataset("squad-complexity")
    assert (tune.role, len(tune.cases), sum(c.refuse for c in tune.cases), len(tune.texts)) == ("tune", 208, 112, 39)
    assert (test.role, len(test.cases), sum(c.refuse for c in test.cases), len(test.texts)) == ("test", 418, 221, 48)
    assert not set(tune.texts) & set(test.texts)
    halves = load_dataset("blockchain-tune"), load_dataset("blockchain-test")
    whole = load_dataset("blockchain")
    assert [h.role for h in halves] == ["tune", "test"]
    assert [h.name for h in halves] == ["blockchain-tune", "blockchain-test"] and whole.name == "blockchain"
    assert [c.id for c in halves[0].cases][:2] == ["q001", "q003"] and halves[1].cases[0].id == "q002"
    assert sorted(c.id for h in halves for c in h.cases) == [c.id for c in whole.cases]
    assert {h.index_name for h in halves} == {whole.index_name}  # one index for both halves


def _answer(text: str, quotes: list[str], refused: bool = False) -> Answer:
    citations = [
        Citation(n, "lighthouses/p01", "Lighthouses", "p01.md", None, q, 0, len(q), 0.5)
        for n, q in enumerate(quotes, start=1)
    ]
    return Answer(text=text, citations=citations, refused=refused)


def test_scoring_an_answerable_case_needs_a_cited_quote_holding_an_answer(tiny):
    built, impossible, _ = squad_dataset(tiny).cases[:3]
    quote = "John  smeaton built the third Eddystone Lighthouse in 1759."
    right = score_squad_case(CaseResult(built, _answer(f"{quote} [1]", [quote]), [], 1.0))
    assert right.citation_ok and right.answer_ok and right.passed
    wrong_quote = "The Eddystone Lighthouse stands on rocks south of Plymouth."
    wrong = score_squad_case(CaseResult(built, _answer(f"{wrong_quote} [1]", [wrong_quote]), [], 1.0))
    assert wrong.citation_ok is False and "John Smeaton" in wrong.why[0]
    refused = score_squad_case(CaseResult(built, _answer("The documents don't say.", [], refused=True), [], 1.0))
    assert refused.citation_ok is False and not refused.passed
    kept_out = score_squad_case(CaseResult(impossible, _answer("No.", [], refused=True), [], 1.0))
    answered = score_squad_case(CaseResult(impossible, _answer(f"{quote} [1]", [quote]), [], 1.0))
    m = summarize([right, wrong, refused, kept_out, answered], 4)
    assert m["has_ans_accuracy"] == pytest.approx(1 / 3)
    assert m["no_ans_accuracy"] == pytest.approx(1 / 2)
    assert m["overall_accuracy"] == pytest.approx(2 / 5)


def test_a_real_run_indexes_each_paragraph_once(make_assistant, tiny):
    assistant = make_assistant()
    report = run_eval(assistant, f"squad:{tiny}#Lighthouses")
    assert report.kind == "squad" and assistant.documents() == []
    assert report.config["documents"] == ["lighthouses/p01", "lighthouses/p02"]
    assert {"overall_accuracy", "has_ans_accuracy", "no_ans_accuracy", "hit_rate", "mrr"} <= set(report.metrics)
    by_id = {r.case.id: r for r in report.results}
    assert by_id["lighthouses/p01/q1"].rank == 1  # retrieval found Smeaton's paragraph first
    assert by_id["lighthouses/p02/q1"].rank == 1
    answerable = [r for r in report.results if not r.case.refuse]
    assert all(isinstance(r.citation_ok, bool) for r in answerable)
    assert report.metrics["has_ans_accuracy"] == pytest.approx(sum(r.citation_ok for r in answerable) / 2)
    assert report.metrics["no_ans_accuracy"] == float(by_id["lighthouses/p01/q2"].answer.refused)
    again = run_eval(assistant, f"squad:{tiny}#Lighthouses")  # the eval index is reused, not doubled
    assert again.config["documents"] == report.config["documents"]
    assert [r.passed for r in again.results] == [r.passed for r in report.results]


def test_tune_and_test_columns_side_by_side_with_their_role():
    from citewise.eval.report import format_table, render_html, report_json
    from citewise.eval.runner import EvalReport

    def report(name: str, kind: str, role: str, metrics: dict[str, float]) -> EvalReport:
        return EvalReport(dataset=name, mode="extractive", kind=kind, metrics=metrics, results=[], role=role)

    seed = report("seed", "facts", "gate", {"cases": 64.0, "answer_accuracy": 0.944})
    tune = report("squad-normans", "squad", "tune", {"cases": 208.0, "overall_accuracy": 0.428, "answer_accuracy": 0.8})
    test = report("squad-complexity", "squad", "test", {"cases": 418.0, "overall_accuracy": 0.402})
    lines = format_table([seed, tune, test]).splitlines()
    assert lines[0].split() == ["metric", "seed/extractive", "squad-normans/extractive", "squad-complexity/extractive"]
    assert lines[1].split() == ["role", "gate", "tune", "test"]
    names = [line.split()[0] for line in lines[3:]]
    assert names[:3] == ["cases", "overall_accuracy", "answer_accuracy"]  # one metric order for every column
    assert lines[4].split() == ["overall_accuracy", "0.428", "0.402"]
    data = report_json([tune, test])["results"]
    assert data["squad-normans"]["extractive"]["role"] == "tune"
    assert data["squad-complexity"]["extractive"]["role"] == "test"
    page = render_html([tune, test])
    assert "<tr><td>role</td><td>tune</td><td>test</td></tr>" in page and "squad-complexity · extractive · test" in page
