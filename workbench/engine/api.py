"""The engine interface the UI and the CLI drive: typed load events, stream events and errors.

Pure: no vllm, torch or textual imports. The real service (``workbench.engine.service``) hosts
vLLM's AsyncLLM in a child process; the scripted fake (``workbench.engine.fake``) implements the
same ``EngineService`` protocol for deterministic UI snapshots only.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import KW_ONLY, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from workbench.profiles import LoadedProfile


class LoadStage(enum.Enum):
    """Where a load is; in order."""

    VALIDATING = "validating"
    STARTING = "starting"
    LOADING_WEIGHTS = "loading weights"
    PROFILING = "profiling memory"
    ALLOCATING_KV = "allocating KV cache"
    READY = "ready"


@dataclass(frozen=True)
class LoadProgress:
    """The load moved to ``stage``; ``elapsed_s`` since the load began."""

    stage: LoadStage
    elapsed_s: float
    detail: str = ""


@dataclass(frozen=True)
class EngineFigures:
    """What vLLM actually decided after a load (None where vLLM did not say)."""

    device: str  # "cpu" or the GPU name
    vllm_version: str
    max_model_len: int
    block_size: int
    num_blocks: int | None
    kv_cache_tokens: int | None
    max_concurrency: float | None  # at max_model_len tokens per request
    weights_bytes: int | None
    available_kv_bytes: int | None
    load_seconds: float
    raw_lines: tuple[str, ...] = ()  # the log lines these came from


@dataclass(frozen=True)
class Suggestion:
    """A profile change that would fix a failure, e.g. engine.max_model_len = 18080."""

    key: str  # dotted profile key
    value: Any
    reason: str


ErrorKind = Literal[
    "invalid_config",  # vLLM's own config validation refused it (fast, before any child starts)
    "max_model_len_too_large",  # KV cache cannot hold one request of max_model_len
    "model_files_missing",
    "unsupported",  # dtype / head size / architecture not supported on this device
    "out_of_memory",
    "engine_died",
    "internal",
]


class EngineError(Exception):
    """A typed engine failure with a one-line human message and, where known, a fix."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        suggestion: Suggestion | None = None,
        log_path: Path | None = None,
        log_excerpt: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.suggestion = suggestion
        self.log_path = log_path
        self.log_excerpt = log_excerpt


@dataclass(frozen=True)
class ChatMessage:
    """One conversation turn. ``reasoning`` is the assistant's thinking, kept separately so the
    thinking-history policy can strip or keep it when the conversation is sent back."""

    role: Literal["system", "user", "assistant"]
    content: str
    reasoning: str = ""


@dataclass(frozen=True)
class ChatOverrides:
    """Per-turn changes on top of the profile's [sampling] / [chat] (None = keep the profile's)."""

    n: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    enable_thinking: bool | None = None
    json_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class SampleStats:
    """Per-sample figures once it finished; each metric is defined in
    ``workbench.engine.timing.METRIC_DEFINITIONS`` (None where the engine did not say)."""

    prompt_tokens: int
    reasoning_tokens: int
    answer_tokens: int
    finish_reason: str | None  # "stop", "length", "abort", ...
    cumulative_logprob: float | None
    _: KW_ONLY  # the run metrics by name only: they are many, and all optional
    ttft_s: float | None = None
    first_answer_token_s: float | None = None
    e2e_s: float | None = None
    queue_s: float | None = None
    mean_itl_ms: float | None = None
    p95_itl_ms: float | None = None
    decode_tokens_per_s: float | None = None
    cached_prompt_tokens: int | None = None

    @property
    def generated_tokens(self) -> int:
        return self.reasoning_tokens + self.answer_tokens

    @property
    def tokens_per_s(self) -> float | None:
        return self.decode_tokens_per_s

    @property
    def thinking_seconds(self) -> float | None:
        """First token → first answer token, for a sample that reasoned."""
        if not self.reasoning_tokens or self.ttft_s is None or self.first_answer_token_s is None:
            return None
        return max(0.0, self.first_answer_token_s - self.ttft_s)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleStats:
        """From ``asdict`` output, including a chat saved before the run metrics existed
        (time_to_first_token_s / tokens_per_s / thinking_seconds); unknown keys are ignored."""
        values = dict(data)
        old_ttft = values.pop("time_to_first_token_s", None)
        old_rate = values.pop("tokens_per_s", None)
        old_thinking = values.pop("thinking_seconds", None)
        values.setdefault("ttft_s", old_ttft)
        values.setdefault("decode_tokens_per_s", old_rate)
        if old_thinking is not None and values.get("ttft_s") is not None:
            values.setdefault("first_answer_token_s", values["ttft_s"] + old_thinking)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class SampleDelta:
    """New text for sample ``index`` of request ``request_id``, already split by the parser."""

    request_id: str
    index: int
    reasoning: str = ""
    content: str = ""


@dataclass(frozen=True)
class SampleFinished:
    request_id: str
    index: int
    text: str  # the full raw text (think tags included)
    reasoning: str
    content: str
    stats: SampleStats


@dataclass(frozen=True)
class RequestFinished:
    """All samples are done (or aborted). ``error`` is set e.g. when fewer than n samples came."""

    request_id: str
    n_requested: int
    n_received: int
    aborted: bool = False
    error: str | None = None


@dataclass(frozen=True)
class RequestFailed:
    """The request could not run or the engine died under it."""

    request_id: str
    error: EngineError


ChatEvent = SampleDelta | SampleFinished | RequestFinished | RequestFailed


@dataclass
class EngineState:
    """A snapshot for the status bar."""

    status: Literal["unloaded", "loading", "ready", "error"] = "unloaded"
    profile_name: str | None = None
    stage: LoadStage | None = None
    figures: EngineFigures | None = None
    error: EngineError | None = None
    log_path: Path | None = None
    pids: tuple[int, ...] = field(default=())  # engine processes (for host-memory attribution)


StateListener = Callable[[EngineState], object]


def new_request_id() -> str:
    """A fresh id for one chat turn, the same shape from every engine."""
    return f"chat-{uuid.uuid4().hex[:12]}"


class StatePublisher:
    """Pushes every engine state change to its listeners: a service assigns ``self._state`` and
    the status bar, gauge and chat hear of it (an engine that dies after its load included),
    instead of reading a picture that may be stale."""

    _current: EngineState = EngineState()
    _listeners: list[StateListener]

    @property
    def _state(self) -> EngineState:
        return self._current

    @_state.setter
    def _state(self, state: EngineState) -> None:
        changed = state != self._current
        self._current = state
        if changed:
            for listener in list(getattr(self, "_listeners", ())):
                listener(state)

    def add_state_listener(self, listener: StateListener) -> None:
        """Call ``listener`` with each new state (on the service's event loop)."""
        if not hasattr(self, "_listeners"):
            self._listeners = []
        self._listeners.append(listener)


@dataclass(frozen=True)
class PromptCount:
    """How much of the context the next request's prompt takes (the chat's context gauge)."""

    tokens: int
    """The rendered prompt: system prompt, history as the thinking-history policy sends it,
    the chat template's own tokens and the generation prompt."""
    max_model_len: int
    max_tokens: int | None
    """What the request asks to generate at most (None: the rest of the context)."""

    @property
    def fraction(self) -> float:
        return self.tokens / self.max_model_len if self.max_model_len else 0.0

    @property
    def fits(self) -> bool:
        """Whether the prompt plus max_tokens fit max_model_len (vLLM refuses it otherwise)."""
        return self.tokens + (self.max_tokens or 1) <= self.max_model_len


class EngineService(Protocol):
    """Load one profile at a time, chat with it, abort, unload. All methods are async."""

    @property
    def state(self) -> EngineState: ...

    def add_state_listener(self, listener: StateListener) -> None:
        """Be told of every state change (ready, died, error, unloaded) as it happens."""
        ...

    def load(self, profile: LoadedProfile) -> AsyncIterator[LoadProgress]:
        """Yield progress until READY; the last event carries READY. Raises ``EngineError``.
        A profile that is already loaded is unloaded first."""
        ...

    def chat(
        self,
        messages: list[ChatMessage],
        overrides: ChatOverrides | None = None,
        *,
        request_id: str | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Stream one turn. Ends with ``RequestFinished`` or ``RequestFailed``."""
        ...

    async def count_prompt(
        self, messages: list[ChatMessage], overrides: ChatOverrides | None = None
    ) -> PromptCount | None:
        """The next request's prompt size, rendered the way ``chat`` would send it; None when
        nothing is loaded or the engine cannot say. Raises ``EngineError`` when rendering
        fails."""
        ...

    async def abort(self, request_id: str | None = None) -> None:
        """Abort one request, or every running one when ``request_id`` is None."""
        ...

    async def unload(self) -> None:
        """Stop the engine; its processes exit and their memory is freed."""
        ...

    def log_lines(self) -> list[str]:
        """The captured engine log of the current (or last) load."""
        ...
