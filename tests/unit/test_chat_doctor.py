"""Each doctor rule fires on its case and stays quiet on a healthy turn."""

from __future__ import annotations

from workbench.chat.doctor import TurnContext, diagnose, is_repeated_token
from workbench.chat.model import SampleRecord
from workbench.engine.api import SampleStats


def stats(reasoning_tokens: int = 40, answer_tokens: int = 10, finish: str = "stop") -> SampleStats:
    return SampleStats(
        24,
        reasoning_tokens,
        answer_tokens,
        finish,
        None,
        ttft_s=0.1,
        first_answer_token_s=1.1,
        decode_tokens_per_s=40.0,
    )


def record(index: int, content: str, reasoning: str = "thinking", **kw: object) -> SampleRecord:
    return SampleRecord(index, reasoning, content, stats(**kw))  # type: ignore[arg-type]


def codes(samples: list[SampleRecord], context: TurnContext) -> list[str]:
    return [finding.code for finding in diagnose(samples, context)]


LONG_REASONING = " ".join(f"step {i} adds a digit" for i in range(300))
HEALTHY = [record(0, "The answer is 82."), record(1, "82, since 70 + 12 = 82.")]


def test_healthy_turn_has_no_findings() -> None:
    assert codes(HEALTHY, TurnContext(n_requested=2, temperature=0.7)) == []


def test_bang_repeat_is_flagged_with_the_quantization_cause() -> None:
    samples = [HEALTHY[0], record(1, "!!!!!!!!", reasoning="")]
    findings = diagnose(samples, TurnContext(n_requested=2, temperature=0.7))
    assert [f.code for f in findings] == ["repeated_token"]
    assert findings[0].samples == (1,)
    assert "quantiz" in findings[0].cause


def test_repeated_token_detector() -> None:
    assert is_repeated_token("!!!!!!!!!!")
    assert is_repeated_token("the the the the the the the the the")
    assert not is_repeated_token("!!!")
    assert not is_repeated_token("Wow!!! That is 82!!!")


def test_identical_samples_at_temperature_flagged_but_not_when_greedy() -> None:
    same = [record(i, "The answer is 82.") for i in range(4)]
    assert codes(same, TurnContext(n_requested=4, temperature=0.8, seed=7)) == ["identical_samples"]
    assert codes(same, TurnContext(n_requested=4, temperature=0.0)) == []
    finding = diagnose(same, TurnContext(n_requested=4, temperature=0.8, seed=7))[0]
    assert "seed (7)" in finding.cause


def test_empty_answer_after_long_thinking() -> None:
    samples = [record(0, "", reasoning=LONG_REASONING, reasoning_tokens=900, finish="length")]
    findings = diagnose(samples, TurnContext(n_requested=1))
    assert [f.code for f in findings] == ["empty_after_thinking"]
    assert "max_tokens" in findings[0].fix


def test_aborted_empty_answer_is_not_blamed_on_max_tokens() -> None:
    samples = [record(0, "", reasoning=LONG_REASONING, reasoning_tokens=900, finish="abort")]
    assert codes(samples, TurnContext(n_requested=1, aborted=True)) == []


def test_fewer_samples_than_asked() -> None:
    context = TurnContext(n_requested=8, request_error="asked for 8 samples, got 2")
    findings = diagnose(HEALTHY, context)
    assert [f.code for f in findings] == ["fewer_samples"]
    assert "asked for 8" in findings[0].cause
    assert codes(HEALTHY, TurnContext(n_requested=8)) == ["fewer_samples"]


def test_missing_opening_think_without_parser() -> None:
    samples = [record(0, "Let me add 17 and 65.\n</think>\n\n82", reasoning="")]
    findings = diagnose(samples, TurnContext(n_requested=1))
    assert [f.code for f in findings] == ["missing_think_open"]
    assert "reasoning_parser" in findings[0].fix
    assert codes(samples, TurnContext(n_requested=1, reasoning_parser="deepseek_r1")) == []
