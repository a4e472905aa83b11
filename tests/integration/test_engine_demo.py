"""The shipped demo profile through the engine service: every sample thinks, then answers.

The demo model's template already opens ``<think>`` in the generation prompt, so this is the
real-world case of vLLM's deepseek_r1 parser splitting output that never contains ``<think>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workbench.engine.api import ChatMessage, ChatOverrides, RequestFinished, SampleFinished
from workbench.engine.service import VllmEngineService
from workbench.profiles import load_profile

REPO = Path(__file__).resolve().parent.parent.parent

# The demo model ships in the package: if it is missing, these tests must fail, not skip.
pytestmark = [pytest.mark.engine]


def _assert_run_metrics_consistent(sample: SampleFinished, tokenizer: Any) -> None:
    """Every run metric is there and agrees with the others and with the text."""
    stats = sample.stats
    assert stats.ttft_s is not None and stats.e2e_s is not None
    assert 0 < stats.ttft_s <= stats.e2e_s, stats
    if stats.answer_tokens:
        assert stats.first_answer_token_s is not None
        assert stats.ttft_s <= stats.first_answer_token_s <= stats.e2e_s, stats
    else:
        # Cut off (max_tokens) while still thinking: there is no first answer token to time.
        assert stats.first_answer_token_s is None, stats
    assert stats.queue_s is not None and 0 <= stats.queue_s <= stats.ttft_s, stats
    assert stats.mean_itl_ms is not None and stats.p95_itl_ms is not None, stats
    assert stats.decode_tokens_per_s is not None
    assert stats.mean_itl_ms == pytest.approx(
        (stats.e2e_s - stats.ttft_s) * 1000 / (stats.generated_tokens - 1)
    )
    assert stats.decode_tokens_per_s == pytest.approx(1000 / stats.mean_itl_ms)
    assert stats.cached_prompt_tokens is not None and stats.cached_prompt_tokens >= 0
    # The generated tokens are the text's: re-tokenized, plus the end-of-sequence token that
    # stopped it (vLLM counts it; the text skips it).
    ids = tokenizer(sample.text, add_special_tokens=False)["input_ids"]
    eos = 1 if stats.finish_reason == "stop" else 0
    assert stats.generated_tokens == len(ids) + eos, (stats, sample.text)


async def test_demo_profile_streams_four_samples_each_with_reasoning_and_an_answer(
    tmp_path: Path,
) -> None:
    from transformers import AutoTokenizer

    from workbench.demo import data

    problem = data.held_out_problems(1)[0]
    tokenizer = AutoTokenizer.from_pretrained(REPO / "workbench" / "demo" / "model")
    service = VllmEngineService(log_dir=tmp_path / "logs")
    try:
        async for _ in service.load(load_profile(REPO / "profiles" / "demo.toml")):
            pass
        question = [ChatMessage("user", data.question_text(problem))]
        events = [event async for event in service.chat(question, ChatOverrides(n=4))]
        direct = [
            event
            async for event in service.chat(question, ChatOverrides(n=2, enable_thinking=False))
        ]
        # A prompt of a few KV blocks, twice: vLLM's prefix cache serves the second one's full
        # blocks (a prompt shorter than one block has nothing to cache).
        figures = service.state.figures
        assert figures is not None
        long_text = data.question_text(problem)
        while len(tokenizer(long_text)["input_ids"]) < 2 * figures.block_size:
            long_text += "\n" + data.question_text(problem)
        long_question = [ChatMessage("user", long_text)]
        short = ChatOverrides(n=1, max_tokens=16)
        first_time = [event async for event in service.chat(long_question, short)]
        again = [event async for event in service.chat(long_question, short)]
        live = service.live_metrics()
        counted = await service.count_prompt(question, ChatOverrides(n=4))
        counted_long = await service.count_prompt(long_question, short)
    finally:
        await service.unload()
    final = events[-1]
    assert isinstance(final, RequestFinished) and (final.n_received, final.error) == (4, None)
    samples = {e.index: e for e in events if isinstance(e, SampleFinished)}
    assert sorted(samples) == [0, 1, 2, 3]
    for sample in samples.values():
        assert sample.reasoning.strip(), sample.text
        assert sample.content.strip(), sample.text
        assert "</think>" not in sample.content and "<think>" not in sample.reasoning
        assert sample.stats.reasoning_tokens > 0 and sample.stats.answer_tokens > 0
        assert sample.stats.finish_reason == "stop"
        assert sample.stats.thinking_seconds is not None
        _assert_run_metrics_consistent(sample, tokenizer)
    repeated = next(e for e in again if isinstance(e, SampleFinished))
    for event in (*first_time, *again):
        if isinstance(event, SampleFinished):
            _assert_run_metrics_consistent(event, tokenizer)
    cached = repeated.stats.cached_prompt_tokens
    assert cached is not None and 0 < cached <= repeated.stats.prompt_tokens, repeated.stats
    # vLLM's stat logger reached the app: the scheduler's live figures, after six requests
    assert live is not None and live.prefix_queries and live.prefix_hits, live
    assert (live.running, live.waiting) == (0, 0), live
    assert live.kv_tokens is not None and live.kv_tokens > 0
    # The context gauge's count is the prompt vLLM generated from, rendered the same way.
    assert counted is not None and counted.tokens == samples[0].stats.prompt_tokens
    assert (counted.max_model_len, counted.max_tokens) == (512, 256)
    assert counted_long is not None and counted_long.tokens == repeated.stats.prompt_tokens
    assert counted_long.max_tokens == 16 and counted_long.fits
    right = sum(str(problem.answer) in sample.content for sample in samples.values())
    print(f"demo: {right}/4 samples answered {problem.expression} = {problem.answer}")
    # Thinking off: the template closes the think block itself; everything is answer.
    for sample in (e for e in direct if isinstance(e, SampleFinished)):
        assert sample.reasoning == "" and sample.content.strip()
