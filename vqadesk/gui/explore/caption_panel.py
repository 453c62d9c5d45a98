"""The Caption panel: captions with each word's probability; click a word to see where it looked.

Captions come from the inference worker (channel "caption"); with *Auto* on,
every newly selected image is captioned. Each word is a link coloured by
its probability; clicking it emits ``sig_word_selected`` with that word's
attention map and the region of the photo the map covers, which the window
lays over the image. When the captioner knows only the Shapes world and the
image is a photo, a notice says so and offers the recommended pretrained
captioner (``shapes_notice.py``). The dataset's reference
captions are listed below, and the best caption is scored against them:
BLEU-4 on this image, CIDEr-D with the split's document frequencies (a
single image's CIDEr would always be 0). Those take seconds of pure Python
for a big split, so the scores are computed in a worker process of their own
(``engine/torch_free/caption_scores.py``, an ``InferenceClient`` without models, started
on the first score), never in a thread that would hold the GUI's GIL.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCursor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from vqadesk.engine.torch_free.caption_scores import ReferenceSource, score_caption
from vqadesk.engine.torch_free.model_kind import ModelKind
from vqadesk.engine.torch_free.pool_api import PoolApi
from vqadesk.engine.torch_free.predictions import CaptionPrediction
from vqadesk.gui.background.inference import InferenceClient
from vqadesk.gui.count_suffix import agree_suffix
from vqadesk.gui.explore.hub_models import short_model_name
from vqadesk.gui.explore.image_context import ImageContext
from vqadesk.gui.explore.shapes_notice import ShapesOnlyNotice
from vqadesk.gui.style import is_dark, message_style

MAX_CAPTIONS = 5


def probability_colour(prob: float, *, dark: bool) -> str:
    """Confident words read normally; doubtful ones turn amber, then red."""
    if prob >= 0.8:
        return "#e6e6e6" if dark else "#1a1a1a"
    if prob >= 0.5:
        return "#ffb74d" if dark else "#b26a00"
    return "#ff7070" if dark else "#c62828"


class CaptionPanel(QWidget):
    sig_word_selected = Signal(object, str, str)  # attention (h, w) or None, label for the overlay, its region
    sig_captioned = Signal(object, object)  # CaptionPrediction, ImageContext

    def __init__(self, inference: InferenceClient, parent: QWidget | None = None):
        super().__init__(parent)
        self.inference = inference
        self.context: ImageContext | None = None
        self.prediction: CaptionPrediction | None = None
        self.selected: tuple[int, int] | None = None  # (caption, word)
        # The scores' worker process (no models), started on the first score; the splits it has read.
        self._scores_worker = InferenceClient(parent=self, models=False)
        self._scored_splits: set[tuple] = set()
        self._caption_when_loaded = False  # Auto caption waiting for the first captioner
        inference.sig_models_changed.connect(self._models_loaded)

        self.beam = QSpinBox(minimum=1, maximum=10, value=3)
        self.beam.setPrefix("beam ")
        self.beam.setToolTip("Beam width: 1 is greedy decoding; wider beams search more captions")
        self.count = QSpinBox(minimum=1, maximum=MAX_CAPTIONS, value=1)
        agree_suffix(self.count, "caption")
        self.count.setToolTip("How many distinct captions to show (the best beams)")
        self.generate_button = QPushButton("Caption")
        self.generate_button.setToolTip("Caption this image (Ctrl+Shift+C)")
        self.auto = QCheckBox("Auto")
        self.auto.setChecked(True)
        self.auto.setToolTip("Caption every image as soon as it is selected")
        row = QHBoxLayout()
        row.addWidget(self.beam)
        row.addWidget(self.count)
        row.addStretch(1)
        row.addWidget(self.auto)
        row.addWidget(self.generate_button)

        self.status = QLabel("Select an image to caption it.")
        self.status.setWordWrap(True)
        self.notice = ShapesOnlyNotice(ModelKind.CAPTIONING)
        self.caption_labels: list[QLabel] = []
        captions_box = QGroupBox("Generated")
        captions_layout = QVBoxLayout(captions_box)
        for _ in range(MAX_CAPTIONS):
            label = QLabel()
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
            label.linkActivated.connect(self._word_clicked)
            label.linkHovered.connect(self._word_hovered)
            label.hide()
            captions_layout.addWidget(label)
            self.caption_labels.append(label)
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        captions_layout.addWidget(self.legend)
        self.scores = QLabel()
        self.scores.setWordWrap(True)
        captions_layout.addWidget(self.scores)
        captions_layout.addStretch(1)

        self.references = QListWidget()
        self.references.setWordWrap(True)
        self.references.setAlternatingRowColors(True)
        self.references.setToolTip("Reference captions from the dataset")
        self.references_box = QGroupBox("Reference captions")
        QVBoxLayout(self.references_box).addWidget(self.references)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.notice)
        layout.addWidget(self.status)
        layout.addWidget(captions_box, 3)
        layout.addWidget(self.references_box, 2)
        self._update_legend()

        self.generate_button.clicked.connect(self.generate)

    # -- what the panel is about --------------------------------------------------------------

    def set_image(self, context: ImageContext | None) -> None:
        self.context = context
        self.prediction = None
        self.selected = None
        self.notice.hide()
        for label in self.caption_labels:
            label.hide()
        self.scores.clear()
        self.references.clear()
        if context is None:
            self.status.setText("Select an image to caption it.")
            self.references_box.setTitle("Reference captions")
            return
        captions = [c.caption for c in context.captions]
        self.references.addItems(captions or ["(the dataset has no captions for this image)"])
        self.references_box.setTitle(f"Reference captions ({len(captions)})")
        if self.auto.isChecked() and self.inference.models is None:
            # The inference process is still starting: a caption asked now would find no captioner.
            self._caption_when_loaded = True
            self._say(f"{context.title} is captioned once the captioner has loaded…")
        elif self.auto.isChecked():
            self.generate()
        else:
            self.status.setText(f"Press Caption to caption {context.title}.")

    def _models_loaded(self, models) -> None:
        if self._caption_when_loaded and models.captioner is not None:
            self._caption_when_loaded = False
            if self.context is not None and self.auto.isChecked() and self.prediction is None:
                self.generate()

    def captioner_failed(self, message: str) -> None:
        """The captioner could not load: an Auto caption waiting for it says why instead."""
        if self._caption_when_loaded:
            self._caption_when_loaded = False
            self._say(f"Could not load the captioner: {message}", "error")

    def set_shapes_only_model(self, model: str | None) -> None:
        """The captioner in use knows only the Shapes world (``model``: its name), or None."""
        self.notice.set_model(model)

    @property
    def shapes_only_model(self) -> str | None:
        return self.notice.model

    def _update_notice(self) -> None:
        self.notice.update_for(self.prediction is not None, self.context)

    def show_prediction(self, context: ImageContext, prediction: CaptionPrediction) -> None:
        """Show captions made elsewhere (dropped photos are captioned in one batch)."""
        if context is self.context:
            self._captioned(context, prediction)

    # -- captioning -----------------------------------------------------------------------------

    def generate(self) -> None:
        context = self.context
        if context is None:
            self._say("Select an image first.", "error")
            return
        beam, count = self.beam.value(), self.count.value()
        self._say(f"Captioning {context.title} (beam {beam})…")
        self.inference.submit(
            "caption", PoolApi.caption, context.path, beam_size=beam, num_captions=count,
            on_done=lambda prediction, c=context: self._captioned(c, prediction),
            on_error=lambda m: self._say(m, "error"),
        )

    def _captioned(self, context: ImageContext, prediction: CaptionPrediction) -> None:
        if context is not self.context:
            return
        self.prediction = prediction
        self.selected = None
        self._render_captions()
        timings = prediction.timings_ms
        self._say(f"{short_model_name(prediction.model)}, {timings.get('total', 0):.0f} ms "
                  f"(beam {self.beam.value()}; click a word to see where the model looked)")
        self._update_notice()
        self._score(context, prediction)
        self.sig_captioned.emit(prediction, context)

    def _render_captions(self) -> None:
        dark = is_dark()
        highlight = self.palette().color(QPalette.ColorRole.Highlight).name()
        captions = self.prediction.captions if self.prediction else []
        for index, label in enumerate(self.caption_labels):
            if index >= len(captions):
                label.hide()
                continue
            caption = captions[index]
            words = []
            for position, word in enumerate(caption.words):
                style = f"color: {probability_colour(word.prob, dark=dark)}; text-decoration: none;"
                if self.selected == (index, position):
                    style += f" background-color: {highlight}; color: white;"
                words.append(f'<a href="{index}:{position}" style="{style}">{html.escape(word.word)}</a>')
            prefix = f"{index + 1}. " if len(captions) > 1 else ""
            label.setText(f'<span style="font-size: 12pt">{prefix}{" ".join(words)}</span>'
                          f' <span style="color: gray">({caption.score:.2f})</span>')
            label.setToolTip(f"score {caption.score:.3f} (log-probability per token); "
                             f"probability {pow(2.718281828, caption.log_prob):.2e}")
            label.show()

    def _update_legend(self) -> None:
        dark = is_dark()
        swatches = " ".join(
            f'<span style="color: {probability_colour(p, dark=dark)}">■</span> {text}'
            for p, text in ((0.9, "≥ 80%"), (0.6, "50–80%"), (0.1, "&lt; 50%"))
        )
        self.legend.setText(f'<span style="color: gray">Word probability:</span> {swatches}')

    def _word(self, link: str):
        try:
            caption_index, position = (int(part) for part in link.split(":"))
            caption = self.prediction.captions[caption_index]
            return caption_index, position, caption.words[position]
        except (AttributeError, ValueError, IndexError):
            return None

    def _word_clicked(self, link: str) -> None:
        found = self._word(link)
        if found is None:
            return
        caption_index, position, word = found
        self.select_word(caption_index, position)

    def select_word(self, caption_index: int, position: int) -> None:
        """Show word ``position`` of caption ``caption_index``'s attention (as a click does)."""
        word = self.prediction.captions[caption_index].words[position]
        self.selected = (caption_index, position)
        self._render_captions()
        label = f"'{word.word}' ({word.prob * 100:.0f}%)"
        self.sig_word_selected.emit(word.attention, label, self.prediction.attention_region)
        if word.attention is None:
            self._say("This captioner has no attention: it looks at the whole image for every word.")

    def _word_hovered(self, link: str) -> None:
        found = self._word(link) if link else None
        if found is not None:
            QToolTip.showText(QCursor.pos(), f"{found[2].word}: {found[2].prob * 100:.1f}% — click for its attention")

    # -- scores against the references ------------------------------------------------------------

    def _score(self, context: ImageContext, prediction: CaptionPrediction) -> None:
        references = [c.caption for c in context.captions]
        source = ReferenceSource.of(context.split.coco.annotation_files, context.split.coco.image_dir)
        if not references or source is None:
            self.scores.setText("No reference captions: nothing to score against.")
            return
        key = source.key()
        if key not in self._scored_splits:
            self.scores.setText("BLEU-4 / CIDEr-D: reading the split's references…")
        self._scores_worker.start()
        self._scores_worker.submit(
            "scores", score_caption, source, prediction.best.text, references,
            on_done=lambda scores, c=context, p=prediction: self._scored(c, p, key, len(references), scores),
            on_error=lambda message: self.scores.setText(f"No scores: {message}"),
        )

    def _scored(self, context: ImageContext, prediction: CaptionPrediction, key: tuple, references: int,
                scores: tuple[float, float]) -> None:
        self._scored_splits.add(key)
        if context is not self.context or prediction is not self.prediction:
            return  # another image or caption by now
        bleu4, cider = scores
        self.scores.setText(
            f"Best caption vs the {references} references: BLEU-4 <b>{bleu4:.3f}</b>, "
            f"CIDEr-D <b>{cider:.3f}</b> (document frequencies of the {len(context.split.image_ids):,}-image split)"
        )
        self.scores.setTextFormat(Qt.TextFormat.RichText)

    def _say(self, text: str, kind: str = "") -> None:
        self.status.setText(text)
        self.status.setStyleSheet(message_style(kind) if kind else "")

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.type() == event.Type.PaletteChange:
            self._update_legend()
            self._render_captions()
        super().changeEvent(event)

    def shutdown(self) -> None:
        self._scores_worker.shutdown()
