"""Chat events survive the host pipe unchanged, and batching keeps per-sample order."""

from __future__ import annotations

import pytest

from workbench.engine import protocol
from workbench.engine.api import (
    ChatEvent,
    EngineError,
    RequestFailed,
    RequestFinished,
    SampleDelta,
    SampleFinished,
    SampleStats,
    Suggestion,
)

STATS = SampleStats(
    12, 5, 3, "stop", -4.5, ttft_s=0.1, first_answer_token_s=0.3, decode_tokens_per_s=30.0
)


@pytest.mark.parametrize(
    "event",
    [
        SampleDelta("r", 2, reasoning="think", content=""),
        SampleFinished("r", 1, "<think>a</think>b", "a", "b", STATS),
        RequestFinished("r", 4, 3, aborted=False, error="only 3 of 4 samples arrived"),
    ],
)
def test_events_round_trip(event: ChatEvent) -> None:
    line = protocol.encode(protocol.event_to_dict(event))
    assert protocol.event_from_dict(protocol.decode(line)) == event


def test_failure_round_trip_keeps_kind_message_and_suggestion() -> None:
    error = EngineError(
        "max_model_len_too_large",
        "does not fit",
        suggestion=Suggestion("engine.max_model_len", 3968, "vLLM's estimate"),
        log_excerpt=("line",),
    )
    line = protocol.encode(protocol.event_to_dict(RequestFailed("r", error)))
    back = protocol.event_from_dict(protocol.decode(line))
    assert isinstance(back, RequestFailed)
    assert (back.error.kind, back.error.message, back.error.suggestion, back.error.log_excerpt) == (
        "max_model_len_too_large",
        "does not fit",
        Suggestion("engine.max_model_len", 3968, "vLLM's estimate"),
        ("line",),
    )


def _delta(index: int, reasoning: str = "", content: str = "") -> dict[str, object]:
    return protocol.event_to_dict(SampleDelta("r", index, reasoning, content))


def test_coalesce_merges_interleaved_samples_but_not_past_their_finish() -> None:
    finished = protocol.event_to_dict(SampleFinished("r", 0, "ab", "", "ab", STATS))
    items = [
        _delta(0, content="a"),
        _delta(1, "x"),
        _delta(0, content="b"),
        _delta(1, "y"),
        finished,
        _delta(1, "z"),
    ]
    merged = protocol.coalesce_deltas(items)
    assert [(m["t"], m.get("i"), m.get("r"), m.get("c")) for m in merged] == [
        ("delta", 0, "", "ab"),
        ("delta", 1, "xy", ""),
        ("sample", 0, None, None),
        ("delta", 1, "z", ""),
    ]


def test_decode_refuses_non_objects() -> None:
    with pytest.raises(ValueError):
        protocol.decode(b"[1, 2]")
