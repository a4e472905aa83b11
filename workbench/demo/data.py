"""Synthetic arithmetic conversations for the demo model: questions, reasoning traces, answers.

Pure and deterministic: no torch, no tokenizers. The trainer, the evaluation and the tests all draw
problems from here, so the held-out split is defined in exactly one place.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest
from typing import Literal

Operation = Literal["add", "sub"]
OPERATIONS: tuple[Operation, ...] = ("add", "sub")
OPERAND_MIN = 10
OPERAND_MAX = 99
# One problem in HELD_OUT_MODULUS is never trained on; evaluation draws only from those.
HELD_OUT_MODULUS = 10

BOS = "<|begin|>"
EOS = "<|end|>"
PAD = "<|pad|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
THINK_START = "<think>"
THINK_END = "</think>"
CONTROL_TOKENS = (BOS, EOS, PAD, USER, ASSISTANT)
THINK_TOKENS = (THINK_START, THINK_END)

# DeepSeek-R1-Distill style: the generation prompt already opens the think block, so the model
# emits only "trace </think> answer". enable_thinking=False (Qwen3 style) closes an empty block in
# the prompt and the model answers directly. Earlier assistant turns are rendered without their
# reasoning, as R1's template does.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' %}{{ message['content'] }}"
    "{%- elif message['role'] == 'user' %}{{ '<|user|>' + message['content'] }}"
    "{%- elif message['role'] == 'assistant' %}"
    "{%- set content = message['content'] %}"
    "{%- if '</think>' in content %}{% set content = content.split('</think>')[-1] | trim %}"
    "{%- endif %}"
    "{{ '<|assistant|>' + content + '<|end|>' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|assistant|>' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{ '<think>\\n\\n</think>\\n\\n' }}"
    "{%- else %}{{ '<think>\\n' }}{%- endif %}"
    "{%- endif %}"
)


@dataclass(frozen=True)
class Problem:
    """One arithmetic question: ``left op right``."""

    operation: Operation
    left: int
    right: int

    @property
    def symbol(self) -> str:
        return "+" if self.operation == "add" else "-"

    @property
    def answer(self) -> int:
        return self.left + self.right if self.operation == "add" else self.left - self.right

    @property
    def expression(self) -> str:
        return f"{self.left} {self.symbol} {self.right}"


@dataclass(frozen=True)
class Conversation:
    """A rendered training example: the user's question and the assistant's two parts."""

    problem: Problem
    question: str
    reasoning: str  # empty when thinking is off
    answer: str
    thinking: bool

    def prompt_text(self) -> str:
        """The chat-template rendering of the question with the generation prompt."""
        return render_prompt(self.question, thinking=self.thinking)

    def completion_text(self) -> str:
        """What the model must generate after the prompt, up to and including EOS."""
        if self.thinking:
            return f"{self.reasoning}\n{THINK_END}\n\n{self.answer}{EOS}"
        return f"{self.answer}{EOS}"


def render_prompt(question: str, *, thinking: bool = True) -> str:
    """The prompt text ``CHAT_TEMPLATE`` produces for one user message (kept in sync by a test)."""
    opening = f"{THINK_START}\n" if thinking else f"{THINK_START}\n\n{THINK_END}\n\n"
    return f"{BOS}{USER}{question}{ASSISTANT}{opening}"


def is_held_out(problem: Problem) -> bool:
    """Deterministic split: a stable hash of the problem, not Python's salted ``hash``."""
    key = f"{problem.operation}:{problem.left}:{problem.right}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % HELD_OUT_MODULUS == 0


def all_problems() -> list[Problem]:
    """Every problem the demo model covers; subtraction never goes below zero."""
    operands = range(OPERAND_MIN, OPERAND_MAX + 1)
    problems = [Problem("add", a, b) for a in operands for b in operands]
    problems += [Problem("sub", a, b) for a in operands for b in operands if a >= b]
    return problems


def training_problems() -> list[Problem]:
    return [p for p in all_problems() if not is_held_out(p)]


def held_out_problems(count: int | None = None, seed: int = 0) -> list[Problem]:
    """A deterministic sample of problems the trainer never sees, operations interleaved."""
    held_out = [p for p in all_problems() if is_held_out(p)]
    by_operation = {op: [p for p in held_out if p.operation == op] for op in OPERATIONS}
    rng = random.Random(seed)
    for group in by_operation.values():
        rng.shuffle(group)
    # Alternate operations while both last, then the rest: any prefix is as balanced as it can be.
    interleaved = [p for pair in zip_longest(*by_operation.values()) for p in pair if p is not None]
    return interleaved if count is None else interleaved[:count]


_QUESTIONS: dict[Operation, tuple[str, ...]] = {
    "add": (
        "What is {a} + {b}?",
        "Compute {a} + {b}.",
        "{a} + {b} = ?",
        "What is {a} plus {b}?",
        "Add {a} and {b}.",
        "Calculate {a} + {b}.",
        "what's {a}+{b}?",
        "{a}+{b}",
        "How much is {a} plus {b}?",
        "Find the sum of {a} and {b}.",
    ),
    "sub": (
        "What is {a} - {b}?",
        "Compute {a} - {b}.",
        "{a} - {b} = ?",
        "What is {a} minus {b}?",
        "Subtract {b} from {a}.",
        "Calculate {a} - {b}.",
        "what's {a}-{b}?",
        "{a}-{b}",
        "How much is {a} minus {b}?",
        "Find the difference {a} - {b}.",
    ),
}

_ANSWERS = (
    "{expr} = {r}.",
    "The answer is {r}.",
    "**{r}**",
)


def question_text(problem: Problem, variant: int = 0) -> str:
    """The user's question in phrasing ``variant`` (wraps around)."""
    templates = _QUESTIONS[problem.operation]
    return templates[variant % len(templates)].format(a=problem.left, b=problem.right)


def answer_text(problem: Problem, variant: int = 0) -> str:
    return _ANSWERS[variant % len(_ANSWERS)].format(expr=problem.expression, r=problem.answer)


@dataclass(frozen=True)
class _Column:
    """One digit column of a written addition or subtraction, ones first."""

    top: int
    bottom: int
    carry_in: int  # carry (add) or borrow (sub) coming from the column to the right
    value: int  # the digit written in this column
    carry_out: int
    raw: int  # add: the column sum; sub: the top digit after paying the borrow in


def _columns(problem: Problem) -> list[_Column]:
    top_digits = [int(d) for d in reversed(str(problem.left))]
    bottom_digits = [int(d) for d in reversed(str(problem.right))]
    bottom_digits += [0] * (len(top_digits) - len(bottom_digits))
    columns: list[_Column] = []
    carry = 0
    for top, bottom in zip(top_digits, bottom_digits, strict=True):
        if problem.operation == "add":
            total = top + bottom + carry
            columns.append(_Column(top, bottom, carry, total % 10, total // 10, total))
            carry = total // 10
        else:
            reduced = top - carry
            borrow = 1 if reduced < bottom else 0
            value = reduced + 10 * borrow - bottom
            columns.append(_Column(top, bottom, carry, value, borrow, reduced))
            carry = borrow
    return columns


_PLACE = ("ones", "tens", "hundreds")


def _add_step(column: _Column, style: int) -> str:
    terms = f"{column.top} + {column.bottom}" + (" + 1" if column.carry_in else "")
    total = column.raw
    if style == 0:
        tail = f", write {column.value}, carry 1" if column.carry_out else f", write {column.value}"
        return f"{terms} = {total}{tail}."
    if style == 1:
        tail = f", so {column.value} and carry 1" if column.carry_out else f", so {column.value}"
        return f"{terms} = {total}{tail}."
    tail = f" (digit {column.value}, carry 1)" if column.carry_out else f" (digit {column.value})"
    return f"{terms} = {total}{tail}."


def _sub_step(column: _Column, style: int) -> str:
    parts: list[str] = []
    top = column.top
    if column.carry_in:
        parts.append(f"{column.top} - 1 = {column.raw} after the borrow")
        top = column.raw
    if column.carry_out:
        borrowed = top + 10
        if style == 0:
            lead = f"{top} < {column.bottom}, borrow:"
        elif style == 1:
            lead = f"{top} is less than {column.bottom}, so borrow 1:"
        else:
            lead = f"borrow to get {borrowed},"
        parts.append(f"{lead} {borrowed} - {column.bottom} = {column.value}")
    else:
        parts.append(f"{top} - {column.bottom} = {column.value}")
    return ", ".join(parts) + "."


def _reasoning(problem: Problem, style: int, rng: random.Random) -> str:
    columns = _columns(problem)
    step = _add_step if problem.operation == "add" else _sub_step
    steps = [step(c, style) for c in columns]
    digits = [c.value for c in columns]
    if problem.operation == "add" and columns[-1].carry_out:
        digits.append(1)
    result = problem.answer
    if style == 0:
        body = " ".join(f"{_PLACE[i].capitalize()}: {s}" for i, s in enumerate(steps))
        if problem.operation == "add" and columns[-1].carry_out:
            body += " Hundreds: 1."
        return f"{body} So {problem.expression} = {result}."
    if style == 1:
        opener = rng.choice(("Let me go digit by digit.", "Digit by digit, ones first."))
        body = " Then ".join(steps)
        read = ", ".join(str(d) for d in reversed(digits))
        return f"{opener} {body} Reading the digits {read} gives {result}."
    opener = rng.choice((f"Okay, {problem.expression}.", f"We need {problem.expression}."))
    body = " ".join(f"The {_PLACE[i]}: {s}" for i, s in enumerate(steps))
    if problem.operation == "add" and columns[-1].carry_out:
        body += " The carry makes the hundreds 1."
    return f"{opener} {body} That makes {result}."


REASONING_STYLES = 3


def make_conversation(
    problem: Problem, rng: random.Random, *, thinking: bool = True
) -> Conversation:
    """A randomly phrased conversation for ``problem`` (phrasing drawn from ``rng``)."""
    question = question_text(problem, rng.randrange(len(_QUESTIONS[problem.operation])))
    answer = answer_text(problem, rng.randrange(len(_ANSWERS)))
    reasoning = _reasoning(problem, rng.randrange(REASONING_STYLES), rng) if thinking else ""
    return Conversation(problem, question, reasoning, answer, thinking)


def conversation_stream(seed: int, *, non_thinking_fraction: float = 0.3) -> Iterator[Conversation]:
    """An endless, seeded stream of training conversations over the non-held-out problems."""
    rng = random.Random(seed)
    problems = training_problems()
    while True:
        problem = problems[rng.randrange(len(problems))]
        yield make_conversation(problem, rng, thinking=rng.random() >= non_thinking_fraction)


_INTEGER = re.compile(r"-?\d+")


def final_number(answer: str | None) -> int | None:
    """The last integer in an answer text, or None when there is none."""
    if not answer:
        return None
    found: list[str] = _INTEGER.findall(answer)
    return int(found[-1]) if found else None


def corpus_for_tokenizer() -> Iterator[str]:
    """Every phrasing fragment the tokenizer must cover (deterministic order)."""
    rng = random.Random(1234)
    for problem in all_problems()[::7]:
        for thinking in (True, False):
            conversation = make_conversation(problem, rng, thinking=thinking)
            yield conversation.question
            yield conversation.reasoning
            yield conversation.answer
