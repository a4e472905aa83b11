"""Widgets for one turn of the conversation: the user's message and the assistant's n samples."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import HorizontalScroll, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Markdown, Static

from workbench.chat.doctor import Finding
from workbench.chat.fields import FieldTable, compare_fields
from workbench.chat.model import AssistantTurn, SampleRecord
from workbench.chat.summary import AnswerSummary, summarise_answers
from workbench.engine.timing import turn_metrics
from workbench.ui.chat.sample_column import KeptColumn, SampleColumn

MIN_COLUMN_WIDTH = 36
"""Narrowest sample column (a thinking title "Thought for 12.3 s · 1,234 tokens" plus borders):
columns share the turn's width down to this, then the row scrolls sideways. At 160 terminal
columns that is four side by side; eight scroll."""


class Sleeper(Vertical):
    """A part of the conversation log that can sleep when far from the viewport: its children
    are unmounted and its own height is pinned to what it was, so the log's geometry does not
    change; waking mounts them again before the height is let go. Asleep, a part is one widget
    (no children, no styles, no compositor entries for them), so a long chat costs the layout
    and the memory of the parts near the viewport, not of every turn. The conversation log
    decides who sleeps (``ConversationLog.update_sleep``)."""

    class Woken(Message):
        """A sleeping part has its children back (the log then decides who sleeps again)."""

    asleep = False
    _waking = False

    @property
    def waking(self) -> bool:
        return self._waking

    @property
    def can_sleep(self) -> bool:
        """Whether the part is finished and may sleep (a streaming turn may not)."""
        return True

    def _keep(self) -> None:
        """Remember what waking needs before the children are unmounted."""

    async def _restore(self) -> None:
        """Mount the children again, as they were (the pinned height holds the place)."""

    def sleep(self) -> bool:
        """Unmount the children, keeping the height; False if the part cannot sleep now
        (streaming, not laid out yet, or waking)."""
        if self.asleep:
            return True
        height = self.outer_size.height
        if not self.can_sleep or not height or not self.is_mounted or self._waking:
            return False
        self._keep()
        self.styles.height = height  # border-box: padding and border included, as measured
        self.remove_children()
        self.asleep = True
        return True

    def wake(self) -> None:
        if self.asleep and not self._waking:
            self._waking = True
            self.call_later(self._wake)

    async def _wake(self) -> None:
        try:
            self.asleep = False  # restoring shows what it restores (summary, error, cards)
            await self._restore()
            self.styles.height = None  # the CSS's `auto` again
        except BaseException:
            self._waking = False
            raise
        # Laid out twice before the log may measure it for sleep again: a row of columns
        # wider than the turn gets its scrollbar (one line) in the second pass.
        self.call_after_refresh(self.call_after_refresh, self._woken)

    def _woken(self) -> None:
        self._waking = False
        self.post_message(self.Woken())


class UserMessage(Sleeper):
    """The user's message, as Markdown."""

    DEFAULT_CSS = """
    UserMessage {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: thick $accent;
        background: $boost;
    }
    UserMessage > Markdown { margin: 0; padding: 0; background: transparent; }
    UserMessage > Markdown > MarkdownParagraph { margin: 0; }
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield Markdown(self.text)

    async def _restore(self) -> None:
        await self.mount(Markdown(self.text))  # the Markdown's blocks are built on its mount


class DoctorCard(Static):
    """A short cause card under a turn: what looks wrong, why it usually happens, what to try."""

    DEFAULT_CSS = """
    DoctorCard {
        height: auto;
        margin: 0 0 0 0;
        padding: 0 1;
        border: round $error;
        border-title-color: $error;
        border-title-style: bold;
    }
    """

    def __init__(self, finding: Finding) -> None:
        which = ""
        if finding.samples:
            which = " (sample " + ", ".join(str(i + 1) for i in finding.samples) + ")"
        body = Content.assemble((finding.cause, ""), "\n", ("Try: ", "bold"), finding.fix)
        super().__init__(body)
        self.finding = finding
        self.border_title = f"Doctor: {finding.title}{which}"


class AssistantTurnView(Sleeper):
    """One request: sample columns side by side (scrolling sideways when they do not fit), then
    the answer summary, any error and any doctor cards.

    A finished turn far from the viewport sleeps (``Sleeper``): all its widgets (n columns of
    header, thinking panel, panes and stats; summary, error, doctor cards) are unmounted and
    its height is pinned. The panes' rendered lines and each column's look are kept
    (``KeptColumn``), so waking mounts new columns without rendering Markdown again; the
    summary, error and findings are made again from what the turn keeps. Textual lays out
    every displayed widget of the screen on each relayout and each widget costs tens of KiB,
    so without this every finished n = 8 turn made the next flush slower and the app bigger."""

    DEFAULT_CSS = """
    AssistantTurnView { height: auto; margin: 1 0 0 0; }
    AssistantTurnView > .samples { height: auto; }
    AssistantTurnView > .samples > SampleColumn { width: 1fr; }
    AssistantTurnView > .turn-summary { height: auto; padding: 0 1; color: $text; }
    AssistantTurnView > .turn-fields { height: auto; padding: 0 1; }
    AssistantTurnView > .turn-error { height: auto; padding: 0 1; color: $error; }
    """

    def __init__(self, turn: AssistantTurn) -> None:
        super().__init__()
        self.turn = turn
        self._columns: dict[int, SampleColumn] = {}
        self._kept: dict[int, KeptColumn] = {}
        self._kept_scroll_x = 0.0
        self._flagged: set[int] = set()
        self._summary_shown = False
        self._error: str | None = None
        self._findings: list[Finding] = []
        self.set_class(turn.n_requested > 1, "-multi")

    @staticmethod
    def _notes() -> list[Static]:
        """The lines under the columns, hidden until there is something to say."""
        notes = [Static("", classes=name) for name in ("turn-summary", "turn-fields", "turn-error")]
        for note in notes:
            note.display = False
        return notes

    def compose(self) -> ComposeResult:
        multi = self.turn.n_requested > 1
        count = max(self.turn.n_requested, len(self.turn.samples), 1)
        self._columns = {
            index: SampleColumn(index, show_header=multi, id=f"sample-{index}")
            for index in range(count)
        }
        with HorizontalScroll(classes="samples"):
            yield from self._columns.values()
        yield from self._notes()

    def on_mount(self) -> None:
        self._size_columns()

    def on_resize(self) -> None:
        self._size_columns()

    @property
    def can_sleep(self) -> bool:
        return self.turn.done

    @property
    def error_shown(self) -> bool:
        return self._error is not None

    def _keep(self) -> None:
        self._kept = {index: column.keep() for index, column in self._columns.items()}
        self._kept_scroll_x = self.query_one(".samples", HorizontalScroll).scroll_x
        self._columns = {}

    async def _restore(self) -> None:
        kept = self._kept
        columns = {
            index: SampleColumn(index, show_header=kept[index].show_header, id=f"sample-{index}")
            for index in sorted(kept)
        }
        row = HorizontalScroll(*columns.values(), classes="samples")
        row.display = False
        await self.mount_all([row, *self._notes()])
        records = {record.index: record for record in self.turn.samples}
        for index, column in columns.items():
            await column.restore(records.get(index) or SampleRecord(index), kept[index])
            column.set_class(index in self._flagged, "-flagged")
        self._columns, self._kept = columns, {}
        self._size_columns()
        if self._summary_shown:
            self.show_summary()  # a pick made while asleep is shown
        if self._error is not None:
            self.show_error(self._error)
        if self._findings:
            await self.mount_all([DoctorCard(f) for f in self._findings])
        row.display = True
        if self._kept_scroll_x:
            row.call_after_refresh(row.scroll_to, x=self._kept_scroll_x, animate=False)

    def _size_columns(self) -> None:
        # `fr` inside a horizontal scroll resolves to the whole viewport per child, so share the
        # width out here; below MIN_COLUMN_WIDTH the row scrolls sideways instead of squeezing.
        columns = self.columns
        if len(columns) < 2 or not self.size.width:
            return
        total = self.size.width
        base, spare = divmod(total, len(columns))
        if base < MIN_COLUMN_WIDTH:
            base, spare = MIN_COLUMN_WIDTH, 0
        for position, column in enumerate(columns):
            # the remainder goes one cell each to the first columns: the row fills exactly
            column.styles.width = base + (1 if position < spare else 0)

    def column(self, index: int) -> SampleColumn:
        """The column of sample ``index`` (mounted on the fly if the engine sends more than n)."""
        # A dict, not a DOM query: this runs once per delta.
        existing = self._columns.get(index)
        if existing is not None:
            return existing
        if self.asleep:
            raise RuntimeError("a sleeping turn has no columns: only finished turns sleep")
        column = SampleColumn(index, show_header=True, id=f"sample-{index}")
        self._columns[index] = column
        self.query_one(".samples", HorizontalScroll).mount(column)
        self.call_after_refresh(self._size_columns)
        return column

    @property
    def columns(self) -> list[SampleColumn]:
        return [self._columns[index] for index in sorted(self._columns)]

    def show_summary(self) -> AnswerSummary | None:
        """Group the samples' final answers under the columns (n > 1 only)."""
        finished = [s for s in self.turn.samples if s.stats is not None]
        if len(finished) < 2:
            return None
        summary = summarise_answers([(s.index, s.content) for s in finished])
        self._summary_shown = True
        if self.asleep:
            return summary  # shown when it wakes
        majority_indices = set(summary.majority.indices) if summary.majority else set()
        group_of = {index: g for g in summary.groups for index in g.indices}
        received = {record.index for record in self.turn.samples}
        for column in self.columns:
            group = group_of.get(column.index)
            if column.index not in received:
                answer = "not returned"
            else:
                answer = group.display if group and group.key else "(no answer)"
            marker = f"  ✓ {summary.majority_word}" if column.index in majority_indices else ""
            picked = "  ← continuing" if self.turn.picked == column.index else ""
            column.set_header(f"Sample {column.index + 1} · {answer}{marker}{picked}")
            column.set_class(column.index in majority_indices, "-majority")
            column.set_class(self.turn.picked == column.index, "-picked")
        summary_widget = self.query_one(".turn-summary", Static)
        pick_hint = (
            "" if self.turn.picked is not None else "   (press 1–9 to continue with a sample)"
        )
        parts: list[str | tuple[str, str]] = [
            ("Summary: ", "bold"),
            summary.describe(),
            (pick_hint, "dim"),
        ]
        metrics = turn_metrics([s.stats for s in finished if s.stats is not None])
        described = metrics.describe() if metrics is not None else ""
        if described:
            parts += ["\n", ("Run (p50 / p95): ", "bold"), (described, "dim")]
        summary_widget.update(Content.assemble(*parts))
        summary_widget.display = True
        if self.turn.structured:
            self._show_fields(compare_fields([(s.index, s.content) for s in finished]))
        return summary

    def _show_fields(self, table: FieldTable) -> None:
        """A JSON-schema turn: one row per field, one column per sample, and agreement."""
        grid = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
        grid.add_column("field", style="cyan", no_wrap=True)
        for index in table.samples:
            grid.add_column(f"{index + 1}", overflow="ellipsis", max_width=24, no_wrap=True)
        grid.add_column("agree", no_wrap=True)
        for row in table.rows:
            cells = []
            for index in table.samples:
                if index in table.invalid:
                    cells.append(Text("not JSON", style="red"))
                    continue
                value = row.values.get(index)
                style = "" if value == row.common else "yellow"
                cells.append(Text("—" if value is None else value, style=style))
            agree = f"{row.agreeing}/{table.valid}"
            grid.add_row(row.name, *cells, Text(agree, style="green" if row.agreed else "yellow"))
        widget = self.query_one(".turn-fields", Static)
        caption = Text("Fields: ", style="bold")
        caption.append(table.describe(), style="red" if table.invalid else "dim")
        widget.update(Group(caption, grid))
        widget.display = True

    def show_error(self, message: str) -> None:
        self._error = message
        if self.asleep:
            return
        error = self.query_one(".turn-error", Static)
        error.update(message)
        error.display = True

    async def show_findings(self, findings: list[Finding]) -> None:
        self._findings = findings
        flagged = self._flagged = {index for finding in findings for index in finding.samples}
        if self.asleep:
            return
        await self.remove_children(DoctorCard)
        for column in self.columns:
            column.set_class(column.index in flagged, "-flagged")
        if findings:
            await self.mount_all([DoctorCard(f) for f in findings])
