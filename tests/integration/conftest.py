"""Integration fixtures: a tiny real Qwen2 model built on the fly, and profiles written as TOML.

The tiny model has random weights (its text is soup) but a real tokenizer with ``<think>`` /
``</think>`` tokens and a DeepSeek-R1 style chat template whose generation prompt already opens
``<think>\\n`` — so structure (indices, counts, finish reasons, abort, unload, errors) and the
"template opened the think block" path are exercised against the real vLLM engine.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n<think>\\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "{{ '\\n</think>\\n\\n' }}{% endif %}{% endif %}"
)
TINY_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
# K and V x 2 layers x 1 KV head x head_dim 32 x 2 bytes (bfloat16) = 256 bytes per token.
TINY_KV_BYTES_PER_TOKEN = 2 * 2 * 1 * 32 * 2


def build_tiny_tokenizer(model_dir: Path) -> Any:
    """Write a small byte-level BPE tokenizer with think tags and the chat template; return it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    model_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=TINY_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = ["The quick brown fox jumps over the lazy dog. Two plus two is four."] * 20
    tokenizer.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
    )
    fast.chat_template = TINY_CHAT_TEMPLATE
    fast.save_pretrained(model_dir)
    return fast


def build_tiny_qwen2(model_dir: Path) -> Path:
    """Write a random-weight Qwen2 model (head_dim 32, bfloat16) with a think-tag tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    fast = build_tiny_tokenizer(model_dir)
    config = Qwen2Config(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        bos_token_id=fast.convert_tokens_to_ids("<|endoftext|>"),
        dtype="bfloat16",
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)  # type: ignore[no-untyped-call]
    model.to(torch.bfloat16).save_pretrained(model_dir, safe_serialization=True)  # type: ignore[arg-type]
    return model_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model, built once per test session (a few seconds)."""
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"))


def write_profile(directory: Path, name: str, body: str) -> Path:
    """Write ``<directory>/<name>.toml`` from an indented TOML snippet."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def write_long_demo_profile(directory: Path) -> Path:
    """The demo model, never stopping early: n = 4 samples of 960 tokens (its context: 1024).
    Long enough to kill something mid-stream, short enough for CI."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-long.toml"
    path.write_text(
        'extends = "demo"\n'
        "[sampling]\nn = 4\nmax_tokens = 960\ntemperature = 0.8\n"
        "[sampling.extra]\nmin_tokens = 960\nignore_eos = true\n"
        "[engine]\nmax_num_seqs = 4\nmax_model_len = 1024\n"
    )
    return path
