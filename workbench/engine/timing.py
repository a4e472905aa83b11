"""Per-sample run metrics, defined once, measured the same way by every engine.

Pure: no vllm, torch or textual. Serving benchmarks disagree on some terms (``vllm bench serve``'s
TPOT excludes the first token, some tools' ITL counts one gap per streamed chunk); the
definitions below are the ones workbench uses everywhere (chat stats, the headless CLI's
``--json``, exports) and the app's help shows them.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.engine.api import SampleStats

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


# --- per turn ----------------------------------------------------------------------------

SPREAD_METRICS = ("ttft_s", "first_answer_token_s", "mean_itl_ms", "decode_tokens_per_s", "e2e_s")
"""The per-sample figures a turn reports as p50 / p95."""


@dataclass(frozen=True)
class Spread:
    p50: float
    p95: float


@dataclass(frozen=True)
class TurnMetrics:
    samples: int
    generated_tokens: int
    reasoning_tokens: int
    spreads: dict[str, Spread]
    turn_tokens_per_s: float | None

    @property
    def reasoning_share(self) -> float | None:
        if not self.generated_tokens:
            return None
        return self.reasoning_tokens / self.generated_tokens

    def to_dict(self) -> dict[str, object]:
        """For ``--json`` and exports: ``{"ttft_s": {"p50": …, "p95": …}, …}`` plus the totals."""
        data: dict[str, object] = {
            name: {"p50": spread.p50, "p95": spread.p95} for name, spread in self.spreads.items()
        }
        data["samples"] = self.samples
        data["turn_tokens_per_s"] = self.turn_tokens_per_s
        data["reasoning_share"] = self.reasoning_share
        return data

    def describe(self) -> str:
        """One line, e.g. "TTFT 0.12 / 0.20 s · first answer 3.1 / 4.0 s · ITL 26 / 31 ms ·
        312 tok/s in all · 83% reasoning" (p50 / p95 over the samples)."""
        parts: list[str] = []
        for name, label, unit, digits in (
            ("ttft_s", "TTFT", "s", 2),
            ("first_answer_token_s", "first answer", "s", 1),
            ("mean_itl_ms", "ITL", "ms", 0),
            ("e2e_s", "e2e", "s", 1),
        ):
            spread = self.spreads.get(name)
            if spread is not None:
                parts.append(f"{label} {spread.p50:.{digits}f} / {spread.p95:.{digits}f} {unit}")
        if self.turn_tokens_per_s is not None:
            parts.append(f"{self.turn_tokens_per_s:.0f} tok/s in all")
        share = self.reasoning_share
        if share is not None and self.reasoning_tokens:
            parts.append(f"{share * 100:.0f}% reasoning")
        return " · ".join(parts)


def turn_metrics(stats: Sequence[SampleStats]) -> TurnMetrics | None:
    """The turn's aggregates; None for no finished samples."""
    if not stats:
        return None
    spreads: dict[str, Spread] = {}
    for name in SPREAD_METRICS:
        values = [v for s in stats if (v := getattr(s, name)) is not None]
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        if p50 is not None and p95 is not None:
            spreads[name] = Spread(p50, p95)
    generated = sum(s.generated_tokens for s in stats)
    ends = [s.e2e_s for s in stats if s.e2e_s is not None]
    wall = max(ends) if ends else None
    return TurnMetrics(
        samples=len(stats),
        generated_tokens=generated,
        reasoning_tokens=sum(s.reasoning_tokens for s in stats),
        spreads=spreads,
        turn_tokens_per_s=generated / wall if wall else None,
    )
