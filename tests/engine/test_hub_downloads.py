"""Downloading pretrained models from the Hub into the Hugging Face cache, against a local fake Hub.

No network: ``tests/support/fake_hub.py`` serves the Hub's endpoints on 127.0.0.1 and the
per-test cache (``HF_HUB_CACHE``, set by ``tests/conftest.py``) receives the files.
"""

from __future__ import annotations

import errno
import shutil
import threading
from collections import namedtuple
from pathlib import Path

import pytest
from filelock import FileLock

from tests.support.fake_hub import FakeHub, write_model_folder
from vqadesk.engine.torch_free.hub import downloads
from vqadesk.engine.torch_free.hub.cache import downloaded_models, removal_bytes, remove
from vqadesk.engine.torch_free.hub.downloads import download, partial_path, plan_download
from vqadesk.engine.torch_free.hub.hub_errors import (
    DiskFullError,
    DownloadCancelledError,
    DownloadFailedError,
    GatedModelError,
    HubDownloadError,
    NoNetworkError,
    NotEnoughSpaceError,
    NotInCacheError,
    RepoNotOnHubError,
)
from vqadesk.engine.torch_free.hub.references import (
    PickleOnlyModelError,
    PretrainedModelError,
    cache_dir,
    repo_folder,
    resolve_pretrained,
)
from vqadesk.engine.torch_free.model_kind import ModelKind

REPO = "org/captioner"
WEIGHTS = "model.safetensors"
DiskUsage = namedtuple("DiskUsage", "total used free")


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setattr(downloads, "RETRY_PAUSE_S", 0.0)
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def served(hub, tmp_path):
    """``REPO`` on the fake Hub: a captioner with 2 MB of safetensors weights (and a pickle beside them)."""
    folder = write_model_folder(tmp_path / "served")
    hub.add_revision(REPO, folder)
    return folder


def run(plan, cancel=None):
    """Every progress event of a download."""
    return list(download(plan, cancel))


def weight_blob(plan):
    file = next(file for file in plan.files if file.name == WEIGHTS)
    return repo_folder(REPO) / "blobs" / file.etag


# -- the plan ---------------------------------------------------------------------------------------


def test_the_plan_lists_what_loading_needs_with_sizes_and_free_space(served):
    plan = plan_download(f"hf:{REPO}")
    assert [file.name for file in plan.files] == ["config.json", "tokenizer_config.json", "vocab.txt", WEIGHTS]
    sizes = {path.name: path.stat().st_size for path in served.iterdir()}
    assert plan.total_bytes == sum(sizes[file.name] for file in plan.files)
    assert plan.cached_bytes == 0 and plan.remaining_bytes == plan.total_bytes
    assert plan.revision == "main" and len(plan.commit) == 40
    assert plan.cache_folder == cache_dir()
    assert plan.free_bytes > 0 and plan.fits_on_disk


# -- a whole download -------------------------------------------------------------------------------


def test_a_download_fills_the_cache_so_the_model_loads_offline(served, hub, monkeypatch):
    plan = plan_download(f"hf:{REPO}")
    events = run(plan)
    assert events[-1].done == events[-1].total == plan.total_bytes
    assert [event.done for event in events] == sorted(event.done for event in events)
    assert {event.file for event in events} == {file.name for file in plan.files}
    assert not any(seen.file in ("pytorch_model.bin", "README.md") for seen in hub.requests)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    source = resolve_pretrained(f"hf:{REPO}", ModelKind.CAPTIONING)
    assert source.commit == plan.commit
    assert (source.folder / "config.json").is_file()
    assert (source.folder / WEIGHTS).read_bytes() == (served / WEIGHTS).read_bytes()
    assert not list(repo_folder(REPO).glob("blobs/*.incomplete"))


def test_huggingface_hub_itself_finds_the_revision_offline(served):
    from huggingface_hub import hf_hub_download

    run(plan_download(f"hf:{REPO}"))
    path = hf_hub_download(REPO, "vocab.txt", revision="main", cache_dir=cache_dir(), local_files_only=True)
    assert Path(path).read_text() == (served / "vocab.txt").read_text()


def test_a_pull_request_revision_is_recorded_under_its_ref(hub, tmp_path):
    """The catalogue pins ViLT to refs/pr/9 (its main has only a pickle): hf:NAME alone means that revision."""
    repo = "dandelin/vilt-b32-finetuned-vqa"
    hub.add_revision(repo, write_model_folder(tmp_path / "main", "ViltForQuestionAnswering", safetensors=False))
    commit = hub.add_revision(repo, write_model_folder(tmp_path / "pr9", "ViltForQuestionAnswering"), "refs/pr/9")

    plan = plan_download(f"hf:{repo}")
    assert plan.revision == "refs/pr/9" and plan.commit == commit
    run(plan)
    assert (repo_folder(repo) / "refs" / "refs" / "pr" / "9").read_text() == commit
    assert resolve_pretrained(f"hf:{repo}", ModelKind.VQA).commit == commit
    assert resolve_pretrained(f"hf:{repo}@refs/pr/9", ModelKind.VQA).commit == commit


def test_a_second_plan_finds_everything_cached(served):
    run(plan_download(f"hf:{REPO}"))
    again = plan_download(f"hf:{REPO}")
    assert again.complete and again.cached_bytes == again.total_bytes
    assert run(again)[-1].done == again.total_bytes


# -- interruptions and resuming ---------------------------------------------------------------------


def test_a_dropped_connection_resumes_where_it_stopped(served, hub):
    hub.drop_connection(WEIGHTS, at_byte=700_000)
    plan = plan_download(f"hf:{REPO}")
    run(plan)
    assert [seen.range for seen in hub.gets(WEIGHTS)] == [None, "bytes=700000-"]
    assert weight_blob(plan).read_bytes() == (served / WEIGHTS).read_bytes()


def test_an_interrupted_run_is_resumed_by_the_next(served, hub):
    hub.drop_connection(WEIGHTS, at_byte=500_000, times=100)  # the link goes down there and stays down
    plan = plan_download(f"hf:{REPO}")
    with pytest.raises(DownloadFailedError, match="dropped while downloading model.safetensors .* to resume"):
        run(plan)
    assert len(hub.gets(WEIGHTS)) == 2 + downloads.RETRIES  # the first GET, then retries that got nothing
    hub.restore_connection(WEIGHTS)
    partial = partial_path(weight_blob(plan).parent, weight_blob(plan).name)
    assert partial.stat().st_size == 500_000

    again = plan_download(f"hf:{REPO}")
    assert again.cached_bytes == plan.total_bytes - (served / WEIGHTS).stat().st_size + 500_000
    gets_before = len(hub.gets(WEIGHTS))
    run(again)
    assert [seen.range for seen in hub.gets(WEIGHTS)[gets_before:]] == ["bytes=500000-"]
    assert weight_blob(plan).read_bytes() == (served / WEIGHTS).read_bytes()


def test_cancel_keeps_the_partial_file_and_the_next_download_resumes(served, hub):
    plan = plan_download(f"hf:{REPO}")
    cancel = threading.Event()
    with pytest.raises(DownloadCancelledError, match="cancelled"):
        for event in download(plan, cancel):
            if event.file == WEIGHTS and event.file_done > 0:
                cancel.set()
    partial = partial_path(weight_blob(plan).parent, weight_blob(plan).name)
    kept = partial.stat().st_size
    assert 0 < kept < (served / WEIGHTS).stat().st_size
    assert not weight_blob(plan).exists()

    run(plan_download(f"hf:{REPO}"))
    assert hub.gets(WEIGHTS)[-1].range == f"bytes={kept}-"
    assert weight_blob(plan).read_bytes() == (served / WEIGHTS).read_bytes()


def test_a_damaged_file_is_caught_by_its_hash_and_fetched_again(served, hub):
    plan = plan_download(f"hf:{REPO}")
    blobs = weight_blob(plan).parent
    blobs.mkdir(parents=True)
    partial = partial_path(blobs, weight_blob(plan).name)
    partial.write_bytes(b"\0" * (served / WEIGHTS).stat().st_size)  # the right length, the wrong bytes
    with pytest.raises(DownloadFailedError, match="arrived damaged"):
        run(plan_download(f"hf:{REPO}"))
    assert not partial.exists()
    run(plan_download(f"hf:{REPO}"))
    assert weight_blob(plan).read_bytes() == (served / WEIGHTS).read_bytes()


# -- refusals ---------------------------------------------------------------------------------------


def test_an_unknown_repository_revision_or_gated_one_is_one_line(served, hub):
    with pytest.raises(RepoNotOnHubError, match=r"hf:org/missing: no such repository on the Hugging Face Hub"):
        plan_download("hf:org/missing")
    with pytest.raises(RepoNotOnHubError, match=r"the Hub has no revision 'v9'"):
        plan_download(f"hf:{REPO}@v9")
    hub.gate(REPO)
    with pytest.raises(GatedModelError, match=r"is gated: accept its terms"):
        plan_download(f"hf:{REPO}")


def test_pickle_only_weights_are_refused_before_any_file_is_fetched(hub, tmp_path):
    hub.add_revision("org/pickled", write_model_folder(tmp_path / "pickled", safetensors=False))
    with pytest.raises(PickleOnlyModelError, match=r"only pickled weights \(pytorch_model.bin\)"):
        plan_download("hf:org/pickled")
    assert not any("/resolve/" in seen.path for seen in hub.requests)


def test_a_catalogue_repository_points_to_its_safetensors_revision(hub, tmp_path):
    repo = "dandelin/vilt-b32-finetuned-vqa"
    hub.add_revision(repo, write_model_folder(tmp_path / "main", "ViltForQuestionAnswering", safetensors=False))
    with pytest.raises(PickleOnlyModelError, match=f"vqadesk models download hf:{repo}$"):
        plan_download(f"hf:{repo}@main")


def test_an_unsupported_architecture_is_refused_before_the_weights(hub, tmp_path):
    hub.add_revision("org/bert", write_model_folder(tmp_path / "bert", "BertModel"))
    with pytest.raises(PretrainedModelError, match="'BertModel' is not supported"):
        run(plan_download("hf:org/bert"))
    assert hub.gets(WEIGHTS) == []


def test_too_little_free_space_is_refused_with_the_figures(served, hub, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: DiskUsage(10**12, 10**12 - 5_000_000, 5_000_000))
    plan = plan_download(f"hf:{REPO}")
    assert not plan.fits_on_disk and plan.free_bytes == 5_000_000
    with pytest.raises(NotEnoughSpaceError, match=r"needs 2.1\d MB more .* has 5.00 MB free"):
        run(plan)
    assert not any("/resolve/" in seen.path for seen in hub.requests)


def test_a_disk_that_fills_up_mid_file_is_one_line_and_keeps_what_was_written(served, monkeypatch):
    written = []

    def write_until_full(out, chunk):
        if sum(written) >= 300_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        out.write(chunk)
        written.append(len(chunk))

    monkeypatch.setattr(downloads, "write_chunk", write_until_full)
    plan = plan_download(f"hf:{REPO}")
    with pytest.raises(DiskFullError, match=f"the disk holding the Hugging Face cache \\({cache_dir()}\\) is full"):
        run(plan)
    partial = partial_path(weight_blob(plan).parent, weight_blob(plan).name)
    assert partial.stat().st_size > 0


def test_offline_mode_says_the_download_needs_the_network(served, hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(NoNetworkError, match=f"downloading hf:{REPO} needs the network, and HF_HUB_OFFLINE is set"):
        plan_download(f"hf:{REPO}")
    assert hub.requests == []


def test_no_network_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(NoNetworkError, match=r"cannot reach the Hugging Face Hub \(http://127.0.0.1:9\)"):
        plan_download(f"hf:{REPO}")


# -- what the cache holds, and removing it -----------------------------------------------------------


def test_downloaded_models_lists_loadable_revisions_with_their_size(served, hub, tmp_path):
    hub.add_revision("org/vqa", write_model_folder(tmp_path / "vqa", "BlipForQuestionAnswering", seed=1))
    hub.add_revision("org/bert", write_model_folder(tmp_path / "bert", "BertModel"))
    assert downloaded_models() == []
    for reference in (f"hf:{REPO}", "hf:org/vqa"):
        run(plan_download(reference))
    with pytest.raises(PretrainedModelError):
        run(plan_download("hf:org/bert"))  # config only: not loadable, not listed

    models = downloaded_models()
    assert [(m.reference.text, m.kind, m.refs) for m in models] == [
        (f"hf:{REPO}", ModelKind.CAPTIONING, ("main",)),
        ("hf:org/vqa", ModelKind.VQA, ("main",)),
    ]
    assert models[0].size_on_disk == plan_download(f"hf:{REPO}").total_bytes


def test_remove_frees_the_repository_and_says_how_much(served):
    plan = plan_download(f"hf:{REPO}")
    run(plan)
    on_disk = plan.total_bytes + len(plan.commit)  # the files, and refs/main naming the commit
    assert removal_bytes(f"hf:{REPO}") == on_disk
    removal = remove(f"hf:{REPO}")
    assert removal.freed_bytes == on_disk and removal.commits == (plan.commit,)
    assert not repo_folder(REPO).exists() and downloaded_models() == []
    with pytest.raises(NotInCacheError, match=f"hf:{REPO} is not in the Hugging Face cache"):
        remove(f"hf:{REPO}")


def test_remove_one_revision_keeps_the_others(hub, tmp_path):
    main = hub.add_revision(REPO, write_model_folder(tmp_path / "a", seed=1))
    hub.add_revision(REPO, write_model_folder(tmp_path / "b", seed=2), "refs/pr/3")
    run(plan_download(f"hf:{REPO}"))
    pr = plan_download(f"hf:{REPO}@refs/pr/3")
    run(pr)
    removal = remove(f"hf:{REPO}@refs/pr/3")
    assert removal.commits == (pr.commit,)
    assert removal.freed_bytes == (tmp_path / "b" / WEIGHTS).stat().st_size  # the shared small files stay
    assert [model.commit for model in downloaded_models()] == [main]
    with pytest.raises(NotInCacheError, match="revision 'refs/pr/3' is not in the Hugging Face cache"):
        remove(f"hf:{REPO}@refs/pr/3")


def test_a_second_download_of_the_same_model_at_once_is_refused(served):
    plan = plan_download(f"hf:{REPO}")
    lock_path = cache_dir() / ".locks" / repo_folder(REPO).name / "vqadesk-download.lock"
    lock_path.parent.mkdir(parents=True)
    with FileLock(lock_path), pytest.raises(HubDownloadError, match="is already being downloaded"):
        run(plan)
