"""Streamed Markdown cut into finished blocks, so each block is parsed once.

A reply arrives a few characters at a time. Re-parsing the whole reply on every flush makes a
long reply quadratic; parsing only what is new breaks block state (a code fence, a list). The
middle way: a block ends at a blank line outside a code fence, at the fence's closing line, or
at an ATX heading. Finished blocks never change, so each is rendered once; only the block still
open (``live``) is shown as plain text until it finishes.

Pure: no textual or rich import; the UI renders what this hands out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")


@dataclass
class Fed:
    """What one ``feed`` changed: blocks that finished, and whether the live text was replaced
    (a block finished, or blank lines between blocks were dropped) rather than appended to."""

    blocks: list[str] = field(default_factory=list)
    restarted: bool = False


class BlockSplitter:
    """Feeds streamed text; hands out finished Markdown blocks. Cost per ``feed`` is linear in
    the new text (plus the length of the line it completes), never in what came before."""

    def __init__(self) -> None:
        self._block_lines: list[str] = []
        """Complete lines of the open block."""
        self._partial: list[str] = []
        """Pieces of the line not yet ended by a newline."""
        self._fence: str | None = None
        """The open fence's marker (``` or ~~~, as long as written), or None."""

    @property
    def live(self) -> str:
        """The open block's text as received so far (complete lines and the partial line)."""
        lines = "".join(line + "\n" for line in self._block_lines)
        return lines + "".join(self._partial)

    def feed(self, text: str) -> Fed:
        """Add streamed text; return the blocks it finished."""
        fed = Fed()
        start = 0
        while True:
            newline = text.find("\n", start)
            if newline < 0:
                if start < len(text):
                    self._partial.append(text[start:])
                return fed
            self._partial.append(text[start:newline])
            line = "".join(self._partial)
            self._partial = []
            self._end_line(line, fed)
            start = newline + 1

    def close(self) -> str | None:
        """The stream ended: the open block (if it has any text) is finished."""
        if self._partial:
            self._block_lines.append("".join(self._partial))
            self._partial = []
        self._fence = None
        return self._take()

    def _take(self) -> str | None:
        block = "\n".join(self._block_lines).strip("\n")
        self._block_lines = []
        return block if block.strip() else None

    def _emit(self, fed: Fed) -> None:
        block = self._take()
        fed.restarted = True
        if block is not None:
            fed.blocks.append(block)

    def _end_line(self, line: str, fed: Fed) -> None:
        if self._fence is not None:
            self._block_lines.append(line)
            stripped = line.strip()
            if stripped.startswith(self._fence[0] * len(self._fence)) and not stripped.strip(
                self._fence[0]
            ):
                self._fence = None
                self._emit(fed)
            return
        fence = _FENCE.match(line)
        if fence is not None:
            if self._block_lines:
                self._emit(fed)
            self._fence = fence.group(1)
            self._block_lines.append(line)
            return
        if not line.strip():
            # A blank line ends a block; blank lines between blocks are dropped.
            self._emit(fed)
            return
        if _HEADING.match(line):
            if self._block_lines:
                self._emit(fed)
            self._block_lines.append(line)
            self._emit(fed)
            return
        self._block_lines.append(line)


def split_blocks(text: str) -> list[str]:
    """Every block of a finished text, as streaming it would have produced them."""
    splitter = BlockSplitter()
    blocks = splitter.feed(text).blocks
    last = splitter.close()
    return blocks + ([last] if last is not None else [])
