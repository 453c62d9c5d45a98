"""The HTML report of one evaluation: one self-contained file to keep or send.

Tables and inline SVG charts (``svg.py``) of what the Evaluate tab shows:
VQA -- accuracy per answer type and per question type (weakest first),
correctness, calibration, the yes/no and counting confusion matrices;
captions -- BLEU-1..4, CIDEr-D and the per-image CIDEr-D histogram. Then a
sample of mistakes: the most confidently wrong questions (captions: the
lowest CIDEr-D), each with its photo and the model's map laid over it
(Pillow + NumPy, JPEG in base64), the top-k and the human answers
(references). A photo that cannot be read is named in its place.
"""

from __future__ import annotations

import base64
import io
import os
from html import escape
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image

from vqadesk.data.images import load_image
from vqadesk.engine.torch_free.evaluations import svg
from vqadesk.engine.torch_free.evaluations.export import write_export
from vqadesk.engine.torch_free.evaluations.rows import CaptionRow, VqaRow
from vqadesk.engine.torch_free.evaluations.store import Evaluation
from vqadesk.engine.torch_free.history import overlay_attention
from vqadesk.errors import VqadeskError
from vqadesk.metrics.analysis.vqa import RIGHT
from vqadesk.text.counts import plural

MISTAKES = 24
PHOTO_SIDE = 256


def write_html_report(evaluation: Evaluation, path: str | os.PathLike[str], *, mistakes: int = MISTAKES) -> None:
    """Write the report of ``evaluation`` to ``path`` (atomically), with up to ``mistakes`` examples."""
    sections = _vqa_sections(evaluation) if evaluation.kind == "vqa" else _caption_sections(evaluation)
    sample = _vqa_mistakes(evaluation, mistakes) if evaluation.kind == "vqa" else _caption_mistakes(evaluation,
                                                                                                   mistakes)
    m = evaluation.manifest
    title = f"{m.model_label} on {m.split}"
    page = _PAGE.format(title=escape(title), meta=_meta(evaluation), sections="\n".join(sections),
                        mistakes="\n".join(sample))

    def write(handle: IO[str]) -> None:
        handle.write(page)

    write_export(Path(path), write, "report")


def _meta(evaluation: Evaluation) -> str:
    m = evaluation.manifest
    subset = "the whole split" if m.subset is None else f"a random subset of {m.subset.size:,} (seed {m.subset.seed})"
    items = [("Model", m.model_reference), ("Dataset", m.dataset), ("Split", f"{m.split}, {subset}"),
             ("Evaluated", plural(m.count, "question" if m.kind == "vqa" else "image")),
             ("Date", m.created), ("Run", f"{m.seconds:,.1f} s on {m.device}, {m.precision}"),
             (m.headline_name, f"{m.headline_value:.2f}" if m.kind == "vqa" else f"{m.headline_value:.4f}")]
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in items)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _types(metrics: dict[str, Any], key: str, counts_key: str, title: str) -> str:
    values, counts = metrics.get(key) or {}, metrics.get(counts_key) or {}
    ordered = sorted(values.items(), key=lambda item: (item[1], item[0]))
    rows = [[name, f"{value:.2f}", f"{counts.get(name, 0):,}"] for name, value in ordered]
    chart = svg.bar_chart([(name, value, counts.get(name, 0)) for name, value in ordered], title)
    return f"<h3>{escape(title)} (weakest first)</h3>{chart}{_table([title, 'accuracy', 'questions'], rows)}"


def _confusion(block: dict[str, Any] | None, title: str) -> str:
    if not block or not block.get("count"):
        return ""
    labels, matrix = block["labels"], block["matrix"]
    used = [i for i in range(len(labels)) if any(matrix[i]) or any(row[i] for row in matrix)]
    rows = [[f"human {labels[i]}", *(f"{matrix[i][j]:,}" for j in used)] for i in used]
    return (f"<h3>{escape(title)}</h3><p class='meta'>rows: the humans' majority answer; columns: the "
            f"prediction</p>{_table(['', *(f'predicted {labels[j]}' for j in used)], rows)}")


def _vqa_sections(evaluation: Evaluation) -> list[str]:
    metrics = evaluation.metrics
    sections = [f"<h2>VQA accuracy {metrics['overall']:.2f}</h2>",
                _types(metrics, "perAnswerType", "answerTypeCounts", "Answer type"),
                _types(metrics, "perQuestionType", "questionTypeCounts", "Question type")]
    correctness = metrics.get("correctness")
    if correctness:
        sections.append(f"<p>{correctness['right']:,} right (accuracy 100), {correctness['partial']:,} partly "
                        f"right, {correctness['wrong']:,} wrong.</p>")
    calibration = metrics.get("calibration")
    if calibration:
        sections.append(f"<h3>Calibration (expected calibration error {calibration['ece']:.4f})</h3>"
                        + svg.calibration_plot(calibration["bins"]))
    else:
        sections.append("<p class='meta'>No calibration: the results carry no probabilities.</p>")
    sections.append(_confusion(metrics.get("yesNoConfusion"), "Yes/no questions"))
    sections.append(_confusion(metrics.get("countConfusion"), "Counting questions"))
    return sections


def _caption_sections(evaluation: Evaluation) -> list[str]:
    metrics = evaluation.metrics
    names = [name for name in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr") if name in metrics]
    sections = [f"<h2>CIDEr-D {metrics['CIDEr']:.4f}</h2>",
                _table(["metric", "score"], [[n if n != "CIDEr" else "CIDEr-D", f"{metrics[n]:.4f}"] for n in names])]
    histogram = metrics.get("ciderHistogram")
    if histogram:
        sections.append("<h3>Per-image CIDEr-D</h3>" + svg.histogram(histogram["edges"], histogram["counts"],
                                                                     "Per-image CIDEr-D"))
    return sections


def _vqa_mistakes(evaluation: Evaluation, limit: int) -> list[str]:
    rows = evaluation.rows
    wrong = np.flatnonzero(rows.column("accuracy") < RIGHT)
    scores = np.nan_to_num(rows.column("score")[wrong], nan=-1.0)  # no probability: last
    chosen = wrong[np.argsort(-scores, kind="stable")[:limit]]
    cards = [f"<h2>The {plural(len(chosen), 'most confident mistake')} "
             f"(of {plural(len(wrong), 'question')} not fully right)</h2>"]
    return cards + [_vqa_card(evaluation, rows[int(position)]) for position in chosen]


def _vqa_card(evaluation: Evaluation, row: VqaRow) -> str:
    score = "" if row.score is None else f" ({row.score * 100:.1f}%)"
    top_k = ", ".join(f"{escape(answer)} {prob * 100:.1f}%" for answer, prob in row.top_k)
    return (f"<section><h3>{escape(row.question)}</h3>{_pictures(evaluation, row)}"
            f"<p>Answer: <b>{escape(row.answer)}</b>{score} — accuracy {row.accuracy:.0f}"
            f" · {escape(row.question_type)} · {escape(row.answer_type)}</p>"
            + (f"<p>Top answers: {top_k}</p>" if top_k else "")
            + f"<p>Human answers: {escape(', '.join(row.human_answers))}</p></section>")


def _caption_mistakes(evaluation: Evaluation, limit: int) -> list[str]:
    rows = evaluation.rows
    worst = np.argsort(rows.column("cider"), kind="stable")[:limit]
    cards = [f"<h2>The {plural(len(worst), 'lowest-scored caption')}</h2>"]
    for row in (rows[int(position)] for position in worst):
        references = "".join(f"<li>{escape(text)}</li>" for text in row.references)
        cards.append(f"<section><h3>{escape(row.caption)}</h3>{_pictures(evaluation, row)}"
                     f"<p>CIDEr-D {row.cider:.3f} · BLEU-4 {row.bleu4:.3f}</p><ul>{references}</ul></section>")
    return cards


def _pictures(evaluation: Evaluation, row: VqaRow | CaptionRow) -> str:
    try:
        image = load_image(Path(evaluation.manifest.dataset) / row.image)
    except VqadeskError as exc:
        return f"<p class='missing'>{escape(str(exc))}</p>"
    image.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
    figures = [_figure(image, "photo")]
    try:
        heat = evaluation.map_for(row)
    except VqadeskError as exc:
        figures.append(f"<p class='missing'>{escape(str(exc))}</p>")
        heat = None
    if heat is not None:
        grid = heat if heat.ndim == 2 else np.mean(heat, axis=0)  # a caption: where it looked over all words
        figures.append(_figure(overlay_attention(image, grid, region=evaluation.manifest.attention_region),
                               "where the model looked"))
    return f"<div class='pictures'>{''.join(figures)}</div>"


def _figure(image: Image.Image, caption: str) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/jpeg;base64,{data}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vqadesk evaluation — {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #222; }}
table {{ border-collapse: collapse; margin: .6em 0 1.2em; }}
th, td {{ padding: 2px 10px; text-align: left; border-bottom: 1px solid #eee; }}
section {{ border-top: 1px solid #ddd; padding: .8em 0; }}
h3 {{ margin: .8em 0 .3em; }}
.meta {{ color: #777; font-size: .9em; }}
.pictures {{ display: flex; gap: 1em; }}
figure {{ margin: 0; }} figcaption {{ font-size: .8em; color: #777; }}
.missing {{ color: #b00020; }}
</style></head><body>
<h1>vqadesk evaluation — {title}</h1>
<table>{meta}</table>
{sections}
{mistakes}
</body></html>
"""
