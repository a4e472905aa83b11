"""The shipped demo model directory: layout, size, tokenizer and template contract with vLLM."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from workbench.demo import data
from workbench.demo.evaluate import builtin_model_dir

MODEL_DIR = builtin_model_dir()
REQUIRED = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "generation_config.json",
    "special_tokens_map.json",
)


def _json(name: str) -> Any:
    return json.loads((MODEL_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))


def test_every_file_is_shipped_and_small() -> None:
    for name in REQUIRED:
        assert (MODEL_DIR / name).is_file(), name
    total = sum(p.stat().st_size for p in MODEL_DIR.iterdir() if p.is_file())
    assert total <= 5 * 1024 * 1024


def test_config_is_a_qwen2_vllm_runs_on_cpu() -> None:
    config = _json("config.json")
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert config["hidden_size"] // config["num_attention_heads"] == config["head_dim"]
    assert config["head_dim"] in (32, 64)
    assert config["max_position_embeddings"] >= 1024


def test_eos_agrees_everywhere(tokenizer: Any) -> None:
    eos_id = tokenizer.token_to_id(data.EOS)
    assert _json("config.json")["eos_token_id"] == eos_id
    generation = _json("generation_config.json")
    assert generation["eos_token_id"] == eos_id
    assert generation["temperature"] == 0.6 and generation["top_p"] == 0.95
    assert _json("tokenizer_config.json")["eos_token"] == data.EOS


def test_think_tags_and_digits_are_single_tokens(tokenizer: Any) -> None:
    for text in (*data.THINK_TOKENS, *data.CONTROL_TOKENS, *"0123456789"):
        ids = tokenizer.encode(text).ids
        assert len(ids) == 1, (text, ids)
    assert tokenizer.encode("1234").ids == [tokenizer.token_to_id(d) for d in "1234"]


def test_prompt_and_completion_tokenize_at_a_clean_boundary(tokenizer: Any) -> None:
    """Training encodes prompt and completion apart; vLLM sees them as one text."""
    rng = random.Random(0)
    for problem in data.held_out_problems(50):
        conversation = data.make_conversation(problem, rng, thinking=rng.random() < 0.7)
        prompt, completion = conversation.prompt_text(), conversation.completion_text()
        joined = tokenizer.encode(prompt + completion).ids
        assert joined == tokenizer.encode(prompt).ids + tokenizer.encode(completion).ids
        assert tokenizer.decode(joined, skip_special_tokens=False) == prompt + completion


def test_chat_template_is_the_one_trained_on() -> None:
    assert _json("tokenizer_config.json")["chat_template"] == data.CHAT_TEMPLATE
    jinja = (MODEL_DIR / "chat_template.jinja").read_text(encoding="utf-8")
    assert jinja.rstrip("\n") == data.CHAT_TEMPLATE


@pytest.mark.parametrize("thinking", [True, False])
def test_transformers_renders_the_training_prompt(thinking: bool) -> None:
    from transformers import AutoTokenizer

    hf_tokenizer = AutoTokenizer.from_pretrained(str(MODEL_DIR))
    rendered = hf_tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 47 + 38?"}],
        tokenize=False,
        add_generation_prompt=True,
        enable_thinking=thinking,
    )
    assert rendered == data.render_prompt("What is 47 + 38?", thinking=thinking)


def test_training_record_matches_the_shipped_weights() -> None:
    training = _json("training.json")
    digest = hashlib.sha256(Path(MODEL_DIR / "model.safetensors").read_bytes()).hexdigest()
    assert training["model_safetensors_sha256"] == digest
    assert training["loss_per_50_steps"][-1] < training["loss_per_50_steps"][0]
