"""Streamed Markdown is cut into blocks that never change once finished, however it is chunked."""

from __future__ import annotations

import random

import pytest

from workbench.chat.blocks import BlockSplitter, split_blocks
from workbench.chat.pacing import FlushPacer

REPLY = """# Adding 23 and 58

First the ones: 3 + 8 = 11.
Write 1, carry 1.

```python
def add(a, b):

    return a + b
```

- tens: 2 + 5 + 1 = 8
- hundreds: none

~~~
a fence with ``` inside
~~~
## Answer
**81**"""


def test_blocks_of_a_reply() -> None:
    assert split_blocks(REPLY) == [
        "# Adding 23 and 58",
        "First the ones: 3 + 8 = 11.\nWrite 1, carry 1.",
        "```python\ndef add(a, b):\n\n    return a + b\n```",
        "- tens: 2 + 5 + 1 = 8\n- hundreds: none",
        "~~~\na fence with ``` inside\n~~~",
        "## Answer",
        "**81**",
    ]


@pytest.mark.parametrize("seed", range(20))
def test_any_chunking_gives_the_same_blocks(seed: int) -> None:
    """Deltas of 1-12 characters, as an engine sends them: the blocks handed out while
    streaming plus the one closed at the end are exactly the blocks of the whole text, and
    the live text is always what arrived after the last finished block."""
    chunks_rng = random.Random(seed)
    splitter = BlockSplitter()
    blocks: list[str] = []
    position = 0
    while position < len(REPLY):
        size = chunks_rng.randint(1, 12)
        fed = splitter.feed(REPLY[position : position + size])
        position += size
        blocks += fed.blocks
        assert REPLY[:position].endswith(splitter.live) or not splitter.live.strip()
    last = splitter.close()
    assert blocks + ([last] if last else []) == split_blocks(REPLY)


def test_an_unclosed_fence_stays_one_live_block() -> None:
    splitter = BlockSplitter()
    fed = splitter.feed("```\ncode\n\nmore code\n")
    assert fed.blocks == [] and splitter.live == "```\ncode\n\nmore code\n"
    assert splitter.close() == "```\ncode\n\nmore code"


def test_degenerate_stream_is_one_growing_block_fed_in_linear_time() -> None:
    """16,000 "!!" deltas with no newline: nothing finishes until the end; each feed only
    appends (no restart), so the UI re-wraps only the last line."""
    splitter = BlockSplitter()
    for _ in range(16_000):
        fed = splitter.feed("!!")
        assert fed.blocks == [] and not fed.restarted
    assert splitter.close() == "!!" * 16_000


def test_pacer_keeps_flushing_under_its_budget() -> None:
    pacer = FlushPacer(max_hz=20, min_hz=4, budget=0.25)
    assert pacer.interval_s == pytest.approx(0.05)  # nothing measured yet: the fastest rate
    pacer.record(0.002)
    assert pacer.interval_s == pytest.approx(0.05)  # cheap frames: capped at max_hz
    for _ in range(30):
        pacer.record(0.040)
    assert pacer.interval_s == pytest.approx(
        0.16, rel=0.01
    )  # 40 ms frames at a 25% budget: one per 160 ms
    for _ in range(30):
        pacer.record(1.0)
    assert pacer.interval_s == pytest.approx(0.25)  # never slower than min_hz


def test_pacer_lets_flushes_step_aside_while_the_user_types() -> None:
    pacer = FlushPacer(max_hz=20, min_hz=4, typing_pause_s=0.2)
    assert pacer.defer_s(now=10.0, typed_at=None, flushed_at=9.9) == 0.0  # nobody typed
    # A key 50 ms ago, last flush 100 ms ago: wait for the pause (150 ms more)...
    assert pacer.defer_s(now=10.0, typed_at=9.95, flushed_at=9.9) == pytest.approx(0.15)
    # ...but never past one min_hz interval after the last flush (250 ms): 50 ms more here.
    assert pacer.defer_s(now=10.0, typed_at=9.99, flushed_at=9.8) == pytest.approx(0.05)
    assert pacer.defer_s(now=10.0, typed_at=9.99, flushed_at=9.7) == 0.0  # stale: flush now
    assert pacer.defer_s(now=10.0, typed_at=9.7, flushed_at=9.9) == 0.0  # typing paused
    # While typing goes on, the stale text is flushed right after a key's frame.
    assert not pacer.flush_after_key(now=10.0, flushed_at=9.9)
    assert pacer.flush_after_key(now=10.0, flushed_at=9.75)
