"""`workbench app [PROFILE]`: the default command; opens the Textual app on a validated profile.

Imports nothing heavy at module level: textual, the engine and NVML load inside ``run_app``.
"""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_PROFILE = "demo"


def register(subparsers: Any) -> None:
    """Add the ``app`` command."""
    parser = subparsers.add_parser(
        "app",
        help="open the workbench app (the default command)",
        description="Open the workbench app on PROFILE (default: demo) and load it.",
    )
    parser.add_argument("profile", nargs="?", default=None,
                        help="profile name or path to a .toml file (default: demo)")
    parser.add_argument("--url", metavar="URL",
                        help="chat with a running vLLM (OpenAI-compatible) server; with PROFILE, "
                        "its sampling and chat settings are used")
    parser.add_argument("--model", metavar="NAME", help="with --url: the served model name")
    parser.add_argument("--api-key-env", metavar="VAR",
                        help="with --url: the environment variable holding the server's API key")
    parser.add_argument("--no-load", action="store_true",
                        help="open the app without loading the engine")
    parser.add_argument("--fake-engine", action="store_true",
                        help="use the scripted fake engine (UI development and demos)")
    parser.add_argument("--resume", action="store_true", help="reopen the last saved chat")
    parser.add_argument(
        "--trust-profile",
        action="store_true",
        help="consent to what a profile from someone else asks for (trust_remote_code, [env], "
        "a custom chat template); remembered until its file changes",
    )
    parser.set_defaults(func=run_app)


def run_app(args: argparse.Namespace) -> int:
    """Validate the profile, then build and run the app. Bad profile: one line, exit 2."""
    from workbench.cli import CliError
    from workbench.profiles import ProfileError, load_profile

    initial: Any = profile_name(args)
    try:
        loaded = load_profile(initial) if args.profile is not None or not args.url else None
        if args.url:
            from workbench.profiles.deployment import deployment_profile

            initial = deployment_profile(
                args.url, model=args.model, api_key_env=args.api_key_env, base=loaded
            )
    except ProfileError as error:
        raise CliError(str(error), code=2) from None
    if args.trust_profile and loaded is not None:
        from workbench.paths import data_dir
        from workbench.profiles.trust import command_line_consent

        command_line_consent(loaded, data_dir(), trust=True)  # else the app asks on load

    from workbench.app import create_app
    from workbench.gpu import make_sampler

    sampler = make_sampler()
    gpu = gpu_spec(sampler.sample())
    engine: Any
    registry = None
    if args.fake_engine:
        from workbench.engine.fake import FakeEngine

        engine = FakeEngine(step_delay_s=0.3)
    else:
        from workbench.engine.choose import EngineRouter
        from workbench.engine.service import VllmEngineService

        embedded = VllmEngineService()
        registry = embedded.registry
        engine = EngineRouter(embedded)
    app = create_app(
        engine=engine,
        sampler=sampler,
        gpu=gpu,
        initial_profile=initial,
        autoload=not args.no_load,
        resume=args.resume,
        registry=registry,
    )
    app.run()
    return 0


def profile_name(args: argparse.Namespace) -> str:
    """The profile the app opens: the one named, else the demo (with --url and no name, the
    deployment alone is used instead)."""
    return str(args.profile) if args.profile is not None else DEFAULT_PROFILE


def gpu_spec(sample: Any) -> Any:
    """The estimator's GpuSpec for the first GPU in a VRAM sample (None without a GPU)."""
    if not sample.gpus:
        return None
    from workbench.estimate import GpuSpec

    first = sample.gpus[0]
    return GpuSpec(
        name=first.name,
        total_bytes=first.total_bytes,
        free_bytes=first.free_bytes,
        count=len(sample.gpus),
    )
