"""`workbench estimate`: table, --json, devices, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main

MODELS = Path(__file__).resolve().parent.parent / "data" / "models"
LLAMA = str(MODELS / "meta-llama__Llama-3.1-8B-Instruct")


def test_table_for_a_named_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", LLAMA, "--gpu", "3090", "--max-model-len", "20000"]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA GeForce RTX 3090 (built-in table)" in out
    for label in (
        "weights (per GPU)",
        "non-torch overhead",
        "KV cache available",
        "KV cache tokens",
        "max concurrency",
        "largest max_model_len",
        "verdict",
    ):
        assert label in out
    assert "FITS" in out


def test_json_has_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "estimate",
            LLAMA,
            "--gpu-mem",
            "24GiB",
            "--tp",
            "1",
            "--util",
            "0.8",
            "--kv-cache-dtype",
            "fp8",
            "--max-model-len",
            "131072",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kv_bytes_per_token"] == 65536
    assert data["settings"]["gpu_memory_utilization"] == 0.8
    assert data["verdict"] == "does_not_fit" and data["largest_fitting_max_model_len"] > 0
    assert data["device_source"] == "24GiB per GPU" and data["device"] == "GPU with 24GiB"


def test_without_a_gpu_flag_uses_nvml_or_says_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", LLAMA, "--kv-cache-memory", "4GiB", "--max-model-len", "8192"]) == 0
    out = capsys.readouterr().out
    assert "(NVML, GPU 0 of" in out or "CPU engine (" in out


def test_cpu_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "estimate",
                LLAMA,
                "--cpu",
                "--kv-cache-memory",
                "2GiB",
                "--max-model-len",
                "4096",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["block_size"] == 128 and data["num_blocks"] == 128 and data["kv_tokens"] == 16384


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--gpu", "Voodoo 5"], "unknown GPU"),
        (["--gpu-mem", "lots"], "cannot read size"),
        (["--gpu", "3090", "--util", "2"], "gpu_memory_utilization 2.0"),
        (["--gpu", "3090", "--tp", "3"], "not divisible"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["estimate", LLAMA, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unknown_profile_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "no-such-profile"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("workbench: ") and err.count("\n") == 1


def test_profile_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A profile's [engine] settings and [env] KV budget reach the estimate."""
    profile = tmp_path / "small.toml"
    profile.write_text(
        f'[model]\npath = "{LLAMA}"\n\n[engine]\nmax_model_len = 4096\n\n'
        '[env]\nVLLM_CPU_KVCACHE_SPACE = "1"\n'
    )
    assert main(["estimate", str(profile), "--cpu", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["max_model_len"] == 4096 and data["available_kv_bytes"] == 1024**3
    assert data["model"] == "profile small"


def test_profile_gpu_override_applies_for_the_named_gpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "o.toml"
    profile.write_text(
        f'[model]\npath = "{LLAMA}"\n\n[engine]\nmax_model_len = 32768\n\n'
        '[gpu_overrides."NVIDIA GeForce RTX 3090".engine]\nmax_model_len = 16384\n'
    )
    assert main(["estimate", str(profile), "--gpu", "3090", "--json"]) == 0
    on_3090 = json.loads(capsys.readouterr().out)
    assert on_3090["max_model_len"] == 16384 and "gpu_overrides" in on_3090["model"]
    assert main(["estimate", str(profile), "--gpu", "4090", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_model_len"] == 32768


def test_named_gpu_counts_tp_gpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", LLAMA, "--gpu", "T4", "--tp", "2", "--max-model-len", "8192"]) == 0
    out = capsys.readouterr().out
    assert "Tesla T4 (built-in table), 2 of them" in out and "warning" not in out
