"""Demo-model training speed: padded tokens and CPU seconds per step, plain vs length-bucketed.

Prints ratios and the projected length of a full default run. CPU time (not wall time) is what a
step costs on one uncontended core, so the numbers mean something on a shared machine too.

    .venv/bin/python bench/bench_demo_train.py [--steps 30]
"""

from __future__ import annotations

import argparse
import time
from itertools import islice
from typing import Any


def _tensors(batch: list[tuple[list[int], int]], pad_id: int) -> tuple[Any, Any, Any]:
    import torch

    length = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), length), -100, dtype=torch.long)
    attention = torch.zeros((len(batch), length), dtype=torch.long)
    for row, (ids, prompt_len) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, prompt_len : len(ids)] = torch.tensor(ids[prompt_len:])
        attention[row, : len(ids)] = 1
    return input_ids, labels, attention


def main() -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from workbench.demo import data
    from workbench.demo.train import (
        TrainConfig,
        _length_bucketed_batches,
        _model_config,
        build_tokenizer,
        encode_conversation,
    )

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()

    config = TrainConfig()
    torch.set_num_threads(config.threads)
    tokenizer = build_tokenizer()
    pad_id = tokenizer.token_to_id(data.PAD)
    assert pad_id is not None, "the demo tokenizer always has a pad token"
    model_config = _model_config(config, tokenizer)
    model = Qwen2ForCausalLM(  # type: ignore[no-untyped-call]
        Qwen2Config(**{k: v for k, v in model_config.items() if k != "torch_dtype"})
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def plain_batches() -> Any:
        stream = data.conversation_stream(config.seed)
        while True:
            yield [encode_conversation(tokenizer, next(stream)) for _ in range(config.batch_size)]

    bucketed = (
        batch
        for batch, _ in _length_bucketed_batches(
            tokenizer, data.conversation_stream(config.seed), config
        )
    )
    results: dict[str, tuple[float, float]] = {}
    for name, batches in (("plain", plain_batches()), ("bucketed", bucketed)):
        padded = real = 0
        seconds = 0.0
        for batch in islice(batches, args.steps):
            input_ids, labels, attention = _tensors(batch, pad_id)
            padded += input_ids.numel()
            real += int(attention.sum())
            started = time.process_time()
            loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seconds += time.process_time() - started
        results[name] = (seconds / args.steps, padded / real)
        print(
            f"{name:9s} {seconds / args.steps:.3f} CPU s/step, padded/real tokens "
            f"{padded / real:.2f}, full run ({config.steps} steps) ~"
            f"{seconds / args.steps * config.steps / 60:.1f} CPU min"
        )
    print(f"bucketed/plain CPU time per step: {results['bucketed'][0] / results['plain'][0]:.2f}")


if __name__ == "__main__":
    main()
