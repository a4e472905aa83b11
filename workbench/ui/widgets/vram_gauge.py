"""The always-visible VRAM gauge: one bar per GPU, attributed to this engine, with a sparkline.

Readings arrive as ``VramSample`` values from a sampler running off the UI thread; this widget only
keeps a short history and renders. Without a GPU it shows the CPU engine's host memory instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widget import Widget

from workbench.ui.format import format_bytes, format_optional
from workbench.ui.widgets.stacked_bar import Segment, split_cells

if TYPE_CHECKING:
    from workbench.engine.api import EngineFigures
    from workbench.engine.remote_metrics import RemoteMetrics
    from workbench.gpu import GpuReading, HostMemory, VramSample

WARN_FRACTION = 0.90
CRITICAL_FRACTION = 0.97
HISTORY_LENGTH = 24
SPARK_CHARS = "▁▂▃▄▅▆▇█"

STYLE_OTHER_PROCESSES = "magenta"
STYLE_WEIGHTS = "dodger_blue1"
STYLE_KV = "green3"
STYLE_OTHER = "grey50"
STYLE_FREE = "grey23"


def attribute_gpu_memory(
    reading: GpuReading,
    engine_pids: Iterable[int],
    figures: EngineFigures | None,
) -> list[Segment]:
    """Split one GPU's memory into other processes │ weights │ KV cache │ other │ free.

    NVML's per-process figures tell this engine apart from other processes; the engine's own
    figures split its share into weights and KV. Unknown per-process memory counts as "other".
    """
    pids = set(engine_pids)
    engine_processes = [p for p in reading.processes if p.pid in pids]
    other_processes = sum(
        p.used_bytes or 0 for p in reading.processes if p.pid not in pids and p.used_bytes
    )
    # NVML inside containers often lists no processes, and the engine's pids may be unknown:
    # then trust the engine's own figures for a GPU engine.
    on_gpu = figures is not None and figures.device != "cpu"
    engine_here = bool(engine_processes) or (on_gpu and (not pids or not reading.processes))
    used = reading.used_bytes
    weights = kv = 0
    if engine_here and figures is not None:
        weights = min(figures.weights_bytes or 0, max(0, used - other_processes))
        kv = min(figures.available_kv_bytes or 0, max(0, used - other_processes - weights))
    other = max(0, used - other_processes - weights - kv)
    free = reading.free_bytes if reading.free_bytes is not None else reading.total_bytes - used
    return [
        Segment("other procs", float(other_processes), STYLE_OTHER_PROCESSES),
        Segment("weights", float(weights), STYLE_WEIGHTS),
        Segment("KV cache", float(kv), STYLE_KV),
        Segment("other", float(other), STYLE_OTHER),
        Segment("free", float(max(0, free)), STYLE_FREE),
    ]


def sparkline(values: Sequence[float], width: int, *, autoscale: bool = False) -> str:
    """Fractions in [0, 1] as block characters, newest on the right, padded to ``width``.

    ``autoscale`` stretches the window's maximum to a full block (for small host figures).
    """
    recent = list(values)[-width:]
    if autoscale and recent and max(recent) > 0:
        top = max(recent)
        recent = [value / top for value in recent]
    top_index = len(SPARK_CHARS) - 1
    chars = [SPARK_CHARS[min(top_index, int(value * len(SPARK_CHARS)))] for value in recent]
    return " " * (width - len(chars)) + "".join(chars)


def level_style(fraction: float) -> str:
    """Colour for a usage fraction: normal, warning near the limit, error at it."""
    if fraction >= CRITICAL_FRACTION:
        return "bold red"
    if fraction >= WARN_FRACTION:
        return "bold yellow"
    return "bold"


class VramGauge(Widget):
    """Per-GPU used/total with an attributed bar and a sparkline; host memory without a GPU."""

    DEFAULT_CSS = """
    VramGauge {
        height: auto;
        min-height: 2;
        width: 1fr;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.sample: VramSample | None = None
        self.engine_pids: tuple[int, ...] = ()
        self.figures: EngineFigures | None = None
        self.kv_budget_bytes: int | None = None
        self.live: RemoteMetrics | None = None
        self.remote: tuple[str, RemoteMetrics | str] | None = None
        """(label, metrics or why none) while a deployment is the engine: shown instead of the
        local GPUs, which are not what that engine runs on."""
        self._history: dict[int | str, deque[float]] = {}

    def record(
        self,
        sample: VramSample,
        engine_pids: tuple[int, ...] = (),
        figures: EngineFigures | None = None,
        kv_budget_bytes: int | None = None,
        *,
        live: RemoteMetrics | None = None,
    ) -> None:
        """Take a new reading; keeps a short per-device history for the sparkline. ``live``:
        the embedded engine's scheduler figures (vLLM's stat logger), one more line."""
        self.sample = sample
        self.live = live
        self.engine_pids = engine_pids
        self.figures = figures
        self.kv_budget_bytes = kv_budget_bytes
        for gpu in sample.gpus:
            fraction = gpu.used_bytes / gpu.total_bytes if gpu.total_bytes else 0.0
            self._remember(gpu.index, fraction)
        if not sample.gpus and sample.host is not None and sample.host.total_bytes:
            engine_rss = sample.host.engine_rss_bytes or 0
            self._remember("host", engine_rss / sample.host.total_bytes)
        height = (2 * len(sample.gpus) if sample.gpus else 2) + (1 if live is not None else 0)
        self.styles.height = height
        self.refresh(layout=True)

    def record_remote(self, label: str | None, metrics: RemoteMetrics | str | None) -> None:
        """A scrape of the deployment's /metrics (None: no deployment is the engine)."""
        remote = None if label is None or metrics is None else (label, metrics)
        if remote is None and self.remote is None:
            return  # the local gauge stays as it is: no relayout
        self.remote = remote
        if self.remote is not None and not isinstance(metrics, str):
            assert metrics is not None
            self._remember("remote", metrics.kv_usage or 0.0)
        self.styles.height = 2 if self.remote is not None else self.styles.height
        self.refresh(layout=True)

    def _remember(self, key: int | str, fraction: float) -> None:
        self._history.setdefault(key, deque(maxlen=HISTORY_LENGTH)).append(fraction)

    @property
    def near_limit(self) -> bool:
        """True when any GPU is at or above the warning fraction."""
        if self.sample is None:
            return False
        return any(
            gpu.total_bytes and gpu.used_bytes / gpu.total_bytes >= WARN_FRACTION
            for gpu in self.sample.gpus
        )

    def render(self) -> Text:
        if self.remote is not None:
            return self._render_remote(*self.remote)
        if self.sample is None:
            return Text("VRAM: waiting for the first reading…", style="dim")
        if not self.sample.gpus:
            return self._with_live(
                self._render_host(self.sample.unavailable_reason, self.sample.host)
            )
        lines = Text()
        for position, gpu in enumerate(self.sample.gpus):
            if position:
                lines.append("\n")
            lines.append_text(self._render_gpu(gpu))
        return self._with_live(lines)

    def _with_live(self, text: Text) -> Text:
        """The embedded engine's scheduler line under the memory lines, when it has one."""
        if self.live is None:
            return text
        live = self.live
        usage = None if live.kv_usage is None else live.kv_usage * 100
        line = Text("engine ", style="bold")
        line.append(f"KV cache {format_optional(usage, '.0f', '%')}",
                    style=level_style(live.kv_usage or 0.0))
        if live.kv_tokens is not None:
            line.append(f" of {live.kv_tokens:,} tokens")
        line.append(" · ", style="dim")
        line.append_text(_scheduler_figures(live))
        line.append("  (vLLM's stat logger)", style="dim italic")
        line.truncate(self.size.width or 120, overflow="ellipsis")
        text.append("\n")
        text.append_text(line)
        return text

    def _render_gpu(self, gpu: GpuReading) -> Text:
        width = self.size.width or 120
        fraction = gpu.used_bytes / gpu.total_bytes if gpu.total_bytes else 0.0
        style = level_style(fraction)
        head = Text()
        head.append(f"GPU{gpu.index} ", style="bold")
        head.append(f"{gpu.name[:28]:<28} ")
        head.append(
            f"{format_bytes(gpu.used_bytes)} / {format_bytes(gpu.total_bytes)} "
            f"{fraction * 100:3.0f}%",
            style=style,
        )
        head.append(" ⚠ near limit " if fraction >= WARN_FRACTION else " ")
        tail = Text()
        tail.append(" " + sparkline(self._history.get(gpu.index, ()), 12), style="cyan")
        tail.append(
            f"  util {format_optional(gpu.utilization_pct, '.0f', '%')}"
            f" · {format_optional(gpu.temperature_c, '.0f', '°C')}"
            f" · {format_optional(gpu.power_w, '.0f', ' W')}",
            style="dim",
        )
        segments = attribute_gpu_memory(gpu, self.engine_pids, self.figures)
        bar_width = max(10, width - head.cell_len - tail.cell_len - 2)
        bar = Text()
        cells = split_cells([s.size for s in segments], float(gpu.total_bytes), bar_width)
        for segment, count in zip(segments, cells, strict=True):
            bar.append("█" * count, style=segment.style)
        line = Text.assemble(head, "▕", bar, "▏", tail)
        line.append("\n")
        line.append_text(_legend(segments))
        line.truncate(width * 2 + 1)
        return line

    def _render_remote(self, label: str, metrics: RemoteMetrics | str) -> Text:
        width = self.size.width or 120
        text = Text()
        text.append(label, style="bold")
        if isinstance(metrics, str):
            text.append(f"  {metrics}: no live figures; chat still works", style="yellow")
            text.truncate(width, overflow="ellipsis")
            return text
        usage = metrics.kv_usage
        tokens = metrics.kv_tokens
        head = Text("  KV cache ")
        tail = Text()
        tail.append(f" {format_optional(None if usage is None else usage * 100, '.0f', '%')}",
                    style=level_style(usage or 0.0))
        if tokens is not None:
            tail.append(f" of {tokens:,} tokens")
        tail.append(" " + sparkline(self._history.get("remote", ()), 12), style="cyan")
        bar_width = max(10, min(40, width - text.cell_len - head.cell_len - tail.cell_len - 2))
        filled = round((usage or 0.0) * bar_width)
        bar = Text("█" * filled, style=STYLE_KV)
        bar.append("█" * (bar_width - filled), style=STYLE_FREE)
        text.append_text(Text.assemble(head, "▕", bar, "▏", tail))
        text.truncate(width, overflow="ellipsis")
        second = _scheduler_figures(metrics)
        second.append("  (the server's /metrics)", style="dim italic")
        second.truncate(width, overflow="ellipsis")
        text.append("\n")
        text.append_text(second)
        return text

    def _render_host(self, reason: str | None, host: HostMemory | None) -> Text:
        width = self.size.width or 120
        text = Text()
        text.append("No GPU", style="bold yellow")
        text.append(" · CPU engine ")
        if host is None:
            text.append("host memory n/a")
        else:
            engine_rss = host.engine_rss_bytes
            used = host.total_bytes - host.available_bytes
            text.append(f"{format_bytes(engine_rss)} RAM", style="bold")
            text.append(f" · KV budget {format_bytes(self.kv_budget_bytes)}")
            text.append(f" · host {format_bytes(used)} / {format_bytes(host.total_bytes)} used ")
            history = self._history.get("host", ())
            text.append(sparkline(history, 12, autoscale=True), style="cyan")
        text.truncate(width, overflow="ellipsis")
        second = Text()
        if host is not None:
            engine_rss = host.engine_rss_bytes
            used = host.total_bytes - host.available_bytes
            second = _legend(
                [
                    Segment("engine", float(engine_rss or 0), STYLE_KV),
                    Segment("other", float(max(0, used - (engine_rss or 0))), STYLE_OTHER),
                    Segment("available", float(host.available_bytes), STYLE_FREE),
                ]
            )
            second.append("  ")
        second.append(reason or "no NVIDIA GPU found", style="dim italic")
        second.truncate(width, overflow="ellipsis")
        text.append("\n")
        text.append_text(second)
        return text


def _scheduler_figures(metrics: RemoteMetrics) -> Text:
    """running · waiting · prefix-cache hits · preemptions, for either engine."""
    hits = metrics.prefix_hit_rate
    hit_pct = None if hits is None else hits * 100
    return Text(
        f"running {format_optional(metrics.running, 'd')}"
        f" · waiting {format_optional(metrics.waiting, 'd')}"
        f" · prefix-cache hits {format_optional(hit_pct, '.0f', '%')}"
        f" · preemptions {format_optional(metrics.preemptions, 'd')}",
        style="dim",
    )


def _legend(segments: Sequence[Segment]) -> Text:
    legend = Text()
    for segment in segments:
        if segment.size <= 0 and segment.label != "free":
            continue
        if legend:
            legend.append("  ")
        legend.append("■ ", style=segment.style)
        legend.append(f"{segment.label} {format_bytes(segment.size)}", style="dim")
    return legend
