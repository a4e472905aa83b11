"""Per-sample stream state: split each delta into reasoning and answer with vLLM's own reasoning
parser (one instance per sample), count tokens, and time the sample.

Used inside the engine host; the parser object is passed in, so this module imports no vllm.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.engine.api import SampleStats
from workbench.engine.timing import TokenClock


@dataclass
class SplitDelta:
    """One delta after splitting, with how many of its tokens were reasoning / answer."""

    reasoning: str = ""
    content: str = ""
    reasoning_tokens: int = 0
    answer_tokens: int = 0


@dataclass
class SampleTracker:
    """Accumulates one sample (one ``CompletionOutput.index``) of a streaming request."""

    index: int
    prompt_tokens: int
    parser: Any | None  # a vllm ReasoningParser instance, or None: everything is answer
    started_at: float = field(default_factory=time.monotonic)
    text: str = ""
    reasoning: str = ""
    content: str = ""
    token_ids: list[int] = field(default_factory=list)
    _previous_ids: list[int] = field(default_factory=list, repr=False)
    reasoning_tokens: int = 0
    answer_tokens: int = 0
    finish_reason: str | None = None
    cumulative_logprob: float | None = None
    # vLLM's own request figures, where the engine reports them (RequestOutput.metrics /
    # num_cached_tokens): set by the host, carried into the stats.
    queue_s: float | None = None
    cached_prompt_tokens: int | None = None
    clock: TokenClock = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.clock = TokenClock(self.started_at)

    def feed(self, delta_text: str, delta_ids: Sequence[int]) -> SplitDelta:
        """Add one DELTA output; return its reasoning/answer split."""
        now = time.monotonic()
        previous_text = self.text
        self.text += delta_text
        self.token_ids.extend(delta_ids)
        # The parser wants the ids before and after this delta: two lists, each extended by
        # the delta, instead of copying every id so far on every delta (quadratic at 16k).
        split = self._split(previous_text, self._previous_ids, delta_text, delta_ids)
        self._previous_ids.extend(delta_ids)
        self.reasoning += split.reasoning
        self.content += split.content
        self.reasoning_tokens += split.reasoning_tokens
        self.answer_tokens += split.answer_tokens
        self.clock.arrived(len(delta_ids), now, answer=bool(split.content))
        return split

    def observe_engine(self, metrics: Any, num_cached_tokens: int | None) -> None:
        """vLLM's own figures for this sample's request: ``RequestOutput.metrics`` (a
        ``RequestStateStats``, present with stats enabled; engine-core monotonic timestamps)
        and the prompt tokens its prefix cache served."""
        if num_cached_tokens is not None:
            self.cached_prompt_tokens = int(num_cached_tokens)
        queued = getattr(metrics, "queued_ts", 0.0) or 0.0
        scheduled = getattr(metrics, "scheduled_ts", 0.0) or 0.0
        if queued > 0 and scheduled >= queued:
            self.queue_s = scheduled - queued

    def _split(
        self,
        previous_text: str,
        previous_ids: list[int],
        delta_text: str,
        delta_ids: Sequence[int],
    ) -> SplitDelta:
        if self.parser is None:
            return SplitDelta(content=delta_text, answer_tokens=len(delta_ids))
        message = self.parser.extract_reasoning_streaming(
            previous_text,
            self.text,
            delta_text,
            previous_ids,
            self.token_ids,
            list(delta_ids),
        )
        if message is None:
            # The parser swallowed a marker token ("<think>" / "</think>"): thinking overhead.
            return SplitDelta(reasoning_tokens=len(delta_ids))
        reasoning = (
            getattr(message, "reasoning", None) or getattr(message, "reasoning_content", None) or ""
        )
        content = message.content or ""
        if reasoning and content:
            end_at = self._end_position(delta_ids)
            reasoning_count = end_at + 1 if end_at is not None else len(delta_ids) // 2
            return SplitDelta(reasoning, content, reasoning_count, len(delta_ids) - reasoning_count)
        if content:
            return SplitDelta(content=content, answer_tokens=len(delta_ids))
        return SplitDelta(reasoning=reasoning, reasoning_tokens=len(delta_ids))

    def _end_token_id(self) -> int | None:
        token_id = getattr(self.parser, "end_token_id", None)
        return token_id if isinstance(token_id, int) else None

    def _end_position(self, delta_ids: Sequence[int]) -> int | None:
        end_id = self._end_token_id()
        if end_id is None or end_id not in delta_ids:
            return None
        return list(delta_ids).index(end_id)

    def flush(self) -> SplitDelta:
        """Text an engine-based parser held back (e.g. a partial marker) when the sample ends."""
        finish_streaming = getattr(self.parser, "finish_streaming", None)
        if finish_streaming is None:
            return SplitDelta()
        message = finish_streaming()
        if message is None:
            return SplitDelta()
        reasoning = getattr(message, "reasoning", None) or ""
        content = getattr(message, "content", None) or ""
        self.reasoning += reasoning
        self.content += content
        return SplitDelta(reasoning, content)

    def finish(self, reason: str | None, cumulative_logprob: float | None) -> SampleStats:
        """Mark the sample done and return its figures."""
        self.finish_reason = reason
        self.cumulative_logprob = cumulative_logprob
        return self.stats()

    def stats(self) -> SampleStats:
        """Figures so far (final once ``finish`` was called); each defined in
        ``workbench.engine.timing.METRIC_DEFINITIONS``."""
        clock = self.clock
        return SampleStats(
            prompt_tokens=self.prompt_tokens,
            reasoning_tokens=self.reasoning_tokens,
            answer_tokens=self.answer_tokens,
            finish_reason=self.finish_reason,
            cumulative_logprob=self.cumulative_logprob,
            ttft_s=clock.ttft_s,
            first_answer_token_s=clock.first_answer_token_s,
            e2e_s=clock.e2e_s,
            queue_s=self.queue_s,
            mean_itl_ms=clock.mean_itl_ms,
            p95_itl_ms=clock.p95_itl_ms,
            decode_tokens_per_s=clock.decode_tokens_per_s,
            cached_prompt_tokens=self.cached_prompt_tokens,
        )
