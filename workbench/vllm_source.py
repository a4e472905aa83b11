"""vLLM's vocabulary, read from the installed package's source with ``ast``, never imported.

Engine-argument names and types, reasoning parsers and quantization methods: what a profile may
name. Reading the source takes ~25 ms where ``import vllm`` takes seconds, so profiles validate
without the engine; a test checks each reader against vLLM's own objects. Everything here is
None when vLLM is absent or its layout changed (the check is then skipped and the engine's own
validation at load time, ``workbench.engine.args``, still applies).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path


@functools.cache
def vllm_boolean_engine_args() -> frozenset[str]:
    """EngineArgs fields annotated plain ``bool`` (bare ``--flag`` / ``--no-flag`` on the CLI)."""
    tree = _vllm_source("engine/arg_utils.py")
    names: set[str] = set()
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.ClassDef) and node.name in ("EngineArgs", "AsyncEngineArgs"):
            for statement in node.body:
                if (
                    isinstance(statement, ast.AnnAssign)
                    and isinstance(statement.target, ast.Name)
                    and isinstance(statement.annotation, ast.Name)
                    and statement.annotation.id == "bool"
                ):
                    names.add(statement.target.id)
    return frozenset(names)


_SIMPLE_TYPES = {"bool", "int", "float", "str"}


@functools.cache
def vllm_engine_arg_types() -> dict[str, frozenset[str]]:
    """EngineArgs fields whose annotation is plain scalars (``int``, ``float | None``, ...):
    name -> the allowed type names. Fields with richer types are not listed (not checked)."""
    tree = _vllm_source("engine/arg_utils.py")
    types: dict[str, frozenset[str]] = {}
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.ClassDef) and node.name in ("EngineArgs", "AsyncEngineArgs"):
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    names = _union_names(statement.annotation)
                    if names and names - {"None"} and names <= _SIMPLE_TYPES | {"None"}:
                        types[statement.target.id] = frozenset(names - {"None"})
    return types


@functools.cache
def vllm_sampling_param_types() -> dict[str, frozenset[str]] | None:
    """Public fields of vLLM's ``SamplingParams``: name -> allowed scalar type names (empty when
    the annotation is richer, e.g. ``dict[int, float]``: not checked here). None without vLLM."""
    tree = _vllm_source("sampling_params.py")
    fields: dict[str, frozenset[str]] = {}
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.ClassDef) and node.name == "SamplingParams":
            for statement in node.body:
                if (
                    isinstance(statement, ast.AnnAssign)
                    and isinstance(statement.target, ast.Name)
                    and not statement.target.id.startswith("_")
                ):
                    names = _union_names(statement.annotation) or set()
                    simple = names - {"None"} if names - {"None"} <= _SIMPLE_TYPES else set()
                    fields[statement.target.id] = frozenset(simple)
    return fields or None


def _union_names(annotation: ast.expr) -> set[str] | None:
    if isinstance(annotation, ast.Name):
        return {annotation.id}
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return {"None"}
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        left, right = _union_names(annotation.left), _union_names(annotation.right)
        return left | right if left is not None and right is not None else None
    return None


@functools.cache
def vllm_engine_arg_names() -> frozenset[str] | None:
    """Field names of vLLM's ``AsyncEngineArgs``, or None when vLLM is not installed."""
    spec = importlib.util.find_spec("vllm")
    if spec is None or spec.origin is None:
        return None
    source = Path(spec.origin).parent / "engine" / "arg_utils.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in ("EngineArgs", "AsyncEngineArgs"):
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    names.add(statement.target.id)
    return frozenset(names) or None


def _vllm_source(relative: str) -> ast.Module | None:
    spec = importlib.util.find_spec("vllm")
    if spec is None or spec.origin is None:
        return None
    try:
        return ast.parse((Path(spec.origin).parent / relative).read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None


@functools.cache
def vllm_reasoning_parser_names() -> frozenset[str] | None:
    """Reasoning parsers vLLM registers (``vllm/reasoning/__init__.py``); None if unknown."""
    tree = _vllm_source("reasoning/__init__.py")
    for node in tree.body if tree is not None else ():
        if (
            isinstance(node, ast.Assign)
            and any(
                isinstance(t, ast.Name) and t.id == "_REASONING_PARSERS_TO_REGISTER"
                for t in node.targets
            )
            and isinstance(node.value, ast.Dict)
        ):
            names = {
                k.value
                for k in node.value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
            return frozenset(names) or None
    return None


@functools.cache
def vllm_quantization_names() -> frozenset[str] | None:
    """vLLM's quantization methods (the ``QuantizationMethods`` Literal); None if unknown."""
    tree = _vllm_source("model_executor/layers/quantization/__init__.py")
    for node in tree.body if tree is not None else ():
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Subscript):
            continue
        if not any(isinstance(t, ast.Name) and t.id == "QuantizationMethods" for t in node.targets):
            continue
        elements = node.value.slice
        items = elements.elts if isinstance(elements, ast.Tuple) else [elements]
        names = {e.value for e in items if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        return frozenset(names) or None
    return None
