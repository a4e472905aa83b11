"""Reading model facts: config.json variants, safetensors headers, sizes, the GPU table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from workbench.estimate import (
    EstimateError,
    ModelFacts,
    known_gpus,
    kv_bytes_per_token,
    lookup_gpu,
    parse_size,
    read_model_facts,
)
from workbench.estimate.facts import safetensors_tensor_bytes
from workbench.estimate.kv import kv_heads_per_gpu, page_bytes_per_token

DATA = Path(__file__).resolve().parent.parent / "data"
MODELS = DATA / "models"


def config(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((MODELS / name / "config.json").read_text())
    return data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24GiB", 24 * 1024**3),
        ("24GB", 24 * 10**9),
        ("80G", 80 * 1024**3),
        ("16384MiB", 16 * 1024**3),
        ("1.5 GiB", int(1.5 * 1024**3)),
        ("123", 123),
        (7, 7),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "24 furlongs", "GiB", "-3GiB", "1e9"])
def test_parse_size_rejects_with_hint(text: str) -> None:
    with pytest.raises(EstimateError, match="e.g. 24GiB") as err:
        parse_size(text)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("3090", "NVIDIA GeForce RTX 3090"),
        ("RTX 4090", "NVIDIA GeForce RTX 4090"),
        ("A100 80GB", "NVIDIA A100-SXM4-80GB"),
        ("T4", "Tesla T4"),
        ("h100", "NVIDIA H100 80GB HBM3"),
        ("L4", "NVIDIA L4"),
        ("L40S", "NVIDIA L40S"),
        ("A10", "NVIDIA A10"),
        ("a10g", "NVIDIA A10G"),
        ("rtx3090", "NVIDIA GeForce RTX 3090"),
        ("NVIDIA H200", "NVIDIA H200"),
    ],
)
def test_lookup_gpu_is_fuzzy(query: str, name: str) -> None:
    found = lookup_gpu(query)
    assert found is not None and found.name == name


def test_lookup_gpu_unknown_is_none() -> None:
    assert lookup_gpu("Voodoo 5") is None
    assert lookup_gpu("  ") is None


def test_gpu_table_equals_reference_data() -> None:
    """The packaged table is the reference gpus.json (NVML totals in MiB)."""
    reference = json.loads((DATA / "gpus.json").read_text())
    assert [(g.name, g.total_bytes) for g in known_gpus()] == [
        (row["name"], row["total_mib"] * 1024**2) for row in reference
    ]


def test_llama_8b_by_hand() -> None:
    """Llama-3.1-8B: 32 layers × 8 KV heads × 128 × 2 (K,V) × 2 B = 131072 B/token."""
    facts = read_model_facts(MODELS / "meta-llama__Llama-3.1-8B-Instruct")
    assert (facts.num_kv_heads, facts.head_dim, facts.num_attention_layers) == (8, 128, 32)
    assert kv_bytes_per_token(facts) == 131072
    assert kv_bytes_per_token(facts, kv_cache_dtype="fp8") == 65536
    assert kv_bytes_per_token(facts, tensor_parallel_size=2) == 65536
    assert kv_bytes_per_token(facts, pipeline_parallel_size=2) == 65536
    assert facts.weights_bytes == 16060522496 and facts.weights_source == "index"
    assert facts.derived_max_model_len == 131072  # llama3 rope: already scaled


def test_kv_heads_replicate_when_fewer_than_tp() -> None:
    """Qwen2.5-7B has 4 KV heads: TP 8 replicates one head per rank, never zero."""
    facts = read_model_facts(MODELS / "Qwen__Qwen2.5-7B-Instruct")
    assert [kv_heads_per_gpu(facts, tp) for tp in (1, 2, 4, 8)] == [4, 2, 1, 1]
    assert page_bytes_per_token(facts, 8) == 1 * 256 * 2


def test_tp_not_dividing_kv_heads_is_a_clear_error() -> None:
    facts = read_model_facts(MODELS / "meta-llama__Llama-3.1-8B-Instruct")
    with pytest.raises(EstimateError, match="tensor_parallel_size 3 does not divide"):
        kv_heads_per_gpu(facts, 3)


def test_explicit_head_dim_wins_over_hidden_over_heads() -> None:
    """Qwen3-0.6B: hidden 1024 / 16 heads = 64, but config.head_dim = 128."""
    facts = read_model_facts(MODELS / "Qwen__Qwen3-0.6B")
    assert facts.head_dim == 128


def test_mla_facts() -> None:
    facts = read_model_facts(MODELS / "deepseek-ai__DeepSeek-V2-Lite")
    assert facts.attention == "mla" and facts.head_dim == 576 and facts.head_dim_v == 0
    assert facts.num_kv_heads == 1


def test_sliding_window_layers() -> None:
    gemma = read_model_facts(MODELS / "google__gemma-2-9b-it")
    assert gemma.layer_kinds[:2] == ("sliding", "full") and gemma.sliding_window == 4096
    gpt_oss = read_model_facts(MODELS / "openai__gpt-oss-20b")
    assert gpt_oss.layer_kinds.count("sliding") == 12 and gpt_oss.sliding_window == 128
    qwen = read_model_facts(MODELS / "Qwen__Qwen2.5-7B-Instruct")  # use_sliding_window false
    assert set(qwen.layer_kinds) == {"full"} and qwen.sliding_window is None


def test_quantization_and_checkpoint_kv_dtype() -> None:
    fp8 = read_model_facts(MODELS / "Qwen__Qwen3-32B-FP8")
    assert fp8.quantization == "fp8" and fp8.checkpoint_kv_cache_dtype is None
    modelopt = read_model_facts(MODELS / "nvidia__Llama-3.1-70B-Instruct-FP8")
    assert modelopt.checkpoint_kv_cache_dtype == "fp8"  # hf_quant_config.json kv_cache_quant_algo
    assert kv_bytes_per_token(modelopt) == 80 * 8 * 128 * 2 * 1


def test_text_config_nesting() -> None:
    inner = config("Qwen__Qwen3-8B")
    outer = {
        "architectures": ["Qwen3VLForConditionalGeneration"],
        "model_type": "qwen3_vl",
        "text_config": {k: v for k, v in inner.items() if k != "architectures"},
        "vision_config": {"hidden_size": 1},
    }
    nested = ModelFacts.from_config(outer, None)
    flat = ModelFacts.from_config(inner, None)
    assert nested.architecture == "Qwen3VLForConditionalGeneration"
    assert (nested.num_kv_heads, nested.head_dim, nested.num_hidden_layers) == (
        flat.num_kv_heads,
        flat.head_dim,
        flat.num_hidden_layers,
    )


def test_weights_from_safetensors_headers_are_exact(tmp_path: Path) -> None:
    tensors: dict[str, np.ndarray[Any, Any]] = {
        "a": np.zeros((3, 5), np.float32),
        "b": np.zeros(7, np.float16),
        "c": np.zeros((2, 2), np.int8),
    }
    save_file(tensors, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({"d": np.zeros(11, np.float32)}, str(tmp_path / "model-00002-of-00002.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(config("Qwen__Qwen3-0.6B")))
    facts = read_model_facts(tmp_path)
    # float32 tensors are held as 16-bit by vLLM's dtype="auto"; fp16/int8 count as stored
    assert facts.weights_bytes == 3 * 5 * 2 + 7 * 2 + 4 + 11 * 2
    assert facts.weights_source == "headers"
    assert safetensors_tensor_bytes(tmp_path / "model-00002-of-00002.safetensors") == 44


def test_index_total_size_wins_over_headers(tmp_path: Path) -> None:
    save_file({"a": np.zeros(4, np.float32)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 999}, "weight_map": {}})
    )
    (tmp_path / "config.json").write_text(json.dumps(config("Qwen__Qwen3-0.6B")))
    assert read_model_facts(tmp_path).weights_bytes == 999


def test_no_weight_files_estimates_from_shapes() -> None:
    """Qwen3-8B has no weights.json here: the shape estimate is close to 2 × 8.19e9 params."""
    facts = read_model_facts(MODELS / "Qwen__Qwen3-8B")
    assert facts.weights_source == "config"
    assert facts.weights_bytes is not None
    assert abs(facts.weights_bytes - 2 * 8_190_735_360) / (2 * 8_190_735_360) < 0.02


def test_corrupt_safetensors_header(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\x05\x00")
    with pytest.raises(EstimateError, match="too short"):
        safetensors_tensor_bytes(tmp_path / "model.safetensors")
    header = b'{"w": {"dtype": "F16"}}'
    (tmp_path / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(EstimateError, match="malformed safetensors header entry 'w'"):
        safetensors_tensor_bytes(tmp_path / "model.safetensors")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no config.json"),
        ({"config.json": "{ nope"}, "invalid JSON at line 1"),
        ({"config.json": "[1, 2]"}, "expected a JSON object"),
        ({"config.json": json.dumps({"hidden_size": 8})}, "missing `num_hidden_layers`"),
        (
            {
                "config.json": json.dumps(
                    {
                        "num_hidden_layers": 2,
                        "hidden_size": 8,
                        "num_attention_heads": 3,
                        "num_key_value_heads": 2,
                        "vocab_size": 10,
                    }
                )
            },
            "not a multiple",
        ),
        (
            {
                "config.json": json.dumps(
                    {
                        "num_hidden_layers": "2",
                        "hidden_size": 8,
                        "num_attention_heads": 2,
                        "vocab_size": 10,
                    }
                )
            },
            "`num_hidden_layers` must be a positive integer",
        ),
    ],
)
def test_bad_model_dirs_give_one_line_errors(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(EstimateError, match=message) as err:
        read_model_facts(tmp_path)
    assert "\n" not in str(err.value) and str(tmp_path) in str(err.value)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(EstimateError, match="not a directory"):
        read_model_facts(tmp_path / "missing")
