"""Per-sample split and counts with vLLM's real deepseek_r1 parser and a real tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import build_tiny_tokenizer
from workbench.engine.host import prompt_closed_thinking
from workbench.engine.sampling import SampleTracker


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tok") / "tiny")


def _parser(tokenizer: Any) -> Any:
    from vllm.reasoning import ReasoningParserManager

    parser_class = ReasoningParserManager.get_reasoning_parser("deepseek_r1")
    return parser_class(tokenizer, chat_template_kwargs={"enable_thinking": True})


def _stream(tracker: SampleTracker, tokenizer: Any, text: str) -> list[tuple[str, str]]:
    """Feed ``text`` one token at a time, as vLLM's DELTA outputs do."""
    splits = []
    for token_id in tokenizer.encode(text, add_special_tokens=False):
        piece = tokenizer.decode([token_id], skip_special_tokens=False)
        split = tracker.feed(piece, [token_id])
        splits.append((split.reasoning, split.content))
    return splits


def test_template_opened_think_everything_before_the_close_tag_is_reasoning(
    tokenizer: Any,
) -> None:
    tracker = SampleTracker(0, prompt_tokens=9, parser=_parser(tokenizer))
    _stream(tracker, tokenizer, "two plus two</think>four")
    assert tracker.reasoning == "two plus two"
    assert tracker.content == "four"
    close = tokenizer.convert_tokens_to_ids("</think>")
    ids = tracker.token_ids
    assert tracker.reasoning_tokens == ids.index(close) + 1  # the close tag counts as thinking
    assert tracker.answer_tokens == len(ids) - ids.index(close) - 1
    stats = tracker.finish("stop", -3.0)
    assert (stats.prompt_tokens, stats.finish_reason, stats.cumulative_logprob) == (9, "stop", -3.0)
    assert stats.thinking_seconds is not None and stats.ttft_s is not None


def test_model_opened_think_itself(tokenizer: Any) -> None:
    tracker = SampleTracker(1, prompt_tokens=3, parser=_parser(tokenizer))
    _stream(tracker, tokenizer, "<think>lazy dog</think>quick fox")
    assert tracker.reasoning.strip() == "lazy dog"
    assert tracker.content == "quick fox"


def test_no_close_tag_means_all_reasoning(tokenizer: Any) -> None:
    tracker = SampleTracker(2, prompt_tokens=3, parser=_parser(tokenizer))
    _stream(tracker, tokenizer, "the quick brown fox")
    assert (tracker.reasoning, tracker.content, tracker.answer_tokens) == (
        "the quick brown fox",
        "",
        0,
    )


def test_without_a_parser_everything_is_answer(tokenizer: Any) -> None:
    tracker = SampleTracker(0, prompt_tokens=3, parser=None)
    _stream(tracker, tokenizer, "<think>x</think>y")
    assert tracker.reasoning == "" and tracker.content == "<think>x</think>y"
    assert tracker.finish("length", None).thinking_seconds is None


def _prompt_ids(tokenizer: Any, thinking: bool) -> list[int]:
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "<think>\nr\n</think>\n\na"},
        {"role": "user", "content": "two plus two"},
    ]
    text = tokenizer.apply_chat_template(
        history, tokenize=False, add_generation_prompt=True, enable_thinking=thinking
    )
    return list(tokenizer.encode(text, add_special_tokens=False))


def test_a_template_that_closed_the_think_block_means_the_output_is_all_answer(
    tokenizer: Any,
) -> None:
    parser = _parser(tokenizer)
    assert prompt_closed_thinking(parser, _prompt_ids(tokenizer, thinking=False)) is True
    # Opened by the template; the kept history's </think> is further back and does not count.
    assert prompt_closed_thinking(parser, _prompt_ids(tokenizer, thinking=True)) is False


def test_engine_based_qwen3_parser_splits_through_the_same_interface(tokenizer: Any) -> None:
    from vllm.reasoning import ReasoningParserManager

    parser = ReasoningParserManager.get_reasoning_parser("qwen3")(
        tokenizer, chat_template_kwargs={"enable_thinking": True}
    )
    tracker = SampleTracker(0, prompt_tokens=3, parser=parser)
    _stream(tracker, tokenizer, "<think>lazy dog</think>quick fox")
    tracker.flush()
    assert (tracker.reasoning, tracker.content) == ("lazy dog", "quick fox")
