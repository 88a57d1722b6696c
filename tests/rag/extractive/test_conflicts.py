"""Conflicts (rag.conflicts): when two values disagree, and twin sentences."""

from __future__ import annotations

from newsrag.rag.extractive.conflicts import twin_sentences, values_agree


def test_names_agree_when_contained_or_reordered() -> None:
    assert values_agree("person", frozenset({"Mara Quist"}), frozenset({"Quist"}))
    assert values_agree("person", frozenset({"Liu Mara"}), frozenset({"Mara Liu"}))
    assert not values_agree("person", frozenset({"Mara Quist"}), frozenset({"Ole Brandt"}))
    assert not values_agree("amount", frozenset({"15"}), frozenset({"16"}))


def test_twins_are_the_same_sentence_with_another_value() -> None:
    a = "Glass Orchard was directed by Mara Quist and opened in spring."
    b = "Glass Orchard was directed by Ole Brandt and opened in spring."
    assert twin_sentences(a, b, "Mara Quist", "Ole Brandt")
    assert not twin_sentences(a, "Ole Brandt sails in the regatta.", "Mara Quist", "Ole Brandt")
