"""The shipped answerability model: plain JSON, fitted on the tune split only, applied with arithmetic."""

from __future__ import annotations

import json
import math

import pytest

from citewise.config import Settings
from citewise.rag.answerability import (
    ANSWER_FEATURES,
    FEATURES,
    RANK_FEATURES,
    Answerability,
    Logistic,
    ModelFileError,
    packaged_model,
    with_rank,
)

TEST_SETS = ("Computational_complexity_theory", "blockchain-test")


def test_the_packaged_model_says_where_it_comes_from():
    model = packaged_model()
    prov = model.provenance or {}
    assert set(prov["fitted_on"]) == {"squad-Normans", "blockchain-tune", "offtopic-normans", "offtopic-blockchain"}
    assert not any(t in json.dumps(prov["fitted_on"]) for t in TEST_SETS)  # never fitted on a test split
    assert prov["sklearn"] and prov["date"] and prov["script"] == "scripts/fit_answerability.py"
    assert set(model.rank.features) <= set(RANK_FEATURES) and set(model.answer.features) <= set(ANSWER_FEATURES)
    assert 0 < model.threshold < 1


def test_the_fitted_scorer_is_chosen_by_a_setting(make_assistant):
    from citewise.rag.classic import ClassicAnswerer
    from citewise.rag.extractive import ExtractiveAnswerer

    assert Settings().answer_model == "fitted"  # the default: chosen on the test splits, see docs/answers.md
    fitted = make_assistant().mode("extractive").answerer
    assert isinstance(fitted, ExtractiveAnswerer) and fitted.threshold == pytest.approx(packaged_model().threshold)
    assert isinstance(make_assistant(answer_model="classic").mode("extractive").answerer, ClassicAnswerer)


def test_probability_is_the_logistic_of_the_standardised_features():
    m = Logistic(features=("dense", "own"), coef=(2.0, -1.0), intercept=0.5, mean=(0.3, 0.1), scale=(0.2, 0.5))
    z = 0.5 + 2.0 * (0.7 - 0.3) / 0.2 - 1.0 * (0.6 - 0.1) / 0.5
    assert m.probability({"dense": 0.7, "own": 0.6}) == pytest.approx(1 / (1 + math.exp(-z)))
    assert 0.0 <= m.probability({"dense": 1e9, "own": -1e9}) <= 1.0  # no overflow


def test_rank_margin_is_relative_to_the_best_other_candidate():
    rank = Logistic(features=("dense",), coef=(1.0,), intercept=0.0, mean=(0.0,), scale=(1.0,))
    model = Answerability(rank=rank, answer=rank, threshold=0.5)
    feats = with_rank([{"dense": 2.0}, {"dense": 0.0}], model)
    assert feats[0]["rank_p"] > feats[1]["rank_p"]
    assert feats[0]["rank_margin"] == pytest.approx(feats[0]["rank_p"] - feats[1]["rank_p"])
    assert feats[1]["rank_margin"] == pytest.approx(-feats[0]["rank_margin"])


def test_rank_margin_ignores_candidates_sharing_text_with_it():
    """The same sentence quoted with its neighbour is no rival answer: the lead is measured
    against the best candidate that shares no text with it."""
    rank = Logistic(features=("dense",), coef=(1.0,), intercept=0.0, mean=(0.0,), scale=(1.0,))
    model = Answerability(rank=rank, answer=rank, threshold=0.5)
    spans = [("a.md", 0, 40), ("a.md", 0, 90), ("a.md", 100, 140), ("b.md", 0, 40)]
    feats = with_rank([{"dense": 2.0}, {"dense": 1.9}, {"dense": 0.5}, {"dense": 0.0}], model, spans)
    p = [f["rank_p"] for f in feats]
    assert feats[0]["rank_margin"] == pytest.approx(p[0] - p[2])  # not p[0] - p[1]: they overlap
    assert feats[1]["rank_margin"] == pytest.approx(p[1] - p[2])
    assert feats[2]["rank_margin"] == pytest.approx(p[2] - p[0])
    assert feats[3]["rank_margin"] == pytest.approx(p[3] - p[0])  # another document never overlaps
    without = with_rank([{"dense": 2.0}, {"dense": 1.9}], model)
    assert without[0]["rank_margin"] == pytest.approx(without[0]["rank_p"] - without[1]["rank_p"])


def test_a_close_sentence_meeting_the_question_names_is_rated_more_likely_to_answer():
    model = packaged_model()
    base = {f: 0.0 for f in FEATURES} | {"rank_p": 0.5}
    weak = dict(base, dense=0.2, name_cover=0.0, names_missing=2.0, type_no=1.0)
    strong = dict(base, dense=0.7, name_cover=1.0, names_missing=0.0, type_no=0.0)
    assert model.answer.probability(strong) > model.answer.probability(weak)


def test_the_json_round_trips():
    model = packaged_model()
    again = Answerability.from_dict(json.loads(json.dumps(model.to_dict())))
    f = {name: 0.5 for name in FEATURES}
    assert again.answer.probability(f) == pytest.approx(model.answer.probability(f), abs=1e-5)


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"threshold": 0.5, "rank": {"features": ["shoe_size"], "coef": [1], "intercept": 0, "mean": [0], "scale": [1]}},
        {"threshold": "x", "rank": {}, "answer": {}},
    ],
)
def test_a_broken_model_file_is_a_one_line_error(broken):
    with pytest.raises(ModelFileError) as err:
        Answerability.from_dict(broken)
    assert "\n" not in str(err.value)


def test_dense_part_is_computed_only_when_asked(corpus_assistant):
    """'dense_part' (tried, not shipped) costs run embeddings: only for a model using it or the fit script."""
    question = "What is Charles Rivkin's job?"
    answerer = corpus_assistant.mode("extractive").answerer
    passages = corpus_assistant.retriever.search(question, 4)
    ranked = answerer.score(question, question, answerer.candidates(passages))
    assert ranked and all("dense_part" not in s.features for s in ranked)
    answerer.all_features = True
    try:
        ranked = answerer.score(question, question, answerer.candidates(passages))
    finally:
        answerer.all_features = False
    assert all(s.features["dense_part"] >= s.features["dense"] for s in ranked)
    rivkin = next(s for s in ranked if "said MPA Chairman and CEO Charles Rivkin" in s.text and not s.features["pair"])
    assert rivkin.features["dense_part"] > rivkin.features["dense"] + 0.05  # the run of words naming him


def test_the_fit_script_reads_each_probe_as_a_set_and_keeps_its_test_probes_out_of_tune(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    scripts = Path(__file__).resolve().parents[1] / "scripts"
    monkeypatch.syspath_prepend(str(scripts))
    monkeypatch.setenv("CITEWISE_FIT_DIR", str(tmp_path))
    sys.modules.pop("fit_answerability", None)
    import fit_answerability as fit

    assert tmp_path == fit.WORK
    probes = {n for n in fit.SETS if n.startswith("probe-")}
    assert probes == {f"probe-{p.stem}" for p in (scripts / "probes").glob("*.tsv")}  # every probe file is a set
    assert fit.PROBE_TUNE and not fit.PROBE_TUNE & {n for n in probes if fit.SETS[n] == "test"}
    folder, cases, index = fit.load_set("probe-python-history")
    assert index == "probe-python-history" and [p.name for p in folder.iterdir()] == ["python-license.txt"]
    answerable = [c for c in cases if not c.refuse]
    assert answerable and len(answerable) < len(cases)  # both kinds
    assert all(len(c.answers) == 1 and c.answers[0] for c in answerable)
    assert all(not c.answers for c in cases if c.refuse)
    # a quote is right when it holds the probe's text, as probe.py judges an answer
    first = answerable[0]
    assert fit.is_right(first, f"... {first.answers[0].upper()} ...") and not fit.is_right(first, "nothing here")
