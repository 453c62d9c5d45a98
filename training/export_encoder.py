"""Save a trained model's image encoder as a .safetensors file, to start another model from.

    python -m training.export_encoder --checkpoint RUN/best.json --out encoder.safetensors

The file holds the encoder network's own state dict (for the small CNN, the
``SmallCnn`` weights; for a torchvision backbone, the backbone's), which is
what ``--weights PATH`` of the training routines reads. The bundled Shapes VQA
model starts from the bundled captioner's encoder this way: captions say every
object's colour, size and shape, so a captioner's CNN learns them several
times faster than VQA's ten one-word answers per image teach them.
"""

from __future__ import annotations

import argparse
import sys

from vqadesk.engine.checkpoints.checkpoint import load_checkpoint
from vqadesk.errors import VqadeskError, run_entry_point

PREFIX = "image_encoder.backbone."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.export_encoder", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a VQA or captioning checkpoint")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    args = parser.parse_args(argv)
    if not args.out.endswith(".safetensors"):
        parser.error("--out must end in .safetensors")
    return run_entry_point(lambda: export_encoder(args.checkpoint, args.out))


def export_encoder(checkpoint_path: str, out: str) -> int:
    """Write the checkpoint's image encoder weights to ``out``; print how many tensors."""
    checkpoint = load_checkpoint(checkpoint_path)
    state = {k[len(PREFIX):]: v.contiguous() for k, v in checkpoint.model_state.items() if k.startswith(PREFIX)}
    if not state:
        raise VqadeskError(f"{checkpoint_path}: has no image encoder weights ({PREFIX}*)")
    from safetensors.torch import save_file

    encoder = checkpoint.model_config.get("image_encoder", {})
    save_file(state, out, metadata={"encoder": str(encoder.get("name")), "source": str(checkpoint_path)})
    print(f"{out}: {len(state)} tensors of the {encoder.get('name')} encoder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
