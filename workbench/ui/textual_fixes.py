"""A fix for a Textual memory leak, applied once when ``workbench.app`` is imported.

Textual 8.2.8 decorates the instance method ``StylesCache.get_inner_outer`` with
``functools.lru_cache(1024)``, so the cache's keys hold ``self``: the last 1024 ``StylesCache``
objects ever used stay alive, each with every ``Strip`` its widget rendered (and each strip's own
seven caches). A widget that is removed (a sleeping turn's columns, a recomposed footer) is freed
but its rendered lines are not: a long n = 8 chat grew ~3 MiB per turn this way, up to the
cache's bound. Upstream: https://github.com/Textualize/textual/issues/6665 (open).

The colours are the only real inputs, so the cache moves to a module-level function keyed on
them. Where a Textual release has already changed the method (no ``cache_info``), nothing is
patched; ``tests/ui/test_textual_fixes.py`` checks the behaviour either way.
"""

from __future__ import annotations

from functools import lru_cache

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


def apply() -> None:
    """Swap the leaking method for the colour-keyed cache (idempotent)."""
    current = StylesCache.__dict__.get("get_inner_outer")
    cache_clear = getattr(current, "cache_clear", None)
    if current is _get_inner_outer or cache_clear is None:
        return
    cache_clear()  # drop the StylesCache objects it already holds
    StylesCache.get_inner_outer = _get_inner_outer  # type: ignore[method-assign,assignment]
