"""Where a dotted key sits in TOML text: tomllib gives values but no line numbers.

A light scanner, not a parser: it follows table headers (``[a.b]``, ``[[a.b]]``), ``key = value``
lines (dotted and quoted keys too) and the keys of inline tables. Good enough to point a person at
the right line; it never decides whether a file is valid (tomllib does).
"""

from __future__ import annotations

import re

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path found in ``text`` to its first line (1-based)."""
    found: dict[KeyPath, int] = {}
    table: KeyPath = ()
    array_counts: dict[KeyPath, int] = {}
    open_multiline: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if open_multiline is not None:
            if open_multiline in raw:
                open_multiline = None
            continue
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[["):
            keys, _ = _parse_key(line[2:])
            if keys is None:
                continue
            path: KeyPath = tuple(keys)
            index = array_counts.get(path, -1) + 1
            array_counts[path] = index
            _record(found, path, lineno)
            table = (*path, index)
            _record(found, table, lineno)
        elif line.startswith("["):
            keys, _ = _parse_key(line[1:])
            if keys is None:
                continue
            table = tuple(keys)
            _record(found, table, lineno)
        else:
            keys, rest = _parse_key(line)
            if keys is None or not rest.lstrip().startswith("="):
                continue
            full = (*table, *keys)
            _record(found, full, lineno)
            value = rest.lstrip()[1:].lstrip()
            if value.startswith("{"):
                _scan_inline_table(value, full, lineno, found)
            for quote in ('"""', "'''"):
                if value.count(quote) % 2 == 1:
                    open_multiline = quote
                    break
    return found


def line_of(text: str, key: KeyPath) -> int | None:
    """Line of ``key``, or of its longest present prefix; None when no part of it is present."""
    found = key_lines(text)
    return lookup(found, key)[0]


def lookup(found: dict[KeyPath, int], key: KeyPath) -> tuple[int | None, int]:
    """(line, how many parts of ``key`` matched) for the longest present prefix of ``key``."""
    for length in range(len(key), 0, -1):
        line = found.get(key[:length])
        if line is not None:
            return line, length
    return None, 0


def _record(found: dict[KeyPath, int], path: KeyPath, lineno: int) -> None:
    for length in range(1, len(path) + 1):
        found.setdefault(path[:length], lineno)


def _parse_key(text: str) -> tuple[list[str] | None, str]:
    """Parse a (dotted, possibly quoted) key at the start of ``text``; return (parts, rest)."""
    parts: list[str] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text):
            return None, ""
        char = text[pos]
        if char in "\"'":
            end = pos + 1
            while end < len(text) and text[end] != char:
                end += 2 if (char == '"' and text[end] == "\\") else 1
            if end >= len(text):
                return None, ""
            parts.append(text[pos + 1 : end])
            pos = end + 1
        else:
            match = _BARE_KEY.match(text, pos)
            if match is None:
                return None, ""
            parts.append(match.group())
            pos = match.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, text[pos:]


def _scan_inline_table(value: str, prefix: KeyPath, lineno: int, found: dict[KeyPath, int]) -> int:
    """Record the keys of the inline table starting at ``value[0] == "{"``; return its end."""
    pos = 1
    while pos < len(value):
        keys, rest = _parse_key(value[pos:])
        if keys is None:
            return len(value)
        pos = len(value) - len(rest)
        stripped = rest.lstrip()
        if not stripped.startswith("="):
            return len(value)
        pos += len(rest) - len(stripped) + 1
        while pos < len(value) and value[pos] in " \t":
            pos += 1
        full = (*prefix, *keys)
        _record(found, full, lineno)
        if pos < len(value) and value[pos] == "{":
            pos += _scan_inline_table(value[pos:], full, lineno, found)
        else:
            pos = _skip_value(value, pos)
        while pos < len(value) and value[pos] in " \t,":
            pos += 1
        if pos < len(value) and value[pos] == "}":
            return pos + 1
    return pos


def _skip_value(text: str, pos: int) -> int:
    """Index just past the value at ``pos`` (strings, arrays and inline tables balanced)."""
    depth = 0
    while pos < len(text):
        char = text[pos]
        if char in "\"'":
            end = pos + 1
            while end < len(text) and text[end] != char:
                end += 2 if (char == '"' and text[end] == "\\") else 1
            pos = end + 1
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            if depth == 0:
                return pos
            depth -= 1
        elif char == "," and depth == 0:
            return pos
        pos += 1
    return pos
