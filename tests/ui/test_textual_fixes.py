"""Removed widgets leave nothing rendered behind (Textual's StylesCache leak, fixed in the app).

Textual 8.2.8 keeps the last 1024 ``StylesCache`` objects alive through an ``lru_cache`` on an
instance method, each with every line its widget rendered; a long chat that unmounts sleeping
turns grew by their strips. These tests render and remove real widgets and count what survives.
"""

from __future__ import annotations

import gc

from textual._styles_cache import StylesCache
from textual.app import App, ComposeResult
from textual.color import Color
from textual.containers import Vertical
from textual.strip import Strip
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
