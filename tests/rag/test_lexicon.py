"""The shared word families, and the relation check built on them, on invented text."""

from __future__ import annotations

from newsrag.rag.facts import content_stems
from newsrag.rag.lexicon import EVENT_FAMILIES, event_family, states_event
from tests.rag.extractive.test_short_answers import answer, hit


def test_families_are_disjoint_and_found_by_any_form() -> None:
    seen: set[str] = set()
    for family in EVENT_FAMILIES:
        assert not family & seen, "a word in two families would both confirm and contradict"
        seen |= family
    assert event_family("hosted") == event_family("held")
    assert event_family("premieres") == event_family("debuted")
    assert event_family("announced") != event_family("released")
    assert event_family("started") is None  # aspect verbs qualify events, they name none


def test_states_event_confirms_contradicts_or_abstains() -> None:
    assert states_event("hosted", content_stems("The fair was held in Lyon in May.")) is True
    assert states_event("premiere", content_stems("Filming of season 2 began in May.")) is False
    assert states_event("premiere", content_stems("Season 2 starts on May 3.")) is None
    assert states_event("weighed", content_stems("The parcel was held in Lyon.")) is None
    # What work is about: "focus on" is stated by "work on" or "the field of".
    assert states_event("focus", content_stems("Its 40 staff will work on batteries.")) is True
    assert states_event("focus", content_stems("It hires 40 staff in the field of AI.")) is True


def test_a_sentence_about_another_event_does_not_answer() -> None:
    text = (
        "Season 2 of Harbour Lights began filming on 4 May 2022, the studio said. "
        "The cast returns in full."
    )
    got = answer(
        "When does season 2 of Harbour Lights premiere?",
        [hit("lights", text, 1, published_at="2022-05-10")],
    )
    assert not got.sentences and got.short_answer is None
    later = text + " Season 2 of Harbour Lights will debut on 9 March 2023 on Channel Five."
    got = answer(
        "When does season 2 of Harbour Lights premiere?",
        [hit("lights", later, 1, published_at="2022-05-10")],
    )
    assert got.short_answer == "March 9, 2023"


def test_word_lists_live_in_the_lexicon_only() -> None:
    # Every module-level list of words written as text ("a b c".split()) is in rag/lexicon.py:
    # a second copy elsewhere would drift from it.
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "rag"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "lexicon.py":
            continue
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.Assign | ast.AnnAssign):
                continue
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "split"
                    and isinstance(call.func.value, ast.Constant)
                    and isinstance(call.func.value.value, str)
                    and len(call.func.value.value.split()) > 2
                ):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []


def test_the_lexicon_exports_every_list_it_defines() -> None:
    from newsrag.rag import lexicon

    public = {n for n in vars(lexicon) if n.isupper()}
    assert public <= set(lexicon.__all__)
    assert {"STOPWORDS", "MONTHS", "TITLE_WORDS", "AUXILIARIES", "EVENT_FAMILIES"} <= public
