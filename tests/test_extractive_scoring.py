"""The classic extractive scorer's answer-type rules, on sentences outside the seed suite."""

from __future__ import annotations

import pytest

from citewise.rag.classic import answer_type_bonus


@pytest.mark.parametrize(
    ("question", "sentence", "better_than"),
    [
        # a count of the thing asked about beats a count of something else
        (
            "How many lighthouses does the island have?",
            "The island has 14 lighthouses along its coast.",
            "The island's 3 ferries carry 900 passengers a day.",
        ),
        ("How many employees does Acme have?", "Acme employs 250 employees.", "Acme has 40 shops in Oslo."),
        # a date for "when", not a sentence without one
        ("When did the bridge open?", "The bridge opened on May 3, 1999.", "The bridge is painted red."),
    ],
)
def test_the_kind_of_answer_asked_for_scores_higher(question, sentence, better_than):
    assert answer_type_bonus(question, sentence) > answer_type_bonus(question, better_than)


def test_a_count_of_something_else_is_marked_down():
    assert answer_type_bonus("How many employees does CODA have?", "The letter had almost 20 co-signing companies.") < 0
    assert answer_type_bonus("How many companies co-signed?", "The letter had almost 20 co-signing companies.") > 0
