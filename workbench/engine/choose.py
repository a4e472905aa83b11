"""Which engine runs a profile: a [deployment] is a remote server, anything else is embedded.

Pure (the engines themselves are imported when first needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from workbench.engine.api import (
    ChatEvent,
    ChatMessage,
    ChatOverrides,
    EngineService,
    EngineState,
    LoadProgress,
    PromptCount,
    StatePublisher,
)

if TYPE_CHECKING:
    from workbench.engine.remote_metrics import RemoteMetrics
    from workbench.profiles import LoadedProfile


def service_for(profile: LoadedProfile) -> EngineService:
    """A new engine service for ``profile``: remote for a [deployment], else vLLM embedded."""
    if profile.profile.deployment is not None:
        from workbench.engine.remote import RemoteEngineService

        return RemoteEngineService()
    from workbench.engine.service import VllmEngineService

    return VllmEngineService()


class EngineRouter(StatePublisher):
    """One ``EngineService`` for the app that runs each profile on the right engine: the
    embedded one, or a remote deployment for a profile with [deployment]. Switching unloads
    the other first; only the active engine's state changes reach the listeners."""

    def __init__(
        self, embedded: EngineService, remote_factory: Callable[[], EngineService] | None = None
    ) -> None:
        self._state = EngineState()
        self.embedded = embedded
        self._remote_factory = remote_factory
        self.remote: EngineService | None = None
        self.active: EngineService = embedded
        embedded.add_state_listener(lambda state: self._relay(embedded, state))

    def _relay(self, source: EngineService, state: EngineState) -> None:
        if source is self.active:
            self._state = state

    @property
    def state(self) -> EngineState:
        return self.active.state

    def _remote(self) -> EngineService:
        if self.remote is None:
            if self._remote_factory is not None:
                remote = self._remote_factory()
            else:
                from workbench.engine.remote import RemoteEngineService

                remote = RemoteEngineService()
            remote.add_state_listener(lambda state: self._relay(remote, state))
            self.remote = remote
        return self.remote

    async def load(self, profile: LoadedProfile) -> AsyncIterator[LoadProgress]:
        """Load ``profile`` on its engine, unloading the other one first."""
        target = self._remote() if profile.profile.deployment is not None else self.embedded
        if target is not self.active:
            await self.active.unload()
            self.active = target
            self._state = target.state
        async for progress in target.load(profile):
            yield progress

    def chat(
        self,
        messages: list[ChatMessage],
        overrides: ChatOverrides | None = None,
        *,
        request_id: str | None = None,
    ) -> AsyncIterator[ChatEvent]:
        return self.active.chat(messages, overrides, request_id=request_id)

    async def count_prompt(
        self, messages: list[ChatMessage], overrides: ChatOverrides | None = None
    ) -> PromptCount | None:
        return await self.active.count_prompt(messages, overrides)

    async def abort(self, request_id: str | None = None) -> None:
        await self.active.abort(request_id)

    async def unload(self) -> None:
        await self.active.unload()

    def log_lines(self) -> list[str]:
        return self.active.log_lines()

    @property
    def remote_active(self) -> bool:
        """Whether a deployment (not the embedded engine) is the engine now."""
        return self.active is not self.embedded

    def live_metrics(self) -> RemoteMetrics | None:
        """The embedded engine's live scheduler figures while it is the engine, else None."""
        live = getattr(self.active, "live_metrics", None)
        if live is None or self.active is not self.embedded:
            return None
        result: RemoteMetrics | None = live()
        return result

    async def remote_metrics(self) -> RemoteMetrics | str | None:
        """The deployment's live metrics when a remote engine is active, else None."""
        scrape = getattr(self.active, "remote_metrics", None)
        if scrape is None or self.active is self.embedded:
            return None
        result: RemoteMetrics | str = await scrape()
        return result
