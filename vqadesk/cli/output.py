"""How the one-image commands (``vqadesk ask``, ``vqadesk caption``) print."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_prediction_json(prediction: Any, load_ms: float) -> None:
    """The prediction's JSON document, with the model's loading time among its timings."""
    document = prediction.to_json()
    document["timings_ms"]["load_model"] = round(load_ms, 3)
    print(json.dumps(document))  # ASCII: safe on any console, in any pipe


def readable_stdout() -> None:
    """Let human-readable output survive any console: characters the console's encoding
    cannot show (or lone surrogates from undecodable command-line bytes) print as '?'.
    ``--json`` output needs none of this: it is plain ASCII with escapes."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="replace")
