"""The Batch tab's jobs for the app's other processes: a chunk with its attention maps, a changed model
refused, an export and sidecars from a progress file (Qt-free; a pool that reads the photos for real)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.support.batch_photos import PixelModel, make_photo
from vqadesk.engine.torch_free.batch import (
    BatchSettings,
    CaptionRow,
    FailedPhoto,
    ProgressFile,
    RowEdit,
    iter_photos,
    read_batch_results,
)
from vqadesk.engine.torch_free.batch_app_jobs import (
    export_job,
    model_in_use,
    predict_chunk_job,
    sidecars_job,
)
from vqadesk.engine.torch_free.pool_records import LoadedModels
from vqadesk.engine.torch_free.predictions import WHOLE_IMAGE, CaptionWord, VqaPrediction
from vqadesk.errors import VqadeskError


class MappingPool(PixelModel):
    """A pool whose predictions carry attention maps, and which says which models it has loaded."""

    def __init__(self, captioner: str = "/models/cap.json", vqa: str = "/models/vqa.json"):
        super().__init__()
        self.models = LoadedModels(vqa="vqa", captioner="cap", device="CPU", vqa_path=Path(vqa),
                                   captioner_path=Path(captioner))

    def loaded(self) -> LoadedModels:
        return self.models

    def caption_many(self, images, beam_size=3, num_captions=1):
        # Two words, each looking at one cell of a 2 x 2 grid.
        words = [CaptionWord("a", 0.9, np.array([[1, 0], [0, 0]], np.float32)),
                 CaptionWord("b", 0.8, np.array([[0, 0], [0, 1]], np.float32))]
        return [replace(p, captions=[replace(c, words=words) for c in p.captions])
                for p in super().caption_many(images, beam_size, num_captions)]

    def ask_many(self, images, questions, *, top_k=5):
        return [VqaPrediction(question=p.question, answers=p.answers, attention=np.full((3, 4), 1 / 12, np.float32),
                              glimpses=None, model=p.model, timings_ms={}, cached=False, precision=p.precision,
                              attention_region=WHOLE_IMAGE)
                for p in super().ask_many(images, questions, top_k=top_k)]


@pytest.fixture
def folder(tmp_path) -> Path:
    for number, colour in enumerate(("red", "green", "blue")):
        make_photo(tmp_path / "photos" / f"photo {number}.jpg", colour)
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return tmp_path / "photos"


def test_a_chunk_has_its_rows_its_failures_and_each_captions_mean_map(folder):
    pool = MappingPool()
    settings = BatchSettings(kind="captions", model="cap", root=str(folder))
    reply = predict_chunk_job(pool, list(iter_photos(folder)), settings, model_in_use(pool.loaded(), "captions"))
    assert [type(r) for r in reply.results] == [FailedPhoto, CaptionRow, CaptionRow, CaptionRow]
    assert reply.results[1].caption == "a red photo"
    grid, region = reply.heatmaps[("photo 0.jpg", None)]
    np.testing.assert_allclose(grid, [[0.5, 0], [0, 0.5]])  # the words' mean, summing to 1
    assert ("broken.jpg", None) not in reply.heatmaps


def test_answers_carry_their_maps_per_question(folder):
    pool = MappingPool()
    settings = BatchSettings(kind="vqa", model="vqa", questions=("what color?", "is it red?"), root=str(folder))
    reply = predict_chunk_job(pool, list(iter_photos(folder))[1:], settings, "/models/vqa.json")
    assert len(reply.results) == 6
    grid, region = reply.heatmaps[("photo 2.jpg", "is it red?")]
    assert grid.shape == (3, 4) and region == WHOLE_IMAGE


def test_a_model_changed_during_the_job_stops_it_with_one_line(folder):
    pool = MappingPool(captioner="/models/another.json")
    settings = BatchSettings(kind="captions", model="cap", root=str(folder))
    with pytest.raises(VqadeskError, match="captioner in use changed during the batch job"):
        predict_chunk_job(pool, list(iter_photos(folder)), settings, "/models/cap.json")
    assert pool.seen == []  # nothing was predicted with the other model


def test_export_and_sidecar_jobs_write_from_the_progress_file_with_edits(folder, tmp_path):
    pool = MappingPool()
    settings = BatchSettings(kind="captions", model="cap", root=str(folder))
    reply = predict_chunk_job(pool, list(iter_photos(folder)), settings, "/models/cap.json")
    progress = tmp_path / "r.json.progress.jsonl"
    with ProgressFile.open(progress, settings) as file:
        file.append(reply.results)
        file.append_edit(RowEdit("photo 1.jpg", "my green photo"))
    report = export_job(None, progress, tmp_path / "r.csv", "csv")
    assert report.rows == 3 and report.failed == 1
    rows = {row.key: row.caption for row in read_batch_results(tmp_path / "r.csv", "csv").rows}
    assert rows == {"photo 0.jpg": "a red photo", "photo 1.jpg": "my green photo", "photo 2.jpg": "a blue photo"}
    sidecars = sidecars_job(None, progress, False)
    assert sidecars.written == 3
    assert (folder / "photo 1.txt").read_text() == "my green photo\n"
