"""Unit tests of the shell's pure parts: attribution, bar cells, tuner fields, edits, log filter."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.engine.fake import DEFAULT_FIGURES
from workbench.gpu import GpuProcess, GpuReading
from workbench.ui.log_view import filter_lines
from workbench.ui.profile_edits import with_setting, with_settings, without_env
from workbench.ui.screens.dialogs import name_problem
from workbench.ui.tuner_fields import FIELDS_BY_NAME, FieldInputError
from workbench.ui.widgets.stacked_bar import split_cells
from workbench.ui.widgets.vram_gauge import attribute_gpu_memory, level_style, sparkline

GIB = 1024**3
GPU_FIGURES = DEFAULT_FIGURES.__class__(
    **{**DEFAULT_FIGURES.__dict__, "device": "NVIDIA H100 80GB HBM3",
       "weights_bytes": 16 * GIB, "available_kv_bytes": 50 * GIB}
)


def _reading(used: int, processes: tuple[GpuProcess, ...]) -> GpuReading:
    return GpuReading(
        index=0, name="NVIDIA H100 80GB HBM3", total_bytes=80 * GIB, used_bytes=used,
        free_bytes=80 * GIB - used, processes=processes,
        utilization_pct=None, temperature_c=None, power_w=None,
    )


def _sizes(segments: list) -> dict[str, float]:  # type: ignore[type-arg]
    return {segment.label: segment.size for segment in segments}


def test_attribution_splits_other_processes_weights_kv_other_free() -> None:
    reading = _reading(
        72 * GIB,
        (GpuProcess(4242, "EngineCore", 68 * GIB), GpuProcess(777, "train.py", 3 * GIB)),
    )
    sizes = _sizes(attribute_gpu_memory(reading, (4242,), GPU_FIGURES))
    assert sizes == {
        "other procs": 3 * GIB,
        "weights": 16 * GIB,
        "KV cache": 50 * GIB,
        "other": 3 * GIB,  # activations, CUDA context, driver: not weights, not KV
        "free": 8 * GIB,
    }
    assert sum(sizes.values()) == reading.total_bytes


def test_attribution_without_the_engine_on_this_gpu() -> None:
    reading = _reading(10 * GIB, (GpuProcess(777, "train.py", 9 * GIB),))
    sizes = _sizes(attribute_gpu_memory(reading, (4242,), GPU_FIGURES))
    assert sizes["weights"] == 0 and sizes["KV cache"] == 0
    assert sizes["other procs"] == 9 * GIB and sizes["other"] == 1 * GIB


def test_attribution_trusts_engine_figures_when_nvml_lists_no_processes() -> None:
    sizes = _sizes(attribute_gpu_memory(_reading(70 * GIB, ()), (4242,), GPU_FIGURES))
    assert sizes["weights"] == 16 * GIB and sizes["KV cache"] == 50 * GIB


def test_attribution_never_exceeds_used_memory() -> None:
    """vLLM's figures can exceed what NVML saw mid-load; the bar must not overflow."""
    reading = _reading(20 * GIB, (GpuProcess(4242, "EngineCore", None),))
    sizes = _sizes(attribute_gpu_memory(reading, (4242,), GPU_FIGURES))
    assert sizes["weights"] == 16 * GIB and sizes["KV cache"] == 4 * GIB
    assert sum(sizes.values()) == reading.total_bytes


def test_cpu_figures_are_not_attributed_to_a_gpu() -> None:
    sizes = _sizes(attribute_gpu_memory(_reading(10 * GIB, ()), (), DEFAULT_FIGURES))
    assert sizes["weights"] == 0 and sizes["KV cache"] == 0


@pytest.mark.parametrize(
    ("sizes", "total", "width", "expected"),
    [
        ([1, 1, 2], 4, 8, [2, 2, 4]),
        ([0.01, 99.99], 100, 10, [1, 9]),  # a non-zero part stays visible
        ([0, 5], 10, 10, [0, 5]),
        ([3, 3, 3], 9, 10, [4, 3, 3]),
    ],
)
def test_split_cells(sizes: list[float], total: float, width: int, expected: list[int]) -> None:
    assert split_cells(sizes, total, width) == expected


def test_level_style_warns_near_the_limit() -> None:
    assert level_style(0.5) == "bold"
    assert "yellow" in level_style(0.92)
    assert "red" in level_style(0.99)


def test_sparkline_pads_and_scales() -> None:
    assert sparkline([0.0, 0.5, 1.0], 5) == "  ▁▅█"
    assert sparkline([0.01, 0.02], 2, autoscale=True) == "▅█"


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("max_model_len", "32768", 32768),
        ("max_model_len", "32k", 32768),
        ("max_model_len", "16,384", 16384),
        ("max_model_len", "", None),
        ("gpu_memory_utilization", "0.85", 0.85),
        ("gpu_memory_utilization", "1", 1.0),
        ("kv_cache_dtype", "fp8", "fp8"),
        ("n", "8", 8),
    ],
)
def test_tuner_fields_accept(field: str, text: str, value: object) -> None:
    assert FIELDS_BY_NAME[field].parse(text) == value


@pytest.mark.parametrize(
    ("field", "text", "reason"),
    [
        ("max_model_len", "0", "≥ 1"),
        ("max_model_len", "lots", "whole number"),
        ("gpu_memory_utilization", "1.5", "(0, 1]"),
        ("gpu_memory_utilization", "0", "(0, 1]"),
        ("gpu_memory_utilization", "ninety", "a number"),
        ("kv_cache_dtype", "int4", "pick one of"),
        ("tensor_parallel_size", "", "required"),
        ("n", "-2", "≥ 1"),
    ],
)
def test_tuner_fields_refuse_with_a_reason(field: str, text: str, reason: str) -> None:
    with pytest.raises(FieldInputError, match=None) as caught:
        FIELDS_BY_NAME[field].parse(text)
    assert reason in str(caught.value)


def test_with_setting_copies_and_creates_tables() -> None:
    data: dict[str, Any] = {"model": {"path": "x"}, "engine": {"max_model_len": 32768}}
    updated = with_setting(data, "engine.max_model_len", 18080)
    assert updated["engine"]["max_model_len"] == 18080
    assert data["engine"]["max_model_len"] == 32768, "the original is untouched"
    assert with_setting(data, "sampling.n", 4)["sampling"] == {"n": 4}
    assert "max_num_seqs" not in with_settings(data, {"engine.max_num_seqs": None})["engine"]


def test_export_drops_env() -> None:
    assert without_env({"model": {"path": "x"}, "env": {"HF_TOKEN": "secret"}}) == {
        "model": {"path": "x"}
    }


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "needed"), ("my profile", "letters"), (".hidden", "leading dot"), ("demo", "exists")],
)
def test_name_problems(name: str, problem: str) -> None:
    found = name_problem(name, frozenset({"demo"}))
    assert found is not None and problem in found
    assert name_problem("demo-copy", frozenset({"demo"})) is None


def test_log_filter_is_case_insensitive() -> None:
    lines = ["INFO CPU KV cache size: 1", "WARNING slow", "INFO kv cache again"]
    assert filter_lines(lines, "KV CACHE") == [lines[0], lines[2]]
    assert filter_lines(lines, "  ") == lines


def test_tuner_save_on_an_overridden_gpu_writes_into_its_override(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A value the GPU override sets is saved back into that override, not into [engine]."""
    import tomllib

    from workbench.profiles import load_profile
    from workbench.ui.profile_access import save

    model_dir = tmp_path / "m"
    model_dir.mkdir()
    (model_dir / "config.json").write_text('{"architectures": ["Qwen2ForCausalLM"]}')
    path = tmp_path / "p.toml"
    path.write_text(
        '[model]\npath = "m"\n\n[engine]\nmax_model_len = 4096\n\n'
        '[gpu_overrides."NVIDIA L4".engine]\nmax_model_len = 2048\n'
    )
    loaded = load_profile(path, gpu_name="NVIDIA L4")
    assert loaded.profile.engine.max_model_len == 2048
    save(loaded, with_setting(loaded.data, "engine.max_model_len", 1024))
    saved = tomllib.loads(path.read_text())
    assert saved["engine"]["max_model_len"] == 4096
    assert saved["gpu_overrides"]["NVIDIA L4"]["engine"]["max_model_len"] == 1024
    assert load_profile(path, gpu_name="NVIDIA L4").profile.engine.max_model_len == 1024
