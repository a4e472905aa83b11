"""The model's maximum length has one owner: the estimator, the profile check and the engine's
pre-load check refuse exactly the same lengths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.hub_server import safetensors_header_only
from workbench.engine.api import EngineError
from workbench.engine.service import _precheck
from workbench.estimate import read_model_facts
from workbench.model_config import derived_max_model_len
from workbench.profiles import ProfileError, load_profile

MODELS = Path(__file__).resolve().parent.parent / "data" / "models"
NAMES = sorted(p.name for p in MODELS.iterdir() if (p / "config.json").is_file())


def _profile(tmp_path: Path, model_dir: Path, max_model_len: int) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(f'[model]\npath = "{model_dir}"\n\n[engine]\nmax_model_len = {max_model_len}\n')
    return path


@pytest.mark.parametrize("model", NAMES)
def test_profile_check_and_engine_precheck_refuse_what_the_estimator_derives(
    tmp_path: Path, model: str
) -> None:
    # the reference folders hold metadata only; the precheck also wants weights to be there
    model_dir = tmp_path / "model"
    shutil.copytree(MODELS / model, model_dir)
    header, _ = safetensors_header_only({"model.norm.weight": ("BF16", [8])})
    (model_dir / "model.safetensors").write_bytes(header)
    limit = read_model_facts(model_dir).derived_max_model_len
    fits = load_profile(_profile(tmp_path, model_dir, limit))
    _precheck(fits, model_dir, None)  # no error at the limit
    with pytest.raises(ProfileError, match=f"maximum {limit}"):
        load_profile(_profile(tmp_path, model_dir, limit + 1))
    too_long = fits.profile.model_copy(
        update={"engine": fits.profile.engine.model_copy(update={"max_model_len": limit + 1})}
    )
    with pytest.raises(EngineError, match=f"maximum {limit}") as caught:
        _precheck(type(fits)(**{**vars(fits), "profile": too_long}), model_dir, None)
    assert caught.value.suggestion is not None and caught.value.suggestion.value == limit


def test_rope_factor_and_tokenizer_limit_are_applied_and_named(tmp_path: Path) -> None:
    config = {"max_position_embeddings": 4096, "rope_scaling": {"rope_type": "linear", "factor": 4}}
    scaled = derived_max_model_len(config)
    assert scaled.length == 16384 and "linear RoPE factor 4" in scaled.source
    prescaled = derived_max_model_len(
        {**config, "rope_scaling": {"rope_type": "llama3", "factor": 8}}
    )
    assert prescaled.length == 4096
    capped = derived_max_model_len({"max_position_embeddings": 4096}, tokenizer_max=2048)
    assert (capped.length, capped.source) == (2048, "tokenizer model_max_length = 2048")
    nested = derived_max_model_len(
        {"text_config": {"max_position_embeddings": 1000, "seq_length": 900}}
    )
    assert (nested.length, nested.source) == (900, "seq_length = 900")
    # the profile check follows the same rule: 8192 fits a 4096 × 4 linear-RoPE model
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    base = json.loads((MODELS / "Qwen__Qwen3-0.6B" / "config.json").read_text())
    base.update(max_position_embeddings=4096, rope_scaling={"rope_type": "linear", "factor": 4})
    (model_dir / "config.json").write_text(json.dumps(base))
    assert load_profile(_profile(tmp_path, model_dir, 8192)).profile.engine.max_model_len == 8192
    with pytest.raises(ProfileError, match="linear RoPE factor 4"):
        load_profile(_profile(tmp_path, model_dir, 16385))
