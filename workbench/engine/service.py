"""The real engine service: each loaded profile runs in its own host process (``engine.host``).

Safe on the app's asyncio loop: process I/O goes through asyncio pipes and the log is tailed in
small non-blocking reads. Load progress comes from the host's own messages plus the log lines vLLM
writes; failures are classified from the log (the real cause is only there). Unloading asks the
host to shut down, then escalates to SIGTERM/SIGKILL of its whole process group, and checks that
no engine process is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine import logparse, protocol
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
    StatePublisher,
    Suggestion,
    new_request_id,
)
from workbench.engine.lifetime import EngineRegistry
from workbench.engine.remote_metrics import RemoteMetrics
from workbench.model_config import derived_max_model_len, tokenizer_max_length

if TYPE_CHECKING:
    from workbench.profiles import LoadedProfile
    from workbench.profiles.schema import Profile

_STAGE_ORDER = list(LoadStage)
_POLL_S = 0.1
COUNT_TIMEOUT_S = 10.0
"""A prompt count the host has not answered by then is not shown (the gauge waits)."""
KEEP_LOGS = 50  # engine logs kept in the log dir, newest first


@dataclass
class _Host:
    """One running host process and its bookkeeping."""

    process: asyncio.subprocess.Process
    log_path: Path
    profile: Profile
    pids: set[int] = field(default_factory=set)
    reader: asyncio.Task[None] | None = None
    queues: dict[str, asyncio.Queue[ChatEvent]] = field(default_factory=dict)
    stopping: bool = False
    died: EngineError | None = None
    live: RemoteMetrics | None = None
    counts: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


class _LogTail:
    """Incremental reader of a growing log file; splits on newlines and tqdm's carriage returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = ""

    def read_new(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return []
        self.offset += len(data)
        text = self.partial + data.decode("utf-8", errors="replace")
        parts = re.split(r"\r\n|\n|\r", text)
        self.partial = parts.pop()
        return [part for part in parts if part.strip()]


def prune_logs(log_dir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest engine logs (one is written per load)."""
    logs = sorted(log_dir.glob("*.log"), key=lambda path: path.stat().st_mtime, reverse=True)
    for old in logs[max(keep, 0) :]:
        with contextlib.suppress(OSError):
            old.unlink()


_PYDANTIC_FIELD_ERROR = re.compile(
    r"validation error for (\w+)\s*\n\s*(\w+)\s*\n\s*(.+?)(?:\s*\[type=|\n|$)"
)


def _name_profile_key(exception_text: str, profile: Profile) -> str | None:
    """Say vLLM's field error in profile terms: "engine.extra.x: ... (vLLM SchedulerConfig)"."""
    match = _PYDANTIC_FIELD_ERROR.search(exception_text)
    if match is None:
        return None
    config_class, name, problem = match.groups()
    if name in profile.engine.extra:
        key = f"engine.extra.{name}"
    elif name in type(profile.engine).model_fields:
        key = f"engine.{name}"
    else:
        return None
    return f"{key}: {problem.rstrip('.')} (vLLM {config_class})"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "profile"


def _precheck(loaded: LoadedProfile, model_dir: Path, log_path: Path | None) -> None:
    """Fail in milliseconds on what we can see without vLLM: missing files, too-long context."""
    config_path = model_dir / "config.json"
    if not model_dir.is_dir():
        raise EngineError(
            "model_files_missing",
            f"model directory {model_dir} does not exist",
            log_path=log_path,
        )
    if not config_path.is_file():
        raise EngineError(
            "model_files_missing",
            f"{config_path} is missing: {model_dir} is not a Hugging Face model directory",
            log_path=log_path,
        )
    _precheck_files(loaded, model_dir, log_path)
    requested = loaded.profile.engine.max_model_len
    allow_long = "VLLM_ALLOW_LONG_MAX_MODEL_LEN"
    if requested is None or os.environ.get(allow_long) or loaded.profile.env.get(allow_long):
        return  # the engine host gets the profile's [env] too
    if {"hf_overrides", "rope_scaling"} & set(loaded.profile.engine.extra):
        return  # the context is extended on purpose; vLLM judges the result
    try:
        config = json.loads(config_path.read_text("utf-8"))
    except (OSError, ValueError):
        return  # vLLM will say what is wrong with it
    if not isinstance(config, dict):
        return
    derived = derived_max_model_len(config, tokenizer_max_length(model_dir))
    if derived.refuses(requested):
        raise EngineError(
            "invalid_config",
            f"engine.max_model_len {requested} is above the model's maximum {derived.length} "
            f"({derived.source} in {config_path})",
            suggestion=Suggestion("engine.max_model_len", derived.length, "the model's maximum"),
            log_path=log_path,
        )


def _precheck_files(loaded: LoadedProfile, model_dir: Path, log_path: Path | None) -> None:
    """Weights and a chat template: without them vLLM fails late (weights: after ~25 s, with
    a stack trace; no template: at the first message, after a whole load)."""
    from workbench.profiles.models import WEIGHT_FILE_PATTERNS, has_weight_files

    model = loaded.profile.model
    if loaded.profile.engine.extra.get("load_format") not in (None, "auto", "safetensors", "pt"):
        return  # dummy weights, or a loader that reads something else
    if not has_weight_files(model_dir):
        raise EngineError(
            "model_files_missing",
            f"{model_dir} has config.json but no weights ({', '.join(WEIGHT_FILE_PATTERNS)}); "
            "download the whole model (e.g. `hf download ID`), not only its metadata",
            log_path=log_path,
        )
    if model.chat_template is not None:
        return
    tokenizer_dir = Path(model.tokenizer) if model.tokenizer else model_dir
    if not tokenizer_dir.is_dir():
        return  # a tokenizer id: vLLM resolves it
    template_files = ("chat_template.jinja", "chat_template.json")
    if any((tokenizer_dir / name).is_file() for name in template_files):
        return
    try:
        config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return  # vLLM will say what is wrong with the tokenizer
    if isinstance(config, dict) and config.get("chat_template"):
        return
    raise EngineError(
        "invalid_config",
        f"the tokenizer in {tokenizer_dir} has no chat template, so it cannot chat; set "
        '[model] chat_template = "template.jinja" (a base model needs one written for it)',
        log_path=log_path,
    )


class VllmEngineService(StatePublisher):
    """``EngineService`` backed by vLLM's AsyncLLM in a child process per loaded profile."""

    def __init__(
        self,
        log_dir: Path | None = None,
        *,
        python: str = sys.executable,
        shutdown_timeout_s: float = 30.0,
        record_calibration: bool = True,
        registry: EngineRegistry | None = None,
    ) -> None:
        if log_dir is None:
            from workbench.paths import data_dir

            log_dir = data_dir() / "logs"
        self.log_dir = log_dir
        self.python = python
        self.shutdown_timeout_s = shutdown_timeout_s
        self.record_calibration = record_calibration
        self.registry = registry if registry is not None else EngineRegistry()
        self._state = EngineState()
        self._host: _Host | None = None
        self._last_log: Path | None = None
        self.notes: list[str] = []

    @property
    def state(self) -> EngineState:
        """A snapshot for the status bar."""
        return self._state

    def live_metrics(self) -> RemoteMetrics | None:
        """The loaded engine's latest scheduler figures (vLLM's stat logger in the host): KV
        usage, running/waiting, preemptions, prefix-cache hits; None before the first request
        or without an engine."""
        host = self._host
        return host.live if host is not None and host.reader is not None else None

    def _live_metrics(self, message: dict[str, Any]) -> RemoteMetrics:
        figures = self._state.figures
        return RemoteMetrics(
            kv_usage=float(message["kv_usage"]),
            running=int(message["running"]),
            waiting=int(message["waiting"]),
            preemptions=int(message["preemptions"]),
            prefix_queries=int(message["prefix_queries"]),
            prefix_hits=int(message["prefix_hits"]),
            num_blocks=figures.num_blocks if figures is not None else None,
            block_size=figures.block_size if figures is not None else None,
            kv_cache_tokens=figures.kv_cache_tokens if figures is not None else None,
        )

    def log_lines(self) -> list[str]:
        """The captured engine log of the current (or last) load."""
        if self._last_log is None:
            return []
        try:
            text = self._last_log.read_text("utf-8", errors="replace")
        except OSError:
            return []
        return [line for line in re.split(r"\r\n|\n|\r", text) if line.strip()]

    # --- load ----------------------------------------------------------------------------------

    async def load(self, profile: LoadedProfile) -> AsyncIterator[LoadProgress]:
        """Yield progress until READY. Raises ``EngineError``; the failed host is cleaned up."""
        if self._host is not None:
            await self.unload()
        started = time.monotonic()
        self.notes = []
        self._state = EngineState(
            status="loading", profile_name=profile.name, stage=LoadStage.VALIDATING
        )
        yield LoadProgress(LoadStage.VALIDATING, 0.0, "checking the model directory")
        try:
            model_dir = profile.require_model_dir()
        except Exception as exc:
            raise self._fail(
                EngineError(
                    "model_files_missing",
                    str(exc).splitlines()[0] if str(exc) else "model directory not found",
                )
            ) from None
        try:
            _precheck(profile, model_dir, None)
        except EngineError as exc:
            raise self._fail(exc) from None

        self.log_dir.mkdir(parents=True, exist_ok=True)
        prune_logs(self.log_dir, KEEP_LOGS - 1)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        log_path = self.log_dir / f"{stamp}-{_safe_name(profile.name)}-{uuid.uuid4().hex[:6]}.log"
        self._last_log = log_path
        self._state = replace(self._state, log_path=log_path)
        host = await self._spawn(profile, model_dir, log_path)
        self._host = host
        tail = _LogTail(log_path)
        reached = LoadStage.VALIDATING
        lines = asyncio.Queue[bytes | None]()
        pump = asyncio.create_task(self._pump_lines(host, lines))
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(lines.get(), timeout=_POLL_S)
                except TimeoutError:
                    raw = b""
                for line in tail.read_new():
                    stage = logparse.stage_of_line(line)
                    if stage is not None and _STAGE_ORDER.index(stage) > _STAGE_ORDER.index(
                        reached
                    ):
                        reached = stage
                        self._state = replace(self._state, stage=stage)
                        yield LoadProgress(stage, time.monotonic() - started, _short(line))
                if raw == b"":
                    continue
                if raw is None:  # the host exited before it was ready
                    await host.process.wait()
                    raise self._load_failure(
                        host,
                        None,
                        f"engine host exited with code {host.process.returncode} while loading",
                    )
                message = protocol.decode(raw)
                kind = message.get("ev")
                if kind == "stage":
                    stage = LoadStage(message["stage"])
                    if _STAGE_ORDER.index(stage) > _STAGE_ORDER.index(reached):
                        reached = stage
                        self._state = replace(self._state, stage=stage)
                        detail = ""
                        if "validate_s" in message:
                            detail = f"vLLM config validated in {message['validate_s']:.2f} s"
                        yield LoadProgress(stage, time.monotonic() - started, detail)
                elif kind == "note":
                    self.notes.append(message["text"])
                elif kind == "load_failed":
                    await self._wait_exit(host, 5.0)
                    raise self._load_failure(host, message, "engine failed to start")
                elif kind == "ready":
                    tail.read_new()  # figures are parsed from the whole log below
                    figures = self._figures(message, log_path, time.monotonic() - started)
                    host.pids.update(int(pid) for pid in message.get("pids", []))
                    self.registry.record(host.process.pid, profile.name, tuple(sorted(host.pids)))
                    pump.cancel()
                    host.reader = asyncio.create_task(self._read_events(host))
                    self._state = EngineState(
                        status="ready",
                        profile_name=profile.name,
                        stage=LoadStage.READY,
                        figures=figures,
                        log_path=log_path,
                        pids=tuple(sorted(host.pids)),
                    )
                    self._calibrate(profile, model_dir, figures, message.get("settings") or {})
                    yield LoadProgress(LoadStage.READY, figures.load_seconds, "ready")
                    return
        except BaseException:
            pump.cancel()
            if self._host is host and host.reader is None:
                await self._kill(host)
                self._host = None
            raise

    async def _spawn(self, profile: LoadedProfile, model_dir: Path, log_path: Path) -> _Host:
        env = dict(os.environ)
        env.update(profile.profile.env)
        env["HF_HUB_OFFLINE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        spec = {
            "version": protocol.PROTOCOL_VERSION,
            "name": profile.name,
            "profile_json": profile.profile.model_dump_json(),
            "model_dir": str(model_dir),
            "base_dir": str(Path(profile.path).parent),
            "parent_pid": os.getpid(),  # the host dies with this process
        }
        with log_path.open("ab") as log_file:
            process = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                "workbench.engine.host",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env=env,
                # Own process group: killable as a whole, and no SIGINT from the terminal.
                start_new_session=True,
                limit=64 * 1024 * 1024,
            )
        self.registry.record(process.pid, profile.name)
        assert process.stdin is not None
        process.stdin.write(json.dumps(spec).encode() + b"\n")
        await process.stdin.drain()
        return _Host(process, log_path, profile.profile, pids={process.pid})

    async def _pump_lines(self, host: _Host, lines: asyncio.Queue[bytes | None]) -> None:
        assert host.process.stdout is not None
        while True:
            raw = await host.process.stdout.readline()
            if not raw:
                await lines.put(None)
                return
            await lines.put(raw)

    def _figures(self, ready: dict[str, Any], log_path: Path, seconds: float) -> EngineFigures:
        parsed = logparse.parse_figures(self.log_lines())
        return EngineFigures(
            device=str(ready.get("device", "unknown")),
            vllm_version=str(ready.get("vllm_version", "unknown")),
            max_model_len=int(ready["max_model_len"]),
            block_size=int(ready["block_size"]),
            num_blocks=ready.get("num_blocks") or parsed.num_blocks,
            kv_cache_tokens=parsed.kv_cache_tokens or ready.get("kv_cache_tokens"),
            max_concurrency=parsed.max_concurrency or ready.get("max_concurrency"),
            weights_bytes=parsed.weights_bytes or None,  # "0.00 GiB" says nothing
            available_kv_bytes=parsed.available_kv_bytes,
            load_seconds=seconds,
            raw_lines=tuple(parsed.raw_lines),
        )

    def _calibrate(
        self,
        profile: LoadedProfile,
        model_dir: Path,
        figures: EngineFigures,
        settings: dict[str, Any],
    ) -> None:
        """Record what vLLM measured for the estimator; a calibration problem never fails a load."""
        if not self.record_calibration:
            return
        try:
            from workbench.estimate.calibration import CalibrationStore
            from workbench.estimate.model import EstimateSettings

            estimate_settings = replace(
                EstimateSettings.from_profile(profile.profile),
                max_model_len=figures.max_model_len,
                block_size=figures.block_size,
                kv_cache_memory_bytes=settings.get("kv_cache_memory_bytes"),
            )
            CalibrationStore().record_load(
                model_dir, figures.device, figures.vllm_version, figures, estimate_settings
            )
        except Exception as exc:  # the estimator is optional here
            self.notes.append(f"calibration not recorded: {type(exc).__name__}: {exc}")

    def _load_failure(
        self, host: _Host, message: dict[str, Any] | None, fallback: str
    ) -> EngineError:
        lines = self.log_lines()
        if message is not None and message.get("error"):
            error = protocol.error_from_dict(message["error"])
            error.log_path = host.log_path
            return self._fail(error)
        exception_text = str(message.get("message") or "") if message is not None else ""
        if message is not None and message.get("phase") == "validate" and exception_text:
            # vLLM refused the config in-process: the exception itself is the whole story.
            condensed = logparse.one_line(exception_text)
            error = logparse.classify_failure(
                exception_text.splitlines(),
                fallback=condensed,
                log_path=host.log_path,
                default_kind="invalid_config",
            )
            if error.kind == "invalid_config" and error.suggestion is None:
                error.message = _name_profile_key(exception_text, host.profile) or condensed
            return self._fail(error)
        if exception_text:
            lines = [*lines, *exception_text.splitlines()]
            fallback = logparse.one_line(exception_text)
        error = logparse.classify_failure(lines, fallback=fallback, log_path=host.log_path)
        return self._fail(error)

    def _fail(self, error: EngineError) -> EngineError:
        if error.log_path is None:
            error.log_path = self._last_log
        self._state = replace(self._state, status="error", error=error)
        return error

    # --- chat ----------------------------------------------------------------------------------

    async def _read_events(self, host: _Host) -> None:
        """Route host messages to the open requests; on exit, fail them with the log's cause."""
        stdout = host.process.stdout
        assert stdout is not None
        try:
            while True:
                raw = await stdout.readline()
                if not raw:
                    break
                try:
                    message = protocol.decode(raw)
                except ValueError:
                    continue
                if message.get("ev") == "stats":
                    host.live = self._live_metrics(message)
                    continue
                if message.get("ev") == "count":
                    waiting = host.counts.get(str(message.get("id")))
                    if waiting is not None and not waiting.done():
                        waiting.set_result(message)
                    continue
                if message.get("ev") != "events":
                    continue
                for item in message["items"]:
                    event = protocol.event_from_dict(item)
                    queue = host.queues.get(event.request_id)
                    if queue is not None:
                        queue.put_nowait(event)
        finally:
            if not host.stopping:
                await self._host_died(host)

    async def _host_died(self, host: _Host) -> None:
        await self._wait_exit(host, 2.0)
        code = host.process.returncode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        lines = self.log_lines()
        ready = [i for i, line in enumerate(lines) if line == "[workbench] ready"]
        ready_at = ready[-1] if ready else 0
        error = logparse.classify_failure(
            lines[ready_at:],  # only what happened while serving
            fallback=f"the engine process died ({how})",
            log_path=host.log_path,
        )
        if error.kind == "engine_died":
            error.message = f"the engine process died ({how}): {error.message}"
        host.died = error
        if self._host is host:
            self._host = None
            self._state = replace(self._state, status="error", error=error, pids=())
        for request_id, queue in list(host.queues.items()):
            queue.put_nowait(RequestFailed(request_id, error))
        await self._kill(host)  # the engine core and worker outlive a killed host otherwise

    async def chat(
        self,
        messages: list[ChatMessage],
        overrides: ChatOverrides | None = None,
        *,
        request_id: str | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Stream one turn: SampleDelta/SampleFinished events, then RequestFinished/Failed."""
        request_id = request_id or new_request_id()
        host = self._host
        if host is None or host.reader is None:
            error = self._state.error if self._state.status == "error" else None
            yield RequestFailed(
                request_id, error or EngineError("internal", "no model is loaded; load a profile")
            )
            return
        queue: asyncio.Queue[ChatEvent] = asyncio.Queue()
        host.queues[request_id] = queue
        done = False
        try:
            await self._send(
                host,
                {
                    "op": "chat",
                    "id": request_id,
                    "messages": protocol.messages_to_list(messages),
                    "overrides": protocol.overrides_to_dict(overrides),
                },
            )
            while True:
                event = await queue.get()
                yield event
                if isinstance(event, RequestFinished | RequestFailed):
                    done = True
                    return
        finally:
            host.queues.pop(request_id, None)
            if not done and host.died is None and not host.stopping:
                # The consumer stopped listening mid-stream: do not leave the request running.
                with contextlib.suppress(Exception):
                    await self._send(host, {"op": "abort", "id": request_id})

    async def count_prompt(
        self, messages: list[ChatMessage], overrides: ChatOverrides | None = None
    ) -> PromptCount | None:
        """The host renders the prompt exactly as it would for ``chat`` and counts it."""
        host = self._host
        if host is None or host.reader is None:
            return None
        count_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        host.counts[count_id] = future
        try:
            await self._send(
                host,
                {
                    "op": "count",
                    "id": count_id,
                    "messages": protocol.messages_to_list(messages),
                    "overrides": protocol.overrides_to_dict(overrides),
                },
            )
            reply = await asyncio.wait_for(future, COUNT_TIMEOUT_S)
        except TimeoutError:
            return None
        finally:
            host.counts.pop(count_id, None)
        if "error" in reply:
            raise EngineError("invalid_config", f"the chat template failed: {reply['error']}")
        max_tokens = reply.get("max_tokens")
        return PromptCount(
            int(reply["tokens"]),
            int(reply["max_model_len"]),
            int(max_tokens) if max_tokens is not None else None,
        )

    async def _send(self, host: _Host, command: dict[str, Any]) -> None:
        stdin = host.process.stdin
        if stdin is None or stdin.is_closing():
            return
        try:
            stdin.write(protocol.encode(command))
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader notices the exit and fails open requests

    async def abort(self, request_id: str | None = None) -> None:
        """Abort one request, or every running one when ``request_id`` is None."""
        if self._host is not None:
            await self._send(self._host, {"op": "abort", "id": request_id})

    # --- unload --------------------------------------------------------------------------------

    async def unload(self) -> None:
        """Stop the engine; its processes exit and their memory is freed."""
        host = self._host
        if host is None:
            self._state = EngineState(log_path=self._last_log)
            return
        host.stopping = True
        host.pids.update(_descendants(host.process.pid))
        await self._send(host, {"op": "shutdown"})
        if not await self._wait_exit(host, self.shutdown_timeout_s):
            self._note("host did not exit in time; terminating its process group")
        await self._kill(host)
        if host.reader is not None:
            host.reader.cancel()
            with contextlib.suppress(BaseException):
                await host.reader
        for request_id, queue in list(host.queues.items()):
            queue.put_nowait(
                RequestFinished(request_id, 0, 0, aborted=True, error="the engine was unloaded")
            )
        self._host = None
        self._state = EngineState(log_path=self._last_log)

    async def _wait_exit(self, host: _Host, timeout: float) -> bool:
        try:
            await asyncio.wait_for(host.process.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def _kill(self, host: _Host) -> None:
        """SIGTERM, then SIGKILL, the host's process group and every process it started."""
        pgid = host.process.pid
        host.pids.update(_descendants(host.process.pid))
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            alive = _alive(host.pids) or _group_alive(pgid)
            if not alive:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            for pid in _alive(host.pids):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and (_alive(host.pids) or _group_alive(pgid)):
                await asyncio.sleep(0.1)
        if host.process.returncode is None:
            await self._wait_exit(host, 2.0)
        left = _alive(host.pids)
        if left:
            self._note(f"engine processes still alive after kill: {sorted(left)}")
        else:
            self.registry.forget(host.process.pid)

    def _note(self, text: str) -> None:
        self.notes.append(text)

    def engine_pids(self) -> set[int]:
        """Every process of the current engine (host and descendants) alive now."""
        if self._host is None:
            return set()
        return {self._host.process.pid, *_descendants(self._host.process.pid)}


def _descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def _alive(pids: set[int]) -> set[int]:
    import psutil

    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.Error:
            continue
    return alive


def _group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is still in the process group (orphans included)."""
    import psutil

    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                return True
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return False


def _short(line: str, width: int = 120) -> str:
    line = re.sub(r"^\(\w+(?:-\d+)? pid=\d+\)\s*", "", line.strip())
    line = re.sub(r"^(?:INFO|WARNING|ERROR|DEBUG)\s+[\d-]+ [\d:]+ \[[^\]]+\]\s*", "", line)
    return line if len(line) <= width else line[: width - 1] + "…"
