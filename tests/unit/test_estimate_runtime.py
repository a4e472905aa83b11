"""The embedded engine and `vllm serve` get different scheduler defaults from vLLM; the estimate
models the one it is asked for, checked against vLLM's own ``EngineArgs.get_batch_defaults``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.estimate import GpuSpec, lookup_gpu, read_model_facts
from workbench.estimate.model import EstimateSettings, estimate, scheduler_limits
from workbench.estimate.sizes import MiB

MODELS = Path(__file__).resolve().parent.parent / "data" / "models"
LLAMA = MODELS / "meta-llama__Llama-3.1-8B-Instruct"
GPUS = ["RTX 4090", "L4", "A100 80GB", "H100", "H200", "T4"]
B200 = GpuSpec("NVIDIA B200", 183359 * MiB)  # NVML total of a B200 (>= 160 GiB)


def _vllm_defaults(
    monkeypatch: pytest.MonkeyPatch, gpu: GpuSpec, world: int
) -> tuple[dict[str, int], dict[str, int]]:
    """vLLM's table for a device that reports ``gpu``'s CUDA total memory and name."""
    from vllm.engine import arg_utils
    from vllm.usage.usage_lib import UsageContext

    from workbench.estimate.model import CUDA_RESERVED_BYTES

    platform = arg_utils.current_platform  # type: ignore[attr-defined]
    monkeypatch.setattr(
        platform, "get_device_total_memory", lambda *a: gpu.total_bytes - CUDA_RESERVED_BYTES
    )
    monkeypatch.setattr(platform, "get_device_name", lambda *a: gpu.name)
    monkeypatch.setattr(platform, "is_cpu", lambda: False)
    monkeypatch.setattr(platform, "is_tpu", lambda: False)
    tokens, seqs = arg_utils.EngineArgs.get_batch_defaults(world)
    from vllm.config.scheduler import SchedulerConfig

    def pick(table: dict[UsageContext | None, int], context: UsageContext, default: int) -> int:
        return table.get(context, default)

    return (
        {
            "serve": pick(tokens, UsageContext.OPENAI_API_SERVER, 0),
            "embedded": pick(
                tokens, UsageContext.ENGINE_CONTEXT, SchedulerConfig.DEFAULT_MAX_NUM_BATCHED_TOKENS
            ),
        },
        {
            "serve": pick(seqs, UsageContext.OPENAI_API_SERVER, 0),
            "embedded": pick(
                seqs, UsageContext.ENGINE_CONTEXT, SchedulerConfig.DEFAULT_MAX_NUM_SEQS
            ),
        },
    )


@pytest.mark.parametrize("name", [*GPUS, "B200"])
@pytest.mark.parametrize("runtime", ["embedded", "serve"])
def test_scheduler_defaults_are_vllms(
    monkeypatch: pytest.MonkeyPatch, name: str, runtime: str
) -> None:
    gpu = B200 if name == "B200" else lookup_gpu(name)
    assert gpu is not None
    tokens, seqs = _vllm_defaults(monkeypatch, gpu, 1)
    settings = EstimateSettings(runtime=runtime)  # type: ignore[arg-type]
    assert scheduler_limits(gpu, settings, 10**6) == (tokens[runtime], seqs[runtime])


def test_the_defaults_are_capped_as_vllm_caps_them() -> None:
    h100 = lookup_gpu("H100")
    assert h100 is not None
    serve = EstimateSettings(runtime="serve")
    assert scheduler_limits(h100, serve, 4) == (4096, 1024)  # 1024 seqs × 4 tokens
    assert scheduler_limits(h100, replace(serve, max_num_seqs=2), 1024) == (2048, 2)
    assert scheduler_limits(h100, replace(serve, max_num_batched_tokens=512), 10**5) == (512, 512)


def test_serve_on_an_h100_leaves_less_kv_than_the_embedded_engine(
    capsys: pytest.CaptureFixture[str],
) -> None:
    facts = read_model_facts(LLAMA)
    h100 = lookup_gpu("H100")
    assert h100 is not None
    embedded = estimate(facts, h100, EstimateSettings(max_model_len=32768))
    served = estimate(facts, h100, EstimateSettings(max_model_len=32768, runtime="serve"))
    assert served.activation_bytes > embedded.activation_bytes  # 8192 tokens, not 2048
    assert served.available_kv_bytes < embedded.available_kv_bytes
    assert (served.runtime, embedded.runtime) == ("serve", "embedded")
    four090 = lookup_gpu("RTX 4090")
    assert four090 is not None  # below 70 GiB: the same 2048 tokens, but 256 sequences, not 128
    assert scheduler_limits(four090, EstimateSettings(runtime="serve"), 8192) == (2048, 256)
    assert scheduler_limits(four090, EstimateSettings(), 8192) == (2048, 128)
    assert main(["estimate", str(LLAMA), "--gpu", "H100", "--for", "serve", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["runtime"] == "serve" and data["settings"]["runtime"] == "serve"
    assert main(["estimate", str(LLAMA), "--gpu", "H100"]) == 0
    assert "workbench's embedded engine (AsyncLLM" in capsys.readouterr().out
