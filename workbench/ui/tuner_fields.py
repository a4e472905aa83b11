"""The tuner's editable fields: how each parses, its range, and its dotted profile key (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.chat.session import MAX_N
from workbench.profiles.schema import KV_CACHE_DTYPES


class FieldInputError(ValueError):
    """The text typed into a tuner field is not acceptable; the message says why."""


@dataclass(frozen=True)
class TunerField:
    """One editable setting."""

    name: str  # estimator keyword and widget id suffix
    key: str  # dotted profile key
    label: str
    kind: str  # "int", "fraction" or "choice"
    minimum: int = 1
    maximum: int | None = None
    """Largest accepted whole number (None: no limit here; the estimate judges it)."""
    optional: bool = False  # empty text = unset (vLLM's / the model's default)
    hint: str = ""

    def parse(self, text: str) -> Any:
        """The typed text as a value; raises FieldInputError with a reason."""
        cleaned = text.strip().replace(",", "").replace("_", "")
        if not cleaned:
            if self.optional:
                return None
            raise FieldInputError(f"{self.label} is required")
        if self.kind == "choice":
            if cleaned not in KV_CACHE_DTYPES:
                raise FieldInputError(f"pick one of {', '.join(KV_CACHE_DTYPES)}")
            return cleaned
        if self.kind == "fraction":
            try:
                value = float(cleaned)
            except ValueError:
                raise FieldInputError("a number in (0, 1], e.g. 0.9") from None
            if not 0.0 < value <= 1.0:
                raise FieldInputError(f"must be in (0, 1], got {value:g}")
            return value
        multiplier = 1
        if cleaned[-1] in "kK":
            cleaned, multiplier = cleaned[:-1], 1024
        try:
            number = int(cleaned) * multiplier
        except ValueError:
            raise FieldInputError(f"a whole number ≥ {self.minimum}{self.hint}") from None
        if number < self.minimum:
            raise FieldInputError(f"must be ≥ {self.minimum}, got {number}")
        if self.maximum is not None and number > self.maximum:
            raise FieldInputError(f"must be ≤ {self.maximum}, got {number:,}{self.hint}")
        return number

    def format(self, value: Any) -> str:
        """The value as shown in its input."""
        return "" if value is None else str(value)


FIELDS: tuple[TunerField, ...] = (
    TunerField(
        "max_model_len", "engine.max_model_len", "max_model_len", "int",
        optional=True, hint=" (tokens; 32k ok; empty = model max)",
    ),
    TunerField(
        "gpu_memory_utilization", "engine.gpu_memory_utilization", "gpu_memory_utilization",
        "fraction",
    ),
    TunerField("kv_cache_dtype", "engine.kv_cache_dtype", "kv_cache_dtype", "choice"),
    TunerField(
        "tensor_parallel_size", "engine.tensor_parallel_size", "tensor_parallel_size", "int"
    ),
    TunerField(
        "max_num_seqs", "engine.max_num_seqs", "max_num_seqs", "int",
        optional=True, hint=" (empty = vLLM default)",
    ),
    TunerField(
        "n", "sampling.n", "n (samples per turn)", "int", maximum=MAX_N,
        hint=f" (at most {MAX_N} columns side by side; `workbench chat --n` takes more)",
    ),
)
FIELDS_BY_NAME = {field.name: field for field in FIELDS}
