"""Seeded mutations of the shipped profiles: whatever the input, loading raises only a one-line
ProfileError, and whatever loads also saves and survives the `vllm serve` round trip."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from workbench.profiles import ProfileError, discover_profiles, load_profile, save_profile
from workbench.profiles.serve import from_serve, to_serve

REPO = Path(__file__).resolve().parent.parent.parent
SOURCES = [p.read_text() for p in sorted((REPO / "profiles").glob("*.toml"))]
VALUES = [
    "1",
    "-1",
    "0",
    "1.5",
    '"x"',
    "true",
    "[]",
    '[1, "a"]',
    "{}",
    "{a = 1}",
    "1979-05-27",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "inf",
    "nan",
    '"builtin:demo"',
    '"../x"',
    '""',
    "[[1]]",
    "{ engine = { n = 1 } }",
    '"qwen3"',
    "99999999999999999999",
    '"f1"',
    '"f2"',
    '"base"',
    '"f0.toml"',
    '"/"',
    '"~"',
    '"$HOME"',
    '{ "NVIDIA L4" = { engine = { max_model_len = 0 } } }',
    '"\\u0000"',
    "'''a\nb'''",
]
KEYS = [
    "extends",
    "n",
    "max_model_len",
    "model",
    "engine",
    "extra",
    "env",
    "gpu_overrides",
    "tested_on",
    "path",
    "id",
    "json_schema",
    "chat_template",
    '"a.b"',
    "meta",
]
GPUS = [None, "NVIDIA L4", "NVIDIA GeForce RTX 4090", "NVIDIA A100-SXM4-40GB"]


def _mutate(rng: random.Random) -> str:
    lines = rng.choice(SOURCES).splitlines()
    for _ in range(rng.randint(1, 3)):
        roll, index = rng.random(), rng.randrange(len(lines))
        if roll < 0.35 and "=" in lines[index]:
            lines[index] = lines[index].split("=")[0] + "= " + rng.choice(VALUES)
        elif roll < 0.5:
            del lines[index]
        elif roll < 0.65:
            lines.insert(index, f"{rng.choice(KEYS)} = {rng.choice(VALUES)}")
        elif roll < 0.75:
            lines.insert(index, f"[{rng.choice(KEYS)}]")
        elif roll < 0.85:
            lines.insert(index, f"[[{rng.choice(KEYS)}.{rng.choice(KEYS)}]]")
        else:
            lines[index] = lines[index][: rng.randrange(len(lines[index]) + 1)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(4))
def test_mutated_profiles_fail_cleanly_or_work_end_to_end(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    (tmp_path / "base.toml").write_text('[model]\nid = "a/b"\n')
    loaded_count = failed_count = 0
    for iteration in range(150):
        path = tmp_path / f"f{iteration % 4}.toml"
        raw = bytearray(_mutate(rng).encode())
        if rng.random() < 0.1:
            for _ in range(3):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        path.write_bytes(bytes(raw))
        try:
            loaded = load_profile(
                path, gpu_name=rng.choice(GPUS), project_dir=tmp_path, user_dir=tmp_path
            )
            command = to_serve(loaded.data, path.parent)
            from_serve([f"{k}={v}" for k, v in command.env.items()] + command.argv)
            save_profile(
                tmp_path / "saved.out", loaded.data, project_dir=tmp_path, user_dir=tmp_path
            )
            loaded_count += 1
        except ProfileError as error:
            assert "\n" not in str(error) and error.hint, str(error)
            failed_count += 1
    found = [p for p in discover_profiles(tmp_path, tmp_path) if p.origin != "builtin"]
    assert len(found) == 5
    assert loaded_count > 0 and failed_count > 0  # both paths were exercised
