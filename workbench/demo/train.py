"""Train the demo reasoning model: a byte-level BPE tokenizer and a tiny Qwen2 decoder.

Seeded and reproducible on CPU. torch, tokenizers and transformers are imported inside functions so
that ``workbench --help`` stays light.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.demo import data

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TOKENIZER_VOCAB_SIZE = 384
MAX_POSITION_EMBEDDINGS = 1024


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained weights; two runs with equal configs give equal files."""

    seed: int = 0
    steps: int = 2500
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_steps: int = 60
    weight_decay: float = 0.01
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_attention_heads: int = 4  # head_dim 32, in vLLM's CPU attention set
    num_key_value_heads: int = 2
    non_thinking_fraction: float = 0.3
    threads: int = 1


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced and how it went."""

    out_dir: Path
    seconds: float
    losses: list[float]  # mean loss per logged window
    weights_sha256: str
    parameters: int


def build_tokenizer() -> Tokenizer:
    """Byte-level BPE trained on the synthetic corpus; digits are always single tokens."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\d"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB_SIZE,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(data.CONTROL_TOKENS),
    )
    tokenizer.train_from_iterator(data.corpus_for_tokenizer(), trainer=trainer)
    # The think tags are added (never split) but not special, as in DeepSeek-R1 and Qwen3, so they
    # survive decoding even with skip_special_tokens=True.
    tokenizer.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t in data.THINK_TOKENS]
    )
    return tokenizer


def _tokenizer_config(tokenizer: Tokenizer) -> dict[str, Any]:
    added = {}
    for token_id, token in sorted(tokenizer.get_added_tokens_decoder().items()):
        added[str(token_id)] = {
            "content": token.content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": token.special,
        }
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": added,
        "bos_token": data.BOS,
        "eos_token": data.EOS,
        "pad_token": data.PAD,
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MAX_POSITION_EMBEDDINGS,
        "chat_template": data.CHAT_TEMPLATE,
    }


def _model_config(config: TrainConfig, tokenizer: Tokenizer) -> dict[str, Any]:
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": tokenizer.get_vocab_size(),
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "head_dim": config.hidden_size // config.num_attention_heads,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITION_EMBEDDINGS,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "use_sliding_window": False,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "bos_token_id": tokenizer.token_to_id(data.BOS),
        "eos_token_id": tokenizer.token_to_id(data.EOS),
        "pad_token_id": tokenizer.token_to_id(data.PAD),
        "torch_dtype": "bfloat16",
        "use_cache": True,
    }


def _generation_config(tokenizer: Tokenizer) -> dict[str, Any]:
    # DeepSeek-R1's recommended sampling; vLLM reads these as the model's defaults.
    return {
        "bos_token_id": tokenizer.token_to_id(data.BOS),
        "eos_token_id": tokenizer.token_to_id(data.EOS),
        "pad_token_id": tokenizer.token_to_id(data.PAD),
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.95,
        "max_new_tokens": 256,
    }


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_tokenizer_files(tokenizer: Tokenizer, out_dir: Path) -> None:
    """tokenizer.json, tokenizer_config.json (with the chat template), special_tokens_map.json."""
    tokenizer.save(str(out_dir / "tokenizer.json"))
    _write_json(out_dir / "tokenizer_config.json", _tokenizer_config(tokenizer))
    _write_json(
        out_dir / "special_tokens_map.json",
        {"bos_token": data.BOS, "eos_token": data.EOS, "pad_token": data.PAD},
    )
    (out_dir / "chat_template.jinja").write_text(data.CHAT_TEMPLATE + "\n", encoding="utf-8")


def encode_conversation(
    tokenizer: Tokenizer, conversation: data.Conversation
) -> tuple[list[int], int]:
    """Token ids of prompt + completion, and how many of them are prompt."""
    prompt_ids: list[int] = tokenizer.encode(conversation.prompt_text()).ids
    completion_ids: list[int] = tokenizer.encode(conversation.completion_text()).ids
    return prompt_ids + completion_ids, len(prompt_ids)


def _learning_rate(step: int, config: TrainConfig) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


POOL_BATCHES = 8


def _length_bucketed_batches(
    tokenizer: Tokenizer, stream: Iterator[data.Conversation], config: TrainConfig
) -> Iterator[tuple[list[tuple[list[int], int]], float]]:
    """Batches of similar length (about a third fewer padded tokens) in a seeded order.

    Each comes with its loss weight: its share of the pool's completion tokens. Without it, a batch
    of short thinking-off answers would count as much as a batch of long traces, and the traces
    (the skill that matters) would be learned worse than with plain shuffled batches.
    """
    order = random.Random(config.seed)
    while True:
        pool = [
            encode_conversation(tokenizer, next(stream))
            for _ in range(config.batch_size * POOL_BATCHES)
        ]
        pool.sort(key=lambda example: len(example[0]))  # stable: ties keep stream order
        chunks = [
            pool[start : start + config.batch_size]
            for start in range(0, len(pool), config.batch_size)
        ]
        order.shuffle(chunks)
        mean_tokens = sum(len(ids) - prompt for ids, prompt in pool) / len(chunks)
        for chunk in chunks:
            yield chunk, sum(len(ids) - prompt for ids, prompt in chunk) / mean_tokens


def train(
    out_dir: Path,
    config: TrainConfig,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train from scratch and write a complete model directory to ``out_dir``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    started = time.monotonic()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    torch.use_deterministic_algorithms(True)

    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    model_config = _model_config(config, tokenizer)
    hf_config = Qwen2Config(**{k: v for k, v in model_config.items() if k != "torch_dtype"})
    model = Qwen2ForCausalLM(hf_config)  # type: ignore[no-untyped-call]
    model.train()
    parameters = sum(p.numel() for p in model.parameters())
    log(f"model: {parameters / 1e6:.2f}M parameters, vocab {tokenizer.get_vocab_size()}")

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.learning_rate,
        betas=(0.9, 0.98),
    )
    stream = data.conversation_stream(
        config.seed, non_thinking_fraction=config.non_thinking_fraction
    )
    pad_id = tokenizer.token_to_id(data.PAD)
    assert pad_id is not None, "the trained tokenizer always holds the control tokens"
    losses: list[float] = []
    window: list[float] = []
    batches = _length_bucketed_batches(tokenizer, stream, config)
    for step in range(config.steps):
        batch, weight = next(batches)
        length = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), length), -100, dtype=torch.long)
        attention = torch.zeros((len(batch), length), dtype=torch.long)
        for row, (ids, prompt_len) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, prompt_len : len(ids)] = torch.tensor(ids[prompt_len:])
            attention[row, : len(ids)] = 1
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, config)
        loss = weight * model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        window.append(float(loss.item()))
        if (step + 1) % 50 == 0 or step + 1 == config.steps:
            losses.append(sum(window) / len(window))
            window = []
            elapsed = time.monotonic() - started
            log(f"step {step + 1}/{config.steps}  loss {losses[-1]:.4f}  {elapsed:.0f}s")

    save_model(model, tokenizer, config, out_dir)
    seconds = time.monotonic() - started
    digest = hashlib.sha256((out_dir / "model.safetensors").read_bytes()).hexdigest()
    _write_json(
        out_dir / "training.json",
        {
            "config": asdict(config),
            "loss_per_50_steps": [round(x, 5) for x in losses],
            "train_seconds": round(seconds, 1),
            "model_safetensors_sha256": digest,
            "parameters": parameters,
        },
    )
    return TrainResult(out_dir, seconds, losses, digest, parameters)


def save_model(model: Any, tokenizer: Tokenizer, config: TrainConfig, out_dir: Path) -> None:
    """Write bf16 safetensors plus every config and tokenizer file vLLM and transformers read."""
    import torch
    from safetensors.torch import save_file

    # Tied embeddings: store the shared matrix once, as tied Qwen2 checkpoints do.
    state = {
        name: tensor.detach().to(torch.bfloat16).contiguous()
        for name, tensor in model.state_dict().items()
        if name != "lm_head.weight"
    }
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    _write_json(out_dir / "config.json", _model_config(config, tokenizer))
    _write_json(out_dir / "generation_config.json", _generation_config(tokenizer))
    write_tokenizer_files(tokenizer, out_dir)
