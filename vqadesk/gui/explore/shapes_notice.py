"""The Ask and Caption panels' notice: the model in use knows only the Shapes world; here is one that knows photos.

Shown when the model's checkpoint says it was trained on the Shapes world and the image is not
from a Shapes dataset. It offers the catalogue's recommended model of the panel's kind
(``catalogue.recommended``): *Use BLIP captioner* when it is in the Hugging Face cache already
(``sig_use_model``: the window loads it), else *Get BLIP captioner (990 MB)…*, which opens the
Models tab on its catalogue entry (``sig_get_model``), where *Download…* shows the size again
and asks before fetching anything.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from vqadesk.engine.torch_free.hub.catalogue import recommended
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.gui.explore.hub_models import format_bytes, is_downloaded, short_model_name, short_title
from vqadesk.gui.style import message_style

_WHAT_IT_GETS_WRONG = {ModelKind.VQA: "its answers", ModelKind.CAPTIONING: "its captions"}


def shapes_only_text(model: str, kind: ModelKind) -> str:
    """The notice's sentence for ``model`` (already shortened for display)."""
    return (
        f"{model} knows only the built-in Shapes world (coloured circles, squares and triangles): "
        f"{_WHAT_IT_GETS_WRONG[kind]} about a real photo are guesses. Use a pretrained {kind.noun} that knows "
        "photos, open a checkpoint trained on COCO (Models tab), or train one (README: Using real COCO and VQA v2)."
    )


class ShapesOnlyNotice(QWidget):
    """A warning line with the offer of the recommended pretrained model; hidden until ``show_for``."""

    sig_use_model = Signal(str, str)  # kind, hf:ORG/NAME
    sig_get_model = Signal(str)  # repo id: show its catalogue entry in the Models tab

    def __init__(self, kind: ModelKind, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = ModelKind(kind)
        self.entry = recommended(self.kind)
        self.model: str | None = None  # the model in use when it knows only Shapes
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setStyleSheet(message_style("warning"))
        self.offer = QPushButton()
        self.offer.clicked.connect(self._offer_clicked)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.offer)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.label)
        layout.addLayout(row)
        self.hide()

    def set_model(self, model: str | None) -> None:
        """The model in use knows only the Shapes world (``model``: its name), or None (it knows photos).

        A notice already shown stays until the next result, unless the new model knows photos."""
        self.model = model
        if model is None:
            self.hide()

    def update_for(self, shown: bool, context) -> None:
        """After a result (``shown``) about ``context`` (an ``ImageContext`` or None): the notice
        when a Shapes-only model spoke about a photo, else nothing."""
        if self.model and shown and context is not None and not context.is_shapes:
            self.show_for(short_model_name(self.model))
        else:
            self.hide()

    def show_for(self, model: str) -> None:
        """Say that ``model`` knows only Shapes, and offer the recommended model as it stands now."""
        self.label.setText(shapes_only_text(model, self.kind))
        self.label.setStyleSheet(message_style("warning"))  # the theme may have changed
        self.refresh_offer()
        self.show()

    def refresh_offer(self) -> None:
        """*Use …* once the recommended model is in the cache (after a download), else *Get … (size)…*."""
        name = short_title(self.entry)
        if is_downloaded(self.entry):
            self.offer.setText(f"Use {name}")
            self.offer.setToolTip(f"Load {self.entry.title} ({self.entry.repo_id}) from the Hugging Face cache")
        else:
            self.offer.setText(f"Get {name} ({format_bytes(self.entry.download_bytes)})…")
            self.offer.setToolTip(f"Show {self.entry.title} in the Models tab's catalogue, where Download… "
                                  "fetches it after you agree")

    @property
    def offers_use(self) -> bool:
        return self.offer.text().startswith("Use ")

    def _offer_clicked(self) -> None:
        if is_downloaded(self.entry):
            self.sig_use_model.emit(self.kind.value, self.entry.reference_text)
        else:
            self.sig_get_model.emit(self.entry.repo_id)
