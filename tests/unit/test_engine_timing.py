"""Run metrics as ``workbench.engine.timing`` defines them, on hand-made arrival times."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.engine.api import SampleStats
from workbench.engine.timing import METRIC_DEFINITIONS, TokenClock, percentile, turn_metrics


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 0.0, 5.0], 0.95) == pytest.approx(9.5)  # sorted first


def test_clock_times_first_token_first_answer_and_the_gaps() -> None:
    clock = TokenClock(started_at=100.0)
    clock.arrived(1, 100.5)  # reasoning
    clock.arrived(1, 100.6)
    clock.arrived(2, 101.0, answer=True)  # two tokens in one chunk share the 0.4 s gap
    clock.arrived(1, 101.1, answer=True)
    assert clock.ttft_s == pytest.approx(0.5)
    assert clock.first_answer_token_s == pytest.approx(1.0)
    assert clock.e2e_s == pytest.approx(1.1)
    # (e2e - ttft) / (tokens - 1): 0.6 s over 4 gaps
    assert clock.mean_itl_ms == pytest.approx(150.0)
    assert clock.decode_tokens_per_s == pytest.approx(1000 / 150)
    # gaps: 0.1, 0.2, 0.2, 0.1 → p95 between the two 0.2 s gaps
    assert clock.p95_itl_ms == pytest.approx(200.0)


def test_a_first_chunk_of_many_tokens_counts_its_own_gaps_as_zero() -> None:
    clock = TokenClock(started_at=0.0)
    clock.arrived(3, 1.0)
    clock.arrived(1, 2.0)
    assert clock.tokens == 4 and clock.mean_itl_ms == pytest.approx(1000 / 3)
    assert clock.p95_itl_ms == pytest.approx(900.0)  # gaps 0, 0, 1 s


def test_nothing_arrived_means_no_figures_not_zeros() -> None:
    clock = TokenClock(started_at=0.0)
    assert (clock.ttft_s, clock.e2e_s, clock.mean_itl_ms, clock.p95_itl_ms) == (
        None,
        None,
        None,
        None,
    )
    clock.arrived(1, 0.2)
    assert clock.mean_itl_ms is None and clock.decode_tokens_per_s is None  # one token: no gap


def test_every_sample_metric_is_defined_and_named_like_the_stats_field() -> None:
    names = {f.name for f in dataclasses.fields(SampleStats)} - {
        "prompt_tokens",
        "cumulative_logprob",
        "_",
    }
    assert set(METRIC_DEFINITIONS) == names


def test_stats_saved_before_the_run_metrics_still_load() -> None:
    old = {
        "prompt_tokens": 24,
        "reasoning_tokens": 10,
        "answer_tokens": 5,
        "finish_reason": "stop",
        "cumulative_logprob": None,
        "time_to_first_token_s": 0.25,
        "tokens_per_s": 40.0,
        "thinking_seconds": 2.0,
        "from_a_newer_version": 1,
    }
    stats = SampleStats.from_dict(old)
    assert stats.ttft_s == 0.25 and stats.decode_tokens_per_s == 40.0
    assert stats.thinking_seconds == pytest.approx(2.0)
    assert SampleStats.from_dict(dataclasses.asdict(stats)) == stats


def _stats(ttft: float, e2e: float, reasoning: int, answer: int) -> SampleStats:
    tokens = reasoning + answer
    itl = (e2e - ttft) * 1000 / (tokens - 1)
    return SampleStats(
        10,
        reasoning,
        answer,
        "stop",
        None,
        ttft_s=ttft,
        first_answer_token_s=ttft + 0.5,
        e2e_s=e2e,
        mean_itl_ms=itl,
        decode_tokens_per_s=1000 / itl,
    )


def test_turn_metrics_are_spreads_over_samples_and_the_turn_rate() -> None:
    metrics = turn_metrics([_stats(0.1, 2.0, 30, 10), _stats(0.3, 4.0, 50, 10)])
    assert metrics is not None
    assert metrics.spreads["ttft_s"].p50 == pytest.approx(0.2)
    assert metrics.spreads["ttft_s"].p95 == pytest.approx(0.29)
    assert metrics.turn_tokens_per_s == pytest.approx(100 / 4.0)  # all tokens / the last end
    assert metrics.reasoning_share == pytest.approx(0.8)
    assert "TTFT 0.20 / 0.29 s" in metrics.describe()
    assert "25 tok/s in all · 80% reasoning" in metrics.describe()
    data = metrics.to_dict()
    assert data["ttft_s"] == {"p50": pytest.approx(0.2), "p95": pytest.approx(0.29)}
    assert set(data) >= {"samples", "turn_tokens_per_s", "reasoning_share", "mean_itl_ms"}
    assert turn_metrics([]) is None
