"""The Profiles pane: every discovered profile, its origin and a fit badge for this machine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from workbench.files import display_path
from workbench.ui.format import VERDICT_BADGES, without_path
from workbench.ui.messages import (
    FitEstimated,
    LoadRequested,
    ProfileIoFailed,
    ProfilesDiscovered,
    ProfileWritten,
    TuneRequested,
)

if TYPE_CHECKING:
    from workbench.estimate import GpuSpec
    from workbench.profiles import DiscoveredProfile, LoadedProfile

DESCRIPTION_WIDTH = 70


def fit_badge(verdict: str) -> Text:
    """The coloured badge for an estimator verdict."""
    label, _, style = VERDICT_BADGES.get(verdict, VERDICT_BADGES["unknown"])
    return Text(label, style=style)


class ProfilesView(Vertical):
    """A table of profiles. Enter/l loads, t tunes, d duplicates, x exports, r rescans,
    g adds a fit column for a GPU you name ("fits on an RTX 4090?")."""

    BINDINGS = [
        Binding("l", "load_selected", "Load"),
        Binding("g", "fit_on_gpu", "GPU fit…"),
        Binding("t", "tune_selected", "Tune"),
        Binding("d", "duplicate_selected", "Copy"),
        Binding("x", "export_selected", "Export"),
        Binding("r", "rescan", "Rescan"),
    ]

    def __init__(
        self,
        *,
        project_dir: Path | None,
        user_dir: Path | None,
        gpu: GpuSpec | None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.project_dir = project_dir
        self.user_dir = user_dir
        self.gpu = gpu
        self.profiles: list[DiscoveredProfile] = []
        self.verdicts: dict[str, str] = {}
        self.details: dict[tuple[str, str], tuple[str, str]] = {}
        """(column, path) → (verdict, reason) of every fit estimated, for the detail line."""
        self.other_gpu: GpuSpec | None = None
        """The GPU named with g: a second fit column answers "would it fit there?"."""

    def compose(self) -> ComposeResult:
        table: DataTable[Text | str] = DataTable(id="profiles-table", cursor_type="row")
        table.add_column("Name", key="name", width=22)
        table.add_column("Fit", key="fit", width=11)
        table.add_column("Origin", key="origin", width=22)
        table.add_column("Description / problem", key="description", width=DESCRIPTION_WIDTH)
        yield table
        yield Static("", id="profiles-detail")

    def on_mount(self) -> None:
        self.rescan()

    # -- discovery and fit, off the UI thread -------------------------------------------

    def rescan(self) -> None:
        """Discover profiles again (after a save, duplicate or fix)."""
        self._discover()

    @work(thread=True, exclusive=True, group="profiles", exit_on_error=False,
          description="discover profiles")
    def _discover(self) -> None:
        from workbench.ui.profile_access import discover

        self.post_message(ProfilesDiscovered(discover(self.project_dir, self.user_dir, self.gpu)))

    @on(ProfilesDiscovered)
    def _show_profiles(self, event: ProfilesDiscovered) -> None:
        event.stop()
        self.profiles = event.profiles
        table = self.query_one("#profiles-table", DataTable)
        selected = self.selected.path if self.selected is not None else None
        table.clear()
        for profile in self.profiles:
            table.add_row(*self._row(profile), key=str(profile.path))
        if selected is not None:
            for row, profile in enumerate(self.profiles):
                if profile.path == selected:
                    table.move_cursor(row=row)
        valid = [p for p in self.profiles if p.loaded is not None]
        self._estimate_fits(valid)
        if self.other_gpu is not None:
            self._estimate_other_fits(valid, self.other_gpu)
        self._show_detail()

    def _row(self, profile: DiscoveredProfile) -> tuple[Text, ...]:
        cells = self._base_row(profile)
        if self.other_gpu is None:
            return cells
        other = "invalid" if profile.loaded is None else "pending"
        return (*cells, fit_badge(other))

    def _base_row(self, profile: DiscoveredProfile) -> tuple[Text, Text, Text, Text]:
        name = Text(profile.name, style="bold")
        origin = Text("built-in" if profile.origin == "builtin" else profile.origin)
        if profile.shadowed:
            # The same name also exists further down the search order; this file wins.
            origin.append(f" · hides {len(profile.shadowed)} user file", style="yellow")
        if profile.loaded is None:
            problem = without_path(str(profile.error), profile.path)
            return name, fit_badge("invalid"), origin, Text(problem, style="red")
        verdict = self.verdicts.get(str(profile.path), "pending")
        description = profile.loaded.profile.meta.description or "—"
        return name, fit_badge(verdict), origin, Text(description)

    @work(thread=True, exclusive=True, group="fit", exit_on_error=False,
          description="estimate profile fit")
    def _estimate_fits(self, profiles: list[DiscoveredProfile]) -> None:
        from workbench.ui.profile_access import fit_verdict

        for profile in profiles:
            assert profile.loaded is not None
            verdict, detail = fit_verdict(profile.loaded, self.gpu)
            self.post_message(FitEstimated(profile.name, str(profile.path), verdict, detail))

    @work(thread=True, exclusive=True, group="fit-other", exit_on_error=False,
          description="estimate profile fit on a named GPU")
    def _estimate_other_fits(self, profiles: list[DiscoveredProfile], gpu: GpuSpec) -> None:
        from workbench.ui.profile_access import fit_verdict_on

        for profile in profiles:
            verdict, detail = fit_verdict_on(profile.path, gpu, self.project_dir, self.user_dir)
            self.post_message(
                FitEstimated(profile.name, str(profile.path), verdict, detail, column="other")
            )

    @on(FitEstimated)
    def _show_fit(self, event: FitEstimated) -> None:
        event.stop()
        if event.column == "fit":
            self.verdicts[event.path] = event.verdict
        self.details[(event.column, event.path)] = (event.verdict, event.detail)
        table = self.query_one("#profiles-table", DataTable)
        if event.path in {str(p.path) for p in self.profiles} and event.column in table.columns:
            table.update_cell(event.path, event.column, fit_badge(event.verdict))
        selected = self.selected
        if selected is not None and str(selected.path) == event.path:
            self._show_detail()

    def action_fit_on_gpu(self) -> None:
        """Ask for a GPU and add (or change) the column saying whether each profile fits it."""
        from workbench.estimate.gpus import known_gpus, lookup_gpu
        from workbench.ui.screens.dialogs import AskScreen

        def problem(name: str) -> str | None:
            if lookup_gpu(name) is not None:
                return None
            return f"unknown GPU {name!r}; try 4090, 3090, L4, A100 80GB, H100, T4"

        def chosen(name: str | None) -> None:
            if name:
                found = lookup_gpu(name)
                assert found is not None  # the dialog accepted only known GPUs
                self.show_fit_on(found)

        initial = self.other_gpu.name if self.other_gpu is not None else ""
        names = [gpu.name for gpu in known_gpus()]
        self.app.push_screen(
            AskScreen("Would the profiles fit on which GPU?", initial, problem, names), chosen
        )

    def show_fit_on(self, gpu: GpuSpec) -> None:
        """Show a fit column for ``gpu`` (its [gpu_overrides] applied, as many as tp × pp)."""
        table = self.query_one("#profiles-table", DataTable)
        label = "On " + gpu.name.removeprefix("NVIDIA ").removeprefix("GeForce ")
        self.other_gpu = gpu
        self.details = {k: v for k, v in self.details.items() if k[0] != "other"}
        if "other" in table.columns:
            table.remove_column("other")
        width = max(11, min(len(label), 24))
        # the description gives up the room, so the table stays as wide as the screen
        table.columns[ColumnKey("description")].width = DESCRIPTION_WIDTH - width - 2
        table.add_column(
            label[:24],
            key="other",
            width=width,
            default=fit_badge("pending"),
        )
        for profile in self.profiles:
            if profile.loaded is None:
                table.update_cell(str(profile.path), "other", fit_badge("invalid"))
        self._estimate_other_fits([p for p in self.profiles if p.loaded is not None], gpu)
        self._show_detail()

    # -- selection ----------------------------------------------------------------------

    @property
    def selected(self) -> DiscoveredProfile | None:
        """The profile under the cursor."""
        table = self.query_one("#profiles-table", DataTable)
        if not self.profiles or table.cursor_row < 0 or table.cursor_row >= len(self.profiles):
            return None
        return self.profiles[table.cursor_row]

    def select(self, name: str) -> bool:
        """Move the cursor to the first profile called ``name``."""
        for row, profile in enumerate(self.profiles):
            if profile.name == name:
                self.query_one("#profiles-table", DataTable).move_cursor(row=row)
                return True
        return False

    def _selected_valid(self) -> LoadedProfile | None:
        profile = self.selected
        if profile is None:
            self.notify("No profile selected", severity="warning")
            return None
        if profile.loaded is None:
            problem = without_path(str(profile.error), profile.path)
            self.notify(f"{profile.name} is invalid: {problem}", severity="error")
            return None
        return profile.loaded

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        profile = self.selected
        detail = self.query_one("#profiles-detail", Static)
        if profile is None:
            detail.update("No profiles found. Put *.toml files in ./profiles or the user dir.")
            return
        text = Text()
        text.append(display_path(profile.path), style="dim")
        if profile.loaded is not None:
            engine = profile.loaded.profile.engine
            text.append(
                f"\nmodel {profile.loaded.profile.model.id or profile.loaded.profile.model.path}"
                f" · max_model_len {engine.max_model_len or 'model max'}"
                f" · gpu_memory_utilization {engine.gpu_memory_utilization}"
                f" · n {profile.loaded.profile.sampling.n}"
            )
            if profile.loaded.model_error:
                text.append(f"\n⚠ {profile.loaded.model_error}", style="yellow")
            self._append_fit_reasons(text, str(profile.path))
        else:
            text.append(f"\n✖ {without_path(str(profile.error), profile.path)}", style="red")
        detail.update(text)

    def _append_fit_reasons(self, text: Text, path: str) -> None:
        """One line per fit column: where, the badge, and the estimator's reason."""
        here = "CPU engine" if self.gpu is None or self.gpu.device != "cuda" else self.gpu.name
        places = [("fit", here)]
        if self.other_gpu is not None:
            places.append(("other", self.other_gpu.name))
        for column, where in places:
            found = self.details.get((column, path))
            if found is None:
                continue
            verdict, reason = found
            text.append("\n")
            text.append_text(fit_badge(verdict))
            text.append(f" on {where.removeprefix('NVIDIA ')}: {reason}")

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_load_selected()

    # -- actions ------------------------------------------------------------------------

    def action_load_selected(self) -> None:
        """Load the selected profile into the engine."""
        loaded = self._selected_valid()
        if loaded is not None:
            self.post_message(LoadRequested(loaded))

    def action_tune_selected(self) -> None:
        """Open the selected profile in the tuner."""
        loaded = self._selected_valid()
        if loaded is not None:
            self.post_message(TuneRequested(loaded))

    def action_duplicate_selected(self) -> None:
        """Copy the selected profile into the user dir under a new name."""
        from workbench.ui.screens.dialogs import NameScreen

        loaded = self._selected_valid()
        if loaded is None:
            return
        taken = frozenset(p.name for p in self.profiles)

        def duplicate(name: str | None) -> None:
            if name is not None:
                self._duplicate(loaded, name)

        self.app.push_screen(
            NameScreen(f"Duplicate {loaded.name} as…", f"{loaded.name}-copy", taken), duplicate
        )

    @work(thread=True, exclusive=True, group="profile-io", exit_on_error=False,
          description="duplicate the profile")
    def _duplicate(self, loaded: LoadedProfile, name: str) -> None:
        from workbench.ui.profile_access import duplicate_profile

        try:
            path = duplicate_profile(loaded, name, self.user_dir)
        except Exception as error:  # noqa: BLE001 - shown to the user, one line
            self.post_message(ProfileIoFailed("Duplicate failed", str(error)))
            return
        self.post_message(
            ProfileWritten(f"Duplicated {loaded.name} → {display_path(path)}", new_profile=True)
        )

    def action_export_selected(self) -> None:
        """Write a shareable copy (no [env]) of the selected profile to the data dir's exports."""
        loaded = self._selected_valid()
        if loaded is not None:
            self._export(loaded)

    @work(thread=True, exclusive=True, group="profile-io", exit_on_error=False,
          description="export the profile")
    def _export(self, loaded: LoadedProfile) -> None:
        from workbench.ui.profile_access import export_profile

        try:
            path, notes = export_profile(loaded)
        except Exception as error:  # noqa: BLE001 - shown to the user, one line
            message = without_path(str(error), loaded.path)
            self.post_message(ProfileIoFailed("Export failed", message))
            return
        note = "\n".join([f"Exported {loaded.name} → {display_path(path)}", *notes])
        self.post_message(ProfileWritten(note, new_profile=False))

    @on(ProfileWritten)
    def _profile_written(self, event: ProfileWritten) -> None:
        self.notify(event.note)
        if event.new_profile:
            self.rescan()

    def action_rescan(self) -> None:
        """Scan the profile directories again."""
        self.rescan()
