"""`workbench chat` end to end: a real load in a subprocess, JSON on stdout, progress on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import write_profile
from workbench.engine.timing import METRIC_DEFINITIONS

REPO = Path(__file__).resolve().parent.parent.parent


def _workbench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


@pytest.mark.engine
def test_chat_json_streams_n_samples_and_keeps_engine_output_off_the_terminal(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    path = write_profile(
        tmp_path,
        "tiny-cli",
        f"""
        [model]
        path = "{tiny_model_dir}"
        [engine]
        max_model_len = 512
        kv_cache_memory_bytes = 16777216
        reasoning_parser = "deepseek_r1"
        [sampling]
        n = 4
        max_tokens = 16
        """,
    )
    done = _workbench("chat", str(path), "--prompt", "Two plus two?", "--n", "2", "--json", "--log")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["profile"] == "tiny-cli"
    assert (result["n_requested"], result["n_received"], result["error"]) == (2, 2, None)
    assert [sample["index"] for sample in result["samples"]] == [0, 1]
    for sample in result["samples"]:
        assert sample["stats"]["finish_reason"] in ("stop", "length")
        assert sample["stats"]["prompt_tokens"] > 0
        # every run metric under its defined name (engine.timing), measured
        assert set(METRIC_DEFINITIONS) <= set(sample["stats"])
        assert sample["stats"]["ttft_s"] <= sample["stats"]["e2e_s"]
        assert sample["stats"]["queue_s"] is not None
        if "</think>" not in sample["text"]:
            assert sample["reasoning"] == sample["text"] and sample["content"] == ""
    turn = result["turn"]
    assert turn["samples"] == 2 and turn["turn_tokens_per_s"] > 0
    assert turn["ttft_s"]["p50"] <= turn["ttft_s"]["p95"]
    assert result["figures"]["kv_cache_tokens"] == 16777216 // 256
    stages = [
        line.split("] ", 1)[1].split("  ")[0]
        for line in done.stderr.splitlines()
        if line.startswith("[")
    ]
    assert stages[0] == "validating" and stages[-1] == "ready"
    assert "EngineCore" not in done.stderr and "INFO" not in done.stderr
    log_line = next(line for line in done.stderr.splitlines() if line.startswith("engine log: "))
    assert "EngineCore" in Path(log_line.removeprefix("engine log: ")).read_text()


def test_chat_with_a_bad_profile_exits_2_with_one_line(tmp_path: Path) -> None:
    path = write_profile(tmp_path, "broken", "[model]\npath = 3\n")
    done = _workbench("chat", str(path), "--prompt", "hi", timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("workbench: ") and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_chat_with_a_model_not_on_this_machine_exits_1_without_starting_an_engine(
    tmp_path: Path,
) -> None:
    path = write_profile(tmp_path, "nomodel", '[model]\nid = "nobody/absent-model"\n')
    done = _workbench("chat", str(path), "--prompt", "hi", timeout=60)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("workbench: ")]
    assert len(error_lines) == 1 and "nobody/absent-model is not on this machine" in error_lines[0]
    assert not (tmp_path / "data" / "logs").exists()  # no engine process was started
