"""The deployment pieces that need no server: /metrics parsing (a real vLLM 0.32 scrape),
[deployment] validation, export, and the estimate modelling `vllm serve` for a deployment."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.engine.remote import api_root, host_label
from workbench.engine.remote_metrics import parse_metrics
from workbench.estimate.model import EstimateSettings
from workbench.profiles import ProfileError, load_profile
from workbench.profiles.deployment import deployment_profile

DATA = Path(__file__).resolve().parent.parent / "data"


def test_metrics_of_a_real_vllm_scrape() -> None:
    metrics = parse_metrics((DATA / "vllm_metrics_cpu_0.32.txt").read_text("utf-8"))
    assert metrics.kv_usage == 0.0 and metrics.running == 0 and metrics.waiting == 0
    assert (metrics.num_blocks, metrics.block_size) == (8192, 128)
    assert metrics.kv_tokens == 1_048_576 and metrics.kv_cache_bytes == 1 << 30
    assert metrics.preemptions == 0 and metrics.prefix_hit_rate is None  # no queries yet


def test_metrics_without_vllm_names_are_all_unknown() -> None:
    metrics = parse_metrics("# TYPE up gauge\nup 1\n")
    assert metrics.kv_tokens is None and metrics.kv_usage is None and metrics.running is None


def test_urls() -> None:
    assert api_root("http://gpu-box:8000/v1/") == "http://gpu-box:8000"
    assert host_label("https://llm.example.com/v1") == "remote · llm.example.com"


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('url = "gpu-box:8000"', "deployment.url"),
        ('url = "http://x"\napi_key = "sk-123"', "deployment.api_key: unknown key"),
        ('url = "http://x"\napi_key_env = "my key"', "deployment.api_key_env"),
        ('url = "http://x"\ntimeout_s = 0', "deployment.timeout_s: must be in (0, 3600]"),
    ],
)
def test_bad_deployment_tables_are_one_line(tmp_path: Path, table: str, says: str) -> None:
    path = tmp_path / "d.toml"
    path.write_text(f'[model]\nid = "a/b"\n[deployment]\n{table}\n', "utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_url_profiles_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loaded = deployment_profile("http://gpu-box:8000", model="qwen3", api_key_env="VLLM_KEY")
    assert loaded.profile.deployment is not None
    assert loaded.profile.deployment.model == "qwen3" and loaded.name == "gpu-box-8000"
    assert EstimateSettings.from_profile(loaded.profile).runtime == "serve"
    path = tmp_path / "d.toml"
    path.write_text(
        '[model]\nid = "Qwen/Qwen3-8B"\n[deployment]\nurl = "http://gpu-box:8000"\n', "utf-8"
    )
    assert main(["profiles", "export", str(path)]) == 0
    out = capsys.readouterr()
    assert "deployment" not in tomllib.loads(out.out) and "--keep-url" in out.err
    assert main(["profiles", "export", str(path), "--keep-url"]) == 0
    kept = tomllib.loads(capsys.readouterr().out)
    assert kept["deployment"] == {"url": "http://gpu-box:8000"}
