"""Answer quality on the sample corpus: facts, quotes, refusals, follow-ups (real model, real Chroma)."""

from __future__ import annotations

import pytest

from citewise import Answer, QuestionError


def _doc_text(assistant, doc_id: str) -> str:
    text = assistant.document_text(doc_id)
    assert text is not None
    return text


def assert_verbatim(assistant, answer: Answer) -> None:
    for c in answer.citations:
        assert _doc_text(assistant, c.doc_id)[c.start : c.end] == c.quote
        assert f"[{c.n}]" in answer.text


def test_sora_launch_date_is_cited(corpus_assistant):
    answer = corpus_assistant.ask("When did OpenAI launch Sora 2?")
    assert not answer.refused
    assert "September 30, 2025" in answer.text
    top = answer.citations[0]
    assert "September 30, 2025" in top.quote
    assert top.doc_id == "coda-written-request-openai.md"
    assert_verbatim(corpus_assistant, answer)


def test_coda_founding_year_is_cited(corpus_assistant):
    answer = corpus_assistant.ask("When was CODA founded?")
    assert not answer.refused
    assert "2002" in answer.citations[0].quote
    assert_verbatim(corpus_assistant, answer)


@pytest.mark.parametrize(
    "question",
    ["Who won the 2022 FIFA World Cup?", "What is the boiling point of water on Mars?", "Recommend a pasta recipe."],
)
def test_questions_outside_the_documents_are_refused(corpus_assistant, question):
    answer = corpus_assistant.ask(question)
    assert answer.refused
    assert answer.citations == []
    assert "don't cover" in answer.text


def test_follow_up_uses_the_history(corpus_assistant):
    history = [
        {"role": "user", "content": "What is CODA?"},
        {"role": "assistant", "content": "CODA is a Japanese anti-piracy organization."},
    ]
    answer = corpus_assistant.ask("And when was it founded?", history)
    assert not answer.refused
    assert any("2002" in c.quote for c in answer.citations)
    assert "CODA" in answer.query  # the retrieval query carried the subject over


def test_follow_up_without_history_does_not_borrow(corpus_assistant):
    answer = corpus_assistant.ask("And when was it founded?")
    assert answer.query == "And when was it founded?"


def test_stream_yields_text_then_the_answer(corpus_assistant):
    items = list(corpus_assistant.stream("When did OpenAI launch Sora 2?"))
    final = items[-1]
    assert isinstance(final, Answer)
    assert all(isinstance(i, str) for i in items[:-1])
    assert "".join(items[:-1]) == final.text
    assert set(final.timings) >= {"retrieve", "answer", "total"}


def test_json_form_has_the_documented_keys(corpus_assistant):
    data = corpus_assistant.ask("Who is Minoru Kiuchi?").to_dict()
    assert set(data) >= {"answer", "refused", "mode", "citations", "timings_ms"}
    for c in data["citations"]:
        assert set(c) == {"n", "doc_id", "title", "source", "page", "quote", "start", "end", "score"}


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", "x" * 100_000])
def test_bad_questions_get_a_one_line_error(corpus_assistant, bad):
    with pytest.raises(QuestionError) as err:
        corpus_assistant.ask(bad)
    assert "\n" not in str(err.value)


def test_control_characters_are_cleaned(corpus_assistant):
    answer = corpus_assistant.ask("When did OpenAI\x07 launch\x1b Sora 2?")
    assert "September 30, 2025" in answer.text


def test_japanese_question_gets_a_well_formed_answer(corpus_assistant):
    answer = corpus_assistant.ask("Sora 2はいつ公開されましたか？")
    assert isinstance(answer.refused, bool)
    assert_verbatim(corpus_assistant, answer)


def test_search_returns_passages_from_both_rankings(corpus_assistant):
    passages = corpus_assistant.search("Content Overseas Distribution Association", top_k=4)
    assert passages
    assert any(p.keyword_rank is not None for p in passages)
    assert any(p.dense_rank is not None for p in passages)


# ---- rules on documents written for these tests (outside every evaluation suite) -----------
HARBOUR = """# The Harbour Ferry Union

Written by Ada Okafor

The Harbour Ferry Union was founded in 1987 by twelve ferry captains in Porto Velho.
It represents 340 ferry workers on the northern coast.

Last week, the union responded to the new fare rules by calling for a strike vote.
"We will not let the fares double," said union chair Ida Berg.

In 2019 the union signed a wage agreement with the port authority. The 2021 agreement raised wages by 4 percent.
"""
GARDEN = """# Lumen Botanical Garden

Photo: the glasshouse at dawn

The Lumen Botanical Garden opened in 1954 on the site of a former granite quarry.
Its glasshouse holds 900 species of tropical plants from three continents.
The garden runs a seed bank that stores the seeds of 2,000 regional plant species.
Volunteers guide free tours of the glasshouse every Sunday morning.
The garden is funded by the city council and by the fees of its 5,000 members.
"""


@pytest.fixture(scope="module")
def own_assistant(tmp_path_factory):
    from citewise import Assistant, Settings

    folder = tmp_path_factory.mktemp("own-docs")
    (folder / "harbour.md").write_text(HARBOUR, encoding="utf-8")
    (folder / "garden.md").write_text(GARDEN, encoding="utf-8")
    a = Assistant.from_settings(Settings(), data_dir=tmp_path_factory.mktemp("own-index"), answer_model="fitted")
    assert a.ingest([folder]).ok
    return a


def test_who_questions_quote_the_sentence_naming_the_person(own_assistant):
    answer = own_assistant.ask("Who is the chair of the Harbour Ferry Union?")
    assert not answer.refused
    assert "Ida Berg" in answer.text
    assert 0.0 <= answer.confidence <= 1.0
    assert_verbatim(own_assistant, answer)


@pytest.mark.parametrize(
    "question", ["Who wrote about the Harbour Ferry Union?", "What is in the photo of the glasshouse?"]
)
def test_bylines_captions_and_headings_are_never_quoted(own_assistant, question):
    answer = own_assistant.ask(question)
    for c in answer.citations + answer.closest:
        assert not c.quote.startswith(("Written by", "Photo:", "#")), c.quote


def test_a_sentence_about_another_year_is_not_the_answer(own_assistant):
    answer = own_assistant.ask("By how much did the 2023 agreement raise wages?")
    assert answer.refused or all("2021" not in c.quote for c in answer.citations)


def test_summarize_quotes_several_sentences_of_the_document(own_assistant):
    answer = own_assistant.ask("Summarize the document about the Lumen Botanical Garden")
    assert not answer.refused
    assert len(answer.citations) >= 3
    assert {c.doc_id for c in answer.citations} == {"garden.md"}
    assert len({c.quote for c in answer.citations}) == len(answer.citations)
    assert [c.start for c in answer.citations] == sorted(c.start for c in answer.citations)  # document order
    assert_verbatim(own_assistant, answer)


def test_compare_cites_each_side(own_assistant):
    answer = own_assistant.ask("Compare the Harbour Ferry Union and the Lumen Botanical Garden")
    assert not answer.refused
    assert {c.doc_id for c in answer.citations} == {"harbour.md", "garden.md"}
    assert_verbatim(own_assistant, answer)


def test_a_refusal_lists_the_closest_passages_apart_from_citations(corpus_assistant):
    answer = corpus_assistant.ask("Who won the 2022 FIFA World Cup?")
    assert answer.refused and answer.citations == []
    assert answer.closest and len(answer.closest) <= 3
    data = answer.to_dict()
    assert data["refused"] is True and data["citations"] == [] and len(data["closest"]) == len(answer.closest)
    for c in answer.closest:
        assert _doc_text(corpus_assistant, c.doc_id)[c.start : c.end] == c.quote
    assert "closest passages" in answer.text


def test_a_sentence_is_paired_with_the_neighbour_that_holds_the_answer_type(own_assistant):
    answerer = own_assistant.mode("extractive").answerer  # the fitted scorer
    question = "Who responded to the new fare rules by calling for a strike vote?"
    passages = own_assistant.search(question, top_k=4)
    ranked = _ranked(answerer, question, passages)
    pairs = [s for s in ranked if s.features["pair"]]
    assert any("strike vote" in s.text and "Ida Berg" in s.text for s in pairs)
    text = _doc_text(own_assistant, "harbour.md")
    for s in pairs:
        assert text[s.start : s.end] == s.text


def test_a_sentence_ending_with_a_colon_is_a_candidate_with_its_bullet_list(own_assistant):
    """The list items' bullets ("• ... • ...") are not navigation separators: the sentence and
    its items stay one candidate (it used to be dropped as navigation text, so never quoted)."""
    from citewise.index.store import ChunkRecord
    from citewise.rag.retrieve import Passage

    text = (
        "The tenants' council met the landlord on Monday.\n\n"
        "The council put forward three requests at the meeting:\n\n"
        "  • Repair the lifts in both towers before winter.\n"
        "  • Publish the service charges for each flat.\n"
        "  • Hold a meeting with the tenants every quarter.\n\n"
        "The landlord promised an answer within a month."
    )
    chunk = ChunkRecord("c0", "council.md", "h-council", text, 0, len(text), 0, None, "Council", "council.md")
    answerer = own_assistant.mode("extractive").answerer
    candidates = answerer.candidates([Passage(chunk=chunk, score=1.0)])
    listed = [c for c in candidates if c.text.startswith("The council put forward")]
    assert len(listed) == 1
    assert listed[0].text.endswith("every quarter.") and listed[0].text.count("•") == 3
    assert text[listed[0].start : listed[0].end] == listed[0].text
    # navigation text with the same separators is still no candidate
    nav = "Home • News • Sport • Weather • Contact the newsroom today"
    chunk = ChunkRecord("c1", "nav.md", "h-nav", nav, 0, len(nav), 0, None, "Nav", "nav.md")
    assert answerer.candidates([Passage(chunk=chunk, score=1.0)]) == []


def test_a_sentence_ending_with_a_colon_is_a_candidate_with_its_short_code_block(own_assistant):
    """ "Run this to check the meter:" is no answer without the command after it; a long block
    is left out (the sentence alone is quoted)."""
    from citewise.index.store import ChunkRecord
    from citewise.rag.retrieve import Passage

    long_block = "\n".join(f"meterctl read --channel {n} --format csv" for n in range(20))
    text = (
        "The meter tool ships with the gateway firmware.\n\n"
        "Run the following to check the meter from a terminal:\n\n"
        "```sh\nmeterctl status --verbose\nMETERCTL_LOG=1 meterctl status\n```\n\n"
        "Read every channel of the meter like this:\n\n"
        f"```sh\n{long_block}\n```\n\n"
        "The gateway keeps a week of readings."
    )
    chunk = ChunkRecord("c0", "meter.md", "h-meter", text, 0, len(text), 0, None, "Meter", "meter.md")
    answerer = own_assistant.mode("extractive").answerer
    candidates = {c.text.split(":")[0]: c for c in answerer.candidates([Passage(chunk=chunk, score=1.0)])}
    short = candidates["Run the following to check the meter from a terminal"]
    assert short.text.endswith("METERCTL_LOG=1 meterctl status\n```")  # every line of the block
    assert text[short.start : short.end] == short.text
    long_ = candidates["Read every channel of the meter like this"]
    assert long_.text == "Read every channel of the meter like this:"


def _passages(name, text):
    """``text`` as the one retrieved passage of a document called ``name``."""
    from citewise.index.store import ChunkRecord
    from citewise.rag.retrieve import Passage

    stem = name.split(".")[0]
    chunk = ChunkRecord("c0", name, f"h-{stem}", text, 0, len(text), 0, None, stem.title(), name)
    return [Passage(chunk=chunk, score=1.0)]


def _quotes(answerer, passages):
    """The text of every candidate of ``passages``."""
    return [c.text for c in answerer.candidates(passages)]


def _ranked(answerer, question, passages):
    """The candidates of ``passages``, scored against ``question``, best first."""
    return answerer.score(question, question, answerer.candidates(passages))


def test_a_sentence_that_leans_on_the_one_before_is_quoted_with_it(own_assistant):
    """ "This command empties the tank." says which command only through the sentence before it:
    the two are one candidate. Not across a paragraph break, after a heading or a colon."""
    text = (
        "Greenhouse Pumps\n\n"
        "They are checked every spring by the caretaker.\n\n"
        "To drain the cistern, open the lower valve by hand. This empties the tank in an hour.\n\n"
        "The upper valve feeds the sprinklers. The blue lever does this.\n\n"
        "It is locked over the winter months by the caretaker.\n\n"
        "The caretaker keeps the following keys:\n\n"
        "These open the pump house and the shed."
    )
    passages = _passages("pumps.md", text)
    answerer = own_assistant.mode("extractive").answerer
    quotes = _quotes(answerer, passages)
    assert "To drain the cistern, open the lower valve by hand. This empties the tank in an hour." in quotes
    assert "The upper valve feeds the sprinklers. The blue lever does this." in quotes
    assert "To drain the cistern, open the lower valve by hand." in quotes  # still a candidate of its own
    # after a heading, a paragraph break or a colon: the sentence alone
    assert "They are checked every spring by the caretaker." in quotes
    assert "It is locked over the winter months by the caretaker." in quotes
    assert "These open the pump house and the shed." in quotes
    for c in answerer.candidates(passages):
        assert text[c.start : c.end] == c.text


def test_a_quote_with_its_antecedent_is_found_by_the_question_it_answers(own_assistant):
    """The question names the command only through the sentence before; the answer holds both."""
    text = (
        "The harbour crane has three controls on its panel. To stop the crane at once, press the red "
        "button twice. This button cuts the power to the winch and the arm. The green lamp shows "
        "that the crane is ready."
    )
    passages = _passages("crane.md", text)
    answerer = own_assistant.mode("extractive").answerer
    question = "Which button cuts the power to the winch?"
    ranked = _ranked(answerer, question, passages)
    assert (
        ranked[0].text
        == "To stop the crane at once, press the red button twice. This button cuts the power to the winch and the arm."
    )


def test_a_sentence_ending_with_a_colon_is_quoted_with_its_indented_example(own_assistant):
    """Plain-text manuals put the command after a colon on an indented line ("To see the mode, type
    this command:" + "    :set showmode"); Vim's help files mark it with " >". A long block is
    left out, and so is a line that is not indented."""
    long_block = "\n".join(f"\tkilnctl log --zone {n} --since yesterday" for n in range(30))
    text = (
        "The kiln controller keeps its own log on the card.\n\n"
        "To see the temperature of every zone, type this command: >\n\n"
        "\tkilnctl zones --celsius\n\n"
        "The readings refresh once a minute.\n\n"
        "To read the whole log of the last firing, type:\n\n"
        f"{long_block}\n\n"
        "The controller answers each fault with an error code of its own:\n\n"
        "K17: door open during a firing.\n"
    )
    passages = _passages("kiln.txt", text)
    answerer = own_assistant.mode("extractive").answerer
    candidates = {c.text.split(":")[0]: c for c in answerer.candidates(passages)}
    zones = candidates["To see the temperature of every zone, type this command"]
    assert zones.text.endswith("kilnctl zones --celsius") and text[zones.start : zones.end] == zones.text
    assert (
        candidates["To read the whole log of the last firing, type"].text
        == "To read the whole log of the last firing, type:"
    )
    assert (
        candidates["The controller answers each fault with an error code of its own"].text
        == "The controller answers each fault with an error code of its own:"
    )


def test_a_why_question_quotes_the_reason_given_in_the_next_sentence(own_assistant):
    """The sentence naming the topic states no reason; the pair with its neighbour does."""
    text = (
        "The kiln has two doors and a chimney of brick. The potters always fire the kiln at night. "
        "The reason is that the town's electricity costs half as much after dark. The chimney was "
        "rebuilt in 1990."
    )
    passages = _passages("kiln.md", text)
    answerer = own_assistant.mode("extractive").answerer
    question = "Why do the potters fire the kiln at night?"
    ranked = _ranked(answerer, question, passages)
    assert ranked[0].text == (
        "The potters always fire the kiln at night. The reason is that the town's electricity costs half as much after dark."
    )


def test_a_question_the_text_asks_is_quoted_with_its_answer(own_assistant):
    """Essays and FAQs ask a question and answer it in the next sentence: the question states
    nothing, so it is quoted with its answer; a question followed by another is not extended."""
    text = (
        "Most potters learn to fire a kiln from an older potter. Why do so many first firings crack? "
        "Because beginners open the door before the kiln has cooled.\n\n"
        "How long should a kiln cool?\n\nA kiln should cool for at least a day before it is opened.\n\n"
        "Is the glaze safe? Is the clay local? Both questions come up at every market."
    )
    passages = _passages("kiln.md", text)
    answerer = own_assistant.mode("extractive").answerer
    quotes = _quotes(answerer, passages)
    assert "Why do so many first firings crack? Because beginners open the door before the kiln has cooled." in quotes
    assert "How long should a kiln cool?\n\nA kiln should cool for at least a day before it is opened." in quotes
    assert not any(q.startswith("Is the glaze safe? Is") for q in quotes)  # a question followed by a question
    question = "Why do first firings crack?"
    ranked = _ranked(answerer, question, passages)
    assert ranked[0].text.endswith("Because beginners open the door before the kiln has cooled.")


def test_two_chunks_of_a_document_not_in_the_store_both_give_candidates(own_assistant):
    """Without the document's text each chunk is read on its own, its sentences counted from its
    start: candidates are told apart by their offsets in the document, not their place in a chunk."""
    from citewise.index.store import ChunkRecord
    from citewise.rag.retrieve import Passage

    first = "The mill was built in 1802 by the river. It ground oats for the whole valley."
    second = " The kiln was added in 1850 beside the mill. It fired bricks for the new school."
    end = len(first) + len(second)
    a = ChunkRecord("c0", "mill.md", "h-mill", first, 0, len(first), 0, None, "Mill", "mill.md")
    b = ChunkRecord("c1", "mill.md", "h-mill", second, len(first), end, 1, None, "Mill", "mill.md")
    answerer = own_assistant.mode("extractive").answerer
    quotes = [c.text for c in answerer.candidates([Passage(chunk=a, score=1.0), Passage(chunk=b, score=0.9)])]
    assert any(q.startswith("The mill was built") for q in quotes)
    assert any(q.startswith("The kiln was added") for q in quotes)


def test_another_year_is_excused_only_by_the_candidates_own_frame(own_assistant):
    """A sentence naming 2019 does not answer "... in 2020?" because a sentence of the next
    paragraph names 2020; the sentence before it in its own paragraph may set the year."""
    text = (
        "Rowing Notes\n\n"
        "Ilse Varga won the 2019 lake regatta in record time.\n\n"
        "The 2020 regatta was moved to the river. Tomas Reid won the race there, beating his 2018 time."
    )
    answerer = own_assistant.mode("extractive").answerer
    ranked = _ranked(answerer, "Who won the 2020 regatta?", _passages("rowing.md", text))
    by_text = {s.text: s.features["contradiction"] for s in ranked}
    assert by_text["Ilse Varga won the 2019 lake regatta in record time."] == 1.0  # 2020 is only in a neighbour
    assert by_text["Tomas Reid won the race there, beating his 2018 time."] == 0.0  # 2020 is set just before


def test_each_side_of_a_comparison_scores_the_candidates_as_read(own_assistant):
    """compare() scores copies of the candidates for each side; a copy keeps what reading the
    document found: the sentence a pronoun leans on (``own``) and the candidate's frame."""
    from citewise.rag.summary import compare

    text = (
        "Pond Keeping\n\n"
        "Carp need a pond of at least two metres. They grow slowly in cold water.\n\n"
        "Goldfish need far less room than carp."
    )
    answerer = own_assistant.mode("extractive").answerer
    passages = _passages("pond.md", text)
    read = {s.text: (s.own, s.frame) for s in answerer.candidates(passages)}
    chosen = compare(answerer, ("carp", "goldfish"), passages)
    assert chosen and all(read[s.text] == (s.own, s.frame) for s in chosen)
    assert all(s.frame for s in chosen)  # the title at least


def test_a_sentence_paired_with_either_neighbour_leads_with_the_neighbour_answering_beside_the_question(
    own_assistant,
):
    """ "Who chairs the Ferry Board?": the sentence naming the board lacks a person, and both of
    its neighbours hold one. The two pairs rank alike (the ranker reads the sentence); the one
    whose person stands beside the question's words ("said Jonas Elm, its chair") leads, not
    the one naming a painter, although the answer model rates that one a little higher."""
    text = (
        "Ferry Notes\n\n"
        "In a survey of ferry users, the painter Mira Holm drew the harbour for the posters. "
        "Last month, the Ferry Board responded to the survey by promising more night crossings. "
        '"Night crossings will start in May and will cost the same as day crossings," said Jonas Elm, its chair.'
    )
    answerer = own_assistant.mode("extractive").answerer
    ranked = _ranked(answerer, "Who chairs the Ferry Board?", _passages("ferry.md", text))
    pairs = [s for s in ranked if s.features["pair"]]
    assert len(pairs) == 2 and pairs[0].rank == pairs[1].rank  # the same sentence, paired either way
    assert "Jonas Elm" in ranked[0].text and "Mira Holm" not in ranked[0].text


def test_the_chairman_of_the_mpa_is_named(corpus_assistant):
    """The issue's example: the sentence naming the MPA is quoted with the next one, which names its
    chairman, not with the one before it (which names Iron Man)."""
    answer = corpus_assistant.ask("Who is the chairman of the Motion Picture Association?")
    assert not answer.refused and "Charles Rivkin" in answer.text and "Iron Man" not in answer.text


def test_a_document_that_never_names_the_asked_year_holds_no_answer_about_it(own_assistant, monkeypatch):
    """ "Which party won the most seats in the 2019 election?": a report that never names 2019 is
    about another election, even where its sentence names no year at all; a report that names
    2019 once, anywhere, may answer it from any sentence. Judged only on a whole document: a
    chunk alone may not name the year its document names elsewhere."""
    july = "Spain Votes\n\nThe conservative party won the most seats in the July election but fell short of a majority."
    older = "Spain Votes Again\n\nThe 2019 vote was the fourth in four years. The liberal party won the most seats in that election."
    answerer = own_assistant.mode("extractive").answerer
    passages = _passages("july.md", july) + _passages("older.md", older)
    question = "Which party won the most seats in the 2019 election?"
    unknown = {s.text: s.features["contradiction"] for s in _ranked(answerer, question, passages)}
    assert not any(unknown.values())  # the documents' whole texts unknown: not judged
    monkeypatch.setattr(answerer, "document_text", {"july.md": july, "older.md": older}.get)
    ranked = _ranked(answerer, question, passages)
    by_text = {s.text: s.features["contradiction"] for s in ranked}
    assert (
        by_text["The conservative party won the most seats in the July election but fell short of a majority."] == 1.0
    )
    assert by_text["The liberal party won the most seats in that election."] == 0.0
    assert ranked[0].text.startswith("The liberal party")
    still = _ranked(answerer, "Which party won the most seats in the July election?", passages)
    assert not any(s.features["contradiction"] for s in still)  # no year asked: nothing to meet


def test_what_is_a_term_quotes_the_sentence_defining_it(own_assistant):
    """ "What is a flume?" wants what a flume is: the sentence defining it is quoted, not the
    sentences that only mention a flume (they lack the kind of answer asked for)."""
    text = (
        "Mill Notes\n\n"
        "The old mill has a flume that the miller cleans every spring, and visitors often ask about the flume. "
        "A flume is a wooden channel that carries water to the wheel. "
        "Children like to watch the flume in summer."
    )
    answerer = own_assistant.mode("extractive").answerer
    ranked = _ranked(answerer, "What is a flume?", _passages("mill.md", text))
    assert [s.text for s in answerer.select(ranked)] == ["A flume is a wooden channel that carries water to the wheel."]
    assert [s.features["type_yes"] for s in ranked] == [1.0, 0.0, 0.0]
