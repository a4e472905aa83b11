"""Command line: parse arguments, hand each subcommand to the capability that owns it.

Every capability module listed in ``_COMMAND_MODULES`` exposes ``register(subparsers)``; it adds
its parser and sets ``func`` (``argparse.Namespace -> int``). Those modules import nothing heavy at
import time, so ``workbench --help`` stays fast: vllm, torch and textual load inside ``func``.

Exit codes: 0 success, 1 runtime failure, 2 bad input (bad profile, bad arguments).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Order is the order shown in --help.
_COMMAND_MODULES = (
    "workbench.ui.cli",  # app (the default command)
    "workbench.profiles.cli",  # profiles ...
    "workbench.estimate.cli",  # estimate
    "workbench.engine.cli",  # chat
    "workbench.demo.cli",  # demo-model ...
)

DEFAULT_COMMAND = "app"


class CliError(Exception):
    """A one-line, user-facing error; ``main`` prints it to stderr and exits with ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description=(
            "A Textual workbench for vLLM. With no command, opens the app on the demo profile."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # a real import error inside the module
                raise
            continue  # capability not built yet
        module.register(subparsers)
    return parser


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known_commands = _command_names(parser)
    first = args_list[0] if args_list else None
    if DEFAULT_COMMAND in known_commands and (
        first is None or (first not in known_commands and first not in ("-h", "--help"))
    ):
        args_list = [DEFAULT_COMMAND, *args_list]
    args = parser.parse_args(args_list)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except CliError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
