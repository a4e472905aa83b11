"""Final answers are normalised so equal ones group together; the majority is the largest group."""

from __future__ import annotations

import pytest

from workbench.chat.summary import normalise_answer, summarise_answers


@pytest.mark.parametrize(
    "answer",
    [
        "82",
        "**82**",
        "The answer is 82.",
        "It is 82.",
        "**17 + 65 = 82.**\n\nAdd the tens (70) and the units (12): 70 + 12 = 82.",
        "Final answer: \\boxed{82}",
        "82.0",
    ],
)
def test_ways_of_saying_82_normalise_to_82(answer: str) -> None:
    assert normalise_answer(answer) == "82"


def test_numbers_lose_thousands_separators() -> None:
    assert normalise_answer("The answer is 1,000.") == "1000"


def test_words_compare_case_and_markup_insensitively() -> None:
    assert normalise_answer("The answer is *Paris*.") == normalise_answer("paris") == "paris"


def test_empty_answer_has_empty_key() -> None:
    assert normalise_answer("  ** **  ") == ""


def test_majority_groups_equal_answers() -> None:
    summary = summarise_answers(
        [(0, "The answer is **82**."), (1, "82"), (2, "The answer is 72."), (3, "It is 82.")]
    )
    assert [(g.key, g.indices) for g in summary.groups] == [("82", (0, 1, 3)), ("72", (2,))]
    assert summary.majority is not None and summary.majority.key == "82"
    assert summary.describe() == "82 × 3 · 72 × 1 — majority 82 (3 of 4)"


def test_tie_has_no_majority() -> None:
    summary = summarise_answers([(0, "82"), (1, "72")])
    assert summary.majority is None
    assert summary.describe().endswith("no majority (tie)")


def test_empty_answers_never_win() -> None:
    summary = summarise_answers([(0, ""), (1, ""), (2, "82")])
    assert summary.majority is not None and summary.majority.key == "82"
    assert summary.groups[-1].key == ""
    assert "(empty) × 2" in summary.describe()


def test_punctuation_only_answer_is_not_empty() -> None:
    summary = summarise_answers([(0, "82"), (1, "!!!!!!!!"), (2, "It is **82**.")])
    assert [g.key for g in summary.groups] == ["82", "!!!!!!!!"]
    assert summary.describe() == "82 × 2 · !!!!!!!! × 1 — majority 82 (2 of 3)"


def test_a_plurality_is_called_most_common_not_majority() -> None:
    summary = summarise_answers([(0, "55"), (1, "55"), (2, "50"), (3, "52")])
    assert summary.majority is not None and summary.majority.key == "55"
    assert summary.majority_word == "most common"
    assert summary.describe() == "55 × 2 · 50 × 1 · 52 × 1 — most common 55 (2 of 4)"
