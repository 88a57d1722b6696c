"""Facts of a text (rag.facts): names, months, quantities, dates."""

from __future__ import annotations

from newsrag.rag.facts import date_spans, entity_spans, is_month, quantities


def test_entity_spans_skip_openers_contractions_and_imperatives() -> None:
    assert entity_spans("Here's how Acme Robotics grew.") == ["Acme Robotics"]
    assert entity_spans("Discover the story of Norvik.") == ["Norvik"]
    assert "Theresa May" in entity_spans("Theresa May spoke in March.")


def test_months_are_not_names_but_names_that_start_like_months_are() -> None:
    assert is_month("July") and is_month("Mar.") and is_month("Sunday")
    assert not is_month("Marlow") and not is_month("Augusta")


def test_quantities_and_dates() -> None:
    found = [(q.text, q.kind) for q in quantities("It paid $2.8 billion, up 12% on 300 staff.")]
    assert found == [("$2.8 billion", "money"), ("12%", "percent"), ("300", "number")]
    [date] = date_spans("It opens on 15 November 2020.")
    assert (date.month, date.day, date.year) == (11, 15, 2020)


def test_a_question_name_keeps_its_model_number_but_not_a_year_or_day() -> None:
    from newsrag.rag.facts import named_spans

    assert named_spans("When was the Lumo 7x phone announced?") == ["Lumo 7x"]
    assert named_spans("Who won the Harbour Cup 2014?") == ["Harbour Cup"]
    assert "May 4" not in named_spans("What did Acme say on May 4?")
