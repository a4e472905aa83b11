"""Spot suspicious output and say its usual cause and what to try. Pure and cheap: runs per turn."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from workbench.chat.model import SampleRecord

# A unit of 1-4 characters repeated at least 8 times and making up the whole text.
_REPEATED_UNIT = re.compile(r"^(.{1,4}?)\1{7,}$", re.DOTALL)
LONG_THINKING_TOKENS = 256


@dataclass(frozen=True)
class Finding:
    """One suspicious thing: a short title, the usual cause, what to try, and which samples."""

    code: str
    title: str
    cause: str
    fix: str
    samples: tuple[int, ...] = ()


@dataclass(frozen=True)
class TurnContext:
    """What was asked for, to judge the output against."""

    n_requested: int
    temperature: float | None = None
    seed: int | None = None
    reasoning_parser: str | None = None
    request_error: str | None = None
    aborted: bool = False


def is_repeated_token(text: str) -> bool:
    """True when the text is one short unit over and over ("!!!!!!!!", "the the the ...")."""
    compact = "".join(text.split())
    if len(compact) < 8:
        return False
    if _REPEATED_UNIT.match(compact):
        return True
    most = max(compact.count(char) for char in set(compact))
    return most / len(compact) >= 0.9


def _repeated(samples: Sequence[SampleRecord]) -> Finding | None:
    hits = tuple(s.index for s in samples if is_repeated_token(s.content or s.reasoning))
    if not hits:
        return None
    return Finding(
        "repeated_token",
        "One token repeated",
        "The model emits the same token over and over. Usual cause: a quantized model run with "
        "the wrong dtype or kernels, or a broken quantization config.",
        'Check [model] dtype and quantization against the model card (try dtype = "bfloat16" '
        'or "float16"), and config.json\'s quantization_config; compare with the unquantized '
        "model.",
        hits,
    )


def _identical(samples: Sequence[SampleRecord], context: TurnContext) -> Finding | None:
    if len(samples) < 2 or context.temperature is None or context.temperature <= 0:
        return None
    texts = {" ".join(s.content.split()) for s in samples}
    if len(texts) != 1 or texts == {""}:
        return None
    seed_hint = (
        f"the request seed ({context.seed}) is fixed"
        if context.seed is not None
        else "a seed may be fixed"
    )
    return Finding(
        "identical_samples",
        "Every sample identical",
        f"{len(samples)} samples at temperature {context.temperature:g} came back word for word "
        f"the same: {seed_hint}, or n was ignored and one sample copied.",
        "Unset [sampling] seed for varied samples; check the temperature reaches the engine.",
        tuple(s.index for s in samples),
    )


def _empty_after_thinking(samples: Sequence[SampleRecord]) -> Finding | None:
    hits = tuple(
        s.index
        for s in samples
        if s.stats is not None
        and not s.content.strip()
        and s.reasoning.strip()
        and (s.stats.reasoning_tokens >= LONG_THINKING_TOKENS or s.stats.finish_reason == "length")
        and s.stats.finish_reason != "abort"
    )
    if not hits:
        return None
    return Finding(
        "empty_after_thinking",
        "No answer after long thinking",
        "The sample spent its token budget reasoning and stopped before answering.",
        "Raise [sampling] max_tokens (thinking counts against it) or turn thinking off (t).",
        hits,
    )


def _fewer_samples(samples: Sequence[SampleRecord], context: TurnContext) -> Finding | None:
    if context.aborted:
        return None
    received = len(samples)
    if context.request_error is None and received >= context.n_requested:
        return None
    detail = context.request_error or f"asked for {context.n_requested}, got {received}"
    return Finding(
        "fewer_samples",
        "Fewer samples than asked",
        f"{detail}. The engine may cap parallel sequences or the serving path ignores n.",
        "Make [engine] max_num_seqs at least n, and check the engine log.",
        (),
    )


def _missing_think_open(samples: Sequence[SampleRecord], context: TurnContext) -> Finding | None:
    if context.reasoning_parser:
        return None
    hits = tuple(s.index for s in samples if "</think>" in s.content and "<think>" not in s.content)
    if not hits:
        return None
    return Finding(
        "missing_think_open",
        "Thinking shown as answer",
        "The output has </think> but no opening <think>: the chat template already put <think> "
        "in the prompt, and no reasoning parser splits the thinking off.",
        'Set [engine] reasoning_parser in the profile (e.g. "deepseek_r1" or "qwen3").',
        hits,
    )


def diagnose(samples: Sequence[SampleRecord], context: TurnContext) -> list[Finding]:
    """Every finding for one finished turn, most severe first."""
    checks = (
        _repeated(samples),
        _missing_think_open(samples, context),
        _empty_after_thinking(samples),
        _fewer_samples(samples, context),
        _identical(samples, context),
    )
    return [finding for finding in checks if finding is not None]
