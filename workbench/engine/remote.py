"""A running vLLM deployment as an engine: the same ``EngineService`` over the OpenAI API.

Pure of vLLM, torch and textual: httpx only. "Load" is connect: ``/health``, ``/version`` and
``/v1/models`` (served name, ``root``, ``max_model_len``). A turn is one streaming chat
completion with ``n`` choices routed by index; reasoning arrives as ``delta.reasoning`` (vLLM
0.32) or ``delta.reasoning_content`` (older vLLM, other servers); both are read. Token counts are
exact: every chunk carries its tokens' logprobs (``logprobs: true, top_logprobs: 0``). Abort
closes the stream (vLLM aborts a request whose client went away). The API key is read from the
environment variable the profile names, sent as a bearer token, and never logged or shown.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
    new_request_id,
)
from workbench.engine.conversation import (
    chat_template_kwargs,
    json_schema,
    merge_sampling,
    render_messages,
)
from workbench.engine.remote_metrics import RemoteMetrics, parse_metrics
from workbench.engine.think_split import TAG_PARSERS, ThinkSplitter
from workbench.engine.timing import TokenClock

if TYPE_CHECKING:
    import httpx

    from workbench.profiles import LoadedProfile
    from workbench.profiles.schema import DeploymentSection


def api_root(url: str) -> str:
    """The server's root URL (``/v1`` and trailing slashes dropped)."""
    root = url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def host_label(url: str) -> str:
    """ "remote · gpu-box:8000", how the gauge and status bar name a deployment."""
    return f"remote · {urlsplit(url).netloc or url}"


@dataclass
class _Sample:
    """What one choice has streamed so far."""

    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    reasoning_tokens: int = 0
    answer_tokens: int = 0
    logprob: float = 0.0
    logprobs_seen: bool = False
    clock: TokenClock = field(default_factory=lambda: TokenClock(time.monotonic()))
    finish_reason: str | None = None
    splitter: ThinkSplitter | None = None
    """Splits <think> text here while the server sends none as reasoning (no parser there)."""


class RemoteEngineService(StatePublisher):
    """Chat with a running OpenAI-compatible server (vLLM's ``vllm serve``) as an engine."""

    def __init__(self) -> None:
        self._state = EngineState()
        self._client: httpx.AsyncClient | None = None
        self._profile: LoadedProfile | None = None
        self._model: str | None = None
        self._aborted: set[str] = set()
        self._running: set[str] = set()
        self._log: list[str] = []
        self._prompt_tokens = 0
        self._cached_prompt_tokens: int | None = None

    @property
    def state(self) -> EngineState:
        return self._state

    def log_lines(self) -> list[str]:
        """What was asked of the server and what it answered (no key, no message text)."""
        return list(self._log)

    # -- connect ----------------------------------------------------------------------------

    async def load(self, profile: LoadedProfile) -> AsyncIterator[LoadProgress]:
        """Connect to the profile's [deployment]; READY once the server named its model."""
        import httpx

        deployment = profile.profile.deployment
        if deployment is None:
            raise EngineError("invalid_config", f"profile {profile.name} has no [deployment]")
        await self.unload()
        started = time.monotonic()
        self._log = []
        self._state = EngineState(status="loading", profile_name=profile.name)
        yield LoadProgress(LoadStage.VALIDATING, 0.0, deployment.url)
        headers = self._headers(deployment)
        root = api_root(deployment.url)
        client = httpx.AsyncClient(
            base_url=root, headers=headers, timeout=httpx.Timeout(deployment.timeout_s)
        )
        try:
            self._state = EngineState(
                status="loading", profile_name=profile.name, stage=LoadStage.STARTING
            )
            yield LoadProgress(LoadStage.STARTING, time.monotonic() - started, f"GET {root}")
            await self._get(client, "/health", deployment)
            version = (await self._get(client, "/version", deployment)).get("version", "?")
            models = (await self._get(client, "/v1/models", deployment)).get("data") or []
            chosen = self._choose_model(models, deployment, profile)
        except EngineError as error:
            await client.aclose()
            self._state = EngineState(status="error", profile_name=profile.name, error=error)
            raise
        self._client, self._profile, self._model = client, profile, str(chosen["id"])
        max_len = chosen.get("max_model_len")
        max_len = int(max_len) if isinstance(max_len, int) else 0
        metrics = await self.remote_metrics()
        known = metrics if isinstance(metrics, RemoteMetrics) else RemoteMetrics()
        kv_tokens = known.kv_tokens
        figures = EngineFigures(
            device=host_label(deployment.url),
            vllm_version=str(version),
            max_model_len=max_len,
            block_size=known.block_size or 0,
            num_blocks=known.num_blocks,
            kv_cache_tokens=kv_tokens,
            max_concurrency=kv_tokens / max_len if kv_tokens and max_len else None,
            weights_bytes=None,
            available_kv_bytes=known.kv_cache_bytes,
            load_seconds=time.monotonic() - started,
            raw_lines=tuple(self._log),
        )
        self._state = EngineState(
            status="ready", profile_name=profile.name, stage=LoadStage.READY, figures=figures
        )
        detail = f"{self._model} on {urlsplit(root).netloc} (vLLM {version})"
        yield LoadProgress(LoadStage.READY, time.monotonic() - started, detail)

    async def count_prompt(
        self, messages: list[ChatMessage], overrides: ChatOverrides | None = None
    ) -> PromptCount | None:
        """The server's own count of the next prompt (vLLM's POST /tokenize with the same
        messages and template arguments as the chat request); None if it cannot say."""
        import httpx

        client, profile = self._client, self._profile
        if client is None or profile is None or self._model is None:
            return None
        body = self.request_body(profile, messages, overrides)
        request = {
            "model": body["model"],
            "messages": body["messages"],
            "add_generation_prompt": True,
            "chat_template_kwargs": body["chat_template_kwargs"],
        }
        try:
            response = await client.post("/tokenize", json=request)
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("count"), int):
            return None
        max_model_len = data.get("max_model_len")
        if not isinstance(max_model_len, int):
            figures = self._state.figures
            max_model_len = figures.max_model_len if figures is not None else None
        if not max_model_len:
            return None
        max_tokens = body.get("max_tokens")
        return PromptCount(
            data["count"], max_model_len, max_tokens if isinstance(max_tokens, int) else None
        )

    async def remote_metrics(self) -> RemoteMetrics | str:
        """One scrape of the server's /metrics, or why there is none (one line)."""
        import httpx

        client = self._client
        if client is None:
            return "not connected"
        try:
            response = await client.get("/metrics")
        except httpx.HTTPError as exc:
            return f"/metrics not reachable ({type(exc).__name__})"
        if response.status_code != 200:
            return f"/metrics not reachable (HTTP {response.status_code})"
        try:
            return parse_metrics(response.text)
        except ValueError:
            return "/metrics is not Prometheus text"

    def _headers(self, deployment: DeploymentSection) -> dict[str, str]:
        if deployment.api_key_env is None:
            return {}
        key = os.environ.get(deployment.api_key_env)
        if not key:
            raise EngineError(
                "invalid_config",
                f"${deployment.api_key_env} is not set; the profile reads the server's API key "
                "from it (export it, or remove deployment.api_key_env)",
            )
        return {"Authorization": f"Bearer {key}"}

    async def _get(
        self, client: httpx.AsyncClient, path: str, deployment: DeploymentSection
    ) -> dict[str, Any]:
        import httpx

        try:
            response = await client.get(path)
        except httpx.HTTPError as exc:
            raise connection_error(exc, deployment.url) from None
        self._log.append(f"GET {path} → {response.status_code}")
        if response.status_code != 200:
            raise http_error(response.status_code, _error_text(response.text), deployment)
        if path == "/health":
            return {}
        try:
            data = response.json()
        except ValueError:
            raise EngineError(
                "invalid_config",
                f"{deployment.url}{path} did not answer JSON; is this an OpenAI-compatible server?",
            ) from None
        return data if isinstance(data, dict) else {}

    def _choose_model(
        self, models: list[Any], deployment: DeploymentSection, profile: LoadedProfile
    ) -> dict[str, Any]:
        served = [m for m in models if isinstance(m, dict) and "id" in m]
        names = [str(m["id"]) for m in served]
        wanted = deployment.model
        if wanted is None and len(served) > 1:
            wanted = profile.profile.model.id
        for model in served:
            if wanted is None or model["id"] == wanted or model.get("root") == wanted:
                return model
        raise EngineError(
            "model_files_missing",
            f"{deployment.url} does not serve {wanted!r}; it serves "
            f"{', '.join(names) or 'no model'} (set deployment.model to one of them)",
        )

    # -- chat -------------------------------------------------------------------------------

    async def chat(
        self,
        messages: list[ChatMessage],
        overrides: ChatOverrides | None = None,
        *,
        request_id: str | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Stream one turn as n choices of one chat completion."""
        import httpx

        request_id = request_id or new_request_id()
        client, profile = self._client, self._profile
        if client is None or profile is None or self._model is None:
            error = EngineError("engine_died", "not connected: load a deployment profile first")
            yield RequestFailed(request_id, error)
            return
        deployment = profile.profile.deployment
        assert deployment is not None
        body = self.request_body(profile, messages, overrides)
        asked = int(body["n"])
        samples: dict[int, _Sample] = {}
        finished: set[int] = set()
        self._prompt_tokens = 0
        self._cached_prompt_tokens = None
        started = time.monotonic()
        self._running.add(request_id)
        try:
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                self._log.append(f"POST /v1/chat/completions n={asked} → {response.status_code}")
                if response.status_code != 200:
                    text = _error_text((await response.aread()).decode("utf-8", "replace"))
                    yield RequestFailed(
                        request_id, http_error(response.status_code, text, deployment)
                    )
                    return
                async for line in response.aiter_lines():
                    if request_id in self._aborted:
                        break
                    chunk = _sse_data(line)
                    if chunk is None:
                        continue
                    if chunk == "[DONE]":
                        break
                    for event in self._chunk_events(request_id, chunk, samples, started):
                        yield event
                    for index, sample in samples.items():
                        if sample.finish_reason is not None and index not in finished:
                            finished.add(index)
                            yield self._finished(request_id, index, sample)
        except httpx.HTTPError as exc:
            error = connection_error(exc, deployment.url, mid_stream=bool(samples))
            self._state = EngineState(
                status="error",
                profile_name=profile.name,
                figures=self._state.figures,
                error=error,
            )
            yield RequestFailed(request_id, error)
            return
        finally:
            self._running.discard(request_id)
        aborted = request_id in self._aborted
        self._aborted.discard(request_id)
        for index, sample in sorted(samples.items()):
            if index not in finished:
                sample.finish_reason = sample.finish_reason or ("abort" if aborted else None)
                yield self._finished(request_id, index, sample)
        received = len(samples)
        error_text = None
        if received < asked and not aborted:
            error_text = f"asked for {asked} samples, the server returned {received}"
        yield RequestFinished(request_id, asked, received, aborted=aborted, error=error_text)

    def request_body(
        self,
        profile: LoadedProfile,
        messages: list[ChatMessage],
        overrides: ChatOverrides | None,
    ) -> dict[str, Any]:
        """The chat-completion request for one turn (the profile's sampling and chat values)."""
        p = profile.profile
        sampling = merge_sampling({}, p.sampling, overrides)
        kwargs = chat_template_kwargs(p.chat, overrides)
        kwargs.pop("add_generation_prompt", None)  # a request field of its own in the API
        body: dict[str, Any] = {
            "model": self._model,
            "messages": render_messages(messages, p.chat.thinking_history, p.chat.system_prompt),
            "stream": True,
            # usage on every chunk: the prompt's token count is known before any sample ends
            "stream_options": {"include_usage": True, "continuous_usage_stats": True},
            "chat_template_kwargs": kwargs,
            "skip_special_tokens": False,
        }
        top = sampling.pop("logprobs", None)
        body["logprobs"] = True  # each chunk's tokens: exact per-sample counts and logprobs
        body["top_logprobs"] = int(top or 0)
        body.update(sampling)
        schema = json_schema(p.sampling, Path(profile.path).parent, overrides)
        if schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema},
            }
        return body

    def _chunk_events(
        self, request_id: str, chunk: dict[str, Any], samples: dict[int, _Sample], started: float
    ) -> list[ChatEvent]:
        events: list[ChatEvent] = []
        now = time.monotonic()
        usage = chunk.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            self._prompt_tokens = usage["prompt_tokens"]
            details = usage.get("prompt_tokens_details")
            if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
                self._cached_prompt_tokens = details["cached_tokens"]
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            index = int(choice.get("index", 0))
            sample = samples.get(index)
            if sample is None:
                sample = samples[index] = _Sample(
                    clock=TokenClock(started), splitter=self._new_splitter()
                )
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning") or delta.get("reasoning_content") or ""
            content = delta.get("content") or ""
            held = False
            if reasoning:
                sample.splitter = None  # the server splits: its parser knows the tokens
            elif content and sample.splitter is not None:
                reasoning, content = sample.splitter.feed(content)
                held = not (reasoning or content)  # a tag split across deltas, waiting
            tokens = ((choice.get("logprobs") or {}).get("content")) or []
            for token in tokens:
                if isinstance(token, dict) and isinstance(token.get("logprob"), int | float):
                    sample.logprob += float(token["logprob"])
                    sample.logprobs_seen = True
            count = len(tokens) or 1
            if reasoning:
                sample.reasoning.append(reasoning)
            if content:
                sample.content.append(content)
            if content:  # a chunk that closes the thinking counts as the answer's
                sample.answer_tokens += count
            elif reasoning or held:
                sample.reasoning_tokens += count
            if reasoning or content or held:
                sample.clock.arrived(count, now, answer=bool(content))
            if reasoning or content:
                events.append(SampleDelta(request_id, index, reasoning=reasoning, content=content))
            if choice.get("finish_reason"):
                sample.finish_reason = str(choice["finish_reason"])
        return events

    def _new_splitter(self) -> ThinkSplitter | None:
        profile = self._profile
        parser = profile.profile.engine.reasoning_parser if profile is not None else None
        unclosed = TAG_PARSERS.get(parser or "")
        return ThinkSplitter(unclosed_is=unclosed) if unclosed is not None else None

    def _finished(self, request_id: str, index: int, sample: _Sample) -> SampleFinished:
        reasoning, content = "".join(sample.reasoning), "".join(sample.content)
        if sample.splitter is not None and (reasoning or content or sample.splitter.reasoning):
            split = sample.splitter.finish()
            if split[0] == "" and reasoning:  # no </think>, and the parser calls that an answer
                sample.answer_tokens += sample.reasoning_tokens
                sample.reasoning_tokens = 0
                sample.clock.first_answer_at = sample.clock.first_token_at
            reasoning, content = split
            note = "thinking split by workbench: the server runs without --reasoning-parser"
            if note not in self._log:
                self._log.append(note)
        clock = sample.clock
        stats = SampleStats(
            prompt_tokens=self._prompt_tokens,
            reasoning_tokens=sample.reasoning_tokens,
            answer_tokens=sample.answer_tokens,
            finish_reason=sample.finish_reason,
            cumulative_logprob=sample.logprob if sample.logprobs_seen else None,
            ttft_s=clock.ttft_s,
            first_answer_token_s=clock.first_answer_token_s,
            e2e_s=clock.e2e_s,
            queue_s=None,  # a deployment does not report it per request (its /metrics does)
            mean_itl_ms=clock.mean_itl_ms,
            p95_itl_ms=clock.p95_itl_ms,
            decode_tokens_per_s=clock.decode_tokens_per_s,
            cached_prompt_tokens=self._cached_prompt_tokens,
        )
        text = f"<think>\n{reasoning}\n</think>\n\n{content}" if reasoning else content
        return SampleFinished(request_id, index, text, reasoning, content, stats)

    async def abort(self, request_id: str | None = None) -> None:
        """Stop reading the stream; closing it makes vLLM abort the request."""
        self._aborted |= set(self._running) if request_id is None else {request_id}

    async def unload(self) -> None:
        """Disconnect (the deployment keeps running: it is not ours to stop)."""
        client, self._client = self._client, None
        self._model = None
        if client is not None:
            await client.aclose()
        if self._state.status != "unloaded":
            self._state = EngineState()


def _sse_data(line: str) -> Any:
    """The JSON of one server-sent ``data:`` line, "[DONE]", or None for anything else."""
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    if payload == "[DONE]":
        return payload
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _error_text(text: str) -> str:
    """The message of an OpenAI-style error body, else the body's first line."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip().splitlines()[0][:300] if text.strip() else ""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])[:300]
    return text.strip()[:300]


def http_error(status: int, text: str, deployment: DeploymentSection) -> EngineError:
    """A typed error for an HTTP status the server answered with."""
    where = deployment.url
    if status in (401, 403):
        how = (
            f"check ${deployment.api_key_env}"
            if deployment.api_key_env
            else "set deployment.api_key_env to the variable that holds its key"
        )
        return EngineError("invalid_config", f"{where} refused the API key ({status}); {how}")
    if status == 404:
        return EngineError(
            "model_files_missing", f"{where}: not found ({text or status}); check deployment.model"
        )
    if status == 400:
        return EngineError("invalid_config", f"{where} refused the request: {text or status}")
    return EngineError("internal", f"{where} answered {status}: {text or 'no detail'}")


def connection_error(exc: Exception, url: str, *, mid_stream: bool = False) -> EngineError:
    """A typed error for a failure to reach (or stay connected to) the server."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return EngineError(
            "engine_died",
            f"{url} did not answer in time ({type(exc).__name__}); raise "
            "deployment.timeout_s, or check the server's load",
        )
    if mid_stream or isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return EngineError(
            "engine_died",
            f"{url} closed the stream mid-answer; the server may have died "
            "(partial samples kept); reload to reconnect",
        )
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
        hint = "TLS failed: check the certificate, or the scheme (http vs https)"
    elif "name" in reason.lower() and "resol" in reason.lower():
        hint = "the host name does not resolve: check deployment.url"
    else:
        hint = "is the server running, and is the URL right?"
    return EngineError("engine_died", f"cannot reach {url} ({reason}); {hint}")
