"""The CPU KV budget has one owner: the estimator, the engine arguments and the gauge agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.api import EngineError
from workbench.engine.args import engine_kwargs_from_profile
from workbench.estimate import EstimateError, cpu_device, estimate_profile
from workbench.estimate.cpu_kv import (
    CPU_DEFAULT_KV_BYTES,
    CPU_MIN_DEFAULT_KV_BYTES,
    cpu_kv_budget,
)
from workbench.profiles import load_profile
from workbench.profiles.schema import Profile

GiB = 1024**3
MODELS = Path(__file__).resolve().parent.parent / "data" / "models"
LLAMA = MODELS / "meta-llama__Llama-3.1-8B-Instruct"


def test_env_wins_over_kv_cache_memory_bytes_as_in_vllm() -> None:
    """vllm/platforms/cpu.py sets kv_cache_memory_bytes from the variable unconditionally."""
    budget = cpu_kv_budget(GiB, profile_env={}, environ={"VLLM_CPU_KVCACHE_SPACE": "3"})
    assert (budget.bytes, budget.source) == (3 * GiB, "env")
    assert "environment" in budget.explanation


def test_profile_env_wins_over_the_apps_environment() -> None:
    budget = cpu_kv_budget(
        None,
        profile_env={"VLLM_CPU_KVCACHE_SPACE": "1"},
        environ={"VLLM_CPU_KVCACHE_SPACE": "8"},
    )
    assert budget.bytes == GiB and "profile [env]" in budget.explanation
    # an empty value in [env] reaches the engine as empty: vLLM ignores it, so the profile's
    # own setting decides, not the app's variable
    hidden = cpu_kv_budget(
        2 * GiB, profile_env={"VLLM_CPU_KVCACHE_SPACE": ""}, environ={"VLLM_CPU_KVCACHE_SPACE": "8"}
    )
    assert (hidden.bytes, hidden.source) == (2 * GiB, "profile")


def test_default_is_capped_to_a_quarter_of_available_memory() -> None:
    assert cpu_kv_budget(None, profile_env={}, environ={}).bytes == CPU_DEFAULT_KV_BYTES
    capped = cpu_kv_budget(None, profile_env={}, environ={}, available_bytes=2 * GiB)
    assert (capped.bytes, capped.source) == (GiB // 2, "default")
    floor = cpu_kv_budget(None, profile_env={}, environ={}, available_bytes=GiB // 4)
    assert floor.bytes == CPU_MIN_DEFAULT_KV_BYTES


@pytest.mark.parametrize("value", ["4.5", "4GiB", "0", "-1", "lots"])
def test_values_vllm_cannot_use_are_refused_in_one_line(value: str) -> None:
    """vLLM reads the variable with int(): "4.5" stops it at start and 0 leaves no cache."""
    with pytest.raises(EstimateError) as caught:
        cpu_kv_budget(None, profile_env={"VLLM_CPU_KVCACHE_SPACE": value}, environ={})
    message = str(caught.value)
    assert message.startswith("profile [env]: VLLM_CPU_KVCACHE_SPACE=")
    assert "whole number of GiB" in message and "\n" not in message
    # the engine refuses the same value, as an invalid-config error (no traceback, no load)
    profile = Profile.model_validate(
        {"model": {"path": "/m"}, "env": {"VLLM_CPU_KVCACHE_SPACE": value}}
    )
    with pytest.raises(EngineError) as refused:
        engine_kwargs_from_profile(profile, Path("/m"), base_dir=Path("."), on_cpu=True, environ={})
    assert refused.value.kind == "invalid_config" and str(caught.value) in str(refused.value)


@pytest.mark.parametrize(
    ("engine", "env", "environ"),
    [
        ({}, {}, {}),
        ({"kv_cache_memory_bytes": GiB}, {}, {}),
        ({"kv_cache_memory_bytes": GiB}, {"VLLM_CPU_KVCACHE_SPACE": "2"}, {}),
        ({}, {}, {"VLLM_CPU_KVCACHE_SPACE": "3"}),
    ],
    ids=["default", "profile", "profile-env-wins", "app-env"],
)
def test_estimate_and_engine_get_the_same_budget(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: dict[str, int],
    env: dict[str, str],
    environ: dict[str, str],
) -> None:
    """What the estimator counts is what the engine host hands vLLM (or what vLLM reads from
    the variable itself)."""
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    lines = [f'[model]\npath = "{LLAMA}"\n', "[engine]\nmax_model_len = 4096"]
    lines += [f"{key} = {value}" for key, value in engine.items()]
    if env:
        lines.append("\n[env]")
        lines += [f'{key} = "{value}"' for key, value in env.items()]
    path = tmp_path / "p.toml"
    path.write_text("\n".join(lines) + "\n")
    loaded = load_profile(path)
    available = 64 * GiB
    predicted = estimate_profile(loaded, cpu_device(128 * GiB, available), calibration=None)
    mapped = engine_kwargs_from_profile(
        loaded.profile,
        LLAMA,
        base_dir=tmp_path,
        on_cpu=True,
        environ={**environ, **env},  # what the host process sees
        free_memory_bytes=available,
    )
    space = {**environ, **env}.get("VLLM_CPU_KVCACHE_SPACE")
    engine_budget = int(space) * GiB if space else mapped.kwargs["kv_cache_memory_bytes"]
    assert predicted.available_kv_bytes == engine_budget
