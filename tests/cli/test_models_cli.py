"""``vqadesk models list|download|remove`` against a local fake Hub (no network)."""

from __future__ import annotations

import io
import json

import pytest

from tests.support.fake_hub import FakeHub, write_model_folder
from vqadesk.cli.main import main
from vqadesk.engine.torch_free.hub import downloads
from vqadesk.engine.torch_free.hub.catalogue import CATALOGUE
from vqadesk.engine.torch_free.hub.references import repo_folder, resolve_pretrained

REPO = "org/captioner"
VILT = "dandelin/vilt-b32-finetuned-vqa"


class Terminal(io.StringIO):
    """Standard input that is a terminal, with the user's typed answer."""

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setattr(downloads, "RETRY_PAUSE_S", 0.0)
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        server.add_revision(REPO, write_model_folder(tmp_path / "captioner"))
        yield server


def resolve_gets(hub):
    return [seen for seen in hub.requests if seen.method == "GET" and "/resolve/" in seen.path]


def test_list_json_has_own_models_downloads_and_the_catalogue(hub, tmp_path, capsys):
    hub.add_revision(VILT, write_model_folder(tmp_path / "vilt", "ViltForQuestionAnswering"), "refs/pr/9")
    assert main(["models", "download", f"hf:{VILT}", "--yes"]) == 0
    capsys.readouterr()

    assert main(["models", "list", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {"shapes-vqa", "shapes-captioner"} <= {model["name"] for model in document["models"]}
    [downloaded] = document["downloaded"]
    assert downloaded["reference"] == f"hf:{VILT}" and downloaded["refs"] == ["refs/pr/9"]
    assert downloaded["kind"] == "vqa" and downloaded["size_on_disk"] > 2_000_000
    catalogue = {entry["repo_id"]: entry for entry in document["catalogue"]}
    assert len(catalogue) == len(CATALOGUE)
    assert catalogue[VILT]["downloaded"] is True and catalogue[VILT]["revision"] == "refs/pr/9"
    assert not catalogue["Salesforce/blip-vqa-base"]["downloaded"]
    assert all(entry["licence"] and entry["download_bytes"] > 0 for entry in catalogue.values())


def test_list_as_text(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "shapes-vqa" in out and "hf:Salesforce/blip-image-captioning-base" in out and "(recommended)" in out


def test_download_with_yes_shows_the_size_and_a_progress_bar(hub, capsys):
    assert main(["models", "download", f"hf:{REPO}", "--yes"]) == 0
    captured = capsys.readouterr()
    assert f"hf:{REPO}: revision main" in captured.out and "2.10 MB" in captured.out
    assert f"hf:{REPO} is ready: --model hf:{REPO}" in captured.out
    assert "model.safetensors" in captured.err and "100%" in captured.err  # tqdm's bar
    assert resolve_pretrained(f"hf:{REPO}").folder.is_dir()


def test_download_without_a_terminal_needs_yes(hub, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", Pipe(""))
    assert main(["models", "download", f"hf:{REPO}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vqadesk: error: not going to download hf:{REPO} (2.10 MB) without asking: pass --yes")
    assert resolve_gets(hub) == []


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 1), ("\n", 1)])
def test_download_asks_on_a_terminal(hub, monkeypatch, capsys, answer, code):
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    assert main(["models", "download", f"hf:{REPO}"]) == code
    err = capsys.readouterr().err
    assert f"Download hf:{REPO} (2.10 MB)? [y/N]" in err
    assert bool(resolve_gets(hub)) is (code == 0)
    if code:
        assert "vqadesk: nothing downloaded" in err


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(hub, monkeypatch, capsys):
    def interrupt_after_first_chunk(out, chunk):
        out.write(chunk)
        if out.name.endswith(".incomplete") and out.tell() > 100_000:
            raise KeyboardInterrupt

    real_writer = downloads.write_chunk
    monkeypatch.setattr(downloads, "write_chunk", interrupt_after_first_chunk)
    assert main(["models", "download", f"hf:{REPO}", "--yes"]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    [partial] = repo_folder(REPO).glob("blobs/*.incomplete")
    kept = partial.stat().st_size

    monkeypatch.setattr(downloads, "write_chunk", real_writer)
    assert main(["models", "download", f"hf:{REPO}", "--yes"]) == 0
    assert hub.gets("model.safetensors")[-1].range == f"bytes={kept}-"


def test_a_missing_repository_is_one_line(hub, capsys):
    assert main(["models", "download", "hf:org/missing", "--yes"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"vqadesk: error: hf:org/missing: no such repository on the Hugging Face Hub ({hub.url}), or a private one "
        "(log in with hf auth login if it is yours)"
    ]


def test_not_a_hub_reference_is_one_line(capsys):
    assert main(["models", "download", "Salesforce/blip-vqa-base", "--yes"]) == 1
    assert "is not a Hugging Face model reference: expected hf:ORG/NAME" in capsys.readouterr().err


def test_remove_asks_then_frees_the_space(hub, monkeypatch, capsys):
    assert main(["models", "download", f"hf:{REPO}", "--yes"]) == 0
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["models", "remove", f"hf:{REPO}"]) == 1
    assert repo_folder(REPO).is_dir()
    capsys.readouterr()

    assert main(["models", "remove", f"hf:{REPO}", "--yes"]) == 0
    assert capsys.readouterr().out.startswith(f"hf:{REPO} removed: 2.10 MB freed")
    assert not repo_folder(REPO).exists()
    assert main(["models", "remove", f"hf:{REPO}", "--yes"]) == 1
    assert f"hf:{REPO} is not in the Hugging Face cache" in capsys.readouterr().err


def test_models_without_an_action_prints_its_help(capsys):
    assert main(["models"]) == 2
    assert "download" in capsys.readouterr().err
