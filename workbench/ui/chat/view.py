"""The Chat pane: send a prompt, stream n samples side by side, summarise, diagnose, autosave.

The shell mounts ``ChatView(engine=..., store=..., id="chat")`` and calls ``set_profile`` and
``set_engine_ready`` as the engine loads. Streaming runs in this widget's own async worker; deltas
are buffered per pane and appended to each pane's TextPane by one paced timer (at most
``flush_hz``, slower when frames cost more; ``chat.pacing``), so a token never re-renders a
message. The session's state and decisions live in ``workbench.chat.session``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Input, Static

from workbench.chat.doctor import diagnose
from workbench.chat.export import RunCard, export_chat
from workbench.chat.model import AssistantTurn, Conversation, SampleRecord, UserTurn
from workbench.chat.pacing import FlushPacer
from workbench.chat.session import TEMPERATURE_STEP, ChatSession
from workbench.chat.store import ChatStore, ChatStoreError
from workbench.engine.api import (
    ChatMessage,
    ChatOverrides,
    EngineError,
    EngineFigures,
    EngineService,
    PromptCount,
    RequestFailed,
    RequestFinished,
    SampleDelta,
    SampleFinished,
)
from workbench.ui.chat.autosave import ChatAutosaver
from workbench.ui.chat.prompt import ConversationLog, PromptInput
from workbench.ui.chat.reader import SampleReader
from workbench.ui.chat.turns import AssistantTurnView, UserMessage

if TYPE_CHECKING:
    from workbench.profiles import LoadedProfile

MIN_FLUSH_HZ = 4.0


class ChatView(Vertical):
    """Conversation, n-up samples with thinking panels, quick controls and the prompt input."""

    DEFAULT_CSS = """
    ChatView { height: 1fr; }
    ChatView > .quick-bar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    ChatView > .chat-queued { height: 1; padding: 0 1; }
    ChatView > Input { margin: 0; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "abort", "Abort"),
        Binding("1", "pick_sample(1)", "Pick sample", key_display="1-9"),
        *[
            Binding(str(k), f"pick_sample({k})", f"Pick sample {k}", show=False)
            for k in range(2, 10)
        ],
        Binding("plus,equals_sign", "more_samples", "n+", key_display="+"),
        Binding("minus", "fewer_samples", "n-", key_display="-"),
        Binding("right_square_bracket", "warmer", "temp+", key_display="]"),
        Binding("left_square_bracket", "cooler", "temp-", key_display="["),
        Binding("t", "toggle_thinking", "Thinking"),
        Binding("v", "read", "Read in full"),
        Binding("e", "export", "Export", show=False),
        Binding("r", "resume_last", "Resume", show=False),
        Binding("i,enter", "focus_input", "Write", show=False),
    ]

    COMMANDS: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("Chat: abort", "Stop the running request (Esc)", "abort"),
        ("Chat: more samples (n+1)", "Ask for one more sample next turn (+)", "more_samples"),
        ("Chat: fewer samples (n-1)", "Ask for one sample fewer next turn (-)", "fewer_samples"),
        ("Chat: warmer", "Raise the temperature by 0.1 for the next turn (])", "warmer"),
        ("Chat: cooler", "Lower the temperature by 0.1 for the next turn ([)", "cooler"),
        ("Chat: toggle thinking", "Turn the model's thinking on or off (t)", "toggle_thinking"),
        (
            "Chat: continue with the majority",
            "Continue the conversation with a sample of the majority answer",
            "pick_majority",
        ),
        (
            "Chat: read a sample in full",
            "The whole thinking and answer of a sample, live while it streams (v)",
            "read",
        ),
        ("Chat: export", "Write this chat as Markdown and JSON with a run card (e)", "export"),
        ("Chat: resume last chat", "Open the most recently autosaved chat (r)", "resume_last"),
        ("Chat: new chat", "Start an empty conversation", "new_chat"),
    )

    def __init__(
        self,
        *,
        engine: EngineService,
        store: ChatStore | None = None,
        export_dir: Path | None = None,
        flush_hz: float = 20.0,
        autosave_interval_s: float = 2.0,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.engine = engine
        self.store = store
        self.export_dir = export_dir
        self.flush_hz = flush_hz
        self.autosave_interval_s = autosave_interval_s
        self.session = ChatSession()
        self.figures: EngineFigures | None = None
        self.streaming_turn: AssistantTurn | None = None
        self._streaming_view: AssistantTurnView | None = None
        self._flush_timer: Timer | None = None
        self._flush_due: float | None = 0.0
        """When the pending timer tick was due (None: a tick run right after a key's frame)."""
        self._flushed_at = 0.0
        self._typed_at: float | None = None
        """When a key last changed the draft (the pacer lets flushes step aside for typing)."""
        self.pacer = FlushPacer(max_hz=flush_hz, min_hz=min(MIN_FLUSH_HZ, flush_hz))
        self._streamed_s_since_autosave = 0.0
        self._autosaver = ChatAutosaver(self, store)
        self.queued: list[str] = []
        """Sent with Enter while the engine was loading or a reply streamed: each goes out, in
        order, once the engine is ready and the reply before it has finished."""
        self.unavailable_reason: str | None = None
        """Why no engine is coming (a failed load, an unload); None while one loads or runs."""
        self.context: PromptCount | None = None
        """The context gauge: the next request's prompt (conversation so far, plus the draft)
        as the engine counts it; None until it has said."""
        self._context_timer: Timer | None = None

    # -- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with ConversationLog(id="chat-log"):
            yield Static("", classes="chat-placeholder")
        yield Static("", classes="chat-queued")
        yield Static("", classes="quick-bar")
        yield PromptInput(placeholder="Message the model — Enter sends", id="chat-input")

    def on_mount(self) -> None:
        self._refresh_placeholder()
        self._refresh_quick_bar()
        self._show_queued()

    @property
    def log_view(self) -> ConversationLog:
        return self.query_one(ConversationLog)

    # -- wiring from the shell ----------------------------------------------------

    @property
    def profile(self) -> LoadedProfile | None:
        return self.session.profile

    @property
    def conversation(self) -> Conversation:
        return self.session.conversation

    def set_profile(self, loaded: LoadedProfile | None) -> None:
        """The profile the engine is (being) loaded with; its [sampling]/[chat] are the defaults."""
        self.session.use_profile(loaded)
        self._refresh_quick_bar()
        self._refresh_placeholder()

    def set_engine_ready(self, figures: EngineFigures | None) -> None:
        """The engine is ready (with vLLM's figures), or not ready (None)."""
        self.figures = figures
        self.unavailable_reason = None
        self._refresh_placeholder()
        self.context = None
        self._refresh_quick_bar()
        self.refresh_context()
        if figures is not None and self.queued:
            self.call_later(self._send_queued)

    def set_engine_unavailable(self, reason: str) -> None:
        """The load failed or the engine went away: the next queued message is not sent; it
        goes back into the input so nothing typed is lost (any others stay queued for the next
        load)."""
        self.figures = None
        self.unavailable_reason = reason
        self.context = None
        self._refresh_quick_bar()
        self._refresh_placeholder()
        queued = self.queued.pop(0) if self.queued else None
        self._show_queued()
        if queued is not None:
            prompt = self.query_one(PromptInput)
            if not prompt.value.strip():
                prompt.value = queued
            self.notify(f"Not sent ({reason}); your message is back in the input.",
                        severity="warning")

    @property
    def queued_prompt(self) -> str | None:
        """The next queued message (None: nothing queued)."""
        return self.queued[0] if self.queued else None

    async def _send_queued(self) -> None:
        if self.queued and self.ready and not self.streaming:
            await self.send(self.queued.pop(0))
        self._show_queued()

    def _show_queued(self) -> None:
        line = self.query_one(".chat-queued", Static)
        line.display = bool(self.queued)
        if self.queued:
            name = self.profile.name if self.profile else "the model"
            first = self.queued[0].splitlines()[0]
            more = f" (+{len(self.queued) - 1} more)" if len(self.queued) > 1 else ""
            when = "after this reply" if self.streaming else f"when {name} is ready"
            line.update(
                Content.assemble(
                    ("⏳ queued: ", "bold $warning"),
                    (first if len(first) <= 60 else first[:59] + "…", ""),
                    (more, "bold"),
                    (f"  — sends {when} (Enter queues another)", "dim"),
                )
            )

    @property
    def ready(self) -> bool:
        return self.figures is not None

    @property
    def streaming(self) -> bool:
        return self.streaming_turn is not None

    # -- effective settings (owned by the session) ------------------------------------

    def effective_n(self) -> int:
        return int(self.session.effective("n"))

    def _refresh_quick_bar(self) -> None:
        session = self.session
        temperature = session.effective("temperature")
        temperature_text = f"{temperature:.1f}" if temperature is not None else "model default"
        thinking = "on" if session.effective("enable_thinking") else "off"

        def changed(flag: bool) -> str:
            return "bold $accent" if flag else ""

        hint = (
            "   Esc leaves the input, then: +/- n  [/] temperature  t thinking  1-9 pick",
            "dim",
        )
        context = self.context
        gauge: list[tuple[str, str]] = []
        if context is not None:
            style = "" if context.fraction < 0.8 else "$warning"
            gauge = [
                ("  context ", "dim"),
                (f"{context.tokens:,}/{context.max_model_len:,}", style),
                (f" ({context.fraction * 100:.0f}%)", "dim"),
            ]
            if not context.fits:
                room = f"max_tokens {context.max_tokens:,}" if context.max_tokens else "no room"
                hint = (
                    f"   ⚠ the next turn does not fit ({room} left for the reply): "
                    "start a new chat or raise max_model_len",
                    "bold $error",
                )
        bar = Content.assemble(
            ("n ", "dim"),
            (str(self.effective_n()), changed(session.overridden("n"))),
            ("  temperature ", "dim"),
            (temperature_text, changed(session.overridden("temperature"))),
            ("  thinking ", "dim"),
            (thinking, changed(session.overridden("enable_thinking"))),
            *gauge,
            hint,
        )
        self.query_one(".quick-bar", Static).update(bar)

    # -- the context gauge ----------------------------------------------------------

    CONTEXT_DEBOUNCE_S = 0.5
    """A draft is counted once typing pauses this long (one engine round trip per pause)."""

    def refresh_context(self) -> None:
        """Count the next request's prompt again (off the UI thread's critical path)."""
        if self.ready and not self.streaming:
            self._count_context()

    @on(Input.Changed, "#chat-input")
    def _draft_changed(self) -> None:
        if self._streaming_view is not None:
            self._typed_mid_stream()
        if self._context_timer is not None:
            self._context_timer.stop()
        self._context_timer = self.set_timer(self.CONTEXT_DEBOUNCE_S, self.refresh_context)

    @work(exclusive=True, group="context", exit_on_error=False, description="count the prompt")
    async def _count_context(self) -> None:
        messages = self.conversation.messages_for_next_request()
        draft = self.query_one(PromptInput).value.strip()
        if draft:
            messages.append(ChatMessage("user", draft))
        elif not messages:
            messages.append(ChatMessage("user", ""))  # the template's own tokens
        try:
            count = await self.engine.count_prompt(messages, self.session.overrides)
        except EngineError as error:
            self.notify(error.message, title="Context", severity="warning")
            count = None
        if self.ready:
            self.context = count
            self._refresh_quick_bar()

    def _refresh_placeholder(self) -> None:
        placeholder = self.query_one(".chat-placeholder", Static)
        placeholder.display = not self.conversation.turns
        if self.ready:
            name = self.profile.name if self.profile else "the model"
            placeholder.update(f"Ready: {name} is loaded. Type a message below and press Enter.")
        elif self.unavailable_reason is not None:
            placeholder.update(
                f"No model: {self.unavailable_reason}. F5 loads the profile again, F6 shows "
                "the last error."
            )
        elif self.profile is not None:
            placeholder.update(f"Waiting for {self.profile.name} to load…")
        else:
            placeholder.update(
                "No model loaded. Load a profile in the Profiles tab, or resume a chat (r)."
            )

    # -- sending ------------------------------------------------------------------

    @on(PromptInput.LeaveRequested)
    def _on_prompt_leave_requested(self, event: PromptInput.LeaveRequested) -> None:
        event.stop()
        self.log_view.focus()

    @on(Input.Submitted, "#chat-input")
    async def _on_prompt_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        if self.streaming or not self.ready:
            if not self.ready and self.profile is None:
                self.notify("No model is loaded yet: load a profile first.", severity="warning")
                return
            # A reply streams or the engine loads: keep the message; it goes out in turn.
            self.queued.append(text)
            event.input.clear()
            self._show_queued()
            return
        event.input.clear()
        await self.send(text)

    async def send(self, text: str) -> AssistantTurn:
        """Add a user turn and start streaming the reply; returns the (live) assistant turn."""
        request = self.session.next_request(text)
        turn = request.turn
        # Mark streaming before the first await, so a second Enter cannot start another request.
        self.streaming_turn = turn
        self.query_one(PromptInput).streaming = True
        turn_view = AssistantTurnView(turn)
        self._refresh_placeholder()
        await self.log_view.mount_all([UserMessage(text), turn_view])
        self.log_view.scroll_end(animate=False)
        self._streaming_view = turn_view
        self._streamed_s_since_autosave = 0.0
        self._flushed_at = time.perf_counter()
        # The flush timer runs only while a reply streams; each tick schedules the next one
        # from the measured cost of the last frame (FlushPacer).
        self._schedule_flush()
        self.refresh_bindings()
        self.autosave()  # the prompt is saved before the reply starts
        self._stream(turn, turn_view, request.messages, request.overrides)
        return turn

    @work(exclusive=True, group="chat", exit_on_error=False, description="chat stream")
    async def _stream(
        self,
        turn: AssistantTurn,
        turn_view: AssistantTurnView,
        messages: list[ChatMessage],
        overrides: ChatOverrides,
    ) -> None:
        try:
            async for event in self.engine.chat(messages, overrides, request_id=turn.request_id):
                if isinstance(event, SampleDelta):
                    turn.sample(event.index).append(event.reasoning, event.content)
                    turn_view.column(event.index).buffer(event.reasoning, event.content)
                elif isinstance(event, SampleFinished):
                    record = turn.sample(event.index)
                    record.reasoning = event.reasoning
                    record.content = event.content
                    record.stats = event.stats
                    await turn_view.column(event.index).finish(record)
                elif isinstance(event, RequestFinished):
                    turn.aborted = event.aborted
                    turn.error = event.error
                elif isinstance(event, RequestFailed):
                    turn.error = event.error.message
                    turn_view.show_error(f"Request failed: {event.error.message}")
        except EngineError as error:
            turn.error = error.message
            turn_view.show_error(f"Request failed: {error.message}")
        finally:
            await self._finish_turn(turn, turn_view)

    async def _finish_turn(self, turn: AssistantTurn, turn_view: AssistantTurnView) -> None:
        await self.flush_now()
        turn.done = True
        self.streaming_turn = None
        self.query_one(PromptInput).streaming = False
        self._streaming_view = None
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        records = {record.index: record for record in turn.samples}
        for column in turn_view.columns:
            if column.finished:
                continue
            record = records.get(column.index)
            await column.finish(record or SampleRecord(column.index))
            if record is None:
                column.set_header(f"Sample {column.index + 1} · not returned")
        await self._decorate(turn, turn_view)
        self.log_view.call_after_refresh(self.log_view.update_sleep)
        self.autosave()
        self.refresh_bindings()
        self.refresh_context()
        if self.queued:
            self.call_later(self._send_queued)

    async def _decorate(self, turn: AssistantTurn, turn_view: AssistantTurnView) -> None:
        """Summary and doctor cards for a finished turn."""
        if turn.n_requested > 1 or len(turn.samples) > 1:
            turn_view.show_summary()
        if turn.error and not turn_view.error_shown:
            turn_view.show_error(turn.error)
        await turn_view.show_findings(diagnose(turn.samples, self.session.turn_context(turn)))

    # -- buffered streaming -------------------------------------------------------

    def _schedule_flush(self, interval: float | None = None) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
        if interval is None:
            interval = self.pacer.interval_s
        self._flush_due = time.perf_counter() + interval
        self._flush_timer = self.set_timer(interval, self._timed_flush)

    def _typed_mid_stream(self) -> None:
        """A key changed the draft while a reply streams: flushes wait for typing to pause,
        and stale text is flushed right after this key's frame has been painted."""
        now = time.perf_counter()
        self._typed_at = now
        if self.pacer.flush_after_key(now, self._flushed_at):
            if self._flush_timer is not None:
                self._flush_timer.stop()
                self._flush_timer = None
            self._flush_due = None
            self._flushed_at = now  # one flush per stale interval, however many keys follow
            self.call_after_refresh(self._timed_flush, after_key=True)

    async def _timed_flush(self, *, after_key: bool = False) -> None:
        self._flush_timer = None
        if self._streaming_view is None:
            return
        started = time.perf_counter()
        if not after_key:
            wait = self.pacer.defer_s(started, self._typed_at, self._flushed_at)
            if wait > 0:
                self._schedule_flush(wait)
                return
        # A tick that fires late found the UI thread busy (painting the last frame, handling
        # deltas): that lateness is part of what a frame costs here.
        due = self._flush_due
        lateness = max(0.0, started - due) if due is not None else 0.0
        await self.flush_tick()
        self._flushed_at = time.perf_counter()
        self.pacer.record(self._flushed_at - started + lateness)
        if self._streaming_view is not None:
            self._schedule_flush()

    async def flush_tick(self) -> None:
        """One timer tick: flush buffered deltas; every ``autosave_interval_s`` of streaming,
        autosave (streaming time counted in the paced intervals, so tests can drive it without
        a clock)."""
        if self._streaming_view is None:
            return
        await self._streaming_view_flush(self._streaming_view)
        self._streamed_s_since_autosave += self.pacer.interval_s
        if self._streamed_s_since_autosave >= self.autosave_interval_s - 1e-9:
            self._streamed_s_since_autosave = 0.0
            self.autosave()

    async def _streaming_view_flush(self, turn_view: AssistantTurnView) -> None:
        log = self.log_view
        # Follow the stream only while the reader is at the bottom; scrolling up stops following.
        following = log.max_scroll_y - log.scroll_y <= 1
        for column in turn_view.columns:
            if column.has_pending:
                column.flush()
        if following:
            log.call_after_refresh(log.scroll_end, animate=False)

    async def flush_now(self) -> None:
        """Write every buffered delta now (the timer does this ~20 times a second)."""
        if self._streaming_view is not None:
            await self._streaming_view_flush(self._streaming_view)

    # -- autosave / resume / export -----------------------------------------------

    def autosave(self) -> None:
        """Save the conversation (snapshot here, written in a worker thread)."""
        self._autosaver.save(self.conversation)

    async def load_chat(self, saved: Conversation) -> None:
        """Show a saved conversation; the next message continues it (refused mid-stream)."""
        if self._refuse_while_streaming("open another chat"):
            return
        self.session.conversation = saved
        log = self.log_view
        await log.remove_children(UserMessage)
        await log.remove_children(AssistantTurnView)
        for turn in saved.turns:
            if isinstance(turn, UserTurn):
                await log.mount(UserMessage(turn.content))
                continue
            turn.done = True
            turn_view = AssistantTurnView(turn)
            await log.mount(turn_view)
            for record in turn.samples:
                column = turn_view.column(record.index)
                column.finished = True
                await column.show_record(record)
            await self._decorate(turn, turn_view)
        self._refresh_placeholder()
        self.refresh_context()
        log.scroll_end(animate=False)
        log.call_after_refresh(log.update_sleep)
        self.refresh_bindings()

    def _refuse_while_streaming(self, what: str) -> bool:
        # Swapping the conversation under a live stream would leave its worker writing into
        # removed widgets; the user aborts first (one key), then acts.
        if self.streaming:
            self.notify(f"A reply is streaming: press Esc to abort it, then {what}.")
        return self.streaming

    async def action_resume_last(self) -> None:
        """Open the most recently autosaved chat."""
        if self._refuse_while_streaming("resume a chat"):
            return
        if self.store is None:
            self.notify("Chats are not being saved in this session.", severity="warning")
            return
        try:
            latest = self.store.latest()
        except ChatStoreError as error:
            self.notify(str(error), severity="error")
            return
        if latest is None:
            self.notify(f"No saved chats in {self.store.directory}.")
            return
        await self.load_chat(latest)
        self.notify(f"Resumed chat “{latest.title or latest.id}”.")

    async def action_new_chat(self) -> None:
        """Start an empty conversation (the current one stays saved)."""
        if self._refuse_while_streaming("start a new chat"):
            return
        self.autosave()
        self.session.new_conversation()
        await self.log_view.remove_children(UserMessage)
        await self.log_view.remove_children(AssistantTurnView)
        self._refresh_placeholder()
        self.refresh_context()

    def run_card(self) -> RunCard:
        """How this chat's answers were made: profile, sampling (with the quick changes), engine."""
        return self.session.run_card(self.figures)

    def action_export(self) -> None:
        """Write the chat as Markdown and JSON (with a run card) under the data dir."""
        if not self.conversation.turns:
            self.notify("Nothing to export yet.")
            return
        directory = self.export_dir
        if directory is None:
            from workbench.paths import data_dir

            directory = data_dir() / "exports"
        snapshot = Conversation.from_dict(self.conversation.to_dict())
        card = self.run_card()
        self._export(snapshot, card, directory)

    @work(thread=True, group="chat-export", exit_on_error=False, description="export chat")
    def _export(self, conversation: Conversation, card: RunCard, directory: Path) -> None:
        try:
            markdown_path, json_path = export_chat(conversation, card, directory)
        except OSError as error:
            self.app.call_from_thread(
                self.notify,
                f"Could not export to {directory}: {error.strerror or error}",
                title="Chat export",
                severity="error",
            )
            return
        self.app.call_from_thread(
            self.notify, f"Exported to {markdown_path} and {json_path.name}", title="Chat export"
        )

    # -- actions ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "abort":
            return self.streaming
        if action == "read":
            return any(isinstance(t, AssistantTurn) for t in self.conversation.turns)
        if action in ("pick_sample", "pick_majority"):
            turn = self.session.last_multi_sample_turn()
            if turn is None:
                return None
            if action == "pick_sample" and parameters:
                return True if int(str(parameters[0])) <= len(turn.samples) else None
        return True

    async def action_abort(self) -> None:
        """Abort the running request (its samples end with finish reason "abort")."""
        turn = self.streaming_turn
        if turn is None:
            return
        await self.engine.abort(turn.request_id)

    def action_pick_sample(self, number: int) -> None:
        """Continue the conversation with sample ``number`` (1-based) of the last turn."""
        turn = self.session.last_multi_sample_turn()
        if turn is None or not any(s.index == number - 1 for s in turn.samples):
            self.notify(f"There is no sample {number} to continue with.", severity="warning")
            return
        turn.picked = number - 1
        views = list(self.log_view.query(AssistantTurnView))
        if views:
            views[-1].show_summary()
        self.autosave()
        self.notify(f"Continuing with sample {number}.")
        self.action_focus_input()

    def action_pick_majority(self) -> None:
        """Continue with the first sample of the majority answer."""
        turn = self.session.last_multi_sample_turn()
        views = list(self.log_view.query(AssistantTurnView))
        if turn is None or not views:
            return
        summary = views[-1].show_summary()
        if summary is None or summary.majority is None:
            self.notify("There is no majority answer to continue with.", severity="warning")
            return
        self.action_pick_sample(summary.majority.indices[0] + 1)

    def action_read(self) -> None:
        """Open the reader on the streaming turn (or the last one): its continued sample."""
        turn = self.streaming_turn
        if turn is None:
            turns = [t for t in self.conversation.turns if isinstance(t, AssistantTurn)]
            turn = turns[-1] if turns else None
        if turn is None:
            self.notify("Nothing to read yet.")
            return
        self.app.push_screen(SampleReader(turn, turn.picked or 0))

    def action_more_samples(self) -> None:
        """n + 1 for the next turn."""
        self.session.more_samples()
        self._refresh_quick_bar()

    def action_fewer_samples(self) -> None:
        """n - 1 for the next turn."""
        self.session.fewer_samples()
        self._refresh_quick_bar()

    def action_warmer(self) -> None:
        """Temperature + 0.1 for the next turn."""
        self.session.step_temperature(TEMPERATURE_STEP)
        self._refresh_quick_bar()

    def action_cooler(self) -> None:
        """Temperature - 0.1 for the next turn."""
        self.session.step_temperature(-TEMPERATURE_STEP)
        self._refresh_quick_bar()

    def action_toggle_thinking(self) -> None:
        """Thinking on/off for the next turn."""
        self.session.toggle_thinking()
        self._refresh_quick_bar()
        self.refresh_context()  # the template renders (or closes) the think block

    def action_focus_input(self) -> None:
        self.query_one("#chat-input", Input).focus()

    async def on_unmount(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
