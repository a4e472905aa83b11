"""The shipped demo profile through the engine service: every sample thinks, then answers.

The demo model's template already opens ``<think>`` in the generation prompt, so this is the
real-world case of vLLM's deepseek_r1 parser splitting output that never contains ``<think>``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.api import ChatMessage, ChatOverrides, RequestFinished, SampleFinished
from workbench.engine.service import VllmEngineService
from workbench.profiles import load_profile

REPO = Path(__file__).resolve().parent.parent.parent

# The demo model ships in the package: if it is missing, these tests must fail, not skip.
pytestmark = [pytest.mark.engine]


async def test_demo_profile_streams_four_samples_each_with_reasoning_and_an_answer(
    tmp_path: Path,
) -> None:
    from workbench.demo import data

    problem = data.held_out_problems(1)[0]
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
    right = sum(str(problem.answer) in sample.content for sample in samples.values())
    print(f"demo: {right}/4 samples answered {problem.expression} = {problem.answer}")
    # Thinking off: the template closes the think block itself; everything is answer.
    for sample in (e for e in direct if isinstance(e, SampleFinished)):
        assert sample.reasoning == "" and sample.content.strip()
