"""Follow-up questions (rag.followup): detection and the deterministic rewrite."""

from __future__ import annotations

from newsrag.rag.followup import is_followup, named_entities, rewrite_deterministic


def test_a_pronoun_question_is_a_followup_and_a_named_one_is_not() -> None:
    assert is_followup("What did it earn?")
    assert not is_followup("What did Acme earn?")


def test_the_rewrite_names_the_subject_of_the_conversation() -> None:
    history = [
        {"role": "user", "content": "Who runs Acme Robotics?"},
        {"role": "assistant", "content": "Jo Park runs Acme Robotics [1]."},
    ]
    assert rewrite_deterministic("What did it earn in 2020?", history) == (
        "What did Acme Robotics earn in 2020?"
    )
    assert "Acme Robotics" in named_entities("Who runs Acme Robotics?")
