"""The trainer is seeded and reproducible; the demo-model CLI refuses bad input in one line."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import islice
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.demo import data
from workbench.demo.train import (
    POOL_BATCHES,
    TrainConfig,
    _length_bucketed_batches,
    build_tokenizer,
    encode_conversation,
    train,
)

# Small enough for a unit test; same code path as the real run.
TINY = TrainConfig(
    steps=3, batch_size=4, hidden_size=64, intermediate_size=128, num_layers=1,
    num_attention_heads=2, num_key_value_heads=1, warmup_steps=1,
)  # fmt: skip


def test_same_seed_same_weights_other_seed_other_weights(tmp_path: Path) -> None:
    first = train(tmp_path / "a", TINY, log=lambda _line: None)
    again = train(tmp_path / "b", TINY, log=lambda _line: None)
    other = train(tmp_path / "c", replace(TINY, seed=1), log=lambda _line: None)
    assert first.weights_sha256 == again.weights_sha256
    assert first.losses == again.losses
    assert other.weights_sha256 != first.weights_sha256
    record = json.loads((tmp_path / "a" / "training.json").read_text(encoding="utf-8"))
    assert record["model_safetensors_sha256"] == first.weights_sha256
    config = json.loads((tmp_path / "a" / "config.json").read_text(encoding="utf-8"))
    assert config["head_dim"] == 32


def test_train_refuses_to_replace_a_model_without_yes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"keep me")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["demo-model", "train", "--out", str(out), "--steps", "1"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert (out / "model.safetensors").read_bytes() == b"keep me"


def test_train_rejects_zero_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-model", "train", "--out", str(tmp_path / "m"), "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_info_describes_the_shipped_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-model", "info"]) == 0
    out = capsys.readouterr().out
    assert "Qwen2ForCausalLM" in out and "head_dim 32" in out


def test_eval_without_a_model_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-model", "eval", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and err.count("\n") == 1


def test_batches_group_similar_lengths_without_losing_examples() -> None:
    tokenizer = build_tokenizer()
    config = TrainConfig(batch_size=8)
    pool = config.batch_size * POOL_BATCHES
    batches = list(
        islice(_length_bucketed_batches(tokenizer, data.conversation_stream(0), config), 2 * 8)
    )
    padded = sum(len(b) * max(len(ids) for ids, _ in b) for b, _ in batches)
    real = sum(len(ids) for b, _ in batches for ids, _ in b)
    assert padded / real < 1.1
    # Loss weights follow completion tokens and average to one over a pool.
    weights = [weight for _, weight in batches[:POOL_BATCHES]]
    assert sum(weights) == pytest.approx(POOL_BATCHES)
    assert max(weights) > 1.5 * min(weights)
    plain = [encode_conversation(tokenizer, c) for c in islice(data.conversation_stream(0), pool)]
    first_pool = [example for batch, _ in batches[:POOL_BATCHES] for example in batch]
    assert sorted(first_pool) == sorted(plain)


def test_info_on_a_foreign_config_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    assert main(["demo-model", "info", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and err.count("\n") == 1
