"""Cleaning: boilerplate and invisible characters never reach a chunk; article text does."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsrag.index import IndexStore, clean_text
from newsrag.index.cleaning import boilerplate_reason, strip_invisible
from newsrag.index.sparse import bm25_document

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

# What the shipped corpus holds that is not article content (each string is checked to be in
# the raw files, so the test cannot pass vacuously).
CORPUS_BOILERPLATE = [
    "Please enter your comment!",  # comment prompts
    "Please enter your name here",
    "Will you offer us a hand?",  # donation appeal, line by line
    "Every gift, regardless of size",
    "Your critical contribution enables us",
    "It means we can continue to make Jewish Business News available to everyone.",
    "You can support us for as little as $1 via PayPal",
    "[email protected]",
    "Thank you.",
    "See Also:",  # related links
    "Cathie Wood Can't Get Enough Of These 3 Chinese Alibaba Rivals",
    "Alibaba's Ant Secures Regulatory Approval For Consumer Finance Firm In China",
    "© 2025 Benzinga.com",  # copyright footer
    "Benzinga does not provide investment advice. All rights reserved.",
    "Trade confidently with insights and alerts",  # marketing
]
# The real sentences right before and after each removed block.
CORPUS_NEIGHBOURS = [
    # 000: duplicated title lines, then the lead; comment prompts after the last paragraph.
    "Alibaba Group Holding Ltd. Chinese e-commerce giant is going to invest $15 billion to "
    "expand overseas research hubs for different innovative and pioneering platforms.",
    "This can be a great step towards the launch of AliPay in Pakistan, and IT Ministry Anusha "
    "Rehman has expressed it several times on different occasions.",
    # 001: the appeal sits between two paragraphs.
    "In addition, the company will employ 100 other researchers in the field of artificial "
    "intelligence, quantum computing, and Fintec, the company said in a statement.",
    "“Alibaba’s DAMO Academy will stand at the forefront of the development of the generation "
    "technology and will support the growth of Alibaba and its partners,” said Jeff Chang, vice "
    "president of technology at the company.",
    # 004: two "See Also" lines, a footer and a marketing line.
    "The annual online sales festival will last through June 20.",
    "Why It Matters: The development comes as Alibaba leaves behind the uncertainty related to "
    "China’s antitrust probes.",
    "The company has in the past few years been boosting presence aggressively outside of China "
    "as it faces stiff competition at home from rivals including Pinduoduo Inc PDD and JD.com "
    "Inc JD.",
    "Pinduoduo reported a 31% rise in active buyers to 823.8 million in the 12-month period "
    "ended March compared with a year ago, more than Alibaba’s 811 million in the same quarter.",
    "Price Action: Alibaba shares closed 0.5% lower at $215.82 on Tuesday.",
]


def _raw_corpus() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.md")))


def test_corpus_boilerplate_is_really_in_the_raw_files() -> None:
    raw = _raw_corpus()
    for text in CORPUS_BOILERPLATE + CORPUS_NEIGHBOURS:
        assert text in raw, text
    title = "Alibaba Group to invest $15b to build Research hubs in Technology sectors"
    assert raw.count(f"\n{title}\n") == 2  # the title, twice, after the front matter


def test_no_boilerplate_reaches_any_chunk_of_the_corpus_index(corpus_store: IndexStore) -> None:
    assert corpus_store.chunks
    for chunk in corpus_store.chunks:
        indexed = bm25_document(chunk).casefold()  # what BM25 and the embedder see
        for text in CORPUS_BOILERPLATE:
            assert text.casefold() not in indexed, (chunk.id, text)
    for article in corpus_store.articles.values():
        for text in CORPUS_BOILERPLATE:
            assert text not in article.text
        assert article.title not in article.text  # duplicated title lines are gone


def test_sentences_around_each_removed_block_survive(corpus_store: IndexStore) -> None:
    chunk_texts = [c.text for c in corpus_store.chunks]
    for sentence in CORPUS_NEIGHBOURS:
        assert any(sentence in text for text in chunk_texts), sentence


def test_corpus_subheading_and_quotes_survive(corpus_store: IndexStore) -> None:
    texts = "\n".join(c.text for c in corpus_store.chunks)
    assert "China’s interest in Israel" in texts
    assert "will be at the forefront of developing next-generation technology" in texts


# Invisible and control characters.

INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "LRE": "\u202a",
    "RLE": "\u202b",
    "PDF": "\u202c",
    "LRO": "\u202d",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
    "tag language": "\U000e0001",
    "tag space": "\U000e0020",
    "tag A": "\U000e0041",
    "cancel tag": "\U000e007f",
    "tag range start (unassigned)": "\U000e0000",
    "BOM": "\ufeff",
    "soft hyphen": "\u00ad",
    "NUL": "\x00",
    "bell": "\x07",
    "escape": "\x1b",
    "delete": "\x7f",
    "private use": "\ue000",
}


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_invisible_characters_are_removed(char: str) -> None:
    raw = f"{char}Shares of Ali{char}baba rose 3{char}% on Tuesday.{char}"
    assert clean_text(raw) == "Shares of Alibaba rose 3% on Tuesday."


def test_bidi_override_cannot_disguise_text() -> None:
    # "evil" shown reversed by an override, a classic trick to hide text from readers.
    assert clean_text("The file is named \u202eexe.live\u202c by the attacker.") == (
        "The file is named exe.live by the attacker."
    )


def test_separators_become_spaces_or_line_breaks_without_gluing_words() -> None:
    raw = "Rates\u00a0rose.\u2028Bonds\tfell.\x0bStocks\x85were\r\nflat.\rOil\u3000slid."
    assert clean_text(raw) == "Rates rose.\nBonds fell.\nStocks\nwere\nflat.\nOil slid."


def test_accents_compose_after_removal() -> None:
    assert clean_text("Caf" + "e\u200b\u0301" + " owners") == "Café owners"


_VISIBLE = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "P", "S", "Zs"]) | st.just("\n"),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(
    text=_VISIBLE,
    inserts=st.lists(st.tuples(st.integers(0, 200), st.sampled_from(list(INVISIBLE.values())))),
)
def test_inserting_invisible_characters_never_changes_the_result(
    text: str, inserts: list[tuple[int, str]]
) -> None:
    noisy = text
    for position, char in inserts:
        position = min(position, len(noisy))
        noisy = noisy[:position] + char + noisy[position:]
    assert clean_text(noisy) == clean_text(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_cleaned_text_holds_no_invisible_or_control_character(text: str) -> None:
    for char in strip_invisible(text):
        assert char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf", "Co", "Cn", "Cs")


# Boilerplate rules: each with lines it must flag and real news lines it must keep.

FLAGGED = {
    "comment_prompt": [
        "Please enter your comment!",
        "Please enter your name here",
        "Leave a Reply",
        "Post a comment:",
        "12 Comments",
        "Save my name, email, and website in this browser for the next time I comment.",
        "You must be logged in to post a comment.",
    ],
    "related_link": [
        "See Also: Alibaba's Ant Secures Regulatory Approval For Consumer Finance Firm In China",
        "Related: Tesla recalls two million cars over Autopilot",
        "READ MORE – Oil prices slide as demand cools",
        "Also read: Five things to know about the budget",
        "More from Reuters: Markets wrap",
        "You may also like: The best budget phones",
        "Most popular | Ten cities with the cleanest air",
        "» Related coverage: Election results",
    ],
    "copyright": [
        "© 2025 Benzinga.com. Benzinga does not provide investment advice. All rights reserved.",
        "Copyright 2021 The Associated Press.",
        "(c) 2019 Example Media Group",
        "All Rights Reserved.",
    ],
    "appeal": [
        "Will you offer us a hand? Every gift, regardless of size, fuels our future.",
        "Your critical contribution enables us to maintain our independence from shareholders "
        "or wealthy owners, allowing us to keep up reporting without bias.",
        "You can support us for as little as $1 via PayPal at [email protected].",
        "Trade confidently with insights and alerts from analyst ratings, free reports and "
        "breaking news that affects the stocks you care about.",
        "Subscribe to our newsletter for the latest updates.",
        "Sign up for our free newsletter and never miss a story.",
        "Click here to subscribe.",
        "Support our journalism: become a member today.",
        "Donate now and help us keep reporting.",
        "If you value our reporting, please consider a subscription.",
    ],
}

NEWS = [
    # mentions of appeal words in reporting
    "Netflix added 8 million subscribers in the quarter, beating forecasts.",
    "“We will support independent retailers through the winter,” the minister said.",
    "Our subscribers grew by a fifth this year and our newsletter business is profitable, "
    "chief executive Jane Doe said.",
    "If you donate to a registered charity before December 31, the gift may be deducted "
    "from your taxes.",
    "Readers who subscribe to the print edition will pay 10 percent more from March, the "
    "publisher announced.",
    "The company said it will support the growth of its partners with new cloud credits.",
    "Donations to the relief fund passed $2 million on Friday, organisers said.",
    "Investors who want free trial access to the data must apply by June, the exchange told us.",
    "The Alibaba DAMO Academy will be at the forefront of developing next-generation "
    "technology that will spur the growth of Alibaba and our partners",
    # copyright as a subject
    "The lawsuit turns on copyright law and on whether the photographs were fair use.",
    "The band won its copyright case in 2019 after a four-year fight over the chorus.",
    "Under the treaty, each member state keeps all rights reserved to it before 1990, and the "
    "court said the clause covered fishing, mining and shipping in the disputed waters, which "
    "the two governments have argued over for decades without reaching any agreement on how "
    "the revenue should be shared.",
    # labels and comments as ordinary words
    "Most popular — and most criticised — was the plan to raise fuel taxes.",
    "Related party transactions were flagged by the auditors in March.",
    "See also the chart below, which shows rates since 2008.",
    "Comments from the central bank governor moved markets on Tuesday.",
    "Trending down for a third month, inflation fell to 3.1 percent.",
    "Add a name to the list of candidates and the committee will vote on it within 30 days, "
    "officials said.",
    "Enter the new tariff regime: importers will pay 25 percent on steel from March.",
]


@pytest.mark.parametrize(
    ("reason", "line"), [(r, line) for r, lines in FLAGGED.items() for line in lines]
)
def test_boilerplate_lines_are_flagged_by_their_rule(reason: str, line: str) -> None:
    assert boilerplate_reason(line) == reason


@pytest.mark.parametrize("line", NEWS)
def test_news_lines_that_mention_the_same_words_are_kept(line: str) -> None:
    assert boilerplate_reason(line) is None
    lead = "Officials met on Monday to discuss the plan."
    assert clean_text(f"{lead}\n{line}\nThe talks continue next week.") == (
        f"{lead}\n{line}\nThe talks continue next week."
    )


def test_a_short_line_inside_an_appeal_block_and_its_sign_off_go() -> None:
    raw = "\n".join(
        [
            "The plant will open in May.",
            "Your contribution enables us to keep reporting.",
            "It means we can stay free for everyone.",
            "You can support us via PayPal.",
            "Thank you.",
            "The mayor welcomed the news.",
        ]
    )
    assert clean_text(raw) == "The plant will open in May.\nThe mayor welcomed the news."


def test_short_lines_next_to_links_or_footers_are_not_swallowed() -> None:
    raw = "\n".join(
        [
            "See Also: Markets wrap",
            "He said no.",
            "Related: Oil slides",
            "Thank you.",
            "© 2024 Example News",
        ]
    )
    assert clean_text(raw) == "He said no.\nThank you."


def test_duplicated_title_lines_go_and_repeats_elsewhere_stay() -> None:
    title = "Port strike ends after nine days"
    body = "\n".join(
        [
            title,
            "",
            title.upper(),
            "Port strike ends after nine days, union says, as ships leave.",
            "Workers cheered.",
            "Workers cheered.",
            "Cargo moved again.",
            "Workers cheered.",
        ]
    )
    assert clean_text(body, title=title) == "\n".join(
        [
            "Port strike ends after nine days, union says, as ships leave.",
            "Workers cheered.",
            "Cargo moved again.",
            "Workers cheered.",
        ]
    )
