"""Every malformed profile in tests/data/bad_profiles gives exit 2, one stderr line naming the
file and a line or dotted key with a hint, and leaves the file byte-identical."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.profiles import ProfileError, load_profile

BAD_DIR = Path(__file__).resolve().parent.parent / "data" / "bad_profiles"
BAD_PROFILES = sorted(BAD_DIR.glob("*.toml"))
# file:LINE: or file: dotted.key: — the error must point somewhere a person can look.
LOCATED = re.compile(r"\.toml(:\d+)?: ")


def _snapshot(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {str(p): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    return {str(path): path.read_bytes()}


def test_corpus_is_big_enough() -> None:
    assert len(BAD_PROFILES) >= 30


@pytest.mark.parametrize("path", BAD_PROFILES, ids=[p.stem for p in BAD_PROFILES])
def test_bad_profile_exit_2_one_line_unchanged(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(path)
    code = main(["profiles", "validate", str(path)])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured
    assert len(lines) == 1, lines
    line = lines[0]
    assert path.name in line
    assert "Traceback" not in line
    assert "(hint: " in line and line.endswith(")"), line
    has_line_number = re.search(re.escape(path.name) + r":\d+: ", line) is not None
    has_key = re.search(re.escape(path.name) + r"(:\d+)?: [A-Za-z_\"][\w.\-\"\[\] ]*: ", line)
    # A directory has no lines and no keys: naming it is all there is.
    assert has_line_number or has_key or path.name == "directory.toml", line
    assert "Input should be" not in line and not re.search(r"\bdict\b", line)
    assert _snapshot(path) == before
    assert captured.out == ""


def test_first_line_of_each_commented_file_says_what_is_wrong() -> None:
    uncommentable = {"empty.toml", "directory.toml"}
    for path in BAD_PROFILES:
        if path.name in uncommentable:
            continue
        first = path.read_bytes().split(b"\n", 1)[0]
        assert first.startswith(b"# "), path.name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "typo_section",
            r"typo_section\.toml:4: engnie: unknown table \(hint: did you mean \[engine\]\?\)",
        ),
        (
            "util_above_one",
            r":5: engine\.gpu_memory_utilization: must be in \(0, 1\], got a float 1\.5",
        ),
        ("unknown_engine_key", r"did you mean `max_model_len`\?"),
        ("cycle_a", r"cycle_a\.toml:2: extends: extends cycle: cycle_a → cycle_b → cycle_a"),
        ("n_exceeds_max_num_seqs", r":8: sampling\.n: n = 8 is more than engine\.max_num_seqs = 4"),
        ("non_utf8", r"non_utf8\.toml:6: not UTF-8"),
        ("syntax_missing_equals", r":5: TOML syntax: Expected '=' after a key"),
        (
            "gpu_override_unknown_key",
            r':6: gpu_overrides\."NVIDIA GeForce RTX 4090"\.engine\.max_model_lenn',
        ),
        ("unknown_key_inline_table", r':18: gpu_overrides\."Tesla T4"\.engine\.utilization'),
        ("extra_unknown_engine_arg", r"did you mean `enable_prefix_caching`\?"),
        ("tp_not_dividing_heads", r"3 does not divide the model's 16 attention heads"),
        ("bad_dtype", r'did you mean "float16"\?'),
    ],
)
def test_specific_messages(name: str, expected: str) -> None:
    with pytest.raises(ProfileError) as info:
        load_profile(BAD_DIR / f"{name}.toml")
    assert re.search(expected, str(info.value)), str(info.value)


def test_huge_file_is_refused_before_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = tmp_path / "huge.toml"
    padding = "# padding\n" * 110_000  # 1.1 MB of comments: valid TOML, just too big
    huge.write_text('[model]\nid = "Qwen/Qwen3-8B"\n' + padding)
    before = huge.read_bytes()
    assert main(["profiles", "validate", str(huge)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "huge.toml: file is 1,1" in err[0] and "(hint: " in err[0]
    assert huge.read_bytes() == before


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "validate", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "nope.toml: no such file (hint: " in err[0]


def test_unreadable_file_real_permissions(tmp_path: Path) -> None:
    """A file without read permission: one line, exit 2. Root reads any file (CAP_DAC_OVERRIDE)
    and CI runs as root, so there the check runs in a child whose capability bounding set lacks
    the DAC overrides (util-linux ``setpriv``): a real denial on every machine."""
    import shutil
    import subprocess
    import sys

    locked = tmp_path / "locked.toml"
    locked.write_text('[model]\nid = "a/b"\n')
    locked.chmod(0)
    code = (
        "import sys; from workbench.cli import main; "
        f"sys.exit(main(['profiles', 'validate', {str(locked)!r}]))"
    )
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root needs util-linux's setpriv to drop CAP_DAC_OVERRIDE"
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--", *command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        locked.chmod(0o600)
    assert done.returncode == 2, done.stderr
    assert "permission denied" in done.stderr and done.stderr.count("\n") == 1


def test_unreadable_file_reported_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked.toml"
    locked.write_text('[model]\nid = "a/b"\n')

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert main(["profiles", "validate", str(locked)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"workbench: {locked}: cannot read the file (permission denied) "
        "(hint: check its permissions)"
    ]


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The installed `workbench` entry point, in a real process, on a few bad files at once."""
    script = Path(sys.executable).parent / "workbench"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "workbench.cli"]
    chosen = [BAD_DIR / n for n in ("typo_section.toml", "non_utf8.toml", "cycle_a.toml")]
    copies = []
    for source in chosen:
        copy = tmp_path / source.name
        shutil.copy(source, copy)
        copies.append(copy)
    shutil.copy(BAD_DIR / "cycle_b.toml", tmp_path / "cycle_b.toml")
    result = subprocess.run(
        [*command, "profiles", "validate", *map(str, copies)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 3, lines
    for copy, line in zip(copies, lines, strict=True):
        assert LOCATED.search(line) and copy.name in line and "(hint: " in line
