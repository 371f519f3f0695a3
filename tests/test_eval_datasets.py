"""Dataset loading: the seed suite's schema and honesty, bad suites, LabelledRagDataset files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import CORPUS, SHARED

from citewise.eval.datasets import DatasetError, load_dataset, matches, normalize, parse_fact_suite
from citewise.index.loaders import load_document

BLOCKCHAIN = SHARED / "datasets" / "llama_blockchain_solana"


@pytest.fixture(scope="module")
def seed():
    return load_dataset("seed")


@pytest.fixture(scope="module")
def corpus_texts():
    return {p.name: load_document(p).text for p in CORPUS.glob("*.md")}


def test_seed_suite_has_the_promised_shape(seed):
    kinds = [c.kind for c in seed.cases]
    assert len(seed.cases) >= 40
    assert sum(c.refuse for c in seed.cases) >= 8
    assert kinds.count("follow-up") >= 3 and all(c.history for c in seed.cases if c.kind == "follow-up")
    assert kinds.count("both") >= 2 and kinds.count("paraphrase") >= 8
    assert len({c.id for c in seed.cases}) == len(seed.cases)
    assert seed.documents == []  # the configured corpus


def test_seed_sources_and_passages_exist_in_the_corpus(seed, corpus_texts):
    for case in seed.cases:
        for spec in case.sources:
            assert set(spec.docs) <= set(corpus_texts), case.id
            if spec.passage:
                assert any(matches(spec.passage, corpus_texts[d]) for d in spec.docs), (case.id, spec.passage)


def test_seed_expectations_are_stated_by_the_articles(seed, corpus_texts):
    """No expectation the articles do not support: each expected fact occurs in a source document."""
    for case in seed.cases:
        docs = " ".join(corpus_texts[d] for s in case.sources for d in s.docs)
        for pattern in case.expect.all_of:
            assert matches(pattern, docs), (case.id, pattern)
        if case.expect.any_of:
            assert any(matches(p, docs) for p in case.expect.any_of), case.id


def test_the_coda_name_question_needs_both_spellings(seed):
    case = next(c for c in seed.cases if c.id == "coda-full-name-both-spellings")
    assert {d for s in case.sources for d in s.docs} == {"techtimes-coda-sora2.md", "coda-written-request-openai.md"}
    assert "Content Overseas Distribution Association" in case.expect.all_of
    assert "Overseas Content Distribution Association" in case.expect.all_of


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ({"question": "q?", "expect": {"all_of": ["x"]}, "sources": [{"doc": "a"}], "colour": 1}, "unknown keys"),
        ({"question": "q?", "sources": [{"doc": "a"}]}, "needs expect and sources"),
        ({"question": "q?", "refuse": True, "expect": {"all_of": ["x"]}}, "cannot have expect"),
        ({"question": "", "refuse": True}, "question must be"),
        ({"question": "q?", "expect": {"all_of": ["re:("]}, "sources": [{"doc": "a"}]}, "bad pattern"),
        ({"question": "q?", "expect": {"none_of": ["x"]}, "sources": [{"doc": "a"}]}, "all_of and/or any_of"),
        ({"question": "q?", "expect": {"all_of": ["x"]}, "sources": [{"passage": "p"}]}, "doc"),
        ({"question": "q?", "refuse": True, "history": [{"role": "bot", "content": "x"}]}, "history"),
    ],
)
def test_bad_cases_are_rejected_with_a_clear_reason(case, message):
    with pytest.raises(DatasetError, match=message) as err:
        parse_fact_suite({"cases": [case]}, "suite.yaml")
    assert "\n" not in str(err.value)


def test_duplicate_ids_and_empty_suites_are_rejected():
    case = {"id": "a", "question": "q?", "refuse": True}
    with pytest.raises(DatasetError, match="twice"):
        parse_fact_suite({"cases": [case, case]}, "suite.yaml")
    with pytest.raises(DatasetError, match="non-empty `cases`"):
        parse_fact_suite({"cases": []}, "suite.yaml")


def test_a_yaml_suite_file_with_its_own_documents(tmp_path):
    (tmp_path / "docs").mkdir()
    suite = {"name": "mine", "documents": ["docs"], "cases": [{"question": "Anything?", "refuse": True}]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    ds = load_dataset(path)
    assert ds.name == "mine" and ds.documents == [tmp_path / "docs"] and ds.cases[0].refuse


def test_missing_or_unknown_dataset_paths(tmp_path):
    with pytest.raises(DatasetError, match="no dataset at"):
        load_dataset(tmp_path / "nope.yaml")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DatasetError, match="neither"):
        load_dataset(tmp_path / "x.txt")
    (tmp_path / "broken.yaml").write_text("cases: [\n")
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(tmp_path / "broken.yaml")


def test_the_blockchain_labelled_rag_dataset_loads_with_its_card():
    ds = load_dataset(BLOCKCHAIN)
    assert ds.kind == "reference" and ds.name == "llama_blockchain_solana"
    assert len(ds.cases) == 58
    assert all(c.reference_answer and c.reference_contexts for c in ds.cases)
    assert ds.documents == [BLOCKCHAIN / "source_files"]
    assert ds.baseline is not None and ds.baseline["metrics"]["correctness"] == pytest.approx(4.457)
    assert ds.baseline["config"]["embedModel"] == "text-embedding-ada-002"
    assert load_dataset(BLOCKCHAIN / "rag_dataset.json").cases[0].question == ds.cases[0].question


def test_a_labelled_rag_file_without_sources_or_examples_is_rejected(tmp_path):
    (tmp_path / "rag_dataset.json").write_text(json.dumps({"examples": [{"query": "q", "reference_contexts": []}]}))
    with pytest.raises(DatasetError, match="source_files"):
        load_dataset(tmp_path)
    (tmp_path / "rag_dataset.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(DatasetError, match="no `examples`"):
        load_dataset(tmp_path)


def test_matching_ignores_case_quotes_and_white_space():
    assert matches("more granular control", "give rights holders “More  granular\ncontrol”")
    assert matches("re:sora update #\\d", "Sora Update #1")
    assert not matches("Sora 3", "Sora 2")
    assert normalize("It’s  “here”") == 'it\'s "here"'


def test_seed_yaml_is_package_data():
    assert (Path(__file__).parent.parent / "citewise" / "eval" / "datasets" / "seed_facts.yaml").is_file()


def test_a_limited_run_spreads_over_the_suite(seed):
    from citewise.eval.runner import spread

    picked = spread(seed.cases, 16)
    assert len(picked) == 16 and len({c.id for c in picked}) == 16
    assert any(c.refuse for c in picked) and any(c.history for c in picked)
    assert spread(seed.cases, None) == seed.cases and spread(seed.cases, 1000) == seed.cases
