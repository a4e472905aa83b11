"""Per-sample run metrics, defined once, measured the same way by every engine.

Pure: no vllm, torch or textual. Serving benchmarks disagree on some terms (``vllm bench serve``'s
TPOT excludes the first token, some tools' ITL counts one gap per streamed chunk); the
definitions below are the ones workbench uses everywhere (chat stats, the headless CLI's
``--json``, exports) and the app's help shows them.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

METRIC_DEFINITIONS: dict[str, str] = {
    "ttft_s": "time to first token: from the request reaching the engine to this sample's first "
    "generated token (queueing and prefill included)",
    "first_answer_token_s": "time to the first answer token, after the reasoning (equal to "
    "ttft_s when the sample does not reason)",
    "e2e_s": "end to end: from the request reaching the engine to this sample's last token",
    "queue_s": "time the request waited in vLLM's queue before it was first scheduled (vLLM's "
    "own request stats; a deployment does not report it per request)",
    "mean_itl_ms": "mean inter-token latency, (e2e_s - ttft_s) / (tokens - 1): the first token "
    "excluded, what `vllm bench serve` calls TPOT",
    "p95_itl_ms": "95th percentile of the gaps between this sample's successive tokens; tokens "
    "that arrive together share their gap equally",
    "decode_tokens_per_s": "decode speed, (tokens - 1) / (e2e_s - ttft_s) = 1000 / mean_itl_ms "
    "(prefill excluded)",
    "reasoning_tokens": "generated tokens the reasoning parser put in the thinking (markers "
    "included)",
    "answer_tokens": "generated tokens after the reasoning",
    "cached_prompt_tokens": "prompt tokens vLLM's prefix cache served instead of computing them "
    "(a deployment reports them with --enable-prompt-tokens-details)",
    "finish_reason": "stop (end of sequence or a stop string), length (max_tokens or "
    "max_model_len), abort (Esc, or the stream was cut)",
}
"""Each per-sample metric's name (as in ``--json`` and exports) and what it means."""

TURN_DEFINITIONS: dict[str, str] = {
    "p50 / p95": "over the turn's samples, of the per-sample figure",
    "turn_tokens_per_s": "all samples' generated tokens / the turn's wall time (first request "
    "to last token)",
    "reasoning_share": "reasoning tokens / all generated tokens of the turn",
}
"""Per-turn aggregates (n > 1)."""


def percentile(values: list[float] | array[float], fraction: float) -> float | None:
    """The ``fraction`` quantile by linear interpolation between closest ranks (numpy's
    default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class TokenClock:
    """When one sample's tokens arrived, relative to ``started_at`` (the request reaching the
    engine). Feed it every delta; read the figures when the sample ends."""

    started_at: float
    tokens: int = 0
    first_token_at: float | None = None
    first_answer_at: float | None = None
    last_token_at: float | None = None
    _gaps: array[float] = field(default_factory=lambda: array("d"), repr=False)

    def arrived(self, count: int, now: float, *, answer: bool = False) -> None:
        """``count`` tokens arrived at ``now``; ``answer`` when answer text came with them."""
        if count > 0:
            if self.last_token_at is None:
                self.first_token_at = now
                count_gaps = count - 1
                gap_from = now
            else:
                count_gaps = count
                gap_from = self.last_token_at
            if count_gaps > 0:
                share = (now - gap_from) / count_gaps if gap_from != now else 0.0
                self._gaps.extend([share] * count_gaps)
            self.tokens += count
            self.last_token_at = now
        if answer and self.first_answer_at is None:
            self.first_answer_at = now

    def _since_start(self, moment: float | None) -> float | None:
        return None if moment is None else max(0.0, moment - self.started_at)

    @property
    def ttft_s(self) -> float | None:
        return self._since_start(self.first_token_at)

    @property
    def first_answer_token_s(self) -> float | None:
        return self._since_start(self.first_answer_at)

    @property
    def e2e_s(self) -> float | None:
        return self._since_start(self.last_token_at)

    @property
    def mean_itl_ms(self) -> float | None:
        if self.tokens < 2 or self.first_token_at is None or self.last_token_at is None:
            return None
        return (self.last_token_at - self.first_token_at) * 1000 / (self.tokens - 1)

    @property
    def p95_itl_ms(self) -> float | None:
        value = percentile(self._gaps, 0.95)
        return None if value is None else value * 1000

    @property
    def decode_tokens_per_s(self) -> float | None:
        mean = self.mean_itl_ms
        return None if mean is None or mean <= 0 else 1000 / mean
