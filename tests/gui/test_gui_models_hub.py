"""The Models tab's pretrained models: the catalogue, the Hugging Face cache, the Download flow;
the Caption and Ask panels' Shapes-only notice and its offer; heatmaps over the whole photo.

No network: most downloads go through a fake backend (``FakeBackend``) handed to
the panel's ``ModelDownloader``, whose download writes the model into the per-test Hugging Face
cache the way the Hub's client does, so the real cache listing finds it afterwards. Only the last
test starts a window (and its inference process, with the bundled Shapes models). One test runs the
real download code (``EngineHub``) against the local HTTP server that stands in for the Hub
(``tests/support/fake_hub.py``), from the Download button to the model listed as downloaded.
"""

from __future__ import annotations

import errno
import json
import threading
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from tests.support.fake_hub import FakeHub, write_model_folder
from tests.support.gui_windows import started_window
from vqadesk.data.dataset import DROPPED_SPLIT, open_photos
from vqadesk.engine.torch_free.hub.catalogue import CATALOGUE, catalogue_entry, recommended
from vqadesk.engine.torch_free.hub.references import HubReference, cache_dir, repo_folder
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.predictions import (
    CENTRE_SQUARE,
    WHOLE_IMAGE,
    Caption,
    CaptionPrediction,
    CaptionWord,
)
from vqadesk.errors import VqadeskError
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.explore.caption_panel import CaptionPanel
from vqadesk.gui.explore.hub_models import format_bytes, model_key, same_model
from vqadesk.gui.explore.image_context import ImageContext
from vqadesk.gui.explore.model_download import DownloadPlan, EngineHub, ModelDownloader, describe_failure
from vqadesk.gui.explore.models_panel import ModelsPanel
from vqadesk.gui.explore.shapes_notice import ShapesOnlyNotice
from vqadesk.gui.explore.viewer import ImageViewer

WAIT_MS = 10000
WINDOW_WAIT_MS = 60000  # a busy 2-core machine; the inference process imports torch
BLIP = recommended(ModelKind.CAPTIONING)
COMMIT = "0123456789abcdef0123456789abcdef01234567"
CHUNKS = 4


def write_cached_model(repo_id: str, revision: str, architecture: str, *, commit: str = COMMIT,
                       weights: str = "model.safetensors") -> None:
    """A model in the Hugging Face cache's layout: ``refs/<revision>`` names the snapshot holding its files."""
    folder = repo_folder(repo_id)
    ref = folder / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit, encoding="utf-8")
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / "config.json").write_text(json.dumps({"architectures": [architecture]}), encoding="utf-8")
    (snapshot / weights).write_bytes(b"\0" * 1000)


class FakeBackend:
    """A ``HubBackend`` the test drives: ``release(n)`` lets ``n`` more chunks through; the last one writes
    the model into the cache. ``plan_error`` / ``fail_at`` make the plan or a chunk fail."""

    def __init__(self, *, total: int = BLIP.download_bytes, cached: int = 0, free: int = 50 * 10**9):
        self.total, self.cached, self.free = total, cached, free
        self.plan_error: BaseException | None = None
        self.fail_at: tuple[int, BaseException] | None = None
        self.plans: list[HubReference] = []
        self.chunks_sent = 0
        self.downloads_started = 0
        self.ended = threading.Event()
        self._gate = threading.Semaphore(0)

    def release(self, chunks: int = 1) -> None:
        for _ in range(chunks):
            self._gate.release()

    def plan(self, reference: HubReference) -> DownloadPlan:
        self.plans.append(reference)
        if self.plan_error is not None:
            raise self.plan_error
        return DownloadPlan(reference, self.total, self.cached, self.free, COMMIT)

    def download(self, plan: DownloadPlan, cancel: threading.Event):
        self.downloads_started += 1
        try:
            step = (self.total - self.cached) // CHUNKS
            for index in range(1, CHUNKS + 1):
                while not self._gate.acquire(timeout=0.02):
                    if cancel.is_set():
                        return
                if self.fail_at is not None and self.fail_at[0] == index:
                    raise self.fail_at[1]
                self.chunks_sent = index
                done = self.total if index == CHUNKS else self.cached + index * step
                if index == CHUNKS:
                    entry = catalogue_entry(plan.reference.repo_id)
                    write_cached_model(entry.repo_id, entry.revision, entry.architecture)
                yield "model.safetensors", done, self.total
        finally:
            self.ended.set()


@pytest.fixture
def hub() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def panel(qtbot, hub) -> ModelsPanel:
    widget = ModelsPanel(downloader=ModelDownloader(hub, progress_interval_s=0))
    qtbot.addWidget(widget)
    widget.resize(460, 760)
    widget.show()
    yield widget
    widget.shutdown()


def confirmation(qtbot, panel: ModelsPanel) -> QMessageBox:
    qtbot.waitUntil(lambda: panel.download_flow.confirm_box is not None, timeout=WAIT_MS)
    return panel.download_flow.confirm_box


def press(box: QMessageBox, text: str) -> None:
    button = next(b for b in box.buttons() if b.text().replace("&", "") == text)
    button.click()


def start_download(qtbot, panel: ModelsPanel, hub: FakeBackend) -> None:
    """Select BLIP in the catalogue, press Download… and agree."""
    panel.select_catalogue(BLIP.repo_id)
    panel.download_button.click()
    press(confirmation(qtbot, panel), "Download")
    qtbot.waitUntil(lambda: hub.downloads_started == 1, timeout=WAIT_MS)


# -- the lists and the card ------------------------------------------------------------------------


def test_the_catalogue_is_listed_with_sizes_licences_and_summaries(panel):
    labels = panel.catalogue_labels()
    assert len(labels) == len(CATALOGUE)
    for entry, label in zip(CATALOGUE, labels, strict=True):
        assert entry.title in label and entry.kind.noun in label and entry.licence in label
        assert f"{format_bytes(entry.download_bytes)} download" in label
        assert entry.summary in label
    assert "991 MB download" in labels[0]
    assert panel.cached_labels() == []  # nothing in the (per-test) cache


def test_a_catalogue_card_says_what_it_costs_and_the_exact_commands(panel):
    panel.select_catalogue(BLIP.repo_id)
    card = panel.card.toPlainText()
    for text in (BLIP.title, BLIP.licence, "991 MB", "1.00 GB", "Not downloaded",
                 f"vqadesk models download hf:{BLIP.repo_id}", f"vqadesk caption photo.jpg --model hf:{BLIP.repo_id}"):
        assert text in card
    assert panel.download_button.isEnabled()
    assert not panel.use_button.isEnabled()  # nothing to use before it is downloaded


def test_models_in_the_cache_are_listed_and_usable(qtbot, panel):
    write_cached_model("dandelin/vilt-b32-finetuned-vqa", "refs/pr/9", "ViltForQuestionAnswering")
    write_cached_model("someone/other-captioner", "main", "GitForCausalLM", commit="f" * 40)
    write_cached_model("someone/pickled", "main", "GitForCausalLM", commit="e" * 40, weights="pytorch_model.bin")
    write_cached_model("someone/a-text-model", "main", "BertModel", commit="d" * 40)
    panel.refresh_hub()
    labels = panel.cached_labels()
    assert len(labels) == 2  # the pickle-only and the unsupported one cannot be used: not listed
    assert labels[0].startswith("ViLT VQA (B/32)\nVQA model · ") and " kB on disk" in labels[0]
    assert labels[1].startswith("hf:someone/other-captioner\ncaptioner")
    assert "✓ downloaded" in next(label for label in panel.catalogue_labels() if "ViLT" in label)
    panel.select_path("hf:dandelin/vilt-b32-finetuned-vqa")
    assert "Hugging Face cache" in panel.card.toPlainText()
    with qtbot.waitSignal(panel.sig_use_model) as used:
        panel.use_button.click()
    assert used.args == ["vqa", "hf:dandelin/vilt-b32-finetuned-vqa"]
    panel.set_active(ModelKind.VQA, "hf:dandelin/vilt-b32-finetuned-vqa", "CPU")
    assert panel.cached_labels()[0].startswith("ViLT VQA (B/32)  (in use)\n")


def test_a_model_loaded_from_its_snapshot_folder_is_known_by_its_reference():
    folder = cache_dir() / "models--Salesforce--blip-vqa-base" / "snapshots" / COMMIT
    assert model_key("hf:Salesforce/blip-vqa-base", folder) == "hf:Salesforce/blip-vqa-base"
    assert model_key("blip", folder) == "hf:Salesforce/blip-vqa-base"
    assert same_model("hf:salesforce/BLIP-vqa-base", "hf:Salesforce/blip-vqa-base@main")
    assert not same_model("hf:dandelin/vilt-b32-finetuned-vqa", "hf:dandelin/vilt-b32-finetuned-vqa@main")


# -- downloading ----------------------------------------------------------------------------------


def test_download_shows_the_size_first_and_declining_fetches_nothing(qtbot, panel, hub):
    panel.select_catalogue(BLIP.repo_id)
    panel.download_button.click()
    box = confirmation(qtbot, panel)
    text = box.text() + box.informativeText()
    assert "991 MB" in text and "Free disk space: 50.0 GB" in text and BLIP.licence in text
    assert hub.plans == [HubReference(BLIP.repo_id)]
    press(box, "Cancel")
    qtbot.waitUntil(lambda: not panel.download_flow.busy, timeout=WAIT_MS)
    assert hub.downloads_started == 0
    assert not panel.download_flow.progress_row.isVisible()
    assert not panel.download_flow.message.isVisible()
    assert panel.download_button.isEnabled()


def test_a_full_disk_is_said_before_anything_is_fetched(qtbot, hub, panel):
    hub.free = 100 * 10**6
    panel.select_catalogue(BLIP.repo_id)
    panel.download_button.click()
    box = confirmation(qtbot, panel)
    assert "Not enough free disk space" in box.informativeText()
    download = next(b for b in box.buttons() if b.text() == "Download")
    assert not download.isEnabled()
    press(box, "Cancel")
    assert hub.downloads_started == 0


def test_an_accepted_download_moves_the_bar_and_ends_listed_as_downloaded(qtbot, panel, hub):
    start_download(qtbot, panel, hub)
    flow = panel.download_flow
    assert flow.progress_row.isVisible() and flow.cancel_button.isEnabled()
    assert not panel.download_button.isEnabled()  # one download at a time
    values = []
    for step in range(1, CHUNKS):
        hub.release()
        qtbot.waitUntil(lambda s=step: flow.bar.value() >= s * 250 - 1, timeout=WAIT_MS)
        values.append(flow.bar.value())
    assert values == sorted(values) and values[0] > 0
    assert "MB of 991 MB" in flow.details.text() and "model.safetensors" in flow.details.text()
    with qtbot.waitSignal(panel.sig_downloaded, timeout=WAIT_MS) as downloaded:
        hub.release()
    assert downloaded.args == [f"hf:{BLIP.repo_id}"]
    assert not flow.progress_row.isVisible()
    assert "Downloaded BLIP captioner (base)" in flow.message.text()
    assert "✓ downloaded" in panel.catalogue_labels()[0]
    assert panel.cached_labels()[0].startswith("BLIP captioner (base)\ncaptioner")
    assert panel.use_button.isEnabled() and not panel.download_button.isEnabled()
    with qtbot.waitSignal(panel.sig_use_model) as used:
        panel.use_button.click()
    assert used.args == ["captioning", f"hf:{BLIP.repo_id}"]


def test_the_real_download_code_fetches_from_a_hub_server_into_the_cache(qtbot, tmp_path, monkeypatch):
    served = write_model_folder(tmp_path / "served", BLIP.architecture)
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        commit = server.add_revision(BLIP.repo_id, served, BLIP.revision)
        panel = ModelsPanel(downloader=ModelDownloader(EngineHub(), progress_interval_s=0))
        qtbot.addWidget(panel)
        panel.show()
        try:
            panel.select_catalogue(BLIP.repo_id)
            panel.download_button.click()
            box = confirmation(qtbot, panel)
            size = (served / "model.safetensors").stat().st_size
            assert format_bytes(size).split()[0] in box.text()  # the weights' size, before anything is fetched
            assert not server.gets("model.safetensors")
            with qtbot.waitSignal(panel.sig_downloaded, timeout=WAIT_MS) as downloaded:
                press(box, "Download")
        finally:
            panel.shutdown()
    assert downloaded.args == [f"hf:{BLIP.repo_id}"]
    snapshot = repo_folder(BLIP.repo_id) / "snapshots" / commit
    assert (snapshot / "model.safetensors").read_bytes() == (served / "model.safetensors").read_bytes()
    assert "✓ downloaded" in panel.catalogue_labels()[0]
    assert panel.cached_labels()[0].startswith("BLIP captioner (base)\ncaptioner")


def test_cancel_stops_the_download_and_says_so(qtbot, panel, hub):
    start_download(qtbot, panel, hub)
    hub.release()
    qtbot.waitUntil(lambda: panel.download_flow.bar.value() > 0, timeout=WAIT_MS)
    panel.download_flow.cancel_button.click()
    assert "Cancelling" in panel.download_flow.details.text()
    qtbot.waitUntil(lambda: not panel.download_flow.busy, timeout=WAIT_MS)
    assert hub.ended.is_set() and hub.chunks_sent == 1
    assert "cancelled" in panel.download_flow.message.text()
    assert "991 MB download" in panel.catalogue_labels()[0]  # still not downloaded
    assert panel.cached_labels() == []
    assert panel.download_button.isEnabled()


@pytest.mark.parametrize(("where", "error", "words"), [
    ("plan", VqadeskError("no network: the Hugging Face Hub could not be reached"), "no network"),
    ("plan", type("RepositoryNotFoundError", (Exception,), {})("404 Client Error"), "not on the Hugging Face Hub"),
    ("download", OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
    ("download", ConnectionResetError("connection reset by peer"), "no network"),
])
def test_errors_are_one_plain_line(qtbot, panel, hub, where, error, words):
    if where == "plan":
        hub.plan_error = error
        panel.select_catalogue(BLIP.repo_id)
        panel.download_button.click()
    else:
        hub.fail_at = (2, error)
        start_download(qtbot, panel, hub)
        hub.release(2)
    qtbot.waitUntil(lambda: panel.download_flow.message.isVisible(), timeout=WAIT_MS)
    message = panel.download_flow.message.text()
    assert message.startswith("Could not download BLIP captioner (base): ") and words in message
    assert "\n" not in message and "Traceback" not in message
    assert panel.download_flow.confirm_box is None and not panel.download_flow.progress_row.isVisible()
    assert panel.cached_labels() == [] and panel.download_button.isEnabled()


def test_failures_the_engine_did_not_word_are_still_plain():
    reference = HubReference(BLIP.repo_id)
    assert describe_failure(OSError(errno.ENOSPC, "full"), reference).startswith("the disk is full")
    assert describe_failure(TimeoutError("slow"), reference).startswith("no network")
    assert describe_failure(ValueError("bug"), reference).startswith("internal error")


# -- the Shapes-only notices -----------------------------------------------------------------------


@pytest.fixture
def photo_context(tmp_path) -> ImageContext:
    path = tmp_path / "photos" / "street.jpg"
    path.parent.mkdir()
    Image.new("RGB", (320, 200), (90, 120, 160)).save(path)
    split = open_photos([path]).split(DROPPED_SPLIT)
    return ImageContext(path=path, image_id=split.image_ids[0], split=split, is_shapes=False)


def caption_prediction(region: str = CENTRE_SQUARE) -> CaptionPrediction:
    words = [CaptionWord(word, 0.9, np.full((8, 8), 1 / 64, dtype=np.float32)) for word in ("a", "red", "circle")]
    return CaptionPrediction(model="shapes-captioner", timings_ms={"total": 5.0}, cached=False,
                             attention_region=region, captions=[Caption("a red circle", words, -0.1, -0.3)])


def test_the_caption_panel_says_its_captioner_knows_only_shapes_and_offers_blip(qtbot, photo_context):
    panel = CaptionPanel(InferenceClient(models=False))
    qtbot.addWidget(panel)
    panel.show()
    panel.auto.setChecked(False)
    panel.set_shapes_only_model("shapes-captioner")
    panel.set_image(photo_context)
    assert not panel.notice.isVisible()  # nothing said before there are captions
    panel.show_prediction(photo_context, caption_prediction())
    assert panel.notice.isVisible()
    assert "shapes-captioner knows only the built-in Shapes world" in panel.notice.label.text()
    assert panel.notice.offer.text() == "Get BLIP captioner (991 MB)…"
    with qtbot.waitSignal(panel.notice.sig_get_model) as get:
        panel.notice.offer.click()
    assert get.args == [BLIP.repo_id]
    # Downloaded meanwhile: the offer becomes "Use", which loads it.
    write_cached_model(BLIP.repo_id, BLIP.revision, BLIP.architecture)
    panel.notice.refresh_offer()
    assert panel.notice.offer.text() == "Use BLIP captioner"
    with qtbot.waitSignal(panel.notice.sig_use_model) as use:
        panel.notice.offer.click()
    assert use.args == ["captioning", f"hf:{BLIP.repo_id}"]
    # A captioner that knows photos: no notice.
    panel.set_shapes_only_model(None)
    assert not panel.notice.isVisible()
    with qtbot.waitSignal(panel.sig_word_selected) as selected:
        panel.show_prediction(photo_context, caption_prediction(WHOLE_IMAGE))
        panel.select_word(0, 1)
    assert selected.args[2] == WHOLE_IMAGE


def test_the_caption_notice_stays_quiet_on_shapes_images(qtbot, photo_context):
    panel = CaptionPanel(InferenceClient(models=False))
    qtbot.addWidget(panel)
    panel.auto.setChecked(False)
    shapes_context = ImageContext(photo_context.path, photo_context.image_id, photo_context.split, is_shapes=True)
    panel.set_shapes_only_model("shapes-captioner")
    panel.set_image(shapes_context)
    panel.show_prediction(shapes_context, caption_prediction())
    assert not panel.notice.isVisibleTo(panel)


def test_the_ask_notice_offers_the_recommended_vqa_model(qtbot):
    notice = ShapesOnlyNotice(ModelKind.VQA)
    qtbot.addWidget(notice)
    notice.show_for("shapes-vqa")
    entry = recommended(ModelKind.VQA)
    assert "its answers about a real photo are guesses" in notice.label.text()
    assert notice.offer.text() == f"Get BLIP VQA ({format_bytes(entry.download_bytes)})…" == "Get BLIP VQA (1.54 GB)…"


# -- heatmaps over the region the model saw ----------------------------------------------------------


@pytest.fixture
def viewer(qtbot) -> ImageViewer:
    widget = ImageViewer()
    qtbot.addWidget(widget)
    image = QImage(640, 480, QImage.Format.Format_RGB888)
    image.fill(0x336699)
    widget.show_image(image, [])
    return widget


def test_a_whole_image_map_covers_the_whole_photo(viewer):
    viewer.show_heatmap(np.full((12, 12), 1 / 144), "BLIP", WHOLE_IMAGE)
    rect = viewer.heatmap_rect()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == pytest.approx((0, 0, 640, 480))
    viewer.set_colormap("viridis")  # drawn again: the region stays
    assert viewer.heatmap_region == WHOLE_IMAGE
    assert viewer.heatmap_rect().width() == pytest.approx(640)


def test_a_centre_square_map_covers_the_centre_square(viewer):
    viewer.show_heatmap(np.full((8, 8), 1 / 64), "shapes")
    rect = viewer.heatmap_rect()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == pytest.approx((80, 0, 480, 480))


def test_a_non_square_grid_is_stretched_over_the_photo(viewer):
    grid = np.arange(24 * 32, dtype=np.float64).reshape(24, 32)
    viewer.show_heatmap(grid / grid.sum(), "wide", WHOLE_IMAGE)
    rect = viewer.heatmap_rect()
    assert (rect.width(), rect.height()) == pytest.approx((640, 480))
    assert viewer.heatmap_grid.shape == (24, 32)


# -- the window: offers, loading, regions -----------------------------------------------------------


@pytest.fixture
def photo_window(qtbot, tmp_path):
    """The window on a folder of one photo, with the bundled Shapes models (loaded by the inference process)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (320, 200), (200, 120, 60)).save(photos / "street.jpg")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = started_window(qtbot, settings, photos, WINDOW_WAIT_MS)
    yield window
    window.close()


def test_the_window_offers_blip_opens_its_entry_shows_the_loading_and_lays_maps_over_the_photo(qtbot, photo_window):
    window = photo_window
    panel = window.caption_panel
    qtbot.waitUntil(lambda: panel.prediction is not None, timeout=WINDOW_WAIT_MS)  # Auto captions the photo
    assert panel.shapes_only_model is not None and panel.notice.isVisibleTo(panel)
    assert panel.notice.offer.text() == "Get BLIP captioner (991 MB)…"
    panel.notice.offer.click()
    assert window.side_tabs.currentWidget() is window.models_panel
    assert window.models_panel.card.toPlainText().startswith(BLIP.title)
    assert window.models_panel.download_button.isEnabled()

    # Loading a Hub model says so in the Models tab and the status bar until the load has ended.
    window.use_model(ModelKind.CAPTIONING, f"hf:{BLIP.repo_id}")
    assert window.models_panel.loading.isVisibleTo(window.models_panel)
    assert "Loading BLIP captioner (base) as the captioner" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.models_panel.loading.isVisibleTo(window.models_panel),
                    timeout=WINDOW_WAIT_MS)
    assert BLIP.repo_id in window.models_panel.message.text()  # not in the cache: it cannot load

    # A caption word's map over the whole photo, as a Hub captioner's prediction says.
    grid = np.full((6, 10), 1 / 60)
    panel.sig_word_selected.emit(grid, "'street' (90%)", WHOLE_IMAGE)
    rect = window.viewer.heatmap_rect()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == pytest.approx((0, 0, 320, 200))
    assert "street" in window.overlays.caption.text()

    # Once the Hub captioner has loaded, it is the one in use, remembered, and the notice goes.
    write_cached_model(BLIP.repo_id, BLIP.revision, BLIP.architecture)
    window.models_panel.refresh_hub()
    before = window.inference.models
    snapshot = repo_folder(BLIP.repo_id) / "snapshots" / COMMIT
    window.active_models.models_changed(replace(before, captioner=f"hf:{BLIP.repo_id}", captioner_path=snapshot))
    assert not panel.notice.isVisibleTo(panel)
    assert window.models_panel.cached_labels()[0].startswith("BLIP captioner (base)  (in use)")
    assert window.settings.value("models/captioner") == f"hf:{BLIP.repo_id}"
