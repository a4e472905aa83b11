"""The workbench App: wires the status bar, VRAM gauge and the four panes; owns load and shutdown.

Everything blocking runs in workers; their failures all land in one ``Worker.StateChanged``
handler. ``create_app`` is the one factory the CLI, the tests and the screenshot script use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from workbench.estimate.cpu_kv import cpu_kv_budget
from workbench.estimate.errors import EstimateError
from workbench.ui import textual_fixes
from workbench.ui.chat.view import ChatView
from workbench.ui.log_view import LogView
from workbench.ui.messages import (
    EngineLoaded,
    EngineStateChanged,
    LoadFailed,
    LoadProgressed,
    LoadRequested,
    ProfileIoFailed,
    ProfileReloaded,
    ProfileSaved,
    TuneRequested,
    VramSampled,
)
from workbench.ui.profiles_view import ProfilesView
from workbench.ui.tuner_view import TunerView
from workbench.ui.widgets.footer import KeyFooter
from workbench.ui.widgets.status_bar import StatusBar
from workbench.ui.widgets.vram_gauge import VramGauge

if TYPE_CHECKING:
    from workbench.chat.store import ChatStore
    from workbench.engine.api import EngineError, EngineService
    from workbench.engine.lifetime import EngineRegistry, Leftover
    from workbench.estimate import GpuSpec
    from workbench.gpu import VramSampler
    from workbench.profiles import LoadedProfile

# Textual 8.2.8 keeps removed widgets' rendered lines alive (textual#6665); fixed before any
# app of ours renders. Here, not in workbench.ui's __init__: `workbench --help` stays Textual-free.
textual_fixes.apply()

TABS = ("profiles", "tuner", "chat", "log")


class WorkbenchApp(App[None]):
    """Profiles, tuner, chat and engine log around one embedded engine."""

    CSS_PATH = "ui/app.tcss"
    TITLE = "workbench"
    BINDINGS = [
        Binding("f1", "show_tab('profiles')", "Profiles"),
        Binding("f2", "show_tab('tuner')", "Tuner"),
        Binding("f3", "show_tab('chat')", "Chat"),
        Binding("f4", "show_tab('log')", "Log"),
        Binding("f5", "reload", "Reload"),
        Binding("f6", "show_error", "Error"),
        Binding("f8", "unload", "Unload"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        *,
        engine: EngineService,
        sampler: VramSampler,
        initial_profile: str | LoadedProfile | None = None,
        autoload: bool = False,
        project_dir: Path | None = None,
        user_dir: Path | None = None,
        chat_store: ChatStore | None = None,
        gpu: GpuSpec | None = None,
        sample_interval_s: float = 0.5,
        resume: bool = False,
        registry: EngineRegistry | None = None,
    ) -> None:
        super().__init__()
        self.registry = registry
        self.engine = engine
        self.sampler = sampler
        self.initial_profile = initial_profile
        self.autoload = autoload
        self.project_dir = project_dir
        self.user_dir = user_dir
        self.chat_store = chat_store
        self.gpu = gpu
        self.sample_interval_s = sample_interval_s
        self.resume = resume
        self.active_profile: LoadedProfile | None = None
        self.last_error: EngineError | None = None
        self._sampling = threading.Lock()
        self._sample_timer: Timer | None = None
        self._shut_down = False
        self._reported_sampler_errors: set[str] = set()
        self._engine_state = engine.state
        engine.add_state_listener(lambda state: self.post_message(EngineStateChanged(state)))

    # -- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="top"):
            yield StatusBar(live_clock=self.sample_interval_s > 0, id="status")
            yield VramGauge(id="gauge")
        with TabbedContent(id="tabs", initial="profiles"):
            with TabPane("Profiles", id="profiles"):
                yield ProfilesView(
                    project_dir=self.project_dir, user_dir=self.user_dir, gpu=self.gpu,
                    id="profiles-view",
                )
            with TabPane("Tuner", id="tuner"):
                yield TunerView(gpu=self.gpu, id="tuner-view")
            with TabPane("Chat", id="chat-tab"):
                yield ChatView(engine=self.engine, store=self.chat_store, id="chat")
            with TabPane("Log", id="log"):
                yield LogView(
                    self.engine.log_lines,
                    poll_s=1.0 if self.sample_interval_s > 0 else None,
                    id="log-view",
                )
        yield KeyFooter()

    @property
    def chat_view(self) -> ChatView:
        """The Chat pane's view."""
        return self.query_one(ChatView)

    def on_mount(self) -> None:
        # After the first refresh: TabbedContent applies its initial tab when it mounts.
        # Started to chat with a profile (`make run`, `workbench app NAME`): open on Chat with the
        # keyboard in the input, so the first thing typed is the first question.
        to_chat = self.resume or (self.initial_profile is not None and self.autoload)
        self.call_after_refresh(self.action_show_tab, "chat" if to_chat else "profiles")
        if self.initial_profile is not None:
            self._activate_initial_profile(self.initial_profile)
        if self.resume:
            self.call_later(self.chat_view.action_resume_last)
        if self.registry is not None:
            self._find_leftover_engines()
        self.sample_vram()
        if self.sample_interval_s > 0:
            self._sample_timer = self.set_interval(self.sample_interval_s, self.sample_vram)

    def _activate_initial_profile(self, name: str | LoadedProfile) -> None:
        from workbench.profiles import ProfileError
        from workbench.ui.profile_access import find_profile

        if isinstance(name, str):
            try:
                loaded = find_profile(name, self.project_dir, self.user_dir, self.gpu)
            except ProfileError as error:
                self.notify(str(error), title="Profile", severity="error")
                return
        else:
            loaded = name  # built in memory (`workbench app --url`): no file behind it
        self._set_active_profile(loaded)
        self.query_one(TunerView).open_profile(loaded)
        if self.autoload:
            self.start_load(loaded)

    def _set_active_profile(self, loaded: LoadedProfile) -> None:
        self.active_profile = loaded
        self.query_one(StatusBar).show_profile(loaded.name, str(loaded.origin))
        self.chat_view.set_profile(loaded)

    # -- engines an earlier run left behind -----------------------------------------

    @work(thread=True, group="leftovers", exit_on_error=False,
          description="look for leftover engines")
    def _find_leftover_engines(self) -> None:
        assert self.registry is not None
        leftovers = self.registry.leftovers()
        if leftovers:
            self.call_from_thread(self._offer_to_stop, leftovers)

    def _offer_to_stop(self, leftovers: list[Leftover]) -> None:
        """A crash (or kill -9) left engines running: say what they hold, stop them if asked."""
        from workbench.ui.screens.dialogs import ConfirmScreen

        memory = sum(leftover.rss_bytes for leftover in leftovers) / 1024**3
        detail = "\n".join(leftover.describe() for leftover in leftovers)

        def answered(stop: bool | None) -> None:
            if stop:
                self._stop_leftovers(leftovers)

        self.push_screen(
            ConfirmScreen(
                f"An earlier run left {len(leftovers)} engine(s) running ({memory:.1f} GiB). "
                "Stop them?",
                detail + "\nThey hold memory (on a GPU: VRAM) the next load needs.",
                "Stop them",
            ),
            answered,
        )

    @work(thread=True, group="leftovers", exit_on_error=False,
          description="stop leftover engines")
    def _stop_leftovers(self, leftovers: list[Leftover]) -> None:
        assert self.registry is not None
        stuck = [pid for leftover in leftovers for pid in self.registry.stop(leftover)]
        if stuck:
            self.call_from_thread(
                self.notify, f"could not stop pids {stuck}", title="Engines", severity="error"
            )
        else:
            self.call_from_thread(
                self.notify, f"stopped {len(leftovers)} leftover engine(s)", title="Engines"
            )

    # -- VRAM sampling, off the UI thread ---------------------------------------------

    def _gauge(self) -> VramGauge | None:
        """The gauge; None once the app tears its screen down (a reading that arrives then,
        from the sampling thread or a scrape, has nowhere to go)."""
        if self._shut_down or not self.screen_stack:
            return None
        try:  # query_one caches the node: no walk over a long chat's widgets per reading
            return self.screen_stack[0].query_one(VramGauge)
        except NoMatches:
            return None

    def sample_vram(self) -> None:
        """Take one VRAM reading in a thread (skipped if the previous one is still running);
        with a deployment as the engine, scrape its /metrics instead."""
        gauge = self._gauge()
        if gauge is None:
            return
        if getattr(self.engine, "remote_active", False) or gauge.remote:
            self._sample_remote()  # (the last scrape clears the gauge once it is not remote)
        if self._sampling.acquire(blocking=False):
            self._sample_vram_thread()

    @work(exclusive=True, group="remote-metrics", exit_on_error=False,
          description="read the deployment's /metrics")
    async def _sample_remote(self) -> None:
        result = await self.engine.remote_metrics()  # type: ignore[attr-defined]
        state = self.engine.state
        label = state.figures.device if state.figures is not None else None
        gauge = self._gauge()
        if gauge is not None:
            gauge.record_remote(label if result is not None else None, result)

    @work(thread=True, group="vram", exit_on_error=False, description="sample VRAM")
    def _sample_vram_thread(self) -> None:
        try:
            sample = self.sampler.sample(engine_pids=self.engine.state.pids)
        finally:
            self._sampling.release()
        self.post_message(VramSampled(sample))

    @on(VramSampled)
    def _vram_sampled(self, event: VramSampled) -> None:
        gauge = self._gauge()
        if gauge is None:
            return
        state = self.engine.state
        figures = state.figures if state.status == "ready" else None
        live = getattr(self.engine, "live_metrics", None)
        gauge.record(
            event.sample,
            state.pids,
            figures,
            self._kv_budget_bytes(figures),
            live=live() if live is not None and figures is not None else None,
        )

    def _kv_budget_bytes(self, figures: Any) -> int | None:
        """The CPU engine's KV budget: vLLM's figure once loaded, else the profile's setting."""
        if figures is not None and figures.available_kv_bytes is not None:
            return int(figures.available_kv_bytes)
        profile = self.active_profile
        if profile is None:
            return None
        try:
            return cpu_kv_budget(
                profile.profile.engine.kv_cache_memory_bytes,
                profile_env=profile.profile.env,
                environ=os.environ,
            ).bytes
        except EstimateError:  # the load says so, with the fix; the gauge just has no budget
            return None

    # -- loading ----------------------------------------------------------------------

    def start_load(self, loaded: LoadedProfile) -> None:
        """Load ``loaded`` into the engine (replacing whatever is loaded); a profile from
        someone else that runs code (trust_remote_code, [env], a custom chat template) asks
        first."""
        if self._ask_consent(loaded):
            return
        from workbench.profiles.loader import unapplied_gpu_overrides

        note = unapplied_gpu_overrides(loaded)
        if note:
            self.notify(note, title=loaded.name, timeout=10)
        self._set_active_profile(loaded)
        self.last_error = None
        self.chat_view.set_engine_ready(None)
        self.query_one(TunerView).show_actual(None, None)  # the old engine goes
        self._load_engine(loaded)

    def _ask_consent(self, loaded: LoadedProfile) -> bool:
        """True when ``loaded`` waits for the user's yes (asked in a dialog) before loading."""
        from workbench.paths import data_dir
        from workbench.profiles.trust import grant, pending_consent
        from workbench.ui.screens.dialogs import ConfirmScreen

        if loaded.profile.deployment is not None:
            return False  # a deployment runs nothing on this machine
        request = pending_consent(loaded, data_dir())
        if request is None:
            return False
        detail = "\n".join(f"• {item.key}: {item.why}  ({item.where()})" for item in request.items)

        def answered(yes: bool | None) -> None:
            if yes:
                grant(request, data_dir())
                self.start_load(loaded)
                return
            self._set_active_profile(loaded)
            self.chat_view.set_engine_unavailable(
                f"{loaded.name} was not loaded: it needs your consent (F5 asks again)"
            )
            self.notify(request.message(), title="Not loaded", severity="warning", timeout=15)

        self.push_screen(
            ConfirmScreen(
                f"{loaded.name} comes from a file you did not write, and it asks to run code "
                "on this machine. Load it?",
                detail + "\nRead the file first. Yes is remembered until the file changes.",
                "Trust and load",
            ),
            answered,
        )
        return True

    @work(exclusive=True, group="engine", exit_on_error=False, description="load the engine")
    async def _load_engine(self, loaded: LoadedProfile) -> None:
        from workbench.engine.api import EngineError

        try:
            async for progress in self.engine.load(loaded):
                self.post_message(LoadProgressed(progress))
        except EngineError as error:
            self.post_message(LoadFailed(loaded, error))
            return
        self.post_message(EngineLoaded(loaded, self.engine.state.figures))

    @on(EngineStateChanged)
    def _engine_state_changed(self, event: EngineStateChanged) -> None:
        """What the engine says it is, shown at once: above all an engine that died after its
        load (killed, out of memory, crashed), which no request may be there to report."""
        previous, state = self._engine_state, event.state
        self._engine_state = state
        if self._shut_down:
            return
        bar = self.query_one(StatusBar)
        if state.status == "loading" and previous.status != "loading":
            # Never the old engine's "ready" under the new profile's name.
            from workbench.engine.api import LoadProgress, LoadStage

            bar.show_progress(LoadProgress(state.stage or LoadStage.VALIDATING, 0.0, ""))
        elif state.status == "error" and previous.status == "ready" and state.error is not None:
            self.last_error = state.error
            bar.show_error(state.error)
            name = state.profile_name or "the profile"
            self.chat_view.set_engine_unavailable(f"the engine died · F5 loads {name} again")
            self.query_one(TunerView).show_actual(None, None)
            self.query_one(LogView).refresh_lines()
            self.notify(
                f"{state.error.message}\nF5 loads {name} again · F6 shows the cause and the log",
                title="Engine died", severity="error", timeout=30,
            )

    @on(LoadRequested)
    def _load_requested(self, event: LoadRequested) -> None:
        self.start_load(event.profile)

    @on(TuneRequested)
    def _tune_requested(self, event: TuneRequested) -> None:
        self.query_one(TunerView).open_profile(event.profile)
        self.action_show_tab("tuner")

    @on(LoadProgressed)
    def _load_progressed(self, event: LoadProgressed) -> None:
        self.query_one(StatusBar).show_progress(event.progress)
        self.query_one(LogView).refresh_lines()

    @on(EngineLoaded)
    def _engine_loaded(self, event: EngineLoaded) -> None:
        self.query_one(StatusBar).show_ready(event.figures)
        tuner = self.query_one(TunerView)
        if tuner.profile is None:
            tuner.open_profile(event.profile)
        tuner.show_actual(event.profile.path, event.figures)
        self.chat_view.set_profile(event.profile)
        self.chat_view.set_engine_ready(event.figures)
        self.query_one(LogView).refresh_lines()
        self.notify(f"{event.profile.name} is ready", title="Engine")

    @on(LoadFailed)
    def _load_failed(self, event: LoadFailed) -> None:
        self.last_error = event.error
        self.query_one(StatusBar).show_error(event.error)
        self.chat_view.set_engine_unavailable(f"{event.profile.name} did not load")
        self.query_one(LogView).refresh_lines()
        self.show_error(event.error, event.profile)

    def show_error(self, error: EngineError, profile: LoadedProfile) -> None:
        """Open the load-failure view; its fix key saves the suggestion and reloads."""
        from workbench.ui.screens.error_screen import ErrorChoice, ErrorScreen

        def chosen(choice: ErrorChoice | None) -> None:
            if choice == "fix":
                self._confirm_fix(error, profile)
            elif choice == "log":
                self.action_show_tab("log")

        tail = list(self.engine.log_lines())[-12:]
        self.push_screen(ErrorScreen(error, profile.name, tail), chosen)

    def _confirm_fix(self, error: EngineError, profile: LoadedProfile) -> None:
        from workbench.ui.screens.dialogs import ConfirmScreen

        suggestion = error.suggestion
        if suggestion is None:
            return

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.apply_fix(error, profile)

        self.push_screen(
            ConfirmScreen(
                f"Write {suggestion.key} = {suggestion.value!r} into {profile.path.name}?",
                f"{profile.path}\nThe current file is kept as a backup; the profile then loads "
                "again.",
                "Apply & reload",
            ),
            confirmed,
        )

    @work(thread=True, exclusive=True, group="profile-io", exit_on_error=False,
          description="apply the fix")
    def apply_fix(self, error: EngineError, profile: LoadedProfile) -> None:
        """Save the error's suggestion into the profile (backup kept) and load it again."""
        from workbench.ui.profile_access import apply_suggestion

        suggestion = error.suggestion
        assert suggestion is not None
        try:
            backup, reloaded = apply_suggestion(profile, suggestion)
        except Exception as failure:  # noqa: BLE001 - one line for the user; file unchanged
            self.post_message(ProfileIoFailed("Fix not applied", str(failure)))
            return
        note = f"{suggestion.key} = {suggestion.value!r} saved"
        self.post_message(ProfileSaved(reloaded, backup, note=note, then_load=True))

    @on(ProfileSaved)
    def _profile_saved(self, event: ProfileSaved) -> None:
        backup = event.backup_path
        self.notify(event.note + (f" (backup {backup.name})" if backup else ""), title="Profile")
        self.query_one(ProfilesView).rescan()
        if self.active_profile is not None and self.active_profile.path == event.profile.path:
            self._set_active_profile(event.profile)
        tuner = self.query_one(TunerView)
        if tuner.profile is not None and tuner.profile.path == event.profile.path:
            tuner.open_profile(event.profile)
        if event.then_load:
            self.start_load(event.profile)

    @on(ProfileReloaded)
    def _profile_reloaded(self, event: ProfileReloaded) -> None:
        self.start_load(event.profile)

    @on(ProfileIoFailed)
    def _profile_io_failed(self, event: ProfileIoFailed) -> None:
        self.notify(f"{event.what}: {event.message}", title="Profile", severity="error",
                    timeout=10)

    # -- the one place worker failures land -------------------------------------------

    @on(Worker.StateChanged)
    def _worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        error = worker.error
        what = worker.description or worker.name or "background task"
        message = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
        self.log.error(f"worker {what!r} failed", error)
        if worker.group == "vram":
            # Sampling repeats a few times a second: say each distinct failure once.
            if message in self._reported_sampler_errors:
                return
            self._reported_sampler_errors.add(message)
        self.notify(message.splitlines()[0], title=f"{what} failed", severity="error",
                    timeout=10)
        if worker.group == "engine":
            self.query_one(StatusBar).show_error(None, message.splitlines()[0])

    # -- actions ----------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        """Switch to a pane: profiles, tuner, chat or log."""
        tabs = self.query_one(TabbedContent)
        tabs.active = "chat-tab" if tab == "chat" else tab
        if tab == "log":
            self.query_one(LogView).refresh_lines()
        self._focus_pane(tab)

    def _focus_pane(self, tab: str) -> None:
        """Put the keyboard where the pane's work happens, so its bindings show in the footer."""
        targets = {
            "profiles": "#profiles-table",
            "tuner": "#field-max_model_len",
            "chat": "#chat-input",  # switching to Chat means you want to type
            "log": "#log-lines",
        }
        matches = self.query(targets[tab])
        if matches:
            matches.first().focus()

    def action_reload(self) -> None:
        """Read the active profile's file again and load it (F5)."""
        if self.active_profile is None:
            self.notify("No active profile; pick one in Profiles", severity="warning")
            return
        self._reload_active(self.active_profile)

    @work(thread=True, exclusive=True, group="profile-io", exit_on_error=False,
          description="read the profile again")
    def _reload_active(self, loaded: LoadedProfile) -> None:
        from workbench.profiles import ProfileError
        from workbench.ui.profile_access import reload_profile

        try:
            self.post_message(ProfileReloaded(reload_profile(loaded)))
        except ProfileError as error:  # edited into something invalid: say where, keep running
            self.post_message(ProfileIoFailed(f"{loaded.name} not reloaded", str(error)))

    def action_metrics_help(self) -> None:
        """The run metrics' definitions (one set: engine.timing)."""
        from workbench.ui.screens.metrics_help import MetricsHelpScreen

        self.push_screen(MetricsHelpScreen())

    def action_show_error(self) -> None:
        """Open the last load failure again."""
        if self.last_error is None or self.active_profile is None:
            self.notify("No load failure to show")
            return
        self.show_error(self.last_error, self.active_profile)

    async def action_unload(self) -> None:
        """Stop the engine and free its memory."""
        self.workers.cancel_group(self, "engine")
        await self.engine.abort()
        await self.engine.unload()
        self.query_one(StatusBar).show_unloaded()
        self.chat_view.set_engine_unavailable("the engine was unloaded")
        self.query_one(TunerView).show_actual(None, None)

    async def action_quit(self) -> None:
        """Abort requests, stop the engine and the sampler, then exit."""
        self.query_one(StatusBar).show_unloaded()
        await self.shutdown()
        self.exit()

    async def shutdown(self) -> None:
        """Explicit, idempotent teardown: pollers, requests, engine."""
        if self._shut_down:
            return
        self._shut_down = True
        if self._sample_timer is not None:
            self._sample_timer.stop()
        self.workers.cancel_group(self, "engine")
        try:
            await self.engine.abort()
        finally:
            try:
                await self.engine.unload()
            finally:
                self.sampler.close()

    async def on_unmount(self) -> None:
        await self.shutdown()

    # -- command palette --------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        shell_commands = (
            ("Show profiles", "List discovered profiles", lambda: self.action_show_tab("profiles")),
            ("Show tuner", "Edit memory settings with a live estimate",
             lambda: self.action_show_tab("tuner")),
            ("Show chat", "Talk to the loaded model", lambda: self.action_show_tab("chat")),
            ("Show engine log", "Captured vLLM output", lambda: self.action_show_tab("log")),
            ("Reload engine", "Load the active profile again", self.action_reload),
            ("Unload engine", "Stop the engine and free its memory", self.action_unload),
            ("Show last load error", "Cause, log excerpt and fix", self.action_show_error),
            ("Run metrics: what each figure means",
             "TTFT, first answer, ITL, queue, cached tokens… as workbench measures them",
             self.action_metrics_help),
        )
        for title, help_text, callback in shell_commands:
            yield SystemCommand(title, help_text, callback)
        profiles = self.query_one(ProfilesView)
        for title, help_text, callback in (
            ("Load selected profile", "Load the highlighted profile",
             profiles.action_load_selected),
            ("Tune selected profile", "Open it in the tuner", profiles.action_tune_selected),
            ("Duplicate selected profile", "Copy it into the user dir",
             profiles.action_duplicate_selected),
            ("Export selected profile", "Write a shareable copy (no [env])",
             profiles.action_export_selected),
            ("Rescan profiles", "Look for profile files again", profiles.action_rescan),
        ):
            yield SystemCommand(title, help_text, callback)
        tuner = self.query_one(TunerView)
        for title, help_text, callback in (
            ("Apply largest fitting max_model_len", "Tuner: set it to what fits",
             tuner.action_apply_largest),
            ("Save tuned profile", "Write the tuner's values (backup kept)", tuner.action_save),
            ("Save tuned profile and load", "Save, then load it", tuner.action_load_tuned),
            ("Revert tuner", "Back to the saved values", tuner.action_revert),
        ):
            yield SystemCommand(title, help_text, callback)
        chat = self.chat_view
        for title, help_text, action_name in ChatView.COMMANDS:
            yield SystemCommand(title, help_text, getattr(chat, f"action_{action_name}"))


def create_app(
    *,
    engine: EngineService,
    sampler: VramSampler | None = None,
    initial_profile: str | LoadedProfile | None = None,
    autoload: bool = False,
    project_dir: Path | None = None,
    user_dir: Path | None = None,
    chat_store: ChatStore | None = None,
    gpu: GpuSpec | None = None,
    sample_interval_s: float = 0.5,
    resume: bool = False,
    registry: EngineRegistry | None = None,
) -> WorkbenchApp:
    """Build the app; ``sampler`` defaults to NVML (or host memory without a GPU)."""
    if sampler is None:
        from workbench.gpu import make_sampler

        sampler = make_sampler()
    if chat_store is None:
        from workbench.chat.store import ChatStore

        chat_store = ChatStore()
    return WorkbenchApp(
        engine=engine,
        sampler=sampler,
        initial_profile=initial_profile,
        autoload=autoload,
        project_dir=project_dir,
        user_dir=user_dir,
        chat_store=chat_store,
        gpu=gpu,
        sample_interval_s=sample_interval_s,
        resume=resume,
        registry=registry,
    )
