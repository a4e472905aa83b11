"""Profiles: loading, extends, GPU overrides, model resolution, discovery, saving, line finding."""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest

from tests.hub_server import safetensors_header_only
from tests.unit.conftest import write
from workbench.cli import main
from workbench.profiles import (
    BUILTIN_DEMO_MODEL_DIR,
    LoadedProfile,
    ModelSection,
    Profile,
    ProfileError,
    discover_profiles,
    load_profile,
    record_tested_on,
    resolve_model_dir,
    save_profile,
)
from workbench.profiles import models as model_lookup
from workbench.profiles.store import backup_path
from workbench.profiles.toml_edit import patch_toml
from workbench.profiles.toml_lines import key_lines, line_of
from workbench.vllm_source import (
    vllm_engine_arg_names,
    vllm_engine_arg_types,
    vllm_quantization_names,
    vllm_reasoning_parser_names,
    vllm_sampling_param_types,
)

REPO = Path(__file__).resolve().parent.parent.parent
SHIPPED = sorted((REPO / "profiles").glob("*.toml"))
MODELS = REPO / "tests" / "data" / "profiles" / "models"
QWEN_06B = MODELS / "qwen3-0.6b"


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    project, user = tmp_path / "project" / "profiles", tmp_path / "user" / "profiles"
    project.mkdir(parents=True)
    user.mkdir(parents=True)
    return project, user


# --- shipped profiles ------------------------------------------------------------------------


def test_shipped_profiles_exist() -> None:
    names = {p.stem for p in SHIPPED}
    assert {
        "demo",
        "qwen3-8b-24gb",
        "qwen3-8b-24gb-fast",
        "llama-3.1-8b-a100-80gb-128k",
        "deepseek-r1-distill-qwen-32b-awq-4xt4",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_profile_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok  ") and path.name in out


def test_shipped_examples_use_extends_and_gpu_overrides() -> None:
    datas = [tomllib.loads(p.read_text()) for p in SHIPPED]
    assert any("extends" in d for d in datas)
    assert any(d.get("gpu_overrides") for d in datas)


def test_demo_profile_loads_without_the_demo_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(model_lookup, "BUILTIN_DEMO_MODEL_DIR", tmp_path / "not-built")
    loaded = load_profile(REPO / "profiles" / "demo.toml")
    assert loaded.model_dir is None
    assert loaded.model_error is not None and "demo model is not built" in loaded.model_error
    engine = loaded.profile.engine
    assert engine.reasoning_parser == "deepseek_r1" and engine.enforce_eager
    assert engine.kv_cache_memory_bytes == 64 * 2**20 and engine.max_model_len == 512
    assert loaded.profile.sampling.n == 4 and loaded.profile.chat.enable_thinking
    with pytest.raises(ProfileError, match="demo model is not built"):
        loaded.require_model_dir()


def test_demo_profile_resolves_builtin_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_demo = tmp_path / "demo-model"
    shutil.copytree(QWEN_06B, fake_demo)
    monkeypatch.setattr(model_lookup, "BUILTIN_DEMO_MODEL_DIR", fake_demo)
    loaded = load_profile(REPO / "profiles" / "demo.toml")
    assert loaded.model_dir == fake_demo and loaded.model_error is None


def test_builtin_demo_constant_points_into_the_package() -> None:
    import workbench

    assert BUILTIN_DEMO_MODEL_DIR == Path(workbench.__file__).parent / "demo" / "model"


# --- loading by name, discovery ----------------------------------------------------------------


def test_project_wins_over_user_and_shadowing_is_reported(dirs: tuple[Path, Path]) -> None:
    project, user = dirs
    write(project / "shared.toml", '[model]\nid = "team/model"\n')
    write(user / "shared.toml", '[model]\nid = "mine/model"\n')
    write(user / "personal.toml", '[model]\nid = "mine/other"\n[engine]\nmax_model_len = 0\n')
    loaded = load_profile("shared", project_dir=project, user_dir=user)
    assert loaded.origin == "project" and loaded.profile.model.id == "team/model"
    found = {d.name: d for d in discover_profiles(project, user)}
    assert set(found) == {"shared", "personal", "demo"}  # demo: the packaged built-in
    assert found["shared"].shadowed == (user / "shared.toml",)
    assert found["shared"].loaded is not None and found["shared"].error is None
    assert found["personal"].origin == "user" and found["personal"].loaded is None
    assert found["personal"].error is not None
    assert found["personal"].error.key == "engine.max_model_len"


def test_unknown_name_suggests(dirs: tuple[Path, Path]) -> None:
    project, user = dirs
    write(project / "qwen3-8b.toml", '[model]\nid = "Qwen/Qwen3-8B"\n')
    with pytest.raises(ProfileError, match=r"no profile named 'qwen3-8c'.*did you mean 'qwen3-8b'"):
        load_profile("qwen3-8c", project_dir=project, user_dir=user)


def test_discovery_defaults_to_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "profiles" / "a.toml", '[model]\nid = "x/a"\n')
    write(tmp_path / "config" / "profiles" / "b.toml", '[model]\nid = "x/b"\n')
    assert [(d.name, d.origin) for d in discover_profiles()] == [
        ("a", "project"),
        ("b", "user"),
        ("demo", "builtin"),
    ]


# --- extends and GPU overrides -------------------------------------------------------------


def test_extends_merges_tables_and_child_wins(dirs: tuple[Path, Path]) -> None:
    project, user = dirs
    write(
        project / "base.toml",
        (
            '[meta]\nname = "base"\ndescription = "base only"\n[model]\nid = "Qwen/Qwen3-8B"\n'
            "[engine]\nmax_model_len = 8192\nmax_num_seqs = 8\n"
            "[engine.extra]\nenable_prefix_caching = true\n"
            '[sampling]\ntemperature = 0.6\nstop = ["a"]\n'
        ),
    )
    write(
        user / "child.toml",
        ('extends = "base"\n[engine]\nmax_model_len = 4096\n[sampling]\nstop = ["b", "c"]\n'),
    )
    loaded = load_profile("child", project_dir=project, user_dir=user)
    profile = loaded.profile
    assert profile.engine.max_model_len == 4096 and profile.engine.max_num_seqs == 8
    assert profile.engine.extra == {"enable_prefix_caching": True}
    assert profile.sampling.temperature == 0.6 and profile.sampling.stop == ["b", "c"]
    assert profile.meta.description == ""  # [meta] describes one file; not inherited
    assert loaded.sources == (user / "child.toml", project / "base.toml")
    assert loaded.data["extends"] == "base"


def test_error_in_base_points_at_base_file(dirs: tuple[Path, Path]) -> None:
    project, user = dirs
    write(project / "base.toml", '[model]\nid = "a/b"\n\n[engine]\nmax_num_seqs = 2\n')
    write(project / "child.toml", 'extends = "base"\n\n[sampling]\nn = 4\n')
    with pytest.raises(ProfileError) as info:
        load_profile("child", project_dir=project, user_dir=user)
    assert info.value.path == project / "child.toml" and info.value.line == 4
    write(project / "child2.toml", 'extends = "base"\n[engine]\nmax_num_seq = 4\n')
    with pytest.raises(ProfileError) as info2:
        load_profile("child2", project_dir=project, user_dir=user)
    assert info2.value.path == project / "child2.toml" and info2.value.line == 3


def test_gpu_override_applies_only_on_that_gpu(dirs: tuple[Path, Path]) -> None:
    project, user = dirs
    write(
        project / "p.toml",
        (
            '[model]\nid = "a/b"\n[engine]\nmax_model_len = 16384\n'
            '[gpu_overrides."NVIDIA GeForce RTX 4090".engine]\nmax_model_len = 32768\n'
            'kv_cache_dtype = "fp8"\n'
        ),
    )
    plain = load_profile("p", project_dir=project, user_dir=user)
    assert plain.profile.engine.max_model_len == 16384 and plain.applied_gpu_override is None
    other = load_profile("p", gpu_name="Tesla T4", project_dir=project, user_dir=user)
    assert other.profile.engine.max_model_len == 16384 and other.applied_gpu_override is None
    on_4090 = load_profile(
        "p", gpu_name="NVIDIA GeForce RTX 4090", project_dir=project, user_dir=user
    )
    assert on_4090.applied_gpu_override == "NVIDIA GeForce RTX 4090"
    assert on_4090.profile.engine.max_model_len == 32768
    assert on_4090.profile.engine.kv_cache_dtype == "fp8"
    assert on_4090.data["engine"]["max_model_len"] == 32768


def test_shipped_qwen_override_preview() -> None:
    loaded = load_profile(REPO / "profiles" / "qwen3-8b-24gb.toml", gpu_name="NVIDIA L4")
    assert loaded.profile.engine.max_model_len == 12288
    fast = load_profile(REPO / "profiles" / "qwen3-8b-24gb-fast.toml")
    assert fast.profile.chat.enable_thinking is False
    assert fast.profile.engine.reasoning_parser == "qwen3"  # inherited


# --- model resolution ----------------------------------------------------------------------


def test_relative_path_resolves_against_profile_dir(tmp_path: Path) -> None:
    shutil.copytree(QWEN_06B, tmp_path / "models" / "q")
    profile = write(tmp_path / "p" / "x.toml", '[model]\npath = "../models/q"\n')
    assert load_profile(profile).model_dir == tmp_path / "p" / ".." / "models" / "q"


def test_model_dir_env_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "models"
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(root))
    shutil.copytree(QWEN_06B, root / "Qwen" / "Qwen3-0.6B")
    shutil.copytree(QWEN_06B, root / "Qwen__Qwen3-8B")
    assert resolve_model_dir(ModelSection(id="Qwen/Qwen3-0.6B"), tmp_path) == (
        root / "Qwen" / "Qwen3-0.6B"
    )
    assert resolve_model_dir(ModelSection(id="Qwen/Qwen3-8B"), tmp_path) == root / "Qwen__Qwen3-8B"


def _fake_hf_cache(cache: Path, repo: str, commit: str, branch: str = "main") -> Path:
    """The on-disk layout huggingface_hub writes (refs/<branch> holds the commit)."""
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True)
    shutil.copy(QWEN_06B / "config.json", snapshot / "config.json")
    header, _ = safetensors_header_only({"model.norm.weight": ("BF16", [1024])})
    (snapshot / "model.safetensors").write_bytes(header)
    write(repo_dir / "refs" / branch, commit)
    return snapshot


def test_hf_cache_snapshot_with_only_metadata_is_not_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An estimate that read config.json and the shard index from the Hub leaves them in the HF
    cache; that must not make the model look downloaded (loading it would fail)."""
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    snapshot = _fake_hf_cache(cache, "Qwen/Qwen3-0.6B", "a" * 40)
    (snapshot / "model.safetensors").unlink()
    write(snapshot / "model.safetensors.index.json", '{"metadata": {"total_size": 1}}')
    with pytest.raises(ProfileError, match="Qwen/Qwen3-0.6B is not on this machine"):
        resolve_model_dir(ModelSection(id="Qwen/Qwen3-0.6B"), tmp_path)


def test_hf_cache_lookup_honours_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    main_commit, old_commit = "a" * 40, "b" * 40
    main_snapshot = _fake_hf_cache(cache, "Qwen/Qwen3-0.6B", main_commit)
    old_snapshot = cache / "models--Qwen--Qwen3-0.6B" / "snapshots" / old_commit
    shutil.copytree(main_snapshot, old_snapshot)
    assert resolve_model_dir(ModelSection(id="Qwen/Qwen3-0.6B"), tmp_path) == main_snapshot
    assert (
        resolve_model_dir(ModelSection(id="Qwen/Qwen3-0.6B", revision=old_commit), tmp_path)
        == old_snapshot
    )
    with pytest.raises(ProfileError, match="Qwen/Qwen3-0.6B@v9 is not on this machine"):
        resolve_model_dir(ModelSection(id="Qwen/Qwen3-0.6B", revision="v9"), tmp_path)


def test_missing_id_is_a_warning_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = write(tmp_path / "x.toml", '[model]\nid = "nobody/nothing"\n')
    loaded = load_profile(profile)
    assert loaded.model_dir is None
    assert loaded.model_error is not None
    assert "nobody/nothing is not on this machine" in loaded.model_error
    assert "WORKBENCH_MODEL_DIR" in loaded.model_error
    assert main(["profiles", "validate", str(profile)]) == 0
    assert "warning" in capsys.readouterr().err
    assert main(["profiles", "validate", "--require-model", str(profile)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "x.toml: model: nobody/nothing" in err[0]


def test_tp_checked_against_model_heads(tmp_path: Path) -> None:
    shutil.copytree(QWEN_06B, tmp_path / "q")
    ok = write(tmp_path / "ok.toml", '[model]\npath = "q"\n[engine]\ntensor_parallel_size = 4\n')
    assert load_profile(ok).model_dir == tmp_path / "q"


# --- saving --------------------------------------------------------------------------------


def test_save_is_atomic_with_backup(tmp_path: Path) -> None:
    target = tmp_path / "profiles" / "p.toml"
    data: dict[str, dict[str, Any]] = {
        "model": {"id": "Qwen/Qwen3-8B"},
        "engine": {"max_model_len": 8192},
    }
    assert save_profile(target, data) is None
    first = target.read_bytes()
    assert tomllib.loads(first.decode())["engine"]["max_model_len"] == 8192
    data["engine"]["max_model_len"] = 4096
    backup = save_profile(target, data)
    assert backup == backup_path(target)
    assert backup.read_bytes() == first
    assert load_profile(target).profile.engine.max_model_len == 4096
    assert sorted(p.name for p in target.parent.iterdir()) == ["p.toml", "p.toml.bak"]


def test_save_refuses_invalid_and_leaves_old_file(tmp_path: Path) -> None:
    target = write(tmp_path / "p.toml", '[model]\nid = "a/b"\n')
    before = target.read_bytes()
    with pytest.raises(ProfileError, match=r"engine\.gpu_memory_utilization: must be in \(0, 1\]"):
        save_profile(target, {"model": {"id": "a/b"}, "engine": {"gpu_memory_utilization": 1.5}})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.toml"]


def test_saved_data_round_trips(tmp_path: Path) -> None:
    loaded = load_profile(REPO / "profiles" / "llama-3.1-8b-a100-80gb-128k.toml")
    copy = tmp_path / "copy.toml"
    save_profile(copy, loaded.data)
    assert load_profile(copy).profile == loaded.profile


def test_save_drops_none_values(tmp_path: Path) -> None:
    target = tmp_path / "p.toml"
    save_profile(target, {"model": {"id": "a/b", "revision": None}})
    assert "revision" not in target.read_text()


# --- errors and line finding -----------------------------------------------------------------


def test_profile_error_is_one_line() -> None:
    error = ProfileError(
        "must be in (0, 1],\n got 1.5",
        path=Path("/x/p.toml"),
        line=12,
        key="engine.gpu_memory_utilization",
        hint="0.92 is vLLM's default",
    )
    assert str(error) == (
        "/x/p.toml:12: engine.gpu_memory_utilization: must be in (0, 1], got 1.5 "
        "(hint: 0.92 is vLLM's default)"
    )
    assert error.message == "must be in (0, 1], got 1.5"


def test_key_lines_headers_dotted_quoted_inline_and_arrays() -> None:
    text = (
        'extends = "b"\n'  # 1
        "[engine]\n"  # 2
        "max_model_len = 1  # c\n"  # 3
        'extra = { a = 1, b = { c = "}" } }\n'  # 4
        '[gpu_overrides."NVIDIA L4".engine]\n'  # 5
        "n.x = 3\n"  # 6
        'desc = """\n'  # 7
        "fake = 1\n"  # 8
        '"""\n'  # 9
        "[[meta.tested_on]]\n"  # 10
        'gpu = "a"\n'  # 11
        "[[meta.tested_on]]\n"  # 12
        'gpu = "b"\n'  # 13
    )
    lines = key_lines(text)
    assert lines[("extends",)] == 1
    assert lines[("engine", "max_model_len")] == 3
    assert lines[("engine", "extra", "b", "c")] == 4
    assert lines[("gpu_overrides", "NVIDIA L4", "engine")] == 5
    assert lines[("gpu_overrides", "NVIDIA L4", "engine", "n", "x")] == 6
    assert ("gpu_overrides", "NVIDIA L4", "engine", "fake") not in lines
    assert lines[("meta", "tested_on", 1, "gpu")] == 13
    assert line_of(text, ("engine", "extra", "zzz")) == 4


# --- vLLM's own names --------------------------------------------------------------------------


def test_engine_arg_names_match_vllm_dataclass() -> None:
    pytest.importorskip("vllm")
    from vllm.engine.arg_utils import AsyncEngineArgs

    assert vllm_engine_arg_names() == frozenset(f.name for f in dataclasses.fields(AsyncEngineArgs))


def test_engine_arg_scalar_types_match_vllm_dataclass() -> None:
    pytest.importorskip("vllm")
    import types

    from vllm.engine.arg_utils import AsyncEngineArgs

    def simple(annotation: object) -> frozenset[str] | None:
        parts = (
            typing.get_args(annotation)
            if isinstance(annotation, types.UnionType)
            else (annotation,)
        )
        names = {p.__name__ for p in parts if isinstance(p, type)} - {"NoneType"}
        if len(names) + (type(None) in parts) != len(parts):
            return None
        return frozenset(names) if names <= {"bool", "int", "float", "str"} and names else None

    runtime = {
        f.name: found
        for f in dataclasses.fields(AsyncEngineArgs)
        if (found := simple(f.type)) is not None
    }
    from_source = vllm_engine_arg_types()
    # The source reading is conservative: fields typed through aliases are left unchecked.
    assert from_source == {name: runtime[name] for name in from_source}
    assert len(from_source) >= 0.9 * len(runtime)


def test_reasoning_parser_and_quantization_names_match_vllm() -> None:
    pytest.importorskip("vllm")
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS
    from vllm.reasoning import ReasoningParserManager

    assert vllm_quantization_names() == frozenset(QUANTIZATION_METHODS)
    assert vllm_reasoning_parser_names() == frozenset(ReasoningParserManager.list_registered())


def test_sampling_param_fields_match_vllm() -> None:
    """[sampling.extra] is checked against the fields read from vLLM's source: the same public
    fields msgspec sees on the real SamplingParams, and a value of the listed type is accepted
    by it."""
    pytest.importorskip("vllm")
    from vllm.sampling_params import SamplingParams

    from_source = vllm_sampling_param_types()
    assert from_source is not None
    runtime = {name for name in SamplingParams.__struct_fields__ if not name.startswith("_")}
    assert set(from_source) == runtime
    assert from_source["min_tokens"] == {"int"} and from_source["ignore_eos"] == {"bool"}
    params = SamplingParams(max_tokens=40, min_tokens=30, ignore_eos=True)
    assert params.min_tokens == 30 and params.ignore_eos


def test_sampling_extra_loads_and_passes_through(tmp_path: Path) -> None:
    path = write(
        tmp_path / "long.toml",
        '[model]\nid = "Qwen/Qwen3-8B"\n\n[sampling.extra]\nmin_tokens = 100\n'
        'ignore_eos = true\nlogit_bias = { "7" = -100.0 }\n',
    )
    loaded = load_profile(path)
    assert loaded.profile.sampling.extra == {
        "min_tokens": 100,
        "ignore_eos": True,
        "logit_bias": {"7": -100.0},
    }


def test_loaded_profile_is_frozen() -> None:
    loaded = load_profile(REPO / "profiles" / "qwen3-8b-24gb.toml")
    assert isinstance(loaded, LoadedProfile)
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.name = "x"  # type: ignore[misc]
    assert os.fspath(loaded.path).endswith("qwen3-8b-24gb.toml")


# --- saving keeps comments, extends stays minimal, GPU overrides are written back -------------


def _copy_shipped(tmp_path: Path, *names: str) -> Path:
    directory = tmp_path / "shipped"
    directory.mkdir()
    for name in names:
        shutil.copy(REPO / "profiles" / f"{name}.toml", directory / f"{name}.toml")
    return directory


def test_save_keeps_comments_and_edits_in_place(tmp_path: Path) -> None:
    directory = _copy_shipped(tmp_path, "llama-3.1-8b-a100-80gb-128k")
    path = directory / "llama-3.1-8b-a100-80gb-128k.toml"
    before = path.read_text()
    loaded = load_profile(path, project_dir=directory, user_dir=directory)
    data = copy.deepcopy(loaded.data)
    data["engine"]["max_num_batched_tokens"] = 4096
    data["engine"]["kv_cache_dtype"] = "fp8"
    data["sampling"]["n"] = 2
    data["chat"].pop("system_prompt")
    save_profile(path, data)
    after = path.read_text()
    assert [line for line in before.splitlines() if line.startswith("#")] == [
        line for line in after.splitlines() if line.startswith("#")
    ]
    assert "max_num_batched_tokens = 4096\n" in after
    assert 'kv_cache_dtype = "fp8"' in after and "system_prompt" not in after
    assert load_profile(path).profile == Profile.model_validate(data)
    pairs = zip(before.splitlines(), after.splitlines(), strict=False)
    changed = [pair for pair in pairs if pair[0] != pair[1]]
    assert changed[0] == ("max_num_batched_tokens = 8192", "max_num_batched_tokens = 4096")


def test_patch_keeps_trailing_comment() -> None:
    text = '[model]\nid = "a/b"\n[engine]\nmax_model_len = 4096  # why: 4k prompts\n'
    patched = patch_toml(text, {"model": {"id": "a/b"}, "engine": {"max_model_len": 8192}})
    assert patched == '[model]\nid = "a/b"\n[engine]\nmax_model_len = 8192  # why: 4k prompts\n'


def test_patch_adds_new_table_and_top_level_key() -> None:
    text = '# header\n[model]\nid = "a/b"\n'
    data = {"extends": "base", "model": {"id": "a/b"}, "sampling": {"stop": ["</s>"]}}
    patched = patch_toml(text, data)
    assert patched is not None and tomllib.loads(patched) == data
    assert patched.startswith('# header\nextends = "base"\n[model]')


def test_patch_gives_up_on_inline_tables_and_save_still_writes(tmp_path: Path) -> None:
    text = '[model]\nid = "a/b"\n[engine]\nextra = { enable_prefix_caching = true }\n'
    data = {"model": {"id": "a/b"}, "engine": {"extra": {"enable_prefix_caching": False}}}
    assert patch_toml(text, data) is None
    path = write(tmp_path / "p.toml", text)
    save_profile(path, data)
    assert tomllib.loads(path.read_text()) == data


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_patch_without_changes_is_identity(path: Path) -> None:
    text = path.read_text()
    assert patch_toml(text, tomllib.loads(text)) == text


def test_save_of_extends_child_writes_only_differences(tmp_path: Path) -> None:
    directory = _copy_shipped(tmp_path, "qwen3-8b-24gb", "qwen3-8b-24gb-fast")
    path = directory / "qwen3-8b-24gb-fast.toml"
    loaded = load_profile(path, project_dir=directory, user_dir=directory)
    data = copy.deepcopy(loaded.data)
    data["engine"]["max_num_seqs"] = 16
    save_profile(path, data, project_dir=directory, user_dir=directory)
    own = tomllib.loads(path.read_text())
    assert "model" not in own and own["engine"] == {"max_num_seqs": 16}
    reloaded = load_profile(path, project_dir=directory, user_dir=directory)
    assert reloaded.profile == Profile.model_validate(data)


def test_save_with_gpu_override_writes_into_the_override(tmp_path: Path) -> None:
    directory = _copy_shipped(tmp_path, "qwen3-8b-24gb")
    path = directory / "qwen3-8b-24gb.toml"
    on_l4 = load_profile(path, gpu_name="NVIDIA L4", project_dir=directory, user_dir=directory)
    data = copy.deepcopy(on_l4.data)
    data["engine"]["max_model_len"] = 11264  # the tuner's fix, made on an L4
    data["engine"]["max_num_seqs"] = 4  # not overridden: goes to the base
    save_profile(path, data, gpu_override=on_l4.applied_gpu_override)
    saved = tomllib.loads(path.read_text())
    assert saved["gpu_overrides"]["NVIDIA L4"]["engine"]["max_model_len"] == 11264
    assert saved["engine"]["max_model_len"] == 16384 and saved["engine"]["max_num_seqs"] == 4
    assert saved["sampling"]["max_tokens"] == 12288
    assert load_profile(path, gpu_name="NVIDIA L4").profile.engine.max_model_len == 11264


def test_record_tested_on_appends_and_keeps_comments(tmp_path: Path) -> None:
    directory = _copy_shipped(tmp_path, "qwen3-8b-24gb")
    path = directory / "qwen3-8b-24gb.toml"
    before = path.read_text()
    record = {
        "gpu": "NVIDIA GeForce RTX 4090",
        "vllm_version": "0.32.0",
        "kv_cache_tokens": 71_424,
        "max_model_len": 32768,
        "date": "2026-11-21",
    }
    assert record_tested_on(path, record) == backup_path(path)
    after = path.read_text()
    assert after.startswith(before)  # the old text, comments and all, is untouched
    assert after[len(before) :] == (
        '\n[[meta.tested_on]]\ngpu = "NVIDIA GeForce RTX 4090"\nvllm_version = "0.32.0"\n'
        'kv_cache_tokens = 71424\nmax_model_len = 32768\ndate = "2026-11-21"\n'
    )
    assert record_tested_on(path, record) is None  # the same record is not added twice
    second = {**record, "gpu": "NVIDIA L4", "kv_cache_tokens": 30_000}
    record_tested_on(path, second)
    tested = load_profile(path).profile.meta.tested_on
    assert [(t.gpu, t.kv_cache_tokens) for t in tested] == [
        ("NVIDIA GeForce RTX 4090", 71424),
        ("NVIDIA L4", 30000),
    ]
    with pytest.raises(ProfileError, match="bad tested_on record: kv_cache_tokens"):
        record_tested_on(path, {"gpu": "x", "vllm_version": "1", "kv_cache_tokens": -1})


def test_demo_is_found_outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./profiles here
    loaded = load_profile("demo")
    assert loaded.origin == "builtin" and loaded.profile.model.path == "builtin:demo"
    # the packaged copy is the project's demo profile, byte for byte
    packaged = REPO / "workbench" / "profiles" / "builtin" / "demo.toml"
    assert packaged.read_bytes() == (REPO / "profiles" / "demo.toml").read_bytes()
