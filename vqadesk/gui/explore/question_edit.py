"""The question field: Enter asks, Up/Down walk the history, typing completes from the dataset.

Enter asks in one press whether or not the completion popup is open: with a
completion highlighted it asks that one, else what is typed. (QLineEdit
ignores Enter while the popup shows, and the completer then only closes it,
so without ``_enter_in_popup`` a second Enter was needed.)
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

MAX_HISTORY = 200
# A 40k-image split has ~200k questions; a completer over that many stays fast,
# but there is no point offering more distinct ones than anyone scrolls through.
MAX_COMPLETIONS = 50_000


class QuestionEdit(QLineEdit):
    """``sig_submitted(text)`` on Enter; history like a shell's; dataset questions as completions."""

    sig_submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setPlaceholderText("Ask a question about the image…  (Enter to ask, ↑/↓ for history)")
        self.setClearButtonEnabled(True)
        self.setMaxLength(1000)
        self.history: list[str] = []
        self._position = 0  # index into history; len(history) = the line being typed
        self._draft = ""
        self._completions = QStringListModel(self)
        completer = QCompleter(self._completions, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(12)
        self.setCompleter(completer)
        self.returnPressed.connect(self._submit)

    def set_completions(self, questions: list[str]) -> None:
        unique = list(dict.fromkeys(q.strip() for q in questions if q.strip()))[:MAX_COMPLETIONS]
        self._completions.setStringList(unique)

    def completion_count(self) -> int:
        return self._completions.rowCount()

    def remember(self, text: str) -> None:
        text = text.strip()
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
            del self.history[:-MAX_HISTORY]
        self._position = len(self.history)
        self._draft = ""

    def _submit(self) -> None:
        text = self.text()
        if text.strip():
            self.remember(text)
        self.sig_submitted.emit(text)

    def _enter_in_popup(self) -> None:
        """Enter while the popup shows (the completer forwards it here): take the highlighted
        completion, if any, close the popup and ask."""
        completer = self.completer()
        popup = completer.popup()
        index = popup.currentIndex()
        chosen = completer.completionModel().data(index) if index.isValid() else None
        popup.hide()
        if chosen:
            self.setText(str(chosen))
        self._submit()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        popup = self.completer().popup()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and popup.isVisible():
            self._enter_in_popup()
            event.accept()  # the completer, seeing it accepted, does nothing more
            return
        if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down) and not popup.isVisible() and self.history:
            if self._position == len(self.history):
                self._draft = self.text()
            step = -1 if event.key() == Qt.Key.Key_Up else 1
            self._position = min(max(self._position + step, 0), len(self.history))
            self.setText(self.history[self._position] if self._position < len(self.history) else self._draft)
            return
        super().keyPressEvent(event)
