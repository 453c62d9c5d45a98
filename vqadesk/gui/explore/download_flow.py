"""The Models tab's *Download…*: the size first, the user's yes, then a progress bar with Cancel.

1. ``start(entry)`` asks the Hub for the plan (``ModelDownloader.plan``: the file list and sizes;
   nothing is fetched) while the row says so.
2. A confirmation (``confirm_box``, window-modal but not blocking the event loop) shows what will
   be downloaded, what the cache already holds, the free disk space and the licence. *Download* is
   disabled when the disk is too full. Declining fetches nothing and leaves no trace.
3. The download: a bar, bytes done of the total, the rate, the time left and the file being
   fetched; *Cancel* stops it (the part fetched stays in the cache, so a later download resumes).
4. The outcome in one line: downloaded (``sig_downloaded``), cancelled, or the error in plain words.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.hub.catalogue import CatalogueEntry
from vqadesk.engine.torch_free.hub.references import HubReference, cache_dir
from vqadesk.engine.torch_free.hub.sizes import format_bytes
from vqadesk.gui.explore.model_download import DownloadPlan, DownloadProgress, ModelDownloader
from vqadesk.gui.style import message_style

BAR_STEPS = 1000  # the bar counts thousandths: byte counts overflow a QProgressBar's int


def time_left(done: int, total: int, rate: float | None) -> str:
    """``about 2 min left``; empty while the rate is unknown."""
    if not rate or rate <= 0 or done >= total:
        return ""
    seconds = (total - done) / rate
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


class DownloadFlow(QWidget):
    """The download row under the Models tab's card; hidden until a download is asked for."""

    sig_downloaded = Signal(str)  # the model's reference text (hf:ORG/NAME), all files in the cache
    sig_busy_changed = Signal(bool)

    def __init__(self, downloader: ModelDownloader | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.downloader = downloader if downloader is not None else ModelDownloader(parent=self)
        self.entry: CatalogueEntry | None = None
        self.plan: DownloadPlan | None = None
        self.confirm_box: QMessageBox | None = None
        self._busy = False

        self.title = QLabel()
        self.title.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_STEPS)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; what was fetched stays in the cache, and downloading "
                                      "again resumes it")
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.progress_row = QWidget()
        row_layout = QVBoxLayout(self.progress_row)
        row_layout.setContentsMargins(0, 0, 0, 0)
        row_layout.addWidget(self.title)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.bar, 1)
        bar_row.addWidget(self.cancel_button)
        row_layout.addLayout(bar_row)
        row_layout.addWidget(self.details)
        self.progress_row.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.progress_row)
        layout.addWidget(self.message)

        self.cancel_button.clicked.connect(self.cancel)
        self.downloader.sig_planned.connect(self._planned)
        self.downloader.sig_progress.connect(self._progress)
        self.downloader.sig_finished.connect(self._finished)
        self.downloader.sig_cancelled.connect(self._cancelled)
        self.downloader.sig_failed.connect(self._failed)

    @property
    def busy(self) -> bool:
        """From the size check until the download has ended (the confirmation included)."""
        return self._busy

    def start(self, entry: CatalogueEntry) -> None:
        """Check ``entry``'s size on the Hub, then ask the user (nothing is fetched before the yes)."""
        if self._busy:
            return
        self.entry, self.plan = entry, None
        self._set_busy(True)
        self._say("")
        self.title.setText(f"Checking the size of <b>{entry.title}</b> on the Hugging Face Hub…")
        self.bar.setRange(0, 0)  # indeterminate
        self.cancel_button.setEnabled(False)
        self.details.setText("Only the list of files is read; nothing is downloaded yet.")
        self.progress_row.show()
        self.downloader.plan(HubReference(entry.repo_id))

    def cancel(self) -> None:
        if self.downloader.busy:
            self.downloader.cancel()
            self.cancel_button.setEnabled(False)
            self.details.setText("Cancelling…")

    def clear_message(self) -> None:
        """Forget the last outcome's line (the user has moved on: a model is being loaded)."""
        if not self._busy:
            self._say("")

    def shutdown(self) -> None:
        self.downloader.shutdown()

    # -- the steps ------------------------------------------------------------------------------

    def _planned(self, plan: DownloadPlan) -> None:
        self.plan = plan
        self.progress_row.hide()
        entry = self.entry
        box = QMessageBox(self.window())
        box.setWindowTitle("Download a model")
        box.setIcon(QMessageBox.Icon.Question if plan.fits else QMessageBox.Icon.Warning)
        box.setText(f"Download <b>{entry.title}</b> ({format_bytes(plan.missing_bytes)})?")
        box.setInformativeText(confirmation_text(entry, plan))
        details = box.findChild(QLabel, "qt_msgbox_informativelabel")
        if details is not None:
            details.setMinimumWidth(details.fontMetrics().averageCharWidth() * 60)  # a few lines, not a column
        download = box.addButton("Download", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(download if plan.fits else box.button(QMessageBox.StandardButton.Cancel))
        download.setEnabled(plan.fits)
        box.finished.connect(lambda _result: self._answered(box.clickedButton() == download))
        self.confirm_box = box
        box.open()

    def _answered(self, accepted: bool) -> None:
        self.confirm_box = None
        if not accepted:
            self._set_busy(False)  # declined: nothing fetched, nothing to say
            return
        plan = self.plan
        self.title.setText(f"Downloading <b>{self.entry.title}</b> into the Hugging Face cache")
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setValue(0)
        self.cancel_button.setEnabled(True)
        self.details.setText(f"{format_bytes(plan.cached_bytes)} of {format_bytes(plan.total_bytes)} · starting…")
        self.progress_row.show()
        self.downloader.download(plan)

    def _progress(self, progress: DownloadProgress) -> None:
        if not self.cancel_button.isEnabled():
            return  # cancelling: the last events of the thread say nothing new
        total = max(progress.total_bytes, 1)
        self.bar.setValue(round(BAR_STEPS * min(progress.done_bytes, total) / total))
        parts = [f"{format_bytes(progress.done_bytes)} of {format_bytes(progress.total_bytes)}"]
        if progress.bytes_per_second:
            parts.append(f"{format_bytes(int(progress.bytes_per_second))}/s")
        left = time_left(progress.done_bytes, progress.total_bytes, progress.bytes_per_second)
        if left:
            parts.append(left)
        if progress.file:
            parts.append(progress.file)
        self.details.setText(" · ".join(parts))

    def _finished(self, plan: DownloadPlan) -> None:
        self.progress_row.hide()
        self._say(f"Downloaded {self.entry.title} ({format_bytes(plan.total_bytes)}): it is in the Hugging Face "
                  "cache; Use this model loads it.")
        self._set_busy(False)
        self.sig_downloaded.emit(self.entry.reference_text)

    def _cancelled(self) -> None:
        self.progress_row.hide()
        self._say(f"Download of {self.entry.title} cancelled. What was fetched stays in the cache: "
                  "Download… again resumes it.", "warning")
        self._set_busy(False)

    def _failed(self, message: str) -> None:
        self.progress_row.hide()
        title = self.entry.title if self.entry is not None else "the model"
        self._say(f"Could not download {title}: {message}", "error")
        self._set_busy(False)

    def _say(self, text: str, kind: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(message_style(kind) if kind else "")
        self.message.setVisible(bool(text))

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.sig_busy_changed.emit(busy)


def confirmation_text(entry: CatalogueEntry, plan: DownloadPlan) -> str:
    """What the user reads before agreeing: size, what is cached already, free space, licence, where."""
    where = f"{entry.repo_id} (revision {entry.revision}" + (f", commit {plan.commit[:12]})" if plan.commit else ")")
    lines = [f"{format_bytes(plan.missing_bytes)} to download from {where}."]
    if plan.cached_bytes:
        lines.append(f"{format_bytes(plan.cached_bytes)} of its {format_bytes(plan.total_bytes)} are in the cache "
                     "already (an earlier download that stopped): only the rest is fetched.")
    lines.append(f"Free disk space: {format_bytes(plan.free_bytes)}, in {cache_dir()} (the Hugging Face cache).")
    if not plan.fits:
        lines.append(f"<b>Not enough free disk space</b>: free {format_bytes(plan.missing_bytes - plan.free_bytes)} "
                     "more, or point HF_HUB_CACHE at a bigger disk.")
    lines.append(f"Loaded, it takes about {format_bytes(entry.ram_bytes)} of memory. Licence: {entry.licence}.")
    return "<br>".join(lines)
