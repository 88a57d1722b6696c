"""Question constraints on invented articles: time (years, quarters, relative), names, source."""

from __future__ import annotations

from dataclasses import replace

from newsrag.index import Chunk
from newsrag.rag.constraints import (
    asked_source,
    asked_time,
    is_question,
    other_organisation,
    passage_year,
    past_role,
    source_status,
    time_status,
    years_in,
)


def chunk(text: str, *, published_at: str | None = None, source: str | None = None) -> Chunk:
    return Chunk(
        id="a#0",
        doc_id="a",
        ordinal=0,
        text=text,
        start=0,
        end=len(text),
        n_tokens=10,
        title="",
        source=source,
        published_at=published_at,
    )


def test_years_of_a_question_leave_out_names_but_keep_parenthesised_years() -> None:
    assert asked_time("Who won the 2017 Harbour Regatta?").years == {2017}
    assert asked_time("When does Starfall 2091 come out?").years == frozenset()
    assert asked_time("When was Moon Quest (2016) released?").years == {2016}
    assert years_in("first held in Lisbon 1911", names=True) == {1911}
    assert years_in("ticket 20234 and id A2019") == set()


def test_time_status_reads_the_sentence_then_the_passage_then_its_dateline() -> None:
    asked = asked_time("Who won the 2017 Harbour Regatta?")
    assert time_status(asked, "Mara Quist won the 2017 regatta.", chunk("x")) == "match"
    assert time_status(asked, "Ole Brandt won in 2019.", chunk("x")) == "contradict"
    text = "Mar 3, 2018 ... Mara Quist won the regatta on Sunday."
    assert time_status(asked, "Mara Quist won the regatta on Sunday.", chunk(text)) == "match"
    stale = "Jun 1, 2021 ... Ole Brandt won the regatta."
    assert time_status(asked, "Ole Brandt won the regatta.", chunk(stale)) == "contradict"
    assert time_status(asked, "Ole Brandt won.", chunk("Ole Brandt won.")) == "unknown"


def test_a_month_without_a_year_is_dated_by_its_article() -> None:
    fined = "Corvex was fined $2 million in April."  # told in June 2021: April 2021
    june = chunk(fined, published_at="2021-06-15")
    assert time_status(asked_time("When was Corvex fined in 2020?"), fined, june) == "contradict"
    assert time_status(asked_time("When was Corvex fined in 2021?"), fined, june) == "match"
    # A past December, told in June 2021, is December 2020.
    december = "Corvex turned a profit in December."
    dec = chunk(december, published_at="2021-06-15")
    assert time_status(asked_time("Was Corvex profitable in 2020?"), december, dec) == "match"


def test_an_undated_article_is_no_report_of_a_year_after_the_newest_article() -> None:
    said = "Corvex is worth $4 billion."
    later = replace(asked_time("What is Corvex worth in 2023?"), reference=2021)
    assert time_status(later, said, chunk(said)) == "contradict"
    earlier = replace(asked_time("What was Corvex worth in 2019?"), reference=2021)
    assert time_status(earlier, said, chunk(said)) == "unknown"  # it may be from any year
    assert time_status(asked_time("What is Corvex worth in 2023?"), said, chunk(said)) == "unknown"


def test_quarters_must_agree() -> None:
    asked = asked_time("What was Corvex's revenue in the second quarter?")
    assert asked.quarter == 2
    assert time_status(asked, "Q3 revenue rose to $4 million.", chunk("x")) == "contradict"
    assert time_status(asked, "Second-quarter revenue was $3 million.", chunk("x")) == "match"


def test_relative_years_count_from_each_passages_article() -> None:
    asked = asked_time("What did Corvex earn last year?")
    assert asked.relative == -1 and not asked.years and asked.constrained
    june = "2022-06-15"
    said = "Corvex earned $4 million, the company said."  # about its article's own year
    assert time_status(asked, said, chunk(said, published_at=june)) == "contradict"
    assert (
        time_status(asked, "Corvex earned $3 million in 2021.", chunk("x", published_at=june))
        == "match"
    )
    own = "Last year Corvex earned $3 million."
    assert time_status(asked, own, chunk(own, published_at=june)) == "match"
    december = "Corvex earned $2 million in December."  # December 2021, told in June 2022
    assert time_status(asked, december, chunk(december, published_at=june)) == "match"
    assert time_status(asked, said, chunk(said)) == "unknown"  # an undated article cannot tell
    newest = replace(asked, reference=2022)  # ... unless the newest article's year stands in
    assert time_status(newest, said, chunk(said)) == "contradict"
    assert time_status(newest, own, chunk(own)) == "match"
    this = asked_time("What did Corvex earn this year?")
    assert time_status(this, said, chunk(said, published_at=june)) == "match"
    # "Over the past year" is the twelve months before, not a calendar year.
    assert asked_time("How much did Corvex shares rise over the past year?").relative is None
    # A premise's time is not the asked one.
    premise = asked_time("Corvex opened a lab last year; where has it now opened one?")
    assert premise.relative is None
    assert passage_year(chunk("Feb 2, 2023 ... b")) == 2023
    assert asked_time("Who is the new chair of Corvex?").latest


def test_source_named_by_the_question() -> None:
    assert asked_source("What did the Daily Courier report about the strike?") == "daily courier"
    assert asked_source("How many jobs, according to Tidewater News?") == "tidewater news"
    assert source_status("daily courier", chunk("x", source="Daily Courier")) == "match"
    assert source_status("daily courier", chunk("x", source="Evening Star")) == "contradict"
    assert source_status(None, chunk("x")) == "unknown"


def test_a_name_inside_another_organisations_name_is_another_body() -> None:
    assert other_organisation("GBL", "Ann Roe was re-elected president of the GBL Players Union.")
    assert not other_organisation("GBL", "Ann Roe is president of the GBL since 2015.")
    assert other_organisation("chief of Corvex", "The CORVEX Foundation names a new chief.")
    assert other_organisation("Skyfarers", "Skyfarers: Second Dawn was directed by Al Ruiz.")
    assert not other_organisation("Skyfarers", "Nobody mentions it.")


def test_past_roles_and_questions_in_passages() -> None:
    roles = {"chief", "executive", "corvex"}
    assert past_role("Who is the chief executive of Corvex?", "Lee Park, the former chief", roles)
    assert not past_role("Who was the chief of Corvex?", "the former chief Lee Park", roles)
    left = "Corvex founder Lee Park said he was stepping down as chief executive in May."
    assert past_role("Who is the chief executive of Corvex?", left, roles)
    assert past_role("Who is the chief of Corvex?", "Lee Park resigned as its chief.", roles)
    assert is_question("What would a sequel look like?")
    assert not is_question("The sequel opens in May.")


def test_the_verb_asked_and_members_of_a_body() -> None:
    from newsrag.rag.questions import asked_relation

    assert asked_relation("Who directed The Glass Orchard?") == "directed"
    assert asked_relation("Which town hosted the fair?") == "hosted"
    assert asked_relation("When was Orbit Phone 3 unveiled?") == "unveiled"
    assert asked_relation("Who is the chair of Corvex?") is None
    assert asked_relation("When did Corvex first make money?") is None
    assert other_organisation("GBL", "Ann Roe, president of a GBL team, spoke.")
    assert years_in("first held in Lisbon in 1896") == {1896}


def test_series_picks_pair_the_number_with_its_noun() -> None:
    from newsrag.rag.constraints import series_picks

    assert ("season", 1) in series_picks("When will the first season of Glass Orchard air?")
    assert ("season", 4) in series_picks("When does season 4 of Glass Orchard premiere?")
    assert ("award", 93) in series_picks("at the 93rd Harbour Awards")
    assert not any(n == 15 for _, n in series_picks("It opens Nov 15 in Norvik."))


def test_past_holder_is_judged_per_name() -> None:
    from newsrag.rag.constraints import past_holder

    wanted = {"ceo", "acme"}
    text = "Acme CEO Jo Park should step down, said Ann Lee, the former Acme engineer."
    assert past_holder("Ann Lee", text, wanted)
    assert not past_holder("Jo Park", text, wanted)
    assert past_holder("Bo Ng", "The firm hired former Acme executive Bo Ng as chair.", wanted)
    assert past_holder("Bo Ng", "Bo Ng was the CEO of Acme until 2015.", wanted)


def test_a_numbered_name_with_a_subtitle_is_another_work() -> None:
    from newsrag.rag.constraints import other_organisation

    assert other_organisation("Tidewatch", "Tidewatch 2049: Undertow is set for release.")
    assert not other_organisation("Tidewatch", "Tidewatch 2049 is set for release.")


def test_another_instalment_is_another_work() -> None:
    from newsrag.rag.constraints import other_organisation

    text = "The next Tidewatch movie, Undertow, will be directed by Jo Park."
    assert other_organisation("Tidewatch", text)
    assert not other_organisation("Tidewatch", "Tidewatch was directed by Jo Park.")


def test_a_role_of_a_thing_must_be_tied_to_it() -> None:
    from newsrag.rag.questions import analyse, holds_role_of

    assert analyse("Who is the CEO of Acme in 2021?").role_of == ("CEO", "Acme")
    assert analyse('Who is the director of "Glass Orchard"?').role_of == (
        "director",
        "Glass Orchard",
    )
    role = ("director", "Glass Orchard")
    assert not holds_role_of("Director Jo Park believed that Glass Orchard was great.", *role)
    assert holds_role_of("Director Jo Park's beloved movie 'Glass Orchard' returns.", *role)
    assert holds_role_of("Glass Orchard, directed by Ann Lee, opens.", *role)
    assert holds_role_of("Ann Lee, the director, made her name with Glass Orchard.", *role)
    assert not holds_role_of("When founding Acme, Bo Ng sought a new way.", "CEO", "Acme")
    assert holds_role_of("Acme play matters, CEO Bo Ng tells reporters.", "CEO", "Acme")


def test_numbered_kinds_are_left_out_of_retrieval_picks() -> None:
    from newsrag.rag.constraints import series_picks

    assert ("type", 1) in series_picks("Is type 1 diabetes more frequent in season 2?")
    assert series_picks("Is type 1 diabetes more frequent in season 2?", kinds=False) == {
        ("season", 2)
    }


def test_an_event_held_under_another_events_name_is_another_event() -> None:
    from newsrag.rag.constraints import other_organisation

    assert other_organisation("Harbour Draft", "The 2024 Harbour Draft Combine opens June 3.")
    assert other_organisation("Harbour Cup", "The Harbour Cup qualifiers begin in May.")
    assert not other_organisation("Harbour Draft", "The 2024 Harbour Draft is on July 2.")
    assert not other_organisation(
        "Harbour Cup", "After the Harbour Cup qualifiers, the Harbour Cup starts on May 9."
    )


def test_a_subtitle_the_question_writes_is_the_asked_work_itself() -> None:
    from newsrag.rag.constraints import other_organisation

    sentence = "Harbour Quest: Low Tide will be released on March 2, 2021."
    assert other_organisation("Harbour Quest", sentence)  # the sequel, asked about the first
    assert not other_organisation(
        "Harbour Quest", sentence, "When is Harbour Quest: Low Tide released?"
    )
    numbered = "Harbour Quest 2088: Low Tide will be released on March 2, 2021."
    assert not other_organisation(  # the name's number stands before its subtitle
        "Harbour Quest", numbered, "When is Harbour Quest 2088: Low Tide released?"
    )


def test_a_malformed_publication_date_dates_nothing() -> None:
    from newsrag.rag.constraints import nearest_year, weekday_date

    # Not a real day: the article's year stands, and a weekday stays unresolved.
    assert nearest_year("Its premiere is on February 26.", 2, 26, "2021-13-40", 2021) == 2021
    assert weekday_date("Sunday", "It opened on Sunday.", "2021-02-30") is None
    assert weekday_date("Sunday", "It opened on Sunday.", "2021-06-15").isoformat() == (
        "2021-06-13"
    )
