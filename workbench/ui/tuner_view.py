"""The Tuner pane: edit the settings that decide memory, see the estimate live, apply, save."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Select, Static

from workbench.files import display_path
from workbench.profiles.schema import KV_CACHE_DTYPES
from workbench.ui.format import VERDICT_BADGES, format_bytes, format_count, format_optional
from workbench.ui.messages import EstimateComputed, LoadRequested, ProfileIoFailed, ProfileSaved
from workbench.ui.profile_edits import with_settings
from workbench.ui.tuner_fields import FIELDS, FIELDS_BY_NAME, FieldInputError
from workbench.ui.widgets.stacked_bar import Segment, StackedBar

if TYPE_CHECKING:
    from workbench.engine.api import EngineFigures
    from workbench.estimate import Estimate, GpuSpec
    from workbench.profiles import LoadedProfile



def profile_settings(loaded: LoadedProfile) -> dict[str, Any]:
    """The tuner's field values as the profile sets them (after GPU overrides)."""
    engine = loaded.profile.engine
    return {
        "max_model_len": engine.max_model_len,
        "gpu_memory_utilization": engine.gpu_memory_utilization,
        "kv_cache_dtype": engine.kv_cache_dtype,
        "tensor_parallel_size": engine.tensor_parallel_size,
        "max_num_seqs": engine.max_num_seqs,
        "n": loaded.profile.sampling.n,
    }


def estimate_segments(estimate: Estimate, total_bytes: int) -> list[Segment]:
    """weights │ overhead │ KV │ headroom, against ``total_bytes``."""
    overhead = estimate.non_torch_bytes + estimate.activation_bytes + estimate.cuda_graph_bytes
    kv = max(0, estimate.available_kv_bytes)
    used = estimate.weights_bytes + overhead + kv
    return [
        Segment("weights", float(estimate.weights_bytes), "dodger_blue1"),
        Segment("overhead", float(overhead), "orange3"),
        Segment("KV", float(kv), "green3"),
        Segment("headroom", float(max(0, total_bytes - used)), "grey23"),
    ]


def relative_difference(estimated: float, measured: float | None) -> Text:
    """How far the estimate is from vLLM's figure, e.g. "+2.6%"; within 5% is green."""
    if measured is None or measured == 0:
        return Text("n/a", style="dim")
    difference = (estimated - measured) / measured * 100
    style = "green" if abs(difference) < 5 else "yellow" if abs(difference) < 15 else "red"
    return Text(f"{difference:+.1f}%", style=style)


class TunerView(Vertical):
    """Settings form on the left, live estimate on the right, estimate-vs-actual after a load."""

    BINDINGS = [
        Binding("ctrl+g", "apply_largest", "Apply fit"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "load_tuned", "Save+load"),
        Binding("ctrl+z", "revert", "Revert"),
    ]

    def __init__(self, *, gpu: GpuSpec | None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.gpu = gpu
        self.profile: LoadedProfile | None = None
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.estimate: Estimate | None = None
        self.estimate_error: str | None = None
        self.loaded: tuple[Path, EngineFigures] | None = None
        """The engine's figures and the file of the profile they were measured for."""
        self._filling = False

    def compose(self) -> ComposeResult:
        yield Static("Open a profile from the Profiles tab (t) to tune it.", id="tuner-title")
        with Horizontal(id="tuner-body"):
            with VerticalScroll(id="tuner-form"):
                for field in FIELDS:
                    with Horizontal(classes="tuner-row"):
                        yield Label(field.label, classes="tuner-label")
                        if field.kind == "choice":
                            yield Select(
                                [(dtype, dtype) for dtype in KV_CACHE_DTYPES],
                                allow_blank=False,
                                value="auto",
                                compact=True,
                                id=f"field-{field.name}",
                            )
                        else:
                            yield Input(
                                placeholder=field.hint.strip(" ()") or field.label,
                                compact=True,
                                id=f"field-{field.name}",
                            )
                    yield Static("", id=f"error-{field.name}", classes="field-error")
            with Vertical(id="tuner-estimate"):
                yield Static("", id="tuner-device")
                yield StackedBar(id="tuner-bar")
                yield Static("", id="tuner-figures")
                yield Static("", id="tuner-largest")
                yield Static("", id="tuner-compare")
                yield Static("", id="tuner-plan")

    # -- opening a profile ------------------------------------------------------------

    def open_profile(self, loaded: LoadedProfile) -> None:
        """Fill the form from ``loaded`` and estimate it."""
        self.profile = loaded
        self.values = profile_settings(loaded)
        self.errors = {}
        self._filling = True
        try:
            for field in FIELDS:
                widget = self.query_one(f"#field-{field.name}")
                if isinstance(widget, Select):
                    widget.value = self.values[field.name]
                elif isinstance(widget, Input):
                    widget.value = field.format(self.values[field.name])
                self._show_field_error(field.name, None)
        finally:
            self._filling = False
        title = Text(f"Tuning {loaded.name}", style="bold")
        title.append(f"  {display_path(loaded.path)}", style="dim")
        self.query_one("#tuner-title", Static).update(title)
        self.request_estimate()

    def show_actual(self, profile_path: Path | None, figures: EngineFigures | None) -> None:
        """After a load: vLLM's figures for the profile at ``profile_path``, shown beside the
        estimate whenever that profile is the one open here (None: nothing is loaded)."""
        self.loaded = (profile_path, figures) if profile_path and figures else None
        self._render_estimate()

    @property
    def actual(self) -> EngineFigures | None:
        """vLLM's figures when the profile open here is the one the engine loaded, else None."""
        if self.loaded is None or self.profile is None or self.loaded[0] != self.profile.path:
            return None
        return self.loaded[1]

    @property
    def changed_settings(self) -> dict[str, Any]:
        """Dotted profile keys whose value differs from the opened profile."""
        if self.profile is None:
            return {}
        original = profile_settings(self.profile)
        return {
            FIELDS_BY_NAME[name].key: value
            for name, value in self.values.items()
            if value != original[name]
        }

    # -- editing ----------------------------------------------------------------------

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._filling or event.input.id is None or not event.input.id.startswith("field-"):
            return
        name = event.input.id.removeprefix("field-")
        if name not in self.errors and event.value == FIELDS_BY_NAME[name].format(
            self.values.get(name)
        ):
            return  # the echo of a value we set ourselves
        self._set_field(name, event.value)

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if self._filling or event.select.id is None or event.value == self.values.get(
            event.select.id.removeprefix("field-")
        ):
            return
        self._set_field(event.select.id.removeprefix("field-"), str(event.value))

    def _set_field(self, name: str, text: str) -> None:
        field = FIELDS_BY_NAME[name]
        try:
            self.values[name] = field.parse(text)
        except FieldInputError as error:
            self.errors[name] = str(error)
            self._show_field_error(name, str(error))
            self._render_estimate()
            return
        self.errors.pop(name, None)
        self._show_field_error(name, None)
        self.request_estimate()

    def _show_field_error(self, name: str, message: str | None) -> None:
        widget = self.query_one(f"#field-{name}")
        widget.set_class(message is not None, "-invalid")
        error = self.query_one(f"#error-{name}", Static)
        error.update(f"✖ {message}" if message else "")
        error.display = message is not None

    # -- estimating, off the UI thread ------------------------------------------------

    def request_estimate(self) -> None:
        """Estimate the current values (replacing any estimate still running)."""
        if self.profile is None or self.errors:
            self._render_estimate()
            return
        self._estimate(self.profile, dict(self.values))

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False,
          description="estimate memory")
    def _estimate(self, loaded: LoadedProfile, values: dict[str, Any]) -> None:
        from workbench.ui.profile_access import estimate

        try:
            result = estimate(loaded, self.gpu, **values)
        except Exception as error:  # noqa: BLE001 - shown inline as the estimate's problem
            self.post_message(EstimateComputed(None, str(error).splitlines()[0]))
            return
        self.post_message(EstimateComputed(result, None))

    @on(EstimateComputed)
    def _estimate_computed(self, event: EstimateComputed) -> None:
        event.stop()
        self.estimate, self.estimate_error = event.estimate, event.error
        self._render_estimate()

    def _render_estimate(self) -> None:
        device = self.query_one("#tuner-device", Static)
        figures = self.query_one("#tuner-figures", Static)
        largest = self.query_one("#tuner-largest", Static)
        compare = self.query_one("#tuner-compare", Static)
        bar = self.query_one("#tuner-bar", StackedBar)
        if self.errors:
            figures.update(Text("Fix the highlighted fields to see an estimate.", style="yellow"))
            largest.update("")
            bar.set_segments([])  # a stale bar would describe values no longer on screen
            return
        if self.estimate_error is not None:
            figures.update(Text(f"Cannot estimate: {self.estimate_error}", style="red"))
            largest.update("")
            bar.set_segments([])
            return
        estimate = self.estimate
        if estimate is None:
            return
        from workbench.estimate.model import RUNTIME_SHORT
        from workbench.estimate.resolve import FACTS_WORDS

        gpu_name = self.gpu.name if self.gpu is not None else "this machine (no GPU: CPU KV budget)"
        deployment = self.profile.profile.deployment if self.profile is not None else None
        if deployment is not None and deployment.gpu is not None and estimate.device != "cpu":
            count = (self.values.get("tensor_parallel_size") or 1) * (
                self.profile.profile.engine.pipeline_parallel_size if self.profile else 1
            )
            gpu_name = f"{count} × {estimate.device}"
        device.update(
            Text.assemble(
                (f"{RUNTIME_SHORT[estimate.runtime]} on ", "dim"),
                (gpu_name, "bold"),
                (f" · {format_bytes(estimate.total_bytes)}", "dim"),
                (f" · budget {format_bytes(estimate.budget_bytes)}", "dim"),
            )
        )
        # On the CPU engine the KV budget is fixed and host RAM dwarfs it: draw the budget.
        bar_total = estimate.total_bytes if self.gpu is not None else estimate.budget_bytes
        bar.set_segments(estimate_segments(estimate, bar_total), float(bar_total))
        text = Text()
        _, headline, style = VERDICT_BADGES.get(estimate.verdict, VERDICT_BADGES["unknown"])
        text.append(headline, style=style)
        text.append(f"  {estimate.reason}\n")
        text.append("KV cache ", style="dim")
        text.append(f"{format_bytes(max(0, estimate.available_kv_bytes))}", style="bold")
        text.append(f" = {format_count(estimate.kv_tokens)} tokens", style="bold")
        text.append(f" ({format_count(estimate.num_blocks)} blocks of {estimate.block_size},"
                    f" {format_bytes(estimate.kv_bytes_per_token)}/token)\n", style="dim")
        text.append("Max concurrency ", style="dim")
        text.append(f"{estimate.max_concurrency:.2f}×", style="bold")
        text.append(f" at {format_count(estimate.max_model_len)} tokens per request", style="dim")
        n = self.values.get("n") or 1
        if n > 1 and estimate.max_concurrency < n:
            text.append(f"\n⚠ n={n} samples need {n} sequences at full length; only "
                        f"{estimate.max_concurrency:.2f} fit at once", style="yellow")
        for warning in estimate.warnings:
            text.append(f"\n⚠ {warning}", style="yellow")
        if estimate.facts_from != "model":
            text.append("\nModel not on this machine: figures from "
                        f"{FACTS_WORDS[estimate.facts_from]}", style="dim")
        figures.update(text)
        self._render_plan()
        fitting = estimate.largest_fitting_max_model_len
        if fitting is None:
            largest.update(Text("No max_model_len fits with these settings.", style="red"))
        elif fitting == estimate.max_model_len:
            largest.update(Text(f"Largest max_model_len that fits: {fitting:,} (current)",
                                style="green"))
        else:
            largest.update(
                Text.assemble(
                    ("Largest max_model_len that fits: ", ""),
                    (f"{fitting:,}", "bold"),
                    ("  — press ", "dim"),
                    ("ctrl+g", "bold reverse"),
                    (" to apply", "dim"),
                )
            )
        compare.update(self._comparison(estimate) if self.actual is not None else "")

    def _comparison(self, estimate: Estimate) -> Table:
        actual = self.actual
        assert actual is not None
        table = Table(title="Estimate vs vLLM (last load)", title_justify="left", expand=False)
        table.add_column("")
        table.add_column("estimate", justify="right")
        table.add_column("vLLM", justify="right")
        table.add_column("Δ", justify="right")
        rows = (
            ("max_model_len", format_count(estimate.max_model_len),
             format_count(actual.max_model_len)),
            ("KV tokens", format_count(estimate.kv_tokens), format_count(actual.kv_cache_tokens)),
            ("blocks", format_count(estimate.num_blocks), format_count(actual.num_blocks)),
            ("block size", str(estimate.block_size), str(actual.block_size)),
            ("weights", format_bytes(estimate.weights_bytes), format_bytes(actual.weights_bytes)),
            ("KV memory", format_bytes(estimate.available_kv_bytes),
             format_bytes(actual.available_kv_bytes)),
            ("max concurrency", f"{estimate.max_concurrency:.2f}×",
             format_optional(actual.max_concurrency, ".2f", "×")),
        )
        numbers = (
            (estimate.max_model_len, actual.max_model_len),
            (estimate.kv_tokens, actual.kv_cache_tokens),
            (estimate.num_blocks, actual.num_blocks),
            (estimate.block_size, actual.block_size),
            (estimate.weights_bytes, actual.weights_bytes),
            (estimate.available_kv_bytes, actual.available_kv_bytes),
            (estimate.max_concurrency, actual.max_concurrency),
        )
        for row, (estimated, measured) in zip(rows, numbers, strict=True):
            table.add_row(*row, relative_difference(estimated, measured))
        return table

    # -- actions ----------------------------------------------------------------------

    def action_apply_largest(self) -> None:
        """Set max_model_len to the largest value that fits."""
        if self.estimate is None or self.estimate.largest_fitting_max_model_len is None:
            self.notify("No fitting max_model_len to apply", severity="warning")
            return
        value = self.estimate.largest_fitting_max_model_len
        self.query_one("#field-max_model_len", Input).value = str(value)
        self.notify(f"max_model_len set to {value:,} (ctrl+s to save)")

    def action_revert(self) -> None:
        """Put back the profile's saved values."""
        if self.profile is not None:
            self.open_profile(self.profile)

    def _render_plan(self) -> None:
        """For a [deployment]: what the servers run with the values on screen, per machine."""
        from workbench.profiles import ProfileError
        from workbench.profiles.plan import plan_deployment

        panel = self.query_one("#tuner-plan", Static)
        loaded = self.profile
        panel.display = loaded is not None and loaded.profile.deployment is not None
        if loaded is None or not panel.display:
            return
        text = Text("\nDeployment plan", style="bold")
        text.append(f"  (workbench profiles plan {loaded.name}; --helm for Kubernetes)\n",
                    style="dim")
        try:
            plan = plan_deployment(with_settings(loaded.data, self.changed_settings),
                                   loaded.path.parent)
        except ProfileError as error:
            text.append(f"{error.message} — {error.hint}", style="red")
            panel.update(text)
            return
        text.append(f"{plan.world_size} GPUs on {len(plan.nodes)} node(s)\n")
        for node in plan.nodes:
            text.append(f"{node.node}\n", style="bold")
            text.append(node.shell() + "\n", style="dim")
        panel.update(text)

    def action_save(self, then_load: bool = False) -> None:
        """Save the changed settings into the profile file (asks first; keeps a backup)."""
        from workbench.ui.screens.dialogs import ConfirmScreen

        loaded = self.profile
        if loaded is None:
            self.notify("Open a profile first", severity="warning")
            return
        if self.errors:
            field, reason = next(iter(self.errors.items()))
            self.notify(f"Not saved: {field} {reason}", severity="error")
            return
        changes = self.changed_settings
        if not changes:
            if then_load:
                self.post_message(LoadRequested(loaded))
            else:
                self.notify("Nothing changed")
            return
        detail = "\n".join(f"{key} = {value!r}" for key, value in changes.items())

        def confirmed(answer: bool | None) -> None:
            if answer:
                self._save(loaded, changes, then_load)

        self.app.push_screen(
            ConfirmScreen(f"Overwrite {loaded.path.name}?", f"{detail}\n(a backup is kept)",
                          "Save"),
            confirmed,
        )

    def action_load_tuned(self) -> None:
        """Save the changes (asking first) and load the profile."""
        self.action_save(then_load=True)

    @work(thread=True, exclusive=True, group="profile-io", exit_on_error=False,
          description="save the profile")
    def _save(self, loaded: LoadedProfile, changes: dict[str, Any], then_load: bool) -> None:
        from workbench.ui.profile_access import save_and_reload

        try:
            backup, reloaded = save_and_reload(loaded, with_settings(loaded.data, changes))
        except Exception as error:  # noqa: BLE001 - one line for the user; file left untouched
            self.post_message(ProfileIoFailed("Not saved", str(error)))
            return
        self.post_message(ProfileSaved(reloaded, backup, then_load=then_load))
