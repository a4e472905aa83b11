"""The pure layers never import textual, vllm or torch (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("textual", "vllm", "torch", "transformers", "pynvml")
PURE_MODULES = (
    "workbench.cli",
    "workbench.paths",
    "workbench.files",
    "workbench.model_config",
    "workbench.vllm_source",
    "workbench.profiles",
    "workbench.estimate",
    "workbench.engine.api",
    "workbench.engine.fake",
    "workbench.chat",
    "workbench.gpu",
)


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_nothing_heavy(module: str) -> None:
    code = (
        f"import importlib, json, sys; importlib.import_module({module!r}); "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [], f"{module} pulled in heavy modules"


def test_help_is_fast_and_light() -> None:
    """`workbench --help` must not import the engine or the UI toolkit."""
    code = (
        "import sys, json, contextlib, io\n"
        "from workbench.cli import build_parser\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    build_parser().format_help()\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
