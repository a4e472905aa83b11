"""Structured answers side by side: a JSON-schema turn's answers compared field by field.

vLLM constrains only the answer (after the reasoning) to the schema, so every sample's answer
should be one JSON object; one that is not (cut by max_tokens, or the schema was not enforced)
is flagged with where it broke. Pure: no textual, vllm or torch.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 3
"""Nested objects are flattened to dotted names this deep; deeper values compare whole."""


@dataclass(frozen=True)
class FieldRow:
    """One field: each sample's value (None: the sample's JSON lacks it), and agreement."""

    name: str
    values: dict[int, str | None]
    agreeing: int
    """How many samples share the most common value."""
    common: str | None
    """That value (None when no sample has the field)."""

    @property
    def agreed(self) -> bool:
        return self.agreeing == len(self.values) and self.common is not None


@dataclass(frozen=True)
class FieldTable:
    """Rows in first-seen order; ``invalid`` maps a sample to why its answer is not JSON."""

    samples: tuple[int, ...]
    rows: tuple[FieldRow, ...]
    invalid: dict[int, str]

    @property
    def valid(self) -> int:
        return len(self.samples) - len(self.invalid)

    def describe(self) -> str:
        """ "4 fields · 3 agree across all 4 samples · sample 2: not JSON (…)"."""
        agreed = sum(row.agreed for row in self.rows)
        parts = [f"{len(self.rows)} field{'s' if len(self.rows) != 1 else ''}"]
        if self.valid:
            parts.append(f"{agreed} agree across all {self.valid} valid answers")
        parts += [f"sample {i + 1}: not JSON ({why})" for i, why in sorted(self.invalid.items())]
        return " · ".join(parts)

    def markdown_lines(self) -> list[str]:
        """The table as Markdown: a row per field, a column per sample, then agreement."""
        head = "| field | " + " | ".join(f"sample {i + 1}" for i in self.samples) + " | agree |"
        lines = [head, "|---" * (len(self.samples) + 2) + "|"]
        for row in self.rows:
            cells = [_cell(row.values.get(i)) for i in self.samples]
            lines.append(
                f"| {row.name} | " + " | ".join(cells) + f" | {row.agreeing}/{self.valid} |"
            )
        for index, why in sorted(self.invalid.items()):
            lines.append(f"\nSample {index + 1} is not valid JSON: {why}")
        return lines


def _cell(value: str | None) -> str:
    return "—" if value is None else value.replace("|", "\\|")


def _flatten(value: Any, prefix: str, depth: int, out: dict[str, str]) -> None:
    if isinstance(value, dict) and value and depth < MAX_DEPTH:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), depth + 1, out)
        return
    out[prefix or "(value)"] = json.dumps(value, ensure_ascii=False, sort_keys=True)


def parse_answer(text: str) -> tuple[dict[str, str] | None, str | None]:
    """(flattened fields, None) for a JSON answer, else (None, why it is not)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        if not text.strip():
            return None, "empty answer"
        return None, f"{error.msg}: line {error.lineno} column {error.colno}"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    fields: dict[str, str] = {}
    _flatten(value, "", 0, fields)
    return fields, None


def compare_fields(answers: Sequence[tuple[int, str]]) -> FieldTable:
    """Compare ``(sample index, answer)`` pairs of a JSON-schema turn field by field."""
    parsed: dict[int, dict[str, str]] = {}
    invalid: dict[int, str] = {}
    names: dict[str, None] = {}
    for index, text in answers:
        fields, why = parse_answer(text)
        if fields is None:
            invalid[index] = why or "not JSON"
            continue
        parsed[index] = fields
        names.update(dict.fromkeys(fields))
    rows = []
    for name in names:
        values = {index: fields.get(name) for index, fields in parsed.items()}
        counts = Counter(v for v in values.values() if v is not None)
        common, agreeing = counts.most_common(1)[0] if counts else (None, 0)
        rows.append(FieldRow(name, values, agreeing, common))
    return FieldTable(tuple(index for index, _ in answers), tuple(rows), invalid)
