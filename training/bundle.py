"""Turn a trained checkpoint into a bundled model with a model card.

    python -m training.bundle --checkpoint RUN/best.json --name shapes-vqa \\
        --card card.json [--out resources/models]

Copies the checkpoint's weights and config into ``resources/models/NAME.json``
+ ``NAME.safetensors`` without its training state, replaces machine-specific
metadata (the absolute dataset path) by the card, and writes a readable
``NAME.md`` beside it. The card (a JSON object) records what a bundled
model's card must say: ``title``, ``data`` (how the training data was generated, seeds),
``command`` (the exact training command), ``training_time_s`` and
``machine``, and ``heldout`` (metrics on a split generated with a seed not
used in training, from ``python -m training.evaluate``). The model's size
is filled in here.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from vqadesk.engine.checkpoints.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from vqadesk.errors import VqadeskError, run_entry_point
from vqadesk.jsonio import read_json

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "resources" / "models"
CARD_FIELDS = ("title", "data", "command", "training_time_s", "machine", "heldout")


def card_markdown(name: str, kind: str, card: dict, size_mb: float, parameters: int) -> str:
    heldout = card["heldout"]
    metrics = "\n".join(f"| {key} | {value} |" for key, value in heldout["metrics"].items())
    return f"""# {name} — {card['title']}

Bundled {kind} model of vqadesk, trained by the project's own routine on the Shapes world.

| | |
|---|---|
| kind | {kind} |
| parameters | {parameters:,} |
| files | `{name}.safetensors` + `{name}.json`, {size_mb:.1f} MB |
| training data | {card['data']} |
| training time | {card['training_time_s'] / 60:.1f} min on {card['machine']} |

Command:

```
{card['command']}
```

Held-out evaluation ({heldout['data']}):

| metric | value |
|---|---|
{metrics}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.bundle", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="the trained checkpoint (e.g. RUN/best.json)")
    parser.add_argument("--name", required=True, help="bundled name, e.g. shapes-vqa")
    parser.add_argument("--card", required=True, help="JSON file with the model card fields")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder (default: resources/models)")
    args = parser.parse_args(argv)
    return run_entry_point(lambda: bundle(args.checkpoint, args.name, args.card, args.out))


def bundle(checkpoint_path: str, name: str, card_path: str, out: str) -> int:
    """Write ``out/NAME.json``, ``NAME.safetensors`` and ``NAME.md``; print where and how big."""
    card = read_json(card_path)
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise VqadeskError(f"{card_path}: model card lacks {', '.join(missing)}")
    checkpoint = load_checkpoint(checkpoint_path)
    metadata = {k: v for k, v in checkpoint.metadata.items() if k != "dataset"}
    metadata["training_config"] = {k: v for k, v in metadata.get("training_config", {}).items()
                                   if k not in ("data", "out")}
    parameters = sum(t.numel() for t in checkpoint.model_state.values())
    metadata["model_card"] = {**card, "parameters": parameters}
    bundled = replace(checkpoint, metadata=metadata, training_state=None)
    json_path = save_checkpoint(out, name, bundled)
    size = sum(p.stat().st_size for p in checkpoint_paths(out, name))
    (Path(out) / f"{name}.md").write_text(
        card_markdown(name, checkpoint.kind, card, size / 1e6, parameters), encoding="utf-8"
    )
    print(f"{json_path} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
