"""``vqadesk gui``: the desktop app (also what a bare ``vqadesk`` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vqadesk.errors import VqadeskError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gui", help="the desktop app (the default command)")
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", metavar="DIR",
        help="open this COCO-style folder, Shapes world or folder of photos "
        "(default: the last one, else the built-in Shapes world)",
    )
    parser.add_argument(
        "--screenshot", metavar="PNG",
        help="save a picture of the window once the first image is shown, then exit",
    )
    parser.add_argument(
        "--tab", choices=("explore", "training", "evaluate"), default="explore",
        help="the tab shown once the window is ready (default explore); with --screenshot, the tab pictured",
    )
    parser.add_argument(
        "--quit-after", metavar="SECONDS", type=float,
        help="exit after this many seconds (taking the screenshot then at the latest)",
    )


def run(args: argparse.Namespace) -> int:
    if args.dataset is not None and not Path(args.dataset).expanduser().is_dir():
        raise VqadeskError(f"{args.dataset}: folder not found")
    if args.quit_after is not None and args.quit_after <= 0:
        raise VqadeskError("--quit-after: must be a positive number of seconds")
    if args.screenshot and Path(args.screenshot).suffix.lower() not in {".png", ".jpg", ".jpeg"}:
        raise VqadeskError(f"--screenshot {args.screenshot}: use a .png or .jpg file name")
    from vqadesk.gui.app import run_gui

    return run_gui(dataset=args.dataset, screenshot=args.screenshot, quit_after=args.quit_after, tab=args.tab)
