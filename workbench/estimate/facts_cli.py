"""``workbench profiles facts NAME``: show, check and write a profile's [model.facts].

Registered under ``profiles`` by ``workbench.estimate.cli`` (the profiles package sits below the
estimator and cannot import it). Imports nothing heavy at import time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.estimate.facts import ModelFacts
    from workbench.profiles import LoadedProfile


def register_under_profiles(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``facts`` to the ``profiles`` command's subcommands, if ``profiles`` is there."""
    profiles = subparsers.choices.get("profiles")
    if profiles is None:
        return
    commands = next(
        (a for a in profiles._actions if isinstance(a, argparse._SubParsersAction)), None
    )
    if commands is None:
        return
    parser = commands.add_parser(
        "facts",
        help="show, check or write a profile's [model.facts] (estimates without the model)",
        description=(
            "Read the model's architecture numbers and exact weight bytes (config.json and "
            "safetensors headers; from the model on this machine, --from MODEL_DIR, or the "
            "Hub's metadata files) and compare them with the profile's [model.facts]; --write "
            "stores them in the profile so a teammate without the model can estimate it."
        ),
    )
    parser.add_argument("name", metavar="NAME", help="profile name or .toml path")
    parser.add_argument(
        "--from",
        dest="model_dir",
        type=Path,
        metavar="MODEL_DIR",
        help="read the facts from this model directory instead",
    )
    parser.add_argument("--write", action="store_true", help="store them in the profile file")
    parser.add_argument(
        "--offline", action="store_true", help="never ask the Hub (as HF_HUB_OFFLINE=1)"
    )
    parser.set_defaults(func=run)
    # `profiles new` and `profiles export` write [model.facts] when the model is here
    from workbench.profiles import cli as profiles_cli

    for name, command in (("new", profiles_cli.cmd_new), ("export", profiles_cli.cmd_export)):
        sub = commands.choices.get(name)
        if sub is not None:
            sub.set_defaults(func=_with_facts(command))


def _with_facts(command: Any) -> Any:
    def run_with_facts(args: argparse.Namespace) -> int:
        from workbench.estimate.resolve import local_facts_table

        return int(command(args, facts_table=local_facts_table))

    return run_with_facts


def _fail(message: str) -> Exception:
    from workbench.cli import CliError

    return CliError(message, code=2)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``workbench profiles facts``."""
    from workbench.estimate.errors import EstimateError
    from workbench.estimate.facts_table import facts_differences, facts_to_table
    from workbench.estimate.resolve import facts_model_name
    from workbench.files import display_path
    from workbench.profiles import ProfileError, load_profile

    try:
        loaded = load_profile(args.name)
    except ProfileError as exc:
        raise _fail(str(exc)) from None
    try:
        facts, where, commit = _read_actual(loaded, args.model_dir, offline=args.offline or None)
    except EstimateError as exc:
        raise _fail(str(exc)) from None
    table = facts_to_table(facts, model=facts_model_name(loaded.profile.model), revision=commit)
    stored = loaded.profile.model.facts
    print(f"# {loaded.name}: [model.facts] read from {where}")
    if stored is None:
        print("# the profile has no [model.facts] yet")
    else:
        differences = facts_differences(stored, facts)
        if stored.model != table["model"]:
            differences.insert(0, f"model {stored.model!r} → {table['model']!r}")
        if differences:
            print("# the profile's [model.facts] are stale:")
            for line in differences:
                print(f"#   {line}")
        else:
            print("# the profile's [model.facts] match")
    import tomli_w

    print(tomli_w.dumps({"model": {"facts": table}}), end="")
    if not args.write:
        if stored is None or stored.model_dump(exclude_none=True) != table:
            print("# (not written: add --write)", file=sys.stderr)
        return 0
    _write(loaded, table)
    print(f"workbench: wrote [model.facts] to {display_path(loaded.path)}", file=sys.stderr)
    return 0


def _read_actual(
    loaded: LoadedProfile, model_dir: Path | None, *, offline: bool | None
) -> tuple[ModelFacts, str, str | None]:
    """(facts, where they were read, Hub commit) from --from, the local model, or the Hub."""
    from workbench.estimate.errors import EstimateError
    from workbench.estimate.facts import read_model_facts
    from workbench.estimate.hub import fetch_hub_facts

    if model_dir is not None:
        return read_model_facts(model_dir), str(model_dir), None
    if loaded.model_dir is not None:
        return read_model_facts(loaded.model_dir), str(loaded.model_dir), None
    model = loaded.profile.model
    if model.id is None:
        raise EstimateError(
            f"profile {loaded.name}: {loaded.model_error or 'the model is not on this machine'}"
            "; give --from MODEL_DIR"
        )
    found = fetch_hub_facts(model.id, model.revision, offline=offline)
    for note in found.notes:
        print(f"workbench: note: {note}", file=sys.stderr)
    where = f"the Hub ({model.id}" + (f"@{found.commit})" if found.commit else ")")
    return found.facts, where, found.commit


def _write(loaded: LoadedProfile, table: dict[str, Any]) -> None:
    """Store ``table`` as the profile file's own [model.facts] (comments kept, atomically)."""
    import copy

    from workbench.profiles import ProfileError, load_profile, save_profile

    plain = load_profile(loaded.path, gpu_name=None)  # the file as written, no GPU override
    data = copy.deepcopy(plain.data)
    data.setdefault("model", {})["facts"] = table
    try:
        save_profile(plain.path, data, project_dir=plain.project_dir, user_dir=plain.user_dir)
    except ProfileError as exc:
        raise _fail(str(exc)) from None
