"""How ``vqadesk evaluations show`` and ``vqadesk compare-results`` print: the stored documents as tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vqadesk.errors import DataFormatError
from vqadesk.metrics.analysis.documents import read_caption_document, read_vqa_document
from vqadesk.metrics.tables import (
    format_caption_analysis,
    format_caption_evaluation,
    format_vqa_analysis,
    format_vqa_evaluation,
)
from vqadesk.text.counts import plural

if TYPE_CHECKING:
    from vqadesk.engine.torch_free.evaluations import Evaluation


def format_stored_metrics(evaluation: Evaluation) -> str:
    """The manifest in a few lines, then the tables ``vqadesk evaluate`` prints, from ``metrics.json``."""
    m = evaluation.manifest
    subset = "the whole split" if m.subset is None else f"a subset of {m.subset.size:,} (seed {m.subset.seed})"
    header = [f"{m.model_label} ({m.model_reference}) on {m.split} of {m.dataset}, {subset}",
              f"evaluated {m.created}, {m.seconds:,.1f} s on {m.device} ({m.precision})"]
    metrics_file = evaluation.path / "metrics.json"
    try:
        if m.kind == "vqa":
            scores, analysis = read_vqa_document(evaluation.metrics)
            body = [format_vqa_evaluation(scores), format_vqa_analysis(analysis)]
            if analysis.calibration is None:
                body.append("No calibration: the results carry no probabilities")
        else:
            captions, caption_analysis = read_caption_document(evaluation.metrics)
            body = [format_caption_evaluation(captions, plural(m.count, "image")),
                    format_caption_analysis(caption_analysis)]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataFormatError(metrics_file, f"not the document 'vqadesk evaluate --json' writes ({exc!r})") from None
    return "\n".join(header + body)
