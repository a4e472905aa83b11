"""The shipped demo model through the real vLLM engine and vLLM's deepseek_r1 reasoning parser.

One engine start for the module: ``python -m workbench.demo.evaluate`` runs in a child process (a
spawn-safe ``__main__``, and its engine processes are gone when it exits) on held-out questions the
trainer never saw, and writes every record as JSON for the checks below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench.demo import data
from workbench.demo.evaluate import builtin_model_dir

pytestmark = pytest.mark.engine

QUESTIONS = 20
SAMPLES = 8


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not (builtin_model_dir() / "model.safetensors").is_file():
        pytest.fail(f"the demo model is not built: {builtin_model_dir()} has no model.safetensors")
    out = tmp_path_factory.mktemp("demo-eval") / "report.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING"}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.demo.evaluate",
            f"--questions={QUESTIONS}",
            f"--samples={SAMPLES}",
            f"--json-out={out}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr[-4000:] + completed.stdout[-2000:]
    report: dict[str, Any] = json.loads(Path(out).read_text(encoding="utf-8"))
    return report


def test_greedy_answers_held_out_questions(evaluation: dict[str, Any]) -> None:
    greedy = evaluation["greedy"]
    assert len(greedy) == QUESTIONS
    wrong = [(r["question"], r["content"]) for r in greedy if not r["correct"]]
    assert len(wrong) <= QUESTIONS // 10, wrong


def test_parser_splits_every_greedy_answer(evaluation: dict[str, Any]) -> None:
    for record in evaluation["greedy"]:
        assert record["split_ok"], record
        # The template opened the think block, so the model emits only "... </think> answer".
        assert not record["text"].startswith(data.THINK_START)
        assert record["text"].count(data.THINK_END) == 1


def test_samples_at_temperature_one_differ_and_vote_well(evaluation: dict[str, Any]) -> None:
    sampled = evaluation["sampled"]
    assert len(sampled) == QUESTIONS
    assert all(len(r["answers"]) == SAMPLES for r in sampled)
    varied = sum(r["distinct_texts"] >= 2 for r in sampled)
    assert varied > QUESTIONS // 2, [r["distinct_texts"] for r in sampled]
    summary = evaluation["summary"]
    assert summary["majority_accuracy"] >= summary["sample_accuracy"]
    assert summary["majority_accuracy"] >= 0.8


def test_thinking_off_answers_without_reasoning(evaluation: dict[str, Any]) -> None:
    plain = evaluation["no_thinking"]
    assert len(plain) == QUESTIONS
    assert all(r["no_reasoning"] for r in plain), [r["text"] for r in plain]
    assert all(data.final_number(r["content"]) is not None for r in plain), plain
    # Without its trace the model only guesses: thinking is what makes it right.
    summary = evaluation["summary"]
    assert summary["greedy_accuracy"] > summary["no_thinking_accuracy"]
