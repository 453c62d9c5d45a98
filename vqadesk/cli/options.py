"""The options several sub-commands share, worded once.

``--model``/``--device``/``--precision`` (and loading the model they name), ``--json``,
``--beam``, the positive integers of ``--top-k``/``--captions``/``--batch-size``,
the ``IMAGE`` of ``vqadesk ask|caption``, the ``vqa|captions`` kind of
``vqadesk evaluate|predict``, and asking before deleting (``--yes``).
Nothing heavy is imported here: ``vqadesk --help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.errors import EXIT_USAGE, VqadeskError

if TYPE_CHECKING:
    from vqadesk.engine.inference.predictor import Predictor

_MODEL_WORDS = {ModelKind.VQA: "VQA", ModelKind.CAPTIONING: "captioning"}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # engine/precision.py's, without importing torch here


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_model_options(parser: argparse.ArgumentParser, kind: ModelKind) -> None:
    """``--model`` (default: the bundled model of ``kind``), ``--device`` and ``--precision``."""
    from vqadesk.engine.torch_free.model_registry import DEFAULT_NAMES  # JSON-only module: cheap

    default = DEFAULT_NAMES[kind]
    parser.add_argument(
        "--model", default=default, metavar="NAME|PATH|hf:ORG/NAME[@REV]|FOLDER",
        help=f"{_MODEL_WORDS[kind]} model: a bundled or user model name, a checkpoint .json, a Hugging Face "
        "model from the local cache (hf:ORG/NAME or hf:ORG/NAME@REVISION; get one with `vqadesk models download`) "
        f"or a folder holding a transformers model (default: {default})",
    )
    parser.add_argument(
        "--device", default="auto", metavar="DEVICE",
        help="auto (CUDA, else MPS, else CPU; the default), cpu, cuda, cuda:N or mps",
    )
    parser.add_argument(
        "--precision", default="auto", choices=PRECISIONS,
        help="arithmetic of pretrained (hf: or folder) models: auto (the default: bf16 on CPUs and GPUs that do "
        "it natively, fp16 on older GPUs, else fp32), fp32, bf16 or fp16 (CUDA only); vqadesk's own models "
        "run in fp32",
    )


def load_model(kind: ModelKind, args: argparse.Namespace) -> tuple[Predictor, float]:
    """A predictor holding the ``--model`` of ``kind`` on ``--device`` in ``--precision``, and the
    milliseconds loading took."""
    from vqadesk.engine.inference.predictor import Predictor

    if kind is ModelKind.VQA:
        predictor = Predictor(vqa=args.model, captioner=None, device=args.device, precision=args.precision)
        load = predictor.load_vqa
    else:
        predictor = Predictor(vqa=None, captioner=args.model, device=args.device, precision=args.precision)
        load = predictor.load_captioner
    started = time.perf_counter()
    load(args.model)
    return predictor, (time.perf_counter() - started) * 1000.0


def add_json_option(parser: argparse.ArgumentParser, help: str = "print one JSON document") -> None:
    parser.add_argument("--json", action="store_true", help=help)


def add_beam_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--beam", type=positive_int, default=3, metavar="N", help="beam size (default: 3; 1 is greedy)")


def add_image_command(
    subparsers: argparse._SubParsersAction, name: str, *, help: str, description: str
) -> argparse.ArgumentParser:
    """The ``name`` sub-command about one image: its parser, with the ``IMAGE`` argument first."""
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.add_argument("image", metavar="IMAGE", help="image file (JPEG, PNG, ...)")
    return parser


def add_kind_commands(
    subparsers: argparse._SubParsersAction, name: str, *, help: str, description: str, vqa_help: str,
    captions_help: str,
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``name vqa`` and ``name captions`` sub-commands' parsers.

    ``name`` without a kind prints its help on stderr and exits with the usage code.
    """
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.set_defaults(func=lambda args: _missing_kind(parser))
    kinds = parser.add_subparsers(dest="kind", metavar="KIND")
    return kinds.add_parser("vqa", help=vqa_help), kinds.add_parser("captions", help=captions_help)


def _missing_kind(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


class ConfirmationNeededError(VqadeskError):
    """No terminal to ask on, and no ``--yes``."""


def confirmed(yes: bool, action: str) -> bool:
    """``--yes``, or the user's "y" on the terminal; without a terminal (a script, a pipe) ``--yes`` is required."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ConfirmationNeededError(f"not going to {action} without asking: pass --yes (no terminal to ask on)")
    print(f"{action[0].upper()}{action[1:]}? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def missing_action(parser: argparse.ArgumentParser) -> int:
    """A command group without its action: its help on stderr, the usage exit code."""
    parser.print_help(sys.stderr)
    return EXIT_USAGE
