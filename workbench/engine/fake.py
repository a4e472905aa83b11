"""A scripted ``EngineService`` for deterministic UI tests and screenshots. Never for real use.

Everything it emits comes from a script: load progress (with scripted elapsed seconds), engine
figures, log lines, and per-turn samples (reasoning chunks, answer chunks, finish reason, stats).
It never reads a clock. A stream can be frozen at a chosen point (``FakeTurn.pause_after`` or
``hold()``) and resumed with ``release()``; ``wait_paused()`` returns once it is frozen, so a test
can snapshot a half-streamed turn without sleeping.

Pure: no vllm, torch or textual imports.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.engine.api import (
    ChatEvent,
    ChatMessage,
    ChatOverrides,
    EngineError,
    EngineFigures,
    EngineState,
    LoadProgress,
    LoadStage,
    PromptCount,
    RequestFailed,
    RequestFinished,
    SampleDelta,
    SampleFinished,
    SampleStats,
    StatePublisher,
    Suggestion,
)
from workbench.engine.remote_metrics import RemoteMetrics

if TYPE_CHECKING:
    from workbench.profiles import LoadedProfile


@dataclass(frozen=True)
class FakeSample:
    """One scripted sample: its chunks arrive one per step; token counts default to chunk counts."""

    reasoning_chunks: tuple[str, ...] = ()
    answer_chunks: tuple[str, ...] = ()
    finish_reason: str = "stop"
    thinking_seconds: float | None = None
    tokens_per_s: float | None = None
    cumulative_logprob: float | None = None
    time_to_first_token_s: float | None = None
    queue_s: float | None = None
    p95_itl_ms: float | None = None
    cached_prompt_tokens: int | None = None
    prompt_tokens: int = 24
    reasoning_tokens: int | None = None
    answer_tokens: int | None = None

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_chunks)

    @property
    def answer(self) -> str:
        return "".join(self.answer_chunks)


@dataclass(frozen=True)
class FakeTurn:
    """One scripted assistant turn.

    ``pause_after``: freeze after this many deltas (all samples together) until ``release()``.
    ``n_requested``: what the RequestFinished says was asked for; None = the request's n.
    ``error``: RequestFinished.error (e.g. fewer samples than asked); set automatically when the
    script has fewer samples than were asked for. ``fail``: answer with RequestFailed instead.
    """

    samples: tuple[FakeSample, ...]
    pause_after: int | None = None
    n_requested: int | None = None
    error: str | None = None
    fail: EngineError | None = None


@dataclass(frozen=True)
class FakeRequest:
    """What the fake received for one ``chat`` call (tests assert on it)."""

    request_id: str
    messages: tuple[ChatMessage, ...]
    overrides: ChatOverrides | None


def _words(text: str) -> tuple[str, ...]:
    """Split text into word-sized chunks that join back to exactly ``text``."""
    chunks: list[str] = []
    current = ""
    for char in text:
        current += char
        if char in " \n":
            chunks.append(current)
            current = ""
    if current:
        chunks.append(current)
    return tuple(chunks)


def _scripted_timing(scripted: FakeSample, tokens: int, reasoned: bool) -> dict[str, Any]:
    """The run metrics a scripted sample claims, consistent with each other the way
    ``workbench.engine.timing`` defines them (ttft ≤ first answer ≤ e2e; decode = 1000 / ITL)."""
    ttft, rate = scripted.time_to_first_token_s, scripted.tokens_per_s
    mean_itl = 1000 / rate if rate else None
    first_answer = ttft
    if ttft is not None and reasoned and scripted.thinking_seconds is not None:
        first_answer = ttft + scripted.thinking_seconds
    e2e = None
    if ttft is not None and mean_itl is not None:
        e2e = max(first_answer or ttft, ttft + max(0, tokens - 1) * mean_itl / 1000)
    return {
        "ttft_s": ttft,
        "first_answer_token_s": first_answer,
        "e2e_s": e2e,
        "queue_s": scripted.queue_s,
        "mean_itl_ms": mean_itl,
        "p95_itl_ms": scripted.p95_itl_ms,
        "decode_tokens_per_s": rate,
        "cached_prompt_tokens": scripted.cached_prompt_tokens,
    }


def sample(
    reasoning: str = "",
    answer: str = "",
    *,
    finish_reason: str = "stop",
    thinking_seconds: float | None = None,
    tokens_per_s: float | None = 41.5,
    cumulative_logprob: float | None = None,
    reasoning_tokens: int | None = None,
    answer_tokens: int | None = None,
) -> FakeSample:
    """Build a FakeSample from whole strings, chunked word by word."""
    return FakeSample(
        reasoning_chunks=_words(reasoning),
        answer_chunks=_words(answer),
        finish_reason=finish_reason,
        thinking_seconds=thinking_seconds,
        tokens_per_s=tokens_per_s,
        cumulative_logprob=cumulative_logprob,
        time_to_first_token_s=0.12,
        reasoning_tokens=reasoning_tokens,
        answer_tokens=answer_tokens,
    )


# ---------------------------------------------------------------- ready-made scripts

DEFAULT_LOAD: tuple[LoadProgress, ...] = (
    LoadProgress(LoadStage.VALIDATING, 0.0, "checking the profile against vLLM's config"),
    LoadProgress(LoadStage.STARTING, 0.4, "starting the engine process"),
    LoadProgress(LoadStage.LOADING_WEIGHTS, 2.1, "model.safetensors"),
    LoadProgress(LoadStage.PROFILING, 5.3, "measuring peak activation memory"),
    LoadProgress(LoadStage.ALLOCATING_KV, 6.0, "1,024 blocks of 128 tokens"),
    LoadProgress(LoadStage.READY, 6.8, "ready"),
)

DEFAULT_LOG: tuple[str, ...] = (
    "INFO [config.py] Resolved architecture: Qwen2ForCausalLM",
    "INFO [config.py] Using max model len 4096",
    "INFO [core.py] Initializing a V1 LLM engine with config: dtype=torch.bfloat16, "
    "max_seq_len=4096, enforce_eager=True",
    "INFO [cpu_worker.py] Loading model weights took 0.0391 GiB",
    "INFO [kv_cache_utils.py] CPU KV cache size: 131,072 tokens",
    "INFO [kv_cache_utils.py] Maximum concurrency for 4,096 tokens per request: 32.00x",
    "INFO [core.py] init engine (profile, create kv cache, warmup model) took 0.61 seconds",
    "WARNING [sampling_params.py] The model's generation_config.json sets temperature=0.6",
)

DEFAULT_FIGURES = EngineFigures(
    device="cpu",
    vllm_version="0.32.0",
    max_model_len=4096,
    block_size=128,
    num_blocks=1024,
    kv_cache_tokens=131072,
    max_concurrency=32.0,
    weights_bytes=41_943_040,
    available_kv_bytes=1_073_741_824,
    load_seconds=6.8,
    raw_lines=DEFAULT_LOG[4:6],
)

MAX_MODEL_LEN_ERROR = EngineError(
    "max_model_len_too_large",
    "max_model_len 32768 needs 4.0 GiB of KV cache, only 2.2 GiB is available; "
    "the largest that fits is 18080",
    suggestion=Suggestion(
        "engine.max_model_len",
        18080,
        "the largest max_model_len whose KV cache fits in the available memory",
    ),
    log_excerpt=(
        "ERROR [core.py] EngineCore failed to start.",
        "ValueError: To serve at least one request with the models's max seq len (32768), "
        "(4.00 GiB KV cache is needed, which is larger than the available KV cache memory "
        "(2.21 GiB). Based on the available memory, the estimated maximum model length is 18080.",
    ),
)

LOAD_FAILS_MAX_MODEL_LEN: tuple[LoadProgress | EngineError, ...] = (
    *DEFAULT_LOAD[:4],
    MAX_MODEL_LEN_ERROR,
)


def turn_thinking_then_answer(*, pause_after: int | None = None) -> FakeTurn:
    """One sample that thinks for a while, then answers in Markdown."""
    reasoning = (
        "The user asks for 17 + 65. Add the tens: 10 + 60 = 70. Add the units: 7 + 5 = 12. "
        "So 70 + 12 = 82. Check: 82 - 65 = 17. Correct."
    )
    answer = "**17 + 65 = 82.**\n\nAdd the tens (70) and the units (12): 70 + 12 = 82."
    return FakeTurn(
        samples=(
            sample(
                reasoning,
                answer,
                thinking_seconds=12.3,
                reasoning_tokens=154,
                answer_tokens=31,
                tokens_per_s=38.2,
                cumulative_logprob=-4.21,
            ),
        ),
        pause_after=pause_after,
    )


def turn_n4_majority(*, pause_after: int | None = None) -> FakeTurn:
    """Four samples; three agree on 82 in different words, one says 72."""
    answers = (
        ("17 + 65: tens 70, units 12, total 82.", "The answer is **82**.", 9.8, 121, -5.02),
        ("Units 7 + 5 = 12, carry 1; tens 1 + 6 + 1 = 8.", "82", 7.1, 96, -3.88),
        ("17 + 65... 17 + 60 = 77, + 5 = 72.", "The answer is 72.", 6.4, 88, -7.45),
        ("65 + 17 = 65 + 20 - 3 = 82.", "It is 82.", 8.9, 110, -4.6),
    )
    return FakeTurn(
        samples=tuple(
            sample(
                reasoning,
                answer,
                thinking_seconds=seconds,
                reasoning_tokens=tokens,
                tokens_per_s=40.0 + index,
                cumulative_logprob=logprob,
            )
            for index, (reasoning, answer, seconds, tokens, logprob) in enumerate(answers)
        ),
        pause_after=pause_after,
    )


def turn_bang_repeat() -> FakeTurn:
    """Three samples: two healthy ones and one that prints only '!!!!!!!!' (a broken quantized
    model, or one run with the wrong dtype)."""
    return FakeTurn(
        samples=(
            sample("Adding 17 and 65 gives 82.", "82", thinking_seconds=2.0, reasoning_tokens=9),
            FakeSample(
                answer_chunks=("!!",) * 4,
                finish_reason="length",
                tokens_per_s=44.0,
                answer_tokens=256,
            ),
            sample("Tens: 70. Units: 12. Total 82.", "It is **82**.", thinking_seconds=2.6),
        ),
    )


def turn_json_fields() -> FakeTurn:
    """Four samples of a JSON-schema turn: three valid objects that disagree on one field, and
    one cut off by max_tokens mid-object (not valid JSON)."""
    answers = (
        '{"answer": 82, "method": "tens then units", "confident": true}',
        '{"answer": 82, "method": "carry the one", "confident": true}',
        '{"answer": 72, "method": "tens then units", "confident": true}',
        '{"answer": 82, "method": "tens',
    )
    return FakeTurn(
        samples=tuple(
            sample(
                f"Add 17 and 65 (sample {index + 1}).",
                answer,
                finish_reason="length" if index == 3 else "stop",
                thinking_seconds=1.0 + index / 4,
                tokens_per_s=40.0 + index,
            )
            for index, answer in enumerate(answers)
        ),
    )


LONG_PARAGRAPH = (
    "Step {i}: the ones column gives 3 + 8 = 11, so write **1** and carry one; "
    "the tens give 2 + 5 + 1 = 8.\n\n"
)


def long_markdown_chunks(count: int) -> tuple[str, ...]:
    """``count`` word-sized deltas of a long reply: numbered paragraphs, and every seventh a
    list and a code fence (what a reasoning model writes for thousands of tokens)."""
    chunks: list[str] = []
    i = 0
    while len(chunks) < count:
        i += 1
        text = LONG_PARAGRAPH.format(i=i)
        if i % 7 == 0:
            text += "- carry: 1\n- digit: 8\n\n```\n23 + 58 = 81\n```\n\n"
        words = text.split(" ")
        chunks += [word + " " for word in words[:-1]] + [words[-1]]
    return tuple(chunks[:count])


def turn_long(
    n: int, tokens: int, *, degenerate: tuple[int, ...] = (), pause_after: int | None = None
) -> FakeTurn:
    """n samples of ``tokens`` deltas each, with a short thinking first; the samples listed in
    ``degenerate`` repeat "!!" instead (the "!!!!" model), all ending at the length limit."""
    reasoning = long_markdown_chunks(40)
    return FakeTurn(
        samples=tuple(
            FakeSample(
                reasoning_chunks=reasoning,
                answer_chunks=("!!",) * tokens
                if index in degenerate
                else long_markdown_chunks(tokens),
                finish_reason="length",
                thinking_seconds=1.5,
                tokens_per_s=40.0 + index,
            )
            for index in range(n)
        ),
        pause_after=pause_after,
    )


def turn_echo(prompt: str, n: int, *, thinking: bool) -> FakeTurn:
    """The turn used when the script has run out: each sample echoes the prompt."""
    reasoning = f"The user wrote: {prompt.strip()[:60]}" if thinking else ""
    return FakeTurn(
        samples=tuple(
            sample(
                reasoning,
                f"Sample {index + 1}: you said *{prompt.strip()[:60]}*.",
                thinking_seconds=1.0 if thinking else None,
            )
            for index in range(n)
        )
    )


# ---------------------------------------------------------------- the engine


@dataclass
class _Gate:
    """Open/closed gate every scripted step passes through (no clocks, just events)."""

    opened: asyncio.Event = field(default_factory=asyncio.Event)
    paused: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.opened.set()


class FakeEngine(StatePublisher):
    """A scripted EngineService: same protocol and event shapes, deterministic output."""

    def __init__(
        self,
        load_script: Sequence[LoadProgress | EngineError] = DEFAULT_LOAD,
        chat_scripts: Sequence[FakeTurn] = (),
        figures: EngineFigures = DEFAULT_FIGURES,
        log: Sequence[str] = DEFAULT_LOG,
        step_delay_s: float = 0.0,
        *,
        load_pause_after: int | None = None,
        live: RemoteMetrics | None = None,
        count_prompts: bool = False,
    ) -> None:
        self.live = live
        self.count_prompts = count_prompts
        """Answer ``count_prompt`` (off: like an engine that cannot say, as most snapshots
        want)."""
        """The scheduler figures ``live_metrics`` reports while loaded (None: like an engine
        that has served nothing yet)."""
        self._load_script = tuple(load_script)
        self._chat_scripts = list(chat_scripts)
        self._figures = figures
        self._log = tuple(log)
        self._step_delay_s = step_delay_s
        self._load_pause_after = load_pause_after
        self._state = EngineState()
        self._profile: LoadedProfile | None = None
        self._load_started = False
        self._gate: _Gate | None = None
        self._aborted: set[str] = set()
        self._running: set[str] = set()
        self._request_counter = itertools.count(1)
        self.requests: list[FakeRequest] = []
        """Every chat call received, in order."""
        self.aborts: list[str | None] = []
        """Every abort call's argument, in order."""
        self.unload_count = 0

    # -- freezing -----------------------------------------------------------------

    def _ensure_gate(self) -> _Gate:
        # Created lazily so the asyncio.Events bind to the running loop, not the constructor's.
        if self._gate is None:
            self._gate = _Gate()
        return self._gate

    def hold(self) -> None:
        """Freeze every stream before its next event until ``release()``."""
        self._ensure_gate().opened.clear()

    def release(self) -> None:
        """Let frozen streams go on."""
        gate = self._ensure_gate()
        gate.paused.clear()
        gate.opened.set()

    @property
    def is_paused(self) -> bool:
        return self._gate is not None and self._gate.paused.is_set()

    async def wait_paused(self) -> None:
        """Return once a stream is frozen at the gate."""
        await self._ensure_gate().paused.wait()

    async def _step(self) -> None:
        gate = self._ensure_gate()
        if not gate.opened.is_set():
            gate.paused.set()
            await gate.opened.wait()
        await asyncio.sleep(self._step_delay_s)

    # -- EngineService ------------------------------------------------------------

    @property
    def state(self) -> EngineState:
        return self._state

    async def load(self, profile: LoadedProfile) -> AsyncIterator[LoadProgress]:
        """Replay the load script; raise its EngineError if it has one."""
        if self._state.status == "ready":
            await self.unload()
        self._profile = profile
        self._load_started = True
        self._state = EngineState(status="loading", profile_name=profile.name)
        for position, item in enumerate(self._load_script):
            if self._load_pause_after is not None and position == self._load_pause_after:
                self.hold()
            await self._step()
            if isinstance(item, EngineError):
                self._state = EngineState(
                    status="error", profile_name=profile.name, stage=self._state.stage, error=item
                )
                raise item
            if item.stage is LoadStage.READY:
                self._state = EngineState(
                    status="ready",
                    profile_name=profile.name,
                    stage=LoadStage.READY,
                    figures=self._figures,
                )
            else:
                self._state = EngineState(
                    status="loading", profile_name=profile.name, stage=item.stage
                )
            yield item

    def _requested_n(self, overrides: ChatOverrides | None) -> int:
        if overrides is not None and overrides.n is not None:
            return overrides.n
        if self._profile is not None:
            return self._profile.profile.sampling.n
        return 1

    def _thinking_enabled(self, overrides: ChatOverrides | None) -> bool:
        if overrides is not None and overrides.enable_thinking is not None:
            return overrides.enable_thinking
        if self._profile is not None:
            return self._profile.profile.chat.enable_thinking
        return True

    async def chat(
        self,
        messages: list[ChatMessage],
        overrides: ChatOverrides | None = None,
        *,
        request_id: str | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Replay the next scripted turn (or echo the prompt when the script has run out)."""
        request_id = request_id or f"fake-{next(self._request_counter)}"
        self.requests.append(FakeRequest(request_id, tuple(messages), overrides))
        if self._state.status != "ready":
            yield RequestFailed(request_id, EngineError("internal", "no model is loaded"))
            return
        n_requested = self._requested_n(overrides)
        thinking = self._thinking_enabled(overrides)
        if self._chat_scripts:
            turn = self._chat_scripts.pop(0)
        else:
            last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
            turn = turn_echo(last_user, n_requested, thinking=thinking)
        if turn.fail is not None:
            await self._step()
            yield RequestFailed(request_id, turn.fail)
            return
        self._running.add(request_id)
        try:
            async for event in self._replay(request_id, turn, n_requested, thinking):
                yield event
        finally:
            self._running.discard(request_id)
            self._aborted.discard(request_id)

    async def _replay(
        self, request_id: str, turn: FakeTurn, n_requested: int, thinking: bool
    ) -> AsyncIterator[ChatEvent]:
        samples = turn.samples
        steps: list[list[tuple[str, str]]] = [
            [("reasoning", c) for c in (s.reasoning_chunks if thinking else ())]
            + [("content", c) for c in s.answer_chunks]
            for s in samples
        ]
        sent = [0] * len(samples)
        done = [False] * len(samples)
        emitted = 0
        froze = False
        aborted = False
        # Round-robin over samples, one chunk each per round, like interleaved engine outputs.
        while not all(done) and not aborted:
            for index, chunks in enumerate(steps):
                if done[index]:
                    continue
                if turn.pause_after is not None and emitted >= turn.pause_after and not froze:
                    froze = True
                    self.hold()
                await self._step()
                if request_id in self._aborted:
                    aborted = True
                    break
                if sent[index] < len(chunks):
                    kind, text = chunks[sent[index]]
                    sent[index] += 1
                    emitted += 1
                    if kind == "reasoning":
                        yield SampleDelta(request_id, index, reasoning=text)
                    else:
                        yield SampleDelta(request_id, index, content=text)
                if sent[index] >= len(chunks):
                    done[index] = True
                    yield self._finished(request_id, index, samples[index], thinking, None)
        if aborted:
            for index, is_done in enumerate(done):
                if not is_done:
                    partial = steps[index][: sent[index]]
                    yield self._finished(
                        request_id, index, samples[index], thinking, partial, aborted=True
                    )
        asked = turn.n_requested if turn.n_requested is not None else n_requested
        error = turn.error
        if error is None and len(samples) < asked and not aborted:
            error = f"asked for {asked} samples, the engine returned {len(samples)}"
        yield RequestFinished(request_id, asked, len(samples), aborted=aborted, error=error)

    def _finished(
        self,
        request_id: str,
        index: int,
        scripted: FakeSample,
        thinking: bool,
        partial: list[tuple[str, str]] | None,
        *,
        aborted: bool = False,
    ) -> SampleFinished:
        if partial is None:
            reasoning = scripted.reasoning if thinking else ""
            content = scripted.answer
        else:
            reasoning = "".join(text for kind, text in partial if kind == "reasoning")
            content = "".join(text for kind, text in partial if kind == "content")
        reasoning_tokens = (
            scripted.reasoning_tokens
            if scripted.reasoning_tokens is not None and partial is None
            else len(_words(reasoning))
        )
        answer_tokens = (
            scripted.answer_tokens
            if scripted.answer_tokens is not None and partial is None
            else len(_words(content))
        )
        if not thinking:
            reasoning_tokens = 0
        raw = f"<think>\n{reasoning}\n</think>\n\n{content}" if reasoning else content
        stats = SampleStats(
            prompt_tokens=scripted.prompt_tokens,
            reasoning_tokens=reasoning_tokens,
            answer_tokens=answer_tokens,
            finish_reason="abort" if aborted else scripted.finish_reason,
            cumulative_logprob=scripted.cumulative_logprob,
            **_scripted_timing(
                scripted, reasoning_tokens + answer_tokens, bool(thinking and reasoning)
            ),
        )
        return SampleFinished(request_id, index, raw, reasoning, content, stats)

    async def count_prompt(
        self, messages: list[ChatMessage], overrides: ChatOverrides | None = None
    ) -> PromptCount | None:
        """A deterministic stand-in for the template's count: 4 tokens per message plus one
        per word of content (the thinking as if stripped), and 3 for the generation prompt."""
        if not self.count_prompts or self._profile is None or self._state.status != "ready":
            return None
        tokens = 3 + sum(4 + len(m.content.split()) for m in messages)
        sampling = self._profile.profile.sampling
        max_tokens = overrides.max_tokens if overrides and overrides.max_tokens else None
        return PromptCount(tokens, self._figures.max_model_len, max_tokens or sampling.max_tokens)

    async def abort(self, request_id: str | None = None) -> None:
        """Mark one (or every) running request aborted and wake it if it is frozen."""
        self.aborts.append(request_id)
        targets = set(self._running) if request_id is None else {request_id} & self._running
        self._aborted |= targets
        if targets:
            self.release()

    async def unload(self) -> None:
        """Forget the loaded profile."""
        self.unload_count += 1
        self._profile = None
        self._state = EngineState()

    def live_metrics(self) -> RemoteMetrics | None:
        """The scripted scheduler figures, while a model is loaded."""
        return self.live if self._state.status == "ready" else None

    def log_lines(self) -> list[str]:
        """The scripted log, once a load has started."""
        return list(self._log) if self._load_started else []
