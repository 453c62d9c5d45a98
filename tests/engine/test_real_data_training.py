"""Training and evaluation on real-format COCO 2014 + VQA v2 files with a feature store.

The photos are the 15 real COCO images of ``../shared/fixtures/coco-real``;
the annotation files are written by ``tests/support/real_coco.py`` in the official
formats and names (train2014, val2014, a test-dev2015 questions file without
answers). Features come from ``extract_features`` with a seeded random
ResNet-50 at 64 px (2048 x 2 x 2 grids): nothing to download, seconds to run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.real_coco import TEST_DEV, TRAIN, VAL, photo_files, write_real_root
from training import evaluate as evaluate_routine
from vqadesk.cli import main as cli_main
from vqadesk.data.feature_store import FeatureStoreError
from vqadesk.engine.checkpoints.checkpoint import load_checkpoint
from vqadesk.engine.features.feature_extraction import extract_features
from vqadesk.engine.torch_free.extraction_config import ExtractionConfig
from vqadesk.engine.torch_free.training_config import TrainingConfig, TrainingConfigError
from vqadesk.engine.training.caption_task import CaptionTask
from vqadesk.engine.training.trainer import train
from vqadesk.engine.training.vqa_task import VqaTask

SMALL = {"embed_dim": 16, "hidden_dim": 32, "device": "cpu", "log_interval_s": 0.0, "batch_size": 3,
         "epochs": 1, "lr": 3e-3}
SPLITS = {"train_split": "train2014", "val_split": "val2014"}


@pytest.fixture(scope="module", autouse=True)
def user_data(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VQADESK_DATA_DIR", str(tmp_path_factory.mktemp("user-data")))
        yield


@pytest.fixture(scope="module")
def root(coco_real, vqa_v2_sample, tmp_path_factory) -> Path:
    return write_real_root(tmp_path_factory.mktemp("coco") / "coco", coco_real, vqa_v2_sample)


def _extract(images: Path, out: Path, **options) -> Path:
    # fp32: a test below compares a stored row with the backbone run by hand (bf16: test_precision_policy.py)
    settings = {"weights": "none", "image_size": 64, "batch_size": 8, "workers": 0, "log_interval_s": 60.0,
                "precision": "fp32"}
    events = list(extract_features(ExtractionConfig(images=str(images), out=str(out), **{**settings, **options})))
    assert events[-1]["event"] == "done"
    return out


@pytest.fixture(scope="module")
def store(coco_real, tmp_path_factory) -> Path:
    """One store for every photo: train, val and test-dev images together."""
    return _extract(coco_real, tmp_path_factory.mktemp("features") / "all")


@pytest.fixture(scope="module")
def val_store(coco_real, root, tmp_path_factory) -> Path:
    """The val2014 images only, listed by the captions file (``--coco``)."""
    return _extract(coco_real, tmp_path_factory.mktemp("features") / "val2014",
                    coco=str(root / "annotations" / "captions_val2014.json"))


@pytest.fixture(scope="module")
def pooled_store(coco_real, tmp_path_factory) -> Path:
    return _extract(coco_real, tmp_path_factory.mktemp("features") / "pooled", layer="pooled")


def vqa_config(root: Path, out: Path, **options) -> TrainingConfig:
    return TrainingConfig(task="vqa", data=str(root), out=str(out), **SPLITS, **{**SMALL, **options})


@pytest.fixture(scope="module")
def vqa_run(root, store, tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("vqa-run")
    events = list(train(vqa_config(root, out, features=str(store), max_steps=3), VqaTask()))
    return out, events


@pytest.fixture
def evaluate(capsys):
    def run(*argv) -> tuple[int, dict | None, str]:
        code = evaluate_routine.main([str(a) for a in argv] + ["--device", "cpu", "--json"])
        captured = capsys.readouterr()
        return code, json.loads(captured.out) if code == 0 else None, captured.err.strip()

    return run


# -- VQA ------------------------------------------------------------------------------------------


def test_vqa_trains_on_real_format_files_and_a_feature_store(root, store, vqa_run):
    out, events = vqa_run
    start = events[0]
    assert start["event"] == "start" and events[-1]["event"] == "done" and events[-1]["step"] == 3
    data = start["dataset"]["train"]
    assert data["split"] == "train2014" and data["questions"] == 3 * len(TRAIN) and data["images"] == len(TRAIN)
    assert data["source"]["questions"].endswith("v2_OpenEnded_mscoco_train2014_questions.json")
    assert data["source"]["cache"]["built"] and data["source"]["features"]["path"] == str(store)
    assert data["answer_vocab_coverage"] == 1.0
    assert start["dataset"]["val"]["questions"] == 3 * len(VAL)
    epoch = next(e for e in events if e["event"] == "epoch")
    assert 0 <= epoch["metrics"]["accuracy"] <= 100 and epoch["metrics"]["questions"] == 3 * len(VAL)

    best = load_checkpoint(out / "best.json")
    encoder = best.model_config["image_encoder"]
    assert encoder["name"] == "precomputed" and encoder["feature_dim"] == 2048 and encoder["image_size"] == 2
    features = best.metadata["image_features"]
    assert features["backbone"] == "resnet50" and features["layer"] == "grid" and features["image_size"] == 64
    assert features["weights"]["kind"] == "none" and features["path"] == str(store)


def test_a_second_run_reads_the_cached_arrays_and_resumes_on_the_store(root, store, vqa_run, tmp_path):
    out = tmp_path / "run"
    list(train(vqa_config(root, out, features=str(store), max_steps=1, epochs=2), VqaTask()))
    events = list(train(vqa_config(root, out, features=str(store), max_steps=2, epochs=2, resume=True), VqaTask()))
    assert events[0]["resumed_from_step"] == 1 and events[-1]["step"] == 2
    assert not events[0]["dataset"]["train"]["source"]["cache"]["built"]  # no JSON parsed this time


def test_out_of_vocabulary_answers_are_kept_and_the_coverage_reported(root, store, tmp_path):
    events = list(train(vqa_config(root, tmp_path, features=str(store), max_steps=1, top_k=5), VqaTask()))
    data = events[0]["dataset"]["train"]
    assert data["answer_vocab_size"] == 5 and data["answer_vocab_coverage"] < 0.6
    assert data["questions"] == 3 * len(TRAIN) and data["unanswerable_questions"] > 0  # kept, none dropped
    assert set(data["answer_coverage_by_type"]) == {"yes/no", "number", "other"}


def test_evaluation_writes_official_results_and_the_official_accuracy(root, store, vqa_run, evaluate, tmp_path,
                                                                      monkeypatch, capsys):
    results = tmp_path / "vqa_OpenEnded_mscoco_val2014_vqadesk_results.json"
    code, report, _ = evaluate("--checkpoint", vqa_run[0] / "best.json", "--data", root, "--split", "val2014",
                               "--features", store, "--out", results)
    assert code == 0 and report["metrics"]["questions"] == 3 * len(VAL)
    assert set(report["metrics"]["perAnswerType"]) == {"yes/no", "number", "other"}
    written = json.loads(results.read_text())
    assert sorted(r["question_id"] for r in written) == sorted(i * 1000 + k for i in VAL for k in range(3))
    assert all(set(r) == {"question_id", "answer"} and isinstance(r["answer"], str) for r in written)
    # The same file scored by `vqadesk evaluate vqa` gives the same numbers.
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("vqadesk.cli.evaluate_cmd",))
    vqa = root / "vqa"
    assert cli_main.main(["evaluate", "vqa", "--questions", str(vqa / "v2_OpenEnded_mscoco_val2014_questions.json"),
                          "--annotations", str(vqa / "v2_mscoco_val2014_annotations.json"),
                          "--results", str(results), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["overall"] == report["metrics"]["overall"]


def test_test_dev_questions_give_a_results_file_without_metrics(root, store, vqa_run, evaluate, tmp_path):
    results = tmp_path / "vqa_OpenEnded_mscoco_test-dev2015_vqadesk_results.json"
    code, report, _ = evaluate("--checkpoint", vqa_run[0] / "best.json", "--data", root, "--split", "test-dev2015",
                               "--features", store, "--out", results)
    assert code == 0 and report["metrics"] is None and "no annotations" in report["note"]
    assert len(json.loads(results.read_text())) == 3 * len(TEST_DEV)


def test_explicit_file_paths_replace_the_official_names(root, store, tmp_path):
    elsewhere = tmp_path / "files"
    elsewhere.mkdir()
    paths = {}
    for split in ("train2014", "val2014"):
        paths[split] = (shutil.copy(root / "vqa" / f"v2_OpenEnded_mscoco_{split}_questions.json",
                                    elsewhere / f"q-{split}.json"),
                        shutil.copy(root / "vqa" / f"v2_mscoco_{split}_annotations.json",
                                    elsewhere / f"a-{split}.json"))
    bare = tmp_path / "bare"
    shutil.copytree(root, bare, ignore=shutil.ignore_patterns("vqa"))
    config = vqa_config(bare, tmp_path / "run", features=str(store), max_steps=1, model="bow",
                        questions=str(paths["train2014"][0]), annotations=str(paths["train2014"][1]),
                        val_questions=str(paths["val2014"][0]), val_annotations=str(paths["val2014"][1]))
    events = list(train(config, VqaTask()))
    assert events[0]["dataset"]["train"]["source"]["questions"] == str(paths["train2014"][0])
    assert events[-1]["event"] == "done"


def test_questions_about_unreadable_images_are_dropped_from_training(coco_real, root, tmp_path, evaluate):
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in photo_files(coco_real).values():
        (photos / path.name).symlink_to(path)
    (photos / "000000039769.png").unlink()
    (photos / "000000039769.png").write_bytes(b"\x89PNG damaged")
    damaged = _extract(photos, tmp_path / "store")
    events = list(train(vqa_config(root, tmp_path / "run", features=str(damaged), max_steps=1), VqaTask()))
    data = events[0]["dataset"]["train"]
    assert data["source"]["dropped_questions"] == 3 and data["questions"] == 3 * len(TRAIN) - 3
    # Evaluation answers every question or none: the skipped image is named.
    code, _, error = evaluate("--checkpoint", tmp_path / "run" / "last.json", "--data", root, "--split", "train2014",
                              "--features", damaged, "--out", tmp_path / "r.json")
    assert code == 1 and "image_id 39769" in error and "skipped" in error


# -- captions -------------------------------------------------------------------------------------


def test_captioner_trains_with_separate_train_and_val_stores_and_evaluates(root, store, val_store, evaluate,
                                                                           tmp_path):
    config = TrainingConfig(task="captioning", model="lstm", data=str(root), out=str(tmp_path / "run"),
                            features=str(store), val_features=str(val_store), max_len=12, max_steps=3, beam_size=2,
                            **SPLITS, **SMALL)
    events = list(train(config, CaptionTask()))
    start = events[0]
    assert start["dataset"]["train"]["captions"] == 2 * len(TRAIN) and start["dataset"]["val"]["images"] == len(VAL)
    assert start["dataset"]["val"]["source"]["features"]["path"] == str(val_store)
    epoch = next(e for e in events if e["event"] == "epoch")
    assert {"BLEU-1", "BLEU-4", "CIDEr"} <= set(epoch["metrics"])

    best = tmp_path / "run" / "best.json"
    code, report, _ = evaluate("--checkpoint", best, "--data", root, "--split", "val2014", "--features", val_store,
                               "--out", tmp_path / "captions_val2014_vqadesk_results.json")
    assert code == 0 and report["metrics"]["images"] == len(VAL)
    assert report["metrics"]["CIDEr"] == pytest.approx(epoch["metrics"]["CIDEr"])
    written = json.loads((tmp_path / "captions_val2014_vqadesk_results.json").read_text())
    assert sorted(r["image_id"] for r in written) == sorted(VAL) and all(set(r) == {"image_id", "caption"}
                                                                         for r in written)
    # A split without captions (test2014 style): every image of the store is captioned, no metrics.
    code, report, _ = evaluate("--checkpoint", best, "--data", root, "--split", "test2014", "--features", val_store,
                               "--out", tmp_path / "test.json")
    assert code == 0 and report["metrics"] is None and report["count"] == len(VAL)


# -- real layout with photos, no store ---------------------------------------------------------------


def test_the_real_layout_trains_from_photos_too(coco_real, root, tmp_path):
    """train2014/ and val2014/ image folders beside annotations/ and vqa/: the COCO download's layout."""
    photos = tmp_path / "coco"
    shutil.copytree(root, photos, symlinks=True)
    files = photo_files(coco_real)
    for split, ids in (("train2014", TRAIN), ("val2014", VAL)):
        (photos / split).mkdir()
        for image_id in ids:
            (photos / split / files[image_id].name).symlink_to(files[image_id])
    config = vqa_config(photos, tmp_path / "run", image_size=64, max_steps=1, model="lstm")
    events = list(train(config, VqaTask()))
    assert events[0]["dataset"]["train"]["images"] == len(TRAIN) and events[-1]["event"] == "done"


# -- mistakes -------------------------------------------------------------------------------------


def test_stores_that_do_not_fit_are_refused_in_one_line(root, store, val_store, pooled_store, vqa_run, evaluate,
                                                        tmp_path):
    with pytest.raises(FeatureStoreError, match="pooled vectors .* --model attention needs a grid store"):
        list(train(vqa_config(root, tmp_path / "a", features=str(pooled_store)), VqaTask()))
    with pytest.raises(FeatureStoreError, match=r"no features for 9 of the 9 images the 'train2014' questions"):
        list(train(vqa_config(root, tmp_path / "b", features=str(val_store)), VqaTask()))
    with pytest.raises(FeatureStoreError, match="holds other features than the training store"):
        list(train(vqa_config(root, tmp_path / "c", features=str(store), val_features=str(pooled_store)), VqaTask()))
    with pytest.raises(TrainingConfigError, match="--features gives the image features"):
        vqa_config(root, tmp_path / "d", features=str(store), image_encoder="resnet50")

    best = vqa_run[0] / "best.json"
    code, _, error = evaluate("--checkpoint", best, "--data", root, "--split", "val2014", "--out", tmp_path / "r.json")
    assert code == 1 and "precomputed image features" in error and "--features STORE" in error
    code, _, error = evaluate("--checkpoint", best, "--data", root, "--split", "val2014", "--features", pooled_store,
                              "--out", tmp_path / "r.json")
    assert code == 1 and str(pooled_store) in error and "(2048,)" in error
    assert len(error.splitlines()) == 1


# -- asking a store-trained model about a photo (the app and `vqadesk ask`) -------------------------


def test_a_store_trained_model_reads_photos_through_the_stores_backbone(coco_real, store, vqa_run):
    import numpy as np
    import torch

    from vqadesk.data.feature_store import FeatureStore
    from vqadesk.engine.inference.predictor import Predictor

    out, _events = vqa_run
    predictor = Predictor(vqa=out / "best.json", captioner=None, device="cpu", precision="fp32")
    photo = coco_real / "COCO_val2014_000000262148.jpg"
    prediction = predictor.ask(photo, "Where is he looking?", top_k=2)
    assert len(prediction.answers) == 2 and prediction.attention is not None
    # The features made for the photo are the store's row for it, as training read them.
    loaded = predictor._vqa
    from vqadesk.engine.image_tensors import load_image_tensor

    assert loaded.draft  # the store decoded the JPEGs in draft mode, so the app does too
    pixels = load_image_tensor(photo, loaded.image_size, draft=True)[None]
    with torch.inference_mode():
        made = loaded.encode(pixels)[0].numpy()
    features = FeatureStore(store)
    stored = features.read_rows(features.rows_of([262148])).astype(np.float32)[0]
    np.testing.assert_allclose(made, stored, atol=2e-3, rtol=2e-3)


def test_a_store_trained_model_without_its_weights_file_names_it(store, vqa_run, tmp_path):
    from vqadesk.engine.inference.predictor import Predictor
    from vqadesk.errors import VqadeskError

    out, _events = vqa_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    document = json.loads((copy / "best.json").read_text())
    document["metadata"]["image_features"]["weights"] = {"kind": "file", "file": "my-resnet.safetensors", "sha256": "x"}
    (copy / "best.json").write_text(json.dumps(document))
    with pytest.raises(VqadeskError, match="my-resnet.safetensors"):
        Predictor(vqa=copy / "best.json", captioner=None, device="cpu").load_vqa(copy / "best.json")
