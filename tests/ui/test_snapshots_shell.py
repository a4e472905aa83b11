"""Snapshots of the shell's screens and states (fake engine, fake VRAM sampler, 140×42)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.ui.scenarios_shell import (
    TERMINAL_SIZE,
    chat_in_shell,
    engine_log_filtered,
    gauge_near_limit,
    gauge_no_gpu,
    load_failure,
    loading_in_progress,
    profiles_fit_on_named_gpu,
    profiles_with_invalid,
    tuner_after_load,
    tuner_deployment_plan,
    tuner_fitting,
    tuner_invalid_input,
    tuner_not_fitting,
)

SnapCompare = Callable[..., bool]


def _compare(snap_compare: SnapCompare, builder: Callable[[Path], Any], root: Path) -> bool:
    scenario = builder(root)
    return snap_compare(scenario.app, terminal_size=TERMINAL_SIZE, run_before=scenario.run_before)


def test_profiles_with_one_invalid(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see five profiles: the packaged demo (origin "built-in") and qwen-n4 (user)
    and qwen2.5-7b-chat badged "✔ fits", llama-8b-128k badged "✖ too big", and broken
    "✖ invalid" with its one-line error naming project/broken.toml line 8 and the hint
    `max_model_len`; the detail pane repeats it; the footer offers "g GPU fit…"."""
    assert _compare(snap_compare, profiles_with_invalid, tmp_path)


def test_profiles_fit_on_a_named_gpu(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the Profiles table with a new last column "On A100-SXM4-80GB" after g
    (the description column narrower to make room): llama-8b-128k (selected) "✖ too big" on
    this RTX 4090 but "◐ tight" on the A100, and the detail pane giving both reasons (one
    131072-token request needs 16 GiB of KV here, largest that fits 43392; the A100's KV holds
    3.48 such requests where n=4 needs 4); teammate-qwen3, whose model is not on this machine,
    "✔ fits" in both columns (from its [model.facts]), not "? n/a"; broken "✖ invalid" in both;
    the footer offers "g GPU fit…"."""
    assert _compare(snap_compare, profiles_fit_on_named_gpu, tmp_path)


def test_tuner_plans_a_deployment(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the Tuner on qwen3-32b-team, headed "vllm serve on 8 × NVIDIA H100 80GB
    HBM3" (the deployment's GPUs, not this RTX 4090), FITS with ~1,985,312 KV tokens, the dim
    line "Model not on this machine: figures from the profile's [model.facts]", and under it
    "Deployment plan": 8 GPUs on 2 node(s), gpu-head running `ray start --head` then `vllm
    serve Qwen/Qwen3-32B … --api-key "$VLLM_API_KEY" --distributed-executor-backend ray`, and
    node 1 running `ray start --address gpu-head:6379`."""
    assert _compare(snap_compare, tuner_deployment_plan, tmp_path)


def test_tuner_fitting(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the Tuner on qwen2.5-7b-chat, headed "Embedded engine on NVIDIA GeForce RTX
    4090" (the runtime whose defaults it models): max_model_len 16384, utilization 0.9, a bar
    of weights │ overhead │ KV │ headroom, a green FITS verdict with KV tokens and max
    concurrency, and "Largest max_model_len that fits: 32,768 — press ctrl+g to apply"."""
    assert _compare(snap_compare, tuner_fitting, tmp_path)


def test_tuner_not_fitting(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the Tuner on llama-8b-128k: a red DOES NOT FIT verdict saying one 131072
    token request needs 16 GiB of KV cache, a warning that n=4 cannot run at once, and the
    largest fitting max_model_len with the ctrl+g key to apply it."""
    assert _compare(snap_compare, tuner_not_fitting, tmp_path)


def test_tuner_estimate_beside_vllm_after_load(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the Tuner on qwen2.5-7b-chat after a load, with a table "Estimate vs vLLM
    (last load)" listing max_model_len, KV tokens (vLLM: 109,856), blocks, block size, weights,
    KV memory and max concurrency in two columns; the status bar says ready."""
    assert _compare(snap_compare, tuner_after_load, tmp_path)


def test_tuner_refuses_invalid_input_inline(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the Tuner with gpu_memory_utilization "1.5" highlighted in red and the
    reason "✖ must be in (0, 1], got 1.5" under it, and the estimate replaced by "Fix the
    highlighted fields to see an estimate."."""
    assert _compare(snap_compare, tuner_invalid_input, tmp_path)


def test_loading_in_progress(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the Chat tab while qwen2.5-7b-chat (project) loads: the status bar says
    "⏳ loading weights · 2.1 s · model.safetensors", the log "Waiting for qwen2.5-7b-chat to
    load…", and above the empty input "⏳ queued: What is 23+58? — sends when qwen2.5-7b-chat is
    ready (Enter queues another)" (typed right after start, kept, not lost to the Profiles
    list's keys; a second Enter adds to the queue instead of replacing the first)."""
    assert _compare(snap_compare, loading_in_progress, tmp_path)


def test_gauge_near_limit(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see GPU0 RTX 4090 at 22.8 / 24.0 GiB 95% in yellow with "⚠ near limit", the
    bar split into other procs 1.5 GiB │ weights 14.2 GiB │ KV cache 5.9 GiB │ other │ free,
    a rising sparkline, and power shown as n/a; the status bar says ready with 109,856 KV
    tokens."""
    assert _compare(snap_compare, gauge_near_limit, tmp_path)


def test_gauge_without_gpu(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see "No GPU · CPU engine 1.5 GiB RAM · KV budget 1.0 GiB · host 12.0 GiB /
    32.0 GiB used" with a sparkline of engine RSS, and under it the host-memory legend and the
    reason "NVML: driver not loaded"."""
    assert _compare(snap_compare, gauge_no_gpu, tmp_path)


def test_load_failure_view_with_fix(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the load-failure dialog: "max_model_len does not fit in the KV cache", the
    message, a green "Suggested fix engine.max_model_len = 18080" box saying press f, the vLLM
    log excerpt, and a footer with f Apply fix, l Open log, esc Close."""
    assert _compare(snap_compare, load_failure, tmp_path)


def test_engine_log_filtered(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the Log tab with "kv cache" in the search box, "2 of 8 lines match", and
    the two matching engine lines with "KV cache"/"kv cache" highlighted."""
    assert _compare(snap_compare, engine_log_filtered, tmp_path)


def test_chat_in_the_whole_app(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """You should see the whole app with qwen-n4 ready and the Chat tab: the prompt "What is
    17 + 65?", four sample columns (three "82 ✓ majority", one 72) with folded thinking panels
    titled "Thought for 9.8 s · 121 tok…" (cut with "…" at the column's width) and two stats
    lines each (tokens, rate, finish; TTFT, ITL, e2e), and the summary "majority 82 (3 of 4)"
    with its "Run (p50 / p95)" line."""
    assert _compare(snap_compare, chat_in_shell, tmp_path)
