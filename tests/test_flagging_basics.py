"""The flagging engine as a pure function: strings in, frozen flags out. No database here.

Every example sentence is written for this file; none comes from the evaluation data.
"""

import pytest

from reviewapp.flagging import Claim, find_flags, find_flags_many

CATEGORIES = ("exaggeration", "unverifiable", "manipulation")

# (copy, a rule id that must be among its flags, the text that rule must flag)
EXAMPLES = [
    ("Our blender is the best kitchen gadget ever made.", "exaggeration.superlative_absolute", "best"),
    ("This is the world's first self-cleaning kettle.", "exaggeration.superlative_absolute", "world's first"),
    ("The fastest laptop in the world, now in silver.", "exaggeration.superlative_absolute", "fastest"),
    ("Our grinder is simply unbeatable.", "exaggeration.superlative_absolute", "unbeatable"),
    ("Try the vacuum risk-free for a month.", "exaggeration.absolute_guarantee", "risk-free"),
    ("A torch that never fails when you need it.", "exaggeration.absolute_guarantee", "never fails"),
    ("A miracle balm for cracked heels.", "exaggeration.miracle_cure", "miracle"),
    ("This tonic cures hay fever.", "exaggeration.miracle_cure", "cures"),
    ("62% of gardeners prefer our compost.", "unverifiable.statistic_unsourced", "62%"),
    ("Eight out of ten cats choose this litter.", "unverifiable.statistic_unsourced", "Eight out of ten"),
    ("4 in 5 dentists use this brush.", "unverifiable.statistic_unsourced", "4 in 5 dentists"),
    ("A clinically tested hand cream.", "unverifiable.establishment_claim", "clinically tested"),
    ("Research shows our pillow improves sleep.", "unverifiable.establishment_claim", "Research shows"),
    ("It charges 3x faster than rival power banks.", "unverifiable.comparative_claim", "3x faster than"),
    ("The new fan is twice as quiet as the old one.", "unverifiable.comparative_claim", "twice as quiet"),
    ("Big savings on garden chairs, today only.", "manipulation.false_urgency", "today only"),
    ("The discount ends in 15 minutes.", "manipulation.countdown", "ends in 15 minutes"),
    ("Act now to get the bundle price.", "manipulation.false_urgency", "Act now"),
    ("Only 4 jackets left in your size.", "manipulation.false_scarcity", "Only 4 jackets left"),
    ("These lanterns are selling fast.", "manipulation.false_scarcity", "selling fast"),
    ("12 shoppers are viewing this lamp right now.", "manipulation.fake_social_proof", "12 shoppers"),
    ("58 people bought this tent today.", "manipulation.fake_social_proof", "58 people bought"),
]

PLAIN_COPY = [
    "Our cotton tote holds 12 litres and folds into its own pocket.",
    "The store opens at 9 am on Saturday and closes at 6 pm.",
    "Each mug is glazed by hand in our workshop in Leeds and is dishwasher safe.",
    "Delivery takes three to five working days. Returns are free within 30 days.",
    "The lamp has a linen shade, a brass base and a two-metre cable.",
]

SOURCED_STATISTICS = [
    "According to a 2025 survey by Acme Research, 62% of gardeners prefer our compost.",
    "62% of gardeners prefer our compost.\u00b9",
    "62% of gardeners prefer our compost [2].",
    "62% of gardeners prefer our compost (https://example.com/compost-survey).",
]


def _rules(flags) -> set[str]:
    return {flag.rule for flag in flags}


@pytest.mark.parametrize(("text", "rule", "fragment"), EXAMPLES, ids=[e[1] + ":" + e[2] for e in EXAMPLES])
def test_each_rule_flags_its_example(text, rule, fragment):
    flags = [flag for flag in find_flags(text) if flag.rule == rule]
    assert flags, f"{rule} did not fire on {text!r}: {_rules(find_flags(text))}"
    assert any(fragment.lower() in flag.text.lower() for flag in flags), [flag.text for flag in flags]
    for flag in flags:
        assert flag.category == rule.split(".")[0]
        assert flag.severity in {"blocker", "warning"}
        assert flag.message and flag.reference


def test_one_text_with_all_three_categories():
    text = "The best vitamin gummies ever made. 81% of parents agree. Only 3 tubs left!"
    assert {flag.category for flag in find_flags(text)} == set(CATEGORIES)


@pytest.mark.parametrize("text", PLAIN_COPY)
def test_plain_factual_copy_gets_no_flags(text):
    assert find_flags(text) == []


@pytest.mark.parametrize(
    "text",
    [
        *[text for text, _, _ in EXAMPLES],
        "🔥🔥 Hurry — only 3 left! Café crème, the #1 choice. «73% of users» agree… 2x faster than before.",
        "Line one.\n\nThe best\tsofa ever, 100% guaranteed results.\r\nStudies show: only 2 left!",
    ],
)
def test_flag_text_is_the_slice_of_the_input(text):
    flags = find_flags(text)
    for flag in flags:
        assert 0 <= flag.start < flag.end <= len(text)
        assert flag.text == text[flag.start : flag.end]
    assert flags == sorted(flags, key=lambda flag: (flag.start, flag.end, flag.rule))


def test_unsourced_statistic_is_flagged():
    assert "unverifiable.statistic_unsourced" in _rules(find_flags("62% of gardeners prefer our compost."))


@pytest.mark.parametrize("text", SOURCED_STATISTICS)
def test_statistic_with_a_source_nearby_is_not_flagged(text):
    assert "unverifiable.statistic_unsourced" not in _rules(find_flags(text))


def test_a_matching_claim_downgrades_the_unverifiable_flag_to_info_with_evidence():
    text = "Clinically tested on 120 volunteers. The best kettle ever."
    claim = Claim(
        text="Clinically tested on 120 volunteers", evidence="Trial report KT-7 (2025), claims/kt7.pdf"
    )
    before = {flag.rule: flag for flag in find_flags(text)}
    after = {flag.rule: flag for flag in find_flags(text, claims=(claim,))}

    assert before["unverifiable.establishment_claim"].severity == "blocker"
    cleared = after["unverifiable.establishment_claim"]
    assert cleared.severity == "info"
    assert "Trial report KT-7 (2025), claims/kt7.pdf" in cleared.message
    assert (cleared.start, cleared.end, cleared.text) == (
        before["unverifiable.establishment_claim"].start,
        before["unverifiable.establishment_claim"].end,
        "Clinically tested",
    )
    # The claims library covers facts only: an exaggeration elsewhere keeps its severity.
    assert after["exaggeration.superlative_absolute"] == before["exaggeration.superlative_absolute"]


def test_a_claim_that_does_not_match_changes_nothing():
    text = "Clinically tested on 120 volunteers. 62% of gardeners prefer our compost."
    unrelated = Claim(text="Our toaster browns bread evenly on both sides", evidence="Lab note T-3")
    assert find_flags(text, claims=(unrelated,)) == find_flags(text)


def test_unsupported_language_gives_one_info_flag_over_the_text():
    text = "  Das beste Angebot der Welt, nur heute!  "
    flags = find_flags(text, language="de")
    assert len(flags) == 1
    (flag,) = flags
    assert flag.rule == "language.unsupported"
    assert flag.severity == "info"
    assert "de" in flag.message
    assert flag.text == text[flag.start : flag.end] == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \n\t  \r\n",
        "🔥🚀✨👍🏽",
        "<p>The <b>best</b> serum</p><script>alert(1)</script><img src=x onerror=alert(1)>",
        "\u200b\u200d\ufeff",
        "Only 3 left! " * 3846 + "Go",
    ],
    ids=["empty", "whitespace", "emoji", "html", "zero-width", "50k-chars"],
)
def test_odd_input_does_not_crash(text):
    flags = find_flags(text)
    for flag in flags:
        assert flag.text == text[flag.start : flag.end]
    if len(text) > 1000:
        assert len(text) == 50_000
        assert len(flags) >= 3846


def test_find_flags_many_returns_results_in_input_order_equal_to_single_calls():
    texts = [
        PLAIN_COPY[0],
        *[text for text, _, _ in EXAMPLES[::3]],
        "",
        EXAMPLES[0][0],
        SOURCED_STATISTICS[0],
    ]
    assert find_flags_many(texts) == [find_flags(text) for text in texts]
    assert find_flags_many(texts, language="de") == [find_flags(text, language="de") for text in texts]
    assert find_flags_many([]) == []


def test_the_bench_interleaves_slices_that_cover_every_text_once():
    from reviewapp.flagging import bench

    texts = ["word " * 700, "a b c", "word " * 2500, "", "word " * 4000, "tail"]
    slices = bench._slices(texts)
    assert [index for start, end in slices for index in range(start, end)] == list(range(len(texts)))
    assert slices == [(0, 3), (3, 5), (5, 6)]  # cut once ~3,000 words are reached
