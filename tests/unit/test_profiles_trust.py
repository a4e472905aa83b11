"""Profiles from others: what runs code asks first (once per file content), what cannot apply
here says why. The command-line side runs `workbench chat` for real; it refuses before any
engine starts, so no engine is needed to see it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.conftest import write
from workbench.cli import main
from workbench.profiles import load_profile
from workbench.profiles.loader import unapplied_gpu_overrides
from workbench.profiles.trust import TRUST_STORE, grant, pending_consent


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"  # WORKBENCH_DATA_DIR from tests/conftest.py


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """cwd = a team's project whose ./profiles the app and CLI discover."""
    root = tmp_path / "project"
    (root / "profiles").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root / "profiles"


RISKY = [
    pytest.param(
        'extends = "demo"\n[model]\ntrust_remote_code = true\n',
        "model.trust_remote_code runs Python code shipped with the model",
        3,
        id="trust_remote_code",
    ),
    pytest.param(
        'extends = "demo"\n[env]\nLD_PRELOAD = "/tmp/evil.so"\n',
        "env sets environment variables (LD_PRELOAD)",
        2,
        id="env",
    ),
    pytest.param(
        'extends = "demo"\n[model]\nchat_template = "t.jinja"\n',
        "model.chat_template uses a custom chat template",
        3,
        id="chat_template",
    ),
]


@pytest.mark.parametrize(("body", "named", "line"), RISKY)
def test_chat_refuses_a_teammates_profile_that_runs_code_until_trusted(
    project: Path,
    data_dir: Path,
    body: str,
    named: str,
    line: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(project / "t.jinja", "{{ messages }}")
    write(project / "risky.toml", body)
    assert main(["chat", "risky", "--prompt", "hi", "--max-tokens", "1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, err  # the refusal, then its hint
    assert named in err[0] and f"profiles/risky.toml:{line}" in err[0], err[0]
    assert "--trust-profile" in err[1]
    assert not (data_dir / TRUST_STORE).exists()  # refusing records nothing
    assert not (data_dir / "logs").exists()  # and no engine was started

    # Consent is remembered for exactly these bytes: the same file passes the check...
    loaded = load_profile("risky")
    request = pending_consent(loaded, data_dir)
    assert request is not None
    grant(request, data_dir)
    assert pending_consent(load_profile("risky"), data_dir) is None
    # ...and a teammate's edit (same keys, other values) asks again.
    write(project / "risky.toml", body + "[sampling]\ntemperature = 0.1\n")
    assert pending_consent(load_profile("risky"), data_dir) is not None


def test_trust_flag_records_consent_for_the_next_run(
    project: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "risky.toml", 'extends = "demo"\n[model]\ntrust_remote_code = true\n')
    from workbench.profiles.trust import command_line_consent

    loaded = load_profile("risky")
    assert command_line_consent(loaded, data_dir, trust=True) is None
    assert "risky" in (data_dir / TRUST_STORE).read_text()
    assert command_line_consent(loaded, data_dir, trust=False) is None


def test_own_and_shipped_profiles_never_ask(user_dir: Path, project: Path, data_dir: Path) -> None:
    # The user's own profile (written by them, or imported with consent): no question.
    write(user_dir / "mine.toml", 'extends = "demo"\n[env]\nVLLM_LOGGING_LEVEL = "DEBUG"\n')
    assert pending_consent(load_profile("mine"), data_dir) is None
    assert pending_consent(load_profile("demo"), data_dir) is None  # shipped
    # A user profile extending the team's risky one: the team file's key still asks, named.
    write(project / "team.toml", 'extends = "demo"\n[model]\ntrust_remote_code = true\n')
    write(user_dir / "derived.toml", 'extends = "team"\n[sampling]\nn = 2\n')
    request = pending_consent(load_profile("derived"), data_dir)
    assert request is not None
    assert [item.key for item in request.items] == ["model.trust_remote_code"]
    assert request.items[0].path.name == "team.toml" and request.items[0].line == 3


def test_a_deployment_profile_runs_nothing_here(project: Path, data_dir: Path) -> None:
    from workbench.profiles.trust import command_line_consent

    write(
        project / "served.toml",
        '[model]\nid = "a/b"\ntrust_remote_code = true\n'
        '[deployment]\nurl = "http://127.0.0.1:9/v1"\n',
    )
    assert command_line_consent(load_profile("served"), data_dir, trust=False) is None


def test_gpu_override_for_a_gpu_you_do_not_have_says_so(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        project / "h100.toml",
        'extends = "demo"\n[gpu_overrides."NVIDIA H100 80GB HBM3".engine]\nmax_model_len = 768\n',
    )
    here = load_profile("h100", gpu_name="NVIDIA GeForce RTX 4090")
    note = unapplied_gpu_overrides(here)
    assert note is not None
    assert "'NVIDIA H100 80GB HBM3' not applied" in note and "RTX 4090" in note
    base = load_profile("demo").profile.engine.max_model_len
    assert base != 768 and here.profile.engine.max_model_len == base  # not the H100's 768
    there = load_profile("h100", gpu_name="NVIDIA H100 80GB HBM3")
    assert unapplied_gpu_overrides(there) is None and there.profile.engine.max_model_len == 768
    assert unapplied_gpu_overrides(load_profile("demo")) is None  # no overrides at all
    assert main(["profiles", "show", "h100"]) == 0
    assert "not applied (no GPU detected or given)" in capsys.readouterr().out


def test_paths_and_ids_from_another_machine_explain_themselves(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "alice.toml", '[model]\npath = "/home/alice/models/Qwen3-8B"\n')
    write(project / "bob.toml", '[model]\nid = "Qwen/Qwen3-8B"\n')
    assert main(["chat", "alice", "--prompt", "hi"]) == 2
    err = capsys.readouterr().err.strip()
    assert "profiles/alice.toml:2: model.path" in err and "does not exist" in err
    assert "hint:" in err and "\n" not in err
    bob = load_profile("bob")
    assert bob.model_dir is None and bob.model_error is not None
    assert "Qwen/Qwen3-8B is not on this machine" in bob.model_error
    assert "huggingface-cli download Qwen/Qwen3-8B" in bob.model_error
