"""Turn pydantic's validation errors into TOML-speaking messages with hints."""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from workbench.profiles.errors import did_you_mean
from workbench.profiles.schema import Profile
from workbench.profiles.toml_lines import KeyPath

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a float",
    "float_parsing": "a float",
    "string_type": "a string",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "list_type": "an array",
}

_TYPE_HINTS = {
    "an integer": "write a whole number without quotes, e.g. 4096",
    "a float": "write a number without quotes, e.g. 0.9",
    "a string": 'write it in quotes, e.g. "value"',
    "a boolean (true or false)": "write true or false, without quotes",
    "a table": "write a [table] header followed by key = value lines",
    "an array": 'write an array, e.g. ["a", "b"]',
}
# Common spellings of allowed values, from other tools' conventions.
_ALIASES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32", "f16": "float16"}

FACTS_HINT = "[model.facts] is written by `workbench profiles facts NAME --write`; rerun it"
FIELD_HINTS: dict[KeyPath, str] = {
    ("engine", "gpu_memory_utilization"): "vLLM's own default is 0.92; 0.85-0.95 is usual",
    ("engine", "max_model_len"): "a token count such as 8192; remove it to use the model's maximum",
    ("engine", "tensor_parallel_size"): "the number of GPUs to split each layer over, e.g. 1, 2, 4",
    ("engine", "pipeline_parallel_size"): "1 unless you split layers across GPUs or nodes",
    ("engine", "max_num_seqs"): "each of n samples is one sequence; 8 or more for n = 8",
    ("engine", "kv_cache_memory_bytes"): "bytes, e.g. 67108864 for 64 MiB",
    ("sampling", "n"): "n = 1 gives one answer; n = 4 shows four side by side",
    ("sampling", "temperature"): "0 is greedy; 0.6-1.0 is usual for reasoning models",
    ("sampling", "top_p"): "1.0 turns nucleus sampling off",
    ("sampling", "top_k"): "-1 (or 0) turns top-k off",
    ("sampling", "max_tokens"): "reasoning models need room: 2048 or more",
    ("model",): 'add [model] with id = "org/name" or path = "/models/name"',
}


def translate_validation_error(
    exc: ValidationError, data: Mapping[str, Any]
) -> tuple[KeyPath, str, str | None, int]:
    """(dotted key, message, hint, number of further errors) for the first error."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    key: KeyPath = tuple(first["loc"])
    message, hint = _describe(first, key, data)
    return key, message, hint, len(errors) - 1


def _describe(error: Any, key: KeyPath, data: Mapping[str, Any]) -> tuple[str, str | None]:
    kind: str = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    field = _field_at(key)
    hint = FIELD_HINTS.get(_strip_indices(key)) or _field_hint(field)
    if key[:2] == ("model", "facts"):
        hint = (hint + "; " if hint else "") + FACTS_HINT
    if kind == "extra_forbidden":
        return _unknown_key(key, value)
    if kind == "missing":
        if len(key) == 1:
            return f"missing required table [{key[0]}]", FIELD_HINTS.get(key, hint)
        added = f"add {key[-1]} = ..." + (f" ({hint})" if hint else "")
        return f"missing required key `{key[-1]}`", added
    if kind in _EXPECTED:
        expected = _EXPECTED[kind]
        message = f"expected {expected}, got {_toml_value(value)}"
        if isinstance(value, str) and _parses_as(value, kind):
            return message, f"write {value.lower()} without quotes"
        if (
            kind in ("int_type", "int_from_float")
            and isinstance(value, float)
            and math.isfinite(value)
        ):
            return message, f"write a whole number, e.g. {int(value)}"
        if kind == "list_type" and isinstance(value, str):
            return message, f"write an array: [{_toml_string(value)}]"
        specific = FIELD_HINTS.get(_strip_indices(key))
        return message, specific or _TYPE_HINTS.get(expected, hint)
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
        choices_text = ", ".join(f'"{c}"' for c in choices if c)
        message = f"must be one of {choices_text}; got {_toml_value(value)}"
        suggestion = None
        if isinstance(value, str):
            alias = _ALIASES.get(value.lower())
            suggestion = alias if alias in choices else did_you_mean(value, choices)
        return message, f'did you mean "{suggestion}"?' if suggestion else hint
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"must be {_range_text(field, ctx)}, got {_toml_value(value)}", hint
    if kind == "value_error":
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        return message, hint
    fallback = "see workbench/profiles/schema.py for what this key accepts"
    return f"invalid value {_toml_value(value)}: {error.get('msg', '')}", hint or fallback


def _unknown_key(key: KeyPath, value: object) -> tuple[str, str | None]:
    owner = _model_at(key[:-1])
    allowed = list(owner.model_fields) if owner is not None else []
    name = str(key[-1])
    suggestion = did_you_mean(name, allowed)
    is_table = isinstance(value, Mapping)
    what = "table" if is_table else "key"
    if len(key) >= 2 and name == "extends":
        hint = "`extends` is a top-level key: move it above the first [table] header"
    elif suggestion is not None:
        target = _dotted_table((*key[:-1], suggestion)) if is_table else f"`{suggestion}`"
        if is_table and owner is not None and not _is_table_field(owner, suggestion):
            target = f"`{suggestion}`"
        hint = f"did you mean {target}?"
    elif key[:-1] == ("engine",):
        hint = "other vLLM engine arguments go in [engine.extra]"
    elif allowed:
        hint = "allowed here: " + ", ".join(allowed)
    else:
        hint = None
    return f"unknown {what}", hint


def _dotted_table(key: KeyPath) -> str:
    return "[" + ".".join(str(k) for k in key if not isinstance(k, int)) + "]"


def _is_table_field(owner: type[BaseModel], name: str) -> bool:
    annotation = owner.model_fields[name].annotation
    return _model_in(annotation) is not None or typing.get_origin(annotation) is dict


def _toml_value(value: object) -> str:
    from workbench.profiles.loader import toml_type

    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'a string "{shown}"'
    if isinstance(value, bool):
        return f"a boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"{toml_type(value)} {value}"
    return toml_type(value)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parses_as(text: str, kind: str) -> bool:
    try:
        if kind.startswith("int"):
            int(text)
        elif kind.startswith("float"):
            float(text)
        elif kind.startswith("bool"):
            return text.lower() in ("true", "false")
        else:
            return False
    except ValueError:
        return False
    return True


def _range_text(field: FieldInfo | None, ctx: Mapping[str, Any]) -> str:
    bounds: dict[str, Any] = {}
    for item in field.metadata if field is not None else ():
        for name in ("gt", "ge", "lt", "le"):
            if getattr(item, name, None) is not None:
                bounds[name] = getattr(item, name)
    bounds.update({k: v for k, v in ctx.items() if k in ("gt", "ge", "lt", "le")})
    low = ("(", bounds["gt"]) if "gt" in bounds else ("[", bounds["ge"]) if "ge" in bounds else None
    high = (
        (")", bounds["lt"]) if "lt" in bounds else ("]", bounds["le"]) if "le" in bounds else None
    )
    if low and high:
        return f"in {low[0]}{_num(low[1])}, {_num(high[1])}{high[0]}"
    if low:
        return f"{'>' if low[0] == '(' else '>='} {_num(low[1])}"
    if high:
        return f"{'<' if high[0] == ')' else '<='} {_num(high[1])}"
    return "in range"


def _num(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _field_hint(field: FieldInfo | None) -> str | None:
    if field is None or not field.description:
        return None
    return " ".join(field.description.split())


def _strip_indices(key: KeyPath) -> KeyPath:
    return tuple(k for k in key if not isinstance(k, int))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside ``annotation`` (X, X | None, list[X]), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is dict:
        return None
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _model_at(key: KeyPath) -> type[BaseModel] | None:
    """The schema model whose fields are the keys allowed at table ``key``."""
    current: type[BaseModel] | None = Profile
    skip_dict_key = False
    for part in key:
        if isinstance(part, int):
            continue
        if skip_dict_key:
            skip_dict_key = False
            continue
        if current is None or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        if typing.get_origin(annotation) is dict:
            args = typing.get_args(annotation)
            current = _model_in(args[1]) if len(args) == 2 else None
            skip_dict_key = current is not None
            if current is None:
                return None
            continue
        current = _model_in(annotation)
    return None if skip_dict_key else current


def _field_at(key: KeyPath) -> FieldInfo | None:
    names = [k for k in key if not isinstance(k, int)]
    if not names:
        return None
    owner = _model_at(key[: max(i for i, k in enumerate(key) if not isinstance(k, int))])
    if owner is None:
        return None
    return owner.model_fields.get(str(names[-1]))
