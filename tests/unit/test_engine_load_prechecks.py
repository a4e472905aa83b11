"""Load failures found before any engine process starts, each a typed one-line error that says
what to do (the real engine would otherwise fail late: missing weights after ~25 s with a
stack trace, a missing chat template only at the first message)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from workbench.engine.api import EngineError, LoadStage
from workbench.engine.service import VllmEngineService
from workbench.profiles import BUILTIN_DEMO_MODEL_DIR, ProfileError, load_profile


def demo_copy(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    shutil.copytree(BUILTIN_DEMO_MODEL_DIR, model)
    return model


def profile_for(tmp_path: Path, model: Path, engine: str = "max_model_len = 512") -> Path:
    path = tmp_path / "p.toml"
    path.write_text(f'[model]\npath = "{model}"\n[engine]\n{engine}\n', "utf-8")
    return path


async def refused(tmp_path: Path, path: Path) -> EngineError:
    service = VllmEngineService(log_dir=tmp_path / "logs")
    stages: list[LoadStage] = []
    with pytest.raises(EngineError) as caught:
        async for progress in service.load(load_profile(path)):
            stages.append(progress.stage)
    assert stages == [LoadStage.VALIDATING]
    assert not (tmp_path / "logs").exists()  # no engine process was started
    assert service.state.status == "error" and service.state.error is caught.value
    assert "\n" not in caught.value.message
    return caught.value


async def test_no_weights(tmp_path: Path) -> None:
    model = demo_copy(tmp_path)
    (model / "model.safetensors").unlink()
    error = await refused(tmp_path, profile_for(tmp_path, model))
    assert error.kind == "model_files_missing" and "no weights" in error.message
    assert "hf download" in error.message


async def test_no_chat_template(tmp_path: Path) -> None:
    model = demo_copy(tmp_path)
    (model / "chat_template.jinja").unlink()
    config = json.loads((model / "tokenizer_config.json").read_text("utf-8"))
    config.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(config), "utf-8")
    error = await refused(tmp_path, profile_for(tmp_path, model))
    assert error.kind == "invalid_config" and "no chat template" in error.message
    assert "[model] chat_template" in error.message
    # the fix the message names works: the check passes with the profile's own template
    template = tmp_path / "t.jinja"
    shutil.copy(BUILTIN_DEMO_MODEL_DIR / "chat_template.jinja", template)
    path = tmp_path / "fixed.toml"
    path.write_text(
        f'[model]\npath = "{model}"\nchat_template = "{template}"\n[engine]\nmax_model_len = 512\n',
        "utf-8",
    )
    from workbench.engine.service import _precheck

    loaded = load_profile(path)
    _precheck(loaded, model, None)  # no error


async def test_max_model_len_above_the_model(tmp_path: Path) -> None:
    model = demo_copy(tmp_path)
    loaded = load_profile(profile_for(tmp_path, model))
    engine = loaded.profile.engine.model_copy(update={"max_model_len": 4096})
    import dataclasses

    edited = dataclasses.replace(
        loaded, profile=loaded.profile.model_copy(update={"engine": engine})
    )
    service = VllmEngineService(log_dir=tmp_path / "logs")
    with pytest.raises(EngineError) as caught:
        async for _ in service.load(edited):
            pass
    assert caught.value.kind == "invalid_config"
    assert caught.value.suggestion is not None and caught.value.suggestion.value == 1024


def test_a_directory_that_is_not_a_model_is_a_bad_profile(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProfileError, match="has no config.json") as caught:
        load_profile(profile_for(tmp_path, tmp_path / "empty"))
    assert caught.value.hint and "p.toml:2" in str(caught.value)
