"""Train a VQA model: ``python -m training.vqa --data DIR --out DIR [options]``.

One JSON event per line on stdout (start, step, epoch, checkpoint, done or
error); human text and the progress bar on stderr. See docs/training.md.
"""

from __future__ import annotations

import sys

from training._main import main
from vqadesk.engine.torch_free.model_kind import ModelKind

if __name__ == "__main__":
    sys.exit(main(ModelKind.VQA,
                  "Train a VQA model (bow, lstm or attention) on a COCO-style dataset with VQA v2 files."))
