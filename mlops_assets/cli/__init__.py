"""`mlops`: the platform's command line. Subcommands are discovered, not listed.

Every module of this package that defines `register(subparsers)` adds its subcommand(s): it calls
`subparsers.add_parser(...)` and sets `handler=<callable(args) -> int>` with `set_defaults`. Adding a
module adds a command; this file never changes.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser with every discovered subcommand, and the modules that failed to load."""
    parser = argparse.ArgumentParser(prog="mlops", description="The UNS MLOps platform's command line.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    broken: list[str] = []
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        name = f"{__name__}.{module_info.name}"
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # one broken command must not take the others down
            broken.append(f"{module_info.name}: {type(exc).__name__}: {exc}")
            continue
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser, broken


def main(argv: Sequence[str] | None = None) -> int:
    parser, broken = build_parser()
    for problem in broken:
        print(f"mlops: subcommand module {problem}", file=sys.stderr)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)
