"""What ``python -m training.vqa`` and ``python -m training.captioning`` share."""

from __future__ import annotations

import argparse

from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.routine import run_routine
from vqadesk.engine.torch_free.training_config import add_training_arguments, config_from_args
from vqadesk.errors import VqadeskError


def main(kind: ModelKind, description: str, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {kind.routine}", description=description)
    add_training_arguments(parser, kind)
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args, kind)
    except VqadeskError as exc:  # an option value that cannot work: a usage error (exit 2)
        parser.error(str(exc))

    def events(stop):
        # Imported here so --help and option errors answer before torch loads.
        from vqadesk.engine.training.caption_task import CaptionTask
        from vqadesk.engine.training.trainer import train
        from vqadesk.engine.training.vqa_task import VqaTask

        return train(config, VqaTask() if kind is ModelKind.VQA else CaptionTask(), stop)

    return run_routine(events)
