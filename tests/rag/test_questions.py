"""Question analysis (rag.questions): answer type, relation, role, contest, media, picks."""

from __future__ import annotations

import pytest

from newsrag.rag.questions import (
    analyse,
    as_question,
    asks_several,
    identity_of,
    passive_agent,
    roles_of,
    slot_values,
    truecase,
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many engineers does Acme employ?", "count"),
        ("How much did Acme pay for SkyLift?", "amount"),
        ("What was the original release date of Tidewatch?", "date"),
        ("When does season 2 of Glass Orchard premiere?", "date"),
        ("Who directed Glass Orchard?", "person"),
        ("Which city hosted the 2012 Harbour Games?", "place"),
        ("What movie won the Harbour Prize in 2019?", "work"),
        # A measure that ends the asked phrase is an amount; one that qualifies another noun
        # names a thing ("revenue driver"), unless that noun keeps it a measure ("growth").
        ("What was Acme's revenue in 2021?", "amount"),
        ("What is the market value of Lumo?", "amount"),
        ("What is Lumo's revenue growth?", "amount"),
        ("What is Acme's profit margin?", "amount"),
        ("What is Acme's second-biggest revenue driver?", "entity"),
        ("What was the record fine against Acme?", "amount"),
        ("What was the fine Lumo paid?", "amount"),
        ("What was Lumo's revenue last quarter?", "amount"),
        ("What is Acme's market share in Norvik?", "amount"),
        # Organisations answer what one organisation is to another.
        ("Who are Acme's main rivals?", "entity"),
        ("Who is the owner of Lumo?", "entity"),
        # What one organisation did with another: organisations answer; a hire is a person.
        ("Who did Acme partner with last year?", "entity"),
        ("Whom has Lumo invested in?", "entity"),
        ("Who did Acme hire?", "person"),
        ("Since when has Lumo sold phones in Norvik?", "date"),
        ("Who is the CEO of Lumo?", "person"),
        # "What was the reason" asks why, even with a measure word in it.
        ("What was the reason for the Lumo fine?", "other"),
        ("What was the Lumo fine for?", "other"),
        ("What is the Lumo lab known for?", "entity"),  # what it is famous for, not why
        ("What was the sales channel Lumo closed last year?", "entity"),
    ],
)
def test_answer_type(question: str, kind: str) -> None:
    assert analyse(question).answer_type == kind


def test_one_analysis_holds_every_constraint() -> None:
    asked = analyse("Who is the CEO of Acme Robotics in 2021?")
    assert asked.role_of == ("CEO", "Acme Robotics")
    assert asked.time.years == {2021} and not asked.contest
    won = analyse("Who won the 2015 Harbour Cup?")
    assert won.contest and won.relation == "won"
    media = analyse("What is the release date for Tidewatch on Norvik Deck?")
    assert media.media == {"norvik", "deck"}
    assert ("season", 4) in analyse("When does season 4 of Glass Orchard air?").ordinals


def test_slot_values_leave_out_the_question_and_months() -> None:
    asked = analyse("Which city hosted the 2012 Harbour Games?")
    found = slot_values("Norvik was chosen on 13 July 2005 to host the 2012 Harbour Games.", asked)
    assert "Norvik" in found and "July" not in found
    person = analyse("Who is starring in Glass Orchard?")
    values = slot_values("Glass Orchard, directed by Ole Brandt, is starring Mara Quist.", person)
    assert values == {"Mara Quist"}


def test_a_two_part_question_is_split_into_whole_questions() -> None:
    from newsrag.rag.questions import question_parts

    assert question_parts("Who directed Harbour Lights and when was it released?") == [
        "Who directed Harbour Lights?",
        "When was it released?",
    ]
    assert question_parts("When and where was the Lumo summit held?") == [
        "When was the Lumo summit held?",
        "Where was the Lumo summit held?",
    ]
    assert question_parts("How much did Acme pay, and who approved the deal?") == [
        "How much did Acme pay?",
        "Who approved the deal?",
    ]
    # One question about two things is not two questions.
    assert question_parts("What is the price of bread and milk?") == [
        "What is the price of bread and milk?"
    ]
    assert question_parts("Who are Jo Park and Ann Lee?") == ["Who are Jo Park and Ann Lee?"]


def test_a_role_said_of_another_body_is_not_the_asked_role() -> None:
    from newsrag.rag.questions import holds_role_of

    other = "Jo Park and Ann Lee, the current and former presidents of Harbourfed, met in May."
    assert not holds_role_of(other, "president", "Lumo League")
    assert holds_role_of(
        "Jo Park, president of the Lumo League, met in May.", "president", "Lumo League"
    )
    assert holds_role_of("The president of Lumo said no.", "president", "Lumo")


def test_a_qualified_role_or_a_role_of_something_else_is_another_job() -> None:
    from newsrag.rag.questions import holds_role_of

    asked = "Who is the director of Harbour Lights?"
    video = "Fans thanked Harbour Lights video director Ann Lee on Sunday."
    assert not holds_role_of(video, "director", "Harbour Lights", asked)
    assert holds_role_of(
        video, "director", "Harbour Lights", "Who is the video director of Harbour Lights?"
    )
    music = "Ann Lee, a director of music videos whose work included Harbour Lights, died."
    assert not holds_role_of(music, "director", "Harbour Lights", asked)
    film = "Harbour Lights director Jo Park spoke on Sunday."
    assert holds_role_of(film, "director", "Harbour Lights", asked)
    giant = "Jo Park, the chief executive of ferry giant Harbour Lights, spoke."
    assert holds_role_of(giant, "executive", "Harbour Lights", asked)


def test_a_date_of_another_named_edition_does_not_answer_the_asked_year() -> None:
    asked = analyse("What is the date of the 2021 Harbour Regatta?")
    listing = "2020 Harbour Regatta. 2021 Harbour Regatta ; Date: Sunday, June 14, 2020 ; Port"
    assert slot_values(listing, asked) == set()
    held = "The 2021 Harbour Regatta was held on July 4, 2021, off Norvik."
    assert slot_values(held, asked) == {"2021-07-04"}
    # Postponed, not another edition: the later year is named only by the date itself.
    games = analyse("When were the 2020 Harbour Games held?")
    moved = slot_values("The 2020 Harbour Games were held on August 8, 2021 in Norvik.", games)
    assert moved == {"2021-08-08"}


def test_an_owners_possessive_is_the_questions_own_name() -> None:
    asked = analyse("Which country did Acme officials visit last month?")
    found = slot_values("Last month, Acme’s high officials also visited Norvik and Ostland.", asked)
    assert found == {"Norvik", "Ostland"}


def test_who_did_it_is_the_agent_of_the_asked_verb_in_the_passive() -> None:
    fined = analyse("Who fined Acme $3.5 million?")
    sentence = (
        "The Mara Quist-led company was fined $3.5 million in May by the Norvik Market Authority."
    )
    assert slot_values(sentence, fined) == {"Norvik Market Authority"}
    bought = analyse("Who acquired SkyLift?")
    owner = "SkyLift, founded by Mara Quist, was acquired in 2019 by Ostland Robotics."
    assert slot_values(owner, bought) == {"Ostland Robotics"}
    told = analyse("Who reported that Acme is investing $2 billion in Ostland?")
    report = "Acme is investing $2 billion in Ostland, as reported by the Norvik Morning Post."
    assert slot_values(report, told) == {"Norvik Morning Post"}
    # "Who was fined" asks for the one fined, not the agent.
    assert passive_agent(sentence, analyse("Who was fined $3.5 million?")) is None


def test_since_a_year_says_when_something_started() -> None:
    asked = analyse("When did Acme start investing in Ostland?")
    assert slot_values("Acme has been active in Ostland since 2014, the company said.", asked) == {
        "2014-00-00"
    }
    # A year alone dates no release: "what is the date" needs a date, and "in 2019" is vague.
    dated = analyse("What is the release date of Tidewatch?")
    assert slot_values("Tidewatch has been in the works since 2014.", dated) == set()
    assert slot_values("Acme began investing in Ostland in 2019.", asked) == set()


def test_how_much_money_is_answered_by_money_only() -> None:
    asked = analyse("How much money does Acme make?")
    assert slot_values("Acme reported a 31% rise in buyers to 8.2 million.", asked) == set()
    assert slot_values("Acme made $4.5 billion last year.", asked) == {"4.5e+09"}


def test_who_is_a_name_asks_what_the_person_is() -> None:
    assert identity_of("Who is Mara Quist?") == "Mara Quist"
    assert identity_of("who was Ole Brandt") == "Ole Brandt"
    assert analyse("Who is Mara Quist?").answer_type == "role"
    # A title or an organisation after the copula asks for a person, as before.
    assert identity_of("Who is the CEO of Acme?") is None
    assert identity_of("Who is CEO of Acme?") is None
    assert identity_of("Who is Acme Group?") is None
    assert analyse("Who is the CEO of Acme?").answer_type == "person"


@pytest.mark.parametrize(
    ("sentence", "roles"),
    [
        ("Mara Quist, the League's commissioner, said the season opens in May.",
         ["the League's commissioner"]),
        ("“We are ready,” said Mara Quist, vice president of sales at Acme.",
         ["vice president of sales at Acme"]),
        ("Quist is a Norvik lawyer and former judge.", ["a Norvik lawyer and former judge"]),
        ("League Commissioner Mara Quist opened the season.", ["League Commissioner"]),
        ("Mara Quist met Ole Brandt in Norvik.", []),  # no title or role word: nothing
        ("The Mara Quist-led fund bought Lumo.", []),
    ],
)  # fmt: skip
def test_roles_of_a_person_in_a_sentence(sentence: str, roles: list[str]) -> None:
    assert roles_of(sentence, "Mara Quist") == roles


@pytest.mark.parametrize(
    ("question", "verb"),
    [
        ("Which Norvik-based firm did Acme invest in?", "invest"),
        ("Which company did Lumo bid for?", "bid"),
        ("What does the company sell?", "sell"),
        ("What did Acme launch on Tuesday?", None),  # the verb is not last: not read
        ("What did it do?", None),
        ("Who directed Harbour Lights?", "directed"),
        # A participle with its agent describes the noun; the verb after it is asked.
        ("Which newspaper owned by Acme reported the deal?", "reported"),
        # The subject may be what a name owns, or "the" and a noun phrase.
        ("What will Acme's new labs work on?", "work"),
        ("What will the new Norvik centres focus on?", "focus"),
        ("Who did Acme partner with last year?", "partner"),
        ("Which film directed by Mara Quist won the Harbour Prize?", "won"),
    ],
)
def test_the_verb_after_the_subject_of_a_do_question_is_the_relation(
    question: str, verb: str | None
) -> None:
    assert analyse(question).relation == verb


@pytest.mark.parametrize(
    ("question", "several"),
    [
        ("In which countries will Acme open labs?", True),
        ("What films did Mara Quist direct?", True),
        ("Which Norvik funds backed Lumo?", True),  # a capitalised modifier, then the noun
        ("Which city hosts the Harbour Games?", False),  # "hosts" is the verb
        ("Which series won the award?", False),
        ("What is the name of the fund?", False),
        ("Which NFL team won?", False),
    ],
)
def test_a_plural_wh_noun_asks_for_several(question: str, several: bool) -> None:
    assert asks_several(question) is several


def test_a_lower_case_question_takes_its_names_capitals_from_the_passages() -> None:
    texts = [
        "Shares rose as Acme Robotics is investing in Southeast Asia, as per a NVK report.",
        "The Lumo lab opened in May. Shares fell, the company said.",
        "Its rival Acme is in New Norvik.",
    ]
    assert truecase("how much acme invest southeast asia", texts) == (
        "how much Acme invest Southeast Asia"
    )
    # "New" is written capitalised only as the first word of "New Norvik": no name without
    # "norvik" after it; with it, both words are the name.
    assert truecase("which labs are new", texts) == "which labs are new"
    assert truecase("is acme in new norvik", texts) == "is Acme in New Norvik"
    assert truecase("what did nvk report", texts) == "what did NVK report"  # as written
    # "The" and "Shares" open sentences there: no evidence of names; "fell" stays.
    assert truecase("why the shares fell", texts) == "why the shares fell"
    typed = "How much did ACME invest?"  # capitals typed by the user are theirs
    assert truecase(typed, texts) == typed


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Tell me about Project Lumo.", "What is Project Lumo?"),
        # An award category typed in lower case is named as one; "the best way" is no category.
        ("Who won best supporting skipper at the Harbour Awards?",
         "Who won Best Supporting Skipper at the Harbour Awards?"),
        ("What is the best way to Norvik?", "What is the best way to Norvik?"),
        ("Give me the closing price of Acme shares on Tuesday.",
         "What is the closing price of Acme shares on Tuesday?"),
        ("Can you tell me who fined Acme?", "Who fined Acme?"),
        ("Please describe the Norvik Academy.", "What is the Norvik Academy?"),
        ("what's Acme's market value", "what is Acme's market value"),
        ("Who fined Acme?", "Who fined Acme?"),
    ],
)  # fmt: skip
def test_a_request_is_read_as_the_question_it_asks(text: str, question: str) -> None:
    assert as_question(text) == question
