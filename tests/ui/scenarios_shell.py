"""App states for the shell's snapshot tests and for screenshots/generate.py (one source of truth).

Each builder writes small profile files under a root directory, makes a ``WorkbenchApp`` through
``create_app`` with the scripted ``FakeEngine`` and a ``FakeVramSampler``, and returns it with a
``run_before`` coroutine that drives it into the state to capture. Nothing reads a clock.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input

from workbench.app import WorkbenchApp, create_app
from workbench.engine.api import EngineFigures, LoadProgress
from workbench.engine.fake import (
    DEFAULT_FIGURES,
    DEFAULT_LOG,
    LOAD_FAILS_MAX_MODEL_LEN,
    FakeEngine,
    turn_n4_majority,
)
from workbench.engine.lifetime import EngineRegistry
from workbench.estimate import GpuSpec
from workbench.gpu import FakeVramSampler, GpuProcess, GpuReading, HostMemory, VramSample
from workbench.profiles import load_profile
from workbench.ui.tuner_view import TunerView

TERMINAL_SIZE = (140, 42)
MIB = 1024**2
GIB = 1024**3
REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_MODELS = REPO_ROOT / "tests" / "data" / "models"

RTX_4090 = GpuSpec(name="NVIDIA GeForce RTX 4090", total_bytes=24564 * MIB)
ENGINE_PID = 4242

# name → (reference config folder, profile TOML). Model paths are relative to the profile file.
PROJECT_PROFILES: dict[str, str] = {
    "qwen2.5-7b-chat": """\
[meta]
description = "Qwen2.5-7B-Instruct, 16k context on one 24 GB card"

[model]
path = "../models/qwen2.5-7b-instruct"

[engine]
max_model_len = 16384
gpu_memory_utilization = 0.9

[sampling]
temperature = 0.7
n = 1
""",
    "llama-8b-128k": """\
[meta]
description = "Llama-3.1-8B-Instruct at its full 128k context"

[model]
path = "../models/llama-3.1-8b-instruct"

[engine]
max_model_len = 131072
gpu_memory_utilization = 0.9

[sampling]
n = 4
""",
    "broken": """\
[meta]
description = "has a typo"

[model]
path = "../models/qwen2.5-7b-instruct"

[engine]
max_model_length = 8192
""",
}
USER_PROFILES: dict[str, str] = {
    "qwen-n4": """\
[meta]
description = "Qwen2.5-7B, four samples per turn, short context"

[model]
path = "../models/qwen2.5-7b-instruct"

[engine]
max_model_len = 4096
gpu_memory_utilization = 0.85
max_num_seqs = 16

[sampling]
n = 4
temperature = 0.8
""",
}
MODELS = {
    "qwen2.5-7b-instruct": "Qwen__Qwen2.5-7B-Instruct",
    "llama-3.1-8b-instruct": "meta-llama__Llama-3.1-8B-Instruct",
}

GPU_FIGURES = EngineFigures(
    device=RTX_4090.name,
    vllm_version="0.32.0",
    max_model_len=16384,
    block_size=16,
    num_blocks=6866,
    kv_cache_tokens=109_856,
    max_concurrency=6.70,
    weights_bytes=15_231_233_024,
    available_kv_bytes=6_299_582_464,
    load_seconds=41.2,
)


@dataclass(frozen=True)
class ProfileDirs:
    """Where a scenario's profiles live."""

    project: Path
    user: Path


@dataclass
class Scenario:
    """An app and the steps that bring it into the state to capture."""

    app: WorkbenchApp
    run_before: Callable[[Pilot[Any]], Awaitable[None]]
    dirs: ProfileDirs


def write_profile_dirs(root: Path) -> ProfileDirs:
    """Project and user profile dirs (one invalid profile) with the model configs they use."""
    for folder, reference in MODELS.items():
        model_dir = root / "models" / folder
        model_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(REFERENCE_MODELS / reference / "config.json", model_dir / "config.json")
        total = json.loads((REFERENCE_MODELS / reference / "weights.json").read_text())
        index = {"metadata": {"total_size": total["total_size"]}, "weight_map": {}}
        (model_dir / "model.safetensors.index.json").write_text(json.dumps(index))
    dirs = ProfileDirs(project=root / "project", user=root / "user")
    for directory, profiles in ((dirs.project, PROJECT_PROFILES), (dirs.user, USER_PROFILES)):
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in profiles.items():
            (directory / f"{name}.toml").write_text(text)
    return dirs


def gpu_sample(used_fraction: float, *, engine_loaded: bool = True) -> VramSample:
    """One RTX 4090 reading at ``used_fraction``, with another process holding 1.5 GiB."""
    total = RTX_4090.total_bytes
    used = int(total * used_fraction)
    other_job = GpuProcess(pid=777, name="python train.py", used_bytes=int(1.5 * GIB))
    reading = GpuReading(
        index=0,
        name=RTX_4090.name,
        total_bytes=total,
        used_bytes=used,
        free_bytes=total - used,
        processes=(other_job,),
        utilization_pct=87 if engine_loaded else 3,
        temperature_c=71,
        power_w=None,  # NVML "not supported" on this card: shown as n/a
    )
    return VramSample(timestamp=0.0, gpus=(reading,), host=None, unavailable_reason=None)


def host_sample(engine_rss_bytes: int) -> VramSample:
    """No GPU: the host-memory reading the CPU engine is judged by."""
    host = HostMemory(
        total_bytes=32 * GIB, available_bytes=20 * GIB, engine_rss_bytes=engine_rss_bytes
    )
    return VramSample(
        timestamp=0.0, gpus=(), host=host, unavailable_reason="NVML: driver not loaded"
    )


def build_app(
    root: Path,
    *,
    engine: FakeEngine | None = None,
    samples: Sequence[VramSample] = (),
    gpu: GpuSpec | None = RTX_4090,
    initial_profile: str | None = None,
    autoload: bool = False,
    registry: EngineRegistry | None = None,
) -> tuple[WorkbenchApp, ProfileDirs]:
    """The shell app on fake engine and sampler, with profile dirs under ``root``."""
    dirs = write_profile_dirs(root)
    app = create_app(
        engine=engine or FakeEngine(),
        sampler=FakeVramSampler(list(samples) or [gpu_sample(0.35, engine_loaded=False)]),
        initial_profile=initial_profile,
        autoload=autoload,
        project_dir=dirs.project,
        user_dir=dirs.user,
        gpu=gpu,
        sample_interval_s=0,  # tests take readings explicitly: no timers
        registry=registry,
    )
    app.animation_level = "none"
    return app, dirs


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until every worker but the (possibly frozen) engine load is done, and messages ran."""
    for _ in range(20):
        await pilot.pause()
        steady_cursors(pilot.app)
        pending = [w for w in pilot.app.workers if w.group != "engine" and not w.is_finished]
        if not pending:
            break
        # A cancelled or failed worker is finished too; failures surface through the app.
        await asyncio.gather(*(worker.wait() for worker in pending), return_exceptions=True)
    await pilot.pause()


def steady_cursors(app: App[Any]) -> None:
    """No blinking text cursors: a blink phase must not decide a snapshot."""
    for screen in app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False


async def take_samples(pilot: Pilot[Any], count: int) -> None:
    """Take ``count`` VRAM readings, one after another, as the timer would."""
    app = pilot.app
    assert isinstance(app, WorkbenchApp)
    for _ in range(count):
        app.sample_vram()
        await settle(pilot)


async def wait_for_engine(pilot: Pilot[Any]) -> None:
    """Wait for the engine load worker to finish and its messages to land."""
    engine_workers = [w for w in pilot.app.workers if w.group == "engine"]
    await asyncio.gather(*(worker.wait() for worker in engine_workers), return_exceptions=True)
    await settle(pilot)


# ---------------------------------------------------------------- the scenarios


def profiles_with_invalid(root: Path) -> Scenario:
    """The Profiles tab: three valid profiles with fit badges, one invalid with its error."""
    app, dirs = build_app(root)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)

    return Scenario(app, run_before, dirs)


TEAMMATE_PROFILE = """\
[meta]
description = "From a teammate: Qwen3-8B, not downloaded here"

[model]
id = "Qwen/Qwen3-8B"

[engine]
max_model_len = 32768
"""


def profiles_fit_on_named_gpu(root: Path) -> Scenario:
    """The Profiles tab on an RTX 4090, asked (g) whether the profiles fit an A100 80GB; one
    profile is a teammate's whose model is not on this machine, estimated from [model.facts]."""
    import tomli_w

    from workbench.estimate.facts import read_model_facts
    from workbench.estimate.facts_table import facts_to_table

    app, dirs = build_app(root)
    facts = facts_to_table(
        read_model_facts(REFERENCE_MODELS / "Qwen__Qwen3-8B"), model="Qwen/Qwen3-8B"
    )
    (dirs.project / "teammate-qwen3.toml").write_text(
        TEAMMATE_PROFILE + "\n" + tomli_w.dumps({"model": {"facts": facts}})
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("down", "down")  # llama-8b-128k
        await pilot.press("g")
        await settle(pilot)
        for key in "A100 80GB":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await settle(pilot)

    return Scenario(app, run_before, dirs)


def tuner_deployment_plan(root: Path) -> Scenario:
    """The Tuner on the shipped two-node deployment profile: its estimate as `vllm serve` runs
    it, and the commands each machine runs."""
    app, dirs = build_app(root)
    shutil.copy(REPO_ROOT / "profiles" / "qwen3-32b-team.toml", dirs.project)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.query_one(TunerView).open_profile(
            load_profile(dirs.project / "qwen3-32b-team.toml", gpu_name=RTX_4090.name)
        )
        await pilot.press("f2")
        await settle(pilot)

    return Scenario(app, run_before, dirs)


def tuner_fitting(root: Path) -> Scenario:
    """The Tuner on qwen2.5-7b-chat: 16k context fits a 24 GB card."""
    app, dirs = build_app(root, initial_profile="qwen2.5-7b-chat")

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)

    return Scenario(app, run_before, dirs)


def tuner_not_fitting(root: Path) -> Scenario:
    """The Tuner on llama-8b-128k: does not fit, suggests the largest max_model_len that does."""
    app, dirs = build_app(root, initial_profile="llama-8b-128k")

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)

    return Scenario(app, run_before, dirs)


def loading_in_progress(root: Path) -> Scenario:
    """The first minute: auto-load frozen at "loading weights" (the fake engine holds before the
    4th event), the app on Chat, and a question typed and sent before the engine is ready."""
    engine = FakeEngine(load_pause_after=3)
    app, dirs = build_app(root, engine=engine, initial_profile="qwen2.5-7b-chat", autoload=True)

    async def run_before(pilot: Pilot[Any]) -> None:
        await engine.wait_paused()
        await settle(pilot)
        await pilot.press(*"What is 23+58?", "enter")
        await settle(pilot)

    return Scenario(app, run_before, dirs)


def tuner_invalid_input(root: Path) -> Scenario:
    """The Tuner refusing gpu_memory_utilization = 1.5 inline, with the reason."""
    app, dirs = build_app(root, initial_profile="qwen2.5-7b-chat")

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        app.query_one("#field-gpu_memory_utilization", Input).value = "1.5"
        await settle(pilot)

    return Scenario(app, run_before, dirs)


def tuner_after_load(root: Path) -> Scenario:
    """qwen2.5-7b-chat loaded on a 4090: the Tuner puts its estimate beside vLLM's figures."""
    engine = FakeEngine(figures=GPU_FIGURES)
    samples = [gpu_sample(0.88)]
    app, dirs = build_app(
        root, engine=engine, samples=samples, initial_profile="qwen2.5-7b-chat", autoload=True
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for_engine(pilot)
        await take_samples(pilot, 1)
        await pilot.press("f2")
        await settle(pilot)

    return Scenario(app, run_before, dirs)


def gauge_near_limit(root: Path) -> Scenario:
    """Engine ready on a 4090 that is 95% full: the gauge turns yellow and attributes memory."""
    engine = FakeEngine(figures=GPU_FIGURES)
    samples = [gpu_sample(f) for f in (0.40, 0.62, 0.78, 0.86, 0.91, 0.95)]
    app, dirs = build_app(
        root, engine=engine, samples=samples, initial_profile="qwen2.5-7b-chat", autoload=True
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for_engine(pilot)
        await take_samples(pilot, len(samples))

    return Scenario(app, run_before, dirs)


def gauge_no_gpu(root: Path) -> Scenario:
    """No GPU: the gauge says so and shows the CPU engine's host RAM and KV budget."""
    samples = [host_sample(rss) for rss in (300 * MIB, 900 * MIB, 1400 * MIB, 1500 * MIB)]
    app, dirs = build_app(
        root, engine=FakeEngine(), samples=samples, gpu=None,
        initial_profile="qwen-n4", autoload=True,
    )

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for_engine(pilot)
        await take_samples(pilot, len(samples))

    return Scenario(app, run_before, dirs)


def load_failure(root: Path) -> Scenario:
    """The load fails: max_model_len too large; the error view offers the fix on one key."""
    engine = FakeEngine(load_script=LOAD_FAILS_MAX_MODEL_LEN)
    app, dirs = build_app(root, engine=engine, initial_profile="qwen2.5-7b-chat", autoload=True)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for_engine(pilot)

    return Scenario(app, run_before, dirs)


def engine_log_filtered(root: Path) -> Scenario:
    """The Log tab after a load, filtered to lines mentioning "kv cache"."""
    engine = FakeEngine(log=DEFAULT_LOG)
    app, dirs = build_app(root, engine=engine, initial_profile="qwen2.5-7b-chat", autoload=True)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for_engine(pilot)
        await pilot.press("f4")
        await settle(pilot)
        app.query_one("LogView").search("kv cache")  # type: ignore[attr-defined]
        await settle(pilot)

    return Scenario(app, run_before, dirs)


def chat_in_shell(root: Path) -> Scenario:
    """The whole app: qwen-n4 loaded, a four-sample turn answered in the Chat tab."""
    engine = FakeEngine(chat_scripts=[turn_n4_majority()])
    app, dirs = build_app(root, engine=engine, initial_profile="qwen-n4", autoload=True)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for_engine(pilot)
        await pilot.press("f3")
        await settle(pilot)
        app.query_one("#chat-input", Input).focus()
        await pilot.press(*"What is 17 + 65?")
        await pilot.press("enter")
        await wait_for_chat(pilot)

    return Scenario(app, run_before, dirs)


async def wait_for_chat(pilot: Pilot[Any]) -> None:
    """Wait for every worker (the chat stream included) to finish, then render."""
    await asyncio.gather(*(w.wait() for w in pilot.app.workers), return_exceptions=True)
    await settle(pilot)
    chat = pilot.app.query_one("#chat")
    await chat.flush_now()  # type: ignore[attr-defined]
    await settle(pilot)


SCENARIOS: dict[str, Callable[[Path], Scenario]] = {
    "profiles_with_invalid": profiles_with_invalid,
    "tuner_fitting": tuner_fitting,
    "tuner_not_fitting": tuner_not_fitting,
    "tuner_invalid_input": tuner_invalid_input,
    "tuner_after_load": tuner_after_load,
    "loading_in_progress": loading_in_progress,
    "gauge_near_limit": gauge_near_limit,
    "gauge_no_gpu": gauge_no_gpu,
    "load_failure": load_failure,
    "engine_log_filtered": engine_log_filtered,
    "chat_in_shell": chat_in_shell,
}

__all__ = ["DEFAULT_FIGURES", "LoadProgress", "SCENARIOS", "Scenario", "TERMINAL_SIZE"]
