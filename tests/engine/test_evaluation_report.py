"""The HTML report's parts: charts, captions with word maps, an evaluation without probabilities."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace
from xml.etree import ElementTree

import numpy as np
from PIL import Image

from tests.support.evaluation_folders import (
    real_caption_entries,
    real_vqa_entries,
    write_caption_evaluation,
    write_vqa_evaluation,
)
from vqadesk.engine.torch_free.evaluations import open_evaluation, svg
from vqadesk.engine.torch_free.evaluations.report import write_html_report


def _parse(document: str) -> ElementTree.Element:
    return ElementTree.fromstring(document)  # well-formed XML, or this raises


def test_bar_chart_marks_the_weakest_and_escapes_labels():
    chart = svg.bar_chart([("what <color>", 80.0, 10), ("how many", 20.0, 4), ("is it", 95.0, 8)], "Question type")
    root = _parse(chart)
    rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert [r.get("fill") for r in rects] == [svg.BAR, svg.WORST, svg.BAR]
    assert float(rects[2].get("width")) > float(rects[0].get("width")) > float(rects[1].get("width"))
    assert "what &lt;color&gt;" in chart and "20.00 (4)" in chart


def test_calibration_plot_draws_only_filled_bins_with_their_counts():
    bins = [{"low": i / 10, "high": (i + 1) / 10, "count": 0, "accuracy": None, "meanScore": None} for i in range(10)]
    bins[9] = {"low": 0.9, "high": 1.0, "count": 1234, "accuracy": 100.0, "meanScore": 0.97}
    bins[2] = {"low": 0.2, "high": 0.3, "count": 5, "accuracy": 40.0, "meanScore": 0.25}
    root = _parse(svg.calibration_plot(bins))
    rects = list(root.iter("{http://www.w3.org/2000/svg}rect"))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert len(rects) == 2 and "1,234" in texts and "5" in texts
    assert min(float(r.get("y")) for r in rects) >= 0  # the 100 % bar and its count stay inside the plot


def test_caption_report_with_word_maps(tmp_path, coco_real):
    entries = real_caption_entries(coco_real)
    worst = min(range(len(entries)), key=lambda i: entries[i].caption != "a photo of something")
    maps = {(entries[worst].image_id, k): np.eye(4, dtype=np.float32) * (k + 1) for k in range(4)}
    folder = write_caption_evaluation(tmp_path, entries, dataset=coco_real, maps=maps)
    write_html_report(open_evaluation(folder), tmp_path / "r.html", mistakes=3)
    html = (tmp_path / "r.html").read_text()
    pictures = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert "The 3 lowest-scored captions" in html and html.count("<figcaption>where the model looked</figcaption>") == 1
    assert len(pictures) == 4  # three photos, one of them with its words' mean map
    assert all(Image.open(io.BytesIO(base64.b64decode(p))).format == "JPEG" for p in pictures)


def test_report_without_probabilities(tmp_path, coco_real):
    entries = [replace(e, score=None, top_k=()) for e in real_vqa_entries(coco_real)]
    folder = write_vqa_evaluation(tmp_path, entries, dataset=coco_real)
    evaluation = open_evaluation(folder)
    assert "calibration" not in evaluation.metrics
    write_html_report(evaluation, tmp_path / "r.html", mistakes=2)
    html = (tmp_path / "r.html").read_text()
    assert "No calibration: the results carry no probabilities." in html and "Top answers" not in html
    assert "The 2 most confident mistakes (of 14 questions not fully right)" in html
