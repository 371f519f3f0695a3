"""The answerability model: how likely a quoted sentence answers the question, 0-1.

A logistic regression over a few features of a candidate sentence (see ``FEATURES``),
fitted by ``scripts/fit_answerability.py`` on the tune split only (SQuAD 2.0 ``Normans``
and the even blockchain questions). Its coefficients, the refusal threshold chosen on the
same split, and where they came from ship as ``answerability.json`` beside this module:
plain numbers read with `json`, applied with a dot product. Never a pickle.
"""

from __future__ import annotations

import importlib.resources
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from citewise.errors import CitewiseError

# What the ranking model sees of each candidate (the fitting script writes them in this order).
RANK_FEATURES = (
    "dense",  # cosine similarity of question and sentence (embedding model)
    "lexical",  # shared content words, length-normalised
    "own",  # share of the question's own content words in the sentence
    "type_yes",  # the question wants an entity type (DATE for "when"...) and the sentence holds a new one
    "type_no",  # it wants one and the sentence (with its neighbour, for a pair) holds none
    "name_cover",  # share of the question's names and numbers met by the sentence or its neighbours
    "names_missing",  # how many of them are met nowhere near (capped at 3)
    "contradiction",  # the sentence names another year or quarter than the question
    "passage_first",  # the sentence lies in the best retrieved passage
    "passage_dense",  # that passage's cosine similarity to the question
    "margin",  # the sentence's similarity score minus the best other sentence's
    "pair",  # the candidate is a sentence with its neighbour
)
# What the answerability model sees of the best candidate, and of the question.
ANSWER_FEATURES = (
    "rank_p",  # the ranking model's probability for the candidate
    "rank_margin",  # ... minus the best other candidate's
    "dense",
    "name_cover",
    "names_missing",
    "contradiction",
    "type_no",
    "negation",  # the question is negated ("not", "never") and the candidate's context is not
)
# Computed and kept for analysis, but left out of the models: on SQuAD 2.0 their sign is an
# artefact of how the unanswerable questions were written (reusing the paragraph's words).
EXTRA_FEATURES = (
    "passage_first",
    "passage_dense",
    "margin",
    "unseen",  # share of the question's content words found in no retrieved sentence
    "missing",  # the question's content words absent from the candidate and its neighbours (capped at 4)
    "idf_own",  # share of the question's words in the sentence, each weighted by how few candidates hold it
    "idf_context",  # the same for the sentence with its neighbours and its document's title
    "near",  # that weighted share within a few words of an entity of the wanted type (computed only
    # when a model uses it or ExtractiveAnswerer.all_features is set)
    "dense_part",  # the best similarity of the question to the sentence or a run of 12 of its words
    # (features.windows; computed only when a model uses it or all_features is set)
)
FEATURES = tuple(dict.fromkeys(RANK_FEATURES + ANSWER_FEATURES + EXTRA_FEATURES))
PACKAGED = "answerability.json"


class ModelFileError(CitewiseError, ValueError):
    """The answerability model file cannot be read; reinstall citewise or refit the model."""

    status = 500
    code = "answerability_model"


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic regression: ``p = 1 / (1 + exp(-(b + sum(w_i * (x_i - mean_i) / scale_i))))``."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def probability(self, values: Mapping[str, float]) -> float:
        """The model's probability for a candidate with these feature values."""
        z = self.intercept
        for name, w, m, s in zip(self.features, self.coef, self.mean, self.scale, strict=True):
            z += w * (values.get(name, 0.0) - m) / s
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "features": list(self.features),
            "coef": [round(c, 6) for c in self.coef],
            "intercept": round(self.intercept, 6),
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Logistic:
        """Read the JSON form (raises KeyError, TypeError or ValueError when malformed)."""
        model = cls(
            features=tuple(str(f) for f in data["features"]),
            coef=tuple(float(c) for c in data["coef"]),
            intercept=float(data["intercept"]),
            mean=tuple(float(m) for m in data["mean"]),
            scale=tuple(float(s) or 1.0 for s in data["scale"]),
        )
        if set(model.features) - set(FEATURES):
            raise ValueError(f"unknown features {sorted(set(model.features) - set(FEATURES))}")
        if not len(model.features) == len(model.coef) == len(model.mean) == len(model.scale):
            raise ValueError("features, coef, mean and scale differ in length")
        return model


@dataclass(frozen=True)
class Answerability:
    """The two fitted models and the refusal threshold chosen with them.

    ``rank`` orders the candidates of a question (how likely each holds the answer, given
    the documents answer it); ``answer`` rates the best of them (how likely the question
    is answered, and answered by it). An answer is given when that reaches ``threshold``;
    runners-up are quoted when their rank is within ``keep_within`` of the best.
    """

    rank: Logistic
    answer: Logistic
    threshold: float
    keep_within: float = 0.15
    provenance: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written by the fitting script."""
        return {
            "threshold": round(self.threshold, 4),
            "keep_within": round(self.keep_within, 4),
            "rank": self.rank.to_dict(),
            "answer": self.answer.to_dict(),
            "provenance": dict(self.provenance or {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answerability:
        """Read the JSON form; raises `ModelFileError` when a field is missing or wrong."""
        try:
            return cls(
                rank=Logistic.from_dict(data["rank"]),
                answer=Logistic.from_dict(data["answer"]),
                threshold=float(data["threshold"]),
                keep_within=float(data.get("keep_within", 0.15)),
                provenance=data.get("provenance") or {},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"answerability model: bad or missing field ({exc})") from None


def with_rank(
    features: list[dict[str, float]], model: Answerability, spans: Sequence[tuple[str, int, int]] | None = None
) -> list[dict[str, float]]:
    """Add ``rank_p`` and ``rank_margin`` to each candidate's features (in place; also returned).

    ``rank_margin`` is the lead over the best *other answer*: given ``spans`` (document, start,
    end of each candidate), a candidate sharing text with this one (the same sentence quoted with
    its neighbour) is not a rival.
    """
    ranks = [model.rank.probability(f) for f in features]
    order = sorted(range(len(ranks)), key=lambda i: ranks[i], reverse=True)

    def apart(i: int, j: int) -> bool:
        if spans is None:
            return True
        (d1, a1, b1), (d2, a2, b2) = spans[i], spans[j]
        return d1 != d2 or b1 <= a2 or b2 <= a1

    for i, f in enumerate(features):
        other = next((ranks[j] for j in order if j != i and apart(i, j)), 0.0)
        f["rank_p"], f["rank_margin"] = ranks[i], ranks[i] - other
    return features


_packaged: Answerability | None = None


def packaged_model() -> Answerability:
    """The model shipped with citewise (read once per process)."""
    global _packaged
    if _packaged is None:
        try:
            text = importlib.resources.files(__package__ or "citewise.rag").joinpath(PACKAGED).read_text("utf-8")
            _packaged = Answerability.from_dict(json.loads(text))
        except (OSError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"cannot read the answerability model {PACKAGED}: {exc}") from None
    return _packaged
