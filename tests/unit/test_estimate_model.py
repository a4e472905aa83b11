"""The memory model, verdicts, solver and calibration (pure; the vLLM comparisons live in
tests/integration/test_estimate_vs_vllm*.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from workbench.estimate import (
    CalibrationStore,
    EstimateError,
    EstimateSettings,
    GpuSpec,
    cpu_device,
    estimate,
    largest_concurrency,
    largest_max_model_len,
    lookup_gpu,
    read_model_facts,
    smallest_utilization,
)
from workbench.estimate.model import CUDA_RESERVED_BYTES

MODELS = Path(__file__).resolve().parent.parent / "data" / "models"
GiB = 1024**3
LLAMA_8B = read_model_facts(MODELS / "meta-llama__Llama-3.1-8B-Instruct")


def gpu(name: str, count: int = 1) -> GpuSpec:
    found = lookup_gpu(name, count=count)
    assert found is not None, name
    return found


RTX_3090 = gpu("3090")


def test_memory_adds_up_on_gpu() -> None:
    """budget = (NVML total − CUDA reserve) × util; KV = budget − weights − other overheads."""
    result = estimate(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=20000))
    assert result.budget_bytes == int((RTX_3090.total_bytes - CUDA_RESERVED_BYTES) * 0.9)
    assert result.available_kv_bytes == (
        result.budget_bytes
        - result.weights_bytes
        - result.non_torch_bytes
        - result.activation_bytes
        - result.cuda_graph_bytes
    )
    bytes_per_block = 131072 * 16
    assert result.num_blocks == result.available_kv_bytes // bytes_per_block
    assert result.max_concurrency == result.num_blocks / (-(-20000 // 16))
    assert result.kv_tokens == int(result.max_concurrency * 20000)
    assert result.verdict == "fits" and result.calibrated_from_loads == 0


def test_enforce_eager_frees_the_cuda_graph_reserve() -> None:
    graphs = estimate(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=8192))
    eager = estimate(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=8192, enforce_eager=True))
    assert graphs.cuda_graph_bytes > 0 and eager.cuda_graph_bytes == 0
    assert eager.available_kv_bytes == graphs.available_kv_bytes + graphs.cuda_graph_bytes


def test_does_not_fit_names_the_largest_length() -> None:
    result = estimate(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=None))
    assert result.max_model_len == 131072 and result.verdict == "does_not_fit"
    largest = result.largest_fitting_max_model_len
    assert largest is not None and f"largest max_model_len that fits: {largest}" in result.reason
    # the largest length really is the boundary
    assert estimate(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=largest)).verdict != (
        "does_not_fit"
    )
    assert estimate(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=largest + 1)).verdict == (
        "does_not_fit"
    )


def test_tight_when_n_samples_barely_fit() -> None:
    largest = largest_max_model_len(LLAMA_8B, RTX_3090, EstimateSettings())
    assert largest is not None
    tight = estimate(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=largest))
    assert tight.verdict == "tight" and "headroom" in tight.reason
    n_four = estimate(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=largest // 4, n=4))
    assert n_four.verdict == "tight"
    roomy = estimate(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=largest // 8, n=4))
    assert roomy.verdict == "fits"


def test_weights_alone_too_big() -> None:
    seventy = read_model_facts(MODELS / "meta-llama__Llama-3.1-70B-Instruct")
    result = estimate(seventy, RTX_3090, EstimateSettings(max_model_len=4096))
    assert result.verdict == "does_not_fit" and result.available_kv_bytes < 0
    assert "tensor_parallel_size" in result.reason and result.largest_fitting_max_model_len is None


def test_max_model_len_above_the_model_maximum() -> None:
    gemma = read_model_facts(MODELS / "google__gemma-2-9b-it")
    h100 = gpu("H100")
    result = estimate(gemma, h100, EstimateSettings(max_model_len=16384))
    assert result.verdict == "does_not_fit" and "exceeds the model's maximum 8192" in result.reason


def test_other_processes_block_the_start() -> None:
    busy = replace(RTX_3090, free_bytes=RTX_3090.total_bytes - 6 * GiB)
    result = estimate(LLAMA_8B, busy, EstimateSettings(max_model_len=8192))
    assert result.verdict == "does_not_fit"
    assert any("vLLM refuses to start" in w.message for w in result.warnings)
    assert [w.kind for w in result.warnings] == ["gpu_busy"]
    idle = replace(RTX_3090, free_bytes=RTX_3090.total_bytes - 2 * 1024**2)
    assert estimate(LLAMA_8B, idle, EstimateSettings(max_model_len=8192)).warnings == ()


def test_fixed_kv_budget_on_gpu_ignores_utilization_but_not_the_card() -> None:
    fixed = estimate(
        LLAMA_8B,
        RTX_3090,
        EstimateSettings(
            max_model_len=8192, kv_cache_memory_bytes=4 * GiB, gpu_memory_utilization=0.5
        ),
    )
    assert fixed.available_kv_bytes == 4 * GiB and fixed.verdict == "fits"
    too_much = estimate(
        LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=8192, kv_cache_memory_bytes=9 * GiB)
    )
    assert too_much.verdict == "does_not_fit" and too_much.warnings[0].kind == "gpu_out_of_memory"


def test_tensor_parallel_splits_weights_and_kv() -> None:
    seventy = read_model_facts(MODELS / "meta-llama__Llama-3.1-70B-Instruct")
    a100 = gpu("A100 80GB", count=4)
    one = estimate(seventy, a100, EstimateSettings(max_model_len=32768, tensor_parallel_size=4))
    assert one.weights_bytes == seventy.weights_bytes // 4  # type: ignore[operator]
    assert one.kv_bytes_per_token == 80 * 2 * 128 * 2 * 2
    assert one.verdict == "fits"


def test_cpu_engine_uses_the_kv_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """estimate() itself never reads the environment: the budget is a setting (a profile's
    estimate resolves it through workbench.estimate.cpu_kv, tested there)."""
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "2")
    explicit = estimate(
        LLAMA_8B, cpu_device(), EstimateSettings(max_model_len=4096, kv_cache_memory_bytes=GiB)
    )
    assert explicit.available_kv_bytes == GiB and explicit.block_size == 128
    assert explicit.num_blocks == GiB // (131072 * 128)
    unset = estimate(LLAMA_8B, cpu_device(64 * GiB), EstimateSettings(max_model_len=4096))
    # vLLM's own fallback: total × util − weights, with the warning that says so
    assert unset.available_kv_bytes == int(64 * GiB * 0.9) - LLAMA_8B.weights_bytes  # type: ignore[operator]
    assert [w.kind for w in unset.warnings] == ["no_kv_budget"]
    crowded = estimate(
        LLAMA_8B,
        cpu_device(64 * GiB, free_bytes=16 * GiB),
        EstimateSettings(max_model_len=4096, kv_cache_memory_bytes=12 * GiB),
    )
    assert crowded.verdict == "does_not_fit"
    assert [w.kind for w in crowded.warnings] == ["host_memory"]
    assert crowded.reason.startswith("not enough available host memory")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (EstimateSettings(gpu_memory_utilization=1.5), "must be in \\(0, 1\\]"),
        (EstimateSettings(tensor_parallel_size=0), "tensor_parallel_size 0"),
        (EstimateSettings(max_model_len=0), "max_model_len 0"),
        (EstimateSettings(kv_cache_dtype="int3"), "kv_cache_dtype 'int3'"),
    ],
)
def test_bad_settings(settings: EstimateSettings, message: str) -> None:
    with pytest.raises(EstimateError, match=message):
        estimate(LLAMA_8B, RTX_3090, settings)


def test_smallest_utilization_is_the_boundary() -> None:
    settings = EstimateSettings(max_model_len=20000)
    util = smallest_utilization(LLAMA_8B, RTX_3090, settings)
    assert util is not None and 0.7 < util < 0.9
    below = estimate(LLAMA_8B, RTX_3090, replace(settings, gpu_memory_utilization=util - 0.01))
    at = estimate(LLAMA_8B, RTX_3090, replace(settings, gpu_memory_utilization=util))
    assert below.verdict == "does_not_fit" and at.verdict != "does_not_fit"
    assert smallest_utilization(LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=131072)) is None


def test_largest_concurrency() -> None:
    settings = EstimateSettings(max_model_len=8192)
    result = estimate(LLAMA_8B, RTX_3090, settings)
    assert largest_concurrency(LLAMA_8B, RTX_3090, settings) == int(result.max_concurrency)
    assert largest_concurrency(LLAMA_8B, RTX_3090, settings, length=1024) == (
        result.num_blocks // 64
    )
    t4 = gpu("T4")
    assert largest_concurrency(LLAMA_8B, t4, settings) == 0


@dataclass(frozen=True)
class Figures:
    """Duck-typed like workbench.engine.api.EngineFigures (the fields calibration reads)."""

    kv_cache_tokens: int | None
    num_blocks: int | None
    block_size: int
    available_kv_bytes: int | None
    weights_bytes: int | None
    max_model_len: int


def test_calibration_corrects_the_next_estimate(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.json")
    settings = EstimateSettings(max_model_len=16384)
    pure = estimate(LLAMA_8B, RTX_3090, settings)
    # a real load measured 0.5 GiB less KV than predicted (more overhead than we model)
    measured_kv = pure.available_kv_bytes - GiB // 2
    figures = Figures(
        40000, measured_kv // (131072 * 16), 16, measured_kv, pure.weights_bytes, 16384
    )
    key = store.record_load(
        LLAMA_8B, RTX_3090.name, "0.32.0", figures, settings, total_bytes=RTX_3090.total_bytes
    )
    assert key == "NVIDIA GeForce RTX 3090 | 0.32.0 | LlamaForCausalLM/none"
    corrected = estimate(LLAMA_8B, RTX_3090, settings, calibration=store, vllm_version="0.32.0")
    assert corrected.calibrated_from_loads == 1
    assert corrected.available_kv_bytes == measured_kv
    store.record_load(
        LLAMA_8B, RTX_3090.name, "0.32.0", figures, settings, total_bytes=RTX_3090.total_bytes
    )
    assert estimate(LLAMA_8B, RTX_3090, settings, calibration=store).calibrated_from_loads == 2
    # another GPU or another vLLM version is a different key
    assert (
        estimate(
            LLAMA_8B, replace(RTX_3090, name="NVIDIA A10"), settings, calibration=store
        ).calibrated_from_loads
        == 0
    )
    assert (
        estimate(
            LLAMA_8B, RTX_3090, settings, calibration=store, vllm_version="0.31.0"
        ).calibrated_from_loads
        == 0
    )
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.json"]  # no temp files left


def test_calibration_default_path_and_model_dir(tmp_path: Path) -> None:
    """Default file is data_dir()/calibration.json (conftest points it into tmp_path)."""
    store = CalibrationStore()
    figures = Figures(15625, 125, 128, 12_345_678, 2_038_272, 1000)
    store.record_load(
        MODELS / "Qwen__Qwen3-0.6B",
        "cpu",
        "0.32.0",
        figures,
        EstimateSettings(max_model_len=1000, kv_cache_memory_bytes=12_345_678),
    )
    assert store.path == tmp_path / "data" / "calibration.json"
    record = json.loads(store.path.read_text())["records"]["cpu | 0.32.0 | Qwen3ForCausalLM/none"]
    assert record[0]["kv_cache_tokens"] == 15625 and record[0]["overhead_delta_bytes"] is None


def test_corrupt_calibration_file(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text("{ half")
    with pytest.raises(EstimateError, match="delete it"):
        CalibrationStore(path).keys()


def test_gpuspec_defaults() -> None:
    spec = GpuSpec("x", 10)
    assert (spec.free_bytes, spec.count, spec.device) == (None, 1, "cuda")


def test_estimate_profile_reads_engine_settings_and_env(tmp_path: Path) -> None:
    """estimate_profile: [engine] settings, [sampling] n, overrides; gpu None = CPU engine."""
    from workbench.estimate import estimate_profile
    from workbench.profiles import load_profile

    path = tmp_path / "p.toml"
    path.write_text(
        f'[model]\npath = "{MODELS / "meta-llama__Llama-3.1-8B-Instruct"}"\n\n'
        "[engine]\nmax_model_len = 8192\ngpu_memory_utilization = 0.85\n\n"
        '[sampling]\nn = 4\n\n[env]\nVLLM_CPU_KVCACHE_SPACE = "2"\n'
    )
    loaded = load_profile(path)
    on_gpu = estimate_profile(loaded, RTX_3090)
    direct = estimate(
        LLAMA_8B, RTX_3090, EstimateSettings(max_model_len=8192, gpu_memory_utilization=0.85, n=4)
    )
    assert on_gpu == direct
    on_cpu = estimate_profile(loaded, None, max_model_len=4096)
    assert on_cpu.available_kv_bytes == 2 * GiB and on_cpu.max_model_len == 4096
    # the user's calibration store is used by default
    store = CalibrationStore()
    figures = Figures(1, 1, 16, on_gpu.available_kv_bytes - GiB, on_gpu.weights_bytes, 8192)
    store.record_load(
        LLAMA_8B,
        RTX_3090.name,
        "0.32.0",
        figures,
        EstimateSettings(max_model_len=8192, gpu_memory_utilization=0.85, n=4),
        total_bytes=RTX_3090.total_bytes,
    )
    calibrated = estimate_profile(loaded, RTX_3090)
    assert calibrated.calibrated_from_loads == 1
    assert calibrated.available_kv_bytes == on_gpu.available_kv_bytes - GiB
    assert estimate_profile(loaded, RTX_3090, calibration=None) == on_gpu
    store.path.write_text("not json")
    broken = estimate_profile(loaded, RTX_3090)
    assert broken.available_kv_bytes == on_gpu.available_kv_bytes
    assert broken.warnings[0].kind == "calibration_ignored"
    assert broken.warnings[0].message.startswith("calibration ignored:")


def test_estimate_profile_without_model(tmp_path: Path) -> None:
    from workbench.estimate import estimate_profile
    from workbench.profiles import load_profile

    path = tmp_path / "p.toml"
    path.write_text('[model]\nid = "nobody/nothing-7b"\n')
    with pytest.raises(EstimateError, match="profile p"):
        estimate_profile(load_profile(path), RTX_3090)
