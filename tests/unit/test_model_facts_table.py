"""[model.facts]: written from a model's files, read back identically, checked against the model,
and carried by every shipped profile so each fit badge is real on a fresh clone."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.estimate import estimate_profile, lookup_gpu, read_model_facts
from workbench.estimate.errors import EstimateError
from workbench.estimate.facts import ModelFacts
from workbench.estimate.facts_table import facts_from_table, facts_to_table
from workbench.profiles import BUILTIN_DEMO_MODEL_DIR, ProfileError, load_profile
from workbench.profiles.schema import ModelFactsSection

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "tests" / "data" / "models"
CONFIG_DIRS = sorted(p for p in MODELS.iterdir() if (p / "config.json").is_file())
SHIPPED_SOURCES = {
    # profile → the directory its [model.facts] were written from (see the profile's comment)
    "demo": BUILTIN_DEMO_MODEL_DIR,
    "qwen3-8b-24gb": MODELS / "Qwen__Qwen3-8B",
    "qwen3-8b-24gb-fast": MODELS / "Qwen__Qwen3-8B",
    "llama-3.1-8b-a100-80gb-128k": MODELS / "meta-llama__Llama-3.1-8B-Instruct",
    "deepseek-r1-distill-qwen-32b-awq-4xt4": MODELS / "derived__DeepSeek-R1-Distill-Qwen-32B-AWQ",
    "qwen3-32b-team": MODELS / "Qwen__Qwen3-32B",
}


@pytest.mark.parametrize("model_dir", CONFIG_DIRS, ids=[p.name for p in CONFIG_DIRS])
def test_facts_survive_a_trip_through_the_table(model_dir: Path) -> None:
    """Every architecture in the reference set (dense, MoE, MLA, sliding window, mxfp4, fp8):
    what is written is exactly what the estimator reads back."""
    facts = read_model_facts(model_dir)
    table = facts_to_table(facts, model=model_dir.name)
    back = facts_from_table(ModelFactsSection.model_validate(table), source=facts.source)
    assert back == replace(facts, weights_source=back.weights_source)
    assert back.extra == {k: v for k, v in facts.extra.items() if k in back.extra}


def test_every_shipped_profile_carries_facts_that_match_their_source() -> None:
    shipped = sorted((REPO / "profiles").glob("*.toml"))
    assert {p.stem for p in shipped} == set(SHIPPED_SOURCES)
    for path in shipped:
        loaded = load_profile(path)
        table = loaded.profile.model.facts
        assert table is not None, f"{path.name} has no [model.facts]"
        actual = read_model_facts(SHIPPED_SOURCES[path.stem])
        assert facts_from_table(table, source="") == replace(actual, source=""), path.name
    builtin = load_profile(REPO / "workbench" / "profiles" / "builtin" / "demo.toml")
    assert (
        builtin.profile.model.facts
        == load_profile(REPO / "profiles" / "demo.toml").profile.model.facts
    )


@pytest.mark.parametrize("gpu", [None, "RTX 4090", "A100 80GB", "T4"])
def test_no_shipped_profile_is_unknown_without_its_model(gpu: str | None) -> None:
    """On a fresh clone nothing but the demo model is here; every profile still gets a verdict
    (CPU engine, or a named GPU as the teammate would ask)."""
    spec = lookup_gpu(gpu) if gpu else None
    for path in sorted((REPO / "profiles").glob("*.toml")):
        loaded = load_profile(path, gpu_name=spec.name if spec else None)
        if path.stem != "demo":
            assert loaded.model_dir is None  # really estimating without the model
        if spec is not None:
            engine = loaded.profile.engine
            spec = replace(spec, count=engine.tensor_parallel_size * engine.pipeline_parallel_size)
        result = estimate_profile(loaded, spec, calibration=None)
        assert result.verdict in ("fits", "tight", "does_not_fit")
        assert result.facts_from == ("model" if path.stem == "demo" else "profile")


def test_the_cli_answers_the_teammates_question(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    code = main(["estimate", "qwen3-8b-24gb", "--gpu", "NVIDIA GeForce RTX 4090", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["facts_source"] == "the profile's [model.facts]"
    assert data["settings"]["kv_cache_dtype"] == "fp8"  # the 4090 override applied
    assert data["verdict"] == "fits"


def _profile_with_facts(tmp_path: Path, facts: dict[str, object], model: str) -> Path:
    import tomli_w

    path = tmp_path / "p.toml"
    path.write_text(tomli_w.dumps({"model": {**json.loads(model), "facts": facts}}), "utf-8")
    return path


def test_stale_facts_never_win_over_the_model(tmp_path: Path) -> None:
    actual = read_model_facts(BUILTIN_DEMO_MODEL_DIR)
    stale = facts_to_table(replace(actual, num_hidden_layers=40), model="builtin:demo")
    stale["layer_types"] = None
    stale = {k: v for k, v in stale.items() if v is not None}
    path = _profile_with_facts(tmp_path, stale, '{"path": "builtin:demo"}')
    loaded = load_profile(path)
    result = estimate_profile(loaded, None, calibration=None)
    fresh = estimate_profile(load_profile(REPO / "profiles" / "demo.toml"), None, calibration=None)
    assert result.facts_from == "model"
    assert result.kv_bytes_per_token == fresh.kv_bytes_per_token  # 4 layers, not 40
    (warning,) = [w for w in result.warnings if w.kind == "model_facts"]
    assert "num_hidden_layers 40 → 4" in warning.message
    assert "workbench profiles facts p --write" in warning.message


def test_facts_of_another_model_are_refused(tmp_path: Path) -> None:
    table = facts_to_table(read_model_facts(MODELS / "Qwen__Qwen3-8B"), model="Qwen/Qwen3-8B")
    path = _profile_with_facts(tmp_path, table, '{"id": "Qwen/Qwen3-32B"}')
    with pytest.raises(EstimateError, match="describe 'Qwen/Qwen3-8B', not 'Qwen/Qwen3-32B'"):
        estimate_profile(load_profile(path), None, calibration=None)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("num_hidden_layers", 0, "model.facts.num_hidden_layers: must be > 0"),
        ("head_dim", "128", "model.facts.head_dim: expected an integer"),
        ("attention", "sparse", 'model.facts.attention: must be one of "full", "mla"'),
        ("num_key_value_heads", 7, "not a multiple of num_key_value_heads (7)"),
        ("layer_types", ["full"], "layer_types has 1 entries for 36 layers"),
        ("flops", 1, "model.facts.flops: unknown key"),
    ],
)
def test_a_bad_facts_table_is_one_line_naming_the_key(
    tmp_path: Path, key: str, value: object, says: str
) -> None:
    table = facts_to_table(read_model_facts(MODELS / "Qwen__Qwen3-8B"), model="Qwen/Qwen3-8B")
    table[key] = value
    path = _profile_with_facts(tmp_path, table, '{"id": "Qwen/Qwen3-8B"}')
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert "\n" not in message and says in message, message
    assert "p.toml:" in message and caught.value.hint


def test_profiles_facts_reports_and_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '# mine\n[model]\npath = "builtin:demo"  # the packaged model\n'
    path = tmp_path / "mine.toml"
    path.write_text(text, "utf-8")
    assert main(["profiles", "facts", str(path)]) == 0
    out = capsys.readouterr()
    assert "no [model.facts] yet" in out.out and "not written" in out.err
    assert path.read_text("utf-8") == text  # nothing written without --write
    assert main(["profiles", "facts", str(path), "--write"]) == 0
    written = path.read_text("utf-8")
    assert written.startswith(text)
    assert tomllib.loads(written)["model"]["facts"]["num_hidden_layers"] == 4
    capsys.readouterr()
    assert main(["profiles", "facts", str(path)]) == 0
    assert "[model.facts] match" in capsys.readouterr().out


def test_facts_model_dataclass_round_trip_keeps_mla_ranks() -> None:
    facts = read_model_facts(MODELS / "deepseek-ai__DeepSeek-V2-Lite")
    assert facts.attention == "mla"
    table = facts_to_table(facts, model="deepseek-ai/DeepSeek-V2-Lite")
    assert table["kv_lora_rank"] + table["qk_rope_head_dim"] == table["head_dim"]
    back = facts_from_table(ModelFactsSection.model_validate(table), source="")
    assert isinstance(back, ModelFacts) and back.head_dim == facts.head_dim
