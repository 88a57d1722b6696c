"""Candidate scoring helpers (rag.candidates): names, phrases, described subjects."""

from __future__ import annotations

from newsrag.rag.extractive.candidates import (
    _words_of,
    described,
    name_phrases,
    name_present,
    named_in,
)
from newsrag.rag.facts import terms
from newsrag.rag.questions import analyse


def test_name_present_needs_every_part_but_allows_demonyms() -> None:
    assert name_present("freedonian", {"freedonia"})
    assert not name_present("japan", {"tokyo", "osaka"})


def test_a_multi_word_name_must_occur_as_written() -> None:
    asked = analyse("What did Corvex Cloud earn?")
    phrases = name_phrases(asked.text)
    words = terms("Corvex said its cloud technology earned more.", keep_stopwords=True)
    assert not named_in(asked, phrases, set(words), f" {' '.join(words)} ")
    words = terms("Corvex Cloud earned more.", keep_stopwords=True)
    assert named_in(asked, phrases, set(words), f" {' '.join(words)} ")


def test_a_middle_initial_does_not_break_a_name() -> None:
    asked = analyse("When did Mara Quist join Corvex?")
    words, sequence = _words_of("Mara J. Quist joined Corvex in May.")
    assert named_in(asked, name_phrases(asked.text), words, sequence)
    words, sequence = _words_of("Mara Lind and Ola Quist joined Corvex in May.")
    assert not named_in(asked, name_phrases(asked.text), words, sequence)


def test_a_long_name_may_say_one_word_otherwise_but_never_its_number() -> None:
    asked = analyse("When was Harbour Quest Part III released?")
    phrases = name_phrases(asked.text)
    words, sequence = _words_of("Harbour Quest Part II was released in May.")
    assert not named_in(asked, phrases, words, sequence)
    asked = analyse("Who won Best Animated Film at the Harbour Awards?")
    words, sequence = _words_of("Low Tide won Best Animated Feature at the Harbour Awards.")
    assert named_in(asked, name_phrases(asked.text), words, sequence)


def test_described_subjects() -> None:
    assert described(analyse("Where will the company that runs Norvik Labs open a site?"))
    assert not described(analyse("Where will Acme open a site?"))
