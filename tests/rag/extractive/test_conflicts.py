"""Conflicts (rag.conflicts): when two values disagree, and twin sentences."""

from __future__ import annotations

from newsrag.rag.extractive.answerer import CONFLICT_PREFIX
from newsrag.rag.extractive.conflicts import twin_sentences, values_agree
from tests.rag.extractive.test_short_answers import answer, hit


def test_names_agree_when_contained_or_reordered() -> None:
    assert values_agree("person", frozenset({"Mara Quist"}), frozenset({"Quist"}))
    assert values_agree("person", frozenset({"Liu Mara"}), frozenset({"Mara Liu"}))
    assert not values_agree("person", frozenset({"Mara Quist"}), frozenset({"Ole Brandt"}))
    # A middle name or initial is the same person; another first name is not.
    assert values_agree("person", frozenset({"Mara J. Quist"}), frozenset({"Mara Quist"}))
    assert values_agree("person", frozenset({"Mara Lind Quist"}), frozenset({"Mara Quist"}))
    assert not values_agree("person", frozenset({"Ada Quist"}), frozenset({"Mara Quist"}))
    assert not values_agree("amount", frozenset({"15"}), frozenset({"16"}))


def test_twins_are_the_same_sentence_with_another_value() -> None:
    a = "Glass Orchard was directed by Mara Quist and opened in spring."
    b = "Glass Orchard was directed by Ole Brandt and opened in spring."
    assert twin_sentences(a, b, "Mara Quist", "Ole Brandt")
    assert not twin_sentences(a, "Ole Brandt sails in the regatta.", "Mara Quist", "Ole Brandt")


def test_a_copy_with_only_the_dates_year_changed_is_a_conflict() -> None:
    said = "Jan 23, 2018 ... The release date of Tidewatch is April 20, 2018, Norvik said."
    changed = "Jan 23, 2018 ... The release date of Tidewatch is April 2, 2011, Norvik said."
    hits = [hit("a", said, 1), hit("b", changed, 2)]
    got = answer("What is the release date of Tidewatch (2018)?", hits)
    assert got.short_answer == "April 20, 2018" and got.conflict and CONFLICT_PREFIX in got.text
    # Another edition, named by its own year beside the date, is no disagreement.
    other = "Jan 23, 2018 ... The release date of Tidewatch 2011 is April 2, 2011, Norvik said."
    got = answer("What is the release date of Tidewatch (2018)?", [hits[0], hit("c", other, 2)])
    assert got.short_answer == "April 20, 2018" and not got.conflict
