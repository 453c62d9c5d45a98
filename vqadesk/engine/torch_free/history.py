"""The questions asked in one app session, and their export as JSON, CSV or an HTML report.

Qt-free: the app's History panel keeps ``HistoryEntry`` records and calls
these writers; tests call them directly. Every writer is atomic (a temporary
file, then a rename), so a failed export never leaves half a file.

* JSON: ``{"format": "vqadesk.history", "version": 1, "entries": [...]}``,
  each entry with its top-k answers and scores, the model, the image, the
  human answers and official accuracy when the dataset had them, and the
  attention map (rows of floats) when the model has one.
* CSV: one row per question, the best answer and its score, then all
  answers as ``answer:score`` joined by ``|`` (spreadsheet friendly).
* HTML: a self-contained report (images embedded as base64 PNG): each
  question with its image, the attention map laid over it, and the answers.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vqadesk.data.images import load_image
from vqadesk.engine.torch_free.predictions import CENTRE_SQUARE, WHOLE_IMAGE
from vqadesk.errors import VqadeskError
from vqadesk.jsonio import write_json_atomic
from vqadesk.text.counts import plural

FORMAT_NAME = "vqadesk.history"
REPORT_IMAGE_SIDE = 256
# Anchor colours of matplotlib's "inferno" (the app's default heatmap colours), interpolated linearly.
_INFERNO = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99],
     [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]],
    dtype=np.float64,
)


class ExportError(VqadeskError):
    """The history could not be written (folder missing, disk full, permissions...)."""


@dataclass(frozen=True, eq=False)
class HistoryEntry:
    asked_at: str  # ISO 8601, local time
    image_path: str
    image_id: int | None
    question: str
    answers: list[tuple[str, float]]  # best first
    model: str
    attention: np.ndarray | None = None  # (h, w), sums to 1
    attention_region: str = CENTRE_SQUARE  # the part of the photo the map covers (predictions.py)
    human_answers: list[str] | None = None
    accuracy: float | None = None  # official VQA accuracy of the best answer, 0..1
    total_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> tuple[str, float]:
        return self.answers[0] if self.answers else ("", 0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "asked_at": self.asked_at,
            "image": self.image_path,
            "image_id": self.image_id,
            "question": self.question,
            "answers": [{"answer": text, "score": float(prob)} for text, prob in self.answers],
            "model": self.model,
            "human_answers": self.human_answers,
            "accuracy": self.accuracy,
            "attention": None if self.attention is None else np.round(self.attention.astype(np.float64), 6).tolist(),
            "attention_region": self.attention_region,
            "timings_ms": {"total": self.total_ms} if self.total_ms is not None else {},
        }


def export_json(entries: Sequence[HistoryEntry], path: str | os.PathLike[str]) -> None:
    document = {"format": FORMAT_NAME, "version": 1, "entries": [entry.to_json() for entry in entries]}
    _guard(path, lambda: write_json_atomic(path, document))


def export_csv(entries: Sequence[HistoryEntry], path: str | os.PathLike[str]) -> None:
    def write(handle) -> None:
        writer = csv.writer(handle)
        writer.writerow(["asked_at", "image", "image_id", "question", "answer", "score", "accuracy", "model",
                         "all_answers"])
        for entry in entries:
            text, prob = entry.best
            writer.writerow([
                entry.asked_at, entry.image_path, "" if entry.image_id is None else entry.image_id, entry.question,
                text, f"{prob:.6f}", "" if entry.accuracy is None else f"{entry.accuracy:.4f}", entry.model,
                "|".join(f"{a}:{p:.6f}" for a, p in entry.answers),
            ])

    _guard(path, lambda: _write_text_atomic(path, write, newline=""))


def export_html(entries: Sequence[HistoryEntry], path: str | os.PathLike[str]) -> None:
    """A self-contained report: unreadable images are named, not fatal."""
    cards = [_html_card(entry) for entry in entries]
    document = _HTML_PAGE.format(asked=plural(len(entries), "question"), cards="\n".join(cards))
    _guard(path, lambda: _write_text_atomic(path, lambda handle: handle.write(document)))


def overlay_attention(
    image: Image.Image, attention: np.ndarray, opacity: float = 0.55, region: str = CENTRE_SQUARE
) -> Image.Image:
    """``image`` with ``attention`` (h, w) laid over its centre square, or the whole image for a
    ``WHOLE_IMAGE`` map (stretched to the image's shape), as the app shows it."""
    width, height = image.size
    side = min(width, height)
    area = (width, height) if region == WHOLE_IMAGE else (side, side)
    values = np.asarray(attention, dtype=np.float64)
    scaled = values / values.max() if values.max() > 0 else np.zeros_like(values)
    positions = scaled * (len(_INFERNO) - 1)
    low = np.floor(positions).astype(int).clip(0, len(_INFERNO) - 2)
    weight = (positions - low)[..., None]
    rgb = (_INFERNO[low] * (1 - weight) + _INFERNO[low + 1] * weight).round().astype(np.uint8)
    heat = Image.fromarray(rgb, "RGB").resize(area, Image.Resampling.BILINEAR)
    base = image.convert("RGB")
    box = ((width - area[0]) // 2, (height - area[1]) // 2)
    under = base.crop((box[0], box[1], box[0] + area[0], box[1] + area[1]))
    base.paste(Image.blend(under, heat, opacity), box)
    return base


def _html_card(entry: HistoryEntry) -> str:
    pictures = []
    try:
        image = load_image(entry.image_path)
        image.thumbnail((REPORT_IMAGE_SIDE, REPORT_IMAGE_SIDE))
        pictures.append(_img_tag(image, "image"))
        if entry.attention is not None:
            overlaid = overlay_attention(image, entry.attention, region=entry.attention_region)
            pictures.append(_img_tag(overlaid, "where the model looked"))
    except VqadeskError as exc:
        pictures.append(f'<p class="missing">{html.escape(str(exc))}</p>')
    rows = "".join(
        f'<tr><td>{html.escape(text)}</td><td><div class="bar" style="width:{prob * 100:.1f}%"></div></td>'
        f"<td>{prob * 100:.1f}%</td></tr>"
        for text, prob in entry.answers
    )
    truth = ""
    if entry.human_answers:
        truth = f"<p>Human answers: {html.escape(', '.join(entry.human_answers))}"
        if entry.accuracy is not None:
            truth += f" — accuracy {entry.accuracy * 100:.0f}%"
        truth += "</p>"
    return (
        f'<section><h2>{html.escape(entry.question)}</h2>'
        f'<p class="meta">{html.escape(entry.asked_at)} · {html.escape(Path(entry.image_path).name)} · '
        f"{html.escape(entry.model)}</p>"
        f'<div class="pictures">{"".join(pictures)}</div><table>{rows}</table>{truth}</section>'
    )


def _img_tag(image: Image.Image, title: str) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{title}"><figcaption>{title}</figcaption></figure>'


def _write_text_atomic(path: str | os.PathLike[str], write, *, newline: str | None = None) -> None:
    target = Path(path)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the `with` below, kept after a failure
        "w", encoding="utf-8", newline=newline, dir=target.parent, prefix=f".{target.name}.", delete=False
    )
    try:
        with handle:
            write(handle)
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _guard(path: str | os.PathLike[str], write) -> None:
    if not Path(path).parent.is_dir():
        raise ExportError(f"{path}: the folder {Path(path).parent} does not exist")
    try:
        write()
    except OSError as exc:
        raise ExportError(f"{path}: could not write the history ({exc.strerror or exc})") from None


_HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vqadesk — questions asked</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 960px; color: #222; }}
section {{ border-top: 1px solid #ddd; padding: 1em 0; }}
h2 {{ font-size: 1.15em; margin: 0 0 .2em; }}
.meta {{ color: #777; font-size: .9em; margin: 0 0 .6em; }}
.pictures {{ display: flex; gap: 1em; }}
figure {{ margin: 0; }} figcaption {{ font-size: .8em; color: #777; }}
table {{ border-collapse: collapse; margin-top: .6em; min-width: 60%; }}
td {{ padding: 2px 8px; }} td:nth-child(2) {{ width: 50%; }}
.bar {{ background: #3c82dc; height: 12px; }}
.missing {{ color: #b00020; }}
</style></head><body>
<h1>vqadesk — {asked} asked</h1>
{cards}
</body></html>
"""
