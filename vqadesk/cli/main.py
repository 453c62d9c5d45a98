"""Entry point of the ``vqadesk`` command and ``python -m vqadesk``.

Each sub-command lives in its own module with ``register(subparsers)``, which
adds its parser and sets ``func(args) -> int``. Heavy imports (torch, spaCy,
Qt) happen inside ``func`` so ``vqadesk --help`` stays instant.

Errors follow ``vqadesk.errors.run_entry_point``: a ``VqadeskError`` (bad
file, field, image, ...) is printed as one line on stderr with exit code 1;
argparse usage errors exit with 2; anything else is a bug and is reported in
one line too (set ``VQADESK_DEBUG=1`` to see the traceback) with exit code 3.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from vqadesk import __version__
from vqadesk.errors import EXIT_USAGE, run_entry_point

# Order is the order of ``vqadesk --help``.
COMMAND_MODULES = (
    "vqadesk.cli.gui_cmd",
    "vqadesk.cli.shapes_cmd",
    "vqadesk.cli.evaluate_cmd",
    "vqadesk.cli.compare_cmd",
    "vqadesk.cli.evaluations_cmd",
    "vqadesk.cli.ask_cmd",
    "vqadesk.cli.caption_cmd",
    "vqadesk.cli.predict_cmd",
    "vqadesk.cli.models_cmd",
)

_TOP_LEVEL_OPTIONS = ("-h", "--help", "--version")

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vqadesk",
        description="Visual question answering and image captioning on COCO-style data.",
    )
    parser.add_argument("--version", action="version", version=f"vqadesk {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in _TOP_LEVEL_OPTIONS):
        # A bare `vqadesk [--dataset ...]` is the desktop app: `vqadesk gui ...`.
        argv.insert(0, "gui")
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return run_entry_point(
        lambda: args.func(args), prefix="vqadesk: ", bug_hint="please report it; ", quiet_broken_pipe=True
    )
