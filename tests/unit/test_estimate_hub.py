"""Estimating a model that is not downloaded: metadata from a Hub stand-in on 127.0.0.1.

The CLI runs as a real subprocess with ``HF_ENDPOINT`` pointing at ``tests/hub_server.py``, which
speaks the file API huggingface_hub uses (HEAD/GET ``resolve``, range requests, the Hub's error
codes). Configs are real (tests/data/models); safetensors files are headers only, so a test also
proves that nothing but metadata is ever read.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hub_server import HubServer, serve_hub

MODELS = Path(__file__).resolve().parent.parent / "data" / "models"
QWEN3_8B = json.loads((MODELS / "Qwen__Qwen3-8B" / "config.json").read_text("utf-8"))
LLAMA_8B = json.loads((MODELS / "meta-llama__Llama-3.1-8B-Instruct" / "config.json").read_text())


@pytest.fixture
def hub() -> Iterator[HubServer]:
    yield from serve_hub()


def run_cli(
    tmp_path: Path, hub_endpoint: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = dict(
        os.environ,
        HF_ENDPOINT=hub_endpoint,
        HF_HUB_OFFLINE="0",
        TRANSFORMERS_OFFLINE="0",
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_DISABLE_TELEMETRY="1",
        WORKBENCH_DATA_DIR=str(tmp_path / "data"),
        WORKBENCH_CONFIG_DIR=str(tmp_path / "config"),
    )
    environ.pop("HF_HUB_CACHE", None)
    environ.pop("HF_TOKEN", None)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def estimate_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def model_requests(hub: HubServer) -> list[tuple[str, str, str | None]]:
    """Requests for a repo's files (huggingface_hub also asks the endpoint for its own
    agent registry once a day; that is not a model file)."""
    return [r for r in hub.requests if "/resolve/" in r[1]]


def test_a_hub_id_is_estimated_from_config_and_headers_only(tmp_path: Path, hub: HubServer) -> None:
    total = hub.add_model("Qwen/Qwen3-8B", QWEN3_8B, shards=3)
    result = run_cli(
        tmp_path, hub.endpoint, "estimate", "Qwen/Qwen3-8B", "--gpu", "RTX 4090", "--json"
    )
    data = estimate_json(result)
    assert data["facts_source"] == "the Hub's config.json and safetensors headers"
    assert data["facts_commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert data["weights_bytes"] == total  # the headers' byte count, not a guess from shapes
    assert data["weights_exact"] is True
    assert data["derived_max_model_len"] == 40960
    assert data["verdict"] in ("fits", "tight", "does_not_fit")
    assert "Parse safetensors" not in result.stderr  # no progress bar drawn over a screen
    requests = model_requests(hub)
    shard_reads = [r for r in requests if r[1].endswith(".safetensors") and r[0] == "GET"]
    assert len(shard_reads) == 3
    assert all(r[2] == "bytes=0-100000" for r in shard_reads)  # headers by range, never weights


def test_a_second_estimate_is_served_from_the_cache_offline(tmp_path: Path, hub: HubServer) -> None:
    hub.add_model("meta-llama/Llama-3.1-8B-Instruct", LLAMA_8B)
    args = ("estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "A100 80GB", "--json")
    first = estimate_json(run_cli(tmp_path, hub.endpoint, *args))
    before = len(model_requests(hub))
    second = estimate_json(run_cli(tmp_path, hub.endpoint, *args, HF_HUB_OFFLINE="1"))
    assert len(model_requests(hub)) == before  # nothing asked of the Hub
    assert second["weights_bytes"] == first["weights_bytes"]
    assert second["available_kv_bytes"] == first["available_kv_bytes"]
    assert second["facts_source"] == first["facts_source"]  # metadata is not the model
    third = estimate_json(run_cli(tmp_path, hub.endpoint, *args, "--offline"))
    assert third["kv_tokens"] == first["kv_tokens"]
    gone = estimate_json(run_cli(tmp_path, "http://127.0.0.1:9", *args))  # network down
    assert gone["kv_tokens"] == first["kv_tokens"]
    assert any("did not answer: cached metadata used" in w["message"] for w in gone["warnings"])


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_gated_missing_and_offline_repos_say_what_to_do(tmp_path: Path, hub: HubServer) -> None:
    hub.add_model("meta-llama/Llama-3.1-8B-Instruct", LLAMA_8B, gated=True)
    gated = one_line_error(
        run_cli(tmp_path, hub.endpoint, "estimate", "meta-llama/Llama-3.1-8B-Instruct", "--cpu")
    )
    assert "gated" in gated and "HF_TOKEN" in gated
    missing = one_line_error(run_cli(tmp_path, hub.endpoint, "estimate", "nobody/nothing"))
    assert "no such model on the Hub" in missing
    offline = one_line_error(
        run_cli(tmp_path, hub.endpoint, "estimate", "Qwen/Qwen3-8B", HF_HUB_OFFLINE="1")
    )
    assert "Hub access is off" in offline and "[model.facts]" in offline
    assert hub.requests == [r for r in hub.requests if "Qwen3-8B" not in r[1]]


def test_an_unreachable_hub_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = one_line_error(
        run_cli(tmp_path, f"http://127.0.0.1:{port}", "estimate", "Qwen/Qwen3-8B", "--cpu")
    )
    assert "cannot reach the Hub" in error and f"127.0.0.1:{port}" in error


def test_a_repo_without_safetensors_estimates_weights_and_says_so(
    tmp_path: Path, hub: HubServer
) -> None:
    hub.add_model("Qwen/Qwen3-8B", QWEN3_8B, safetensors=False)
    result = run_cli(tmp_path, hub.endpoint, "estimate", "Qwen/Qwen3-8B", "--gpu", "4090")
    assert result.returncode == 0, result.stderr
    assert "no safetensors files on the Hub" in result.stdout
    assert "estimated from config" in result.stdout


def test_profile_facts_are_written_from_the_hub_and_then_used_without_it(
    tmp_path: Path, hub: HubServer
) -> None:
    """A teammate's profile names a model nobody here downloaded: `profiles facts --write`
    reads its metadata once; from then on the profile estimates with no Hub at all."""
    total = hub.add_model("Qwen/Qwen3-8B", QWEN3_8B, shards=2)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    profile = profiles / "teammate.toml"
    text = (
        "# Qwen3-8B for a 24 GB card, from a teammate\n"
        '[model]\nid = "Qwen/Qwen3-8B"\n\n[engine]\nmax_model_len = 16384\n'
    )
    profile.write_text(text, encoding="utf-8")
    wrote = run_cli(tmp_path, hub.endpoint, "profiles", "facts", "teammate", "--write")
    assert wrote.returncode == 0, wrote.stderr
    assert "wrote [model.facts]" in wrote.stderr
    saved = profile.read_text(encoding="utf-8")
    assert saved.startswith(text)  # comments and keys kept; the table is added
    import tomllib

    facts = tomllib.loads(saved)["model"]["facts"]
    assert facts["model"] == "Qwen/Qwen3-8B"
    assert facts["revision"] == "0123456789abcdef0123456789abcdef01234567"
    assert facts["weight_bytes"] == total and facts["weight_bytes_source"] == "headers"
    assert facts["num_hidden_layers"] == 36 and facts["num_key_value_heads"] == 8
    unreachable = "http://127.0.0.1:9"  # the Hub is gone: the facts travel with the profile
    data = estimate_json(
        run_cli(
            tmp_path,
            unreachable,
            "estimate",
            "teammate",
            "--gpu",
            "RTX 4090",
            "--json",
            HF_HOME=str(tmp_path / "empty-hf"),
        )
    )
    assert data["facts_source"] == "the profile's [model.facts]"
    assert data["weights_bytes"] == total
