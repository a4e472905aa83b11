"""Which model facts an estimate of a profile uses: the model's files, [model.facts], or the Hub.

Pure (huggingface_hub only, and only when the Hub is asked). Order:
1. the model is on this machine → its own files; [model.facts] that disagree are reported stale
   (the files win, never the stale table);
2. else the profile's [model.facts], when they describe the profile's model id;
3. else, when allowed, the Hub's metadata files for ``[model] id`` (``workbench.estimate.hub``);
4. else an EstimateError saying which of these to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from workbench.estimate.errors import EstimateError
from workbench.estimate.facts import ModelFacts, read_model_facts
from workbench.estimate.facts_table import facts_differences, facts_from_table, facts_to_table

if TYPE_CHECKING:
    from workbench.profiles import LoadedProfile, ModelSection

FactsOrigin = Literal["model", "profile", "hub"]
FACTS_WORDS: dict[str, str] = {
    "model": "the model's files on this machine",
    "profile": "the profile's [model.facts]",
    "hub": "the Hub's config.json and safetensors headers",
}
"""Where an estimate's model numbers came from, as every screen and report says it."""


@dataclass(frozen=True)
class ResolvedFacts:
    """Facts for an estimate, where they came from, and anything the user should know."""

    facts: ModelFacts
    origin: FactsOrigin
    notes: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    """Keys where [model.facts] disagree with the model on this machine ("key old → new")."""
    commit: str | None = None

    @property
    def described(self) -> str:
        """Words for the estimate's header: where the numbers came from."""
        return FACTS_WORDS[self.origin]


def facts_model_name(model: ModelSection) -> str:
    """What a [model.facts] ``model`` key should say for a [model] table: its id, else its
    ``path``'s last part (a teammate's copy may live elsewhere), or "builtin:demo"."""
    from workbench.profiles.models import BUILTIN_DEMO

    if model.id:
        return model.id
    if model.path == BUILTIN_DEMO:
        return BUILTIN_DEMO
    return (model.path or "").rstrip("/").rsplit("/", 1)[-1]


def local_facts_table(model: ModelSection, model_dir: Path | None) -> dict[str, Any] | None:
    """A fresh [model.facts] table from the model's files, or None when it is not here (a
    save or an export then keeps whatever table the profile has)."""
    if model_dir is None:
        return None
    try:
        facts = read_model_facts(model_dir)
    except EstimateError:
        return None  # a model the estimator cannot read; the profile's checks say why
    return facts_to_table(facts, model=facts_model_name(model))


def resolve_facts(
    loaded: LoadedProfile, *, hub: bool = False, offline: bool | None = None
) -> ResolvedFacts:
    """The facts an estimate of ``loaded`` should use; raises EstimateError (one line)."""
    table = loaded.profile.model.facts
    wanted = facts_model_name(loaded.profile.model)
    if loaded.model_dir is not None:
        facts = read_model_facts(loaded.model_dir)
        stale: tuple[str, ...] = ()
        notes: tuple[str, ...] = ()
        if table is not None:
            stale = tuple(facts_differences(table, facts))
            if table.model != wanted:
                stale = (f"model {table.model!r} → {wanted!r}", *stale)
            if stale:
                notes = (
                    f"[model.facts] of profile {loaded.name} disagree with the model on this "
                    f"machine ({'; '.join(stale[:3])}{' …' if len(stale) > 3 else ''}); the "
                    f"model's files are used; refresh with `workbench profiles facts "
                    f"{loaded.name} --write`",
                )
        return ResolvedFacts(facts, "model", notes=notes, stale=stale)
    if table is not None:
        if table.model != wanted:
            raise EstimateError(
                f"profile {loaded.name}: [model.facts] describe {table.model!r}, not "
                f"{wanted!r}; refresh them with `workbench profiles facts {loaded.name} --write` "
                "where the model is, or remove the table"
            )
        facts = facts_from_table(table, source=f"profile {loaded.name} [model.facts]")
        return ResolvedFacts(facts, "profile", commit=table.revision)
    model = loaded.profile.model
    if hub and model.id:
        from workbench.estimate.hub import fetch_hub_facts

        found = fetch_hub_facts(model.id, model.revision, offline=offline)
        return ResolvedFacts(found.facts, "hub", notes=found.notes, commit=found.commit)
    reason = loaded.model_error or "the model is not on this machine"
    how = "add [model.facts] (`workbench profiles facts NAME --write` where the model is)" + (
        ", or let `workbench estimate` read its metadata from the Hub" if model.id else ""
    )
    raise EstimateError(f"profile {loaded.name}: {reason}; to estimate without it, {how}")
