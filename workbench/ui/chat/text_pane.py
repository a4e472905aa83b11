"""One pane of streamed text (a sample's thinking or its answer), drawn line by line.

Why not Textual's Markdown widget: it is one widget per block, so a 16,000-token reply becomes
hundreds of widgets, and every flush that grows it relayouts the whole screen (93% of the UI
thread in a py-spy profile of 8 streaming columns). Here a pane is one widget:

- finished Markdown blocks (``workbench.chat.blocks``) are rendered once, with Rich, into lines;
- the open block is shown as plain text, wrapped incrementally (only its last line re-wraps);
- while ``live``, the pane is a fixed-height tail (the last ``tail_lines`` lines), so a flush is
  a repaint of that region, never a relayout; once finished it shows every line, and the
  compositor asks only for the lines on screen.

Flush cost is linear in the new text, independent of what is already shown.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import cache

from markdown_it import MarkdownIt
from rich.console import Console
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from workbench.chat.blocks import BlockSplitter, split_blocks

CODE_THEME = "ansi_dark"


@cache
def _parser() -> MarkdownIt:
    """The markdown-it parser Rich's Markdown builds, built once (parsing keeps no state in it)."""
    return MarkdownIt().enable("strikethrough").enable("table")


class BlockMarkdown(RichMarkdown):
    """Rich's Markdown for one finished block, parsed with a shared parser. Rich builds a new
    ``MarkdownIt`` for every instance, compiling its rules and linkify's patterns each time:
    more than half of rendering a block (0.34 → 0.16 ms per block of a long reply, measured).
    Sets what ``RichMarkdown.__init__`` sets; a test checks the attributes still match."""

    def __init__(self, markup: str) -> None:
        self.markup = markup
        self.parsed = _parser().parse(markup)
        self.code_theme = CODE_THEME
        self.justify = None
        self.style = "none"
        self.hyperlinks = False
        self.inline_code_lexer = None
        self.inline_code_theme = CODE_THEME


class _LiveWrap:
    """The open block as wrapped plain lines; appending re-wraps only the last line (greedy
    wrapping never changes a line once a later one exists)."""

    def __init__(self) -> None:
        self.committed: list[Strip] = []
        self.carry = ""
        self.carry_strip: Strip | None = None

    def reset(self, console: Console, width: int, text: str) -> None:
        self.committed = []
        self.carry = ""
        self.carry_strip = None
        self.append(console, width, text)

    def append(self, console: Console, width: int, text: str) -> None:
        if not text:
            return
        lines = Text(self.carry + text).wrap(console, max(1, width), overflow="fold")
        strips = [Strip(list(line.render(console)), line.cell_len) for line in lines]
        self.committed.extend(strips[:-1])
        self.carry = lines[-1].plain if len(lines) else ""
        self.carry_strip = strips[-1] if strips else None

    def line(self, index: int) -> Strip | None:
        if 0 <= index < len(self.committed):
            return self.committed[index]
        if index == len(self.committed) and self.carry and self.carry_strip is not None:
            return self.carry_strip
        return None

    def __len__(self) -> int:
        return len(self.committed) + (1 if self.carry and self.carry_strip is not None else 0)


@dataclass(frozen=True)
class PaneLines:
    """A finished pane's text and its rendered lines at one width: what a sleeping turn keeps
    of a pane whose widget it unmounted, so waking it renders no Markdown again. Lines are kept
    as bare segments: a Strip carries seven caches of derived strips (about 1 KiB each, most
    of a long chat's memory), rebuilt only when the pane is shown again."""

    text: str
    blocks: list[str]
    block_lines: list[list[tuple[list[Segment], int]]]
    width: int


class TextPane(Widget):
    """Streamed Markdown: a fixed-height tail while ``live``, every line once finished."""

    DEFAULT_CSS = """
    TextPane { height: auto; width: 1fr; }
    """

    def __init__(
        self,
        text: str = "",
        *,
        tail_lines: int = 12,
        live: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.tail_lines = tail_lines
        self.live = live
        self._splitter = BlockSplitter()
        self._blocks: list[str] = []
        self._block_lines: list[list[Strip]] = []
        self._flat: list[Strip] = []
        """Every finished block's lines, with one blank line between blocks."""
        self._block_starts: list[int] = []
        self._live = _LiveWrap()
        self._width = 0
        self._style: Style | None = None
        self._text_parts: list[str] = []
        if text:
            self._text_parts.append(text)
            self._blocks = split_blocks(text)

    # -- the text ---------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """Everything appended (or set) so far."""
        if len(self._text_parts) > 1:
            self._text_parts[:] = ["".join(self._text_parts)]
        return self._text_parts[0] if self._text_parts else ""

    def append(self, text: str) -> None:
        """Add streamed text: finished blocks are rendered once, the open one re-wrapped at its
        end. Repaints only, unless the pane is still growing towards its tail height."""
        if not text:
            return
        self._text_parts.append(text)
        lines_before = self.line_count
        fed = self._splitter.feed(text)
        if self._width:
            for block in fed.blocks:
                self._add_block(block)
            if fed.restarted:
                self._live.reset(self.app.console, self._width, self._splitter.live)
            else:
                self._live.append(self.app.console, self._width, text)
        else:
            self._blocks.extend(fed.blocks)
        self._changed(lines_before)

    def finish(self, text: str | None = None) -> None:
        """The stream ended: the open block is rendered as Markdown and every line is shown.
        ``text`` is the final text; if it differs from what streamed, it replaces it."""
        if text is not None and text != self.text:
            self.set_text(text)
            return
        last = self._splitter.close()
        if last is not None:
            if self._width:
                self._add_block(last)
            else:
                self._blocks.append(last)
        if self._width:
            self._live.reset(self.app.console, self._width, "")
        self.live = False
        self.refresh(layout=True)

    def set_text(self, text: str) -> None:
        """Show a finished text in one go (a restored chat, a sample's final text)."""
        self._text_parts = [text] if text else []
        self._splitter = BlockSplitter()
        self._blocks = split_blocks(text)
        self.live = False
        self._rerender(self._width)
        self.refresh(layout=True)

    def keep(self) -> PaneLines | None:
        """The finished text and its lines (None while live: a live pane is never kept)."""
        if self.live:
            return None
        lines = [[(list(s), s.cell_length) for s in block] for block in self._block_lines]
        return PaneLines(self.text, list(self._blocks), lines, self._width)

    def adopt(self, kept: PaneLines) -> None:
        """Show what ``keep`` returned (from another pane of the same sample): no Markdown is
        rendered unless this pane is laid out at another width."""
        self._text_parts = [kept.text] if kept.text else []
        self._splitter = BlockSplitter()
        self._blocks, self._block_lines, self._flat, self._block_starts = [], [], [], []
        self._width = kept.width
        if not kept.width:  # never laid out (a folded panel): rendered when first shown
            self._blocks = list(kept.blocks)
        for block, lines in zip(kept.blocks, kept.block_lines, strict=False):
            self._add_block(block, [Strip(segments, length) for segments, length in lines])
        self._live = _LiveWrap()
        self.live = False
        self.refresh(layout=True)

    # -- lines ------------------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        live = len(self._live)
        separator = 1 if self._flat and live else 0
        return len(self._flat) + separator + live

    def _line(self, index: int) -> Strip | None:
        if index < len(self._flat):
            return self._flat[index]
        index -= len(self._flat)
        if self._flat:
            if index == 0:
                return Strip.blank(self._width)
            index -= 1
        return self._live.line(index)

    def _add_block(self, block: str, lines: list[Strip] | None = None) -> None:
        self._blocks.append(block)
        if lines is None:
            lines = self._render_block(block, self._width)
        self._block_lines.append(lines)
        if self._flat:
            self._flat.append(Strip.blank(self._width))
        self._block_starts.append(len(self._flat))
        self._flat.extend(lines)

    def _render_block(self, block: str, width: int) -> list[Strip]:
        console = self.app.console
        options = console.options.update(width=width, height=None)
        markdown = BlockMarkdown(block)
        lines = [
            Strip(Segment.adjust_line_length(line, width), width)
            for line in console.render_lines(markdown, options, pad=False, new_lines=False)
        ]
        # Rich pads lists and code blocks with blank lines; blocks are separated by one already.
        while lines and not lines[-1].text.strip():
            lines.pop()
        start = 0
        while start < len(lines) - 1 and not lines[start].text.strip():
            start += 1
        return lines[start:]

    def _rerender(self, width: int) -> None:
        """Lay every block out again at ``width`` (a resize, or text set in one go)."""
        self._width = width
        blocks, self._blocks = self._blocks, []
        self._block_lines, self._flat, self._block_starts = [], [], []
        self._live = _LiveWrap()
        if not width:
            self._blocks = blocks
            return
        for block in blocks:
            self._add_block(block)
        self._live.reset(self.app.console, width, self._splitter.live)

    def block_at_line(self, line: int) -> int:
        """Which finished block holds ``line`` (for tests and the reader)."""
        return max(0, bisect_right(self._block_starts, line) - 1)

    @property
    def blocks(self) -> list[str]:
        """The finished blocks, in order."""
        return list(self._blocks)

    def _changed(self, lines_before: int) -> None:
        if not self.live:
            self.refresh(layout=True)
            return
        # A live pane's height is min(lines, tail_lines): it grows (one relayout per new line)
        # only until the tail is full, then every flush is a repaint of its own region.
        grew = min(self.line_count, self.tail_lines) != min(lines_before, self.tail_lines)
        self.refresh(layout=grew)

    # -- Textual ----------------------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width:
            self._rerender(width)
        count = self.line_count
        return min(count, self.tail_lines) if self.live else count

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._rerender(self.size.width)
            self.refresh(layout=True)

    def render_lines(self, crop: Region) -> list[Strip]:
        # rich_style walks every ancestor for the background: once per render of the pane,
        # not once per line (it was most of a pane's render time).
        self._style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._style = None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self.live:
            offset = max(0, self.line_count - self.size.height)
            y += offset
        style = self._style if self._style is not None else self.rich_style
        strip = self._line(y)
        if strip is None:
            return Strip.blank(width, style)
        if strip.cell_length != width:
            strip = strip.crop_extend(0, width, None)
        return strip.apply_style(style)
