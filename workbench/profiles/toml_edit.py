"""Rewrite a profile's TOML text with new values while keeping its comments and layout.

Profiles are shared and commented ("why 0.92"); re-rendering the whole file on every tuner save
would drop those comments. ``patch_toml`` changes only the lines whose values changed, adds new
keys to their table, and removes deleted ones. When a change is not a simple one-line edit
(inline tables, multi-line values, arrays of tables) it returns None and the caller re-renders.
Every patch is verified: the result must parse to exactly the new data.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from workbench.profiles.toml_lines import KeyPath, key_lines

Leaves = dict[tuple[str, ...], Any]


def patch_toml(old_text: str, new_data: Mapping[str, Any]) -> str | None:
    """``old_text`` edited to hold ``new_data``, comments kept; None when that is not safe."""
    try:
        old_data = tomllib.loads(old_text)
    except tomllib.TOMLDecodeError:
        return None
    old_arrays, new_arrays = _split_table_arrays(old_data), _split_table_arrays(new_data)
    appended_blocks: list[str] = []
    for path in sorted(set(old_arrays[1]) | set(new_arrays[1])):
        before, after = old_arrays[1].get(path, []), new_arrays[1].get(path, [])
        if after[: len(before)] != before:
            return None  # only appending [[records]] keeps the file's text; else re-render
        new_items = after[len(before) :]
        if any(isinstance(v, Mapping) for item in new_items for v in item.values()):
            return None
        appended_blocks += [_table_array_block(path, item) for item in new_items]
    old_leaves, new_leaves = _leaves(old_arrays[0]), _leaves(new_arrays[0])
    if old_leaves is None or new_leaves is None:
        return None
    lines = old_text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    found = key_lines(old_text)
    replaced: dict[int, str | None] = {}
    added: dict[tuple[str, ...], list[str]] = {}
    for key in sorted(set(old_leaves) | set(new_leaves)):
        in_old, in_new = key in old_leaves, key in new_leaves
        if in_old and in_new and _same(old_leaves[key], new_leaves[key]):
            continue
        if in_old:
            index = _simple_line_index(found, key, lines)
            if index is None:
                return None
            replaced[index] = _replace_value(lines[index], new_leaves[key]) if in_new else None
            if in_new and replaced[index] is None:
                return None
        else:
            added.setdefault(key[:-1], []).append(_assignment(key[-1], new_leaves[key]))
    result = _apply(lines, replaced, added, found)
    if result is None:
        return None
    result += "".join(appended_blocks)
    try:
        if tomllib.loads(result) != tomllib.loads(_canonical(new_data)):
            return None
    except tomllib.TOMLDecodeError:
        return None
    return result


def _split_table_arrays(
    data: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[tuple[str, ...], list[Any]]]:
    """(data without arrays of tables, those arrays by path)."""
    rest: dict[str, Any] = {}
    arrays: dict[tuple[str, ...], list[Any]] = {}
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            arrays[path] = list(value)
        elif isinstance(value, Mapping):
            inner, inner_arrays = _split_table_arrays(value, path)
            if inner or not inner_arrays:
                rest[key] = inner
            arrays.update(inner_arrays)
        else:
            rest[key] = value
    return rest, arrays


def _table_array_block(path: tuple[str, ...], item: Mapping[str, Any]) -> str:
    """``[[a.b]]`` followed by the record's keys (records hold scalars and arrays only)."""
    import tomli_w

    header = "[[" + ".".join(_header_part(part) for part in path) + "]]\n"
    return "\n" + header + tomli_w.dumps(dict(item))


def _canonical(data: Mapping[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(dict(data))


def _same(left: Any, right: Any) -> bool:
    return type(left) is type(right) and left == right


def _leaves(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Leaves | None:
    """Scalar and array values by dotted path; None when an array of tables is present."""
    leaves: Leaves = {}
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, Mapping):
            if not value:
                return None  # an empty table has no leaf to patch; re-render instead
            inner = _leaves(value, path)
            if inner is None:
                return None
            leaves.update(inner)
        elif isinstance(value, list) and any(isinstance(item, Mapping) for item in value):
            return None
        else:
            leaves[path] = value
    return leaves


def _simple_line_index(
    found: dict[KeyPath, int], key: tuple[str, ...], lines: list[str]
) -> int | None:
    """Index of the one line that holds ``key = value`` by itself (no dotted/inline parent)."""
    line = found.get(key)
    if line is None or found.get(key[:-1]) == line:
        return None
    text = lines[line - 1]
    if text.lstrip().startswith("["):
        return None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None  # the value continues on later lines
    return line - 1


def _value_text(value: Any) -> str:
    import tomli_w

    return tomli_w.dumps({"x": value}).split("=", 1)[1].strip()


def _assignment(name: str, value: Any) -> str:
    import tomli_w

    return tomli_w.dumps({name: value})


def _replace_value(line: str, value: Any) -> str | None:
    head, equals, rest = line.partition("=")
    if not equals:
        return None
    body = rest.rstrip("\r\n")
    comment = ""
    for position, char in enumerate(body):
        if char != "#":
            continue
        try:
            tomllib.loads("x = " + body[:position])
        except tomllib.TOMLDecodeError:
            continue
        comment = "  " + body[position:]
        break
    return f"{head.rstrip()} = {_value_text(value)}{comment}\n"


def _apply(
    lines: list[str],
    replaced: dict[int, str | None],
    added: dict[tuple[str, ...], list[str]],
    found: dict[KeyPath, int],
) -> str | None:
    headers = [i for i, line in enumerate(lines) if line.lstrip().startswith("[")]
    insert_after: dict[int, list[str]] = {}
    appended: list[str] = []
    for table, assignments in added.items():
        if not table:
            insert_after.setdefault(_top_level_end(lines, headers), []).extend(assignments)
            continue
        header_line = found.get(table)
        if header_line is not None and lines[header_line - 1].lstrip().startswith("[["):
            return None
        if header_line is not None and lines[header_line - 1].lstrip().startswith("["):
            index = header_line - 1
            following = [h for h in headers if h > index]
            end = following[0] if following else len(lines)
            insert_after.setdefault(_last_content_before(lines, end), []).extend(assignments)
        elif header_line is not None:
            return None  # the table is inline or dotted: re-render
        else:
            name = ".".join(_header_part(part) for part in table)
            appended.append(f"\n[{name}]\n" + "".join(assignments))
    output: list[str] = []
    for index in range(-1, len(lines)):
        if index >= 0:
            new_line = replaced.get(index, lines[index])
            if new_line is not None:
                output.append(new_line)
        output.extend(insert_after.get(index, []))
    output.extend(appended)
    return "".join(output)


def _top_level_end(lines: list[str], headers: list[int]) -> int:
    """Where a new top-level key goes: after the last top-level key, else after the file's
    opening comment block (-1: the very top)."""
    first_header = headers[0] if headers else len(lines)
    last_key = _last_content_before(lines, first_header)
    if last_key >= 0:
        return last_key
    index = -1
    while index + 1 < first_header and lines[index + 1].lstrip().startswith("#"):
        index += 1
    return index


def _last_content_before(lines: list[str], end: int) -> int:
    """Index of the last non-blank, non-comment line before ``end`` (-1: the very top)."""
    index = end - 1
    while index >= 0 and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
        index -= 1
    return index


def _header_part(part: str) -> str:
    if part and all(c.isalnum() or c in "_-" for c in part):
        return part
    return '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
