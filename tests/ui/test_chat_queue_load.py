"""Load: prompts queued as fast as they can be typed, n = 8 each, while the gauge polls.

Each prompt is typed and sent with Enter while the previous replies still stream; the chat
queues them and sends each when the one before it has finished. Every turn must come back
complete: 8 samples, each index once, each the text the engine streamed, in order, nothing
dropped or duplicated. The app's RSS is printed before, at the peak, and after (the bound on
growth over many long turns is measured by bench/bench_app.py, not asserted here).
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path

import psutil
from textual.widgets import Input

from tests.ui.scenarios_shell import (
    RTX_4090,
    TERMINAL_SIZE,
    gpu_sample,
    wait_for_engine,
    write_profile_dirs,
)
from workbench.app import create_app
from workbench.chat.model import AssistantTurn, UserTurn
from workbench.chat.store import ChatStore
from workbench.engine.fake import FakeEngine, turn_long
from workbench.gpu import FakeVramSampler

# CI runs 6; WORKBENCH_LOAD_PROMPTS=20 runs the full load by hand.
PROMPTS = int(os.environ.get("WORKBENCH_LOAD_PROMPTS", "6"))
N = 8
TOKENS = 150


async def test_queued_n8_prompts_all_come_back_whole(tmp_path: Path) -> None:
    scripts = [turn_long(N, TOKENS, degenerate=(3,)) for _ in range(PROMPTS)]
    engine = FakeEngine(chat_scripts=scripts, step_delay_s=0.002)
    dirs = write_profile_dirs(tmp_path)
    (dirs.project / "n8.toml").write_text('extends = "demo"\n[sampling]\nn = 8\n')
    sampler = FakeVramSampler([gpu_sample(0.3), gpu_sample(0.6)], cycle=True)
    app = create_app(
        engine=engine,
        sampler=sampler,
        initial_profile="n8",
        autoload=True,
        project_dir=dirs.project,
        user_dir=dirs.user,
        chat_store=ChatStore(tmp_path / "chats"),
        gpu=RTX_4090,
        sample_interval_s=0.1,  # the gauge polls throughout
    )
    app.animation_level = "none"
    process = psutil.Process()
    rss_before = process.memory_info().rss
    peak = rss_before
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        await pilot.press("f3")
        await pilot.pause()
        prompt = app.query_one("#chat-input", Input)
        prompt.focus()
        for number in range(PROMPTS):  # as fast as a paste: the text, then a real Enter
            prompt.value = f"question {number}"
            await pilot.press("enter")
        chat = app.chat_view
        assert chat.streaming and chat.queued, "the prompts were typed faster than answered"
        line = str(chat.query_one(".chat-queued").render())
        if len(chat.queued) > 1:
            assert f"(+{len(chat.queued) - 1} more)" in line, line
        assert "sends after this reply" in line, line
        samples_before = len(sampler.calls)
        finished: list[tuple[float, int]] = []  # (seconds since the first Enter, RSS) per turn
        started = time.monotonic()
        for _ in range(2000 * PROMPTS):  # bounded; no clock asserted
            assistant = [t for t in chat.conversation.turns if isinstance(t, AssistantTurn)]
            done = sum(1 for t in assistant if t.done)
            rss = process.memory_info().rss
            while len(finished) < done:
                finished.append((time.monotonic() - started, rss))
            if len(assistant) == PROMPTS and all(t.done for t in assistant) and not chat.queued:
                break
            peak = max(peak, rss)
            # not pilot.pause: it round-trips a message through every widget of the screen,
            # a cost of the harness that grows with the chat, not of the app
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"{len(assistant)} of {PROMPTS} turns came back")
        polled = len(sampler.calls) - samples_before
        turns = chat.conversation.turns
    rss_after = process.memory_info().rss
    users = [t.content for t in turns if isinstance(t, UserTurn)]
    assert users == [f"question {number}" for number in range(PROMPTS)]  # in order, each once
    assert [type(t) for t in turns] == [UserTurn, AssistantTurn] * PROMPTS
    assert len(engine.requests) == PROMPTS
    assert [r.messages[-1].content for r in engine.requests] == users
    assert len({t.request_id for t in turns if isinstance(t, AssistantTurn)}) == PROMPTS
    for turn, script in zip(assistant, scripts, strict=True):
        assert turn.error is None and not turn.aborted
        assert sorted(s.index for s in turn.samples) == list(range(N)), turn.samples
        for record in turn.samples:
            expected = script.samples[record.index]
            assert record.content == expected.answer and record.reasoning == expected.reasoning
            assert record.stats is not None and record.stats.finish_reason == "length"
    assert polled > 0, "the gauge kept polling while the queue ran"
    mib = 1024 * 1024
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"\nqueue load: {PROMPTS} x n={N} x {TOKENS} tokens; gauge polled {polled} times; "
        f"RSS before {rss_before / mib:.0f} MiB, peak {peak / mib:.0f} MiB, after "
        f"{rss_after / mib:.0f} MiB (ru_maxrss {maxrss_kib / 1024:.0f} MiB)"
    )
    previous = 0.0
    for number, (at, rss) in enumerate(finished, 1):
        print(f"turn {number:2d}: {at - previous:5.1f} s, RSS {rss / mib:.0f} MiB")
        previous = at
