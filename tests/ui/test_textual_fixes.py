"""Removed widgets leave nothing behind (two Textual leaks, fixed in the app).

Textual 8.2.8 keeps the last 1024 ``StylesCache`` objects alive through an ``lru_cache`` on an
instance method, each with every line its widget rendered; and a container emptied of its
children keeps them in its stale cache of displayed children. A long chat that unmounts
sleeping turns grew by both. These tests render and remove real widgets and count what survives.
"""

from __future__ import annotations

import gc
import weakref

from textual._styles_cache import StylesCache
from textual.app import App, ComposeResult
from textual.color import Color
from textual.containers import Vertical
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

import workbench.app  # noqa: F401  (importing the app applies the fix)
from workbench.ui import textual_fixes

ROUNDS = 6
WIDGETS = 40


def _live(kind: type) -> int:
    gc.collect()
    return sum(isinstance(o, kind) for o in gc.get_objects())


class Rebuilds(App[None]):
    def compose(self) -> ComposeResult:
        yield Vertical(id="list")


async def test_removed_widgets_free_their_styles_cache_and_strips() -> None:
    app = Rebuilds()
    async with app.run_test(size=(80, 60)) as pilot:
        box = app.query_one("#list", Vertical)
        counts: list[tuple[int, int]] = []
        for round_ in range(ROUNDS):
            await box.remove_children()
            await box.mount_all(
                Static(f"card {round_}.{i} " + "text " * 12, classes="card") for i in range(WIDGETS)
            )
            await pilot.pause()
            await pilot.pause()  # rendered: each Static's lines are in its StylesCache
            counts.append((_live(StylesCache), _live(Strip)))
        await box.remove_children()
        await pilot.pause()
        caches_after, strips_after = _live(StylesCache), _live(Strip)
    first_caches, first_strips = counts[0]
    # Each round removes 40 rendered widgets; with the leak every one of them stays (40 more
    # StylesCache objects per round, with their strips). Fixed, the count does not grow.
    assert counts[-1][0] - first_caches < WIDGETS, counts
    assert caches_after <= first_caches, (caches_after, counts)
    assert strips_after <= first_strips, (strips_after, counts)


def test_inner_outer_styles_are_unchanged() -> None:
    base, background = Color(10, 20, 30), Color(200, 100, 50, 0.5)
    inner, outer = StylesCache().get_inner_outer(base, background)
    assert inner.background == base + background
    assert outer.background == base
    assert StylesCache.get_inner_outer is textual_fixes._get_inner_outer  # the app applied it
    textual_fixes.apply()  # idempotent: a second call keeps the fixed method
    assert StylesCache.get_inner_outer is textual_fixes._get_inner_outer


class Emptied(App[None]):
    """A fixed-height box whose children are all removed, as a sleeping turn's are."""

    CSS = "#box { height: 12; }"

    def compose(self) -> ComposeResult:
        with Vertical(id="box"):
            with Vertical(id="row"):
                yield from (Static(f"line {i} " + "text " * 10) for i in range(WIDGETS))


async def test_an_emptied_container_does_not_keep_its_removed_children() -> None:
    app = Emptied()
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause()
        box = app.query_one("#box", Vertical)
        row = app.query_one("#row", Vertical)
        removed: list[weakref.ref[Widget]] = [weakref.ref(row)]
        removed += [weakref.ref(child) for child in row.children]
        del row
        await box.remove_children()
        await pilot.pause()
        await pilot.pause()
        gc.collect()
        alive = [ref() for ref in removed if ref() is not None]
        # Unfixed, the box's cached list of displayed children still holds the row, and the
        # row its 40 lines: all 41 alive.
        assert not alive, f"{len(alive)} removed widgets alive"
        assert not box.children


class Bound(Static):
    compact = reactive(False)


class Binding(Vertical):
    """Recomposes its keys like Textual's footer: each bound to ``compact``."""

    compact = reactive(False)
    round = reactive(0, recompose=True)

    def compose(self) -> ComposeResult:
        for i in range(WIDGETS):
            yield Bound(f"key {self.round}.{i}").data_bind(compact=Binding.compact)


class Rebinds(App[None]):
    def compose(self) -> ComposeResult:
        yield Binding(id="footer")


async def test_removed_widgets_bound_to_a_reactive_are_freed() -> None:
    """As Textual's footer does on every change of bindings: new keys, each bound to the
    footer's ``compact`` (which never changes), the old keys removed."""
    app = Rebinds()
    async with app.run_test(size=(80, 30)) as pilot:
        footer = app.query_one("#footer", Binding)
        for round_ in range(1, ROUNDS + 1):
            footer.round = round_
            await pilot.pause()
            await pilot.pause()
        alive = _live(Bound)
    # Unfixed, every key ever bound stays on the footer's list of watchers: 280 alive.
    assert alive <= 2 * WIDGETS, alive
