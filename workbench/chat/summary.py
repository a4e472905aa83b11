"""Normalise final answers so equal ones group together, and find the majority across samples."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER_IS = re.compile(
    r"(?:final answer|answer)\s*(?:is|:|=)\s*[:\s]*(.+?)(?:[.!;]\s|[.!;]?$|\n)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_MARKUP = re.compile(r"[*_`$#>]+")
_NON_WORD = re.compile(r"[^\w\s.-]+")


def _normalise_number(token: str) -> str:
    number = token.replace(",", "")
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number or "0"


def _normalise_text(text: str) -> str:
    text = _NON_WORD.sub(" ", text.lower())
    return " ".join(text.split()).strip(" .-")


def normalise_answer(answer: str) -> str:
    """A comparison key for a final answer: "82", "**82**" and "The answer is 82." all give "82".

    Order: a \\boxed{...} value, else what follows "answer is", else the last number, else the
    text lower-cased with markup and punctuation removed. Empty answers give "".
    """
    text = _MARKUP.sub("", answer).strip()
    if not text:
        return ""
    boxed = _BOXED.findall(answer)
    if boxed:
        text = boxed[-1]
    else:
        stated = _ANSWER_IS.findall(text)
        if stated:
            text = stated[-1]
    numbers = _NUMBER.findall(text)
    if numbers:
        return _normalise_number(numbers[-1])
    # All punctuation ("!!!!") is still an answer, and must not count as an empty one.
    return _normalise_text(text) or "".join(answer.split())


@dataclass(frozen=True)
class AnswerGroup:
    """Samples whose answers share one key; ``display`` is the first sample's short answer."""

    key: str
    display: str
    indices: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class AnswerSummary:
    """Groups largest first; ``majority`` is the single largest group (a plurality: see
    ``majority_word``), None on a tie or when no sample answered."""

    groups: tuple[AnswerGroup, ...]
    total: int
    majority: AnswerGroup | None

    @property
    def majority_word(self) -> str:
        """ "majority" when the top group has more than half the samples, else "most common"."""
        if self.majority is not None and self.majority.count * 2 > self.total:
            return "majority"
        return "most common"

    def describe(self) -> str:
        """One line, e.g. "82 × 3 · 72 × 1 — majority 82 (3 of 4)"."""
        parts = [f"{g.display or '(empty)'} × {g.count}" for g in self.groups]
        line = " · ".join(parts)
        if self.majority is not None:
            verdict = (
                f"{self.majority_word} {self.majority.display} "
                f"({self.majority.count} of {self.total})"
            )
        elif self.groups:
            verdict = "no majority (tie)"
        else:
            verdict = "no answers"
        return f"{line} — {verdict}" if line else verdict


def summarise_answers(answers: Sequence[tuple[int, str]]) -> AnswerSummary:
    """Group ``(sample index, final answer)`` pairs by their normalised answer."""
    by_key: dict[str, list[int]] = {}
    for index, answer in answers:
        by_key.setdefault(normalise_answer(answer), []).append(index)
    groups = tuple(
        sorted(
            (AnswerGroup(key, key, tuple(indices)) for key, indices in by_key.items()),
            key=lambda g: (g.key == "", -g.count, g.indices[0]),
        )
    )
    voting = [g for g in groups if g.key]
    majority: AnswerGroup | None = None
    if voting and (len(voting) == 1 or voting[0].count > voting[1].count):
        majority = voting[0]
    return AnswerSummary(groups=groups, total=len(answers), majority=majority)
