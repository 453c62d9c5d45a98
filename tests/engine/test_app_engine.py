"""The Qt-free parts behind the app: request queue, model pool, model cards, history files,
single-caption scores, loose photos and COCO files, Shapes detection, drop sorting."""

from __future__ import annotations

import csv
import inspect
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.inference_models import TinyModels, tiny_models
from vqadesk.data.coco import CocoIndex
from vqadesk.data.dataset import DatasetError, open_coco_files, open_dataset, open_photos
from vqadesk.data.shapes.detect import is_shapes_dataset
from vqadesk.engine.inference.model_pool import ModelPool
from vqadesk.engine.inference.predictor import NoModelError
from vqadesk.engine.torch_free.history import (
    ExportError,
    HistoryEntry,
    export_csv,
    export_html,
    export_json,
    overlay_attention,
)
from vqadesk.engine.torch_free.inference_protocol import Job, pack_job, unpack_job
from vqadesk.engine.torch_free.model_cards import model_domain, read_model_card
from vqadesk.engine.torch_free.pool_api import POOL_METHODS, PoolApi
from vqadesk.engine.torch_free.predictions import WHOLE_IMAGE
from vqadesk.errors import DataFormatError
from vqadesk.gui.background.request_queue import LatestRequestQueue
from vqadesk.gui.drops import classify_drop
from vqadesk.metrics.captions import evaluate_captions, reference_corpus, score_one_caption


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> TinyModels:
    return tiny_models(tmp_path_factory)


# -- the request queue --------------------------------------------------------------------


def test_a_newer_request_supersedes_a_pending_one_on_its_channel():
    queue = LatestRequestQueue()
    first = queue.put("ask", lambda pool: "first")
    caption = queue.put("caption", lambda pool: "caption")
    second = queue.put("ask", lambda pool: "second")
    assert queue.pending_count() == 2
    assert not queue.is_current("ask", first) and queue.is_current("ask", second)
    taken = [queue.take(timeout=0), queue.take(timeout=0)]
    assert [(r.channel, r.request_id) for r in taken] == [("caption", caption), ("ask", second)]
    assert taken[1].job(None) == "second"
    assert queue.take(timeout=0) is None


def test_closing_the_queue_wakes_a_waiting_worker():
    queue = LatestRequestQueue()
    result = []
    worker = threading.Thread(target=lambda: result.append(queue.take(timeout=30)))
    worker.start()
    queue.close()
    worker.join(timeout=5)
    assert not worker.is_alive() and result == [None]
    queue.put("ask", lambda pool: None)
    assert queue.take(timeout=0) is None  # closed: nothing runs any more


# -- the model pool -----------------------------------------------------------------------


def test_the_pool_api_declares_model_pool_methods_with_their_signatures():
    assert PoolApi in ModelPool.__mro__
    public = {name for name, value in vars(ModelPool).items() if not name.startswith("_") and callable(value)}
    assert public == POOL_METHODS
    for name in POOL_METHODS:
        assert inspect.signature(getattr(ModelPool, name)) == inspect.signature(getattr(PoolApi, name)), name


def test_a_pool_job_crosses_as_its_method_name():
    job = unpack_job(pack_job(Job(PoolApi.ask, ("a.png", "what?"), {"top_k": 3})))
    assert job.target is PoolApi.ask and job.pool_method == "ask" and job.kwargs == {"top_k": 3}
    assert b"PoolApi" not in pack_job(Job(PoolApi.ask, ("a.png",)))


def test_model_pool_answers_captions_and_compares(models):
    pool = ModelPool("cpu", precision="fp32")  # fp32: batched and single answers agree to 1e-5
    image = models.images()[0]
    with pytest.raises(NoModelError, match="Models tab"):
        pool.ask(image, "what color is the circle?")
    loaded = pool.load_vqa(str(models.vqa))
    assert loaded.vqa_path == models.vqa and loaded.device.startswith("CPU") and loaded.precision == "fp32"
    pool.load_captioner(str(models.captioner))
    active = pool.ask(image, "what color is the circle?", top_k=3)
    assert len(active.answers) == 3
    assert pool.caption(image, beam_size=2).captions[0].words
    # Many pairs in one batch: the same answers as one at a time.
    other = models.images()[1]
    many = pool.ask_many([image, other, image], ["what color is the circle?", "is there a square?",
                                                 "how many circles are there?"], top_k=3)
    assert [p.question for p in many] == ["what color is the circle?", "is there a square?",
                                          "how many circles are there?"]
    assert [a.prob for a in many[0].answers] == pytest.approx([a.prob for a in active.answers], abs=1e-5)
    single = pool.ask(other, "is there a square?", top_k=3)
    assert [a.text for a in many[1].answers] == [a.text for a in single.answers]
    compared = pool.compare([str(models.vqa), str(models.bow), str(models.captioner)], image,
                            "what color is the circle?")
    assert [c.error is None for c in compared] == [True, True, False]
    assert "not a vqa model" in compared[2].error
    # The active model answers a comparison itself: the same probabilities.
    assert [a.prob for a in compared[0].prediction.answers][:3] == pytest.approx([a.prob for a in active.answers])
    assert compared[1].prediction.attention is None  # bow has no attention


def test_model_pool_keeps_the_previous_model_when_a_load_fails(models, tmp_path):
    from vqadesk.engine.checkpoints.checkpoint import CheckpointError

    pool = ModelPool("cpu")
    pool.load_vqa(str(models.vqa))
    pickled = tmp_path / "model.pth"
    pickled.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(CheckpointError, match="model.pth"):
        pool.load_vqa(str(pickled))
    assert pool.loaded().vqa_path == models.vqa


def test_model_pool_reloads_a_rewritten_checkpoint(models, tmp_path):
    import os
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(models.vqa.parent, copy)
    pool = ModelPool("cpu")
    first = pool._vqa_predictor(str(copy / "best.json"))
    assert pool._vqa_predictor(str(copy / "best.json")) is first  # cached
    stat = (copy / "best.json").stat()
    os.utime(copy / "best.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # "a new epoch wrote it"
    assert pool._vqa_predictor(str(copy / "best.json")) is not first


# -- model cards --------------------------------------------------------------------------


def test_model_card_of_a_trained_checkpoint(models):
    card = read_model_card(models.vqa)
    assert card.kind == "vqa" and card.domain == "shapes" and card.knows_only_shapes
    assert card.size_bytes > models.vqa.stat().st_size  # the tensors count too
    assert "| model | attention |" in card.markdown and "Validation after epoch" in card.markdown
    assert "| trained in | fp32 |" in card.markdown or "| trained in | bf16 |" in card.markdown  # resolved


def test_bundled_model_cards_are_read_from_their_markdown():
    from vqadesk.engine.torch_free.model_registry import list_models

    for info in list_models():
        card = read_model_card(info.path)
        assert card.markdown == info.path.with_suffix(".md").read_text(encoding="utf-8")
        assert card.knows_only_shapes


def test_model_domain_of_older_checkpoints():
    assert model_domain({"metadata": {"model_card": {"data": "Shapes world, 3,000 images"}}}) == "shapes"
    assert model_domain({"metadata": {"domain": "photos"}}) == "photos"
    assert model_domain({"metadata": {}}) is None


def test_a_foreign_json_is_not_a_model_card(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(DataFormatError, match="x.json.*not a vqadesk checkpoint"):
        read_model_card(path)


# -- history files ------------------------------------------------------------------------


def _entries(image: Path) -> list[HistoryEntry]:
    attention = np.full((4, 4), 1 / 16, dtype=np.float32)
    attention[0, 0] = 0.5
    return [
        HistoryEntry(asked_at="2026-12-02T10:00:00", image_path=str(image), image_id=7, question="what, \"exactly\"?",
                     answers=[("red", 0.7), ("blue", 0.2)], model="m", attention=attention,
                     human_answers=["red"] * 10, accuracy=1.0, total_ms=12.5),
        HistoryEntry(asked_at="2026-12-02T10:00:05", image_path=str(image.parent / "gone.png"), image_id=None,
                     question="<b>is</b> it?", answers=[("yes", 0.9)], model="m"),
    ]


def test_history_round_trips_through_json_and_csv(tmp_path):
    image = tmp_path / "i.png"
    Image.new("RGB", (40, 30), "white").save(image)
    entries = _entries(image)
    export_json(entries, tmp_path / "h.json")
    document = json.loads((tmp_path / "h.json").read_text())
    assert [e["question"] for e in document["entries"]] == [e.question for e in entries]
    assert document["entries"][0]["answers"] == [{"answer": "red", "score": 0.7}, {"answer": "blue", "score": 0.2}]
    assert np.allclose(document["entries"][0]["attention"], entries[0].attention, atol=1e-6)
    export_csv(entries, tmp_path / "h.csv")
    rows = list(csv.DictReader((tmp_path / "h.csv").open(newline="")))
    assert rows[0]["question"] == 'what, "exactly"?' and rows[0]["all_answers"] == "red:0.700000|blue:0.200000"
    assert rows[1]["accuracy"] == "" and rows[1]["image_id"] == ""


def test_html_report_embeds_images_escapes_text_and_names_missing_files(tmp_path):
    image = tmp_path / "i.png"
    Image.new("RGB", (40, 30), "white").save(image)
    export_html(_entries(image), tmp_path / "h.html")
    report = (tmp_path / "h.html").read_text()
    assert report.count("data:image/png;base64,") == 2  # the image and its attention
    assert "&lt;b&gt;is&lt;/b&gt;" in report and "<b>is</b>" not in report
    assert "gone.png" in report and "not found" in report.lower()


def test_history_export_to_a_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        export_json([], tmp_path / "nowhere" / "h.json")


def test_attention_overlay_covers_the_centre_square():
    image = Image.new("RGB", (60, 20), (0, 0, 0))
    overlaid = overlay_attention(image, np.ones((2, 2)), opacity=1.0)
    pixels = np.asarray(overlaid)
    assert pixels[:, :20].max() == 0 and pixels[:, 40:].max() == 0  # outside the square: untouched
    assert (pixels[:, 20:40] == (252, 255, 164)).all()  # a flat map is inferno's top colour everywhere in it


def test_a_whole_image_attention_overlay_covers_the_whole_image():
    image = Image.new("RGB", (60, 20), (0, 0, 0))
    overlaid = overlay_attention(image, np.ones((2, 3)), opacity=1.0, region=WHOLE_IMAGE)
    assert (np.asarray(overlaid) == (252, 255, 164)).all()


# -- one caption's scores -----------------------------------------------------------------


def test_one_caption_scores_as_it_would_among_its_split():
    references = {1: ["a red circle and a blue square", "a blue square right of a red circle"],
                  2: ["two green triangles", "a green triangle and another"],
                  3: ["a yellow square", "one yellow square alone"]}
    candidates = {1: "a red circle and a blue square", 2: "a triangle", 3: "a square"}
    corpus = reference_corpus(references.values())
    whole = evaluate_captions(references, candidates)
    for image_id, caption in candidates.items():
        bleu4, cider = score_one_caption(caption, references[image_id], corpus)
        assert cider == pytest.approx(whole.per_image_cider[image_id], abs=1e-9)
        assert bleu4 == pytest.approx(whole.per_image_bleu[image_id][3], abs=1e-9)


# -- datasets the app opens ---------------------------------------------------------------


def test_loose_photos_keep_their_own_paths_and_order(tmp_path):
    from vqadesk.errors import ImageLoadError

    folders = [tmp_path / "a", tmp_path / "b"]
    paths = []
    for index, folder in enumerate(folders):
        folder.mkdir()
        path = folder / "same-name.png"
        Image.new("RGB", (8 + index, 8), "red").save(path)
        paths.append(path)
    dataset = open_photos([paths[1], paths[0], paths[1]])
    split = next(iter(dataset.splits.values()))
    assert dataset.name == "Dropped photos" and dataset.is_loose_photos and not dataset.is_shapes
    assert [split.coco.image_path(i) for i in split.image_ids] == [paths[1], paths[0]]
    assert split.coco.image_size(2) == (8, 8)
    paths[0].unlink()
    with pytest.raises(ImageLoadError, match="same-name.png.*not found"):
        split.coco.image_path(2)
    with pytest.raises(DatasetError):
        open_photos([])


def test_from_files_is_searchable_by_file_name(tmp_path):
    path = tmp_path / "holiday-beach.jpg"
    Image.new("RGB", (8, 8)).save(path)
    index = CocoIndex.from_files([path])
    assert index.search("beach") == [1] and index.search("mountain") == []


def test_open_coco_files_finds_the_other_annotations_and_vqa_files(tmp_path):
    from vqadesk.data.shapes import write_shapes_dataset

    write_shapes_dataset(tmp_path, splits=("val",), n_images=3, seed=1)
    dataset = open_coco_files(tmp_path / "annotations" / "captions_val.json", tmp_path / "val")
    split = dataset.split("val")
    assert dataset.root == tmp_path and len(split.image_ids) == 3
    first = split.image_ids[0]
    assert split.coco.objects(first) and split.coco.captions(first) and split.questions(first)
    with pytest.raises(DatasetError, match="image folder not found"):
        open_coco_files(tmp_path / "annotations" / "captions_val.json", tmp_path / "nowhere")


def test_shapes_worlds_are_told_from_real_coco(tmp_path, coco_real):
    from vqadesk.data.shapes import write_shapes_dataset

    write_shapes_dataset(tmp_path, splits=("val",), n_images=2, seed=1)
    assert is_shapes_dataset(tmp_path) and open_dataset(tmp_path).is_shapes
    assert not is_shapes_dataset(coco_real) and not open_dataset(coco_real).is_shapes


def test_drops_are_sorted_into_folders_photos_and_refusals(tmp_path):
    photo = tmp_path / "p.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    broken = tmp_path / "b.png"
    broken.write_bytes(b"not a png")
    text = tmp_path / "t.txt"
    text.write_text("hello")
    items = classify_drop([str(tmp_path), str(photo), str(broken), str(text), str(tmp_path / "gone.jpg"),
                           "https://example.com/x.jpg", ""])
    assert items.folders == [tmp_path] and items.photos == [photo]
    assert len(items.refused) == 4
    message = items.refusal_message()
    assert "b.png" in message and "t.txt: not an image" in message and "gone.jpg: file not found" in message
    assert "offline" in message


# -- thumbnails ----------------------------------------------------------------------------


def test_thumbnails_are_cached_on_disk_and_remade_when_the_file_changes(tmp_path):
    import os

    from vqadesk.data.thumbnails import cache_key, cached_thumbnail

    photo = tmp_path / "p.png"
    Image.new("RGB", (300, 200), "red").save(photo)
    cache = tmp_path / "cache"
    first = cached_thumbnail(photo, 96, cache_dir=cache)
    assert first.size == (96, 64)
    stored = list(cache.rglob("*.png"))
    assert len(stored) == 1 and stored[0].stem == cache_key(photo, 96)
    Image.new("RGB", (10, 10), "blue").save(stored[0])  # prove the next call reads the cache
    assert cached_thumbnail(photo, 96, cache_dir=cache).getpixel((0, 0)) == (0, 0, 255)
    Image.new("RGB", (300, 200), "green").save(photo)
    stat = photo.stat()
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cached_thumbnail(photo, 96, cache_dir=cache).getpixel((0, 0)) == (0, 128, 0)  # a new version
    stored[0].write_bytes(b"damaged")  # a damaged entry is made again, not an error
    cached_thumbnail(photo, 96, cache_dir=cache)


def test_thumbnail_of_an_unreadable_file_is_the_loaders_error(tmp_path):
    from vqadesk.data.thumbnails import cached_thumbnail
    from vqadesk.errors import ImageLoadError

    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"nope")
    with pytest.raises(ImageLoadError, match="b.jpg"):
        cached_thumbnail(broken, 96, cache_dir=tmp_path / "cache")
    with pytest.raises(ImageLoadError, match="gone.jpg"):
        cached_thumbnail(tmp_path / "gone.jpg", 96, cache_dir=tmp_path / "cache")
