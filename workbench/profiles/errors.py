"""ProfileError: one-line, TOML-speaking errors that name file, line, dotted key and a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from workbench.files import display_path


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, or None when nothing is close."""
    options = sorted(set(choices))
    lowered = {choice.lower(): choice for choice in options}
    if word.lower() in lowered:
        return lowered[word.lower()]
    normalized = {choice.replace("-", "_"): choice for choice in options}
    if word.replace("-", "_") in normalized:
        return normalized[word.replace("-", "_")]
    matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return matches[0] if matches else None


class ProfileError(Exception):
    """A bad profile: ``str(err)`` is one line, ``file:line: key: message (hint: ...)``."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = _one_line(message)
        self.path = path
        self.line = line
        self.key = key
        self.hint = _one_line(hint) if hint else None
        super().__init__(str(self))

    def located(
        self, *, path: Path | None = None, line: int | None = None, key: str | None = None
    ) -> ProfileError:
        """A copy with file/line/key filled in where this error has none."""
        return ProfileError(
            self.message,
            path=self.path or path,
            line=self.line if self.line is not None else line,
            key=self.key or key,
            hint=self.hint,
        )

    def __str__(self) -> str:
        parts: list[str] = []
        if self.path is not None:
            where = display_path(self.path)
            if self.line is not None:
                where += f":{self.line}"
            parts.append(where)
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        text = ": ".join(parts)
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def __reduce__(self) -> tuple[object, ...]:  # keep keyword-only args through pickling
        return (_rebuild, (self.message, self.path, self.line, self.key, self.hint))


def _rebuild(
    message: str, path: Path | None, line: int | None, key: str | None, hint: str | None
) -> ProfileError:
    return ProfileError(message, path=path, line=line, key=key, hint=hint)


def _one_line(text: str) -> str:
    return " ".join(text.split())
