"""``vqadesk ask``, ``caption`` and ``predict vqa|captions`` with pretrained models (tiny random ViLT,
BLIP-VQA and BLIP captioner), and every way a pretrained model can be wrong: one line on stderr,
exit code 1, never a traceback."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from tests.support.cli_runs import assert_one_line_error, run
from tests.support.hf_cache_layout import put_in_cache
from tests.support.real_coco import VAL, photo_files, write_real_root
from tests.support.tiny_captioners import build_blip
from tests.support.tiny_vqa_models import BLIP_GRID, VILT_GRID_LANDSCAPE, TinyVqaModels, tiny_vqa_models
from vqadesk.cli import options
from vqadesk.cli.main import main
from vqadesk.engine import precision
from vqadesk.metrics.results_io import read_caption_results, read_vqa_results

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

SKATEBOARDER = 87038  # 640 x 480
QUESTION = "what is the man riding?"
GRIDS = {"vilt": VILT_GRID_LANDSCAPE, "blip": BLIP_GRID}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> TinyVqaModels:
    return tiny_vqa_models(tmp_path_factory)


@pytest.fixture(scope="session")
def photo(coco_real) -> Path:
    return photo_files(coco_real)[SKATEBOARDER]


# -- ask --json ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["vilt", "blip"])
@pytest.mark.parametrize("named_by", ["folder", "hf"])
def test_ask_json_schema_with_pretrained_models(capsys, tiny, photo, kind, named_by):
    folder = getattr(tiny, kind)
    model = str(folder) if named_by == "folder" else f"hf:tiny-org/{kind}-vqa"
    if named_by == "hf":
        put_in_cache(folder, f"tiny-org/{kind}-vqa")
    code, out, err = run(capsys, "ask", photo, QUESTION, "--model", model, "--top-k", "3", "--device", "cpu",
                         "--precision", "fp32", "--json")
    assert code == 0 and err == ""  # no progress bars nor warnings from transformers
    document = json.loads(out)
    assert list(document) == ["question", "answers", "attention", "attention_region", "model", "timings_ms"]
    assert document["question"] == QUESTION and document["model"] == model
    answers = document["answers"]
    assert len(answers) == 3 and len({a["answer"] for a in answers}) == 3
    assert all(list(a) == ["answer", "score"] and 0.0 <= a["score"] <= 1.0 for a in answers)
    assert [a["score"] for a in answers] == sorted((a["score"] for a in answers), reverse=True)
    grid = document["attention"]
    assert (len(grid), len(grid[0])) == GRIDS[kind] and all(len(row) == len(grid[0]) for row in grid)
    assert sum(map(sum, grid)) == pytest.approx(1.0, abs=1e-4)
    assert document["attention_region"] == "whole-image"
    assert set(document["timings_ms"]) == {"load_image", "encode", "answer", "total", "load_model"}


def test_ask_prints_a_readable_list_with_a_hub_model(capsys, tiny, photo):
    code, out, err = run(capsys, "ask", photo, QUESTION, "--model", tiny.blip, "--top-k", "2")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"Q: {QUESTION}" and lines[1].startswith("  1. ") and lines[2].startswith("  2. ")
    assert lines[3].startswith(f"model {tiny.blip} on CPU")


def test_precision_option(capsys, tiny, photo):
    assert options.PRECISIONS == precision.PRECISIONS
    code, out, _ = run(capsys, "ask", photo, QUESTION, "--model", tiny.vilt, "--precision", "bf16", "--json")
    assert code == 0 and len(json.loads(out)["answers"]) == 5
    code, _, err = run(capsys, "ask", photo, QUESTION, "--model", tiny.vilt, "--precision", "fp16", "--device", "cpu")
    assert_one_line_error(code, err, "fp16 needs a CUDA GPU")
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", str(photo), QUESTION, "--precision", "fp8"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fp8'" in capsys.readouterr().err


def test_model_help_names_every_way_to_name_a_model(capsys):
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    out = capsys.readouterr().out
    assert "NAME|PATH|hf:ORG/NAME[@REV]|FOLDER" in out and "--precision" in out


# -- predict vqa -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["vilt", "blip"])
def test_predict_vqa_with_a_hub_model_writes_results_that_evaluate_accepts(
    capsys, tiny, coco_real, vqa_v2_sample, tmp_path, kind
):
    root = write_real_root(tmp_path / "coco", coco_real, vqa_v2_sample)
    questions = root / "vqa" / "v2_OpenEnded_mscoco_val2014_questions.json"
    put_in_cache(getattr(tiny, kind), f"tiny-org/{kind}-vqa")
    model = f"hf:tiny-org/{kind}-vqa"
    results = tmp_path / "results.json"
    code, out, err = run(capsys, "predict", "vqa", "--questions", questions, "--images", coco_real, "--out", results,
                         "--model", model, "--batch-size", "5", "--device", "cpu", "--precision", "fp32")
    asked = json.loads(questions.read_text())["questions"]
    assert code == 0, err
    assert out.startswith(f"wrote {len(asked)} answers of {len(asked)} questions") and f"model {model}" in out
    entries = read_vqa_results(results)
    assert [e.question_id for e in entries] == [q["question_id"] for q in asked] and len(asked) == 3 * len(VAL)
    assert all(isinstance(e.answer, str) for e in entries)
    # The answer asked alone is the one in the results file.
    first = asked[0]
    code, single, _ = run(capsys, "ask", photo_files(coco_real)[first["image_id"]], first["question"], "--model",
                          model, "--top-k", "1", "--json", "--device", "cpu", "--precision", "fp32")
    assert entries[0].answer == json.loads(single)["answers"][0]["answer"]
    code, out, err = run(capsys, "evaluate", "vqa", "--questions", questions, "--annotations",
                         root / "vqa" / "v2_mscoco_val2014_annotations.json", "--results", results, "--json")
    assert code == 0, err
    assert 0 <= json.loads(out)["overall"] <= 100


# -- captions ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_blip_captioner(tmp_path_factory) -> Path:
    return build_blip(tmp_path_factory.mktemp("captioner") / "blip").folder


def test_caption_json_schema_with_a_hub_captioner(capsys, tiny_blip_captioner, photo):
    put_in_cache(tiny_blip_captioner, "tiny-org/blip-captioner")
    model = "hf:tiny-org/blip-captioner"
    code, out, err = run(capsys, "caption", photo, "--model", model, "--beam", "3", "--captions", "2", "--json",
                         "--device", "cpu")
    assert code == 0 and err == ""
    document = json.loads(out)
    assert list(document) == ["captions", "attention_region", "model", "timings_ms"]
    assert document["model"] == model and document["attention_region"] == "whole-image"
    captions = document["captions"]
    assert len(captions) == 2 and captions[0]["caption"] != captions[1]["caption"]
    for caption in captions:
        assert list(caption) == ["caption", "score", "words"]
        assert all(list(w) == ["word", "prob"] and 0 < w["prob"] <= 1 for w in caption["words"])
    assert set(document["timings_ms"]) == {"load_image", "encode", "decode", "total", "load_model"}


def test_predict_captions_with_a_hub_captioner_writes_results_that_evaluate_accepts(
    capsys, tiny_blip_captioner, coco_real, vqa_v2_sample, tmp_path
):
    root = write_real_root(tmp_path / "coco", coco_real, vqa_v2_sample)
    images = tmp_path / "val-images"
    images.mkdir()
    for image_id in VAL:
        source = photo_files(coco_real)[image_id]
        (images / source.name).symlink_to(source)
    results = tmp_path / "captions.json"
    code, out, err = run(capsys, "predict", "captions", "--images", images, "--out", results, "--model",
                         tiny_blip_captioner, "--beam", "2", "--batch-size", "3", "--device", "cpu")
    assert code == 0, err
    assert out.startswith(f"wrote {len(VAL)} captions of {len(VAL)} images")
    entries = read_caption_results(results)
    assert [e.image_id for e in entries] == sorted(VAL) and all(e.caption for e in entries)
    code, out, err = run(capsys, "evaluate", "captions", "--annotations",
                         root / "annotations" / "captions_val2014.json", "--results", results, "--json")
    assert code == 0, err
    assert {"BLEU-4", "CIDEr"} <= set(json.loads(out))


# -- one line for every wrong model ------------------------------------------------------------------


class _MakesAFolderWhenUnpickled:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.mkdir, (str(self.marker),)


def pickle_only_folder(folder: Path, tiny: TinyVqaModels, marker: Path) -> Path:
    shutil.copytree(tiny.vilt, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_MakesAFolderWhenUnpickled(marker)))
    return folder


@pytest.mark.parametrize("named_by", ["folder", "hf"])
def test_a_pickle_only_model_is_refused_and_never_opened(capsys, tiny, photo, tmp_path, named_by):
    marker = tmp_path / "unpickled"
    folder = pickle_only_folder(tmp_path / "pickled", tiny, marker)
    model = str(folder)
    if named_by == "hf":
        put_in_cache(folder, "tiny-org/pickled")
        model = "hf:tiny-org/pickled"
    code, _, err = run(capsys, "ask", photo, QUESTION, "--model", model)
    assert_one_line_error(code, err, model, "pytorch_model.bin", "never opens")
    assert not marker.exists()


def write_config(folder: Path, architecture: str, weights_from: Path | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"architectures": [architecture], "model_type": "x"}))
    if weights_from is not None:
        shutil.copy(weights_from / "model.safetensors", folder / "model.safetensors")
    return folder


def test_an_unsupported_architecture_is_one_line(capsys, tiny, photo, tmp_path):
    folder = write_config(tmp_path / "bert", "BertForMaskedLM", weights_from=tiny.vilt)
    code, _, err = run(capsys, "ask", photo, QUESTION, "--model", folder)
    assert_one_line_error(code, err, "'BertForMaskedLM' is not supported", "ViltForQuestionAnswering",
                          "BlipForConditionalGeneration")


def test_a_model_of_the_other_kind_is_one_line(capsys, tiny, photo, tmp_path):
    captioner = write_config(tmp_path / "captioner", "BlipForConditionalGeneration", weights_from=tiny.blip)
    code, _, err = run(capsys, "ask", photo, QUESTION, "--model", captioner)
    assert_one_line_error(code, err, str(captioner), "is a captioner (BlipForConditionalGeneration), not a VQA model")
    code, _, err = run(capsys, "caption", photo, "--model", tiny.vilt)
    assert_one_line_error(code, err, "is a VQA model (ViltForQuestionAnswering), not a captioner")


def test_a_hub_model_missing_offline_names_the_download_command(capsys, photo, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(capsys, "ask", photo, QUESTION, "--model", "hf:Salesforce/blip-vqa-base")
    assert_one_line_error(code, err, "not in the Hugging Face cache",
                          "vqadesk models download hf:Salesforce/blip-vqa-base")
    code, _, err = run(capsys, "ask", photo, QUESTION, "--model", "hf:not a reference")
    assert_one_line_error(code, err, "is not a Hugging Face model reference")


def _truncate_weights(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _other_shapes(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] = 48
    (folder / "config.json").write_text(json.dumps(config))


def _no_tokenizer(folder: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (folder / name).unlink()


def _bad_tokenizer_json(folder: Path) -> None:
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": ')


def _bad_processor_json(folder: Path) -> None:
    (folder / "processor_config.json").write_text("{")


def _tensor_missing(folder: Path) -> None:
    from safetensors.numpy import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    del tensors[next(name for name in sorted(tensors) if name.endswith("query.weight"))]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})


def _short_vocabulary(folder: Path) -> None:
    (folder / "tokenizer.json").unlink()
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(vocab.read_text().splitlines()[:20]) + "\n")


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (_truncate_weights, "SafetensorError"),
        (_other_shapes, "weights do not have the shapes its config.json gives"),
        (_no_tokenizer, "no tokenizer in"),
        (_bad_tokenizer_json, "JSONDecodeError"),
        (_bad_processor_json, "processor_config.json"),
        (_short_vocabulary, "the tokenizer in"),
        (_tensor_missing, "lack 1 of the model's tensors"),
    ],
    ids=["truncated-weights", "other-shapes", "no-tokenizer", "bad-tokenizer-json", "bad-processor-json",
         "short-vocabulary", "tensor-missing"],
)
def test_a_damaged_model_folder_is_one_line_naming_it(capsys, tiny, photo, tmp_path, damage, fragment):
    folder = tmp_path / "damaged"
    shutil.copytree(tiny.vilt, folder)
    damage(folder)
    code, out, err = run(capsys, "ask", photo, QUESTION, "--model", folder)
    assert_one_line_error(code, err, str(folder), fragment)
    assert out == ""


def test_a_damaged_hub_model_is_one_line_naming_it(capsys, tiny, photo, tmp_path):
    folder = tmp_path / "blip"
    shutil.copytree(tiny.blip, folder)
    _truncate_weights(folder)
    snapshot = put_in_cache(folder, "tiny-org/broken-blip")
    code, _, err = run(capsys, "ask", photo, QUESTION, "--model", "hf:tiny-org/broken-blip")
    assert_one_line_error(code, err, "hf:tiny-org/broken-blip", str(snapshot), "download it again")
