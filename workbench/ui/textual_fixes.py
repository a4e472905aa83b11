"""Fixes for three Textual memory leaks, applied once when ``workbench.app`` is imported.

Each keeps removed widgets (and every line they rendered) alive; a long chat that unmounts
sleeping turns and recomposes its footer grew by them on every turn.

**StylesCache.** Textual 8.2.8 decorates the instance method ``StylesCache.get_inner_outer``
with ``functools.lru_cache(1024)``, so the cache's keys hold ``self``: the last 1024
``StylesCache`` objects ever used stay alive, each with every ``Strip`` its widget rendered (and
each strip's own seven caches): ~3 MiB per n = 8 turn, up to the cache's bound. Upstream:
https://github.com/Textualize/textual/issues/6665 (open). The colours are the only real inputs,
so the cache moves to a module-level function keyed on them. Where a Textual release has
already changed the method (no ``cache_info``), nothing is patched.

**Stale caches keyed on a node's update count.** A ``NodeList`` caches its displayed children
and refreshes the cache only when it is read again; each node's ``query_one`` cache (an LRU of
1024) and each widget's cache of arrangements (its children's placements) key their entries on
the update count, so after a change the old entries are unreachable but stay until evicted. A
container emptied of its children that is not laid out or queried again (a sleeping turn:
pinned height, no children) kept its removed children, and everything under them, alive: a
sleeping n = 8 turn kept its whole row of columns. The fix drops those entries whenever a
node list changes (they can never be returned again, so nothing is lost).

**Watchers.** ``watch`` and ``data_bind`` append the watching widget to a list on the watched
object, and Textual prunes the widgets that have closed only when that reactive changes. The
footer recomposes its keys whenever the bindings change and each new key binds the footer's
``compact``, which never changes: every key ever shown stayed alive (about 20 per chat turn).
The fix prunes the closed watchers whenever a new one is added.

``tests/ui/test_textual_fixes.py`` renders and removes real widgets and counts what survives.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import textual.dom
from textual._node_list import NodeList
from textual._styles_cache import StylesCache
from textual.color import Color
from textual.style import Style


@lru_cache(1024)
def _inner_outer(base_background: Color, background: Color) -> tuple[Style, Style]:
    return (
        Style(background=base_background + background),
        Style(background=base_background),
    )


def _get_inner_outer(
    self: StylesCache, base_background: Color, background: Color
) -> tuple[Style, Style]:
    return _inner_outer(base_background, background)


_node_list_updated = NodeList.updated
_STALE: tuple[int, list[Any]] = (-1, [])  # never current: ``_updates`` counts up from 0


def _updated(self: NodeList) -> None:
    self._displayed_nodes = self._displayed_visible_nodes = _STALE
    _node_list_updated(self)
    node: Any = None if self._parent is None else self._parent()
    while node is not None:
        node._query_one_cache.clear()
        arrangements = getattr(node, "_arrangement_cache", None)
        if arrangements is not None:
            arrangements.clear()
        node = node._parent


_watch: Any = getattr(textual.dom, "_watch")  # noqa: B009  (private: not re-exported)


def _watch_pruned(
    node: Any, obj: Any, attribute_name: str, callback: Any, *, init: bool = True
) -> None:
    watchers = getattr(obj, "__watchers", {}).get(attribute_name)
    if watchers:
        watchers[:] = [(watcher, call) for watcher, call in watchers if not watcher._closing]
    _watch(node, obj, attribute_name, callback, init=init)


def apply() -> None:
    """Swap the leaking methods for ones that do not leak (idempotent)."""
    if getattr(textual.dom, "_watch") is _watch:  # noqa: B009
        setattr(textual.dom, "_watch", _watch_pruned)  # noqa: B010
    caches_displayed = "_displayed_nodes" in NodeList.__init__.__code__.co_names
    if caches_displayed and NodeList.updated is not _updated:
        NodeList.updated = _updated  # type: ignore[method-assign]
    current = StylesCache.__dict__.get("get_inner_outer")
    cache_clear = getattr(current, "cache_clear", None)
    if current is _get_inner_outer or cache_clear is None:
        return
    cache_clear()  # drop the StylesCache objects it already holds
    StylesCache.get_inner_outer = _get_inner_outer  # type: ignore[method-assign,assignment]
