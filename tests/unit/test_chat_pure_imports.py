"""The chat logic and the fake engine import no textual, vllm or torch (fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("textual", "vllm", "torch", "transformers", "pynvml")


@pytest.mark.parametrize(
    "module",
    [
        "workbench.chat.model",
        "workbench.chat.summary",
        "workbench.chat.doctor",
        "workbench.chat.store",
        "workbench.chat.export",
        "workbench.engine.fake",
    ],
)
def test_chat_module_imports_nothing_heavy(module: str) -> None:
    code = (
        f"import importlib, json, sys; importlib.import_module({module!r}); "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [], f"{module} pulled in heavy modules"
