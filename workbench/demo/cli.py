"""``workbench demo-model``: train, evaluate and describe the built-in demo reasoning model.

Imports nothing heavy at module level; torch, tokenizers and vllm load inside the commands.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "training.json",
)


def _builtin_model_dir() -> Path:
    return Path(__file__).resolve().parent / "model"


def _default_train_dir() -> Path:
    from workbench.paths import data_dir

    return data_dir() / "demo-model"


def register(subparsers: Any) -> None:
    """Add ``demo-model`` with ``train``, ``eval`` and ``info``."""
    parser = subparsers.add_parser(
        "demo-model",
        help="train / evaluate / describe the built-in tiny reasoning model",
        description="The built-in demo model: a tiny Qwen2 trained here on arithmetic with "
        "reasoning traces, so the demo runs the real vLLM engine and reasoning parser on a CPU.",
    )
    commands = parser.add_subparsers(dest="demo_command", metavar="COMMAND")
    parser.set_defaults(func=lambda _args: (parser.print_help(), 2)[1])

    train = commands.add_parser("train", help="train the model from scratch (seeded, CPU)")
    train.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output dir (default: <data dir>/demo-model; the shipped model is "
        "workbench/demo/model)",
    )
    train.add_argument("--steps", type=int, default=None, help="optimizer steps")
    train.add_argument("--seed", type=int, default=0, help="seed for data and init")
    train.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (part of what fixes the weights)"
    )
    train.add_argument(
        "--yes", action="store_true", help="replace an existing model without asking"
    )
    train.set_defaults(func=_train)

    evaluate = commands.add_parser(
        "eval", help="accuracy table through the real vLLM engine (deepseek_r1 parser)"
    )
    from workbench.demo.evaluate import add_eval_arguments

    add_eval_arguments(evaluate)
    evaluate.set_defaults(func=_eval)

    info = commands.add_parser("info", help="where the model is, its size, how it was trained")
    info.add_argument("--model", type=Path, default=None, help="model dir (default: built-in)")
    info.set_defaults(func=_info)


def _confirm_replace(out_dir: Path, assume_yes: bool) -> bool:
    if assume_yes or not (out_dir / "model.safetensors").exists():
        return True
    if not sys.stdin.isatty():
        print(
            f"workbench: {out_dir} already holds a model; hint: pass --yes to replace it",
            file=sys.stderr,
        )
        return False
    reply = input(f"Replace the model in {out_dir}? [y/N] ")
    return reply.strip().lower() in ("y", "yes")


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from workbench.demo.train import TrainConfig, train

    out_dir: Path = args.out or _default_train_dir()
    if args.steps is not None and args.steps < 1:
        print("workbench: --steps must be at least 1", file=sys.stderr)
        return 2
    if out_dir.exists() and not out_dir.is_dir():
        print(f"workbench: --out {out_dir} is a file, not a directory", file=sys.stderr)
        return 2
    if not _confirm_replace(out_dir, args.yes):
        return 2
    config = TrainConfig(seed=args.seed, threads=args.threads)
    if args.steps is not None:
        config = replace(config, steps=args.steps)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Train into a sibling temp dir and swap at the end: an interrupted run leaves the old model.
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".demo-train-") as scratch:
        result = train(Path(scratch), config, log=lambda line: print(line, flush=True))
        out_dir.mkdir(exist_ok=True)
        for name in MODEL_FILES:
            shutil.move(str(Path(scratch) / name), str(out_dir / name))
    print(
        f"trained {result.parameters / 1e6:.2f}M parameters in {result.seconds:.0f}s, "
        f"final loss {result.losses[-1]:.4f}; wrote {out_dir}\n"
        f"model.safetensors sha256 {result.weights_sha256}"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from workbench.demo.evaluate import run_from_args

    return run_from_args(args)


def _info(args: argparse.Namespace) -> int:
    model_dir: Path = args.model or _builtin_model_dir()
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        print(
            f"workbench: {model_dir} has no config.json; "
            "hint: `workbench demo-model train --out DIR` builds one",
            file=sys.stderr,
        )
        return 2
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        shape = (
            f"{config['num_hidden_layers']} layers, hidden {config['hidden_size']}, "
            f"heads {config['num_attention_heads']} (kv {config['num_key_value_heads']}), "
            f"head_dim {config['head_dim']}, vocab {config['vocab_size']}"
        )
        architecture = config["architectures"][0]
    except (json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        print(f"workbench: {config_path} is not a demo-model config ({exc})", file=sys.stderr)
        return 2
    total = sum(p.stat().st_size for p in model_dir.iterdir() if p.is_file())
    print(f"model dir      {model_dir}")
    print(f"architecture   {architecture}")
    print(f"shape          {shape}")
    print(f"files          {total / 1e6:.2f} MB")
    training_path = model_dir / "training.json"
    if training_path.is_file():
        training = json.loads(training_path.read_text(encoding="utf-8"))  # written by train()
        print(
            f"trained        {training['config']['steps']} steps, seed "
            f"{training['config']['seed']}, {training['train_seconds']}s, final loss "
            f"{training['loss_per_50_steps'][-1]}"
        )
        print(f"weights sha256 {training['model_safetensors_sha256']}")
    return 0
