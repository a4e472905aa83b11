"""The scripted fake engine emits the protocol's event shapes, deterministically."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from workbench.engine.api import (
    ChatEvent,
    ChatMessage,
    ChatOverrides,
    EngineError,
    LoadStage,
    RequestFailed,
    RequestFinished,
    SampleDelta,
    SampleFinished,
)
from workbench.engine.fake import (
    DEFAULT_FIGURES,
    DEFAULT_LOAD,
    DEFAULT_LOG,
    LOAD_FAILS_MAX_MODEL_LEN,
    FakeEngine,
    FakeTurn,
    sample,
    turn_bang_repeat,
    turn_n4_majority,
    turn_thinking_then_answer,
)


def fake_profile(n: int = 1, enable_thinking: bool = True) -> Any:
    """Just the LoadedProfile attributes the fake reads."""
    profile = SimpleNamespace(
        sampling=SimpleNamespace(n=n), chat=SimpleNamespace(enable_thinking=enable_thinking)
    )
    return SimpleNamespace(name="demo", path=Path("demo.toml"), profile=profile)


async def loaded(engine: FakeEngine, n: int = 1) -> FakeEngine:
    async for _ in engine.load(fake_profile(n)):
        pass
    return engine


async def collect(engine: FakeEngine, overrides: ChatOverrides | None = None) -> list[ChatEvent]:
    return [e async for e in engine.chat([ChatMessage("user", "17 + 65?")], overrides)]


async def test_load_replays_stages_and_ends_ready() -> None:
    engine = FakeEngine()
    assert engine.log_lines() == []
    stages = [p.stage async for p in engine.load(fake_profile())]
    assert stages == [p.stage for p in DEFAULT_LOAD]
    assert stages[-1] is LoadStage.READY
    assert engine.state.status == "ready"
    assert engine.state.figures == DEFAULT_FIGURES
    assert engine.log_lines() == list(DEFAULT_LOG)


async def test_load_failure_raises_the_scripted_error_with_its_fix() -> None:
    engine = FakeEngine(load_script=LOAD_FAILS_MAX_MODEL_LEN)
    seen = []
    with pytest.raises(EngineError) as raised:
        async for progress in engine.load(fake_profile()):
            seen.append(progress.stage)
    assert raised.value.kind == "max_model_len_too_large"
    assert raised.value.suggestion is not None
    assert raised.value.suggestion.key == "engine.max_model_len"
    assert raised.value.suggestion.value == 18080
    assert LoadStage.READY not in seen
    assert engine.state.status == "error"


async def test_thinking_turn_streams_reasoning_before_content_and_joins_back() -> None:
    engine = await loaded(FakeEngine(chat_scripts=[turn_thinking_then_answer()]))
    events = await collect(engine)
    deltas = [e for e in events if isinstance(e, SampleDelta)]
    kinds = ["r" if d.reasoning else "c" for d in deltas]
    assert kinds == sorted(kinds, reverse=True)  # every reasoning delta before any content delta
    finished = [e for e in events if isinstance(e, SampleFinished)]
    assert len(finished) == 1
    assert "".join(d.reasoning for d in deltas) == finished[0].reasoning
    assert "".join(d.content for d in deltas) == finished[0].content
    assert finished[0].stats.thinking_seconds == 12.3
    assert finished[0].stats.reasoning_tokens == 154
    assert "</think>" in finished[0].text
    assert isinstance(events[-1], RequestFinished)
    assert events[-1].n_received == 1 and events[-1].error is None


async def test_n4_turn_interleaves_samples_and_finishes_all() -> None:
    engine = await loaded(FakeEngine(chat_scripts=[turn_n4_majority()]))
    events = await collect(engine, ChatOverrides(n=4))
    first_four = [e.index for e in events[:4] if isinstance(e, SampleDelta)]
    assert first_four == [0, 1, 2, 3]
    finished = sorted(e.index for e in events if isinstance(e, SampleFinished))
    assert finished == [0, 1, 2, 3]
    last = events[-1]
    assert isinstance(last, RequestFinished)
    assert (last.n_requested, last.n_received, last.error) == (4, 4, None)


async def test_fewer_samples_than_asked_is_reported() -> None:
    engine = await loaded(FakeEngine(chat_scripts=[turn_bang_repeat()]))
    events = await collect(engine, ChatOverrides(n=8))
    last = events[-1]
    assert isinstance(last, RequestFinished)
    assert (last.n_requested, last.n_received) == (8, 3)
    assert last.error is not None and "8" in last.error


async def test_pause_after_freezes_until_release() -> None:
    engine = await loaded(FakeEngine(chat_scripts=[turn_thinking_then_answer(pause_after=3)]))
    received: list[ChatEvent] = []

    async def consume() -> None:
        async for event in engine.chat([ChatMessage("user", "hi")]):
            received.append(event)

    task = asyncio.create_task(consume())
    await engine.wait_paused()
    assert len(received) == 3 and all(isinstance(e, SampleDelta) for e in received)
    engine.release()
    await task
    assert isinstance(received[-1], RequestFinished)


async def test_abort_while_frozen_ends_every_sample_with_abort() -> None:
    engine = await loaded(FakeEngine(chat_scripts=[turn_n4_majority(pause_after=6)]))
    received: list[ChatEvent] = []

    async def consume() -> None:
        async for event in engine.chat([ChatMessage("user", "hi")], request_id="r1"):
            received.append(event)

    task = asyncio.create_task(consume())
    await engine.wait_paused()
    await engine.abort("r1")
    await task
    finished = [e for e in received if isinstance(e, SampleFinished)]
    assert [f.stats.finish_reason for f in finished] == ["abort"] * 4
    partial = "".join(e.reasoning for e in received if isinstance(e, SampleDelta) and e.index == 0)
    assert finished[0].reasoning == partial
    last = received[-1]
    assert isinstance(last, RequestFinished) and last.aborted
    assert engine.aborts == ["r1"]


async def test_thinking_off_drops_reasoning_and_records_the_request() -> None:
    engine = await loaded(FakeEngine(chat_scripts=[turn_thinking_then_answer()]))
    events = await collect(engine, ChatOverrides(enable_thinking=False))
    assert not any(isinstance(e, SampleDelta) and e.reasoning for e in events)
    finished = next(e for e in events if isinstance(e, SampleFinished))
    assert finished.reasoning == "" and finished.stats.thinking_seconds is None
    assert engine.requests[0].overrides == ChatOverrides(enable_thinking=False)
    assert engine.requests[0].messages == (ChatMessage("user", "17 + 65?"),)


async def test_script_exhausted_echoes_with_profile_n() -> None:
    engine = await loaded(FakeEngine(), n=3)
    events = await collect(engine)
    finished = [e for e in events if isinstance(e, SampleFinished)]
    assert len(finished) == 3
    assert "17 + 65?" in finished[0].content


async def test_chat_without_a_model_fails_cleanly() -> None:
    events = await collect(FakeEngine())
    assert len(events) == 1 and isinstance(events[0], RequestFailed)


async def test_scripted_request_failure() -> None:
    failure = EngineError("engine_died", "the engine process exited")
    engine = await loaded(FakeEngine(chat_scripts=[FakeTurn(samples=(), fail=failure)]))
    events = await collect(engine)
    assert events == [RequestFailed("fake-1", failure)]


async def test_unload_returns_to_unloaded() -> None:
    engine = await loaded(FakeEngine(chat_scripts=[FakeTurn(samples=(sample(answer="x"),))]))
    await engine.unload()
    assert engine.state.status == "unloaded"
    assert engine.unload_count == 1
