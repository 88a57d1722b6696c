"""General English word lists the answerer shares, each defined once.

Nothing here names a topic of any corpus: these are families of ordinary English words that
say the same thing, written out because word embeddings of single words (MiniLM) rank them
poorly ("premiere" sits nearer "filming" than "debut").
"""

from __future__ import annotations

from newsrag.rag.facts import stem

# Verbs (and their nouns) that state the same event of a thing. A sentence answers "when does
# it premiere" with any word of the premiere family, and states another event when it only
# has words of another family ("filming started in August"). Irregular forms are listed.
# Aspect verbs ("start", "end") are in no family: they qualify another event ("filming
# started", "start streaming"), they name none.
EVENT_FAMILIES: tuple[frozenset[str], ...] = tuple(
    frozenset(stem(w) for w in family.split())
    for family in (
        # A show premieres, a game or film is released: one event, the first showing.
        "premiere premiered premieres debut debuts debuted air airs aired airing broadcast"
        " release released releases launch launched launches arrive arrives arrived"
        " available stream streaming streams",
        "announce announced announces announcement unveil unveiled unveils reveal revealed"
        " reveals introduce introduced introduces present presented",
        "host hosts hosted held hold holds stage staged stages",
        "film filmed filming shoot shooting shot production produced",
        "direct directed directs director directors directing helm helmed",
        "win wins won winner winners winning champion champions victory",
        "star stars starred starring play plays played portray portrays portrayed cast",
        "write writes wrote written writer author authored",
        "found founded founder founders establish established",
        "die died dies death",
        "born birth",
    )
)


def event_family(word: str) -> frozenset[str] | None:
    """The family of event words `word` belongs to (by stem), or None."""
    key = stem(word.casefold())
    for family in EVENT_FAMILIES:
        if key in family:
            return family
    return None


def states_event(verb: str, stems: set[str]) -> bool | None:
    """Whether words (their stems) state the event `verb` names.

    True: a word of its family; False: only words of other event families (another event);
    None: neither (the caller decides, e.g. by word embeddings).
    """
    family = event_family(verb)
    if family is None:
        return None
    if stems & family:
        return True
    if any(stems & other for other in EVENT_FAMILIES if other is not family):
        return False
    return None


__all__ = ["EVENT_FAMILIES", "event_family", "states_event"]
