"""The layering rules of pyproject.toml's [tool.importlinter] hold (static: imports inside
functions count, which the runtime test in test_pure_imports.py cannot see)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def _lint_imports() -> str:
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert found, "lint-imports is missing: it comes with the dev extra (make setup)"
    return found


def test_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_lazy_vllm_import_in_a_pure_layer_breaks_a_contract(tmp_path: Path) -> None:
    """The contract can fail: a copy of the package with ``import vllm`` inside a profiles
    function is refused."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "workbench", copy / "workbench", ignore=shutil.ignore_patterns("model"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    with (copy / "workbench" / "profiles" / "errors.py").open("a") as handle:
        handle.write("\n\ndef _sneaky() -> None:\n    import vllm  # noqa: F401\n")
    result = subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "workbench.profiles is not allowed to import vllm" in result.stdout
