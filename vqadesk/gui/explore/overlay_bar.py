"""The strip above the image viewer: which overlays show, the heatmap's colours and opacity."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from vqadesk.gui.explore.viewer import DEFAULT_COLORMAP, DEFAULT_OPACITY, HEATMAP_COLORMAPS, ImageViewer


class OverlayBar(QWidget):
    """Toggles and settings for the viewer's overlays; the label says what the heatmap shows."""

    sig_settings_changed = Signal()

    def __init__(self, viewer: ImageViewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = viewer
        self.boxes = QCheckBox("Boxes")
        self.boxes.setChecked(True)
        self.boxes.setToolTip("Object boxes from the dataset's instances annotations (B)")
        self.heatmap = QCheckBox("Attention")
        self.heatmap.setChecked(True)
        self.heatmap.setToolTip("Where the model looked: the last answer, or the caption word you clicked (H)")
        self.colormap = QComboBox()
        self.colormap.addItems(HEATMAP_COLORMAPS)
        self.colormap.setCurrentText(DEFAULT_COLORMAP)
        self.colormap.setToolTip("Heatmap colours (perceptually uniform colour maps)")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(DEFAULT_OPACITY * 100))
        self.opacity.setFixedWidth(90)
        self.opacity.setToolTip("Heatmap opacity")
        self.fit = QToolButton()
        self.fit.setText("Fit")
        self.fit.setToolTip("Fit the image to the window (double-click the image; wheel zooms, drag pans)")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.boxes)
        row.addWidget(self.heatmap)
        row.addWidget(self.colormap)
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.opacity)
        row.addStretch(1)
        row.addWidget(self.fit)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(row)
        layout.addWidget(self.caption)

        self.boxes.toggled.connect(viewer.set_boxes_visible)
        self.heatmap.toggled.connect(viewer.set_heatmap_visible)
        self.colormap.currentTextChanged.connect(viewer.set_colormap)
        self.opacity.valueChanged.connect(lambda value: viewer.set_heatmap_opacity(value / 100))
        self.fit.clicked.connect(viewer.fit_to_window)
        for signal in (self.boxes.toggled, self.heatmap.toggled, self.colormap.currentTextChanged,
                       self.opacity.valueChanged):
            signal.connect(self.sig_settings_changed)

    def describe(self, text: str) -> None:
        self.caption.setText(text)
