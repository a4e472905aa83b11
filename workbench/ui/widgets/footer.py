"""The key footer, recomposed once per refresh however often the bindings change.

Textual's ``Footer`` queues a full recompose (every key widget removed and made again) each
time the screen's bindings change, and they change several times in a row: at startup the
footer was composed 6 times before the first frame (63 key widgets made, 10 shown), about a
quarter of the time to first paint; a finished chat turn recomposed it several times too.
Here a change queues a recompose only when none is pending; the one that runs reads the
bindings as they are then, so nothing changes but the count.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """``Footer`` with coalesced recomposes."""

    _recompose_pending = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_pending:
            self._recompose_pending = True
            self.call_after_refresh(self._recompose_once)

    async def _recompose_once(self) -> None:
        self._recompose_pending = False  # a change from here on queues the next one
        await self.recompose()
