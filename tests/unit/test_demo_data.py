"""The demo model's synthetic data: held-out split, arithmetic of every trace, chat template."""

from __future__ import annotations

import random
import re
from itertools import islice

import jinja2
import pytest

from workbench.demo import data

_EQUATION = re.compile(r"(\d+) ([+-]) (\d+)(?: ([+-]) (\d+))? = (-?\d+)")


def test_held_out_split_is_disjoint_complete_and_about_a_tenth() -> None:
    everything = set(data.all_problems())
    training = set(data.training_problems())
    held_out = set(data.held_out_problems())
    assert training.isdisjoint(held_out)
    assert training | held_out == everything
    assert 0.08 < len(held_out) / len(everything) < 0.12


def test_held_out_sample_is_deterministic_and_balanced() -> None:
    first = data.held_out_problems(200)
    assert first == data.held_out_problems(200)
    assert len(first) == 200
    operations = [p.operation for p in first]
    assert operations.count("add") == operations.count("sub") == 100
    assert all(data.is_held_out(p) for p in first)


def test_training_stream_is_seeded_and_never_shows_a_held_out_problem() -> None:
    first = list(islice(data.conversation_stream(seed=3), 3000))
    again = list(islice(data.conversation_stream(seed=3), 3000))
    other = list(islice(data.conversation_stream(seed=4), 3000))
    assert first == again
    assert first != other
    assert not any(data.is_held_out(c.problem) for c in first)
    thinking_off = sum(not c.thinking for c in first) / len(first)
    assert 0.25 < thinking_off < 0.35


def _equations(text: str) -> list[tuple[int, int]]:
    """(claimed, actual) for every ``a op b [op c] = r`` in a trace."""
    checked = []
    for a, op1, b, op2, c, result in _EQUATION.findall(text):
        value = int(a) + int(b) if op1 == "+" else int(a) - int(b)
        if op2:
            value = value + int(c) if op2 == "+" else value - int(c)
        checked.append((int(result), value))
    return checked


@pytest.mark.parametrize("style_seed", range(6))
def test_every_trace_step_is_true_and_ends_with_the_answer(style_seed: int) -> None:
    rng = random.Random(style_seed)
    for problem in data.all_problems():
        conversation = data.make_conversation(problem, rng)
        equations = _equations(conversation.reasoning)
        assert equations, conversation.reasoning
        assert all(claimed == actual for claimed, actual in equations), conversation.reasoning
        assert data.final_number(conversation.reasoning) == problem.answer
        assert data.final_number(conversation.answer) == problem.answer


def test_traces_vary_so_samples_can_differ() -> None:
    rng = random.Random(0)
    problem = data.Problem("add", 47, 38)
    traces = {data.make_conversation(problem, rng).reasoning for _ in range(50)}
    assert len(traces) >= 4


def test_non_thinking_conversation_has_no_trace() -> None:
    conversation = data.make_conversation(
        data.Problem("sub", 52, 48), random.Random(0), thinking=False
    )
    assert conversation.reasoning == ""
    assert data.THINK_END not in conversation.completion_text()
    assert conversation.completion_text().endswith(data.EOS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("47 + 38 = 85.", 85), ("**4**", 4), ("The answer is 152.", 152), ("", None), (None, None)],
)
def test_final_number(text: str | None, expected: int | None) -> None:
    assert data.final_number(text) == expected


def _render(messages: list[dict[str, str]], **kwargs: object) -> str:
    template = jinja2.Environment().from_string(data.CHAT_TEMPLATE)
    return template.render(messages=messages, bos_token=data.BOS, **kwargs)


@pytest.mark.parametrize("thinking", [True, False])
def test_chat_template_matches_the_training_prompt(thinking: bool) -> None:
    kwargs: dict[str, object] = {"add_generation_prompt": True}
    if not thinking:
        kwargs["enable_thinking"] = False
    rendered = _render([{"role": "user", "content": "What is 47 + 38?"}], **kwargs)
    assert rendered == data.render_prompt("What is 47 + 38?", thinking=thinking)
    if thinking:
        # R1-Distill style: the prompt opens the block, so the model emits only "... </think>".
        assert rendered.endswith("<|assistant|><think>\n")
    else:
        assert rendered.endswith("<think>\n\n</think>\n\n")


def test_chat_template_enable_thinking_true_is_the_default() -> None:
    messages = [{"role": "user", "content": "12 + 13 = ?"}]
    assert _render(messages, add_generation_prompt=True, enable_thinking=True) == _render(
        messages, add_generation_prompt=True
    )


def test_chat_template_drops_earlier_reasoning() -> None:
    messages = [
        {"role": "user", "content": "12 + 13 = ?"},
        {"role": "assistant", "content": "<think>\n2 + 3 = 5.\n</think>\n\n**25**"},
        {"role": "user", "content": "What is 40 - 1?"},
    ]
    rendered = _render(messages, add_generation_prompt=True)
    assert "2 + 3 = 5" not in rendered
    assert "<|assistant|>**25**<|end|><|user|>What is 40 - 1?<|assistant|><think>\n" in rendered
