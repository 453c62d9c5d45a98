"""What ``--model`` means for pretrained models: ``hf:`` references, the cache layout, model folders (torch-free)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vqadesk.engine.torch_free.hub.references import (
    BadReferenceError,
    HubReference,
    ModelNotDownloadedError,
    PickleOnlyModelError,
    PretrainedModelError,
    cache_dir,
    is_pretrained_reference,
    parse_reference,
    resolve_pretrained,
)
from vqadesk.engine.torch_free.model_kind import ModelKind

COMMIT = "1234567890abcdef1234567890abcdef12345678"


def model_folder(folder: Path, architecture: str = "ViltForQuestionAnswering", weights: str = "model.safetensors"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"architectures": [architecture]}))
    (folder / weights).write_bytes(b"weights")
    return folder


def cached(repo_id: str, revision: str, **kwargs) -> Path:
    storage = cache_dir() / ("models--" + repo_id.replace("/", "--"))
    model_folder(storage / "snapshots" / COMMIT, **kwargs)
    ref = storage / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(COMMIT)
    return storage / "snapshots" / COMMIT


@pytest.mark.parametrize(("text", "expected"), [
    ("hf:Salesforce/blip-vqa-base", HubReference("Salesforce/blip-vqa-base")),
    ("  HF:org/name@refs/pr/9 ", HubReference("org/name", "refs/pr/9")),
    ("hf:org/name@" + COMMIT, HubReference("org/name", COMMIT)),
    ("shapes-vqa", None),
    ("runs/x/best.json", None),
])
def test_references_are_parsed(text, expected):
    assert parse_reference(text) == expected


@pytest.mark.parametrize("text", ["hf:", "hf:name", "hf:a/b/c", "hf:a--b/c", "hf:a/b@", "hf:a/b@../../etc",
                                  "hf:a/b@/abs", "hf:a/b c"])
def test_malformed_references_are_one_line(text):
    with pytest.raises(BadReferenceError) as raised:
        parse_reference(text)
    assert "\n" not in str(raised.value)


def test_the_catalogue_pin_is_the_default_revision():
    assert HubReference("dandelin/vilt-b32-finetuned-vqa").resolved_revision == "refs/pr/9"
    assert HubReference("someone/else").resolved_revision == "main"


def test_the_cache_folder_follows_the_environment_when_asked(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"


def test_a_cached_revision_resolves_by_name_ref_and_commit():
    snapshot = cached("dandelin/vilt-b32-finetuned-vqa", "refs/pr/9")
    for text in ("hf:dandelin/vilt-b32-finetuned-vqa", "hf:dandelin/vilt-b32-finetuned-vqa@refs/pr/9",
                 f"hf:dandelin/vilt-b32-finetuned-vqa@{COMMIT}"):
        source = resolve_pretrained(text, ModelKind.VQA)
        assert source.folder == snapshot and source.kind is ModelKind.VQA and source.commit == COMMIT
    with pytest.raises(ModelNotDownloadedError, match="vqadesk models download hf:dandelin/vilt-b32-finetuned-vqa"):
        resolve_pretrained("hf:dandelin/vilt-b32-finetuned-vqa@main")


def test_a_model_of_the_other_kind_or_architecture_is_one_line(tmp_path):
    folder = model_folder(tmp_path / "vilt")
    with pytest.raises(PretrainedModelError, match="is a VQA model .* not a captioner"):
        resolve_pretrained(str(folder), ModelKind.CAPTIONING)
    other = model_folder(tmp_path / "bert", "BertModel")
    with pytest.raises(PretrainedModelError, match="'BertModel' is not supported; vqadesk supports captioners"):
        resolve_pretrained(str(other))


def test_a_pickle_only_folder_is_refused(tmp_path):
    folder = model_folder(tmp_path / "pickled", weights="pytorch_model.bin")
    with pytest.raises(PickleOnlyModelError, match="pytorch_model.bin"):
        resolve_pretrained(str(folder))


def test_a_bare_name_means_a_folder_only_when_it_holds_a_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shapes-vqa").mkdir()  # a folder named like the bundled model, not a model folder
    assert not is_pretrained_reference("shapes-vqa")
    assert resolve_pretrained("shapes-vqa") is None
    model_folder(tmp_path / "mine")
    assert is_pretrained_reference("mine") and resolve_pretrained("mine").folder == Path("mine")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PretrainedModelError, match="no config.json"):
        resolve_pretrained("./empty")
